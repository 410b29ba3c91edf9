"""The student network, its weights file loading, and the face data pipeline."""

import numpy as np
import pytest
import torch

from neuroaffect.distill import (
    FaceDataset, FERStudent, build_student, eval_transform, make_loader, soft_targets, train_transform,
)
from neuroaffect.io.faces import FaceSet


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small inputs: one thread is fastest on shared CPUs


def _faces(n=10, size=20, colour=False, votes=True, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n, size, size, 3) if colour else (n, size, size)
    return FaceSet("ferplus", labels=rng.integers(0, 8, n), split=["train"] * n,
                   images=rng.integers(0, 256, shape, dtype=np.uint8),
                   soft_labels=rng.random((n, 8)).astype(np.float32) * 5 if votes else None)


def test_student_shapes_stem_and_config():
    torch.manual_seed(0)
    m = FERStudent(in_size=16, proj_dim=12).eval()
    assert m.small_input and isinstance(m.backbone.maxpool, torch.nn.Identity)
    assert m.backbone.conv1.kernel_size == (3, 3) and m.backbone.conv1.stride == (1, 1)
    x = torch.rand(3, 1, 16, 16)
    with torch.no_grad():
        out = m.forward_outputs(x)
        f = m.forward_features(x)
    assert out["logits"].shape == (3, 8) and out["embedding"].shape == (3, 12)
    assert f.shape == (3, 512) and torch.allclose(m.forward_head(f), out["logits"])
    assert torch.equal(m(x), out["logits"])  # forward: the logits (timm style)
    assert torch.equal(m.forward_head(f, pre_logits=True), f)
    assert torch.allclose(out["embedding"].norm(dim=1), torch.ones(3))
    assert isinstance(m.final_layer, torch.nn.Linear)
    assert m.config == {"n_outputs": 8, "arch": "resnet18", "proj_dim": 12, "in_size": 16, "small_input": True,
                        "mean": 0.5, "std": 0.25}
    assert not FERStudent(in_size=96).small_input  # the ImageNet stem above 64 pixels
    assert FERStudent(arch="resnet50", in_size=8).num_features == 2048
    with pytest.raises(ValueError, match="'arch' parameter"):
        FERStudent(arch="vit")
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        m(torch.rand(2, 16, 16))
    with pytest.raises(ValueError, match="float pixels"):
        m(torch.zeros(2, 1, 16, 16, dtype=torch.uint8))


def test_grey_repeated_to_three_channels_equals_grey_and_colour_is_luma():
    torch.manual_seed(0)
    m = FERStudent(in_size=8, proj_dim=4).eval()
    g = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        a = m(g)
        b = m(g.expand(-1, 3, -1, -1))
        rgb = torch.rand(2, 3, 8, 8)
        luma = (rgb * torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)).sum(1, keepdim=True)
        c, d = m(rgb), m(luma)
    assert torch.allclose(a, b, atol=1e-6) and torch.allclose(c, d, atol=1e-6)
    # normalisation inside the model: (x - mean) / std, grey repeated to 3 channels
    p = m.prepare(torch.full((1, 1, 2, 2), 0.75))
    assert p.shape == (1, 3, 2, 2) and torch.allclose(p, torch.ones_like(p))


@pytest.mark.slow
def test_weights_files(tmp_path):
    torch.manual_seed(0)
    a = FERStudent(in_size=8, proj_dim=4)
    torch.save(a.state_dict(), tmp_path / "own.pt")
    torch.manual_seed(1)
    b = FERStudent(in_size=8, proj_dim=4, weights=tmp_path / "own.pt")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert torch.equal(build_student(a.config, tmp_path / "own.pt").final_layer.weight, a.final_layer.weight)
    # a torchvision ResNet-18's state_dict (its ImageNet classifier ignored) fits the ImageNet stem only
    from torchvision.models import resnet18

    tv = resnet18(weights=None)
    torch.save(tv.state_dict(), tmp_path / "tv.pt")
    c = FERStudent(in_size=96, small_input=False, weights=tmp_path / "tv.pt")
    assert torch.equal(c.backbone.layer1[0].conv1.weight, tv.layer1[0].conv1.weight)
    with pytest.raises(ValueError, match="small_input=False"):
        FERStudent(in_size=48, weights=tmp_path / "tv.pt")
    with pytest.raises(ValueError, match="does not fit an FERStudent.*shape mismatches"):
        FERStudent(in_size=8, proj_dim=5, weights=tmp_path / "own.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not be loaded"):
        FERStudent(weights=tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="unknown FERStudent argument"):
        build_student({**a.config, "depth": 3})


def test_transforms_take_any_size_and_colour_to_grey():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    rgb = rng.integers(0, 256, (25, 33, 3), dtype=np.uint8)
    for img, colour in ((grey, False), (rgb, True)):
        for t in (eval_transform(16, colour), train_transform(16, colour)):
            x = t(img)
            assert x.shape == (1, 16, 16) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    # a colour image whose channels are equal becomes exactly its grey image
    g = rng.integers(0, 256, (16, 16), dtype=np.uint8)
    assert torch.allclose(eval_transform(16, True)(np.repeat(g[..., None], 3, -1)), eval_transform(16)(g), atol=1 / 255)
    # evaluation: same size -> the pixels themselves
    assert torch.allclose(eval_transform(16)(g)[0], torch.as_tensor(g / 255.0, dtype=torch.float32))


def test_soft_targets_normalised_or_one_hot():
    fs = _faces(6)
    s = soft_targets(fs)
    np.testing.assert_allclose(s.sum(1), 1.0, rtol=1e-6)
    fs.soft_labels[2] = 0
    s = soft_targets(fs)
    assert s[2, fs.labels[2]] == 1.0 and s[2].sum() == 1.0
    s = soft_targets(_faces(6, votes=False))
    np.testing.assert_array_equal(s.argmax(1), _faces(6).labels)
    assert set(np.unique(s)) == {0.0, 1.0}


def test_dataset_and_seeded_loader():
    fs = _faces(10, size=20, colour=True)
    ds = FaceDataset(fs, train=False, in_size=12)
    x, y, p = ds[3]
    assert type(x) is torch.Tensor and x.shape == (1, 12, 12) and y.dtype == torch.int64 and p.shape == (8,)
    assert int(y) == fs.labels[3]

    def epoch(loader):
        return [(xb.clone(), yb.clone()) for xb, yb, _ in loader]

    torch.manual_seed(5)
    a = epoch(make_loader(fs, True, 4, seed=3, in_size=12))
    torch.manual_seed(5)
    b = epoch(make_loader(fs, True, 4, seed=3, in_size=12))
    assert len(a) == 3 and all(torch.equal(u[0], v[0]) and torch.equal(u[1], v[1]) for u, v in zip(a, b))
    torch.manual_seed(5)
    c = epoch(make_loader(fs, True, 4, seed=4, in_size=12))
    assert any(not torch.equal(u[1], v[1]) for u, v in zip(a, c))  # another seed, another order
    # evaluation loaders keep the order and never touch the global RNG (which drives augmentation)
    state = torch.get_rng_state()
    ev = epoch(make_loader(fs, False, 4, in_size=12))
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(torch.cat([yb for _, yb in ev]).numpy(), fs.labels)
    with pytest.raises(TypeError, match="FaceSet"):
        FaceDataset(np.zeros((2, 8, 8)))
