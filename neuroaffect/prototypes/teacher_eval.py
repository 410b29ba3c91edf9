"""How good the teacher is: its cross-validated table (out-of-fold predictions pooled per subject, with
the baselines on the same folds) and the final teacher's held-out table (with the baselines on the same
held-out windows).

The estimators (``docs/prototypes.md``, "The teacher's error"):

- **Pooled out-of-fold (OOF).** k-fold over trials within each subject gives every window of a subject
  exactly one out-of-fold prediction. They are pooled per subject; RMSE, Pearson r and CCC are computed
  once per subject over all its windows (window level) or all its trials (trial level: the mean of a
  trial's window predictions against its rating), then summarised over subjects (mean, sample standard
  deviation with ``ddof=1`` and the 95 % t interval of :func:`neuroaffect.training.stats.mean_ci`).
  Correlations are never computed on the 3-4 trials of one test fold and then averaged.
- **Baselines on the same folds.** ``mean``: each fold's training mean; ``ridge``: ridge regression on
  the flattened maps (standardised per pixel on the training fold), its penalty chosen by an inner
  cross-validation grouped by trial on the training fold only; ``shuffled labels``: the same teacher, the
  same seeds and epochs, trained on training targets permuted across the fold's training trials
  (within the subject), scored on the true targets.
- **Comparisons.** Per baseline row: the paired difference teacher - row of the per-subject CCC, its 95 %
  t interval and paired t-test over subjects, Holm-corrected across the rows, targets and levels of the
  table (:func:`~neuroaffect.training.stats.paired_test`, :func:`~neuroaffect.training.stats.holm`).
- **Held-out table.** The final teacher, the training-set mean and ridge fitted on the final teacher's
  training windows, scored on the held-out windows pooled over subjects; 95 % intervals from a
  percentile bootstrap over held-out trials (:func:`cluster_bootstrap_ci`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..training import (
    ArraySource, ProgressReporter, WindowSet, average_trials, build_model, fold_seed, make_folds, predict,
    prepare_fold, regression_metrics, resolve_device, train_batched,
)
from ..training.stats import holm, mean_ci, paired_test

__all__ = [
    "CV_ROWS", "METRICS", "RIDGE_ALPHAS", "cluster_bootstrap_ci", "cv_table", "fold_baselines",
    "fold_model_predictions", "holdout_table", "pooled_subject_metrics", "ridge_predict",
]

METRICS = ("rmse", "pearson_r", "ccc")
LEVELS = ("window", "trial")
#: Rows of the CV table, the teacher first; the others are compared with it.
CV_ROWS = ("teacher", "ridge", "mean", "shuffled labels")
#: Ridge penalties searched by the inner cross-validation (on standardised pixels).
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(0, 6, 7))


def fold_model_predictions(windows: WindowSet, folds: list, cfg, model_name: str, model_kwargs: dict | None, *,
                           control: bool = False, group_size: int | None = None, progress=False) -> dict:
    """Out-of-fold predictions of one model per fold (and of its shuffled-label control), trained by the engine.

    The same data rule, seeds and batching as :func:`neuroaffect.training.run_sweep` with ``control``:
    each fold's data from :func:`~neuroaffect.training.prepare_fold` (seed :func:`~neuroaffect.training.fold_seed`),
    the models of a group trained together by :func:`~neuroaffect.training.train_batched`; the control
    permutes the fold's training targets across its training trials.

    Parameters
    ----------
    windows : WindowSet
        Regression windows, ``y`` shape (n_windows, n_targets).
    folds : list of Fold
        Test folds that cover each window at most once (e.g. ``make_folds(windows, "trial-holdout")``).
    cfg : TrainConfig
    model_name : str
    model_kwargs : dict | None
    control : bool
        Also train the shuffled-label control on every fold.
    group_size : int | None
        Models trained at once (default: all).
    progress : bool
        One progress line per epoch.

    Returns
    -------
    predictions : dict of str -> ndarray of float64, shape (n_windows, n_targets)
        ``"model"`` (and ``"shuffled labels"``): each window's out-of-fold prediction, NaN for windows
        in no test fold.
    """
    data = [prepare_fold(windows, f, cfg, fold_seed(cfg.seed, f.subject, f.index), control=c)
            for c in ((False, True) if control else (False,)) for f in folds]
    kw = {"size": int(windows.X.shape[-1]), **(model_kwargs or {})} if windows.kind == "maps" else model_kwargs
    n_epoch = max(d.X_fit.shape[0] for d in data)
    group = len(data) if group_size is None else max(1, int(group_size))
    out = {name: np.full(windows.y.shape, np.nan) for name in (("model", "shuffled labels") if control else ("model",))}
    for g0 in range(0, len(data), group):
        chunk = data[g0:g0 + group]
        models = [build_model(model_name, n_chans=max(windows.n_chans, 1), n_bands=windows.n_bands,
                              n_outputs=windows.n_outputs, seed=d.seed, model_kwargs=kw, ch_pos=windows.ch_pos,
                              n_times=windows.n_times) for d in chunk]
        cb = [ProgressReporter(f"{model_name} CV, {len(chunk)} models")] if progress else []
        res = train_batched(models, [(d.X_fit, d.y_fit) for d in chunk], cfg, [d.seed for d in chunk],
                            vals=None if cfg.patience is None and not cfg.validate else
                            [(d.X_val, d.y_val) for d in chunk], samples_per_epoch=n_epoch, callbacks=cb)
        dev = resolve_device(cfg.device)
        preds = predict(res.stack, ArraySource([d.X_test for d in chunk], device=dev), device=dev,
                        batch_size=cfg.eval_batch_size, amp=cfg.amp)
        for d, p in zip(chunk, preds):
            out["shuffled labels" if d.control else "model"][d.fold.test_idx] = np.asarray(p, np.float64).reshape(
                len(d.fold.test_idx), -1)
    return out


def ridge_predict(X_train: np.ndarray, y_train: np.ndarray, groups: np.ndarray, X_test: np.ndarray, *,
                  alphas=RIDGE_ALPHAS, inner_folds: int = 3) -> np.ndarray:
    """Ridge regression on flattened inputs, its penalty chosen by cross-validation grouped by trial.

    ``StandardScaler`` then ``RidgeCV`` (scikit-learn) fitted on the training windows only; the inner
    folds (``GroupKFold``, ``min(inner_folds, n_groups)`` splits) never split a trial.

    Parameters
    ----------
    X_train : ndarray, shape (n_train, ...)
    y_train : ndarray, shape (n_train, n_targets)
    groups : ndarray of int, shape (n_train,)
        Trial of each training window.
    X_test : ndarray, shape (n_test, ...)
    alphas : sequence of float
    inner_folds : int

    Returns
    -------
    y_pred : ndarray of float64, shape (n_test, n_targets)
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_groups = np.unique(groups).size
    if n_groups < 2:
        raise ValueError(f"ridge needs training windows of at least 2 trials for its inner cross-validation, but "
                         f"got {n_groups}")
    Xtr = X_train.reshape(len(X_train), -1)
    splits = list(GroupKFold(n_splits=min(int(inner_folds), n_groups)).split(Xtr, y_train, groups))
    reg = make_pipeline(StandardScaler(), RidgeCV(alphas=tuple(alphas), cv=splits))
    reg.fit(Xtr, y_train)
    return np.asarray(reg.predict(X_test.reshape(len(X_test), -1)), np.float64).reshape(len(X_test), -1)


