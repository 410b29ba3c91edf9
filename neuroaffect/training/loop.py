"""One plain PyTorch training loop: AdamW, cosine schedule, label smoothing, early stopping,
checkpoints that resume exactly.

The loop is deliberately small: tensors live on the device, each epoch draws a
permutation from a seeded :class:`torch.Generator` and slices it into batches
(:func:`epoch_indices`). After every epoch it writes a checkpoint (atomic:
temporary file, then rename) holding the model, optimiser, scheduler, both RNG
states, the epoch and the history, so that a run killed at any point and
restarted with the same arguments continues from the last completed epoch and
ends with bit-identical weights on CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import numbers
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._utils import atomic_path

__all__ = [
    "CHECKPOINT_FORMAT",
    "EpochInfo",
    "TrainConfig",
    "TrainResult",
    "epoch_indices",
    "load_checkpoint",
    "predict_proba",
    "resolve_device",
    "train_model",
]

CHECKPOINT_FORMAT = "neuroaffect-train-checkpoint/1"
HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "batch_size")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (hashable, JSON-serialisable).

    Parameters
    ----------
    epochs : int
        Number of epochs.
    batch_size : int
        Windows per optimiser step (see also ``batch_size_schedule``).
    lr : float
        Initial AdamW learning rate.
    weight_decay : float
        AdamW (decoupled) weight decay.
    label_smoothing : float
        Cross-entropy label smoothing, in [0, 1).
    min_lr : float
        Final learning rate of the cosine schedule (``CosineAnnealingLR``,
        ``T_max = epochs``, stepped once per epoch).
    patience : int | None
        Early stopping: stop after this many epochs without a lower validation
        loss and restore the best epoch's weights. ``None``: no early stopping
        and no validation split.
    val_fraction : float
        Fraction of training **trials** carved out for validation when
        ``patience`` is set (see :func:`~neuroaffect.training.split_validation`).
    seed : int
        Seeds the shuffling generator and the global torch RNG (dropout).
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    amp : bool
        Mixed precision (bfloat16 autocast) on CUDA; ignored on CPU.
    batch_size_schedule : tuple of (int, int)
        ``(from_epoch, batch_size)`` pairs (0-based epochs) overriding
        ``batch_size`` from that epoch on, e.g. ``((150, 64),)``.
    standardize : bool
        Z-score each (channel, band) feature with the training fold's mean and
        standard deviation before training (applied by the sweep and experiment
        runners when they prepare a fold; :func:`train_model` takes the arrays as given).
    eval_batch_size : int
        Windows per forward pass when evaluating.
    """

    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-3
    label_smoothing: float = 0.1
    min_lr: float = 1e-6
    patience: int | None = None
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    batch_size_schedule: tuple = ()
    standardize: bool = True
    eval_batch_size: int = 1024

    def __post_init__(self):
        def pos_int(name, allow_none=False):
            v = getattr(self, name)
            if allow_none and v is None:
                return
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"Invalid value for the {name!r} parameter: expected a positive int, but got {v!r}.")

        for name in ("epochs", "batch_size", "eval_batch_size"):
            pos_int(name)
        pos_int("patience", allow_none=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise ValueError(f"Invalid value for the 'seed' parameter: expected an int >= 0, but got {self.seed!r}.")
        for name in ("lr", "min_lr", "weight_decay"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
                raise ValueError(f"Invalid value for the {name!r} parameter: expected a finite float >= 0, but got {v!r}.")
        if self.lr <= 0 or self.min_lr > self.lr:
            raise ValueError(f"Invalid values of 'lr' and 'min_lr': expected 0 < min_lr <= lr, but got lr={self.lr!r}, "
                             f"min_lr={self.min_lr!r}.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"Invalid value for the 'label_smoothing' parameter: expected [0, 1), but got {self.label_smoothing!r}.")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"Invalid value for the 'val_fraction' parameter: expected (0, 1), but got {self.val_fraction!r}.")
        resolve_device(self.device, check_available=False)
        try:
            sched = tuple((int(e), int(b)) for e, b in self.batch_size_schedule)
        except (TypeError, ValueError):
            raise ValueError(
                "Invalid value for the 'batch_size_schedule' parameter: expected (from_epoch, batch_size) pairs, "
                f"but got {self.batch_size_schedule!r}."
            ) from None
        if any(e < 0 or b < 1 for e, b in sched) or list(sched) != sorted(sched):
            raise ValueError(
                "Invalid value for the 'batch_size_schedule' parameter: expected sorted pairs with epoch >= 0 "
                f"and batch_size >= 1, but got {self.batch_size_schedule!r}."
            )
        object.__setattr__(self, "batch_size_schedule", sched)

    def batch_size_at(self, epoch: int) -> int:
        """Batch size used in ``epoch`` (0-based)."""
        size = self.batch_size
        for start, b in self.batch_size_schedule:
            if epoch >= start:
                size = b
        return size

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dict of all fields (the schedule as a list of lists)."""
        d = dataclasses.asdict(self)
        d["batch_size_schedule"] = [list(p) for p in self.batch_size_schedule]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Inverse of :meth:`to_dict` (unknown keys raise ``TypeError``)."""
        return cls(**d)

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset(cls, name: str, **changes) -> "TrainConfig":
        """A named configuration.

        ``"rbt-pooled"``: the RBTransformer paper's training (SPEC 3): AdamW
        lr 1e-3, weight decay 1e-3, label smoothing 0.12, cosine to 1e-6 over
        300 epochs, batch 256 then 64 from epoch 150, seed 23, no early
        stopping, no standardisation (the authors feed band DE as is).
        ``"default"``: the field defaults.
        """
        presets = {"default": cls(), "rbt-pooled": RBT_POOLED}
        if name not in presets:
            raise ValueError(f"Invalid value for the 'name' parameter. Allowed values are "
                             f"{', '.join(map(repr, presets))}, but got {name!r} instead.")
        return presets[name].replace(**changes) if changes else presets[name]


def resolve_device(device: str, check_available: bool = True) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; other strings are checked.

    Raises ``ValueError`` for an unknown device string or (with
    ``check_available``) for CUDA requested on a machine without it.
    """
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise ValueError(f"Invalid value for the 'device' parameter. Allowed values are 'auto', 'cpu', 'cuda', "
                         f"'cuda:N', but got {device!r} instead.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if check_available and dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Invalid value for the 'device' parameter: {device!r} requested, but CUDA is not available.")
    return dev


#: The RBTransformer paper's training (see ``TrainConfig.preset("rbt-pooled")``).
RBT_POOLED = TrainConfig(
    epochs=300, batch_size=256, batch_size_schedule=((150, 64),), lr=1e-3, weight_decay=1e-3,
    label_smoothing=0.12, min_lr=1e-6, patience=None, seed=23, standardize=False,
)


@contextlib.contextmanager
def deterministic_mode(device: torch.device):
    """On CPU, ``torch.use_deterministic_algorithms(True, warn_only=True)`` for the block (restored after)."""
    if device.type != "cpu":
        yield
        return
    was, warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=warn)


def autocast(device: torch.device, enabled: bool):
    """bfloat16 autocast on CUDA when ``enabled``; a no-op context elsewhere."""
    if device.type == "cuda" and enabled:
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def epoch_indices(perm: torch.Tensor, n_samples: int, batch_size: int) -> list[torch.Tensor]:
    """The batches of one epoch.

    Rule (shared by the plain loop and the batched sweep): the epoch visits
    ``n_samples`` positions ``0 .. n_samples - 1`` of the permutation, taken
    modulo its length (wrap-around when ``n_samples > len(perm)``), in batches
    of ``batch_size``; the last batch holds the remainder.

    Parameters
    ----------
    perm : Tensor of int64, shape (n,)
        This epoch's permutation of the training windows.
    n_samples : int
        Samples per epoch (``n`` in a plain run; the largest training set in a sweep).
    batch_size : int

    Returns
    -------
    batches : list of Tensor of int64
        Window indices per step.
    """
    pos = torch.arange(n_samples, device=perm.device) % perm.numel()
    return list(perm[pos].split(batch_size))


@dataclass
class EpochInfo:
    """What a callback receives after each epoch (and after its checkpoint was written)."""

    epoch: int            # 0-based epoch just completed
    history: dict
    model: nn.Module | None = None
    checkpoint: Path | None = None


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model (best validation epoch's weights when early stopping).
    history : dict of str -> list of float
        Per epoch: ``train_loss, train_acc, val_loss, val_acc`` (NaN without a
        validation set), ``lr`` (used in that epoch), ``batch_size``.
    epochs_run : int
    best_epoch : int | None
        0-based epoch whose weights were kept (early stopping), else ``None``.
    stopped_early : bool
    resumed_from : int | None
        Completed epochs found in the checkpoint at start (``None``: fresh run).
    seconds : float
        Wall-clock time of this call.
    n_train, n_val : int
        Windows used for fitting and for validation.
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


def _empty_history() -> dict:
    return {k: [] for k in HISTORY_KEYS}


def fingerprint(*arrays, extra=None) -> str:
    """sha256 over array shapes, dtypes and bytes (and a JSON-able ``extra``)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(a.tobytes())
    h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save`` of a dict, atomically (temporary file beside ``path``, then rename)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a checkpoint written by this module with ``torch.load(weights_only=True)``.

    Raises ``ValueError`` if the file is not such a checkpoint.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # unreadable, truncated, or holding disallowed objects
        raise ValueError(f"{path}: expected a training checkpoint ({CHECKPOINT_FORMAT}), but it could not be "
                         f"loaded: {err}") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path}: expected a training checkpoint ({CHECKPOINT_FORMAT}), but found {found!r}")
    return state


def check_resumable(path: Path, state: dict, config: dict, fprint: str) -> None:
    """Refuse to resume from a checkpoint written with other arguments."""
    saved = json.loads(state["config"])
    if saved != config:
        diff = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
        raise ValueError(
            f"{path}: expected a checkpoint of the same training configuration, but found differences in "
            f"{diff}; delete the file or use another checkpoint path."
        )
    if state["fingerprint"] != fprint:
        raise ValueError(
            f"{path}: expected a checkpoint of the same data and model, but its fingerprint differs; "
            "delete the file or use another checkpoint path."
        )


def _check_xy(X, y, what: str):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"Invalid value for the 'X{what}' parameter: expected shape (n_windows, n_chans, n_bands), "
                         f"but got shape {X.shape}.")
    if y.shape != (X.shape[0],) or y.dtype.kind not in "iu":
        raise ValueError(f"Invalid value for the 'y{what}' parameter: expected int labels of shape ({X.shape[0]},), "
                         f"but got {y.dtype} of shape {y.shape}.")
    return X.astype(np.float32, copy=False), y.astype(np.int64, copy=False)


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None, batch_size: int,
             device: torch.device, amp: bool) -> tuple[torch.Tensor, float, float]:
    """Logits (n, n_outputs) on CPU float32, mean unsmoothed cross-entropy and accuracy."""
    was = model.training
    model.eval()
    outs = []
    with autocast(device, amp):
        for xb in X.split(batch_size):
            outs.append(model(xb).float())
    model.train(was)
    logits = torch.cat(outs)
    if y is None:
        return logits.cpu(), float("nan"), float("nan")
    loss = F.cross_entropy(logits, y).item()
    acc = (logits.argmax(1) == y).float().mean().item()
    return logits.cpu(), loss, acc


