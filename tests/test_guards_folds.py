"""The validation split of the EEG training folds holds out whole training trials, in the documented
numbers per class, and standardisation is fitted on the fitted part only."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaffect.training import TrainConfig
from neuroaffect.training.data import WindowSet
from neuroaffect.training.folds import prepare_fold
from neuroaffect.training.protocols import Fold, LeakageReport, split_validation

N_WIN = 4  # windows per trial
# trials 0-7 class 0, 8-11 class 1 (training); 12 (class 0) and 13 (class 1) tested
CLASSES = [0] * 8 + [1] * 4 + [0, 1]


def _windows():
    trial = np.repeat(np.arange(14), N_WIN)
    rng = np.random.default_rng(0)
    X = np.zeros((trial.size, 2, 1), np.float32)
    X[:, 0, 0] = trial  # every window carries its trial's id
    X[:, 1, 0] = rng.normal(3.0, 2.0, trial.size)
    return WindowSet(X=X, y=np.repeat(CLASSES, N_WIN).astype(np.int64), trial=trial,
                     subject=np.zeros(trial.size, np.int64), session=np.zeros(trial.size, np.int64),
                     start=np.tile(np.arange(N_WIN) * 128, 14), win_len=128, ch_pos=None)


def _fold(ws):
    test = np.isin(ws.trial, [12, 13])
    leak = LeakageReport(n_test=int(test.sum()), n_overlapping=0, fraction=0.0, n_same_trial=0,
                         same_trial_fraction=0.0)
    return Fold(protocol="trial-holdout", subject=0, index=0, train_idx=np.flatnonzero(~test),
                test_idx=np.flatnonzero(test), leakage=leak)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_validation_holds_out_whole_training_trials(seed):
    ws = _windows()
    cfg = TrainConfig(patience=3, val_fraction=0.25, standardize=False, device="cpu")
    fd = prepare_fold(ws, _fold(ws), cfg, seed)
    fit_trials, val_trials = fd.X_fit[:, 0, 0].astype(int), fd.X_val[:, 0, 0].astype(int)
    assert not set(fit_trials) & set(val_trials)  # no trial on both sides
    assert set(fit_trials) | set(val_trials) == set(range(12))  # every training trial, no test trial
    for t in set(val_trials):
        assert np.sum(val_trials == t) == N_WIN  # all of its windows
    # round(0.25 * 8) = 2 trials of class 0 and round(0.25 * 4) = 1 of class 1
    val_classes = [CLASSES[t] for t in sorted(set(val_trials))]
    assert sorted(val_classes) == [0, 0, 1]
    np.testing.assert_array_equal(fd.y_val, [CLASSES[t] for t in val_trials])
    np.testing.assert_array_equal(sorted(fd.X_test[:, 0, 0].astype(int)), [12] * N_WIN + [13] * N_WIN)


def test_validation_trials_follow_the_fold_seed_and_standardisation_uses_the_fitted_part():
    ws = _windows()
    cfg = TrainConfig(patience=3, val_fraction=0.25, standardize=False, device="cpu")
    draws = {tuple(sorted(set(prepare_fold(ws, _fold(ws), cfg, s).X_val[:, 0, 0].astype(int)))) for s in range(8)}
    assert len(draws) > 1  # the fold seed picks the trials
    raw = prepare_fold(ws, _fold(ws), cfg, 5)
    z = prepare_fold(ws, _fold(ws), cfg.replace(standardize=True), 5)
    mean, std = raw.X_fit.astype(np.float64).mean(0), raw.X_fit.astype(np.float64).std(0)
    np.testing.assert_allclose(z.X_fit, (raw.X_fit - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z.X_val, (raw.X_val - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z.X_test, (raw.X_test - mean) / std, rtol=1e-5, atol=1e-5)


def test_split_validation_of_regression_targets_by_trials():
    trial = np.repeat(np.arange(10), 3)
    y = np.repeat(np.linspace(-0.9, 0.9, 10), 3).astype(np.float32)  # 5 negative, 5 non-negative trials
    fit, val = split_validation(y, trial, 0.2, seed=4)
    assert (fit ^ val).all()
    held = np.unique(trial[val])
    assert held.size == 2 and np.all(np.isin(trial, held) == val)  # round(0.2 * 5) = 1 trial per sign
    assert sorted(np.sign(y[val][::3])) == [-1.0, 1.0]


def test_split_validation_rounds_each_class_to_the_nearest_trial_count():
    # class 0: 8 trials, 0.2 * 8 = 1.6 -> 2; class 1: 3 trials, 0.6 -> 1; class 2: 2 trials, 0.4 -> 0
    ty = [0] * 8 + [1] * 3 + [2] * 2
    trial = np.repeat(np.arange(13), 2)
    y = np.repeat(ty, 2)
    for seed in range(5):
        _, val = split_validation(y, trial, 0.2, seed)
        held = np.unique(trial[val])
        assert sorted(ty[t] for t in held) == [0, 0, 1], seed
