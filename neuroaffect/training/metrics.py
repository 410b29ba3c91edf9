"""Classification and regression metrics, chance references, trial-level pooling, summaries.

Window level: every test window is one prediction. Trial level: the windows of
each test trial vote (majority of predicted classes; a tie goes to the smaller
class index) and the trial's class is the target; for regression the trial's
prediction is the mean of its windows' predictions. AUROC ranks class scores, not
votes: a trial's scores are the mean of its windows' class probabilities.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score, balanced_accuracy_score, cohen_kappa_score, confusion_matrix, f1_score, roc_auc_score,
)

__all__ = [
    "METRICS",
    "REGRESSION_METRICS",
    "average_trials",
    "auroc",
    "ccc",
    "regression_metrics",
    "chance_metrics",
    "classification_metrics",
    "format_mean_std",
    "summarize",
    "vote_trials",
]

METRICS = ("accuracy", "macro_f1", "balanced_accuracy", "cohen_kappa", "weighted_f1", "auroc")
REGRESSION_METRICS = ("rmse", "pearson_r", "ccc")


def ccc(y_true, y_pred) -> float:
    """Lin's concordance correlation coefficient (population moments).

    ``2 cov(t, p) / (var(t) + var(p) + (mean(t) - mean(p))**2)``: 1 for perfect agreement,
    0 for a constant prediction, and it penalises shifts and scale errors that Pearson's r
    ignores.
    """
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    vt, vp = t.var(), p.var()
    cov = np.mean((t - t.mean()) * (p - p.mean()))
    den = vt + vp + (t.mean() - p.mean()) ** 2
    return float(2 * cov / den) if den > 0 else 0.0


def regression_metrics(y_true, y_pred) -> dict:
    """RMSE, Pearson's r and CCC of continuous predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of float, shape (n,) (or (n, n_targets): pooled)

    Returns
    -------
    metrics : dict
        ``{"rmse", "pearson_r", "ccc"}``; r is 0 when either side is constant (the
        predict-the-mean baseline).
    """
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape or t.size == 0:
        raise ValueError(f"Invalid values of 'y_true'/'y_pred': expected two non-empty arrays of one shape, "
                         f"but got shapes {np.shape(y_true)} and {np.shape(y_pred)}.")
    r = 0.0
    if t.std() > 0 and p.std() > 0:
        r = float(np.corrcoef(t, p)[0, 1])
    return {"rmse": float(np.sqrt(np.mean((t - p) ** 2))), "pearson_r": r, "ccc": ccc(t, p)}


def average_trials(trial, y_true, y_pred):
    """Trial-level regression: each test trial's target and the mean of its windows' predictions.

    Parameters
    ----------
    trial : array-like of int, shape (n_windows,)
    y_true, y_pred : array-like of float, shape (n_windows,) or (n_windows, n_targets)

    Returns
    -------
    trials : ndarray of int64, shape (n_trials,)
    y_true_trial, y_pred_trial : ndarray of float64, shape (n_trials,) or (n_trials, n_targets)
    """
    trial = np.asarray(trial, dtype=np.int64)
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    trials, first, inv, counts = np.unique(trial, return_index=True, return_inverse=True, return_counts=True)
    sums = np.zeros((trials.size,) + yp.shape[1:])
    np.add.at(sums, inv, yp)
    counts = counts.reshape((-1,) + (1,) * (yp.ndim - 1))
    return trials, yt[first], sums / counts


def classification_metrics(y_true, y_pred, *, n_classes: int | None = None, present: bool = False,
                           scores=None) -> dict:
    """Accuracy, macro-F1, balanced accuracy, Cohen's kappa, weighted F1 and, from class scores, AUROC.

    All from scikit-learn; with ``n_classes``, the K-way set.

    Without ``n_classes``, macro-F1 averages over the classes present in ``y_true`` or ``y_pred``
    (scikit-learn's default; a class never predicted nor present is skipped, an undefined
    precision counts as 0). With ``n_classes = K``, predictions must be class indices
    ``0 .. K-1`` and macro-F1 averages over all **K** classes (a class neither in the targets nor
    predicted scores 0), and a ``confusion`` matrix (K x K counts, rows true class, columns
    predicted class) and ``n`` are added. Balanced accuracy averages the recall of the classes
    present in ``y_true``. Cohen's kappa is ``cohen_kappa_score`` (NaN when targets and
    predictions hold one and the same single class: the expected agreement is 1); weighted F1 is
    ``f1_score(average="weighted")`` (per-class F1 weighted by the class's support in ``y_true``).
    AUROC (:func:`auroc`) is computed when ``scores`` are given.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
    n_classes : int | None
        Number of classes K of the K-way figures (e.g. 8 for FERPlus).
    present : bool
        Also ``present_macro_f1``: F1 averaged over the classes present in ``y_true`` only (the
        cross-dataset figure: a class the set lacks does not enter), and ``present_classes``.
    scores : array-like of float, shape (n, K) | None
        Class scores (probabilities) of the same predictions, column ``k`` for class ``k``
        (``K = n_classes`` when given). ``None``: no ``auroc`` key.

    Returns
    -------
    metrics : dict
        ``{"accuracy", "macro_f1", "balanced_accuracy"}`` as floats in [0, 1]; then
        ``present_macro_f1`` (with ``present``), ``confusion`` (list of K lists of int, with
        ``n_classes``), ``present_classes`` (list of int, with ``present``), ``n`` (int, with
        ``n_classes``), in that order; then ``cohen_kappa`` (in [-1, 1]), ``weighted_f1`` (in
        [0, 1]) and, with ``scores``, ``auroc`` (in [0, 1], or NaN and then ``auroc_note``: why).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"Invalid values of 'y_true'/'y_pred': expected two non-empty arrays of one shape (n,), "
                         f"but got shapes {y_true.shape} and {y_pred.shape}.")
    labels = None if n_classes is None else np.arange(int(n_classes))
    if labels is not None:
        for name, a in (("y_true", y_true), ("y_pred", y_pred)):
            if a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= labels.size:
                raise ValueError(f"Invalid value for the {name!r} parameter: expected class indices "
                                 f"0-{labels.size - 1}, but got {a.dtype} values in [{a.min()}, {a.max()}] instead.")
    classes = np.unique(y_true)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true"
        out = {
            "accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        }
        if present:
            out["present_macro_f1"] = float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0))
    if labels is not None:
        out["confusion"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    if present:
        out["present_classes"] = classes.tolist()
    if labels is not None:
        out["n"] = int(y_true.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # undefined (NaN) when targets and predictions share one class
        out["cohen_kappa"] = float(cohen_kappa_score(y_true, y_pred, labels=labels))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out["weighted_f1"] = float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0))
    if scores is not None:
        k = np.shape(scores)[-1] if n_classes is None else int(n_classes)
        out["auroc"], note = auroc(y_true, scores, k)
        if note:
            out["auroc_note"] = note
    return out


