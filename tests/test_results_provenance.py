"""What a sweep or experiment JSON says about its inputs, checked against values computed here
(file digests, the feature parameter hash, the code version, the configuration), and a sweep
resumed through the command line's --checkpoints."""

import hashlib
import json
import re

import pytest
from conftest import TINY_MODELS

from neuroaffect import pipeline
from neuroaffect._utils import code_version
from neuroaffect.features import FeatureParams, extract_features, write_features
from neuroaffect.io import read_dataset
from neuroaffect.training import TrainConfig

PARAMS = FeatureParams(topo=False, physio=False)


@pytest.fixture(scope="module")
def feature_dir(sim_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("features")
    for rec in read_dataset("deap", sim_root("deap"), subjects=[1, 2]):
        write_features(extract_features(rec, PARAMS), out / f"{rec.subject}.nc")
    return out


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_provenance(meta, feature_files, sim_root):
    """The metadata block of a written result, against digests and hashes computed here."""
    inputs = meta["inputs"]
    assert inputs["features"] == {str(f): _sha256(f) for f in feature_files}
    assert inputs["feature_params_hash"] == [PARAMS.resolve(128.0).hash()]
    # every raw file read: each subject's recording and the ratings table
    raw = [next(sim_root("deap").rglob(f"s{int(f.stem):02d}.dat")) for f in feature_files]
    raw.append(next(sim_root("deap").rglob("participant_ratings.csv")))
    assert inputs["raw_inputs"] == {str(f): _sha256(f) for f in raw}
    # (".dirty" follows the working tree, which may change while the test runs in a shared checkout)
    assert meta["code_version"].removesuffix(".dirty") == code_version().removesuffix(".dirty")
    assert re.fullmatch(r"\S+\+g[0-9a-f]{12}(\.dirty)?", meta["code_version"]), meta["code_version"]
    # the configuration hash covers everything but the code version (and itself)
    rest = {k: v for k, v in meta.items() if k not in ("code_version", "config_hash")}
    blob = json.dumps(rest, sort_keys=True, default=str, separators=(",", ":")).encode()
    assert meta["config_hash"] == hashlib.sha256(blob).hexdigest()


@pytest.mark.slow
def test_sweep_json_records_inputs_parameters_code_and_config(feature_dir, sim_root, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=32, device="cpu")
    res = pipeline.sweep("deap", "valence", "binary", "dgcnn", features=feature_dir, n_folds=2, train_cfg=cfg,
                         model_kwargs=TINY_MODELS["dgcnn"])
    pipeline.write_result(res, tmp_path / "sweep")
    out = json.loads((tmp_path / "sweep.json").read_text())
    meta = out["metadata"]
    _check_provenance(meta, sorted(feature_dir.glob("*.nc")), sim_root)
    assert {k: meta[k] for k in ("dataset", "target", "task", "model", "protocol", "subjects", "control")} == {
        "dataset": "deap", "target": "valence", "task": "binary", "model": "dgcnn", "protocol": "trial-holdout",
        "subjects": [1, 2], "control": False}
    assert meta["train_config"] == cfg.resolved() == out["config"]["train"]
    assert out["config"]["model_kwargs"] == TINY_MODELS["dgcnn"] and out["config"]["n_folds"] == 2


def test_experiment_json_records_its_one_subject(feature_dir, sim_root, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=32, device="cpu")
    res = pipeline.experiment("deap", 2, "arousal", "binary", "dgcnn", features=feature_dir, n_folds=2,
                              train_cfg=cfg, model_kwargs=TINY_MODELS["dgcnn"])
    pipeline.write_result(res, tmp_path / "exp")
    meta = json.loads((tmp_path / "exp.json").read_text())["metadata"]
    _check_provenance(meta, [feature_dir / "2.nc"], sim_root)
    assert meta["subject"] == 2 and meta["subjects"] == [2] and meta["train_config"] == cfg.resolved()


@pytest.mark.slow
def test_cli_sweep_resumes_from_its_checkpoints(feature_dir, tmp_path, capsys):
    """`neuroaffect sweep --checkpoints DIR`: one checkpoint per group of fold models; the same
    command again resumes every fold from its finished checkpoint, records it in the JSON, and
    writes the same results."""
    from neuroaffect.cli import main

    args = ["sweep", "--dataset", "deap", "--target", "valence", "--model", "dgcnn", "--epochs", "2",
            "--folds", "2", "--device", "cpu", "--no-progress", "--features", str(feature_dir),
            "--checkpoints", str(tmp_path / "ck")]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["group-000.pt"]
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert [f["resumed_from"] for f in a["folds"]] == [None] * 4
    assert [f["resumed_from"] for f in b["folds"]] == [2] * 4
    assert a["records"] == b["records"] and a["histories"] == b["histories"]
