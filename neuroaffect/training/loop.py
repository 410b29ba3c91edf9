"""Single-model training: :func:`train_model` and :func:`predict_proba`, thin adapters of the engine.

``train_model(model, X, y, cfg)`` is :func:`~neuroaffect.training.engine.fit` with one model,
in-memory arrays and the objective chosen from the targets: cross-entropy with
``cfg.label_smoothing`` for integer classes, mean squared error for continuous targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from .config import RBT_POOLED, TrainConfig, resolve_device
from .engine import ArraySource, EpochInfo, fit, predict
from .objectives import CrossEntropy, MSELoss

__all__ = ["RBT_POOLED", "EpochInfo", "TrainConfig", "TrainResult", "objective_for", "predict_proba",
           "resolve_device", "train_model"]


def objective_for(y, cfg: TrainConfig, loss: str | None = None):
    """(training objective, validation objective) for targets ``y``.

    Integer classes: cross-entropy with ``cfg.label_smoothing`` (validation: unsmoothed).
    Continuous targets: ``loss`` ``"mse"`` (default) or ``"ccc"`` (``1 - CCC``), for both.
    """
    from .objectives import CCCLoss

    if np.asarray(y).dtype.kind in "iub":
        return CrossEntropy(cfg.label_smoothing), CrossEntropy(0.0)
    if loss in (None, "mse"):
        return MSELoss(), MSELoss()
    if loss == "ccc":
        return CCCLoss(), CCCLoss()
    raise ValueError(f"Invalid value for the 'loss' parameter. Allowed values are 'mse', 'ccc', but got {loss!r} instead.")


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model (best validation epoch's weights when early stopping).
    history : dict of str -> list of float
        Per epoch: ``train_loss, train_acc, val_loss, val_acc`` (``_mae`` for regression; NaN
        without a validation set), ``lr`` (used in that epoch), ``batch_size``.
    epochs_run : int
    best_epoch : int | None
        0-based epoch whose weights were kept (early stopping), else ``None``.
    stopped_early : bool
    resumed_from : int | None
        Completed epochs found in the checkpoint at start (``None``: fresh run).
    seconds : float
        Wall-clock time of this call.
    n_train, n_val : int
        Samples used for fitting and for validation.
    """

    model: nn.Module
    history: dict
    epochs_run: int
    best_epoch: int | None = None
    stopped_early: bool = False
    resumed_from: int | None = None
    seconds: float = 0.0
    n_train: int = 0
    n_val: int = 0
    extra: dict = field(default_factory=dict)


def _check_xy(X, y, what: str):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"Invalid value for the 'X{what}' parameter: expected shape (n_samples, ...), "
                         f"but got shape {X.shape}.")
    if y.shape[:1] != (X.shape[0],) or y.dtype.kind not in "iuf":
        raise ValueError(f"Invalid value for the 'y{what}' parameter: expected int classes or float targets with "
                         f"{X.shape[0]} rows, but got {y.dtype} of shape {y.shape}.")
    return X.astype(np.float32, copy=False), (y.astype(np.int64, copy=False) if y.dtype.kind in "iu"
                                              else y.astype(np.float32, copy=False))