def auroc(y_true, scores, n_classes: int) -> tuple[float, str]:
    """Area under the ROC curve of class scores (scikit-learn's ``roc_auc_score``), or NaN and why.

    Two classes: the AUROC of the positive class's score (column 1). More: one-vs-rest, the
    unweighted mean over the K classes of the AUROC of class ``k``'s score against the rest
    (``multi_class="ovr", average="macro"``). Undefined, so NaN with a reason, when the targets
    lack one of the K classes (a class's ROC curve needs positives and negatives), when the
    scores have not K columns or are not finite.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        Class indices ``0 .. K-1``.
    scores : array-like of float, shape (n, K)
        Class probabilities (for K > 2, rows that do not sum to 1 are divided by their sum
        first, as scikit-learn requires rows summing to 1).
    n_classes : int
        K.

    Returns
    -------
    value : float
        In [0, 1]; 0.5 for scores that do not depend on the input (a constant prediction), NaN
        when undefined.
    note : str
        ``""`` when defined, else the reason (e.g. ``"test set lacks class(es) [2]"``).
    """
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    K = int(n_classes)
    if s.ndim != 2 or s.shape != (y.size, K):
        return np.nan, f"class scores of shape {s.shape}, expected ({y.size}, {K})"
    if not np.isfinite(s).all():
        return np.nan, "non-finite class scores"
    missing = np.setdiff1d(np.arange(K), y)
    if missing.size:
        return np.nan, f"test set lacks class(es) {missing.tolist()}"
    if K == 2:
        return float(roc_auc_score(y, s[:, 1])), ""
    total = s.sum(axis=1, keepdims=True)
    if (total <= 0).any():
        return np.nan, "class scores that are not probabilities (a row sums to <= 0)"
    if not np.allclose(total, 1.0):  # scikit-learn refuses rows that do not sum to 1; ties stay ties otherwise
        s = s / total
    return float(roc_auc_score(y, s, multi_class="ovr", average="macro", labels=np.arange(K))), ""


