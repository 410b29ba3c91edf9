"""What a sweep returns: per-fold predictions, metric records and summaries (its tables:
:mod:`neuroaffect.report.sweeps`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import atomic_write_text
from .metrics import (
    METRICS, REGRESSION_METRICS, auroc, average_trials, chance_metrics, classification_metrics,
    regression_metrics, summarize, vote_trials,
)
from .protocols import POOLED, Fold

__all__ = ["CONTROL_SUFFIX", "DRIFT_MARGIN", "DRIFT_TAG", "FoldPrediction", "SweepResult", "drift_sentence",
           "drift_verdicts", "fold_records"]

#: Suffix of the shuffled-label control's model name in result tables.
CONTROL_SUFFIX = " (shuffled labels)"
#: Marks a drift-control row's model name: ``"logistic (drift: open)"`` (:mod:`.drift`).
DRIFT_TAG = " (drift: "
#: Balanced accuracy above chance (0.5) from which a drift row counts as far above chance.
DRIFT_MARGIN = 0.15
#: Metrics that are fractions (tables give them in %).
PERCENT = {"accuracy", "macro_f1", "balanced_accuracy", "weighted_f1"}


@dataclass(eq=False)
class FoldPrediction:
    """Test-set predictions of one fold.

    Attributes
    ----------
    subject, fold : int
    test_idx : ndarray of int64, shape (n_test,)
        Window indices into the sweep's WindowSet.
    y_true : ndarray, shape (n_test,) or (n_test, n_targets)
        Classes (int64) or normalised ratings (float32).
    proba : ndarray of float32, shape (n_test, n_outputs)
        The neural model's class probabilities (classification) or predictions (regression).
    y_pred : dict of str -> ndarray, shape like ``y_true``
        Predictions per model name (the neural model and each baseline).
    scores : dict of str -> ndarray of float, shape (n_test, n_classes)
        Classification: class probabilities per model name (column ``k`` for class ``k``), the
        AUROC's input; a predictor without an entry gets AUROC NaN ("no class scores").
    """

    subject: int
    fold: int
    test_idx: np.ndarray
    y_true: np.ndarray
    proba: np.ndarray
    y_pred: dict
    scores: dict = field(default_factory=dict)


def fold_records(fold: Fold, pred: FoldPrediction, trial: np.ndarray, n_classes: int | None, trial_level: bool,
                 model_name: str, extra: dict, chance: bool = True) -> list[dict]:
    """Metric rows of one fold: every predictor (plus chance for classification), window and trial level.

    ``trial`` is the trial of each test window; ``n_classes`` is ``None`` for regression. A
    classification row's AUROC comes from ``pred.scores[name]`` (trial level: the mean of the
    trial's window scores); without scores it is NaN with ``auroc_note``.
    """
    base = {"subject": fold.subject, "fold": fold.index, "n_test": int(fold.test_idx.size),
            "trial_overlap": fold.leakage.same_trial_fraction, "sample_overlap": fold.leakage.fraction}
    rows = []
    regression = n_classes is None
    for level in ("window", "trial") if trial_level else ("window",):
        for name, yp in pred.y_pred.items():
            if regression:
                yt, ypl = (pred.y_true, yp) if level == "window" else average_trials(trial, pred.y_true, yp)[1:]
                m = regression_metrics(yt, ypl)
            else:
                sc = pred.scores.get(name)
                if level == "window":
                    yt, ypl = pred.y_true, yp
                else:
                    _, yt, ypl = vote_trials(trial, pred.y_true, yp, n_classes)
                    sc = None if sc is None else average_trials(trial, pred.y_true, sc)[2]
                m = classification_metrics(yt, ypl)
                value, note = (np.nan, "no class scores") if sc is None else auroc(yt, sc, n_classes)
                m["auroc"] = value
                if note:
                    m["auroc_note"] = note
            row = {**base, "model": name, "level": level, **m}
            if name == model_name:
                row.update(extra)
            rows.append(row)
        if chance and not regression:
            yt = pred.y_true if level == "window" else vote_trials(trial, pred.y_true, pred.y_true, n_classes)[1]
            rows.append({**base, "model": "chance", "level": level, **chance_metrics(yt, n_classes)})
    return rows


def drift_verdicts(records, level: str = "window", margin: float = DRIFT_MARGIN) -> list[dict]:
    """Per drift row: its mean balanced accuracy over folds and whether it sits far above chance.

    Returns
    -------
    verdicts : list of dict
        ``{"model", "balanced_accuracy", "confounded"}`` per drift row found in ``records``
        (``confounded``: mean balanced accuracy >= 0.5 + ``margin``).
    """
    rows = [r for r in records if DRIFT_TAG in str(r.get("model", "")) and r.get("level") == level]
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        ba = float(np.mean([r["balanced_accuracy"] for r in rows if r["model"] == model]))
        out.append({"model": model, "balanced_accuracy": ba, "confounded": bool(ba >= 0.5 + margin)})
    return out


def drift_sentence(records, level: str = "window", margin: float = DRIFT_MARGIN) -> str:
    """One sentence on the drift rows of ``records`` ('' when there are none)."""
    v = drift_verdicts(records, level, margin)
    if not v:
        return ""
    figures = "; ".join(f"{d['model']} {100 * d['balanced_accuracy']:.1f} %" for d in v)
    bad = [d for d in v if d["confounded"]]
    if bad:
        return (f"Drift control ({level} level, balanced accuracy, chance 50 %): {figures}. Two halves of one "
                f"condition are told apart far above chance (>= {100 * (0.5 + margin):.0f} %): the conditions' "
                "accuracy may be confounded by drift within the session, not only the condition.")
    return (f"Drift control ({level} level, balanced accuracy, chance 50 %): {figures}. The halves of each "
            f"condition are not told apart far above chance (< {100 * (0.5 + margin):.0f} %).")


@dataclass(eq=False)
class SweepResult:
    """Metrics, leakage, baselines and predictions of a sweep.

    Attributes
    ----------
    model_name : str
    protocol : str
    n_classes : int | None
        ``None`` for regression.
    records : list of dict
        One row per subject x fold x model x level (``"window"``/``"trial"``),
        with the metrics, sizes, both leakage figures and the training summary.
    folds : list of dict
        Per fold: subject, fold, sizes, ``trial_overlap`` and ``sample_overlap``, split rule, seed.
    predictions : list of FoldPrediction
    histories : list of dict
        Per fold, the training history.
    config : dict
        Arguments of the run (JSON-serialisable).
    seconds : float
        Wall-clock time of the whole sweep.
    models : list of torch.nn.Module | None
        Trained models (``keep_models=True``).
    metadata : dict
        What the caller knows of the run (dataset, target, data source, provenance).
    """

    model_name: str
    protocol: str
    n_classes: int | None
    records: list
    folds: list
    predictions: list
    histories: list
    config: dict
    seconds: float = 0.0
    models: list | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        return self.n_classes is None

    @property
    def metrics(self) -> tuple:
        """The metric columns: accuracy / macro-F1 / balanced accuracy / Cohen's kappa / weighted F1 /
        AUROC, or RMSE / r / CCC."""
        return REGRESSION_METRICS if self.is_regression else METRICS

    @property
    def pooled(self) -> bool:
        """Whether folds pool subjects (then spreads are across folds)."""
        return all(f["subject"] == POOLED for f in self.folds)

    def to_frame(self, level: str | None = None) -> pd.DataFrame:
        """Long table, one row per subject x fold x model x level (``level`` filters)."""
        df = pd.DataFrame.from_records(self.records)
        return df if level is None else df[df["level"] == level].reset_index(drop=True)

    def summary(self, level: str = "window") -> pd.DataFrame:
        """Mean ± std per model across subjects (across folds for pooled protocols); see
        :func:`~neuroaffect.training.metrics.summarize`."""
        return summarize(self.to_frame(level), by="fold" if self.pooled else "subject", metrics=self.metrics)

    def per_subject(self, level: str = "window") -> pd.DataFrame:
        """Per subject (rows) and model (columns): fold-mean of the first metric."""
        df = self.to_frame(level)
        return df.pivot_table(index="subject", columns="model", values=self.metrics[0], aggfunc="mean", sort=False)

    def leakage_frame(self) -> pd.DataFrame:
        """One row per fold with its leakage figures."""
        return pd.DataFrame.from_records(self.folds)

    def confusion(self) -> list | None:
        """Pooled test confusion matrix of the neural model (rows true, columns predicted), or None."""
        if self.is_regression or not self.predictions:
            return None
        yt = np.concatenate([p.y_true for p in self.predictions])
        yp = np.concatenate([p.y_pred[self.model_name] for p in self.predictions])
        cm = np.zeros((self.n_classes, self.n_classes), dtype=np.int64)
        np.add.at(cm, (yt, yp), 1)
        return cm.tolist()

    def to_csv(self, path) -> Path:
        """Write :meth:`to_frame` (all levels) to ``path`` atomically."""
        return atomic_write_text(path, self.to_frame().to_csv(index=False))

    def to_dict(self) -> dict:
        """JSON-serialisable summary: config, per-fold records, leakage, summaries per level,
        the pooled confusion matrix and the learning curves (NaN written as null)."""
        out = {"model": self.model_name, "protocol": self.protocol, "n_classes": self.n_classes,
               "task": "regression" if self.is_regression else "classification", "metrics": list(self.metrics),
               "config": self.config, "seconds": self.seconds, "records": _nan_to_none(self.records),
               "folds": _nan_to_none(self.folds), "summary": {}, "confusion": self.confusion(),
               "histories": [{k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in h.items()
                              if k.startswith(("train_", "val_"))} for h in self.histories]}
        for level in sorted({r["level"] for r in self.records}):
            s = self.summary(level)
            out["summary"][level] = {m: {k: _none_if_nan(v) for k, v in row.items()} for m, row in s.iterrows()}
        return out


def _none_if_nan(v) -> float | None:
    """A figure as a float for JSON, a non-finite one (a missing figure) as ``None``."""
    v = float(v)
    return v if np.isfinite(v) else None


def _nan_to_none(rows: list) -> list:
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()} for r in rows]