def fold_baselines(windows: WindowSet, folds: list, *, alphas=RIDGE_ALPHAS, inner_folds: int = 3) -> dict:
    """Out-of-fold predictions of the mean predictor and ridge on the same folds.

    Returns
    -------
    predictions : dict of str -> ndarray of float64, shape (n_windows, n_targets)
        ``"mean"`` (the training fold's mean target) and ``"ridge"`` (:func:`ridge_predict`); NaN for
        windows in no test fold.
    """
    y = windows.y.reshape(windows.n_windows, -1)
    out = {"mean": np.full(y.shape, np.nan), "ridge": np.full(y.shape, np.nan)}
    for f in folds:
        tr, te = f.train_idx, f.test_idx
        out["mean"][te] = y[tr].mean(axis=0, dtype=np.float64)
        out["ridge"][te] = ridge_predict(windows.X[tr], y[tr], windows.trial[tr], windows.X[te], alphas=alphas,
                                         inner_folds=inner_folds)
    return out


def pooled_subject_metrics(y_true, y_pred, subject, trial, level: str = "window") -> dict:
    """RMSE, Pearson r and CCC per subject over the subject's pooled out-of-fold predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of float, shape (n_windows,)
        One target; windows without a prediction (NaN) are left out.
    subject, trial : array-like of int, shape (n_windows,)
    level : {"window", "trial"}
        ``"trial"``: each trial's rating against the mean of its windows' predictions.

    Returns
    -------
    metrics : dict of int -> dict
        Per subject, :func:`~neuroaffect.training.regression_metrics` (``rmse``, ``pearson_r``, ``ccc``).
    """
    if level not in LEVELS:
        raise ValueError(f"Invalid value for the 'level' parameter. Allowed values are {LEVELS}, but got {level!r} "
                         "instead.")
    yt, yp = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    subject, trial = np.asarray(subject), np.asarray(trial)
    ok = np.isfinite(yp)
    out = {}
    for s in np.unique(subject[ok]):
        m = ok & (subject == s)
        a, b = (yt[m], yp[m]) if level == "window" else average_trials(trial[m], yt[m], yp[m])[1:]
        out[int(s)] = _metrics(a, b)
    return out


