"""Face simulator: real layouts, determinism, class geometry, the planted fear/surprise confusion."""

import json
import re

import numpy as np
import pytest

from neuroaffect.io.faces import FACE_DATASETS, read_faces
from neuroaffect.io.faces.affectnet import AFFECTNET_HEADER
from neuroaffect.io.faces.ferplus import FER2013_HEADER, FER2013_NAME, FERPLUS_HEADER, FERPLUS_NAME
from neuroaffect.labels import DATASETS as EEG_DATASETS
from neuroaffect.labels import FER_CLASSES, fer_va_anchors
from neuroaffect.simulate import DATASETS, dataset_root, simulate, simulate_faces
from neuroaffect.simulate import FACE_DATASETS as SIM_FACE_DATASETS
from neuroaffect.simulate import _faces_draw as draw
from neuroaffect.simulate.faces import FACE_SCALES, TRUTH_NAME, vote_probabilities

C = {c: k for k, c in enumerate(FER_CLASSES)}
FEAR, SURPRISE = C["fear"], C["surprise"]


def _files(out):
    return {p.relative_to(out).as_posix(): p for p in sorted(out.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------------------------
def test_simulate_dispatches_face_datasets(tmp_path):
    assert DATASETS == EEG_DATASETS and SIM_FACE_DATASETS == FACE_DATASETS
    assert dataset_root("ferplus", tmp_path) == tmp_path / "ferplus"
    assert dataset_root("affectnet-mini", tmp_path) == tmp_path / "affectnet_mini"
    assert dataset_root("deap", tmp_path) == tmp_path / "deap"
    root = simulate("ckplus", scale="tiny", out=tmp_path, seed=3)
    assert root == dataset_root("ckplus", tmp_path) and (root / "Emotion").is_dir()
    with pytest.raises(ValueError, match="'snr' parameter: it applies to the EEG datasets only"):
        simulate("ferplus", scale="tiny", out=tmp_path, snr=2.0)
    with pytest.raises(ValueError, match="'gstar_strength' parameter: it applies to the face datasets only"):
        simulate("deap", scale="tiny", out=tmp_path / "eeg", gstar_strength=2.0)
    with pytest.raises(ValueError, match="Allowed values are 'ferplus', 'affectnet-mini', 'affectnet', 'ckplus'"):
        simulate_faces("deap", "tiny", tmp_path)


# --------------------------------------------------------------------------------------------
# determinism and atomic writes
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("dataset", FACE_DATASETS)
def test_same_seed_same_bytes(tmp_path, dataset):
    a = simulate_faces(dataset, "tiny", tmp_path / "a", seed=5).parent
    b = simulate_faces(dataset, "tiny", tmp_path / "b", seed=5).parent
    fa, fb = _files(a), _files(b)
    assert fa.keys() == fb.keys() and len(fa) > 3
    for name in fa:
        if name == "simulation.json":
            ja, jb = (json.loads(f[name].read_text()) for f in (fa, fb))
            assert ja == jb  # code_version included: same checkout
        else:
            assert fa[name].read_bytes() == fb[name].read_bytes(), name
    c = simulate_faces(dataset, "tiny", tmp_path / "c", seed=6).parent
    assert (c / "simulation.npz").read_bytes() != (a / "simulation.npz").read_bytes()


def test_rewrite_replaces_the_root_and_leaves_no_temporary_folder(tmp_path):
    root = simulate_faces("ferplus", "tiny", tmp_path, seed=0)
    (root / "stale.txt").write_text("x")
    simulate_faces("ferplus", "tiny", tmp_path, seed=1)
    assert sorted(p.name for p in root.iterdir()) == [FER2013_NAME, FERPLUS_NAME, TRUTH_NAME]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ferplus", "simulation.json", "simulation.npz"]


# --------------------------------------------------------------------------------------------
# layouts
# --------------------------------------------------------------------------------------------
def test_ferplus_layout(sim_root):
    root = sim_root("ferplus")
    card = json.loads((root.parent / "simulation.json").read_text())
    truth = np.load(root.parent / "simulation.npz")
    fer = root.joinpath(FER2013_NAME).read_text().splitlines()
    new = root.joinpath(FERPLUS_NAME).read_text().splitlines()
    assert fer[0] == ",".join(FER2013_HEADER) and new[0] == ",".join(FERPLUS_HEADER)
    sc = FACE_SCALES["ferplus"]["tiny"]
    assert len(fer) == len(new) == 1 + sc.n_train + sc.n_val + sc.n_test
    assert card["n_rows"] == {"Training": sc.n_train, "PublicTest": sc.n_val, "PrivateTest": sc.n_test}
    usage = [ln.split(",")[0] for ln in new[1:]]
    assert usage == [ln.rsplit(",", 1)[1] for ln in fer[1:]]
    assert usage == sorted(usage, key=["Training", "PublicTest", "PrivateTest"].index)
    names = [ln.split(",")[1] for ln in new[1:]]
    empty = [i for i, n in enumerate(names) if not n]
    assert empty and all(truth["kind"][i] == 2 for i in empty)
    # the names number the named rows: after an empty one they drift from the row index
    after = empty[0] + 1
    assert names[after] == f"fer{after - 1:07d}.png"
    votes = np.array([[int(v) for v in ln.split(",")[2:]] for ln in new[1:]])
    assert votes.shape[1] == 10 and (votes.sum(1) == 10).all()
    np.testing.assert_array_equal(votes, truth["votes"])
    assert all(len(ln.split(",")[1].split()) == 48 * 48 for ln in fer[1:])


def test_ferplus_majority_follows_the_true_class(sim_root):
    root = sim_root("ferplus")
    fs = read_faces("ferplus", root)
    truth = np.load(root.parent / "simulation.npz")
    agree = np.mean(truth["true_class"][fs.meta["row"]] == fs.labels)
    assert agree > 0.6


def test_affectnet_mini_layout_and_valence_arousal(sim_root):
    root = sim_root("affectnet-mini")
    lines = (root / "labels.csv").read_text().splitlines()
    assert lines[0] == "path,label,valence,arousal"
    assert all(re.fullmatch(r"images/\d{6}\.jpg", ln.split(",")[0]) for ln in lines[1:])
    truth = np.load(root.parent / "simulation.npz")
    assert C["contempt"] not in truth["true_class"]
    v = truth["valence"]
    assert v[truth["true_class"] == C["happiness"]].mean() > 0.3 > -0.3 > v[truth["true_class"] == C["sadness"]].mean()
    anchors = fer_va_anchors()
    err = np.abs(np.column_stack([v, truth["arousal"]]) - anchors[truth["true_class"]])
    assert err.mean() < 0.4


def test_affectnet_layout_and_landmarks(sim_root):
    root = sim_root("affectnet")
    lines = (root / "Manually_Annotated_file_lists" / "training.csv").read_text().splitlines()
    assert lines[0] == ",".join(AFFECTNET_HEADER)
    sc = FACE_SCALES["affectnet"]["tiny"]
    assert len(lines) == 1 + sum(sc.train_per_code)
    for ln in lines[1:]:
        path, x, y, w, h, lmk, code, val, aro = ln.split(",")
        assert (root / "Manually_Annotated_Images" / path).is_file()
        pts = np.array(lmk.split(";"), dtype=float).reshape(68, 2)
        inside = (pts[:, 0] >= int(x)) & (pts[:, 0] <= int(x) + int(w)) & (pts[:, 1] >= int(y)) \
            & (pts[:, 1] <= int(y) + int(h))
        assert inside[17:].all()  # brows, nose, eyes and mouth lie in the face box
        if int(code) >= 9:  # uncertain, non-face
            assert float(val) == float(aro) == -2.0
        else:
            assert -1 <= float(val) <= 1 and -1 <= float(aro) <= 1


def test_ckplus_layout(sim_root):
    root = sim_root("ckplus")
    truth = np.load(root.parent / "simulation.npz")
    sc = FACE_SCALES["ckplus"]["tiny"]
    seqs = sorted((root / "cohn-kanade-images").glob("S*/*"))
    assert len(seqs) == sc.n_sequences and len({s.parent.name for s in seqs}) == sc.n_subjects
    emo = sorted((root / "Emotion").glob("S*/*/*_emotion.txt"))
    assert len(emo) == sc.n_labelled < sc.n_sequences
    for f in emo:
        assert re.fullmatch(r"   [1-7]\.0000000e\+00\n", f.read_text())
        frames = sorted(p.name for p in (root / "cohn-kanade-images" / f.parent.parent.name / f.parent.name).iterdir())
        assert f.name == frames[-1].replace(".png", "_emotion.txt") and len(frames) == sc.frames[0]
    # frames go from neutral (intensity 0) to the peak
    intensity = truth["frame_intensity"]
    first = truth["frame_number"] == 1
    assert (intensity[first] == 0).all() and intensity.max() > 0.8


# --------------------------------------------------------------------------------------------
# class geometry and the planted fear/surprise similarity
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def paired_faces():
    """Every class drawn on the same 32 people (same frontal pose, light, no noise), twice (fresh jitter)."""
    rng = np.random.default_rng(0)
    k = 32
    idn, pose = draw.draw_identities(rng, k), draw.draw_poses(rng, k)
    pose[:, :2] = 0.0  # no rotation, no sideways shift: mirror images compare the two halves of the face
    looks = draw.draw_looks(rng, k, colour=False, occlusion=0.0)
    looks["noise"][:] = 0.0

    def render(c):
        expr = draw.draw_expressions(rng, np.full(k, c), np.ones(k))
        return draw.render_faces(rng, idn, expr, pose, looks, 48).astype(np.float64)

    return np.stack([render(c) for c in range(8)]), np.stack([render(c) for c in range(8)])


def _profile_distance(x, y, rows):
    """Mean over people of the mean absolute difference of the row-profiles (grey levels) in ``rows``."""
    return np.abs(x[:, rows].mean(-1) - y[:, rows].mean(-1)).mean()


def test_class_geometry_differs_measurably(paired_faces):
    a, b = paired_faces
    mouth, brows = slice(30, 44), slice(8, 22)
    same = {name: _profile_distance(a[0], b[0], rows) for name, rows in (("mouth", mouth), ("brows", brows))}
    for cls in ("happiness", "surprise", "sadness", "disgust", "fear"):
        assert _profile_distance(a[C[cls]], a[0], mouth) > 2 * same["mouth"], cls
    for cls in ("surprise", "fear", "anger"):
        assert _profile_distance(a[C[cls]], a[0], brows) > 1.5 * same["brows"], cls
    # contempt raises one mouth corner (always the same one): its change from the same person's
    # neutral face is one-sided on average, unlike the jitter between two neutral faces
    def asym(d):
        return np.abs((d[:, mouth] - d[:, mouth, ::-1]).mean(0)).mean()

    assert asym(a[C["contempt"]] - a[0]) > 3 * asym(b[0] - a[0])


def test_fear_and_surprise_are_each_others_nearest_class(paired_faces):
    a, b = paired_faces
    rows = slice(0, 48)
    d = np.array([[_profile_distance(a[i], a[j] if i != j else b[j], rows) for j in range(8)] for i in range(8)])
    off = d + np.diag(np.full(8, np.inf))
    assert off[FEAR].argmin() == SURPRISE and off[SURPRISE].argmin() == FEAR
    assert d[FEAR, SURPRISE] < 0.6 * np.delete(off[FEAR], SURPRISE).min()


def test_votes_confuse_fear_and_surprise():
    rng = np.random.default_rng(0)
    classes = np.repeat(np.arange(8), 400)
    p = vote_probabilities(classes, rng.uniform(0.4, 1.0, len(classes)), np.zeros(len(classes), dtype=int))
    np.testing.assert_allclose(p.sum(1), 1.0)
    votes = rng.multinomial(10, p)
    share = np.array([votes[classes == c, :8].sum(0) / votes[classes == c].sum() for c in range(8)])
    off = share - np.diag(np.diag(share))
    assert off[FEAR].argmax() == SURPRISE and off[SURPRISE].argmax() == FEAR
    pair = off + off.T  # confusion between two classes, both ways
    pair[0, :] = pair[:, 0] = 0  # weak faces of every class drift to neutral: leave neutral out
    assert np.unravel_index(pair.argmax(), pair.shape) in ((FEAR, SURPRISE), (SURPRISE, FEAR))
    # hidden faces and non-faces: a majority of unknown and NF votes
    kind = np.repeat([1, 2], 200)
    v = rng.multinomial(10, vote_probabilities(np.zeros(400, int), np.ones(400), kind))
    assert (v[kind == 1].argmax(1) == 8).mean() > 0.8 and (v[kind == 2].argmax(1) == 9).mean() > 0.95


def test_simulate_and_the_cli_pass_the_gstar_strength(tmp_path):
    """simulate() and ``neuroaffect simulate --gstar-strength`` reach the face simulator: the truth file
    records the strength, and s_G 0 writes other pixels than s_G 2 from the same seed."""
    from neuroaffect.cli import main
    from neuroaffect.simulate.faces import load_face_truth

    strong = simulate("ckplus", scale="tiny", out=tmp_path / "s2", seed=1, gstar_strength=2.0)
    assert main(["simulate", "--dataset", "ckplus", "--scale", "tiny", "--out", str(tmp_path / "s0"), "--seed", "1",
                 "--gstar-strength", "0", "--no-progress"]) == 0
    none = dataset_root("ckplus", tmp_path / "s0")
    assert load_face_truth(strong).gstar_strength == 2.0 and load_face_truth(none).gstar_strength == 0.0
    a, b = sorted(strong.rglob("*.png")), sorted(none.rglob("*.png"))
    assert len(a) == len(b) > 0 and any(x.read_bytes() != y.read_bytes() for x, y in zip(a, b))
