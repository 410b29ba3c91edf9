"""Endpoints of the transfer experiment: CCC, the V/A read-out, RSA and the pair accuracy."""

import numpy as np
import pytest

from neuroaffect.distill.endpoints import (GSTAR_PAIR, gstar_readout_ccc, pair_accuracy, readout_ccc, rsa_score,
                                          va_readout_ccc)
from neuroaffect.labels import FER_CLASSES


def test_readout_recovers_a_linear_code_and_not_noise():
    rng = np.random.default_rng(0)
    va = rng.uniform(-1, 1, (400, 2))
    W = rng.normal(size=(2, 16))
    emb = va @ W + 0.05 * rng.normal(size=(400, 16))
    good = va_readout_ccc(emb[:300], va[:300], emb[300:], va[300:])
    bad = va_readout_ccc(rng.normal(size=(300, 16)), va[:300], rng.normal(size=(100, 16)), va[300:])
    assert good["ccc"] > 0.95 and abs(bad["ccc"]) < 0.3


def test_rsa_is_one_for_the_same_geometry_and_near_zero_for_noise():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(80, 4))
    lifted = np.concatenate([g, np.full((80, 1), 3.0)], axis=1)  # a constant axis: cosine ~ Euclidean ranks
    assert rsa_score(lifted, g) > 0.8
    assert abs(rsa_score(rng.normal(size=(80, 8)), g)) < 0.15


def test_pair_accuracy_uses_the_two_logits_only():
    fear, surprise = GSTAR_PAIR
    assert (FER_CLASSES[fear], FER_CLASSES[surprise]) == ("fear", "surprise")
    z = np.zeros((3, 8))
    z[0, fear], z[1, surprise], z[2, 0] = 1.0, 1.0, 9.0  # image 2 (neutral) is not in the pair
    z[1, 1] = 5.0  # a larger other logit does not matter
    assert pair_accuracy(z, np.array([fear, surprise, 0])) == 1.0
    assert pair_accuracy(z, np.array([surprise, fear, 0])) == 0.0
    assert np.isnan(pair_accuracy(z, np.array([0, 0, 0])))


def test_readout_ccc_by_hand_and_the_gstar_readout():
    # a read-out that is exact on a line: y = 2x, ridge with alpha ~0 recovers it, CCC 1
    x = np.arange(6, dtype=float)[:, None]
    assert readout_ccc(x[:4], 2 * x[:4], x[4:], 2 * x[4:], alpha=1e-9) == pytest.approx([1.0])
    # a constant prediction has CCC 0 (the training targets are all 1: the ridge predicts 1 everywhere)
    assert readout_ccc(x[:4], np.ones((4, 1)), x[4:], np.array([[0.0], [2.0]]))[0] == pytest.approx(0.0)
    from neuroaffect.simulate.gstar import gstar

    rng = np.random.default_rng(0)
    va = rng.uniform(-1, 1, (600, 2))
    g = gstar(va)
    holds = np.c_[g, rng.normal(size=(600, 12))] @ rng.normal(size=(16, 16))  # G* mixed linearly into 16 dims
    linear = np.c_[va, rng.normal(size=(600, 14))]                             # (v, a) only: G* is not linear in it
    assert gstar_readout_ccc(holds[:300], g[:300], holds[300:], g[300:]) > 0.95
    assert gstar_readout_ccc(linear[:300], g[:300], linear[300:], g[300:]) < 0.2
    with pytest.raises(ValueError, match="read-out inputs"):
        readout_ccc(x[:4], np.ones((4, 1)), x[4:], np.ones((2, 2)))