def train_model(
    model: nn.Module,
    X,
    y,
    cfg: TrainConfig = TrainConfig(),
    *,
    groups=None,
    X_val=None,
    y_val=None,
    checkpoint=None,
    samples_per_epoch: int | None = None,
    callbacks: Iterable[Callable[[EpochInfo], None]] = (),
    checkpoint_every: int = 1,
    loss: str | None = None,
    inputs: dict | None = None,
) -> TrainResult:
    """Train one model on in-memory arrays (:func:`~neuroaffect.training.engine.fit` with ``M = 1``).

    Per epoch: a permutation of the training samples drawn from a ``torch.Generator`` seeded
    with ``cfg.seed``, AdamW steps on its batches, the cosine schedule, validation, early
    stopping, a checkpoint, the callbacks. Bit-identical on CPU for a fixed seed and initial
    weights; bfloat16 autocast on CUDA when ``cfg.amp``.

    Parameters
    ----------
    model : torch.nn.Module
        Initialised model, input (batch, ...) -> outputs (batch, n_outputs).
    X : array-like of float, shape (n_samples, ...)
        Training inputs (e.g. tokens (n, n_chans, n_bands)).
    y : array-like, shape (n_samples,) or (n_samples, n_targets)
        Integer classes (cross-entropy) or float targets (regression, see ``loss``).
    cfg : TrainConfig
    groups : array-like of int, shape (n_samples,) | None
        Trial of each sample: with ``cfg.patience`` and no ``X_val``, ``cfg.val_fraction`` of
        the training **trials** become the validation set.
    X_val, y_val : array-like | None
        An explicit validation set (then ``groups`` is not used).
    checkpoint : path-like | None
        Resumable checkpoint file (see :func:`~neuroaffect.training.engine.fit`).
    samples_per_epoch : int | None
        Samples visited per epoch (default ``len(X)``; larger values wrap around).
    callbacks : iterable of callable
        Called with an :class:`~neuroaffect.training.engine.EpochInfo` after each epoch.
    checkpoint_every : int
        Epochs between checkpoints.
    loss : {"mse", "ccc"} | None
        Regression loss for float targets (default ``"mse"``).
    inputs : dict | None
        Provenance stored in the checkpoint (e.g. feature files and their sha256).

    Returns
    -------
    result : TrainResult
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"Invalid value for the 'cfg' parameter: expected a TrainConfig, but got {type(cfg).__name__}.")
    X, y = _check_xy(X, y, "")
    if cfg.patience is not None and X_val is None:
        if groups is None:
            raise ValueError("Early stopping (cfg.patience) needs a validation set: pass X_val/y_val, or 'groups' "
                             "(the trial of each window) to carve one from the training trials.")
        groups = np.asarray(groups)
        if groups.shape != y.shape[:1]:
            raise ValueError(f"Invalid value for the 'groups' parameter: expected shape {y.shape[:1]}, but got "
                             f"{groups.shape}.")
        from .protocols import split_validation

        fit_idx, val_idx = split_validation(y, groups, cfg.val_fraction, cfg.seed)
        X, y, X_val, y_val = X[fit_idx], y[fit_idx], X[val_idx], y[val_idx]
    if X_val is not None:
        X_val, y_val = _check_xy(X_val, y_val, "_val")
    device = resolve_device(cfg.device)
    train_obj, val_obj = objective_for(y, cfg, loss)
    res = fit(
        model, ArraySource([X], [y], [cfg.seed], device=device, samples_per_epoch=samples_per_epoch), train_obj, cfg,
        val=None if X_val is None else ArraySource([X_val], [y_val], device=device), eval_loss=val_obj,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, callbacks=callbacks, inputs=inputs,
    )
    return TrainResult(
        model=res.model, history=res.histories[0], epochs_run=len(res.histories[0]["train_loss"]),
        best_epoch=res.best_epochs[0], stopped_early=res.stopped_early[0], resumed_from=res.resumed_from,
        seconds=res.seconds, n_train=int(X.shape[0]), n_val=0 if X_val is None else int(X_val.shape[0]),
    )


def predict_proba(model: nn.Module, X, *, device: str = "auto", batch_size: int = 1024,
                  amp: bool = True) -> np.ndarray:
    """Class probabilities of a trained classifier.

    Parameters
    ----------
    model : torch.nn.Module
    X : array-like, shape (n_samples, ...)
    device, batch_size, amp
        As in :class:`TrainConfig`.

    Returns
    -------
    proba : ndarray of float32, shape (n_samples, n_outputs)
    """
    (logits,) = predict(model, np.asarray(X, dtype=np.float32), device=device, batch_size=batch_size, amp=amp)
    return torch.softmax(torch.from_numpy(logits), dim=1).numpy()
