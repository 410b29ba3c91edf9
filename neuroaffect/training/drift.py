"""The drift control: two time-separated halves of one condition, classified like the conditions.

Real recordings drift (electrode impedance, sweat, fatigue, alertness), so within one session
the windows of early trials differ from those of late ones whatever the condition. When the
conditions of a recording were presented in blocks (eyes open, then eyes closed), a classifier
evaluated on held-out trials of that session can score by telling early from late. The drift
control measures how much: for each condition, the trials of each subject (and session) are
put in time order (``WindowSet.trial_number``, else the trial index, which follow the order in
which the trials were read), the first half is labelled 0 and the second half 1 (the middle
trial of an odd count is left out), and these two "classes" are split and classified with the
same features and the same protocol (:func:`~neuroaffect.training.make_folds`) as the
conditions, by the same reference rows (logistic regression on the tokens by default). The
rows are named ``"<row> (drift: <condition>)"``.

Both halves hold the same condition, so with no drift the row sits at chance (50 % balanced
accuracy). A row at least :data:`DRIFT_MARGIN` above chance says that time within the session
is visible in the features, and that the conditions' accuracy may reward drift rather than the
condition (:func:`drift_verdicts`, :func:`drift_sentence`). See ``docs/protocols.md``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..models import LogisticTokens, MajorityClassifier
from .data import WindowSet
from .protocols import DEFAULT_N_FOLDS, make_folds
from .results import DRIFT_MARGIN, DRIFT_TAG, FoldPrediction, drift_sentence, drift_verdicts, fold_records

__all__ = ["DRIFT_MARGIN", "DRIFT_PROTOCOLS", "DRIFT_TAG", "add_drift_rows", "check_drift_protocol",
           "drift_class_names", "drift_records", "drift_sentence", "drift_verdicts", "drift_windows"]

#: Protocols whose folds split trials within subjects (the drift control's two halves are trials).
DRIFT_PROTOCOLS = ("trial-holdout", "rbt-pooled")
_PREDICTORS = {"logistic": LogisticTokens, "majority": MajorityClassifier}


def _time_order(windows: WindowSet, trials: np.ndarray) -> np.ndarray:
    """``trials`` (global trial indices) sorted by session, then trial id (time order)."""
    first = np.array([np.flatnonzero(windows.trial == t)[0] for t in trials], dtype=np.int64)
    tid = windows.trial if windows.trial_number is None else windows.trial_number
    order = np.lexsort((trials, tid[first], windows.session[first]))
    return trials[order]


def drift_windows(windows: WindowSet, condition: int, min_trials: int = 4) -> WindowSet | None:
    """The windows of one condition, labelled by the half of the session's trials they fall in.

    Parameters
    ----------
    windows : WindowSet
        Classification windows (``y`` the condition).
    condition : int
        The class whose trials are halved.
    min_trials : int
        Fewest trials of the condition a subject and session needs (at least 2 per half);
        those with fewer are left out.

    Returns
    -------
    halves : WindowSet | None
        Windows of the condition with ``y`` 0 (first half of the trials in time order) or 1
        (second half), ``n_classes=2``; ``None`` when no subject and session has ``min_trials``.
    """
    if windows.is_regression:
        raise ValueError("The drift control halves the trials of each class; it needs class targets, but the "
                         "windows hold continuous targets.")
    half_of = {}
    for s in np.unique(windows.subject):
        for ses in np.unique(windows.session[windows.subject == s]):
            sel = (windows.subject == s) & (windows.session == ses) & (windows.y == condition)
            trials = _time_order(windows, np.unique(windows.trial[sel]))
            if trials.size < min_trials:
                continue
            h = trials.size // 2
            half_of.update({int(t): 0 for t in trials[:h]})
            half_of.update({int(t): 1 for t in trials[-h:]})
    if not half_of:
        return None
    keep = np.flatnonzero(np.isin(windows.trial, list(half_of)))
    y = np.array([half_of[int(t)] for t in windows.trial[keep]], dtype=np.int64)

    def take(a):
        return None if a is None else a[keep]

    return WindowSet(X=windows.X[keep], y=y, trial=windows.trial[keep], subject=windows.subject[keep],
                     session=windows.session[keep], start=windows.start[keep], win_len=windows.win_len,
                     ch_pos=windows.ch_pos, trial_number=take(windows.trial_number), n_classes=2,
                     kind=windows.kind)


def _fold_count(halves: WindowSet, protocol: str, n_folds: int | None) -> int:
    """``n_folds`` (else the protocol's default), at most the trials of the smallest half."""
    k = DEFAULT_N_FOLDS[protocol] if n_folds is None else int(n_folds)
    if protocol != "trial-holdout":
        return k
    pairs = np.unique(np.stack([halves.subject, halves.y, halves.trial]), axis=1)
    _, per_half = np.unique(pairs[:2], axis=1, return_counts=True)
    return max(2, min(k, int(per_half.min())))


def drift_records(windows: WindowSet, protocol: str = "trial-holdout", n_folds: int | None = None, *,
                  subjects=None, split_seed: int | None = None, baselines=("logistic",), class_names=None,
                  trial_level: bool = True) -> list[dict]:
    """Metric rows of the drift control, in the layout of ``SweepResult.records``.

    Parameters
    ----------
    windows : WindowSet
        The windows the conditions were classified on (classification).
    protocol : {"trial-holdout", "rbt-pooled"}
        The conditions' protocol; the halves are split by it with the same ``n_folds`` and
        ``split_seed`` (trial-holdout: at most as many folds as the smallest half has trials).
    n_folds, subjects, split_seed
        As in :func:`~neuroaffect.training.make_folds`.
    baselines : sequence of {"logistic", "majority"}
        Reference rows fitted on each training fold of the halves.
    class_names : sequence of str | None
        Name of each condition (default ``"class <k>"``).
    trial_level : bool
        Also score trial-level majority votes.

    Returns
    -------
    records : list of dict
        One row per subject x fold x row x level, model ``"<row> (drift: <condition>)"``, with
        the metrics, sizes and the fold's leakage figures (no chance rows: chance is 50 %).
        Conditions with fewer than 4 trials in every subject and session give no rows.
    """
    check_drift_protocol(protocol)
    bad = [b for b in baselines if b not in _PREDICTORS]
    if bad:
        raise ValueError(f"Invalid value for the 'baselines' parameter: expected rows among {tuple(_PREDICTORS)}, "
                         f"but got {bad}.")
    records = []
    for c in range(windows.n_outputs):
        halves = drift_windows(windows, c)
        if halves is None:
            continue
        name = str(class_names[c]) if class_names is not None else f"class {c}"
        subj = None if subjects is None else np.intersect1d(np.atleast_1d(subjects), halves.subjects)
        if subj is not None and subj.size == 0:
            continue
        with warnings.catch_warnings():
            # fewer trials per half than n_folds: fewer folds, recorded in each fold's split_rule
            warnings.filterwarnings("ignore", message=".*fold.*", category=UserWarning)
            folds = make_folds(halves, protocol, n_folds=_fold_count(halves, protocol, n_folds), seed=split_seed,
                               subjects=subj)
        for f in folds:
            X_tr, y_tr = halves.X[f.train_idx], halves.y[f.train_idx]
            y_pred = {f"{b}{DRIFT_TAG}{name})": _PREDICTORS[b]().fit(X_tr, y_tr).predict(halves.X[f.test_idx])
                      .astype(np.int64) for b in baselines}
            pred = FoldPrediction(subject=f.subject, fold=f.index, test_idx=f.test_idx, y_true=halves.y[f.test_idx],
                                  proba=np.empty((f.test_idx.size, 0), np.float32), y_pred=y_pred)
            records.extend(fold_records(f, pred, halves.trial[f.test_idx], 2, trial_level, "", {}, chance=False))
    return records


def check_drift_protocol(protocol: str) -> str:
    """``protocol``, or ``ValueError`` when the drift control cannot follow it (before any training)."""
    if protocol not in DRIFT_PROTOCOLS:
        raise ValueError(f"Invalid value for the 'protocol' parameter: the drift control splits trials within "
                         f"subjects ({', '.join(DRIFT_PROTOCOLS)}), but got {protocol!r}, which holds out whole "
                         "subjects or fixed trial ids.")
    return protocol


def drift_class_names(dataset, task: str):
    """Readable condition names of a named dataset's task (``("low", "high")``), else ``None``."""
    from ..labels import class_names

    try:
        return class_names(dataset, task)
    except (KeyError, TypeError, ValueError):
        return None


def add_drift_rows(result, windows: WindowSet, protocol: str, n_folds: int | None = None, *, subjects=None,
                   split_seed: int | None = None, class_names=None):
    """Append the drift control's rows (:func:`drift_records`) to a sweep or experiment result.

    The rows join ``result.records`` (an experiment's ``result.sweep.records``), so that its
    tables show them beside the reference rows, and ``config["drift_control"]`` lists them with
    the margin. Conditions are named by ``class_names``, else by ``result.metadata["class_names"]``
    (a user's own classes), else ``"class <k>"``. Returns ``result``.
    """
    sw = getattr(result, "sweep", result)
    if class_names is None:
        class_names = (getattr(result, "metadata", None) or {}).get("class_names") or None
    trial_level = any(r["level"] == "trial" for r in sw.records)
    rows = drift_records(windows, protocol, n_folds, subjects=subjects, split_seed=split_seed,
                         class_names=class_names, trial_level=trial_level)
    sw.records.extend(rows)
    sw.config["drift_control"] = {"rows": list(dict.fromkeys(r["model"] for r in rows)), "margin": DRIFT_MARGIN}
    return result
