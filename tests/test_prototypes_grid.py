"""The valence/arousal grid by hand: bin edges and centres on [-1, 1], which bin a point falls in at
every boundary, unit-norm prototypes whatever the embeddings' scale, which prototype an empty bin
copies (and its ``filled`` flag), and the ordering statistic on a three-bin case worked out by hand.

Tests call only the public, stable names: ``neuroaffect.labels`` grid-cell helpers and the
``neuroaffect.prototypes`` exports (``docs/prototypes.md``).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from neuroaffect.labels import grid_cells, grid_centres, grid_edges
from neuroaffect.prototypes import build_grid, ordering_test, pairwise_cosine


# --- bins ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7])
def test_edges_and_centres_tile_minus_one_to_one(n):
    e, c = grid_edges(n), grid_centres(n)
    assert e.shape == (n + 1,) and c.shape == (n,)
    assert e[0] == -1.0 and e[-1] == 1.0
    np.testing.assert_allclose(np.diff(e), 2.0 / n)  # n bins of equal width
    np.testing.assert_allclose(c, (e[:-1] + e[1:]) / 2, atol=1e-12)  # each centre halfway along its bin
    np.testing.assert_allclose(c, -c[::-1], atol=1e-12)  # symmetric about 0
    np.testing.assert_allclose(c, -1 + (2 * np.arange(n) + 1) / n, atol=1e-12)  # the docstring's formula


@pytest.mark.parametrize("bad", [0, -2, 2.0, True, "5"])
def test_a_grid_size_other_than_a_positive_int_is_refused(bad):
    for f in (grid_edges, grid_centres):
        with pytest.raises(ValueError, match="'n' parameter: expected a positive int"):
            f(bad)
    with pytest.raises(ValueError, match="'n' parameter"):
        grid_cells([0.0], [0.0], bad)


@pytest.mark.parametrize("n", [2, 4, 5])
def test_a_point_on_an_inner_edge_goes_to_the_upper_bin(n):
    e = grid_edges(n)
    inner = e[1:-1]
    k = np.arange(1, n)
    iv, ia = grid_cells(inner, inner[::-1], n)
    assert iv.tolist() == k.tolist() and ia.tolist() == k[::-1].tolist()
    iv, _ = grid_cells(inner - 1e-9, np.zeros(n - 1), n)  # just below an edge: the lower bin
    assert iv.tolist() == (k - 1).tolist()
    # the outer edges belong to the outer bins; outside [-1, 1] goes to the nearest outer bin
    iv, _ = grid_cells([-1.0, 1.0, -1.5, 1.5, -np.inf, np.inf], np.zeros(6), n)
    assert iv.tolist() == [0, n - 1, 0, n - 1, 0, n - 1]


def test_every_point_lies_between_the_edges_of_its_bin():
    rng = np.random.default_rng(0)
    v, a = rng.uniform(-1, 1, 500), rng.uniform(-1, 1, 500)
    e = grid_edges(5)
    iv, ia = grid_cells(v, a, 5)
    for x, i in ((v, iv), (a, ia)):
        assert ((e[i] <= x) & (x < e[i + 1])).all()
    # sums that miss the edge 0.2 by one float step still count as on it (edges and points are rounded to 1e-12)
    iv, _ = grid_cells([0.1 + 0.1, 0.6 - 0.4, 3 * 0.2 - 0.4], np.zeros(3), 5)
    assert iv.tolist() == [3, 3, 3]


def test_nan_in_either_rating_puts_the_point_in_no_bin():
    iv, ia = grid_cells([np.nan, 0.3, 0.3], [0.3, np.nan, 0.3], 5)
    assert iv.tolist() == [-1, -1, 3] and ia.tolist() == [-1, -1, 3]
    assert iv.dtype == np.int64 and ia.dtype == np.int64


def test_shapes_other_than_two_equal_vectors_are_refused():
    with pytest.raises(ValueError, match=r"'valence' parameter: expected shape \(n_points,\)"):
        grid_cells(np.zeros((2, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="one length"):
        grid_cells(np.zeros(3), np.zeros(4))


# --- normalisation --------------------------------------------------------------------------------

def test_every_member_weighs_the_same_whatever_its_norm():
    # bin (2, 2) holds a long and a short member: the prototype is the mean of their unit vectors
    emb = np.array([[1000.0, 0.0, 0.0], [0.0, 0.001, 0.0]])
    g = build_grid({"a": (emb, [0.0, 0.1], [0.0, -0.1])}, 5)
    np.testing.assert_allclose(g.prototypes[2, 2], [2 ** -0.5, 2 ** -0.5, 0.0], rtol=1e-6)
    # scaling every embedding changes nothing
    rng = np.random.default_rng(1)
    x, v, a = rng.standard_normal((200, 6)), rng.uniform(-1, 1, 200), rng.uniform(-1, 1, 200)
    g1, g2 = build_grid({"a": (x, v, a)}, 5), build_grid({"a": (37.0 * x, v, a)}, 5)
    np.testing.assert_allclose(g1.prototypes, g2.prototypes, atol=1e-6)


def test_prototypes_are_unit_norm_float32_of_shape_n_n_d():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 5)) * rng.uniform(0.01, 100, (300, 1))
    g = build_grid({"a": (x, rng.uniform(-1, 1, 300), rng.uniform(-1, 1, 300))}, 4)
    assert g.prototypes.shape == (4, 4, 5) and g.prototypes.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(g.prototypes.astype(np.float64), axis=-1), 1.0, atol=1e-6)
    assert g.n == 4 and g.dim == 5
    np.testing.assert_array_equal(g.centres, grid_centres(4))
    np.testing.assert_array_equal(g.edges, grid_edges(4))


# --- empty bins -----------------------------------------------------------------------------------

def _brute_force_source(counts):
    """For every bin, the non-empty bin nearest by centre distance, ties to the first in (v, a) order."""
    n = counts.shape[0]
    c = grid_centres(n)
    full = [(i, j) for i in range(n) for j in range(n) if counts[i, j] > 0]
    out = np.zeros((n, n, 2), np.int64)
    for i in range(n):
        for j in range(n):
            d = [round((c[i] - c[p]) ** 2 + (c[j] - c[q]) ** 2, 12) for p, q in full]
            out[i, j] = full[int(np.argmin(d))]
    return out


def test_empty_bins_copy_their_nearest_full_bin_ties_to_the_first_in_bin_order():
    # 3 x 3, members in (0, 0) and (2, 2) only
    e = np.eye(2)
    g = build_grid({"a": (e, [-0.9, 0.9], [-0.9, 0.9])}, 3)
    assert g.filled.tolist() == [[False, True, True], [True, True, True], [True, True, False]]
    src = {(i, j): tuple(g.source_of_fill[i, j]) for i in range(3) for j in range(3)}
    assert src[0, 1] == (0, 0) and src[1, 0] == (0, 0) and src[1, 2] == (2, 2) and src[2, 1] == (2, 2)
    # (1, 1), (0, 2) and (2, 0) are as far from one as from the other: the first in bin order, (0, 0), wins
    assert src[1, 1] == src[0, 2] == src[2, 0] == (0, 0)
    assert src[0, 0] == (0, 0) and src[2, 2] == (2, 2)  # a full bin is its own source
    for (i, j), (p, q) in src.items():
        np.testing.assert_array_equal(g.prototypes[i, j], g.prototypes[p, q])
    np.testing.assert_allclose(g.prototypes[1, 1], [1, 0])


@pytest.mark.parametrize("seed", range(4))
def test_fill_sources_match_a_brute_force_search(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 12))
    v, a = rng.uniform(-1, 1, m), rng.uniform(-1, 1, m)
    g = build_grid({"a": (rng.standard_normal((m, 4)), v, a)}, 5)
    counts = g.total_counts()
    assert counts.sum() == m
    np.testing.assert_array_equal(g.filled, counts == 0)
    np.testing.assert_array_equal(g.source_of_fill, _brute_force_source(counts))
    flat = g.prototypes.reshape(25, 4)
    np.testing.assert_array_equal(flat, flat[g.source_of_fill[..., 0].ravel() * 5 + g.source_of_fill[..., 1].ravel()])


def test_one_full_bin_fills_the_whole_grid_and_unlabelled_members_count_nowhere():
    x = np.array([[0.0, 2.0], [5.0, 5.0]])
    g = build_grid({"a": (x, [0.5, np.nan], [-0.5, 0.1])}, 5)
    assert g.total_counts().sum() == 1 and g.counts["a"][3, 1] == 1
    assert g.filled.sum() == 24 and not g.filled[3, 1]
    np.testing.assert_allclose(g.prototypes.reshape(25, 2), np.tile([0.0, 1.0], (25, 1)))
    # counts are kept per source; a second source pools into the same prototypes
    g2 = build_grid({"a": (x[:1], [0.5], [-0.5]), "b": (np.array([[1.0, 0.0]]), [0.45], [-0.55])}, 5)
    assert g2.counts["a"][3, 1] == 1 and g2.counts["b"][3, 1] == 1 and g2.total_counts()[3, 1] == 2
    np.testing.assert_allclose(g2.prototypes[3, 1], [2 ** -0.5, 2 ** -0.5], rtol=1e-6)


def test_members_of_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match=r"members\['a'\]: expected embeddings \(n, D\)"):
        build_grid({"a": (np.zeros((3, 2)), [0.0] * 2, [0.0] * 2)}, 5)
    with pytest.raises(ValueError, match=r"members\['b'\]: expected 2-d embeddings"):
        build_grid({"a": (np.ones((1, 2)), [0.0], [0.0]), "b": (np.ones((1, 3)), [0.0], [0.0])}, 5)
    with pytest.raises(ValueError, match="at least one source"):
        build_grid({}, 5)


# --- the ordering statistic -----------------------------------------------------------------------

def _three_in_a_row(angles_deg):
    """A 3 x 3 grid whose bottom-valence row (0, 0), (0, 1), (0, 2) holds 2-d unit vectors at these angles."""
    p = np.zeros((3, 3, 2))
    p[..., 0] = 1.0
    t = np.deg2rad(angles_deg)
    p[0, :, 0], p[0, :, 1] = np.cos(t), np.sin(t)
    mask = np.zeros((3, 3), bool)
    mask[0] = True
    return p, mask


def test_ordering_rho_and_p_of_three_bins_by_hand():
    """Bins at arousal -2/3, 0, 2/3 (valence -2/3): plane distances of the pairs (0,1), (0,2), (1,2) are
    2/3, 4/3, 2/3, ranks (1.5, 3, 1.5). Prototypes at 0, 20 and 90 degrees: cosine distances 1 - cos 20,
    1 - cos 90, 1 - cos 70, ranks (1, 3, 2). Spearman's rho = 1.5 / sqrt(1.5 * 2) = sqrt(3) / 2.
    Under the null each of the 6 orders of the bins is equally likely; rho depends only on which
    prototype sits in the middle: 1 -> sqrt(3)/2, 0 -> 0, 2 -> -sqrt(3)/2, so P(rho_perm >= rho) = 1/3."""
    p, mask = _three_in_a_row([0, 20, 90])
    r = ordering_test(p, grid_centres(3), mask, n_permutations=600, seed=0)
    assert r["rho"] == pytest.approx(np.sqrt(3) / 2, abs=1e-12)
    assert r["n_bins"] == 3 and r["n_pairs"] == 3 and r["n_permutations"] == 600 and r["seed"] == 0
    assert r["p_value"] == pytest.approx(1 / 3, abs=0.06)
    assert 601 * r["p_value"] == pytest.approx(round(601 * r["p_value"]))  # (1 + count) / (1 + N)
    # 0 degrees in the middle (20, 0, 90): the far pair is 70 degrees apart, rank 2 of 3 -> rho 0;
    # 90 degrees in the middle (0, 90, 20): the far pair is the nearest -> rho -sqrt(3)/2
    p2, _ = _three_in_a_row([20, 0, 90])
    assert ordering_test(p2, grid_centres(3), mask, n_permutations=10)["rho"] == pytest.approx(0.0, abs=1e-12)
    p3, _ = _three_in_a_row([0, 90, 20])
    assert ordering_test(p3, grid_centres(3), mask, n_permutations=10)["rho"] == pytest.approx(-np.sqrt(3) / 2)
    # the same seed gives the same p; fewer than three bins give no figure
    assert ordering_test(p, grid_centres(3), mask, n_permutations=600, seed=0)["p_value"] == r["p_value"]
    mask[0, 2] = False
    r2 = ordering_test(p, grid_centres(3), mask)
    assert np.isnan(r2["rho"]) and np.isnan(r2["p_value"]) and r2["n_bins"] == 2 and r2["n_pairs"] == 0


def test_ordering_rho_is_spearman_of_plane_and_cosine_distance_over_all_bin_pairs():
    rng = np.random.default_rng(3)
    p = rng.standard_normal((4, 4, 6))
    c = grid_centres(4)
    r = ordering_test(p, c, n_permutations=20)
    v, a = np.meshgrid(c, c, indexing="ij")
    pos = np.c_[v.ravel(), a.ravel()]
    iu = np.triu_indices(16, 1)
    plane = np.linalg.norm(pos[:, None] - pos[None], axis=-1)[iu]
    cos = (1 - pairwise_cosine(p))[iu]
    assert r["n_pairs"] == 120 and r["rho"] == pytest.approx(spearmanr(plane, cos).statistic, abs=1e-12)
    # the statistic reads directions only: scaling a prototype or rotating them all changes nothing
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    scaled = p * rng.uniform(0.5, 3.0, (4, 4, 1))
    assert ordering_test(scaled @ q, c, n_permutations=20)["rho"] == pytest.approx(r["rho"], abs=1e-12)
