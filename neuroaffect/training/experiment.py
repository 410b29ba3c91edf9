"""One subject-dependent experiment: per-fold metrics of a model beside its baselines.

``run_experiment`` is what ``neuroaffect experiment`` prints: one subject, one
model, one protocol; per fold the model, the majority class of the training
fold, logistic regression on the tokens and chance, plus the fold's leakage;
then mean ± std over folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .data import WindowSet
from .loop import TrainConfig
from .metrics import METRICS, format_mean_std, summarize
from .protocols import POOLED
from .sweep import BASELINES, SweepResult, run_sweep

__all__ = ["ExperimentResult", "run_experiment"]

_METRIC_TITLES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "balanced_accuracy": "balanced accuracy"}


@dataclass(eq=False)
class ExperimentResult:
    """Per-fold results of one experiment.

    Attributes
    ----------
    subject : int | None
        The subject (``None`` for a pooled experiment over all subjects).
    sweep : SweepResult
        The underlying sweep (records, predictions, histories, config).
    metadata : dict
        Caller-supplied description (dataset, target, task, ...), copied into :meth:`to_dict`.
    """

    subject: int | None
    sweep: SweepResult
    metadata: dict

    @property
    def model_name(self) -> str:
        return self.sweep.model_name

    @property
    def protocol(self) -> str:
        return self.sweep.protocol

    @property
    def n_folds(self) -> int:
        return len(self.sweep.folds)

    def table(self, level: str = "window") -> pd.DataFrame:
        """One row per fold x model (model, majority, logistic, chance) with metrics and leakage."""
        return self.sweep.to_frame(level)

    def summary(self, level: str = "window") -> pd.DataFrame:
        """Mean ± std over folds per model (population std)."""
        return summarize(self.table(level), by="fold")

    def leakage(self) -> list[float]:
        """Per fold: fraction of test windows overlapping a training window of the same trial."""
        return [f["leakage"] for f in self.sweep.folds]

    def to_dict(self) -> dict:
        """JSON-serialisable result: metadata, config, per-fold rows, summaries and leakage."""
        out = {
            "subject": self.subject,
            "model": self.model_name,
            "protocol": self.protocol,
            "n_folds": self.n_folds,
            "n_classes": self.sweep.n_classes,
            "metadata": dict(self.metadata),
            "config": self.sweep.config,
            "seconds": self.sweep.seconds,
            "folds": self.sweep.folds,
            "records": self.sweep.records,
            "summary": {},
        }
        for level in sorted({r["level"] for r in self.sweep.records}):
            s = self.summary(level)
            out["summary"][level] = {m: {k: float(v) for k, v in row.items()} for m, row in s.iterrows()}
        return out

    def format_table(self, level: str = "window") -> str:
        """Plain-text report: per-fold accuracy of every row, leakage, then mean ± std of each metric."""
        df = self.table(level)
        models = list(dict.fromkeys(df["model"]))
        acc = df.pivot_table(index="fold", columns="model", values="accuracy", aggfunc="first")[models]
        leak = {f["fold"]: f["leakage"] for f in self.sweep.folds}
        who = "all subjects pooled" if self.subject is None or self.subject == POOLED else f"subject {self.subject}"
        head = (f"{self.model_name} | {who} | {self.protocol} ({self.n_folds} folds) | {level} level | "
                f"{self.sweep.n_classes} classes")
        w = {m: max(10, len(m) + 2) for m in models}
        lines = [head, "", "accuracy (%) per fold",
                 f"{'fold':<6}{'leakage':>9}" + "".join(f"{m:>{w[m]}}" for m in models)]
        for fold, row in acc.iterrows():
            lines.append(f"{fold:<6}{100 * leak.get(fold, float('nan')):>8.1f}%"
                         + "".join(f"{100 * row[m]:>{w[m]}.1f}" for m in models))
        s = self.summary(level)
        mw = max(len(m) for m in models) + 2
        lines += ["", "mean ± std over folds (%)",
                  f"{'model':<{mw}}" + "".join(f"{_METRIC_TITLES[m]:>20}" for m in METRICS)]
        for model, row in s.iterrows():
            lines.append(f"{model:<{mw}}" + "".join(
                f"{format_mean_std(row[f'{m}_mean'], row[f'{m}_std']):>20}" for m in METRICS))
        lk = self.leakage()
        lines += ["", f"leakage (test windows sharing samples with a training window of their trial): "
                      f"mean {100 * sum(lk) / len(lk):.1f} %, max {100 * max(lk):.1f} %"]
        return "\n".join(lines) + "\n"


def run_experiment(
    windows: WindowSet,
    subject: int | None,
    model_name,
    protocol: str = "trial-holdout",
    n_folds: int | None = None,
    train_cfg: TrainConfig | None = None,
    *,
    model_kwargs: dict | None = None,
    batched: bool = True,
    split_seed: int | None = None,
    checkpoint_dir=None,
    trial_level: bool = True,
    baselines=BASELINES,
    control: bool = False,
    metadata: dict | None = None,
) -> ExperimentResult:
    """Train and evaluate ``model_name`` on one subject under ``protocol``.

    Parameters
    ----------
    windows : WindowSet
        Windows of one or more subjects.
    subject : int | None
        The subject evaluated: its trials are split (``trial-holdout``,
        ``seed-9-6``), it is the held-out subject (``loso``, training on all
        others in ``windows``), or its windows are pooled (``rbt-pooled``;
        ``None`` pools all subjects, as in the paper).
    model_name : str | callable
        Registered model name (or a factory, see :func:`~neuroaffect.training.build_model`).
    protocol : {"trial-holdout", "seed-9-6", "loso", "rbt-pooled"}
    n_folds : int | None
        See :func:`~neuroaffect.training.make_folds`.
    train_cfg : TrainConfig | None
        See :func:`~neuroaffect.training.run_sweep`.
    model_kwargs, batched, split_seed, checkpoint_dir, trial_level, baselines, control
        As in :func:`~neuroaffect.training.run_sweep` (the folds of the subject are
        trained together when ``batched``).
    metadata : dict | None
        Free description stored in the result (dataset, target, task ...).

    Returns
    -------
    result : ExperimentResult
    """
    if subject is None and protocol != "rbt-pooled":
        raise ValueError(f"Invalid value for the 'subject' parameter: protocol {protocol!r} needs a subject, but got None.")
    sweep = run_sweep(
        windows, model_name, model_kwargs, protocol, n_folds, train_cfg, batched,
        subjects=None if subject is None else [subject], split_seed=split_seed, baselines=baselines,
        checkpoint_dir=checkpoint_dir, trial_level=trial_level, control=control,
    )
    return ExperimentResult(subject=None if subject is None else int(subject), sweep=sweep,
                            metadata=dict(metadata or {}))
