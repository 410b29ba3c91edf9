"""Training and evaluation of the token models: data container, protocols, loop, sweeps.

- :class:`WindowSet` and :func:`make_labels` (``data``): what this layer consumes.
- :func:`make_folds` (``protocols``): ``trial-holdout``, ``seed-9-6``, ``loso``,
  ``rbt-pooled``, each fold with its leakage figure.
- :func:`train_model` and :class:`TrainConfig` (``loop``): one plain PyTorch loop with
  exact resume from checkpoints.
- :func:`run_sweep` (``sweep``): subjects x folds, many models batched with ``torch.vmap``.
- :func:`run_experiment` (``experiment``): one subject, per-fold table with baselines.

This package never imports MNE or snakemake and never opens data files (only its
own checkpoints and result files).
"""

from .data import LABEL_RULES, WindowSet, make_labels, make_synthetic_windows, n_label_classes
from .experiment import ExperimentResult, run_experiment
from .loop import EpochInfo, TrainConfig, TrainResult, load_checkpoint, predict_proba, resolve_device, train_model
from .metrics import chance_metrics, classification_metrics, summarize, vote_trials
from .protocols import (
    PROTOCOLS, Fold, LeakageReport, apply_smote, assign_trial_folds, compute_leakage, make_folds, overlap_mask,
    split_validation,
)
from .sweep import (
    BatchedTrainResult, FoldPrediction, SweepResult, build_model, fold_seed, run_sweep, stacked_predict_proba,
    train_batched, unstack_model,
)

__all__ = [
    "LABEL_RULES",
    "PROTOCOLS",
    "BatchedTrainResult",
    "EpochInfo",
    "ExperimentResult",
    "Fold",
    "FoldPrediction",
    "LeakageReport",
    "SweepResult",
    "TrainConfig",
    "TrainResult",
    "WindowSet",
    "apply_smote",
    "assign_trial_folds",
    "build_model",
    "chance_metrics",
    "classification_metrics",
    "compute_leakage",
    "fold_seed",
    "load_checkpoint",
    "make_folds",
    "make_labels",
    "make_synthetic_windows",
    "n_label_classes",
    "overlap_mask",
    "predict_proba",
    "resolve_device",
    "run_experiment",
    "run_sweep",
    "split_validation",
    "stacked_predict_proba",
    "summarize",
    "train_batched",
    "train_model",
    "unstack_model",
    "vote_trials",
]
