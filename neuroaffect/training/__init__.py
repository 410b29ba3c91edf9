"""Training and evaluation: data container, protocols, the one training engine and its adapters.

- :class:`WindowSet` (``data``): what this layer consumes (tokens, raw windows or maps, with
  class or continuous targets).
- :func:`make_folds` (``protocols``): ``trial-holdout``, ``seed-9-6``, ``loso``,
  ``rbt-pooled``, each fold with its two leakage figures.
- :func:`fit` (``engine``): the one loop (one model or many stacked under ``torch.vmap``,
  in-memory arrays or a DataLoader, any loss, AMP, clipping, best weights by a monitored metric
  with early stopping, callback state and the epoch for the loss, exact resume).
- :func:`train_model` (``loop``) and :func:`train_batched` (``sweep``): adapters of :func:`fit`.
- :func:`run_sweep` (``sweep``): subjects x folds with baselines; :func:`run_experiment`: one subject.
- :func:`load_model` (``checkpoint``): any registered model rebuilt from its checkpoint.

This package never imports MNE or snakemake and never opens data files (only its
own checkpoints and result files).
"""

from ..labels import LABEL_RULES, make_labels, n_label_classes
from .checkpoint import CHECKPOINT_FORMAT, load_checkpoint, load_model
from .config import RBT_POOLED, TrainConfig, resolve_device
from .data import WindowSet, make_synthetic_windows
from .engine import ArraySource, EpochInfo, FitResult, LoaderSource, ProgressReporter, fingerprint, fit, predict
from .experiment import ExperimentResult, run_experiment
from .folds import FoldData, build_model, fold_seed, prepare_fold, shuffle_trial_labels
from .inputs import windows_from_features
from .loop import TrainResult, predict_proba, train_model
from .metrics import (
    average_trials, ccc, chance_metrics, classification_metrics, regression_metrics, summarize, vote_trials,
)
from .objectives import CCCLoss, CrossEntropy, MSELoss, SoftTargetKD, kd_loss, masked_mean
from .protocols import (
    PROTOCOLS, Fold, LeakageReport, apply_smote, assign_trial_folds, compute_leakage, make_folds, overlap_mask,
    split_validation,
)
from .results import FoldPrediction, SweepResult
from .stats import bootstrap_ci, detectable_difference, holm, mean_ci, paired_test, tost_paired
from .sweep import BatchedTrainResult, run_sweep, train_batched, unstack_model

__all__ = [
    "CHECKPOINT_FORMAT",
    "LABEL_RULES",
    "PROTOCOLS",
    "RBT_POOLED",
    "ArraySource",
    "BatchedTrainResult",
    "CCCLoss",
    "CrossEntropy",
    "EpochInfo",
    "ExperimentResult",
    "FitResult",
    "Fold",
    "FoldData",
    "FoldPrediction",
    "LeakageReport",
    "LoaderSource",
    "MSELoss",
    "ProgressReporter",
    "SoftTargetKD",
    "SweepResult",
    "TrainConfig",
    "TrainResult",
    "WindowSet",
    "apply_smote",
    "assign_trial_folds",
    "average_trials",
    "bootstrap_ci",
    "build_model",
    "ccc",
    "chance_metrics",
    "classification_metrics",
    "compute_leakage",
    "detectable_difference",
    "fingerprint",
    "fit",
    "fold_seed",
    "holm",
    "kd_loss",
    "load_checkpoint",
    "load_model",
    "make_folds",
    "make_labels",
    "make_synthetic_windows",
    "masked_mean",
    "mean_ci",
    "n_label_classes",
    "overlap_mask",
    "paired_test",
    "predict",
    "predict_proba",
    "prepare_fold",
    "regression_metrics",
    "resolve_device",
    "run_experiment",
    "run_sweep",
    "shuffle_trial_labels",
    "split_validation",
    "summarize",
    "tost_paired",
    "train_batched",
    "train_model",
    "unstack_model",
    "vote_trials",
    "windows_from_features",
]
