"""train_student with image-mode Proto-KD: the loader gives each image's V/A, the record and fingerprint name the mode."""

import numpy as np
import pytest

import neuroaffect.distill.train as dtrain
from neuroaffect.distill import ProtoKD, train_student
from neuroaffect.distill.data import face_va
from neuroaffect.io.faces import FaceSet
from neuroaffect.training import TrainConfig

CFG = TrainConfig(epochs=1, batch_size=8, lr=1e-3, weight_decay=0.05, grad_clip=1.0, label_smoothing=0.055,
                  device="cpu", eval_batch_size=64)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _faces(n, split, seed, va=False, size=10):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 8
    img = np.clip(y[:, None, None] * 28 + rng.normal(20, 12, (n, size, size)), 0, 255).astype(np.uint8)
    votes = rng.random((n, 8)).astype(np.float32)
    votes[np.arange(n), y] += 4
    kw = {"valence": rng.uniform(-1, 1, n), "arousal": rng.uniform(-1, 1, n)} if va else {}
    return FaceSet("ferplus", labels=y, split=[split] * n, images=img, soft_labels=votes, **kw)


def test_image_mode_is_refused_clearly_without_a_known_mode(random_grid):
    with pytest.raises(ValueError, match="'proto_mode' parameter. Allowed values are 'anchor', 'image'"):
        train_student(_faces(8, "train", 0), _faces(8, "val", 1), random_grid(dim=8), "B2", CFG, in_size=8,
                      loss_options={"proto_mode": "per-image"})


@pytest.mark.slow
def test_train_student_in_image_mode_end_to_end(random_grid, monkeypatch, tmp_path):
    grid = random_grid(dim=8)
    train, val = _faces(16, "train", 0, va=True), _faces(8, "val", 1)
    batches = []
    real_fit = dtrain.fit

    def spy(model, source, loss, *args, **kwargs):
        batches.append(next(iter(source.loader)))
        return real_fit(model, source, loss, *args, **kwargs)

    monkeypatch.setattr(dtrain, "fit", spy)
    ckpt = tmp_path / "ckpt.pt"
    anchor = train_student(train, val, grid, "B2", CFG, in_size=8, checkpoint=ckpt)
    image = train_student(train, val, grid, "B2", CFG, in_size=8, checkpoint=ckpt,
                          loss_options={"proto_mode": "image", "target_temperature": 0.1})
    # the loader gives (x, y, votes) in anchor mode and (x, y, votes, va) in image mode
    assert len(batches[0]) == 3 and len(batches[1]) == 4 and batches[1][3].shape == (8, 2)
    assert image.fit.resumed_from is None  # the mode changes the engine's fingerprint: no resume across modes
    assert anchor.record["proto_mode"] == "anchor" and image.record["proto_mode"] == "image"
    assert "proto_mode='image'" in image.record["loss"] and "target_temperature=0.1" in image.record["loss"]
    assert "train_va" in image.record["inputs"] and "train_va" not in anchor.record["inputs"]
    assert np.isfinite(image.history["train_proto"]).all()
    # entropy: over the training images' own targets in image mode, over the class targets in anchor mode
    pk = ProtoKD(grid.as_array(), grid.bin_centres(), target_temperature=0.1, mode="image")
    assert image.proto_target_entropy == pytest.approx(float(pk.target_entropy(face_va(train)).mean()))
    assert anchor.proto_target_entropy == pytest.approx(
        float(ProtoKD(grid.as_array(), grid.bin_centres()).target_entropy().mean()))