def chance_metrics(y_true, n_classes: int) -> dict:
    """Expected metrics of a uniform random guess over ``n_classes`` classes.

    Accuracy and balanced accuracy are ``1 / n_classes`` whatever the test
    classes. Macro-F1 uses the test-set class frequencies ``p_k`` (precision
    ``p_k``, recall ``1 / K``): ``mean_k 2 p_k / (K p_k + 1)`` over the ``K``
    classes (0 for classes absent from the test set); weighted F1 weights the
    same per-class figures by ``p_k``: ``sum_k p_k 2 p_k / (K p_k + 1)``. A guess
    independent of the target agrees with it only by chance: Cohen's kappa 0, and
    its scores rank a class's windows no higher than the others: AUROC 0.5 (NaN,
    as for the models, when the test set lacks one of the K classes). These are
    expected (large-sample) values, not the mean of simulated guesses.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
    n_classes : int

    Returns
    -------
    metrics : dict
        ``accuracy``, ``macro_f1``, ``balanced_accuracy``, ``cohen_kappa``, ``weighted_f1``,
        ``auroc`` (and ``auroc_note`` when AUROC is NaN).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    K = int(n_classes)
    p = np.bincount(y_true, minlength=K)[:K] / max(y_true.size, 1)
    f1 = 2 * p / (K * p + 1)
    out = {
        "accuracy": 1.0 / K,
        "macro_f1": float(np.mean(f1)),
        "balanced_accuracy": 1.0 / K,
        "cohen_kappa": 0.0,
        "weighted_f1": float(np.sum(p * f1)),
        "auroc": 0.5,
    }
    missing = np.flatnonzero(p == 0)
    if missing.size:
        out["auroc"], out["auroc_note"] = np.nan, f"test set lacks class(es) {missing.tolist()}"
    return out


def vote_trials(trial, y_true, y_pred, n_classes: int):
    """Trial-level targets and majority-vote predictions.

    Parameters
    ----------
    trial : array-like of int, shape (n_windows,)
        Trial of each test window.
    y_true : array-like of int, shape (n_windows,)
        Window targets (constant within a trial).
    y_pred : array-like of int, shape (n_windows,)
        Window predictions.
    n_classes : int

    Returns
    -------
    trials : ndarray of int64, shape (n_trials,)
        Sorted trial ids.
    y_true_trial, y_pred_trial : ndarray of int64, shape (n_trials,)
        Each trial's class and its most frequent predicted class (ties: the
        smaller class index).
    """
    trial = np.asarray(trial, dtype=np.int64)
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    trials, first, inv = np.unique(trial, return_index=True, return_inverse=True)
    counts = np.zeros((trials.size, int(n_classes)), dtype=np.int64)
    np.add.at(counts, (inv, y_pred), 1)
    return trials, y_true[first], counts.argmax(axis=1)


def format_mean_std(mean: float, std: float, percent: bool = True) -> str:
    """``"mean ± std"``, in percent with one decimal by default."""
    if percent:
        return f"{100 * mean:.1f} ± {100 * std:.1f}"
    return f"{mean:.3f} ± {std:.3f}"


def summarize(frame: pd.DataFrame, by: str = "subject", metrics=METRICS) -> pd.DataFrame:
    """Mean ± std of each model's metrics across ``by`` units.

    Rows are first averaged over folds within each ``by`` unit (a subject), then
    the mean and the population standard deviation (``ddof=0``) are taken across
    units. With one unit per model (pooled protocols), pass ``by="fold"``. A NaN
    figure (an undefined AUROC, kappa) is left out of both means (pandas skips NaN):
    the summary is over the folds and units where the figure is defined, NaN when
    it is defined nowhere; ``n_units`` counts every unit.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long table with columns ``model``, ``by`` and the metric names (one row
        per subject x fold x model, as from ``SweepResult.to_frame()``).
    by : str
        Unit across which the spread is computed.
    metrics : sequence of str

    Returns
    -------
    summary : pandas.DataFrame
        Index ``model`` (in first-appearance order); columns ``<metric>_mean``,
        ``<metric>_std`` and ``n_units``.
    """
    metrics = list(metrics)
    per_unit = frame.groupby(["model", by], sort=False)[metrics].mean()
    grouped = per_unit.groupby(level="model", sort=False)
    out = pd.concat(
        [grouped.mean().add_suffix("_mean"), grouped.std(ddof=0).add_suffix("_std")], axis=1
    )
    out["n_units"] = grouped.size()
    cols = [f"{m}_{s}" for m in metrics for s in ("mean", "std")] + ["n_units"]
    return out[cols]
