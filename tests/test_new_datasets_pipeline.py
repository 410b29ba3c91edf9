"""SEED-V, FACED and AMIGOS in the pipeline: registration (labels, rules, schema, CLI) and, on tiny
simulated copies, features, a subject's experiment and a sweep end to end."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from neuroaffect import labels

NEW = ("faced", "amigos", "seed-v")
#: (dataset, target, task) of the end-to-end runs, one per label kind.
RUNS = {"faced": [("emotion", "multiclass", 9), ("valence", "binary", 2)],
        "amigos": [("arousal", "binary", 2)],
        "seed-v": [("emotion", "multiclass", 5)]}
SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


@pytest.mark.parametrize("dataset", NEW)
def test_registered(dataset):
    """Each dataset is a pipeline dataset: labels, rules, schema enums and CLI choices."""
    from neuroaffect.cli import build_parser
    from neuroaffect.simulate import DATASETS as SIMULATED

    assert dataset in labels.DATASETS and dataset in labels.LABEL_DATASETS and dataset in SIMULATED
    assert labels.LABEL_DATASETS.count(dataset) == 1
    for target, task, n in RUNS[dataset]:
        assert labels.check_target(dataset, target, task) == target
        assert labels.n_label_classes(dataset, task) == n
    schema = yaml.safe_load(SCHEMA.read_text())
    props = schema["properties"]
    assert dataset in props["datasets"]["items"]["enum"] and dataset in props["data"]["propertyNames"]["enum"]
    training = props["training"]["properties"]
    assert dataset in training["sweeps"]["items"]["properties"]["dataset"]["enum"]
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for cmd in ("simulate", "summarize", "features", "experiment", "sweep"):
        opt = next(a for a in sub.choices[cmd]._actions if a.dest == "dataset")
        assert list(opt.choices).count(dataset) == 1, cmd


def test_label_rules():
    """FACED: emotion codes 0-8 (multiclass), valence/arousal 0-7 (binary >= 3.5, regression); SEED-V
    codes 0-4; AMIGOS ratings 1-9."""
    np.testing.assert_array_equal(labels.make_labels([0, 4, 8], "faced", "multiclass"), [0, 4, 8])
    np.testing.assert_array_equal(labels.make_labels([0, 3, 3.5, 4, 7], "faced", "binary"), [0, 0, 1, 1, 1])
    np.testing.assert_allclose(labels.make_labels([0, 3.5, 7], "faced", "regression"), [-1, 0, 1])
    np.testing.assert_array_equal(labels.make_labels([0, 4], "seed-v", "multiclass"), [0, 4])
    np.testing.assert_array_equal(labels.make_labels([1, 4.9, 5, 9], "amigos", "binary"), [0, 0, 1, 1])
    assert labels.class_names("faced", "multiclass") == labels.FACED_CLASS_NAMES
    assert labels.class_names("seed-v", "multiclass") == labels.SEED_V_CLASS_NAMES
    with pytest.raises(ValueError, match="emotion codes 0-8"):
        labels.make_labels([9], "faced", "multiclass")
    with pytest.raises(ValueError, match=r"ratings in \[0, 7\]"):
        labels.make_labels([7.5], "faced", "binary")
    with pytest.raises(ValueError, match="codes in"):
        labels.make_labels([5], "seed-v", "multiclass")
    # a FACED rating is no class code, and its class code no rating
    with pytest.raises(ValueError, match="faced multiclass are 'emotion'"):
        labels.check_target("faced", "valence", "multiclass")
    with pytest.raises(ValueError, match="faced binary are 'valence', 'arousal'"):
        labels.check_target("faced", "emotion", "binary")
    with pytest.raises(ValueError, match="no 'multiclass' labels"):
        labels.n_label_classes("amigos", "multiclass")
    # FACED's emotion codes stay codes in the features; its ratings are scaled onto [-1, 1]
    from neuroaffect.features.extract import label_scaling

    assert label_scaling("faced", "emotion") is None
    assert label_scaling("faced", "valence") == (3.5, 3.5)


def test_amigos_long_videos_all_participants(sim_root):
    """Reading every participant's long videos skips the one who did not watch them; naming him refuses."""
    from neuroaffect._utils import DatasetFormatError
    from neuroaffect.io import iter_recordings

    root = sim_root("amigos")
    recs = list(iter_recordings("amigos", root, videos="long"))
    assert [r.subject for r in recs] == [1] and len(recs[0].eeg) == 4
    with pytest.raises(DatasetFormatError, match="at least one video with signals"):
        list(iter_recordings("amigos", root, subjects=[2], videos="long"))


def _cli(*args) -> None:
    from neuroaffect.cli import main

    assert main([str(a) for a in args]) == 0, args


@pytest.mark.slow
@pytest.mark.parametrize("dataset", NEW)
def test_features_experiment_sweep(dataset, tmp_path, capsys):
    """simulate -> features -> experiment (CLI) and pipeline.sweep on the tiny simulated copy."""
    import xarray as xr

    from neuroaffect import pipeline
    from neuroaffect.simulate import dataset_root
    from neuroaffect.training import TrainConfig

    _cli("simulate", "--dataset", dataset, "--scale", "tiny", "--out", tmp_path / "sim")
    root = dataset_root(dataset, tmp_path / "sim")
    _cli("features", "--dataset", dataset, "--root", root, "--subject", 1, "--out", tmp_path / "1.nc",
         "--no-progress")
    with xr.open_dataset(tmp_path / "1.nc") as ds:
        assert ds.attrs["dataset"] == dataset and int(ds.attrs["subject"]) == 1
        for target, _, _ in RUNS[dataset]:
            assert target in ds.coords
    for target, task, n in RUNS[dataset]:
        out = tmp_path / f"exp_{target}"
        _cli("experiment", "--dataset", dataset, "--subject", 1, "--target", target, "--task", task,
             "--model", "dgcnn", "--epochs", 1, "--folds", 2, "--device", "cpu", "--root", root, "--out", out)
        card = json.loads(out.with_suffix(".json").read_text())
        assert card["subject"] == 1 and card["metadata"]["dataset"] == dataset
        assert np.asarray(card["confusion"]).shape == (n, n)
    capsys.readouterr()
    target, task, n = RUNS[dataset][0]
    result = pipeline.sweep(dataset, target, task, "dgcnn", root=root, n_folds=2,
                            train_cfg=TrainConfig.for_protocol("trial-holdout", epochs=1, device="cpu"))
    assert result.metadata["dataset"] == dataset and result.metadata["subjects"] == [1, 2]
    assert result.n_classes == n and len(result.folds) == 4
    if dataset == "faced":  # a FACED target with the wrong task is refused before training, not trained on
        with pytest.raises(ValueError, match="faced binary are 'valence', 'arousal'"):
            pipeline.sweep(dataset, "emotion", "binary", "dgcnn", root=root, n_folds=2,
                           train_cfg=TrainConfig.for_protocol("trial-holdout", epochs=1, device="cpu"))


def test_config_check_refuses_a_faced_target_with_the_wrong_task():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    from neuroaffect_workflow.config import ConfigError, check_config

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
    cfg["training"]["sweeps"] = [{"dataset": "faced", "target": "emotion", "task": "binary", "model": "dgcnn",
                                  "protocol": "trial-holdout"}]
    cfg["datasets"] = [*cfg["datasets"], "faced"]
    with pytest.raises(ConfigError, match="faced binary are 'valence', 'arousal'"):
        check_config(cfg)