def predict_proba(model: nn.Module, X, *, device: str = "auto", batch_size: int = 1024,
                  amp: bool = True) -> np.ndarray:
    """Class probabilities of a trained model.

    Parameters
    ----------
    model : torch.nn.Module
    X : array-like, shape (n_windows, n_chans, n_bands)
    device, batch_size, amp
        As in :class:`TrainConfig`.

    Returns
    -------
    proba : ndarray of float32, shape (n_windows, n_outputs)
    """
    dev = resolve_device(device)
    model.to(dev)
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32), device=dev)
    logits, _, _ = evaluate(model, Xt, None, batch_size, dev, amp)
    return torch.softmax(logits, dim=1).numpy()


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
) -> TrainResult:
    """Train ``model`` on windows with one plain PyTorch loop.

    Per epoch: draw a permutation of the training windows from a
    ``torch.Generator`` seeded with ``cfg.seed``, step AdamW on each batch of
    :func:`epoch_indices` (cross-entropy with ``cfg.label_smoothing``, mean over
    the batch), step the cosine schedule, evaluate the validation set (if any),
    update early stopping, write the checkpoint, call the callbacks.

    On CPU it runs under ``torch.use_deterministic_algorithms(True,
    warn_only=True)`` and, for a fixed ``cfg.seed`` and initial weights, gives
    bit-identical results. On CUDA it uses bfloat16 autocast when ``cfg.amp``.

    Parameters
    ----------
    model : torch.nn.Module
        Initialised model, input (batch, n_chans, n_bands) -> logits (batch, n_outputs).
    X : array-like of float, shape (n_windows, n_chans, n_bands)
        Training tokens.
    y : array-like of int, shape (n_windows,)
        Training classes.
    cfg : TrainConfig
    groups : array-like of int, shape (n_windows,) | None
        Trial of each training window: with ``cfg.patience`` and no ``X_val``,
        ``cfg.val_fraction`` of the training **trials** become the validation set.
    X_val, y_val : array-like | None
        An explicit validation set (then ``groups`` is not used).
    checkpoint : path-like | None
        File to write after every ``checkpoint_every`` epochs (and at the end).
        If it exists, training resumes from it (it must come from the same
        configuration, data and model architecture: else ``ValueError``); a
        finished checkpoint is loaded and returned without training.
    samples_per_epoch : int | None
        Windows visited per epoch (default: ``len(X)``). Larger values wrap
        around the epoch's permutation (see :func:`epoch_indices`).
    callbacks : iterable of callable
        Called with an :class:`EpochInfo` after each epoch's checkpoint. An
        exception raised here (e.g. ``KeyboardInterrupt``) stops training; the
        checkpoint allows resuming.
    checkpoint_every : int
        Epochs between checkpoints.

    Returns
    -------
    result : TrainResult
    """
    t0 = time.perf_counter()
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"Invalid value for the 'cfg' parameter: expected a TrainConfig, but got {type(cfg).__name__}.")
    X, y = _check_xy(X, y, "")
    if cfg.patience is not None and X_val is None:
        if groups is None:
            raise ValueError("Early stopping (cfg.patience) needs a validation set: pass X_val/y_val, or 'groups' "
                             "(the trial of each window) to carve one from the training trials.")
        groups = np.asarray(groups)
        if groups.shape != y.shape:
            raise ValueError(f"Invalid value for the 'groups' parameter: expected shape {y.shape}, but got {groups.shape}.")
        from .protocols import split_validation

        fit, val = split_validation(y, groups, cfg.val_fraction, cfg.seed)
        X, y, X_val, y_val = X[fit], y[fit], X[val], y[val]
    if X_val is not None:
        X_val, y_val = _check_xy(X_val, y_val, "_val")
    n = X.shape[0]
    n_epoch = n if samples_per_epoch is None else int(samples_per_epoch)
    if n_epoch < 1:
        raise ValueError(f"Invalid value for the 'samples_per_epoch' parameter: expected >= 1, but got {samples_per_epoch!r}.")

    device = resolve_device(cfg.device)
    callbacks = list(callbacks)
    model.to(device)
    Xt = torch.as_tensor(X, device=device)
    yt = torch.as_tensor(y, device=device)
    Xv = None if X_val is None else torch.as_tensor(X_val, device=device)
    yv = None if y_val is None else torch.as_tensor(y_val, device=device)

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.min_lr)
    history = _empty_history()
    best = {"loss": math.inf, "epoch": -1, "bad_epochs": 0, "state": None}
    start_epoch, finished, stopped, resumed_from = 0, False, False, None

    config = cfg.to_dict()
    arch = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    fprint = fingerprint(X, y, X_val, y_val, extra={"arch": arch, "class": type(model).__name__,
                                                     "samples_per_epoch": n_epoch})
    ckpt = None if checkpoint is None else Path(checkpoint)
    if ckpt is not None and ckpt.exists():
        state = load_checkpoint(ckpt)  # CPU: RNG states must stay there; load_state_dict moves the rest
        check_resumable(ckpt, state, config, fprint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state["cuda_rng"]:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        gen.set_state(state["generator"])
        history = {k: list(v) for k, v in state["history"].items()}
        best = dict(state["best"])
        start_epoch, finished = int(state["epoch"]), bool(state["finished"])
        stopped = bool(state["stopped_early"])
        resumed_from = start_epoch

    def write(epoch_done: int, done: bool):
        if ckpt is None:
            return
        save_checkpoint(ckpt, {
            "format": CHECKPOINT_FORMAT,
            "config": json.dumps(config, sort_keys=True),
            "fingerprint": fprint,
            "epoch": epoch_done,
            "finished": done,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
            "generator": gen.get_state(),
            "history": history,
            "best": best,
            "stopped_early": stopped,
        })

    with deterministic_mode(device):
        model.train()
        epoch = start_epoch
        while not finished and epoch < cfg.epochs:
            bs = cfg.batch_size_at(epoch)
            lr_used = opt.param_groups[0]["lr"]
            perm = torch.randperm(n, generator=gen).to(device)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device)
            for idx in epoch_indices(perm, n_epoch, bs):
                xb, yb = Xt[idx], yt[idx]
                with autocast(device, cfg.amp):
                    logits = model(xb)
                loss = F.cross_entropy(logits.float(), yb, label_smoothing=cfg.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += loss.detach() * idx.numel()
                correct += (logits.detach().argmax(1) == yb).sum()
            sched.step()
            history["train_loss"].append(loss_sum.item() / n_epoch)
            history["train_acc"].append(correct.item() / n_epoch)
            history["lr"].append(float(lr_used))
            history["batch_size"].append(bs)
            if Xv is not None:
                _, vloss, vacc = evaluate(model, Xv, yv, cfg.eval_batch_size, device, cfg.amp)
            else:
                vloss = vacc = float("nan")
            history["val_loss"].append(vloss)
            history["val_acc"].append(vacc)
            if cfg.patience is not None:
                if vloss < best["loss"]:
                    best = {"loss": vloss, "epoch": epoch, "bad_epochs": 0,
                            "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
                else:
                    best["bad_epochs"] += 1
                stopped = best["bad_epochs"] >= cfg.patience
            epoch += 1
            finished = stopped or epoch >= cfg.epochs
            if finished and best["state"] is not None:
                model.load_state_dict(best["state"])
            if finished or epoch % checkpoint_every == 0:
                write(epoch, finished)
            for cb in callbacks:
                cb(EpochInfo(epoch=epoch - 1, history=history, model=model, checkpoint=ckpt))
    model.eval()
    return TrainResult(
        model=model,
        history=history,
        epochs_run=len(history["train_loss"]),
        best_epoch=None if cfg.patience is None else int(best["epoch"]),
        stopped_early=bool(stopped),
        resumed_from=resumed_from,
        seconds=time.perf_counter() - t0,
        n_train=n,
        n_val=0 if X_val is None else int(X_val.shape[0]),
    )
