"""Proto-KD leaves copied bins out: an empty bin whose prototype duplicates a neighbour's gets zero target mass,
is not in the student's softmax, and its prototype does not change the loss (``docs/distillation.md``, "Empty
bins")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroaffect.distill import DistillLoss, ProtoKD
from neuroaffect.labels import grid_centres, grid_edges
from neuroaffect.prototypes.io import PrototypeGrid

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _case(seed=0, n=3, dim=6):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((n * n, dim))
    v, a = np.meshgrid(grid_centres(n), grid_centres(n), indexing="ij")
    filled = np.zeros(n * n, dtype=bool)
    filled[[2, 7]] = True  # bins (0, 2) and (2, 1) copied
    p[2], p[7] = p[1], p[8]  # ... from a neighbour
    return p, np.c_[v.ravel(), a.ravel()], filled


@pytest.mark.parametrize("mode", ["anchor", "image"])
def test_copied_bins_get_no_target_mass_and_do_not_change_the_loss(mode):
    p, c, filled = _case()
    pk = ProtoKD(p, c, target_temperature=0.3, mode=mode, filled=filled)
    va = np.array([[-0.7, 0.7], [0.5, -0.2], [0.0, 0.0]])
    for q in (pk.targets(), pk.targets(va)):
        assert (q[:, filled] == 0).all()
        np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-6)
    # the same loss as a grid without those bins at all
    ref = ProtoKD(p[~filled], c[~filled], target_temperature=0.3, mode=mode)
    np.testing.assert_allclose(pk.targets(va)[:, ~filled], ref.targets(va), rtol=1e-6)
    e = torch.randn(2, 3, p.shape[1], generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([[1, 3, 0], [5, 2, 7]])
    va_t = torch.as_tensor(np.stack([va, va[::-1]]), dtype=torch.float32)
    loss = pk(e, labels, va=va_t)
    torch.testing.assert_close(loss, ref(e, labels, va=va_t))
    # another prototype in a copied bin: the loss does not move; in a bin with members it does
    p2 = p.copy()
    p2[2] = -p[0]
    torch.testing.assert_close(ProtoKD(p2, c, target_temperature=0.3, mode=mode, filled=filled)(e, labels, va=va_t),
                               loss)
    assert not torch.allclose(ProtoKD(p2, c, target_temperature=0.3, mode=mode)(e, labels, va=va_t),
                              ProtoKD(p, c, target_temperature=0.3, mode=mode)(e, labels, va=va_t))
    # the target's entropy is normalised by the bins it can use (a uniform target over them is 1)
    assert ProtoKD(p, c, target_temperature=1e6, mode=mode, filled=filled).target_entropy() == pytest.approx(1.0)


def test_a_copied_bin_gets_no_gradient_and_flags_are_checked():
    p, c, filled = _case()
    e = torch.randn(1, 4, p.shape[1], requires_grad=True)
    loss = ProtoKD(p, c, filled=filled)(e, torch.tensor([[0, 1, 2, 3]])).sum()
    loss.backward()
    assert torch.isfinite(e.grad).all()
    with pytest.raises(ValueError, match="'filled'"):
        ProtoKD(p, c, filled=np.ones(len(p), bool))
    with pytest.raises(ValueError, match="'filled'"):
        ProtoKD(p, c, filled=np.zeros(3, bool))


def test_distill_loss_reads_the_grids_filled_flags():
    """DistillLoss builds Proto-KD with the grid's own flags: (n, n) flattened in the prototypes' bin order."""
    p, c, filled = _case()
    n = 3
    grid = PrototypeGrid(prototypes=p.reshape(n, n, -1).astype(np.float32), centres=grid_centres(n),
                         edges=grid_edges(n), counts=(~filled).reshape(1, n, n).astype(np.int64),
                         filled=filled.reshape(n, n), card={"arrays_sha256": {"prototypes": "0" * 64}}, path=None)
    loss = DistillLoss(grid, arm="B2", proto_mode="image")
    np.testing.assert_array_equal(loss.proto.kept.numpy(), np.flatnonzero(~filled))
    assert (loss.proto.targets()[:, filled] == 0).all()
