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

Per epoch (named steps of :func:`fit`): the loss is told the epoch (``loss_fn.set_epoch``),
batches, AdamW steps (optional gradient clipping per model), the cosine schedule; validation
(loss, score and any ``val_metrics``); selection of the best weights by a monitored history key
(``monitor``, ``mode``; ``"val_loss"``/``"min"`` by default) with early stopping per model (a
stopped model keeps its best weights; its history ends there); a checkpoint; callbacks (whose
``state_dict`` the checkpoint keeps, written after them). On CPU it runs under
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
    """What a callback receives after each epoch (see :func:`fit` for when the checkpoint is written).

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
        Model ``m``'s outputs on its own samples, shape ``(n_m, ...)``; for a model returning a
        dict of tensors, a dict of such arrays per model (one forward pass gives every entry).
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
            chunks.append(tree_map(lambda o: o.float(), tr(x)))
    tr.train(was)
    if isinstance(chunks[0], torch.Tensor):
        return [o.cpu().numpy() for o in source.split(torch.cat(chunks, dim=1))]
    parts = {k: [o.cpu().numpy() for o in source.split(torch.cat([c[k] for c in chunks], dim=1))] for k in chunks[0]}
    return [{k: v[m] for k, v in parts.items()} for m in range(source.n_models)]


@dataclass
class _Run:
    """Everything one call of :func:`fit` carries from epoch to epoch (see :func:`_prepare`)."""

    cfg: TrainConfig
    device: torch.device
    amp: bool
    trainable: object
    source: object
    val_source: object
    loss_fn: Callable
    eval_loss: Callable
    score_fn: Callable | None
    val_metrics: Callable | None
    callbacks: list
    keys: tuple
    monitor: str
    mode: str
    select: bool
    opt: object
    sched: object
    histories: list
    es: dict
    config: dict
    fprint: str
    ckpt: Path | None
    inputs: dict | None
    start_epoch: int = 0
    finished: bool = False
    resumed_from: int | None = None

    @property
    def stateful(self) -> list:
        """The callbacks (and ``val_metrics``) whose state the checkpoint keeps."""
        return [c for c in (*self.callbacks, self.val_metrics) if hasattr(c, "state_dict")
                and hasattr(c, "load_state_dict")]


def _prepare(model, data, loss_fn, cfg, *, val, eval_loss, score_fn, seeds, checkpoint, inputs, callbacks,
             val_metrics, monitor, mode, select) -> _Run:
    """Check the arguments and build the run: sources, trainable, AdamW, cosine schedule, fingerprint."""
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"Invalid value for the 'cfg' parameter: expected a TrainConfig, but got {type(cfg).__name__}.")
    if mode not in ("min", "max"):
        raise ValueError(f"Invalid value for the 'mode' parameter: expected 'min' or 'max', but got {mode!r}.")
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(f"Invalid value for the 'monitor' parameter: expected a history key such as 'val_loss', "
                         f"but got {monitor!r}.")
    device = resolve_device(cfg.device)
    source = as_source(data, device=device, seeds=list(seeds) if seeds is not None else [cfg.seed])
    val_source = None if val is None else as_source(val, device=device)
    trainable = as_trainable(model, device)
    M = trainable.n_models
    if source.n_models != M or (val_source is not None and val_source.n_models != M):
        raise ValueError(f"Invalid value for the 'data'/'val' parameters: expected data for {M} model(s), but got "
                         f"{source.n_models}" + ("" if val_source is None else f" and {val_source.n_models}") + ".")
    eval_loss = eval_loss or loss_fn
    score_fn = score_fn if score_fn is not None else getattr(loss_fn, "score", None)
    score_name = getattr(loss_fn, "score_name", "score")
    keys = ("train_loss", f"train_{score_name}", "val_loss", f"val_{score_name}", "lr", "batch_size")
    select = cfg.patience is not None if select is None else bool(select)
    if select and val_source is None and monitor in keys[2:4]:
        raise ValueError("Early stopping (cfg.patience) needs a validation set: pass 'val'." if cfg.patience is not None
                         else f"Selecting the best epoch by {monitor!r} needs a validation set: pass 'val'.")
    default = monitor == "val_loss" and mode == "min"
    extra = {"seeds": getattr(source, "seeds", None), "n_epoch": source.n_epoch, "arch": trainable.architecture(),
             "loss": repr(loss_fn), "inputs": inputs, "eval_loss": repr(eval_loss)}
    if not default or val_metrics is not None or select != (cfg.patience is not None):
        extra["selection"] = {"monitor": monitor, "mode": mode, "select": select,
                              "val_metrics": getattr(val_metrics, "__qualname__", type(val_metrics).__qualname__)}
    fprint = fingerprint(*source.fingerprint_arrays(),
                         *([] if val_source is None else val_source.fingerprint_arrays()), extra=extra)
    torch.manual_seed(cfg.seed)
    # the fused kernel (CPU and CUDA): one pass over each tensor instead of a dozen elementwise ops per step
    opt = torch.optim.AdamW(trainable.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                            fused=device.type in ("cpu", "cuda") or None)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.min_lr)
    es = {"best_score": torch.full((M,), math.inf if mode == "min" else -math.inf, dtype=torch.float64),
          "best_epoch": torch.full((M,), -1, dtype=torch.int64),
          "bad": torch.zeros(M, dtype=torch.int64),
          "active": torch.ones(M, dtype=torch.bool)}
    return _Run(cfg=cfg, device=device, amp=cfg.amp_on(device), trainable=trainable, source=source,
                val_source=val_source, loss_fn=loss_fn, eval_loss=eval_loss, score_fn=score_fn,
                val_metrics=val_metrics, callbacks=list(callbacks), keys=keys, monitor=monitor, mode=mode,
                select=select, opt=opt, sched=sched, histories=[{k: [] for k in keys} for _ in range(M)], es=es,
                config=cfg.to_dict(), fprint=fprint, ckpt=None if checkpoint is None else Path(checkpoint),
                inputs=inputs)


def _resume(run: _Run) -> None:
    """Load the run's checkpoint when it exists and was written with the same arguments (else a notice)."""
    if run.ckpt is None or not run.ckpt.exists():
        return
    try:  # a changed file is refused (ArtifactIntegrityError): never resumed from, nor retrained over
        state = load_checkpoint(run.ckpt)  # CPU: RNG states must stay there; loading moves the rest
        why = _mismatch(state, run.config, run.fprint)
    except CheckpointVersionError as err:
        state, why = None, f"written by another version of the package ({err.found})"
    if why:
        logger.warning("%s: %s; discarding it and training from scratch", run.ckpt, why)
        return
    run.trainable.load_weights(state["weights"])
    run.opt.load_state_dict(state["optimizer"])
    run.sched.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if run.device.type == "cuda" and state["cuda_rng"]:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    run.source.load_state_dict(state["source"])
    run.histories = [{k: list(v) for k, v in h.items()} for h in state["history"]]
    es = dict(state["es"])
    if "best_loss" in es:  # written before selection by any monitored metric: the validation loss's
        es["best_score"] = es.pop("best_loss")
    run.es = {k: v.clone() for k, v in es.items()}
    run.trainable.load_best_state(state["best"])
    for obj, s in zip(run.stateful, state.get("callbacks") or []):
        obj.load_state_dict(s)
    run.start_epoch, run.finished = int(state["epoch"]), bool(state["finished"])
    run.resumed_from = run.start_epoch


