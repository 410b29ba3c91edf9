"""The teacher's error (neuroaffect.prototypes.teacher_eval): pooled out-of-fold r and CCC against hand-computed
cases, ddof=1 over subjects, Holm across the table, the cluster bootstrap, ridge on trial-grouped inner folds, and
the fold models' agreement with run_sweep; the report's tables and the line on the mean predictor."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from neuroaffect.prototypes.teacher_eval import (
    cluster_bootstrap_ci, cv_table, fold_model_predictions, pooled_subject_metrics, ridge_predict,
)

# Two subjects, four trials of one window each; the folds hold trials (0, 1) and (2, 3).
Y = np.array([0.0, 1.0, 2.0, 3.0] * 2)
P = np.array([0.0, 1.0, 1.0, 2.0,     # subject 1: r = 1 within each fold
              1.0, 0.0, 3.0, 2.0])    # subject 2: r = -1 within each fold
SUBJECT = np.repeat([1, 2], 4)
TRIAL = np.arange(8)


def test_pooled_oof_r_is_computed_over_the_subjects_pooled_predictions():
    """Per fold, r is +1 (subject 1) and -1 (subject 2): its mean over folds and subjects is 0. Pooled per
    subject: subject 1, cov 3/4, var 5/4 and 2/4: r = 3 / sqrt(10); subject 2, cov 3/4, var 5/4 and 5/4: r = 0.6.
    CCC of subject 1: 2 * 0.75 / (1.25 + 0.5 + (1.5 - 1) ** 2) = 0.75; RMSE sqrt(2 / 4)."""
    m = pooled_subject_metrics(Y, P, SUBJECT, TRIAL)
    assert m[1]["pearson_r"] == pytest.approx(3 / np.sqrt(10))
    assert m[2]["pearson_r"] == pytest.approx(0.6)
    assert m[1]["ccc"] == pytest.approx(0.75)
    assert m[1]["rmse"] == pytest.approx(np.sqrt(0.5))
    per_fold = [np.corrcoef(Y[i:i + 2], P[i:i + 2])[0, 1] for i in range(0, 8, 2)]
    assert np.mean(per_fold) == pytest.approx(0.0)  # the estimator it replaces


def test_trial_level_averages_each_trials_windows_first():
    # subject 1 of the case above with two windows per trial whose predictions average to P
    y = np.repeat(Y[:4], 2)
    p = np.repeat(P[:4], 2) + np.tile([-0.5, 0.5], 4)
    trial = np.repeat(np.arange(4), 2)
    m = pooled_subject_metrics(y, p, np.ones(8, int), trial, level="trial")
    assert m[1]["pearson_r"] == pytest.approx(3 / np.sqrt(10))
    w = pooled_subject_metrics(y, p, np.ones(8, int), trial, level="window")
    assert w[1]["rmse"] == pytest.approx(np.sqrt(np.mean((y - p) ** 2)))
    # a constant predictor stays constant through the trial means (r 0, not a correlation with rounding noise)
    y3, t3 = np.repeat(Y[:4], 3), np.repeat(np.arange(4), 3)
    const = pooled_subject_metrics(y3, np.r_[np.full(9, 0.1), np.full(3, np.nextafter(0.1, 1))], np.ones(12, int),
                                   t3, level="trial")
    assert const[1]["pearson_r"] == 0.0
    with pytest.raises(ValueError, match="'level' parameter. Allowed values are"):
        pooled_subject_metrics(y, p, np.ones(8, int), trial, level="fold")


def test_cv_table_summarises_over_subjects_with_ddof_1_and_holm():
    windows = SimpleNamespace(y=Y[:, None], n_windows=8, subject=SUBJECT, trial=TRIAL)
    mean_pred = np.array([2.5, 2.5, 0.5, 0.5] * 2)  # each fold's training mean
    table = cv_table(windows, {"teacher": P[:, None], "mean": mean_pred[:, None]}, ("valence",))
    row = next(r for r in table if r["row"] == "teacher" and r["level"] == "window")
    r1, r2 = 3 / np.sqrt(10), 0.6
    assert row["pearson_r_mean"] == pytest.approx((r1 + r2) / 2)
    assert row["pearson_r_std"] == pytest.approx(abs(r1 - r2) / np.sqrt(2))  # ddof=1 (ddof=0 would be /2)
    half = 12.706204736 * row["pearson_r_std"] / np.sqrt(2)  # t(0.975, 1 df)
    assert row["pearson_r_ci_low"] == pytest.approx((r1 + r2) / 2 - half)
    assert row["pearson_r_per_subject"] == pytest.approx([r1, r2])
    # the mean predictor (each fold's training mean) moves against the test trials: pooled r = -0.894 (-2/sqrt(5))
    base = [r for r in table if r["row"] == "mean"]
    assert base[0]["pearson_r_mean"] == pytest.approx(-2 / np.sqrt(5))
    # two comparisons (window, trial level): Holm gives min(1, 2 p_min) and max(that, p_max)
    lo, hi = sorted(r["p"] for r in base)
    assert sorted(r["p_holm"] for r in base) == pytest.approx([min(1, 2 * lo), max(min(1, 2 * lo), hi)])
    assert base[0]["ccc_diff"] == pytest.approx(row["ccc_mean"] - base[0]["ccc_mean"])


def test_cluster_bootstrap_hand_case():
    """Clusters a (two items of value 0) and b (one item of value 1); the statistic is the mean of the drawn
    clusters' means. Two draws: 0 (1/4), 0.5 (1/2), 1 (1/4); the 95 % interval is [0, 1], the 40 % one
    [0.5, 0.5]. A cluster drawn twice counts twice (``draw``)."""
    values = np.array([0.0, 0.0, 1.0])

    def stat(idx, draw):
        return [np.mean([values[idx][draw == d].mean() for d in np.unique(draw)]), np.unique(draw).size]

    low, high = cluster_bootstrap_ci(stat, ["a", "a", "b"], n_resamples=4000, seed=1)
    assert (low[0], high[0]) == (0.0, 1.0) and low[1] == high[1] == 2
    low, high = cluster_bootstrap_ci(stat, ["a", "a", "b"], n_resamples=4000, level=0.4, seed=1)
    assert (low[0], high[0]) == (0.5, 0.5)
    with pytest.raises(ValueError, match="'level' parameter"):
        cluster_bootstrap_ci(stat, ["a"], level=1.0)


def test_ridge_penalty_chosen_on_trial_grouped_inner_folds(monkeypatch):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(12)
    X = rng.standard_normal((60, 3, 4))
    y = np.c_[X.reshape(60, -1) @ w, -(X.reshape(60, -1) @ w)]
    groups = np.repeat(np.arange(6), 10)
    pred = ridge_predict(X[:50], y[:50], groups[:50], X[50:])
    assert pred.shape == (10, 2) and np.corrcoef(pred[:, 0], y[50:, 0])[0, 1] > 0.95
    seen = []
    from sklearn import model_selection

    real = model_selection.GroupKFold.split

    def spy(self, X, y=None, groups=None):
        for tr, te in real(self, X, y, groups):
            seen.append((set(groups[tr]), set(groups[te])))
            yield tr, te
    monkeypatch.setattr(model_selection.GroupKFold, "split", spy)
    ridge_predict(X[:50], y[:50], groups[:50], X[50:])
    assert len(seen) == 3 and all(not (a & b) for a, b in seen)  # no trial on both sides of an inner fold
    with pytest.raises(ValueError, match="at least 2 trials"):
        ridge_predict(X[:10], y[:10], groups[:10], X[50:])


@pytest.mark.slow
def test_fold_models_match_run_sweep_and_its_control():
    """The teacher CV's fold models are run_sweep's (same data rule, seeds and groups), control included."""
    import dataclasses

    from neuroaffect.training import TrainConfig, make_folds, run_sweep
    from neuroaffect.training.data import make_synthetic_windows

    ws = make_synthetic_windows(n_subjects=2, n_trials=6, n_windows=4, n_chans=4, n_bands=2, regression=True)
    maps = np.random.default_rng(0).standard_normal((ws.n_windows, 2, 8, 8)) + ws.y[:, None, None, None]
    ws = dataclasses.replace(ws, X=maps.astype(np.float32), y=np.c_[ws.y, -ws.y].astype(np.float32), kind="maps")
    cfg = TrainConfig(epochs=2, batch_size=8, device="cpu", seed=3)
    kw = {"width": 2, "embed_dim": 4, "dropout": 0.1}
    folds = make_folds(ws, "trial-holdout", n_folds=3)
    mine = fold_model_predictions(ws, folds, cfg, "topoteacher", kw, control=True)
    sw = run_sweep(ws, "topoteacher", kw, "trial-holdout", 3, cfg, baselines=("mean",), control=True,
                   max_models_per_batch=len(folds) * 2)
    for pred in sw.predictions:
        np.testing.assert_allclose(mine["model"][pred.test_idx], pred.y_pred["topoteacher"], rtol=1e-5, atol=1e-6)
    ctrl = [r for r in sw.records if r["model"].endswith("(shuffled labels)") and r["level"] == "window"]
    for r, f in zip(ctrl, folds):
        got = np.sqrt(np.mean((mine["shuffled labels"][f.test_idx] - ws.y[f.test_idx]) ** 2))
        assert got == pytest.approx(r["rmse"], rel=1e-5)
    assert np.isfinite(mine["model"]).all()


def test_holdout_markdown_says_when_the_teacher_is_worse_than_the_mean():
    from neuroaffect.report.teacher import teacher_holdout_markdown

    def row(name, rmse, **kw):
        return {"target": "valence", "level": "window", "row": name, "rmse": rmse, "pearson_r": 0.1, "ccc": 0.05,
                "rmse_ci_low": rmse - 0.05, "rmse_ci_high": rmse + 0.05, **kw}
    table = [row("teacher", 0.634), row("ridge", 0.6),
             row("mean", 0.525, rmse_diff=0.109, rmse_diff_ci_low=0.05, rmse_diff_ci_high=0.17,
                 teacher_worse_than_mean=True)]
    md = teacher_holdout_markdown(table)
    assert "| valence | window | mean | 0.525 [0.475, 0.575] | 0.100 | 0.050 |" in md
    assert ("**The final teacher is worse than the mean predictor** on valence (window level): RMSE difference "
            "teacher - mean 0.109 [0.050, 0.170].") in md
    assert "Ridge on the same maps has a lower RMSE than the teacher on valence (window level): 0.600" in md
    # above the mean's, but the interval holds 0: not called worse
    table[2].update(rmse_diff=0.001, rmse_diff_ci_low=-0.036, rmse_diff_ci_high=0.043)
    md = teacher_holdout_markdown(table)
    assert "worse than the mean predictor**" not in md
    assert ("RMSE is above the mean predictor's on valence (window level), by 0.001 [-0.036, 0.043]: an interval "
            "that holds 0, so not shown to be worse.") in md
    table[2]["teacher_worse_than_mean"] = False
    assert "below the mean predictor's on every target and level" in teacher_holdout_markdown(table)


def test_cv_markdown_writes_intervals_comparisons_and_older_rows():
    from neuroaffect.report import teacher_cv_markdown

    windows = SimpleNamespace(y=Y[:, None], n_windows=8, subject=SUBJECT, trial=TRIAL)
    table = cv_table(windows, {"teacher": P[:, None], "mean": np.full((8, 1), 1.5)}, ("valence",))
    md = teacher_cv_markdown(table)
    t = next(r for r in table if r["row"] == "teacher" and r["level"] == "window")
    cell = f"{t['rmse_mean']:.3f} [{t['rmse_ci_low']:.3f}, {t['rmse_ci_high']:.3f}]"
    assert f"| valence | window | teacher | {cell} |" in md
    assert "Holm-corrected across the 2 comparisons" in md and "mean over 2 subjects" in md
    old = [{"target": "valence", "level": "window", "row": "teacher", "n_subjects": 2, "rmse_mean": 0.5,
            "rmse_std": 0.1, "pearson_r_mean": 0.3, "pearson_r_std": 0.1, "ccc_mean": 0.2, "ccc_std": 0.05}]
    assert "| valence | window | teacher | 0.500 +- 0.100 | 0.300 +- 0.100 | 0.200 +- 0.050 | | |" in \
        teacher_cv_markdown(old)


def test_teacher_summary_refuses_held_out_figures_out_of_range(tmp_path):
    from neuroaffect._utils import DatasetFormatError
    from neuroaffect.prototypes.teacher import read_teacher_summary, write_teacher_summary

    row = {"target": "valence", "level": "window", "row": "teacher", "rmse": 0.5, "pearson_r": 0.2, "ccc": 0.1}
    write_teacher_summary(tmp_path / "teacher.json", {"holdout": [row], "cv": []})
    assert read_teacher_summary(tmp_path / "teacher.json")["holdout"][0]["rmse"] == 0.5
    write_teacher_summary(tmp_path / "teacher.json", {"holdout": [{**row, "ccc": 1.5}]})
    with pytest.raises(DatasetFormatError, match="field 'holdout': rows with a finite RMSE >= 0"):
        read_teacher_summary(tmp_path / "teacher.json")
