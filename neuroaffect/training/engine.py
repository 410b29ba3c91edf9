"""The one training loop: every trainer of the package is a thin adapter of :func:`fit`.

``fit(model, data, loss_fn, cfg)`` trains

- **one model** (an ``nn.Module``), or **M identically built models at once** (a sequence of
  modules): their parameters are stacked (:func:`torch.func.stack_module_state`) and their
  forward passes run as one ``torch.vmap`` over :func:`torch.func.functional_call`; one AdamW
  steps the stacked tensors. AdamW acts elementwise and the loss is the **sum of the per-model
  mean losses**, so each model's slice of the gradient, of the moments and of the update is what
  a separate AdamW would compute for that model alone: ``M`` plain runs, done together;
- on a **batch source**: :class:`ArraySource` (in-memory arrays, one set per model, padded and
  resident on the device; each model draws its own permutation per epoch from its own seeded
  generator, and an epoch visits ``samples_per_epoch`` positions, smaller sets wrapping around)
  or :class:`LoaderSource` (a ``torch.utils.data.DataLoader`` streaming batches that need not
  fit on the device, e.g. augmented images);
- with any ``loss_fn(outputs, target, mask=None) -> (M,)`` (hard labels, soft targets,
  regression, or a composite returning ``{"loss": ..., "<part>": ...}``; see
  :mod:`~neuroaffect.training.objectives`).

Per epoch: batches, AdamW steps (optional gradient clipping per model), the cosine schedule,
validation, early stopping per model (a stopped model keeps its best weights; its history ends
there), a checkpoint, callbacks. On CPU it runs under
``torch.use_deterministic_algorithms(True, warn_only=True)``: the same seed gives bit-identical
weights, and a run killed at any point and restarted with the same arguments continues from the
last completed epoch and ends bit-identical. A checkpoint written with other arguments or data
is discarded with a one-line notice and training starts afresh. On CUDA the forward pass runs
under bfloat16 autocast when ``cfg.amp``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils._pytree import tree_map

from .checkpoint import (
    CHECKPOINT_FORMAT, CheckpointVersionError, config_json, encode_spec, load_checkpoint, save_checkpoint,
)
from .config import TrainConfig, resolve_device
from .sources import ArraySource, LoaderSource, as_source
from .trainables import SingleModel, StackedModels, as_trainable

__all__ = [
    "TrainingDivergedError",
    "ArraySource",
    "EpochInfo",
    "FitResult",
    "LoaderSource",
    "ProgressReporter",
    "SingleModel",
    "StackedModels",
    "autocast",
    "deterministic_mode",
    "fingerprint",
    "fit",
    "predict",
]

logger = logging.getLogger("neuroaffect.training")


# --- helpers ---------------------------------------------------------------------------------

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


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite loss; ``models`` lists the model indices concerned."""

    def __init__(self, message: str, models=(), epoch: int = -1):
        super().__init__(message)
        self.models = list(models)
        self.epoch = int(epoch)


# --- results and callbacks -------------------------------------------------------------------

@dataclass
class EpochInfo:
    """What a callback receives after each epoch (after its checkpoint was written).

    ``histories`` holds one dict per model; ``history`` / ``model`` are the first model's
    (convenient for single-model training).
    """

    epoch: int                  # 0-based epoch just completed
    n_epochs: int
    histories: list
    trainable: object
    seconds: float = 0.0        # since this call of fit() started
    start_epoch: int = 0        # first epoch trained in this call (> 0 after a resume)
    checkpoint: Path | None = None

    @property
    def history(self) -> dict:
        return self.histories[0]

    @property
    def model(self):
        return getattr(self.trainable, "model", None)