def _write(run: _Run, epoch_done: int, done: bool, restore: bool = False) -> None:
    """Write the checkpoint after ``epoch_done`` epochs (``done``: training finished).

    With ``restore``, the checkpoint holds the best weights kept by the selection (when there
    are) while the live weights stay the last epoch's until :func:`fit` returns.
    """
    if run.ckpt is None:
        return
    live = None
    if restore and run.trainable.best_state() is not None:
        live = tree_map(lambda t: t.detach().clone() if isinstance(t, torch.Tensor) else t, run.trainable.weights())
        run.trainable.restore_best()
    save_checkpoint(run.ckpt, {
        "format": CHECKPOINT_FORMAT,
        "specs": [encode_spec(s) for s in run.trainable.specs],
        "config": config_json(run.config),
        "fingerprint": run.fprint,
        "inputs": json.dumps(run.inputs, sort_keys=True, default=str),
        "epoch": epoch_done,
        "finished": done,
        "weights": run.trainable.weights(),
        "optimizer": run.opt.state_dict(),
        "scheduler": run.sched.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if run.device.type == "cuda" else [],
        "source": run.source.state_dict(),
        "history": run.histories,
        "es": run.es,
        "best": run.trainable.best_state() or {},
        "callbacks": [obj.state_dict() for obj in run.stateful],
    })
    if live is not None:
        run.trainable.load_weights(live)


