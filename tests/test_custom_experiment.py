"""A user's own recordings and labels through windows, pipeline.experiment and `neuroaffect experiment`.

Each test here failed before custom datasets existed: only the five dataset names were accepted,
custom labels were dropped, hand-built datasets gave bare KeyErrors, written hand-built features
were refused on reading, and pipeline.experiment refused in-memory datasets.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neuroaffect import pipeline
from neuroaffect._utils import DatasetFormatError
from neuroaffect.cli import main
from neuroaffect.features import extract_features, read_features, write_features
from neuroaffect.io import read_custom
from neuroaffect.training.inputs import windows_from_features

DATA = Path(__file__).resolve().parent / "data" / "real"
FAST = ["--model", "dgcnn", "--epochs", "2", "--batch-size", "64", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def eyes_features():
    (rec,) = read_custom(DATA / "eegmmidb")
    return rec, extract_features(rec, {"physio": False, "topo": False})


def test_custom_labels_become_targets_by_their_own_rule(eyes_features):
    rec, ds = eyes_features
    w = windows_from_features(ds, "eyes", "binary")
    # 3-s trials, 1-s windows: 3 windows per trial; class codes as the table gives them (closed 0, open 1)
    codes = {"open": 1, "closed": 0}
    import csv

    table = list(csv.DictReader(open(DATA / "eegmmidb" / "labels.csv")))
    np.testing.assert_array_equal(w.y, np.repeat([codes[r["eyes"]] for r in table], 3))
    assert w.n_outputs == 2
    with pytest.raises(ValueError, match="'eyes' holds classes.*no regression target"):
        windows_from_features(ds, "eyes", "regression")
    # a rated label with its scale: binary at the centre, regression normalised, multiclass on its integers
    rated = ds.assign_coords(score=("trial", np.arange(20) % 5 + 1.0))
    rated.attrs.update(label_names=json.dumps(["eyes", "score"]), label_range=json.dumps({"score": [1, 5]}))
    score = np.repeat(np.arange(20) % 5 + 1.0, 3)
    np.testing.assert_array_equal(windows_from_features(rated, "score", "binary").y, (score >= 3).astype(int))
    np.testing.assert_allclose(windows_from_features(rated, "score", "regression").y, (score - 3) / 2)
    np.testing.assert_array_equal(windows_from_features(rated, "score", "multiclass").y, score - 1)
    no_scale = ds.assign_coords(other=("trial", np.ones(20)))
    with pytest.raises(ValueError, match="Label 'other': expected either a rating scale"):
        windows_from_features(no_scale, "other", "binary")


def test_hand_built_dataset_gives_named_errors_not_key_errors(eyes_features):
    _, ds = eyes_features
    bare = ds.drop_vars(["n_windows"])
    bare.attrs.pop("subject")
    with pytest.raises(DatasetFormatError, match=r"in-memory dataset.*no variable 'n_windows'.*attribute 'subject'"):
        windows_from_features(bare, "eyes", "binary")


def test_hand_built_features_written_are_read_back(eyes_features, tmp_path):
    _, ds = eyes_features
    hand = xr.Dataset({v: ds[v] for v in ("bde", "n_windows", "ch_pos")},
                      attrs={k: ds.attrs[k] for k in ("dataset", "subject", "label_names", "label_classes",
                                                       "label_range", "label_scaling")})
    back = read_features(write_features(hand, tmp_path / "hand.nc"))
    assert back.attrs["window"] == 160 and back.attrs["stride"] == 160  # from win_start's attributes
    assert back.attrs["input_sha256"] == "{}" and "outside" in back.attrs["params_hash"]
    np.testing.assert_array_equal(windows_from_features(back, "eyes", "binary").y,
                                  windows_from_features(ds, "eyes", "binary").y)


@pytest.mark.slow
def test_pipeline_experiment_takes_custom_roots_and_in_memory_datasets(eyes_features):
    from neuroaffect.training import TrainConfig

    cfg = TrainConfig(epochs=2, batch_size=64, device="cpu")
    res = pipeline.experiment("custom", 1, "eyes", "binary", "dgcnn", root=DATA / "eegmmidb", train_cfg=cfg,
                              n_folds=5)
    assert res.metadata["dataset"] == "custom" and "real data" in res.metadata["source"]
    _, ds = eyes_features
    again = pipeline.experiment(ds, 1, "eyes", "binary", "dgcnn", train_cfg=cfg, n_folds=5)
    assert again.metadata["dataset"] == "custom" and "in-memory" in again.metadata["source"]
    assert again.n_folds == res.n_folds == 5


@pytest.mark.slow
def test_cli_experiment_on_edf_and_eeglab(tmp_path, capsys):
    out = tmp_path / "edf"
    assert main(["experiment", "--dataset", "custom", "--root", str(DATA / "eegmmidb"), "--target", "eyes",
                 "--subject", "1", "--out", str(out), *FAST]) == 0
    text = capsys.readouterr().out
    assert "custom from" in text and "(real data)" in text and "10 folds" in text
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["metadata"]["dataset"] == "custom" and res["n_folds"] == 10
    # EEGLAB: 14 trials, 'position' 5 x 1 and 9 x 2 -> 5 folds (the smallest class), each testing both
    out = tmp_path / "set"
    with pytest.warns(UserWarning, match="5 folds instead of 10"):
        assert main(["experiment", "--dataset", "custom", "--root", str(DATA / "eeglab"), "--target", "position",
                     "--classes", "position", "--subject", "1", "--out", str(out), *FAST]) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["n_folds"] == 5
    # a constant (majority) prediction scores exactly 50 % balanced accuracy on a test fold holding both
    # classes (100 % or 0 % on a one-class fold, as the round-robin split used to give)
    majority = [r for r in res["records"] if r["model"] == "majority" and r["level"] == "trial"]
    assert len(majority) == 5 and all(r["balanced_accuracy"] == 0.5 for r in majority)
    # options of the custom reader are refused for the other datasets, naming them
    assert main(["experiment", "--dataset", "deap", "--root", str(tmp_path), "--subject", "1", "--rating",
                 "valence=1:9", *FAST]) == 2
    assert "--rating apply to --dataset custom only" in capsys.readouterr().err
    assert main(["experiment", "--dataset", "custom", "--root", str(tmp_path), "--subject", "1", "--target", "x",
                 *FAST]) == 2
    assert "labels.csv: expected a labels table" in capsys.readouterr().err


@pytest.mark.slow
def test_workflow_plans_a_custom_dataset(tmp_path):
    """data.custom in the config: the workflow reads, summarises, extracts and sweeps it like another dataset,
    every reader option passed quoted on the command line."""
    import subprocess
    import sys

    import yaml

    root = Path(__file__).resolve().parent.parent
    cfg = yaml.safe_load((root / "config/config.yaml").read_text())
    cfg["datasets"] = ["custom"]
    cfg["data"] = {"custom": {"root": str(DATA / "eegmmidb"), "classes": {"eyes": ["closed", "open"]},
                              "channels": {"Chan 1": "Cz"}, "exclude": ["Iz.."], "bad_samples": "repair"}}
    cfg["training"]["sweeps"] = [{"dataset": "custom", "target": "eyes", "task": "binary", "model": "dgcnn",
                                  "protocol": "trial-holdout"}]
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    bin_ = Path(sys.executable).parent
    res = subprocess.run([str(bin_ / "snakemake"), "-s", str(root / "Snakefile"), "--directory", str(tmp_path),
                          "--cores", "1", "-n", "-p"], capture_output=True, text=True, timeout=900,
                         env={"PATH": f"{bin_}:/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg"})
    assert res.returncode == 0, res.stderr + res.stdout
    features = next(ln for ln in res.stdout.splitlines() if "neuroaffect features --dataset custom" in ln)
    assert "--classes eyes=closed,open" in features and "--channel 'Chan 1=Cz'" in features
    assert "--bad-samples repair" in features and "--subject 1" in features and "--exclude Iz.." in features
    assert "neuroaffect summarize --dataset custom" in res.stdout and "run_sweep" in res.stdout
    # custom without its root is refused before any job, naming the key
    cfg["data"] = {}
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = subprocess.run([str(bin_ / "snakemake"), "-s", str(root / "Snakefile"), "--directory", str(tmp_path),
                          "--cores", "1", "-n"], capture_output=True, text=True, timeout=900,
                         env={"PATH": f"{bin_}:/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg"})
    assert res.returncode != 0 and "needs data.custom.root" in res.stdout + res.stderr
