"""Per-fold data and models: seeds, the shuffled-label control, standardisation, SMOTE, model building."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..models import create_model, model_entrypoint
from .config import TrainConfig
from .data import WindowSet
from .protocols import POOLED, Fold, apply_smote, split_validation

__all__ = ["FoldData", "build_model", "fold_seed", "prepare_fold", "shuffle_trial_labels"]


def fold_seed(base: int, subject: int, index: int) -> int:
    """Seed of one fold's model (initialisation, shuffling, validation split).

    ``numpy.random.SeedSequence([base, pooled_flag, subject, index])``'s first
    32-bit word: distinct, reproducible seeds per (subject, fold).
    """
    pooled = int(subject == POOLED)
    ss = np.random.SeedSequence([int(base), pooled, 0 if pooled else int(subject), int(index)])
    return int(ss.generate_state(1)[0])


@dataclass(eq=False)
class FoldData:
    """Arrays of one fold, ready for training.

    Attributes
    ----------
    fold : Fold
    seed : int
        The fold's model seed (:func:`fold_seed`).
    X_fit, y_fit : ndarray, shapes (n_fit, ...), (n_fit,) or (n_fit, n_targets)
        Training windows actually fitted (after the validation carve, SMOTE and
        standardisation).
    X_val, y_val : ndarray | None
        Validation windows (whole training trials), when early stopping.
    X_test, y_test : ndarray
        Test windows (standardised with the training statistics).
    y_train_all : ndarray, shape (n_train,)
        Targets of all training-fold windows as split (for the majority / mean baselines).
    control : bool
        Whether the training targets were permuted across trials
        (:func:`shuffle_trial_labels`): the shuffled-label control of this fold.
    """

    fold: Fold
    seed: int
    X_fit: np.ndarray
    y_fit: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray
    y_train_all: np.ndarray
    control: bool = False

    @property
    def name(self) -> str:
        """The fold's name, with ``-control`` for a shuffled-label control."""
        return self.fold.name + ("-control" if self.control else "")


def shuffle_trial_labels(y, trial, seed: int) -> np.ndarray:
    """Permute targets across trials, keeping each trial's windows on one target.

    The targets of the distinct trials are permuted (``numpy.random.default_rng(seed)``) and
    every window takes its trial's new target, so the target distribution over trials is kept
    and any link between a trial's signal and its target is broken. A model trained on them is
    the shuffled-label control: it should score at chance on the true test targets.

    Parameters
    ----------
    y : array-like, shape (n_windows,) or (n_windows, n_targets)
        Window classes or continuous targets (constant within a trial).
    trial : array-like, shape (n_windows,)
        Trial id of each window (ids unique across subjects and sessions).
    seed : int

    Returns
    -------
    y_shuffled : ndarray, same shape and dtype family as ``y`` (int64 for classes)
    """
    y = np.asarray(y)
    y = y.astype(np.int64) if y.dtype.kind in "iub" else y
    trial = np.asarray(trial)
    if y.shape[:1] != trial.shape or trial.ndim != 1:
        raise ValueError(f"y and trial must be of one length, but got shapes {y.shape} and {trial.shape}")
    ids, first, inv = np.unique(trial, return_index=True, return_inverse=True)
    perm = np.random.default_rng(seed).permutation(ids.size)
    return y[first][perm][inv]