def _train_epoch(run: _Run, epoch: int) -> dict:
    """One epoch of AdamW steps; per-model mean loss, score and loss parts (numpy, shape (M,))."""
    cfg, trainable, device, M = run.cfg, run.trainable, run.device, run.trainable.n_models
    for f in {id(run.loss_fn): run.loss_fn, id(run.eval_loss): run.eval_loss}.values():
        if hasattr(f, "set_epoch"):
            f.set_epoch(epoch, cfg.epochs)
    bs = cfg.batch_size_at(epoch)
    lr_used = float(run.opt.param_groups[0]["lr"])
    loss_sum = torch.zeros(M, device=device)
    score_sum = torch.zeros(M, device=device)
    part_sums: dict = {}
    seen = 0
    for xb, tb, n in run.source.batches(bs):
        with autocast(device, run.amp):
            out = trainable(xb)
        loss_m, parts = _parts(run.loss_fn(out, tb))
        run.opt.zero_grad(set_to_none=True)
        loss_m.sum().backward()
        if cfg.grad_clip is not None:
            trainable.clip_grad_(cfg.grad_clip)
        run.opt.step()
        loss_sum += loss_m.detach() * n
        if run.score_fn is not None:
            score_sum += run.score_fn(tree_map(lambda o: o.detach() if isinstance(o, torch.Tensor) else o, out), tb)
        for k, v in parts.items():
            part_sums[k] = part_sums.get(k, 0.0) + v.detach().double().cpu() * n
        seen += n
    run.sched.step()
    seen = max(seen, 1)
    tl = (loss_sum / seen).cpu().double().numpy()
    ts = (score_sum / seen).cpu().double().numpy() if run.score_fn is not None else np.full(M, np.nan)
    return {"loss": tl, "score": ts, "parts": {k: v / seen for k, v in part_sums.items()}, "bs": bs, "lr": lr_used}


def _validate(run: _Run, epoch: int, tr: dict) -> dict:
    """Validation loss and score, the divergence check, then ``val_metrics``: ``{history key: (M,)}``."""
    M = run.trainable.n_models
    if run.val_source is not None:
        vloss, vscore = _evaluate(run.trainable, run.val_source, run.eval_loss, run.score_fn,
                                  run.cfg.eval_batch_size, run.device, run.amp)
    else:
        vloss = vscore = np.full(M, np.nan)
    bad = np.flatnonzero(~np.isfinite(tr["loss"]) & run.es["active"].numpy())
    if bad.size:
        raise TrainingDivergedError(
            f"training diverged: the loss of model(s) {bad.tolist()} is not finite in epoch {epoch + 1} "
            f"(lr={run.cfg.lr:g}, batch size {tr['bs']}); expected a finite loss: lower the learning rate or check "
            "the inputs for extreme values", models=bad.tolist(), epoch=epoch)
    out = {run.keys[2]: vloss, run.keys[3]: vscore}
    if run.val_metrics is not None:
        tr_ = run.trainable
        was = tr_.model.training if isinstance(tr_, SingleModel) else tr_.base.training
        got = run.val_metrics(tr_.model if isinstance(tr_, SingleModel) else tr_)
        tr_.train(was)
        if not isinstance(got, dict):
            raise TypeError(f"val_metrics must return a dict of history keys to per-model values, but returned "
                            f"{type(got).__name__}")
        for k, v in got.items():
            out[k] = np.broadcast_to(np.asarray(v, dtype=np.float64), (M,))
    return out


def _record(run: _Run, tr: dict, val: dict) -> torch.Tensor:
    """Append the epoch to the histories of the models still training; returns those models (bool, (M,))."""
    active = run.es["active"].clone()
    for m in np.flatnonzero(active.numpy()):
        h = run.histories[m]
        for k, v in zip(run.keys[:2], (tr["loss"], tr["score"])):
            h[k].append(float(v[m]))
        for k in run.keys[2:4]:
            h[k].append(float(val[k][m]))
        h["lr"].append(tr["lr"])
        h["batch_size"].append(tr["bs"])
        for k, v in tr["parts"].items():
            h.setdefault(f"train_{k}", []).append(float(v[m]))
        for k, v in val.items():
            if k not in run.keys:
                h.setdefault(k, []).append(float(v[m]))
    return active


def _select(run: _Run, epoch: int, active: torch.Tensor) -> None:
    """Best weights by the monitored metric (the first of equal best scores wins) and early stopping."""
    if not run.select:
        return
    if any(run.monitor not in run.histories[m] for m in np.flatnonzero(active.numpy())):
        raise ValueError(f"Invalid value for the 'monitor' parameter: {run.monitor!r} is not in the history; "
                         f"expected one of {sorted(run.histories[0])}.")
    score = torch.tensor([h[run.monitor][-1] if h[run.monitor] else math.nan for h in run.histories],
                         dtype=torch.float64)
    es = run.es
    better = score < es["best_score"] if run.mode == "min" else score > es["best_score"]
    improved = active & better
    es["best_score"] = torch.where(improved, score, es["best_score"])
    es["best_epoch"] = torch.where(improved, torch.tensor(epoch), es["best_epoch"])
    if run.cfg.patience is not None:
        es["bad"] = torch.where(improved, 0, es["bad"] + active.long())
        es["active"] = active & (es["bad"] < run.cfg.patience)
    run.trainable.keep_best(improved)


