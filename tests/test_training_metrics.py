"""Trial-level pooling and metrics against values worked out by hand in this file."""

import numpy as np
import pytest

from neuroaffect.training import average_trials, ccc, chance_metrics, classification_metrics, vote_trials
from neuroaffect.training.metrics import regression_metrics


def test_vote_trials_by_hand():
    # trial 5: votes 1, 1, 0 -> 1;  trial 2: votes 2, 2, 0, 1 -> 2;  trial 9: one vote each for 0 and 2
    # (a tie: the smaller class, 0);  trial 7: 1, 1 -> 1. Trials come back sorted.
    trial = [5, 5, 5, 2, 2, 2, 2, 9, 9, 7, 7]
    y_true = [1, 1, 1, 0, 0, 0, 0, 2, 2, 1, 1]
    y_pred = [1, 1, 0, 2, 2, 0, 1, 2, 0, 1, 1]
    trials, yt, yp = vote_trials(trial, y_true, y_pred, 3)
    np.testing.assert_array_equal(trials, [2, 5, 7, 9])
    np.testing.assert_array_equal(yt, [0, 1, 1, 2])
    np.testing.assert_array_equal(yp, [2, 1, 1, 0])
    assert yp.dtype == np.int64
    # a class nobody voted for is never the winner, even with many classes
    _, _, yp = vote_trials([0, 0, 0], [4, 4, 4], [4, 3, 4], 9)
    np.testing.assert_array_equal(yp, [4])


def test_average_trials_by_hand():
    trials, yt, yp = average_trials([3, 1, 3, 1, 1], [0.5, -1.0, 0.5, -1.0, -1.0], [0.2, -0.3, 0.4, 0.0, -0.6])
    np.testing.assert_array_equal(trials, [1, 3])
    np.testing.assert_allclose(yt, [-1.0, 0.5])
    np.testing.assert_allclose(yp, [-0.3, 0.3])
    _, _, yp2 = average_trials([0, 0, 1], np.zeros((3, 2)), [[1.0, 2.0], [3.0, 6.0], [5.0, 5.0]])
    np.testing.assert_allclose(yp2, [[2.0, 4.0], [5.0, 5.0]])


def test_classification_and_chance_metrics_by_hand():
    m = classification_metrics([0, 0, 0, 1], [0, 0, 1, 1])
    assert m["accuracy"] == 0.75
    # recalls 2/3 and 1 -> balanced 5/6; F1: class 0 p=1 r=2/3 -> 0.8, class 1 p=1/2 r=1 -> 2/3
    assert m["balanced_accuracy"] == pytest.approx(5 / 6)
    assert m["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    c = chance_metrics([0, 0, 0, 1], 2)  # p = (3/4, 1/4): 2p / (2p + 1) = 0.6 and 1/3
    assert c["accuracy"] == 0.5 and c["balanced_accuracy"] == 0.5
    assert c["macro_f1"] == pytest.approx((0.6 + 1 / 3) / 2)


def test_regression_metrics_by_hand():
    t, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 3.0, 4.0, 5.0])  # shifted by one
    r = regression_metrics(t, p)
    assert r["rmse"] == 1.0 and r["pearson_r"] == pytest.approx(1.0)
    # ccc = 2 cov / (var t + var p + 1) = 2 * 1.25 / (1.25 + 1.25 + 1)
    assert r["ccc"] == pytest.approx(2.5 / 3.5) == ccc(t, p)
    assert regression_metrics(t, np.full(4, 2.5))["pearson_r"] == 0.0