@dataclass
class FitResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    trainable : SingleModel | StackedModels
        The trained weights (best epoch's, per model, when early stopping).
    histories : list of dict, length M
        Per model and epoch: ``train_loss``, ``train_<score>``, ``val_loss``, ``val_<score>``
        (NaN without a validation set), ``lr`` (used in that epoch), ``batch_size``, and
        ``train_<part>`` for each named part of a composite loss.
    best_epochs : list of (int | None)
        Per model, the 0-based epoch whose weights were kept (``None`` without early stopping).
    stopped_early : list of bool
    resumed_from : int | None
        Completed epochs found in the checkpoint at start (``None``: fresh run).
    seconds : float
        Wall-clock time of this call.
    """

    trainable: object
    histories: list
    best_epochs: list
    stopped_early: list
    resumed_from: int | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def model(self) -> nn.Module:
        """The trained module (single-model training)."""
        return self.trainable.model


class ProgressReporter:
    """Callback printing progress: a tqdm bar when ``stream`` is a terminal, else one line per epoch.

    Each line gives the epoch, the models' mean training (and validation) loss, the elapsed
    time and an ETA, e.g. ``[deap valence dgcnn] epoch 3/20: train_loss 0.612, 4.1 s, ETA 23 s``.
    """

    def __init__(self, label: str = "", stream=None, every: int = 1):
        self.label = f"[{label}] " if label else ""
        self.stream = stream or sys.stderr
        self.every = max(1, int(every))
        self._bar = None
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, info: EpochInfo) -> None:
        done = info.epoch + 1 - info.start_epoch
        left = info.n_epochs - info.epoch - 1
        eta = info.seconds / max(done, 1) * left
        tl = np.nanmean([h["train_loss"][-1] for h in info.histories if h["train_loss"]])
        vls = [h["val_loss"][-1] for h in info.histories if h["val_loss"]]
        vl = np.nanmean(vls) if vls and np.isfinite(vls).any() else float("nan")
        msg = f"train_loss {tl:.4f}" + ("" if math.isnan(vl) else f", val_loss {vl:.4f}")
        if self._interactive:
            if self._bar is None:
                from tqdm.auto import tqdm

                self._bar = tqdm(total=info.n_epochs, initial=info.start_epoch, desc=self.label.strip() or "training",
                                 file=self.stream, leave=False)
            self._bar.update(1)
            self._bar.set_postfix_str(msg)
            if left == 0:
                self._bar.close()
                self._bar = None
            return
        if done % self.every == 0 or left == 0:
            print(f"{self.label}epoch {info.epoch + 1}/{info.n_epochs}: {msg}, {info.seconds:.1f} s, "
                  f"ETA {eta:.0f} s", file=self.stream, flush=True)


# --- the loop --------------------------------------------------------------------------------

def _parts(res):
    """Per-model loss (M,) and named parts from a loss function's return value."""
    if isinstance(res, dict):
        if "loss" not in res:
            raise ValueError(f"a loss function returning a dict must hold 'loss', but it held {sorted(res)}")
        return res["loss"], {k: v for k, v in res.items() if k != "loss"}
    return res, {}


@torch.no_grad()
def _evaluate(trainable, source, loss_fn, score_fn, batch_size, device, amp):
    """Per-model mean loss and mean score over a source's samples (numpy float64, shape (M,))."""
    trainable.train(False)
    M = source.n_models
    loss_sum = torch.zeros(M, dtype=torch.float64)
    score_sum = torch.zeros(M, dtype=torch.float64)
    count = torch.zeros(M, dtype=torch.float64)
    for x, t, mask in source.eval_batches(batch_size):
        with autocast(device, amp):
            out = trainable(x)
        out = tree_map(lambda o: o.float() if isinstance(o, torch.Tensor) else o, out)
        loss, _ = _parts(loss_fn(out, t, mask))
        n = (torch.full((M,), x.shape[1], dtype=torch.float64) if mask is None
             else mask.sum(1).double().cpu())
        loss_sum += loss.double().cpu() * n
        if score_fn is not None:
            score_sum += score_fn(out, t, mask).double().cpu()
        count += n
    trainable.train(True)
    count = count.clamp_min(1.0)
    return (loss_sum / count).numpy(), (score_sum / count).numpy() if score_fn is not None else np.full(M, np.nan)


@torch.no_grad()
def predict(model, data, *, device="auto", batch_size: int = 1024, amp: bool = True) -> list:
    """Outputs of a trained model (or stacked models) on every sample of a source.

    Parameters
    ----------
    model : nn.Module | SingleModel | StackedModels
    data : ArraySource | LoaderSource | DataLoader | ndarray
        A bare array is one model's inputs, shape ``(n, ...)``.
    device, batch_size, amp
        As in :class:`~neuroaffect.training.TrainConfig`.

    Returns
    -------
    outputs : list of ndarray of float32, length M
        Model ``m``'s outputs on its own samples, shape ``(n_m, ...)``.
    """
    dev = resolve_device(device) if isinstance(device, str) else device
    if isinstance(data, np.ndarray):
        data = ArraySource([data], device=dev)
    source = as_source(data, device=dev)
    tr = as_trainable(model, dev)
    was = tr.model.training if isinstance(tr, SingleModel) else tr.base.training
    tr.train(False)
    chunks = []
    for x, _, _ in source.eval_batches(batch_size):
        with autocast(dev, amp):
            chunks.append(tr(x).float())
    tr.train(was)
    out = torch.cat(chunks, dim=1)
    return [o.cpu().numpy() for o in source.split(out)]


def fit(
    model,
    data,
    loss_fn: Callable,
    cfg: TrainConfig = TrainConfig(),
    *,
    val=None,
    eval_loss: Callable | None = None,
    score_fn: Callable | None = None,
    seeds: Sequence[int] | None = None,
    checkpoint=None,
    checkpoint_every: int = 1,
    inputs: dict | None = None,
    callbacks: Iterable[Callable[[EpochInfo], None]] = (),
) -> FitResult:
    """Train one model, or ``M`` stacked models, on a batch source with any loss.

    Parameters
    ----------
    model : nn.Module | sequence of nn.Module | SingleModel | StackedModels
        One module (trained as is), or ``M`` identically built modules (trained stacked under
        ``torch.vmap``; their current weights are the starting points).
    data : ArraySource | LoaderSource | DataLoader | tuple
        Training batches; ``(X, y)`` is one model's arrays, shuffled with ``seeds[0]`` (default
        ``cfg.seed``).
    loss_fn : callable
        ``loss_fn(outputs, target, mask=None) -> (M,)`` or a dict with ``"loss"`` (see
        :mod:`~neuroaffect.training.objectives`). Outputs carry a leading model axis.
    cfg : TrainConfig
        Epochs, AdamW (``lr``, ``weight_decay``), cosine schedule to ``min_lr``, batch sizes,
        ``patience``, ``grad_clip``, ``seed`` (global torch RNG: dropout), ``device``, ``amp``.
    val : ArraySource | LoaderSource | DataLoader | tuple | None
        Validation data (one set per model); required with ``cfg.patience``.
    eval_loss : callable | None
        Loss reported on validation data and used for early stopping (default ``loss_fn``).
    score_fn : callable | None
        Per-model summed score of a batch (default ``loss_fn.score`` when it has one).
    seeds : sequence of int | None
        Shuffling seeds when ``data`` is a tuple.
    checkpoint : path-like | None
        File written every ``checkpoint_every`` epochs and at the end. If it exists and was
        written with the same configuration, data and models, training resumes from it (a
        finished one is loaded and returned without training); otherwise (or when written by
        another version of the format) it is discarded with a one-line notice. A checkpoint whose
        content differs from its checksum is refused:
        :class:`~neuroaffect._utils.ArtifactIntegrityError` naming it.
    inputs : dict | None
        Provenance stored in the checkpoint (e.g. feature files and their sha256).
    callbacks : iterable of callable
        Called with an :class:`EpochInfo` after each epoch's checkpoint. An exception raised
        there (e.g. ``KeyboardInterrupt``) stops training; the checkpoint allows resuming.

    Returns
    -------
    result : FitResult
    """
    t0 = time.perf_counter()
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"Invalid value for the 'cfg' parameter: expected a TrainConfig, but got {type(cfg).__name__}.")
    device = resolve_device(cfg.device)
    amp = cfg.amp_on(device)
    source = as_source(data, device=device, seeds=list(seeds) if seeds is not None else [cfg.seed])
    val_source = None if val is None else as_source(val, device=device)
    trainable = as_trainable(model, device)
    M = trainable.n_models
    if source.n_models != M or (val_source is not None and val_source.n_models != M):
        raise ValueError(f"Invalid value for the 'data'/'val' parameters: expected data for {M} model(s), but got "
                         f"{source.n_models}" + ("" if val_source is None else f" and {val_source.n_models}") + ".")
    if cfg.patience is not None and val_source is None:
        raise ValueError("Early stopping (cfg.patience) needs a validation set: pass 'val'.")
    eval_loss = eval_loss or loss_fn
    score_fn = score_fn if score_fn is not None else getattr(loss_fn, "score", None)
    score_name = getattr(loss_fn, "score_name", "score")
    callbacks = list(callbacks)
    keys = ("train_loss", f"train_{score_name}", "val_loss", f"val_{score_name}", "lr", "batch_size")

    torch.manual_seed(cfg.seed)
    opt = torch.optim.AdamW(trainable.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.min_lr)
    histories = [{k: [] for k in keys} for _ in range(M)]
    es = {"best_loss": torch.full((M,), math.inf, dtype=torch.float64),
          "best_epoch": torch.full((M,), -1, dtype=torch.int64),
          "bad": torch.zeros(M, dtype=torch.int64),
          "active": torch.ones(M, dtype=torch.bool)}
    start_epoch, finished, resumed_from = 0, False, None

    config = cfg.to_dict()
    fprint = fingerprint(*source.fingerprint_arrays(),
                         *([] if val_source is None else val_source.fingerprint_arrays()),
                         extra={"seeds": getattr(source, "seeds", None), "n_epoch": source.n_epoch,
                                "arch": trainable.architecture(), "loss": repr(loss_fn), "inputs": inputs,
                                "eval_loss": repr(eval_loss)})
    ckpt = None if checkpoint is None else Path(checkpoint)
    if ckpt is not None and ckpt.exists():
        try:  # a changed file is refused (ArtifactIntegrityError): never resumed from, nor retrained over
            state = load_checkpoint(ckpt)  # CPU: RNG states must stay there; loading moves the rest
            why = _mismatch(state, config, fprint)
        except CheckpointVersionError as err:
            state, why = None, f"written by another version of the package ({err.found})"
        if why:
            logger.warning("%s: %s; discarding it and training from scratch", ckpt, why)
        else:
            trainable.load_weights(state["weights"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["torch_rng"])
            if device.type == "cuda" and state["cuda_rng"]:
                torch.cuda.set_rng_state_all(state["cuda_rng"])
            source.load_state_dict(state["source"])
            histories = [{k: list(v) for k, v in h.items()} for h in state["history"]]
            es = {k: v.clone() for k, v in state["es"].items()}
            trainable.load_best_state(state["best"])
            start_epoch, finished = int(state["epoch"]), bool(state["finished"])
            resumed_from = start_epoch

    def write(epoch_done: int, done: bool):
        if ckpt is None:
            return
        save_checkpoint(ckpt, {
            "format": CHECKPOINT_FORMAT,
            "specs": [encode_spec(s) for s in trainable.specs],
            "config": config_json(config),
            "fingerprint": fprint,
            "inputs": json.dumps(inputs, sort_keys=True, default=str),
            "epoch": epoch_done,
            "finished": done,
            "weights": trainable.weights(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
            "source": source.state_dict(),
            "history": histories,
            "es": es,
            "best": trainable.best_state() or {},
        })

    trainable.train(True)
    with deterministic_mode(device):
        epoch = start_epoch
        while not finished and epoch < cfg.epochs:
            bs = cfg.batch_size_at(epoch)
            lr_used = float(opt.param_groups[0]["lr"])
            loss_sum = torch.zeros(M, device=device)
            score_sum = torch.zeros(M, device=device)
            part_sums: dict = {}
            seen = 0
            for xb, tb, n in source.batches(bs):
                with autocast(device, amp):
                    out = trainable(xb)
                loss_m, parts = _parts(loss_fn(out, tb))
                opt.zero_grad(set_to_none=True)
                loss_m.sum().backward()
                if cfg.grad_clip is not None:
                    trainable.clip_grad_(cfg.grad_clip)
                opt.step()
                loss_sum += loss_m.detach() * n
                if score_fn is not None:
                    score_sum += score_fn(tree_map(lambda o: o.detach() if isinstance(o, torch.Tensor) else o, out), tb)
                for k, v in parts.items():
                    part_sums[k] = part_sums.get(k, 0.0) + v.detach().double().cpu() * n
                seen += n
            sched.step()
            if val_source is not None:
                vloss, vscore = _evaluate(trainable, val_source, eval_loss, score_fn, cfg.eval_batch_size, device, amp)
            else:
                vloss = vscore = np.full(M, np.nan)
            seen = max(seen, 1)
            tl = (loss_sum / seen).cpu().double().numpy()
            bad = np.flatnonzero(~np.isfinite(tl) & es["active"].numpy())
            if bad.size:
                raise TrainingDivergedError(
                    f"training diverged: the loss of model(s) {bad.tolist()} is not finite in epoch {epoch + 1} "
                    f"(lr={cfg.lr:g}, batch size {bs}); expected a finite loss: lower the learning rate or check "
                    "the inputs for extreme values", models=bad.tolist(), epoch=epoch)
            ts = (score_sum / seen).cpu().double().numpy() if score_fn is not None else np.full(M, np.nan)
            active = es["active"].clone()
            for m in np.flatnonzero(active.numpy()):
                h = histories[m]
                for k, v in zip(keys[:4], (tl, ts, vloss, vscore)):
                    h[k].append(float(v[m]))
                h["lr"].append(lr_used)
                h["batch_size"].append(bs)
                for k, v in part_sums.items():
                    h.setdefault(f"train_{k}", []).append(float(v[m] / seen))
            if cfg.patience is not None:
                vl = torch.as_tensor(vloss, dtype=torch.float64)
                improved = active & (vl < es["best_loss"])
                es["best_loss"] = torch.where(improved, vl, es["best_loss"])
                es["best_epoch"] = torch.where(improved, torch.tensor(epoch), es["best_epoch"])
                es["bad"] = torch.where(improved, 0, es["bad"] + active.long())
                es["active"] = active & (es["bad"] < cfg.patience)
                trainable.keep_best(improved)
            epoch += 1
            finished = epoch >= cfg.epochs or not bool(es["active"].any())
            if finished:
                trainable.restore_best()
            if finished or epoch % checkpoint_every == 0:
                write(epoch, finished)
            info = EpochInfo(epoch=epoch - 1, n_epochs=cfg.epochs, histories=histories, trainable=trainable,
                             seconds=time.perf_counter() - t0, start_epoch=start_epoch, checkpoint=ckpt)
            for cb in callbacks:
                cb(info)
    trainable.train(False)
    patience = cfg.patience is not None
    return FitResult(
        trainable=trainable,
        histories=histories,
        best_epochs=[int(e) if patience else None for e in es["best_epoch"].tolist()],
        stopped_early=[bool(patience and not a) for a in es["active"].tolist()],
        resumed_from=resumed_from,
        seconds=time.perf_counter() - t0,
    )


def _mismatch(state: dict, config: dict, fprint: str) -> str:
    """Why a checkpoint cannot be resumed ('' when it can)."""
    saved = json.loads(state["config"])
    if saved != config:
        diff = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
        return f"written with another training configuration (differs in {', '.join(diff)})"
    if state["fingerprint"] != fprint:
        return "written for other data, models or seeds"
    return ""