def _epochs(run: _Run, t0: float, checkpoint_every: int) -> None:
    """The epochs left: train, validate, record, select, checkpoint and callbacks (in the order of :func:`fit`)."""
    cfg = run.cfg
    after_callbacks = bool(run.stateful)
    run.trainable.train(True)
    with deterministic_mode(run.device):
        epoch = run.start_epoch
        while not run.finished and epoch < cfg.epochs:
            tr = _train_epoch(run, epoch)
            val_out = _validate(run, epoch, tr)
            _select(run, epoch, _record(run, tr, val_out))
            epoch += 1
            run.finished = epoch >= cfg.epochs or not bool(run.es["active"].any())
            due = run.finished or epoch % checkpoint_every == 0
            if due and not after_callbacks:
                _write(run, epoch, run.finished, restore=run.finished)
            info = EpochInfo(epoch=epoch - 1, n_epochs=cfg.epochs, histories=run.histories, trainable=run.trainable,
                             seconds=time.perf_counter() - t0, start_epoch=run.start_epoch, checkpoint=run.ckpt)
            for cb in run.callbacks:
                cb(info)
            if due and after_callbacks:
                _write(run, epoch, run.finished, restore=run.finished)


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
    val_metrics: Callable | None = None,
    monitor: str = "val_loss",
    mode: str = "min",
    select: bool | None = None,
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
        :mod:`~neuroaffect.training.objectives`). Outputs carry a leading model axis. When it has
        ``set_epoch(epoch, n_epochs)``, the engine calls it before each epoch (0-based ``epoch``,
        ``n_epochs = cfg.epochs``), also after a resume: e.g. a term ramped in over training.
    cfg : TrainConfig
        Epochs, AdamW (``lr``, ``weight_decay``), cosine schedule to ``min_lr``, batch sizes,
        ``patience``, ``grad_clip``, ``seed`` (global torch RNG: dropout), ``device``, ``amp``.
    val : ArraySource | LoaderSource | DataLoader | tuple | None
        Validation data (one set per model) for ``val_loss`` and ``val_<score>``.
    eval_loss : callable | None
        Loss reported on validation data (default ``loss_fn``).
    score_fn : callable | None
        Per-model summed score of a batch (default ``loss_fn.score`` when it has one).
    seeds : sequence of int | None
        Shuffling seeds when ``data`` is a tuple.
    checkpoint : path-like | None
        File written every ``checkpoint_every`` epochs and at the end, after the epoch's
        validation and selection and before the callbacks run; when a callback (or
        ``val_metrics``) has ``state_dict()`` / ``load_state_dict()``, after the callbacks, with
        their states. If it exists and was written with the same configuration, data and models,
        training resumes from it (a finished one is loaded and returned without training);
        otherwise (or when written by another version of the format) it is discarded with a
        one-line notice. A checkpoint whose content differs from its checksum is refused:
        :class:`~neuroaffect._utils.ArtifactIntegrityError` naming it.
    inputs : dict | None
        Provenance stored in the checkpoint (e.g. feature files and their sha256).
    callbacks : iterable of callable
        Called with an :class:`EpochInfo` after each epoch (the epoch's weights, before the best
        ones are restored at the end). An exception raised there (e.g. ``KeyboardInterrupt``)
        stops training; the checkpoint allows resuming.
    val_metrics : callable | None
        ``val_metrics(model) -> {history key: value}`` after each epoch, on the module (one
        model) or the :class:`StackedModels`; a value is a float or per-model, shape (M,). Its
        keys (e.g. ``"val_macro_f1"``) enter the history and can be monitored.
    monitor, mode : str
        The history key whose best value selects the weights kept, and whether lower (``"min"``)
        or higher (``"max"``) is better; the first epoch of equal best scores wins.
    select : bool | None
        Keep the best epoch's weights by ``monitor`` (default: when ``cfg.patience`` is set, early
        stopping on ``monitor`` too); ``True`` without patience selects over all epochs.

    Returns
    -------
    result : FitResult
    """
    t0 = time.perf_counter()
    run = _prepare(model, data, loss_fn, cfg, val=val, eval_loss=eval_loss, score_fn=score_fn, seeds=seeds,
                   checkpoint=checkpoint, inputs=inputs, callbacks=callbacks, val_metrics=val_metrics,
                   monitor=monitor, mode=mode, select=select)
    _resume(run)
    _epochs(run, t0, checkpoint_every)
    if run.finished:
        run.trainable.restore_best()
    run.trainable.train(False)
    return FitResult(
        trainable=run.trainable,
        histories=run.histories,
        best_epochs=[int(e) if run.select else None for e in run.es["best_epoch"].tolist()],
        stopped_early=[bool(cfg.patience is not None and not a) for a in run.es["active"].tolist()],
        resumed_from=run.resumed_from,
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
