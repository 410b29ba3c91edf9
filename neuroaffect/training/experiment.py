"""One subject-dependent experiment: per-fold metrics of a model beside its baselines.

``run_experiment`` is what ``neuroaffect experiment`` runs: one subject, one
model, one protocol; per fold the model, the majority class of the training
fold, logistic regression on the tokens and chance, plus the fold's leakage;
then mean ± std over folds (printed by :func:`neuroaffect.report.experiment_text`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .data import WindowSet
from .loop import TrainConfig
from .metrics import summarize
from .results import SweepResult
from .sweep import run_sweep

__all__ = ["ExperimentResult", "run_experiment"]


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

    def leakage(self) -> list[float]:
        """Per fold: the trial overlap (fraction of test windows whose trial also has training windows)."""
        return [f["trial_overlap"] for f in self.sweep.folds]

    def to_dict(self) -> dict:
        """JSON-serialisable result: metadata, config, per-fold rows, summaries, leakage, curves."""
        return {"subject": self.subject, "n_folds": self.n_folds, "metadata": dict(self.metadata),
                **self.sweep.to_dict()}

    def summary(self, level: str = "window") -> pd.DataFrame:
        """Mean ± std over folds per model (population std)."""
        return summarize(self.table(level), by="fold", metrics=self.sweep.metrics)


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
    baselines=None,
    control: bool = False,
    metadata: dict | None = None,
    loss: str | None = None,
    progress=None,
    inputs: dict | None = None,
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
    model_kwargs, batched, split_seed, checkpoint_dir, trial_level, baselines, control, loss, progress, inputs
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
        checkpoint_dir=checkpoint_dir, trial_level=trial_level, control=control, loss=loss, progress=progress,
        inputs=inputs,
    )
    return ExperimentResult(subject=None if subject is None else int(subject), sweep=sweep,
                            metadata=dict(metadata or {}))
