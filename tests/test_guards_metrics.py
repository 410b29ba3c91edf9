"""Regression metrics away from r = 1 and constant predictions, trial means before metrics, and the
regression path of the fold records; expected values by hand (and scipy's pearsonr as a check)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import pearsonr

from neuroaffect.training.metrics import average_trials, ccc, regression_metrics

T = [1.0, 2.0, 3.0, 4.0]
P = [2.0, 1.0, 4.0, 3.0]  # deviations from the means (2.5): t -1.5 -.5 .5 1.5, p -.5 -1.5 1.5 .5


@pytest.mark.parametrize("pred, rmse, r, c", [
    # errors -1 1 -1 1; cov = 3/4, var t = var p = 5/4: r = 0.6, CCC = 1.5 / 2.5 = 0.6
    (P, 1.0, 0.6, 0.6),
    # shifted by one: errors -2 0 -2 0; r unchanged; CCC = 1.5 / (2.5 + 1) = 3/7
    ([x + 1 for x in P], math.sqrt(2.0), 0.6, 3 / 7),
    # doubled: errors 3 0 5 2; mean 5, var 5, cov 1.5; CCC = 3 / (1.25 + 5 + 6.25) = 0.24
    ([2 * x for x in P], math.sqrt(9.5), 0.6, 0.24),
    # reversed: r = CCC = -1 (cov -5/4), errors -3 -1 1 3
    ([4.0, 3.0, 2.0, 1.0], math.sqrt(5.0), -1.0, -1.0),
])
def test_regression_metrics_by_hand(pred, rmse, r, c):
    m = regression_metrics(T, pred)
    assert m["rmse"] == pytest.approx(rmse) and m["pearson_r"] == pytest.approx(r) and m["ccc"] == pytest.approx(c)
    assert m["pearson_r"] == pytest.approx(pearsonr(T, pred)[0])
    assert ccc(T, pred) == pytest.approx(c)


def test_regression_metrics_on_two_targets_pool_them():
    t = np.array([[1.0, 0.0], [2.0, 1.0]])
    p = np.array([[2.0, 0.0], [1.0, 3.0]])
    # pooled: t 1 0 2 1, p 2 0 1 3; errors -1 0 1 -2 -> rmse sqrt(6/4)
    m = regression_metrics(t, p)
    assert m["rmse"] == pytest.approx(math.sqrt(1.5))
    assert m["pearson_r"] == pytest.approx(pearsonr([1, 0, 2, 1], [2, 0, 1, 3])[0])


def test_trial_level_regression_averages_each_trials_windows_first():
    trial = [5, 5, 5, 2, 2, 7]
    y_true = [0.5, 0.5, 0.5, -0.2, -0.2, 0.9]
    y_pred = [0.1, 0.2, 0.6, 0.0, -0.4, 0.3]
    trials, yt, yp = average_trials(trial, y_true, y_pred)
    assert trials.tolist() == [2, 5, 7]
    np.testing.assert_allclose(yt, [-0.2, 0.5, 0.9])
    np.testing.assert_allclose(yp, [-0.2, 0.3, 0.3])  # (0 - 0.4) / 2, (0.1 + 0.2 + 0.6) / 3, 0.3
    # two targets: each column averaged on its own
    two = np.c_[y_pred, np.arange(6.0)]
    _, _, yp2 = average_trials(trial, np.c_[y_true, y_true], two)
    np.testing.assert_allclose(yp2, [[-0.2, 3.5], [0.3, 1.0], [0.3, 5.0]])


def _fold(test_idx, subject=3):
    from neuroaffect.training.protocols import Fold, LeakageReport

    leak = LeakageReport(n_test=len(test_idx), n_overlapping=0, fraction=0.0, n_same_trial=0, same_trial_fraction=0.0)
    return Fold(protocol="trial-holdout", subject=subject, index=1, train_idx=np.arange(0), test_idx=np.asarray(test_idx),
                leakage=leak)


def test_fold_records_regression_rows_window_and_trial_level():
    from neuroaffect.training.results import FoldPrediction, fold_records

    trial = np.array([5, 5, 5, 2, 2, 7])
    y_true = np.array([0.5, 0.5, 0.5, -0.2, -0.2, 0.9], np.float32)
    net = np.array([0.1, 0.2, 0.6, 0.0, -0.4, 0.3], np.float32)
    mean = np.full(6, 0.25, np.float32)
    pred = FoldPrediction(subject=3, fold=1, test_idx=np.arange(6), y_true=y_true, proba=net[:, None],
                          y_pred={"net": net, "mean": mean})
    rows = fold_records(_fold(np.arange(6)), pred, trial, None, True, "net", {"epochs": 4})
    assert [(r["model"], r["level"]) for r in rows] == [("net", "window"), ("mean", "window"), ("net", "trial"),
                                                         ("mean", "trial")]  # no chance row for regression
    win, trl = rows[0], rows[2]
    # window level: errors 0.4 0.3 -0.1 -0.2 0.2 0.6
    assert win["rmse"] == pytest.approx(math.sqrt((0.16 + 0.09 + 0.01 + 0.04 + 0.04 + 0.36) / 6), rel=1e-6)
    # trial level on trial means: targets -0.2 0.5 0.9, predictions -0.2 0.3 0.3; errors 0 0.2 0.6
    assert trl["rmse"] == pytest.approx(math.sqrt((0.04 + 0.36) / 3), rel=1e-6)
    assert trl["pearson_r"] == pytest.approx(pearsonr([-0.2, 0.5, 0.9], [-0.2, 0.3, 0.3])[0], rel=1e-6)
    # CCC by hand: t mean 0.4, p mean 2/15; population moments
    t, p = np.array([-0.2, 0.5, 0.9]), np.array([-0.2, 0.3, 0.3])
    c = 2 * np.mean((t - t.mean()) * (p - p.mean())) / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)
    assert trl["ccc"] == pytest.approx(c, rel=1e-6)
    assert win["epochs"] == trl["epochs"] == 4 and "epochs" not in rows[1]  # extra goes on the model's rows only
    assert rows[1]["pearson_r"] == 0.0 and rows[3]["rmse"] == pytest.approx(math.sqrt(np.mean((t - 0.25) ** 2)))
    assert all(r["subject"] == 3 and r["fold"] == 1 and r["n_test"] == 6 for r in rows)


def test_fold_records_classification_auroc_per_level_and_row():
    from neuroaffect.training.results import FoldPrediction, fold_records

    # trials 5 (class 1, three windows), 2 (class 0, two windows), 7 (class 0, one window)
    trial = np.array([5, 5, 5, 2, 2, 7])
    y_true = np.array([1, 1, 1, 0, 0, 0])
    p1 = np.array([0.9, 0.2, 0.4, 0.3, 0.5, 0.35], np.float32)  # the net's class-1 probability
    net = np.c_[1 - p1, p1]
    maj = np.tile([0.5, 0.5], (6, 1)).astype(np.float32)
    pred = FoldPrediction(subject=3, fold=1, test_idx=np.arange(6), y_true=y_true, proba=net,
                          y_pred={"net": (p1 > 0.5).astype(np.int64), "majority": np.zeros(6, np.int64),
                                  "logistic": np.zeros(6, np.int64)},
                          scores={"net": net, "majority": maj})
    rows = fold_records(_fold(np.arange(6)), pred, trial, 2, True, "net", {})
    by = {(r["model"], r["level"]): r for r in rows}
    # window level: positives 0.9 0.2 0.4 against negatives 0.3 0.5 0.35: pairs won 3 + 0 + 2 = 5 of 9
    assert by["net", "window"]["auroc"] == pytest.approx(5 / 9)
    # trial level: mean window scores, trial 5 -> 0.5 against trial 2 -> 0.4 and trial 7 -> 0.35: 2 of 2
    assert by["net", "trial"]["auroc"] == pytest.approx(1.0)
    assert by["majority", "window"]["auroc"] == 0.5 and by["majority", "trial"]["auroc"] == 0.5
    assert by["majority", "window"]["cohen_kappa"] == 0.0  # a constant prediction agrees only by chance
    assert np.isnan(by["logistic", "window"]["auroc"]) and by["logistic", "window"]["auroc_note"] == "no class scores"
    assert by["chance", "window"]["auroc"] == 0.5 and by["chance", "trial"]["cohen_kappa"] == 0.0
    # trial votes: trial 5 votes 1 0 0 -> 0, so every trial is predicted 0: kappa 0, weighted F1 by hand
    assert by["net", "trial"]["cohen_kappa"] == 0.0
    assert by["net", "trial"]["weighted_f1"] == pytest.approx(2 / 3 * 0.8)  # class 0: p 2/3, r 1 -> F1 0.8