def _metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """:func:`~neuroaffect.training.regression_metrics`, with a prediction constant up to rounding (a trial mean of
    a constant predictor) made exactly constant, so that its r is 0 and not a correlation with rounding noise."""
    y_pred = np.asarray(y_pred, np.float64)
    if y_pred.size and np.ptp(y_pred) <= 1e-12 * max(1.0, float(np.abs(y_pred).max())):
        y_pred = np.full_like(y_pred, y_pred.flat[0])
    return regression_metrics(y_true, y_pred)


def _summary(per_subject: dict) -> dict:
    """Mean, sample SD (ddof=1) and 95 % t interval over subjects of each metric, and the values."""
    row = {}
    for k in METRICS:
        v = [m[k] for m in per_subject.values()]
        s = mean_ci(v)
        row.update({f"{k}_mean": s["mean"], f"{k}_std": s["sd"], f"{k}_ci_low": s["ci_low"],
                    f"{k}_ci_high": s["ci_high"], f"{k}_per_subject": [float(x) for x in v]})
    return row


def cv_table(windows: WindowSet, predictions: dict, targets: tuple, *, reference: str = "teacher") -> list:
    """The CV table: per target, level and row, the pooled-OOF metrics over subjects and the comparisons.

    Parameters
    ----------
    windows : WindowSet
        ``y`` shape (n_windows, len(targets)).
    predictions : dict of str -> ndarray, shape (n_windows, len(targets))
        Out-of-fold predictions per row name (``reference`` among them).
    targets : tuple of str
    reference : str
        The row the others are compared with.

    Returns
    -------
    table : list of dict
        ``target``, ``level``, ``row``, ``n_subjects``; ``<metric>_mean``, ``_std`` (ddof=1), ``_ci_low``,
        ``_ci_high``, ``_per_subject`` for ``rmse``, ``pearson_r``, ``ccc``; other rows also
        ``ccc_diff`` (reference - row, mean over subjects), ``ccc_diff_ci_low``, ``ccc_diff_ci_high``,
        ``p`` (paired t-test over subjects) and ``p_holm`` (Holm across the table's comparisons).
    """
    y = windows.y.reshape(windows.n_windows, -1)
    table, compared = [], []
    for j, target in enumerate(targets):
        for level in LEVELS:
            per = {name: pooled_subject_metrics(y[:, j], p[:, j], windows.subject, windows.trial, level)
                   for name, p in predictions.items()}
            ref = per[reference]
            for name in predictions:
                row = {"target": target, "level": level, "row": name, "n_subjects": len(per[name]),
                       **_summary(per[name])}
                if name != reference:
                    common = sorted(set(ref) & set(per[name]))
                    t = paired_test([ref[s]["ccc"] for s in common], [per[name][s]["ccc"] for s in common])
                    row.update({"ccc_diff": t["mean_difference"], "ccc_diff_ci_low": t["ci_low"],
                                "ccc_diff_ci_high": t["ci_high"], "p": t["p"]})
                    compared.append(row)
                table.append(row)
    for row, p in zip(compared, holm([r["p"] for r in compared])):
        row["p_holm"] = float(p)
    return table


