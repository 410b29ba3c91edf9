"""Cross-session and cross-dataset protocols: folds, shared channels, parameter checks, a tiny run."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaffect.training import make_folds, make_synthetic_windows
from neuroaffect.training.transfer import merge_cross_dataset, shared_channels
from neuroaffect.channels import DEAP_EEG_CH_NAMES, DREAMER_CH_NAMES


def test_cross_session_trains_on_earlier_sessions_and_tests_the_last():
    ws = make_synthetic_windows(n_subjects=2, n_trials=4, n_windows=3, n_sessions=3)
    folds = make_folds(ws, "cross-session")
    assert [f.subject for f in folds] == [1, 2]
    for f in folds:
        assert f.session == 2
        assert set(ws.session[f.test_idx].tolist()) == {2}
        assert set(ws.session[f.train_idx].tolist()) == {0, 1}
        assert set(ws.subject[f.train_idx].tolist()) == set(ws.subject[f.test_idx].tolist()) == {f.subject}
        assert not set(ws.trial[f.train_idx].tolist()) & set(ws.trial[f.test_idx].tolist())
        assert f.leakage.fraction == 0.0 and f.leakage.same_trial_fraction == 0.0
        # every window of the subject is on one side
        assert f.train_idx.size + f.test_idx.size == int((ws.subject == f.subject).sum())


def test_cross_session_refuses_a_single_session():
    ws = make_synthetic_windows(n_subjects=1, n_trials=4, n_windows=2, n_sessions=1)
    with pytest.raises(ValueError, match="at least 2 sessions"):
        make_folds(ws, "cross-session")


def test_shared_channels_keep_the_source_order():
    shared = shared_channels(DEAP_EEG_CH_NAMES, DREAMER_CH_NAMES)
    assert sorted(shared) == sorted(DREAMER_CH_NAMES) and len(shared) == 14
    assert shared == [c for c in DEAP_EEG_CH_NAMES if c in DREAMER_CH_NAMES]
    assert shared_channels(["Fp1", "Cz", "O1"], ["oz", "FP1", "O1 "]) == ["Fp1", "O1"]
    with pytest.raises(ValueError, match="share no channel"):
        shared_channels(["Cz"], ["Pz"])


def test_merge_cross_dataset_gives_one_pooled_fold_without_shared_ids():
    src = make_synthetic_windows(n_subjects=3, n_trials=4, n_windows=2, n_chans=5, seed=0)
    tgt = make_synthetic_windows(n_subjects=2, n_trials=4, n_windows=2, n_chans=5, seed=1)
    ws, target_subjects = merge_cross_dataset(src, tgt)
    assert target_subjects.tolist() == [1001, 1002]
    (fold,) = make_folds(ws, "cross-dataset", subjects=target_subjects)
    assert fold.subject == -1 and fold.name == "pooled_fold-00"
    np.testing.assert_array_equal(fold.train_idx, np.arange(src.n_windows))
    np.testing.assert_array_equal(fold.test_idx, src.n_windows + np.arange(tgt.n_windows))
    assert fold.leakage.same_trial_fraction == 0.0
    np.testing.assert_array_equal(ws.X[fold.test_idx], tgt.X)
    with pytest.raises(ValueError, match="needs the 'subjects' parameter"):
        make_folds(ws, "cross-dataset")
    other = make_synthetic_windows(n_subjects=1, n_trials=4, n_windows=2, n_chans=6)
    with pytest.raises(ValueError, match="input shape"):
        merge_cross_dataset(src, other)


def _fake_features(params_json: str, params_hash: str, sfreq: float = 128.0):
    import xarray as xr

    return xr.Dataset(attrs={"params_json": params_json, "params_hash": params_hash, "sfreq": sfreq})


def test_different_feature_parameters_are_refused_naming_both():
    from neuroaffect.pipeline.transfer import check_same_params

    a = _fake_features('{"window": 128, "mode": "filter"}', "a" * 64)
    b = _fake_features('{"window": 256, "mode": "filter"}', "b" * 64)
    assert check_same_params([a, a], [a], "deap", "dreamer") == "a" * 64
    with pytest.raises(ValueError, match=r"deap's are aaaaaaaaaaaa and dreamer's bbbbbbbbbbbb.*window: deap 128, "
                                         r"dreamer 256"):
        check_same_params([a], [b], "deap", "dreamer")
    with pytest.raises(ValueError, match="deap is at 128 Hz and dreamer at 256 Hz"):
        check_same_params([a], [_fake_features('{"window": 128, "mode": "filter"}', "a" * 64, 256.0)],
                          "deap", "dreamer")
    with pytest.raises(ValueError, match="share one parameter set"):
        check_same_params([a, b], [a], "deap", "dreamer")


def test_one_dataset_calls_refuse_cross_dataset():
    from neuroaffect import pipeline

    with pytest.raises(ValueError, match="pipeline.cross_dataset"):
        pipeline.sweep("deap", "valence", "binary", "dgcnn", protocol="cross-dataset", root="nowhere")


@pytest.mark.slow
def test_tiny_deap_to_dreamer_run(sim_root, tmp_path):
    from neuroaffect import pipeline
    from neuroaffect.training import TrainConfig

    params = {"window": 128, "stride": 128, "topo": False, "physio": False}
    res = pipeline.cross_dataset("deap", "dreamer", "valence", "binary", "dgcnn", source_root=sim_root("deap"),
                                 target_root=sim_root("dreamer"), feature_params=params,
                                 train_cfg=TrainConfig(epochs=1), control=True)
    meta = res.metadata
    assert meta["dataset"] == "deap->dreamer" and meta["protocol"] == "cross-dataset"
    assert sorted(meta["ch_names"]) == sorted(DREAMER_CH_NAMES)
    assert meta["target_subjects"] and all(1 <= s < 1000 for s in meta["target_subjects"])
    (fold,) = res.folds
    assert fold["trial_overlap"] == 0.0 and fold["sample_overlap"] == 0.0
    rows = set(res.to_frame("window")["model"])
    assert {"dgcnn", "majority", "logistic", "chance", "dgcnn (shuffled labels)"} <= rows
    files = pipeline.write_result(res, tmp_path / "deap-dreamer")
    assert all(f.exists() for f in files)
    md = (tmp_path / "deap-dreamer.md").read_text()
    assert md.startswith("# Cross-dataset: deap -> dreamer") and "Per target subject" in md
    assert {r["subject"] for r in meta["per_target_subject"]} == set(meta["target_subjects"])


def test_transfer_markdown_states_channels_pooling_and_leakage():
    from neuroaffect.report import transfer_markdown

    class Stub:  # the fields of a cross-dataset SweepResult the table reads (a real one: the slow test)
        metadata = {"source_dataset": "deap", "target_dataset": "dreamer", "target": "valence", "task": "binary",
                    "model": "dgcnn", "ch_names": ["AF3", "F3"], "feature_params_hash": "ab" * 32,
                    "n_source_windows": 24, "n_target_windows": 24, "target_subjects": [1, 2],
                    "per_target_subject": [{"subject": s, "model": "dgcnn", "level": "window", "n": 12,
                                            "accuracy": a, "balanced_accuracy": a} for s, a in ((1, 0.5), (2, 0.7))]}
        folds = [{"trial_overlap": 0.0, "sample_overlap": 0.0}]

        def to_frame(self, level):
            import pandas as pd

            if level != "window":
                return pd.DataFrame()
            return pd.DataFrame([{"model": "dgcnn", "accuracy": 0.6, "macro_f1": 0.6, "balanced_accuracy": 0.6,
                                  "n_test": 24}])

    md = transfer_markdown(Stub())
    assert "deap -> dreamer" in md and "AF3, F3" in md and "pooled" in md
    assert "| dgcnn | 60.0 ± 14.1 | 60.0 ± 14.1 | 2 |" in md  # sample sd (ddof 1) of 0.5 and 0.7
    assert "| dgcnn | 60.0 | 60.0 | 60.0 | - | - | - | 24 |" in md  # metrics the frame lacks are left blank
    assert "trial overlap" in md and "trial level" not in md


def test_command_line_offers_cross_session_to_sweeps_and_cross_dataset_as_its_own_command():
    from neuroaffect.cli import build_parser

    args = build_parser("sweep").parse_args(["sweep", "--dataset", "seed", "--protocol", "cross-session",
                                             "--out", "x"])
    assert args.protocol == "cross-session"
    with pytest.raises(SystemExit):
        build_parser("sweep").parse_args(["sweep", "--dataset", "deap", "--protocol", "cross-dataset", "--out", "x"])
    args = build_parser("cross-dataset").parse_args(["cross-dataset", "--source", "deap", "--target", "dreamer",
                                                     "--out", "x"])
    assert (args.source, args.target, args.label, args.protocol) == ("deap", "dreamer", "valence", "cross-dataset")
