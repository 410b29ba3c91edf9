"""Face simulator: the continuous affect state, G* in the expressions, votes that follow the state, the truth file."""

import numpy as np
import pytest

from neuroaffect.io.faces import read_faces
from neuroaffect.labels import FER_CIRCUMPLEX_DEG, FER_CLASSES, fer_va_anchors
from neuroaffect.simulate import _faces_draw as draw
from neuroaffect.simulate import faces as sim_faces
from neuroaffect.simulate._faces_state import MIN_RADIUS, REGION_FILL, boundary_votes, draw_states, in_class_region
from neuroaffect.simulate.faces import (
    CLASS_REGIONS_DEG, NEUTRAL_RADIUS, TRUTH_NAME, load_face_truth, simulate_faces, vote_probabilities,
)
from neuroaffect.simulate.gstar import gstar

C = {c: k for k, c in enumerate(FER_CLASSES)}
EMOTIONAL = [k for k, c in enumerate(FER_CLASSES) if c != "neutral"]


def _npz(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


# --------------------------------------------------------------------------------------------
# states within their class's region
# --------------------------------------------------------------------------------------------
def test_regions_are_the_midpoints_to_the_neighbours_capped_at_30_degrees():
    assert CLASS_REGIONS_DEG == {"happiness": (-10.0, 45.0), "surprise": (45.0, 90.0), "fear": (90.0, 117.5),
                                 "anger": (117.5, 137.5), "disgust": (137.5, 160.0), "contempt": (160.0, 187.5),
                                 "sadness": (187.5, 235.0)}
    for c, (lo, hi) in CLASS_REGIONS_DEG.items():
        assert lo < FER_CIRCUMPLEX_DEG[c] < hi


def test_states_lie_in_their_class_region_and_vary_within_it():
    rng = np.random.default_rng(0)
    classes = np.repeat(np.arange(8), 500)
    intensity = rng.uniform(0.4, 1.0, len(classes))
    va = draw_states(rng, classes, intensity)
    assert in_class_region(classes, va).all()
    np.testing.assert_array_equal(va, np.round(va, 3))
    r = np.hypot(*va.T)
    deg = np.rad2deg(np.arctan2(va[:, 1], va[:, 0]))
    for k in range(8):
        mine = classes == k
        assert va[mine].std(0).min() > 0.05, FER_CLASSES[k]  # spread over the region, not at the anchor
        for j in range(8):  # the regions are disjoint
            if j != k:
                assert not in_class_region(np.full(mine.sum(), j), va[mine]).any(), (FER_CLASSES[k], FER_CLASSES[j])
    assert r[classes == 0].max() <= NEUTRAL_RADIUS and r[classes != 0].min() >= MIN_RADIUS
    # the radius follows intensity; the angle spans the inner REGION_FILL of the sector
    assert np.corrcoef(intensity[classes != 0], r[classes != 0])[0, 1] > 0.9
    fear = classes == C["fear"]
    lo, hi = CLASS_REGIONS_DEG["fear"]
    th = FER_CIRCUMPLEX_DEG["fear"]
    assert deg[fear].min() < th - 0.8 * REGION_FILL * (th - lo) and deg[fear].max() > th + 0.8 * REGION_FILL * (hi - th)
    # G* differs within a class (what the planted structure rests on)
    assert gstar(va[fear]).std(0).min() > 0.2


def test_simulated_states_lie_in_their_regions(sim_root):
    for dataset in ("ferplus", "affectnet-mini", "affectnet"):
        truth = load_face_truth(sim_root(dataset))
        assert in_class_region(truth.true_class, truth.va).all(), dataset
        np.testing.assert_allclose(truth.gstar, gstar(truth.va))
        assert truth.gstar_strength == 1.0


# --------------------------------------------------------------------------------------------
# G* in the pixels, through the expression only
# --------------------------------------------------------------------------------------------
def test_gstar_strength_changes_only_the_expressions(tmp_path):
    roots = {s: simulate_faces("ferplus", "tiny", tmp_path / str(s), seed=3, gstar_strength=s) for s in (0.0, 1.0)}
    t0, t1 = (_npz(roots[s].parent / "simulation.npz") for s in (0.0, 1.0))
    s0, s1 = (load_face_truth(roots[s]) for s in (0.0, 1.0))
    assert (s0.gstar_strength, s1.gstar_strength) == (0.0, 1.0)
    np.testing.assert_array_equal(s0.va, s1.va)
    for k in t0:
        if k != "expression":
            np.testing.assert_array_equal(t0[k], t1[k], err_msg=k)  # every draw, the votes included
    np.testing.assert_allclose(t1["expression"] - t0["expression"], gstar(s1.va) @ draw.GSTAR_EXPRESSION, atol=1e-5)
    f0, f1 = (read_faces("ferplus", roots[s]) for s in (0.0, 1.0))
    face = t0["kind"][f0.meta["row"]] == 0
    differ = (f0.images != f1.images).any(axis=(1, 2))
    assert differ[face].mean() > 0.9
    # with no expression change, the pixels are the same: a face drawn twice with one seed
    rng = np.random.default_rng(0)
    n = 4
    args = (draw.draw_identities(rng, n), draw.draw_expressions(rng, np.full(n, 2), np.ones(n)),
            draw.draw_poses(rng, n), draw.draw_looks(rng, n, colour=False), 48)
    a, b = (draw.render_faces(np.random.default_rng(1), *args) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="'gstar_strength' parameter: expected a finite number in \\[0"):
        simulate_faces("ferplus", "tiny", tmp_path / "bad", gstar_strength=-1.0)


def test_gstar_offset_stays_below_the_class_expressions():
    m = draw.GSTAR_EXPRESSION
    assert m.shape == (4, len(draw.EXPRESSION_PARAMS)) and np.linalg.matrix_rank(m) == 4
    assert np.abs(m).sum(0).max() <= 0.35  # at most 0.35 on any control, |G*| <= 1
    gaps = np.abs(draw.CLASS_EXPRESSIONS[:, None] - draw.CLASS_EXPRESSIONS[None]).sum(-1)
    assert np.abs(m).sum(1).max() < 0.5 * gaps[np.triu_indices(8, 1)].min()


# --------------------------------------------------------------------------------------------
# votes follow the state
# --------------------------------------------------------------------------------------------
def _entropy(p):
    return -(p * np.log(np.clip(p, 1e-12, None))).sum(1)


def test_votes_near_a_boundary_are_split_more_than_near_the_anchor():
    names = [FER_CLASSES[k] for k in EMOTIONAL]
    at_anchor, at_edge = [], []
    for c in names:
        lo, hi = CLASS_REGIONS_DEG[c]
        th = FER_CIRCUMPLEX_DEG[c]
        edge = th + REGION_FILL * (hi - th) if hi - th <= th - lo else th - REGION_FILL * (th - lo)  # nearer neighbour
        at_anchor.append(0.7 * np.array([np.cos(np.deg2rad(th)), np.sin(np.deg2rad(th))]))
        at_edge.append(0.7 * np.array([np.cos(np.deg2rad(edge)), np.sin(np.deg2rad(edge))]))
    classes = np.array(EMOTIONAL)
    one = np.ones(len(classes))
    kind = np.zeros(len(classes), dtype=int)
    pa = vote_probabilities(classes, one, kind, np.array(at_anchor))
    pe = vote_probabilities(classes, one, kind, np.array(at_edge))
    np.testing.assert_allclose(pe.sum(1), 1.0)
    assert (_entropy(pe) > _entropy(pa)).all()
    assert (pe[np.arange(len(classes)), classes] < pa[np.arange(len(classes)), classes]).all()
    # near the anchor the correct reading is the class's; at the midpoint of fear and anger it is shared
    q = boundary_votes(classes, fer_va_anchors()[classes])
    assert (q[np.arange(len(classes)), classes] > 0.95).all()
    mid = np.deg2rad((FER_CIRCUMPLEX_DEG["fear"] + FER_CIRCUMPLEX_DEG["anger"]) / 2)
    q = boundary_votes([C["fear"]], [[0.8 * np.cos(mid), 0.8 * np.sin(mid)]])[0]
    assert abs(q[C["fear"]] - q[C["anger"]]) < 1e-9 and q[C["fear"]] > 0.45
    np.testing.assert_array_equal(boundary_votes([0], [[0.1, 0.0]])[0], np.eye(8)[0])
    # without states: every face read as its class (the misread model alone)
    np.testing.assert_allclose(vote_probabilities(classes, one, kind),
                               vote_probabilities(classes, one, kind, fer_va_anchors()[classes]), atol=0.05)


def test_simulated_votes_split_near_boundaries(sim_root):
    root = sim_root("ferplus")
    truth = load_face_truth(root)
    sim = _npz(root.parent / "simulation.npz")
    p = vote_probabilities(sim["true_class"], sim["intensity"], sim["kind"], truth.va)
    p0 = vote_probabilities(sim["true_class"], sim["intensity"], sim["kind"])
    face = (sim["kind"] == 0) & (sim["true_class"] != 0)
    assert (_entropy(p[face]) >= _entropy(p0[face]) - 1e-9).all() and (_entropy(p[face]) > _entropy(p0[face])).any()


# --------------------------------------------------------------------------------------------
# the truth file and its alignment with the readers
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["affectnet-mini", "affectnet"])
def test_affectnet_valence_arousal_are_the_states(sim_root, dataset):
    root = sim_root(dataset)
    fs = read_faces(dataset, root)
    truth = load_face_truth(root, fs)
    np.testing.assert_array_equal(fs.valence, truth.va[:, 0].astype(np.float32))
    np.testing.assert_array_equal(fs.arousal, truth.va[:, 1].astype(np.float32))
    np.testing.assert_array_equal(truth.true_class, fs.labels)