def cluster_bootstrap_ci(statistic: Callable, clusters, *, n_resamples: int = 1000, level: float = 0.95,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of a statistic, resampling whole clusters (e.g. trials) with replacement.

    Parameters
    ----------
    statistic : callable
        ``statistic(idx, draw)`` -> array-like of float, shape (k,): the statistic of the items ``idx``
        (int indices into the items, repeated where a cluster is drawn twice); ``draw`` (same length)
        numbers the drawn clusters, so that a cluster drawn twice counts as two clusters.
    clusters : array-like, shape (n_items,)
        Cluster of each item.
    n_resamples : int
    level : float
        Coverage, in (0, 1).
    seed : int
        ``numpy.random.default_rng(seed)`` draws the resamples.

    Returns
    -------
    low, high : ndarray of float64, shape (k,)
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (``numpy.quantile``, linear) of the
        statistic over the resamples (NaN resamples ignored).
    """
    if not 0 < level < 1:
        raise ValueError(f"Invalid value for the 'level' parameter: expected a number in (0, 1), but got {level!r}.")
    clusters = np.asarray(clusters)
    ids, inv = np.unique(clusters, return_inverse=True)
    members = [np.flatnonzero(inv == i) for i in range(ids.size)]
    rng = np.random.default_rng(seed)
    draws = []
    for pick in rng.integers(0, ids.size, size=(int(n_resamples), ids.size)):
        idx = np.concatenate([members[i] for i in pick])
        draw = np.repeat(np.arange(ids.size), [members[i].size for i in pick])
        draws.append(np.atleast_1d(np.asarray(statistic(idx, draw), np.float64)))
    q = np.nanquantile(np.array(draws), [(1 - level) / 2, (1 + level) / 2], axis=0)
    return q[0], q[1]


def holdout_table(windows: WindowSet, fit_idx: np.ndarray, held_idx: np.ndarray, teacher_pred: np.ndarray,
                  targets: tuple, *, n_resamples: int = 1000, seed: int = 0, alphas=RIDGE_ALPHAS,
                  inner_folds: int = 3) -> list:
    """The final teacher and its baselines on the held-out windows, with trial-bootstrap intervals.

    Baselines fitted on the final teacher's training windows ``fit_idx`` only: ``mean`` (their mean
    target) and ``ridge`` (:func:`ridge_predict`). Metrics pool the held-out windows of every subject
    (window level) or their trials (trial level: mean window prediction per trial).

    Parameters
    ----------
    windows : WindowSet
    fit_idx, held_idx : ndarray of int
        The final teacher's training and held-out windows.
    teacher_pred : ndarray, shape (len(held_idx), len(targets))
        The final teacher's predictions of the held-out windows.
    targets : tuple of str
    n_resamples, seed
        Of the bootstrap over held-out trials (:func:`cluster_bootstrap_ci`).

    Returns
    -------
    table : list of dict
        Per target, level and row (``teacher``, ``ridge``, ``mean``): ``rmse``, ``pearson_r``, ``ccc`` and
        their ``_ci_low`` / ``_ci_high``; the ``mean`` row also ``rmse_diff`` (teacher - mean) with its
        interval, and ``teacher_worse_than_mean`` (the teacher's RMSE above the mean predictor's).
    """
    y = windows.y.reshape(windows.n_windows, -1)
    yt = y[held_idx].astype(np.float64)
    preds = {"teacher": np.asarray(teacher_pred, np.float64).reshape(yt.shape),
             "ridge": ridge_predict(windows.X[fit_idx], y[fit_idx], windows.trial[fit_idx], windows.X[held_idx],
                                    alphas=alphas, inner_folds=inner_folds),
             "mean": np.broadcast_to(y[fit_idx].mean(axis=0, dtype=np.float64), yt.shape)}
    trial = windows.trial[held_idx]
    table = []
    for j, target in enumerate(targets):
        for level in LEVELS:
            def stat(idx, draw, j=j, level=level):
                out = []
                for p in preds.values():  # teacher, ridge, mean
                    a, b = (yt[idx, j], p[idx, j])
                    if level == "trial":
                        a, b = average_trials(draw, a, b)[1:]
                    out += [_metrics(a, b)[k] for k in METRICS]
                return out + [out[0] - out[2 * len(METRICS)]]  # teacher RMSE - mean RMSE
            point = stat(np.arange(len(held_idx)), trial)
            low, high = cluster_bootstrap_ci(stat, trial, n_resamples=n_resamples, seed=seed)
            for i, name in enumerate(preds):
                row = {"target": target, "level": level, "row": name}
                for m, k in enumerate(METRICS):
                    c = i * len(METRICS) + m
                    row.update({k: point[c], f"{k}_ci_low": float(low[c]), f"{k}_ci_high": float(high[c])})
                if name == "mean":
                    row.update({"rmse_diff": point[-1], "rmse_diff_ci_low": float(low[-1]),
                                "rmse_diff_ci_high": float(high[-1]), "teacher_worse_than_mean": point[-1] > 0})
                table.append(row)
    return table

