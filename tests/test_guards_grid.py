"""The prototype grid's statistics on hand-computed cases: members off the diagonal, the ordering
statistic, the soft assignment, the empty-bin fill, and Proto-KD's cosine of normalised vectors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from neuroaffect.labels import grid_centres, grid_edges
from neuroaffect.prototypes.grid import build_grid, ordering_test
from neuroaffect.prototypes.io import PrototypeGrid

# 5 x 5 grid: edges -1, -0.6, -0.2, 0.2, 0.6, 1; centres -0.8, -0.4, 0, 0.4, 0.8 (typed, not computed)
CENTRES = [-0.8, -0.4, 0.0, 0.4, 0.8]


def _unit(deg):
    return np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg)), 0.0])


def test_off_diagonal_members_land_in_their_own_bin_and_are_averaged_as_unit_vectors():
    # (v, a) = (0.5, -0.9) is bin (3, 0); (-0.7, 0.3) is bin (0, 3): mirror images across the diagonal
    emb = np.array([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 2.0]])
    g = build_grid({"a": (emb, np.array([0.5, 0.5, -0.7]), np.array([-0.9, -0.9, 0.3]))})
    counts = g.total_counts()
    assert counts[3, 0] == 2 and counts[0, 3] == 1 and counts.sum() == 3
    # mean of the unit vectors (1,0,0) and (0,1,0), normalised: (1, 1, 0) / sqrt 2 (the raw mean would lean to x)
    np.testing.assert_allclose(g.prototypes[3, 0], [2 ** -0.5, 2 ** -0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(g.prototypes[0, 3], [0.0, 0.0, 1.0], atol=1e-6)
    assert not g.filled[3, 0] and not g.filled[0, 3] and g.filled.sum() == 23


def test_empty_bins_copy_their_nearest_non_empty_bin_and_are_flagged():
    # members in bins (0, 0) and (4, 1) only
    emb = np.array([_unit(0), _unit(90)])
    g = build_grid({"a": (emb, np.array([-0.9, 0.9]), np.array([-0.9, -0.3]))})
    src = g.source_of_fill
    # by hand (squared distances between bin centres, ties to the first bin in (valence, arousal) order):
    # (2, 0): to (0,0) 0.64, to (4,1) 0.64 + 0.16 -> (0, 0)
    # (3, 0): to (0,0) 1.44, to (4,1) 0.16 + 0.16 -> (4, 1)
    # (2, 1): to (0,0) 0.64 + 0.16, to (4,1) 0.64 -> (4, 1)
    # (0, 4): to (0,0) 2.56, to (4,1) 2.56 + 1.44 -> (0, 0)
    # (2, 3): to (0,0) 0.64 + 1.44 = 2.08, to (4,1) 0.64 + 0.64 = 1.28 -> (4, 1)
    # (1, 1) -> (0,0) 0.16 + 0.16 = 0.32 vs (4,1) 1.44 -> (0, 0)
    expected = {(2, 0): (0, 0), (3, 0): (4, 1), (2, 1): (4, 1), (0, 4): (0, 0), (2, 3): (4, 1), (1, 1): (0, 0)}
    for b, s in expected.items():
        assert tuple(src[b]) == s, b
        np.testing.assert_allclose(g.prototypes[b], g.prototypes[s])
        assert g.filled[b]
    # a plain reference: nearest by squared distance of centres, first in bin order on a tie
    full = [(0, 0), (4, 1)]
    for i in range(5):
        for j in range(5):
            d = [(CENTRES[i] - CENTRES[u]) ** 2 + (CENTRES[j] - CENTRES[w]) ** 2 for u, w in full]
            best = full[min(range(2), key=lambda t: (round(d[t], 9), t))]
            assert tuple(src[i, j]) == best, (i, j)
    assert [tuple(x) for x in np.argwhere(~g.filled)] == full
    # Euclidean, not city-block: from bin (0, 0), bin (2, 2) is nearer (1.28) than bin (3, 0) (1.44),
    # though three steps away against two
    g2 = build_grid({"a": (emb, np.array([0.5, 0.1]), np.array([-0.9, 0.1]))})  # bins (3, 0) and (2, 2)
    assert tuple(g2.source_of_fill[0, 0]) == (2, 2) and tuple(g2.source_of_fill[4, 0]) == (3, 0)
    # the ordering test on the non-empty bins only sees the two (too few for a statistic)
    assert ordering_test(g.prototypes, g.centres, mask=~g.filled, n_permutations=10)["n_bins"] == 2


def test_ordering_statistic_on_three_bins_by_hand():
    """Bins (0,0), (0,1), (0,4): plane distances 0.4, 1.6, 1.2 for pairs (01, 02, 12), ranks 1, 3, 2.

    Prototypes at 0, 30 and -60 degrees: cosine distances 1 - cos 30, 1 - cos 60, 1 - cos 90, ranks
    1, 2, 3. Spearman rho = 1 - 6 * (0 + 1 + 1) / (3 * 8) = 0.5. Permuting three bins permutes the
    three pairs every way, so the null takes 1, 0.5, 0.5, -0.5, -0.5, -1 equally often: p = 3/6.
    """
    protos = np.zeros((5, 5, 3))
    protos[0, 0], protos[0, 1], protos[0, 4] = _unit(0), _unit(30), _unit(-60)
    mask = np.zeros((5, 5), bool)
    mask[0, 0] = mask[0, 1] = mask[0, 4] = True
    res = ordering_test(protos, grid_centres(5), mask=mask, n_permutations=4000, seed=1)
    assert res["rho"] == pytest.approx(0.5)
    assert res["n_bins"] == 3 and res["n_pairs"] == 3
    assert res["p_value"] == pytest.approx(0.5, abs=0.03)
    # similarity in place of distance would reverse the sign: swap two prototypes' order to get -0.5
    protos[0, 1], protos[0, 4] = _unit(-60), _unit(30)  # distances now ranks 2, 1, 3 vs plane 1, 3, 2
    assert ordering_test(protos, grid_centres(5), mask=mask, n_permutations=10)["rho"] == pytest.approx(-0.5)


def _grid(prototypes):
    n = prototypes.shape[0]
    return PrototypeGrid(prototypes=prototypes.astype(np.float32), centres=grid_centres(n), edges=grid_edges(n),
                         counts=np.ones((1, n, n), np.int64), filled=np.zeros((n, n), bool), card={},
                         path=Path("hand-made"))


def test_soft_assignment_of_an_off_diagonal_point_by_hand():
    rng = np.random.default_rng(0)
    p = rng.standard_normal((5, 5, 4))
    p /= np.linalg.norm(p, axis=-1, keepdims=True)
    g = _grid(p)
    v, a, t = 0.45, -0.7, 0.2
    # reference: bins in (valence, arousal) order, weight exp(-squared distance / t), normalised
    ref = [math.exp(-((v - CENTRES[i]) ** 2 + (a - CENTRES[j]) ** 2) / t) for i in range(5) for j in range(5)]
    ref = np.array(ref) / sum(ref)
    w = g.soft_assign(v, a, temperature=t)
    np.testing.assert_allclose(w, ref, rtol=1e-9)
    assert int(np.argmax(w)) == 3 * 5 + 0  # bin (3, 0): valence 0.4, arousal -0.8
    assert w[3 * 5 + 0] > w[0 * 5 + 3] * 1e3  # the transposed bin is far away
    np.testing.assert_allclose(g.bin_centres()[15], [0.4, -0.8])
    np.testing.assert_array_equal(g.lookup(v, a), p[3, 0].astype(np.float32))
    soft = g.soft_prototype(v, a, temperature=t)
    mix = sum(ref[i * 5 + j] * p[i, j].astype(np.float32) for i in range(5) for j in range(5))
    np.testing.assert_allclose(soft, mix / np.linalg.norm(mix), rtol=1e-5)


def test_proto_kd_uses_the_cosine_of_normalised_vectors_by_hand():
    import torch

    from neuroaffect.distill.losses import ProtoKD

    # prototypes of lengths 2 and 3 along x and y; embedding (3, 4) of length 5: cosines 3/5 and 4/5
    kd = ProtoKD([[2.0, 0.0], [0.0, 3.0]], [[0.0, 0.0], [1.0, 0.0]], [[0.0, 0.0]], target_temperature=1.0,
                 student_temperature=0.5)
    emb = torch.tensor([[[3.0, 4.0]]])
    np.testing.assert_allclose(kd.similarities(emb).numpy()[0, 0], [0.6, 0.8], rtol=1e-6)
    # target: softmax(-(0, 1) / 1) = (e, 1) / (e + 1); student: softmax((0.6, 0.8) / 0.5)
    q_pro = np.array([math.e, 1.0]) / (math.e + 1)
    z = np.array([1.2, 1.6])
    q_stu = np.exp(z) / np.exp(z).sum()
    kl = float(np.sum(q_pro * np.log(q_pro / q_stu)))
    loss = kd(emb, torch.zeros((1, 1), dtype=torch.int64))
    assert loss.shape == (1,) and float(loss[0]) == pytest.approx(kl, rel=1e-5)
    np.testing.assert_allclose(kd.targets()[0], q_pro, rtol=1e-6)
    # scaling the embedding changes nothing (it is normalised)
    assert float(kd(emb * 7, torch.zeros((1, 1), dtype=torch.int64))[0]) == pytest.approx(kl, rel=1e-5)
