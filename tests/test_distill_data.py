"""Each image's (valence, arousal) for image-mode Proto-KD: from V/A labels or the vote-weighted anchors."""

import numpy as np
import pytest
import torch

from neuroaffect.distill.data import FaceDataset, face_va, make_loader, soft_targets
from neuroaffect.io.faces import FaceSet
from neuroaffect.labels import fer_va_anchors

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _set(n=6, votes=True, va=False, size=10):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 8
    kw = {}
    if votes:
        v = np.zeros((n, 8), np.float32)
        v[np.arange(n), y] = 6
        v[:, 0] += 2  # every image also gets two neutral votes
        kw["soft_labels"] = v
    if va:
        kw["valence"] = rng.uniform(-1, 1, n).astype(np.float32)
        kw["arousal"] = rng.uniform(-1, 1, n).astype(np.float32)
    img = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    return FaceSet("ferplus" if votes else "affectnet-mini", labels=y, split=["train"] * n, images=img, **kw)


def test_face_va_from_votes_labels_or_class_anchors():
    a = fer_va_anchors()
    fer = _set()
    va = face_va(fer)
    assert va.shape == (6, 2) and va.dtype == np.float32
    # 6 votes for the class, 2 for neutral (anchor (0, 0)): 3/4 of the way to the class's anchor
    np.testing.assert_allclose(va, 0.75 * a[fer.labels] + 0.25 * a[0], atol=1e-6)
    np.testing.assert_allclose(va, soft_targets(fer) @ a, atol=1e-6)
    # a set with V/A labels: those, except where a value is missing (then its votes, or its class's anchor)
    aff = _set(votes=False, va=True)
    aff.valence[2] = np.nan
    va = face_va(aff)
    np.testing.assert_allclose(np.delete(va, 2, 0), np.delete(np.c_[aff.valence, aff.arousal], 2, 0))
    np.testing.assert_allclose(va[2], a[aff.labels[2]], atol=1e-6)
    assert np.isfinite(va).all()


def test_loader_gives_va_when_asked():
    fs = _set()
    x, y, p = FaceDataset(fs, in_size=8)[1]
    x4, y4, p4, v4 = FaceDataset(fs, in_size=8, va=True)[1]
    assert torch.equal(x, x4) and torch.equal(p, p4) and int(y) == int(y4)
    assert v4.dtype == torch.float32 and torch.allclose(v4, torch.as_tensor(face_va(fs)[1]))
    batches = list(make_loader(fs, False, 4, in_size=8, va=True))
    assert [len(b) for b in batches] == [4, 4] and batches[0][3].shape == (4, 2)
    assert len(next(iter(make_loader(fs, False, 4, in_size=8)))) == 3  # the default batch is unchanged


def test_training_loader_shuffles_and_augments_unless_told_not_to():
    fs = _set(n=12)

    def epoch(**kw):
        torch.manual_seed(0)  # the augmentation's draws
        batches = list(make_loader(fs, True, 5, seed=3, in_size=10, **kw))
        return torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])

    plain = torch.cat([b[0] for b in make_loader(fs, False, 5, in_size=10)])
    x, y = epoch(augment=False)
    xa, ya = epoch()
    assert torch.equal(y, ya) and not torch.equal(y, torch.as_tensor(fs.labels))  # shuffled, the same order
    order = [int(np.flatnonzero((plain == xi).flatten(1).all(1))[0]) for xi in x]
    assert sorted(order) == list(range(12)) and torch.equal(x, plain[order])  # every image exactly as it is
    assert not torch.equal(xa, x)  # the default (augment=None with train=True) augments
    assert torch.equal(epoch(augment=True)[0], xa)
    with pytest.raises(TypeError, match="'augment' parameter"):
        make_loader(fs, True, 5, augment="no")


