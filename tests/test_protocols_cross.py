"""Cross-session and cross-dataset protocols: folds, shared channels, parameter checks, a tiny run."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaffect.training import make_folds, make_synthetic_windows
from neuroaffect.training.protocols import merge_cross_dataset, shared_channels
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
