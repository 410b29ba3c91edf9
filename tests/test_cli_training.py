"""The training commands end to end on tiny simulated DEAP: experiment, sweep, plot-sweep, tabulate."""

import hashlib
import json
import subprocess
import sys

import pytest


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "neuroaffect", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.slow
def test_experiment_sweep_and_tables(sim_root, tmp_path):
    root = sim_root("deap")
    common = ["--dataset", "deap", "--target", "arousal", "--task", "binary", "--model", "dgcnn",
              "--epochs", "2", "--folds", "2", "--device", "cpu", "--root", str(root)]
    # a stale workflow output in the working folder must not be used when --root is given
    (tmp_path / "results" / "features" / "deap").mkdir(parents=True)
    (tmp_path / "results" / "features" / "deap" / "1.nc").write_bytes(b"not a feature file")
    res = _run("experiment", "--subject", "1", *common, "--control", "--out", str(tmp_path / "exp"),
               cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for row in ("dgcnn", "majority", "logistic", "chance", "trial ovl", "sample ovl", "dgcnn (shuffled labels)",
                "window level", "trial level", f"data: deap from {root} (simulated, snr 1)",
                "features computed in memory"):
        assert row in res.stdout, row
    assert "epoch 2/2" in res.stderr  # progress, one line per epoch when not on a terminal
    card = json.loads((tmp_path / "exp.json").read_text())
    assert card["subject"] == 1 and card["metadata"]["protocol"] == "trial-holdout"
    # provenance: the raw recording the in-memory features were computed from, by content hash
    raw = card["metadata"]["inputs"]["raw_inputs"]
    (s01,) = [k for k in raw if k.endswith("s01.dat")]
    assert raw[s01] == hashlib.sha256(next(root.rglob("s01.dat")).read_bytes()).hexdigest()
    assert card["metadata"]["inputs"]["features"] == {} and len(card["metadata"]["inputs"]["feature_params_hash"]) == 1

    res = _run("sweep", *common, "--out", str(tmp_path / "sweep"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    def strict(const):
        raise AssertionError(f"sweep.json holds {const}, which is not JSON")

    sweep = json.loads((tmp_path / "sweep.json").read_text(), parse_constant=strict)
    assert sweep["metadata"]["subjects"] == [1, 2]
    assert len(sweep["folds"]) == 4 and all(f["trial_overlap"] == 0.0 == f["sample_overlap"] for f in sweep["folds"])
    assert sweep["metadata"]["train_config"]["device"] == "cpu" and sweep["metadata"]["train_config"]["amp"] is False
    assert len(sweep["histories"]) == 4 and len(sweep["histories"][0]["train_loss"]) == 2
    assert sum(map(sum, sweep["confusion"])) == sum(f["n_test"] for f in sweep["folds"])
    assert "trained 4 fold models" in res.stdout

    res = _run("plot-sweep", "--sweep", str(tmp_path / "sweep.json"), "--out", str(tmp_path / "s.png"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"

    res = _run("tabulate", "--sweeps", str(tmp_path / "sweep.json"), "--sidecars",
               str(root.parent / "simulation.json"), "--out", str(tmp_path / "results"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    table = (tmp_path / "results.md").read_text()
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text())))
    assert [r["level"] for r in rows] == ["window", "trial"] and all(r["model"] == "dgcnn" for r in rows)
    sweep_md = json.loads((tmp_path / "sweep.json").read_text())["summary"]
    for r in rows:  # every cell comes from the sweep's own summary
        s = sweep_md[r["level"]]
        assert float(r["model_value"]) == s["dgcnn"]["accuracy_mean"]
        assert float(r["reference"]) == s["majority"]["accuracy_mean"]
        assert float(r["margin"]) == s["dgcnn"]["accuracy_mean"] - s["majority"]["accuracy_mean"]
    assert float(rows[1]["oracle"]) > 0.5 and rows[0]["oracle"] == ""
    line = next(ln for ln in table.splitlines() if ln.startswith("| deap | arousal |"))
    w, t = (100 * float(r["model_value"]) for r in rows)
    assert f"| {w:.1f} / {t:.1f} |" in line and line.endswith("| 0.0 | 0.0 |")
    assert "trial overlap % | sample overlap %" in table
    assert "planted effect size (snr; 1 = the realistic default" in table and "): deap 1." in table


@pytest.mark.slow
def test_experiment_without_data_says_what_is_missing(tmp_path):
    res = _run("experiment", "--dataset", "deap", "--subject", "1", "--epochs", "1", cwd=tmp_path)
    assert res.returncode == 2
    assert "results/features/deap" in res.stderr and "make run" in res.stderr


@pytest.mark.slow
def test_sweep_names_a_feature_file_with_broken_provenance(sim_root, tmp_path):
    from neuroaffect.features import FeatureParams, extract_features, write_features
    from neuroaffect.io import read_dataset

    (rec,) = read_dataset("deap", sim_root("deap"), subjects=[1])
    ds = extract_features(rec, FeatureParams())
    ds.attrs["input_sha256"] = "not json"
    fname = write_features(ds, tmp_path / "feat" / "1.nc")
    res = _run("sweep", "--dataset", "deap", "--target", "arousal", "--task", "binary", "--model", "dgcnn",
               "--subjects", "1", "--epochs", "1", "--folds", "2", "--device", "cpu",
               "--features", str(fname.parent), "--out", str(tmp_path / "sweep"), cwd=tmp_path)
    assert res.returncode != 0
    assert str(fname) in res.stderr and "input_sha256" in res.stderr and "not json" in res.stderr
    assert not (tmp_path / "sweep.json").exists()