def test_kappa_weighted_f1_and_auroc_by_hand():
    from sklearn.metrics import cohen_kappa_score, roc_auc_score

    # y_true 0 0 0 1, y_pred 0 0 1 1: p_o = 3/4; marginals true (3/4, 1/4), pred (1/2, 1/2): p_e = 1/2
    # kappa = (3/4 - 1/2) / (1 - 1/2) = 1/2; weighted F1 = 3/4 * 0.8 + 1/4 * 2/3 = 0.7666...
    scores = [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]]
    m = classification_metrics([0, 0, 0, 1], [0, 0, 1, 1], scores=scores)
    assert m["cohen_kappa"] == pytest.approx(0.5) == cohen_kappa_score([0, 0, 0, 1], [0, 0, 1, 1])
    assert m["weighted_f1"] == pytest.approx(0.75 * 0.8 + 0.25 * 2 / 3)
    # positive-class scores 0.1 0.4 0.7 | 0.8: the one positive outranks all three negatives
    assert m["auroc"] == 1.0 and "auroc_note" not in m
    # existing figures unchanged and first, the new ones after them
    assert list(m)[:6] == ["accuracy", "macro_f1", "balanced_accuracy", "cohen_kappa", "weighted_f1", "auroc"]
    assert "auroc" not in classification_metrics([0, 1], [0, 1])  # no scores, no AUROC
    # a swapped pair: positives 0.4 | negatives 0.1 0.6 0.3 -> 2 of 3 pairs ranked right
    assert classification_metrics([0, 1, 0, 0], [0, 0, 0, 0], scores=[[.9, .1], [.6, .4], [.4, .6], [.7, .3]])[
        "auroc"] == pytest.approx(2 / 3)
    # three classes, one-vs-rest macro: each class's scores against the rest, averaged
    y = np.array([0, 1, 2, 0, 1, 2])
    s = np.array([[.6, .3, .1], [.2, .5, .3], [.1, .2, .7], [.3, .4, .3], [.5, .3, .2], [.2, .2, .6]])
    by_class = [roc_auc_score(y == k, s[:, k]) for k in range(3)]
    assert classification_metrics(y, s.argmax(1), scores=s)["auroc"] == pytest.approx(np.mean(by_class))


def test_auroc_is_nan_with_a_reason_when_undefined():
    from neuroaffect.training.metrics import auroc

    s = np.full((3, 3), 1 / 3)
    value, note = auroc([0, 1, 1], s, 3)
    assert np.isnan(value) and note == "test set lacks class(es) [2]"
    value, note = auroc([0, 1], np.ones((2, 3)) / 3, 2)
    assert np.isnan(value) and "shape (2, 3)" in note
    # constant scores (the majority row's training frequencies): 0.5, binary and one-vs-rest
    assert auroc([0, 1, 1, 0], np.tile([0.7, 0.3], (4, 1)), 2) == (0.5, "")
    assert auroc([0, 1, 2], s, 3) == (0.5, "")
    m = classification_metrics([1, 1], [1, 1], scores=[[0.2, 0.8], [0.3, 0.7]])
    assert np.isnan(m["auroc"]) and m["auroc_note"] == "test set lacks class(es) [0]"
    assert np.isnan(m["cohen_kappa"])  # one and the same class on both sides: undefined


def test_chance_row_gets_analytic_kappa_weighted_f1_and_auroc():
    c = chance_metrics([0, 0, 0, 1], 2)  # p = (3/4, 1/4); per-class F1 0.6 and 1/3
    assert c["cohen_kappa"] == 0.0 and c["auroc"] == 0.5 and "auroc_note" not in c
    assert c["weighted_f1"] == pytest.approx(0.75 * 0.6 + 0.25 / 3)
    c3 = chance_metrics([0, 0, 1], 3)
    assert np.isnan(c3["auroc"]) and c3["auroc_note"] == "test set lacks class(es) [2]"


def test_auroc_tolerates_float32_rounding_and_refuses_non_finite_scores():
    from neuroaffect.training.metrics import auroc

    s = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]], np.float32) * np.float32(1.001)
    assert auroc([0, 1, 2], s, 3) == (1.0, "")  # rows summing to 1.001 are scaled, not refused
    s[0, 0] = np.nan
    value, note = auroc([0, 1, 2], s, 3)
    assert np.isnan(value) and note == "non-finite class scores"
