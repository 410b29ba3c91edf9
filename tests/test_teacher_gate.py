"""The MC-dropout gate samples the teacher's embedding, not only its head.

With dropout before the head alone, the spread of MC passes is a deterministic weighted norm of the
embedding, ``std_k = sqrt(p / (1 - p) * sum_j W_kj^2 z_j^2)`` (``docs/prototypes.md``, "Support gate"):
these tests fail for that form.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroaffect.models import create_model
from neuroaffect.prototypes.teacher import _DropoutOn, embed, mc_dropout_predict


def _teacher(**kw):
    torch.manual_seed(0)
    return create_model("topoteacher", n_chans=1, n_bands=4, n_outputs=2, size=16, width=4, embed_dim=8, **kw)


def _maps(n=6, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 4, 16, 16)).astype(np.float32)


def _head_only_std(model, X):
    """The closed form of head-only MC dropout: sqrt(p / (1 - p) * sum_j W_kj^2 z_j^2), shape (n, 2)."""
    p = model.drop.p
    z = embed(model, X).astype(np.float64)
    w = model.final_layer.weight.detach().numpy().astype(np.float64)
    return np.sqrt(p / (1 - p) * (z ** 2) @ (w ** 2).T)


def test_mc_passes_differ_in_their_embedding():
    """Dropout on, two passes give two embeddings (the head-only form has one); eval mode gives one."""
    model = _teacher()
    assert model.block_dropout == 0.1
    X = torch.as_tensor(_maps())
    on = _DropoutOn(model)
    on.train()
    with torch.no_grad():
        e1, e2 = model.forward_features(X), model.forward_features(X)
    assert not torch.allclose(e1, e2)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.forward_features(X), model.forward_features(X))


@pytest.mark.slow
def test_mc_spread_is_not_a_function_of_the_embedding_alone():
    """Head dropout 0: the head-only form has no spread at all, the gate's passes still spread. Head dropout 0.3:
    with the blocks' dropout off the MC spread matches the closed form (within MC error), with it on it does not."""
    X = _maps(8)
    _, std = mc_dropout_predict(_teacher(dropout=0.0), X, n_samples=30, seed=0)
    assert (std > 1e-4).all()
    _, std = mc_dropout_predict(_teacher(dropout=0.0, block_dropout=0.0), X, n_samples=30, seed=0)
    assert (std < 1e-6).all()
    old = _teacher(dropout=0.3, block_dropout=0.0)
    _, std_old = mc_dropout_predict(old, X, n_samples=300, seed=0)
    np.testing.assert_allclose(std_old, _head_only_std(old, X), rtol=0.2)  # MC error of 300 passes about 4 %
    assert np.abs(std_old / _head_only_std(old, X) - 1).mean() < 0.1
    new = _teacher(dropout=0.3, block_dropout=0.1)
    _, std_new = mc_dropout_predict(new, X, n_samples=300, seed=0)
    assert np.abs(std_new / _head_only_std(new, X) - 1).mean() > 0.2


def test_block_dropout_is_checked_and_keeps_state_dict_names():
    """block_dropout is a probability; a teacher without it loads the weights of one with it (same names)."""
    with pytest.raises(ValueError, match="block_dropout"):
        _teacher(block_dropout=1.0)
    a, b = _teacher(block_dropout=0.0), _teacher(block_dropout=0.2)
    assert list(a.state_dict()) == list(b.state_dict())
    b.load_state_dict(a.state_dict())


def test_gate_summary_by_hand():
    """Five windows on a 5 x 5 grid (inner bins: both indices 1-3, i.e. |v|, |a| < 0.6): predictions at
    (0, 0) inner, (0.1, -0.5) inner, (0.9, 0) outer, (-0.7, 0.7) outer, (1.5, 0) outside the plane, so in the
    border bin the grid puts it in; spreads 0.1, 0.3, 0.2, 0.4, 0.05 with threshold 0.2 pass windows 1, 3 and 5
    (one inner, two outer). Absolute errors 0.0, 0.1, 0.2, 0.3, 0.4 against the spreads' ranks (2, 4, 3, 5, 1)
    and (1, ..., 5): rho = 1 - 6 * (1 + 4 + 0 + 1 + 16) / (5 * 24) = -0.1."""
    from neuroaffect.prototypes.build import _gate_summary

    mean = np.array([[0.0, 0.0], [0.1, -0.5], [0.9, 0.0], [-0.7, 0.7], [1.5, 0.0]])
    std = np.repeat(np.array([0.1, 0.3, 0.2, 0.4, 0.05])[:, None], 2, axis=1)
    true = mean + np.array([0.0, 0.1, 0.2, 0.3, 0.4])[:, None]
    g = _gate_summary(std, mean, 0.2, 5, true)
    assert g["windows"] == 5 and g["passed"] == 3 and g["spread_median"] == pytest.approx(0.2)
    assert g["bins_all"] == {"inner": 2, "outer": 3}
    assert g["bins_passed"] == {"inner": 1, "outer": 2}
    assert g["spread_error_rho"] == pytest.approx(-0.1)
    # by label: (0, 0) and (0.2, -0.4) inner; (1.1, 0.2), (-0.4, 1.0) and (1.9, 0.4) outer
    assert g["bins_all_true"] == {"inner": 2, "outer": 3}
    assert g["bins_passed_true"] == {"inner": 1, "outer": 2}