def test_truth_aligns_with_the_reader_order(sim_root):
    root = sim_root("ferplus")
    fs = read_faces("ferplus", root)
    full, truth = load_face_truth(root), load_face_truth(root, fs)
    sim = _npz(root.parent / "simulation.npz")
    assert len(full.key) == len(sim["true_class"]) and len(truth.key) == len(fs) < len(full.key)
    np.testing.assert_array_equal(truth.key, fs.meta["row"])
    np.testing.assert_array_equal(truth.true_class, sim["true_class"][fs.meta["row"]])
    np.testing.assert_allclose(truth.intensity, sim["intensity"][fs.meta["row"]], rtol=1e-6)
    test = np.flatnonzero(fs.split == "test")
    np.testing.assert_array_equal(truth.take(test).va, truth.va[test])
    # CK+: peak frames carry their sequence's state, first frames the origin (neutral)
    root = sim_root("ckplus")
    fs = read_faces("ckplus", root)
    truth = load_face_truth(root, fs)
    np.testing.assert_array_equal(truth.true_class, fs.labels)
    first = fs.meta["frame_role"] == "first"
    assert (truth.va[first] == 0).all() and in_class_region(truth.true_class[~first], truth.va[~first]).all()
    assert all(p.endswith(k) for p, k in zip(fs.paths, truth.key))