def prepare_fold(windows: WindowSet, fold: Fold, cfg: TrainConfig, seed: int, control: bool = False) -> FoldData:
    """Cut one fold's arrays out of ``windows``.

    Order: (0) with ``control``, permute the training targets across the training trials
    (:func:`shuffle_trial_labels`, seeded with the fold seed; test targets stay true); (1) with
    ``cfg.patience`` or ``cfg.validate``, carve ``cfg.val_fraction`` of the training **trials** out for validation
    (:func:`~neuroaffect.training.split_validation`, seeded with the fold seed); (2) with
    ``cfg.standardize``, z-score every input feature with the fitted part's mean and standard
    deviation (applied to fit, validation and test); (3) if the protocol resamples
    (``fold.resample == "smote"``) and the task is classification, SMOTE the fitted part
    (:func:`~neuroaffect.training.apply_smote`, ``random_state=cfg.seed``).
    """
    tr, te = fold.train_idx, fold.test_idx
    X_tr, y_tr = windows.X[tr], windows.y[tr]
    if control:
        y_tr = shuffle_trial_labels(y_tr, windows.trial[tr], seed)
    X_val = y_val = None
    if cfg.patience is not None or cfg.validate:
        fit, val = split_validation(y_tr, windows.trial[tr], cfg.val_fraction, seed)
        X_fit, y_fit, X_val, y_val = X_tr[fit], y_tr[fit], X_tr[val], y_tr[val]
    else:
        X_fit, y_fit = X_tr, y_tr
    X_test = windows.X[te]
    if cfg.standardize:
        mean = X_fit.mean(axis=0, dtype=np.float64)
        std = X_fit.std(axis=0, dtype=np.float64)
        std = np.where(std > 0, std, 1.0)

        def z(a):
            return None if a is None else ((a - mean) / std).astype(np.float32)

        X_fit, X_val, X_test = z(X_fit), z(X_val), z(X_test)
    if fold.resample == "smote" and not windows.is_regression:
        X_fit, y_fit = apply_smote(X_fit, y_fit, seed=cfg.seed)
    return FoldData(fold=fold, seed=seed, X_fit=np.ascontiguousarray(X_fit, dtype=np.float32), y_fit=y_fit,
                    X_val=X_val, y_val=y_val, X_test=np.ascontiguousarray(X_test, dtype=np.float32),
                    y_test=windows.y[te], y_train_all=y_tr, control=bool(control))


def build_model(model_name, *, n_chans: int, n_bands: int, n_outputs: int, seed: int,
                model_kwargs: dict | None = None, ch_pos=None, n_times: int | None = None) -> nn.Module:
    """Create a model with ``torch.manual_seed(seed)`` set just before.

    Parameters
    ----------
    model_name : str | callable
        A registered name (:func:`neuroaffect.models.list_models`) or a factory
        called as ``model_name(n_chans=..., n_bands=..., n_outputs=..., **model_kwargs)``.
    ch_pos : ndarray, shape (n_chans, 3) | None
        Passed as ``ch_pos`` to models that require positions, unless given in ``model_kwargs``.
    n_times : int | None
        Samples per window, passed to raw-signal models (``input_kind == "raw"``).
    """
    kwargs = dict(model_kwargs or {})
    if isinstance(model_name, str):
        entry = model_entrypoint(model_name)
        if getattr(entry, "requires_ch_pos", False) and "ch_pos" not in kwargs:
            if ch_pos is None:
                raise ValueError(f"Model {model_name!r} needs electrode positions: set WindowSet.ch_pos or pass "
                                 "model_kwargs={'ch_pos': array of shape (n_chans, 3)}.")
            kwargs["ch_pos"] = ch_pos
        if getattr(entry, "input_kind", "tokens") == "raw" and "n_times" not in kwargs:
            if not n_times:
                raise ValueError(f"Model {model_name!r} reads raw windows and needs n_times (samples per window): "
                                 "train it on a WindowSet of kind 'raw'.")
            kwargs["n_times"] = int(n_times)
        torch.manual_seed(seed)
        return create_model(model_name, n_chans=n_chans, n_bands=n_bands, n_outputs=n_outputs, **kwargs)
    if not callable(model_name):
        raise TypeError(f"Invalid value for the 'model_name' parameter: expected a registered name or a callable, "
                        f"but got {type(model_name).__name__}.")
    torch.manual_seed(seed)
    return model_name(n_chans=n_chans, n_bands=n_bands, n_outputs=n_outputs, **kwargs)


def check_model_fits(model_name, windows: WindowSet) -> None:
    """Refuse a registered model whose input kind differs from the windows' (tokens, raw, maps)."""
    if not isinstance(model_name, str):
        return
    kind = getattr(model_entrypoint(model_name), "input_kind", "tokens")
    if kind != windows.kind:
        raise ValueError(f"Invalid value for the 'model_name' parameter: {model_name!r} reads {kind} inputs, but the "
                         f"windows hold {windows.kind}.")
