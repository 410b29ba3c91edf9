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