def _faces(n=6, size=(14, 10), colour=True):
    """Images of another size and shape than the input, colour or grey (every path of the decoding)."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (n,) + size + ((3,) if colour else ()), dtype=np.uint8)
    return FaceSet("ckplus", labels=np.arange(n) % 8, split=["train"] * n, images=img)


def test_batches_without_augmentation_are_the_per_image_transform_exactly():
    from neuroaffect.distill.data import FaceBatches, eval_transform

    for fs, size in ((_set(size=10), 10), (_set(size=10), 8), (_faces(), 8), (_faces(colour=False), 8)):
        ref = torch.stack([FaceDataset(fs, in_size=size)[i][0] for i in range(len(fs))])
        x, y, p = FaceBatches(fs, in_size=size)[list(range(len(fs)))]
        assert x.shape == (len(fs), 1, size, size) and x.dtype == torch.float32
        assert torch.equal(x, ref)  # bit for bit, square grey at the input size (the copy) or not
        assert torch.equal(y, torch.as_tensor(fs.labels)) and torch.equal(p, torch.as_tensor(soft_targets(fs)))
    # a batch is any index sequence, in its order
    fs = _set(size=10)
    x, _, _ = FaceBatches(fs, in_size=10)[[4, 1]]
    assert torch.equal(x[0], eval_transform(10)(fs.image(4)).as_subclass(torch.Tensor))


def test_batch_augmentation_is_a_crop_flip_and_rotation():
    from neuroaffect.distill.data import FaceBatches

    fs = _set(n=8, size=16)
    plain = FaceBatches(fs, in_size=16)[list(range(8))][0]
    # no crop, no rotation: each image comes back as it is or mirrored, and both happen
    flips = FaceBatches(fs, train=True, in_size=16, scale=(1, 1), ratio=(1, 1), rotation=0)
    torch.manual_seed(0)
    x = flips[list(range(8))][0]
    same = [torch.allclose(x[i], plain[i], atol=1e-5) for i in range(8)]
    mirror = [torch.allclose(x[i], plain[i].flip(-1), atol=1e-5) for i in range(8)]
    assert all(s or m for s, m in zip(same, mirror)) and any(same) and any(mirror)
    # the full augmentation: values in [0, 1], new pixels, the same draws for the same RNG state
    aug = FaceBatches(fs, train=True, in_size=16)
    torch.manual_seed(3)
    a = aug[list(range(8))][0]
    torch.manual_seed(3)
    b = aug[list(range(8))][0]
    assert torch.equal(a, b) and a.shape == plain.shape and 0 <= a.min() and a.max() <= 1
    assert not any(torch.allclose(a[i], plain[i], atol=1e-3) or torch.allclose(a[i], plain[i].flip(-1), atol=1e-3)
                   for i in range(8))
    # a rotated crop's corners lie outside the rotated crop: 0, as torchvision's rotation fills them, even where
    # the image goes on beyond the crop (a half-area crop of a uniform image)
    rot = FaceBatches(FaceSet("ferplus", labels=np.zeros(4, int), split=["train"] * 4,
                              images=np.full((4, 16, 16), 200, np.uint8)), train=True, in_size=16, scale=(0.5, 0.5),
                      ratio=(1, 1), rotation=10)
    torch.manual_seed(1)
    r = rot[[0, 1, 2, 3]][0]
    assert (r[:, 0, 0, 0] < 0.5).sum() + (r[:, 0, 0, -1] < 0.5).sum() >= 4  # one of the top corners of each
    assert torch.allclose(r[:, 0, 8, 8], torch.full((4,), 200 / 255))  # the centre stays


def test_batch_jitter_touches_colour_images_only():
    from neuroaffect.distill.data import FaceBatches

    kw = dict(in_size=12, scale=(1, 1), ratio=(1, 1), rotation=0)
    for colour in (True, False):
        fs = _faces(n=8, size=(12, 12), colour=colour)
        plain = FaceBatches(fs, **kw)[list(range(8))][0]
        torch.manual_seed(0)
        x = FaceBatches(fs, train=True, jitter=0.2, **kw)[list(range(8))][0]
        kept = [torch.allclose(x[i], plain[i], atol=1e-5) or torch.allclose(x[i], plain[i].flip(-1), atol=1e-5)
                for i in range(8)]
        assert not any(kept) if colour else all(kept)


@pytest.mark.parametrize("kw, match", [({"scale": (0.9, 0.8)}, "scale"), ({"scale": (0.5, 1.2)}, "scale"),
                                       ({"ratio": (0, 1)}, "ratio")])
def test_batches_refuse_bad_augmentation_ranges(kw, match):
    from neuroaffect.distill.data import FaceBatches

    with pytest.raises(ValueError, match=match):
        FaceBatches(_set(), train=True, in_size=8, **kw)