def test_truth_errors_name_the_problem(sim_root, tmp_path):
    root = sim_root("ferplus")
    fs = read_faces("ferplus", root)
    with pytest.raises(ValueError, match="align the whole read, then take the subset's index"):
        load_face_truth(root, fs.subset(fs.split == "test"))
    with pytest.raises(ValueError, match="expected a FaceSet of 'affectnet-mini'"):
        load_face_truth(sim_root("affectnet-mini"), fs)
    with pytest.raises(FileNotFoundError, match=f"{TRUTH_NAME}: expected the ground truth"):
        load_face_truth(tmp_path)


@pytest.mark.slow
def test_a_linear_probe_reads_gstar_from_the_pixels_only_when_rendered():
    """Ridge on 24 x 24 pixels of frontal, aligned faces (one pose, no light or noise: what a face
    aligner gives) predicts G* of held-out faces far better at gstar_strength 1 than 0."""
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score

    def r2(strength):
        rng = np.random.default_rng(0)
        n, n_train = 1500, 1200
        classes = rng.choice(8, n, p=sim_faces.FERPLUS_PRIOR)
        intensity = rng.uniform(0.4, 1.0, n)
        va = draw_states(rng, classes, intensity)
        pose = np.tile([0.0, 0.0, 0.0, 1.2], (n, 1))
        looks = draw.draw_looks(rng, n, colour=False, occlusion=0.0, light=0.0)
        looks["noise"][:] = 0.0
        expr = draw.draw_expressions(rng, classes, intensity, va, strength)
        x = draw.render_faces(rng, draw.draw_identities(rng, n), expr, pose, looks, 48) / 255.0
        x = x.reshape(n, 24, 2, 24, 2).mean(axis=(2, 4)).reshape(n, -1)
        g = gstar(va)
        probe = RidgeCV(alphas=np.logspace(-2, 3, 11)).fit(x[:n_train], g[:n_train])
        return r2_score(g[n_train:], probe.predict(x[n_train:]))

    r0, r1 = r2(0.0), r2(1.0)
    assert r1 > r0 + 0.1 and r1 > 0.25, (r0, r1)
