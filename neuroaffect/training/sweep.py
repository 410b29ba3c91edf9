"""Sweeps over subjects x folds, with many small models trained at once as one batched model.

Subject-dependent models are small, so a GPU (or CPU) spends most of a plain
loop's time on per-step overhead. :func:`train_batched` stacks the parameters of
``M`` identically built models (:func:`torch.func.stack_module_state`), runs
their forward passes as one ``torch.vmap`` over :func:`torch.func.functional_call`,
and steps **one** AdamW over the stacked tensors. Because AdamW acts elementwise
and the loss is the **sum of the per-model mean losses**, each model's slice of
the gradient, of the moment estimates and of the update is exactly what a
separate AdamW would compute for that model alone (same learning rate, weight
decay and schedule): the batched sweep is ``M`` plain runs, done together.

Per-model data: each model sees only its own fold's training windows. Rule for
training sets of different sizes ``n_m``: every epoch, model ``m`` draws its own
permutation of its ``n_m`` windows from its own generator (seeded with its
fold seed); the epoch visits ``n_epoch = max_m n_m`` positions (the largest
training set of the whole sweep), model ``m`` taking positions modulo ``n_m``
(wrap-around), so all models take batches of the same size at every step and
smaller training sets are revisited within an epoch. The plain loop
(``run_sweep(..., batched=False)``) trains each model with the same rule
(``train_model(..., samples_per_epoch=n_epoch)``), so both paths give the same
weights up to float rounding when the models have no dropout; with dropout the
masks are drawn differently (``vmap(randomness="different")``) and the results
agree in distribution only.

Early stopping is per model: a model whose patience has run out keeps its best
weights and its history stops there; the shared computation may continue for
the others, and the stopped model's later updates are discarded.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .._utils import atomic_write_text
from ..models import LogisticTokens, MajorityClassifier, create_model, model_entrypoint, stack_models
from .data import WindowSet
from .loop import (
    CHECKPOINT_FORMAT, HISTORY_KEYS, TrainConfig, autocast, check_resumable, deterministic_mode,
    fingerprint, load_checkpoint, predict_proba, resolve_device, save_checkpoint, train_model,
)
from .metrics import METRICS, chance_metrics, classification_metrics, format_mean_std, summarize, vote_trials
from .protocols import POOLED, Fold, apply_smote, make_folds, split_validation

__all__ = [
    "BatchedTrainResult",
    "FoldData",
    "FoldPrediction",
    "auto_group_size",
    "SweepResult",
    "build_model",
    "fold_seed",
    "prepare_fold",
    "run_sweep",
    "shuffle_trial_labels",
    "stacked_predict_proba",
    "train_batched",
    "unstack_model",
]

BASELINES = ("majority", "logistic")
#: Suffix of the shuffled-label control's model name in result tables.
CONTROL_SUFFIX = " (shuffled labels)"


# --- per-fold data ---------------------------------------------------------------------------

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
    X_fit, y_fit : ndarray, shapes (n_fit, n_chans, n_bands), (n_fit,)
        Training windows actually fitted (after the validation carve, SMOTE and
        standardisation).
    X_val, y_val : ndarray | None
        Validation windows (whole training trials), when early stopping.
    X_test, y_test : ndarray
        Test windows (standardised with the training statistics).
    y_train_all : ndarray, shape (n_train,)
        Classes of all training-fold windows as split (for the majority baseline).
    control : bool
        Whether the training labels were permuted across trials
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
    """Permute labels across trials, keeping each trial's windows on one label.

    The labels of the distinct trials are permuted (``numpy.random.default_rng(seed)``) and
    every window takes its trial's new label, so the class counts over trials are kept and
    any link between a trial's signal and its label is broken. A model trained on them is the
    shuffled-label control: it should score at chance on the true test labels.

    Parameters
    ----------
    y : array-like of int, shape (n_windows,)
        Window classes (constant within a trial).
    trial : array-like, shape (n_windows,)
        Trial id of each window (ids unique across subjects and sessions).
    seed : int

    Returns
    -------
    y_shuffled : ndarray of int64, shape (n_windows,)
    """
    y = np.asarray(y, dtype=np.int64)
    trial = np.asarray(trial)
    if y.shape != trial.shape or y.ndim != 1:
        raise ValueError(f"y and trial must be 1-D of one length, but got shapes {y.shape} and {trial.shape}")
    ids, first, inv = np.unique(trial, return_index=True, return_inverse=True)
    perm = np.random.default_rng(seed).permutation(ids.size)
    return y[first][perm][inv]


def prepare_fold(windows: WindowSet, fold: Fold, cfg: TrainConfig, seed: int, control: bool = False) -> FoldData:
    """Cut one fold's arrays out of ``windows``.

    Order: (0) with ``control``, permute the training labels across the training trials
    (:func:`shuffle_trial_labels`, seeded with the fold seed; test labels stay true); (1) with
    ``cfg.patience``, carve ``cfg.val_fraction`` of the training **trials** out for validation
    (:func:`~neuroaffect.training.split_validation`, seeded with the fold seed); (2) with ``cfg.standardize``, z-score every
    (channel, band) with the fitted part's mean and standard deviation (applied
    to fit, validation and test); (3) if the protocol resamples
    (``fold.resample == "smote"``), SMOTE the fitted part
    (:func:`~neuroaffect.training.apply_smote`, ``random_state=cfg.seed``).
    """
    tr, te = fold.train_idx, fold.test_idx
    X_tr, y_tr = windows.X[tr], windows.y[tr]
    if control:
        y_tr = shuffle_trial_labels(y_tr, windows.trial[tr], seed)
    X_val = y_val = None
    if cfg.patience is not None:
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
    if fold.resample == "smote":
        X_fit, y_fit = apply_smote(X_fit, y_fit, seed=cfg.seed)
    return FoldData(fold=fold, seed=seed, X_fit=np.ascontiguousarray(X_fit, dtype=np.float32), y_fit=y_fit,
                    X_val=X_val, y_val=y_val, X_test=np.ascontiguousarray(X_test, dtype=np.float32),
                    y_test=windows.y[te], y_train_all=y_tr, control=bool(control))


def build_model(model_name, *, n_chans: int, n_bands: int, n_outputs: int, seed: int,
                model_kwargs: dict | None = None, ch_pos=None) -> nn.Module:
    """Create a model with ``torch.manual_seed(seed)`` set just before.

    Parameters
    ----------
    model_name : str | callable
        A registered name (:func:`neuroaffect.models.list_models`) or a factory
        called as ``model_name(n_chans=..., n_bands=..., n_outputs=..., **model_kwargs)``.
    ch_pos : ndarray, shape (n_chans, 3) | None
        Passed as ``ch_pos`` to models that require positions, unless given in ``model_kwargs``.
    """
    kwargs = dict(model_kwargs or {})
    if isinstance(model_name, str):
        if getattr(model_entrypoint(model_name), "requires_ch_pos", False) and "ch_pos" not in kwargs:
            if ch_pos is None:
                raise ValueError(f"Model {model_name!r} needs electrode positions: set WindowSet.ch_pos or pass "
                                 "model_kwargs={'ch_pos': array of shape (n_chans, 3)}.")
            kwargs["ch_pos"] = ch_pos
        torch.manual_seed(seed)
        return create_model(model_name, n_chans=n_chans, n_bands=n_bands, n_outputs=n_outputs, **kwargs)
    if not callable(model_name):
        raise TypeError(f"Invalid value for the 'model_name' parameter: expected a registered name or a callable, "
                        f"but got {type(model_name).__name__}.")
    torch.manual_seed(seed)
    return model_name(n_chans=n_chans, n_bands=n_bands, n_outputs=n_outputs, **kwargs)


# --- the batched trainer ---------------------------------------------------------------------

@dataclass
class BatchedTrainResult:
    """Outcome of :func:`train_batched`.

    Attributes
    ----------
    params, buffers : dict of str -> Tensor, leading axis n_models
        Final (best, with early stopping) stacked states.
    base : torch.nn.Module
        Parameter-free skeleton for :func:`torch.func.functional_call`.
    histories : list of dict
        Per model, as ``TrainResult.history``.
    best_epochs : list of int | None
    stopped_early : list of bool
    resumed_from : int | None
    seconds : float
    """

    params: dict
    buffers: dict
    base: nn.Module
    histories: list
    best_epochs: list
    stopped_early: list
    resumed_from: int | None = None
    seconds: float = 0.0


def _pad(arrays: Sequence[np.ndarray], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack arrays of different lengths into (M, n_max, ...) zeros-padded, plus lengths (M,)."""
    n = np.array([a.shape[0] for a in arrays])
    out = np.zeros((len(arrays), int(n.max())) + arrays[0].shape[1:], dtype=arrays[0].dtype)
    for m, a in enumerate(arrays):
        out[m, : a.shape[0]] = a
    return torch.as_tensor(out, device=device), torch.as_tensor(n, device=device)


def _vmapped(base: nn.Module):
    def call(p, b, x):
        return functional_call(base, (p, b), (x,))

    return torch.vmap(call, in_dims=(0, 0, 0), randomness="different")


@torch.no_grad()
def _stacked_eval(base, params, buffers, Xpad, npad, ypad, batch_size, device, amp):
    """Logits (list of (n_m, K) CPU tensors), and per-model mean CE / accuracy if ``ypad`` is given."""
    was = base.training
    base.eval()
    vm = _vmapped(base)
    outs = []
    with autocast(device, amp):
        for s in range(0, Xpad.shape[1], batch_size):
            outs.append(vm(params, buffers, Xpad[:, s:s + batch_size]).float())
    base.train(was)
    logits = torch.cat(outs, dim=1)  # (M, n_max, K)
    M, n_max, K = logits.shape
    if ypad is None:
        return [logits[m, : int(npad[m])].cpu() for m in range(M)], None, None
    mask = torch.arange(n_max, device=logits.device)[None, :] < npad[:, None]
    ce = F.cross_entropy(logits.reshape(-1, K), ypad.reshape(-1), reduction="none").reshape(M, n_max)
    loss = (ce * mask).sum(1) / npad
    acc = ((logits.argmax(-1) == ypad) & mask).sum(1) / npad
    return None, loss.cpu().double().numpy(), acc.cpu().double().numpy()


def stacked_predict_proba(base, params, buffers, X_list: Sequence[np.ndarray], *, device: str = "auto",
                          batch_size: int = 1024, amp: bool = True) -> list[np.ndarray]:
    """Class probabilities of ``M`` stacked models, each on its own windows.

    Parameters
    ----------
    base, params, buffers
        As returned in :class:`BatchedTrainResult`.
    X_list : sequence of ndarray, each shape (n_m, n_chans, n_bands)

    Returns
    -------
    probas : list of ndarray of float32, shapes (n_m, n_outputs)
    """
    dev = resolve_device(device)
    Xpad, npad = _pad([np.asarray(x, dtype=np.float32) for x in X_list], dev)
    logits, _, _ = _stacked_eval(base, params, buffers, Xpad, npad, None, batch_size, dev, amp)
    return [torch.softmax(lg, dim=1).numpy() for lg in logits]


def unstack_model(template: nn.Module, params: dict, buffers: dict, m: int) -> nn.Module:
    """Load model ``m`` of a stacked state into ``template`` (an identically built module) and return it."""
    state = {k: v[m].detach().cpu() for k, v in {**params, **buffers}.items()}
    template.load_state_dict(state)
    return template


def train_batched(
    models: Sequence[nn.Module],
    fits: Sequence[tuple[np.ndarray, np.ndarray]],
    cfg: TrainConfig,
    seeds: Sequence[int],
    *,
    vals: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    samples_per_epoch: int | None = None,
    checkpoint=None,
    callbacks: Sequence[Callable] = (),
    checkpoint_every: int = 1,
) -> BatchedTrainResult:
    """Train ``M`` identically built models at once, each on its own data.

    Parameters
    ----------
    models : sequence of torch.nn.Module, length M
        Same class and constructor arguments; their current weights are the
        starting points.
    fits : sequence of (X, y), length M
        Training tokens (n_m, n_chans, n_bands) float32 and classes (n_m,) int.
    cfg : TrainConfig
        Shared hyper-parameters; ``cfg.seed`` seeds the global torch RNG (dropout).
    seeds : sequence of int, length M
        Per-model shuffling seeds (each model's ``torch.Generator``).
    vals : sequence of (X_val, y_val), length M | None
        Per-model validation sets (required with ``cfg.patience``).
    samples_per_epoch : int | None
        Positions per epoch (default ``max_m n_m``); see the module docstring.
    checkpoint : path-like | None
        One file for the whole group, written every ``checkpoint_every`` epochs
        and at the end; an existing file is resumed from (same arguments
        required), exactly as in :func:`~neuroaffect.training.train_model`.
    callbacks : sequence of callable
        Called with ``(epoch, histories)`` after each epoch's checkpoint.

    Returns
    -------
    result : BatchedTrainResult
    """
    t0 = time.perf_counter()
    M = len(models)
    if M == 0 or len(fits) != M or len(seeds) != M:
        raise ValueError(f"Invalid values of 'models'/'fits'/'seeds': expected equal non-zero lengths, but got "
                         f"{len(models)}, {len(fits)}, {len(seeds)}.")
    if cfg.patience is not None and vals is None:
        raise ValueError("Early stopping (cfg.patience) needs per-model validation sets: pass 'vals'.")
    device = resolve_device(cfg.device)
    Xs = [np.ascontiguousarray(x, dtype=np.float32) for x, _ in fits]
    ys = [np.asarray(y, dtype=np.int64) for _, y in fits]
    sizes = [x.shape[0] for x in Xs]
    n_epoch = max(sizes) if samples_per_epoch is None else int(samples_per_epoch)
    Xpad, _ = _pad(Xs, device)
    ypad, _ = _pad(ys, device)
    if vals is not None:
        Xv, nv = _pad([np.ascontiguousarray(x, dtype=np.float32) for x, _ in vals], device)
        yv, _ = _pad([np.asarray(y, dtype=np.int64) for _, y in vals], device)

    params, buffers, base = stack_models(models)
    params = {k: v.detach().to(device).requires_grad_(True) for k, v in params.items()}
    buffers = {k: v.to(device) for k, v in buffers.items()}
    base.train()
    vm = _vmapped(base)

    torch.manual_seed(cfg.seed)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    opt = torch.optim.AdamW(list(params.values()), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.min_lr)
    histories = [{k: [] for k in HISTORY_KEYS} for _ in range(M)]
    es = {
        "best_loss": torch.full((M,), math.inf, dtype=torch.float64),
        "best_epoch": torch.full((M,), -1, dtype=torch.int64),
        "bad": torch.zeros(M, dtype=torch.int64),
        "active": torch.ones(M, dtype=torch.bool),
    }
    best_params = {k: v.detach().clone() for k, v in params.items()} if cfg.patience is not None else None
    start_epoch, finished, resumed_from = 0, False, None

    config = cfg.to_dict()
    fprint = fingerprint(*Xs, *ys, *(a for pair in (vals or ()) for a in pair), extra={
        "seeds": [int(s) for s in seeds], "class": type(models[0]).__name__, "n_epoch": n_epoch,
        "arch": [(k, tuple(v.shape)) for k, v in params.items()]})
    ckpt = None if checkpoint is None else Path(checkpoint)
    if ckpt is not None and ckpt.exists():
        state = load_checkpoint(ckpt)  # CPU: RNG states must stay there; load_state_dict moves the rest
        check_resumable(ckpt, state, config, fprint)
        with torch.no_grad():
            for k in params:
                params[k].copy_(state["model"][k])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state["cuda_rng"]:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        for g, s in zip(gens, state["generator"]):
            g.set_state(s)
        histories = [{k: list(v) for k, v in h.items()} for h in state["history"]]
        es = {k: v.clone() for k, v in state["best"]["es"].items()}
        if best_params is not None:
            best_params = {k: v.to(device) for k, v in state["best"]["params"].items()}
        start_epoch, finished = int(state["epoch"]), bool(state["finished"])
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
            "model": {k: v.detach() for k, v in params.items()},
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
            "generator": [g.get_state() for g in gens],
            "history": histories,
            "best": {"es": es, "params": best_params if best_params is not None else {}},
        })

    arange_m = torch.arange(M, device=device)
    with deterministic_mode(device):
        epoch = start_epoch
        while not finished and epoch < cfg.epochs:
            bs = cfg.batch_size_at(epoch)
            lr_used = float(opt.param_groups[0]["lr"])
            pos = torch.arange(n_epoch)
            order = torch.stack([torch.randperm(n, generator=g)[pos % n] for n, g in zip(sizes, gens)]).to(device)
            loss_sum = torch.zeros(M, device=device)
            correct = torch.zeros(M, device=device)
            for idx in order.split(bs, dim=1):  # (M, b)
                xb = Xpad[arange_m[:, None], idx]
                yb = ypad[arange_m[:, None], idx]
                with autocast(device, cfg.amp):
                    logits = vm(params, buffers, xb)
                K = logits.shape[-1]
                per = F.cross_entropy(logits.float().reshape(-1, K), yb.reshape(-1),
                                      label_smoothing=cfg.label_smoothing, reduction="none")
                loss_m = per.reshape(yb.shape).mean(dim=1)
                opt.zero_grad(set_to_none=True)
                loss_m.sum().backward()
                opt.step()
                loss_sum += loss_m.detach() * idx.shape[1]
                correct += (logits.detach().argmax(-1) == yb).sum(dim=1)
            sched.step()
            if vals is not None:
                _, vloss, vacc = _stacked_eval(base, params, buffers, Xv, nv, yv, cfg.eval_batch_size, device, cfg.amp)
            else:
                vloss = vacc = np.full(M, np.nan)
            tl = (loss_sum / n_epoch).cpu().double().numpy()
            ta = (correct / n_epoch).cpu().double().numpy()
            active = es["active"].clone()
            for m in np.flatnonzero(active.numpy()):
                h = histories[m]
                h["train_loss"].append(float(tl[m]))
                h["train_acc"].append(float(ta[m]))
                h["val_loss"].append(float(vloss[m]))
                h["val_acc"].append(float(vacc[m]))
                h["lr"].append(lr_used)
                h["batch_size"].append(bs)
            if cfg.patience is not None:
                vl = torch.as_tensor(vloss, dtype=torch.float64)
                improved = active & (vl < es["best_loss"])
                es["best_loss"] = torch.where(improved, vl, es["best_loss"])
                es["best_epoch"] = torch.where(improved, torch.tensor(epoch), es["best_epoch"])
                es["bad"] = torch.where(improved, 0, es["bad"] + active.long())
                es["active"] = active & (es["bad"] < cfg.patience)
                if improved.any():
                    sel = improved.to(device)
                    for k in params:
                        best_params[k][sel] = params[k].detach()[sel]
            epoch += 1
            finished = epoch >= cfg.epochs or not bool(es["active"].any())
            if finished and best_params is not None:
                with torch.no_grad():
                    for k in params:
                        params[k].copy_(best_params[k])
            if finished or epoch % checkpoint_every == 0:
                write(epoch, finished)
            for cb in callbacks:
                cb(epoch - 1, histories)
    base.eval()
    patience = cfg.patience is not None
    return BatchedTrainResult(
        params={k: v.detach() for k, v in params.items()},
        buffers=buffers,
        base=base,
        histories=histories,
        best_epochs=[int(e) if patience else None for e in es["best_epoch"].tolist()],
        stopped_early=[bool(patience and not a) for a in es["active"].tolist()],
        resumed_from=resumed_from,
        seconds=time.perf_counter() - t0,
    )


# --- results ---------------------------------------------------------------------------------

@dataclass(eq=False)
class FoldPrediction:
    """Test-set predictions of one fold.

    Attributes
    ----------
    subject, fold : int
    test_idx : ndarray of int64, shape (n_test,)
        Window indices into the sweep's WindowSet.
    y_true : ndarray of int64, shape (n_test,)
    proba : ndarray of float32, shape (n_test, n_outputs)
        The neural model's class probabilities.
    y_pred : dict of str -> ndarray of int64, shape (n_test,)
        Predictions per model name (the neural model and each baseline).
    """

    subject: int
    fold: int
    test_idx: np.ndarray
    y_true: np.ndarray
    proba: np.ndarray
    y_pred: dict


@dataclass(eq=False)
class SweepResult:
    """Metrics, leakage, baselines and predictions of a sweep.

    Attributes
    ----------
    model_name : str
    protocol : str
    n_classes : int
    records : list of dict
        One row per subject x fold x model x level (``"window"``/``"trial"``),
        with the metrics, sizes, leakage and training summary.
    folds : list of dict
        Per fold: subject, fold, sizes, leakage figures, split rule, seed.
    predictions : list of FoldPrediction
    histories : list of dict
        Per fold, the training history.
    config : dict
        Arguments of the run (JSON-serialisable).
    seconds : float
        Wall-clock time of the whole sweep.
    models : list of torch.nn.Module | None
        Trained models (``keep_models=True``).
    """

    model_name: str
    protocol: str
    n_classes: int
    records: list
    folds: list
    predictions: list
    histories: list
    config: dict
    seconds: float = 0.0
    models: list | None = None

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
        return summarize(self.to_frame(level), by="fold" if self.pooled else "subject")

    def per_subject(self, level: str = "window") -> pd.DataFrame:
        """Per subject (rows) and model (columns): fold-mean accuracy."""
        df = self.to_frame(level)
        return df.pivot_table(index="subject", columns="model", values="accuracy", aggfunc="mean", sort=False)

    def leakage_frame(self) -> pd.DataFrame:
        """One row per fold with its leakage figures."""
        return pd.DataFrame.from_records(self.folds)

    def to_markdown(self, level: str = "window", per_subject: bool = False) -> str:
        """Markdown table of mean ± std (percent) per model, with the leakage under it.

        With ``per_subject``, a second table gives each subject's fold-mean
        accuracy for every model (majority and chance included).
        """
        s = self.summary(level)
        unit = "folds" if self.pooled else "subjects"
        lines = [f"| model | accuracy | macro-F1 | balanced accuracy | n {unit} |", "|---|---|---|---|---|"]
        for model, row in s.iterrows():
            cells = [format_mean_std(row[f"{m}_mean"], row[f"{m}_std"]) for m in METRICS]
            lines.append(f"| {model} | " + " | ".join(cells) + f" | {int(row['n_units'])} |")
        lk = self.leakage_frame()
        n_subj = len({f["subject"] for f in self.folds})
        where = "pooled subjects" if self.pooled else f"{n_subj} subject(s)"
        lines.append("")
        lines.append(
            f"{self.protocol}, {level} level, {len(self.folds)} folds over {where}; test windows overlapping a "
            f"training window of the same trial: {100 * lk['leakage'].mean():.1f} % on average "
            f"(max {100 * lk['leakage'].max():.1f} %); sharing a trial with training: "
            f"{100 * lk['same_trial_fraction'].mean():.1f} %."
        )
        if per_subject and not self.pooled:
            ps = self.per_subject(level)
            lines += ["", "| subject | " + " | ".join(ps.columns) + " |", "|---" * (len(ps.columns) + 1) + "|"]
            for subj, row in ps.iterrows():
                lines.append(f"| {subj} | " + " | ".join(f"{100 * v:.1f}" for v in row) + " |")
        return "\n".join(lines) + "\n"

    def to_csv(self, path) -> Path:
        """Write :meth:`to_frame` (all levels) to ``path`` atomically."""
        return atomic_write_text(path, self.to_frame().to_csv(index=False))

    def to_dict(self) -> dict:
        """JSON-serialisable summary: config, per-fold records, leakage, summaries per level."""
        out = {"model": self.model_name, "protocol": self.protocol, "n_classes": self.n_classes,
               "config": self.config, "seconds": self.seconds, "records": self.records, "folds": self.folds,
               "summary": {}}
        for level in sorted({r["level"] for r in self.records}):
            s = self.summary(level)
            out["summary"][level] = {m: {k: float(v) for k, v in row.items()} for m, row in s.iterrows()}
        return out


# --- the sweep -------------------------------------------------------------------------------

#: Windows per optimiser step summed over the models of a group, by device type (see ``auto_group_size``).
GROUP_SAMPLES_PER_STEP = {"cuda": 16384, "cpu": 1024}


def auto_group_size(n_models: int, cfg: TrainConfig) -> int:
    """Default number of models trained together.

    Heuristic: the group's windows per step (``models x largest batch size``)
    stay within :data:`GROUP_SAMPLES_PER_STEP`: 16,384 on CUDA (our estimate of
    the default RBTransformer's saved activations is about 1 MB per window in
    float32, so about 16 GB per step) and 1,024 on CPU. On CPU the work is
    compute-bound and batching saves little; larger groups make activation
    tensors of over 32 MB (e.g. 8 x 256 windows x 32 electrodes x 128 features),
    which glibc's allocator maps and unmaps at every step, and the page faults
    then cost more than the batching gains.
    """
    largest = max([cfg.batch_size] + [b for _, b in cfg.batch_size_schedule])
    limit = GROUP_SAMPLES_PER_STEP["cuda" if resolve_device(cfg.device).type == "cuda" else "cpu"]
    return max(1, min(n_models, limit // largest))


def _rows(fold: Fold, pred: FoldPrediction, windows: WindowSet, n_classes: int, trial_level: bool,
          model_name: str, extra: dict, chance: bool = True) -> list[dict]:
    """Metric rows of one fold: every predictor plus chance, at window (and trial) level."""
    base = {"subject": fold.subject, "fold": fold.index, "n_test": int(fold.test_idx.size),
            "leakage": fold.leakage.fraction, "same_trial_fraction": fold.leakage.same_trial_fraction}
    trial = windows.trial[pred.test_idx]
    rows = []
    for level in ("window", "trial") if trial_level else ("window",):
        yt = pred.y_true if level == "window" else vote_trials(trial, pred.y_true, pred.y_true, n_classes)[1]
        for name, yp in pred.y_pred.items():
            yp = yp if level == "window" else vote_trials(trial, pred.y_true, yp, n_classes)[2]
            row = {**base, "model": name, "level": level, **classification_metrics(yt, yp)}
            if name == model_name:
                row.update(extra)
            rows.append(row)
        if chance:
            rows.append({**base, "model": "chance", "level": level, **chance_metrics(yt, n_classes)})
    return rows


def run_sweep(
    windows: WindowSet,
    model_name,
    model_kwargs: dict | None = None,
    protocol: str = "trial-holdout",
    n_folds: int | None = None,
    train_cfg: TrainConfig | None = None,
    batched: bool = True,
    *,
    subjects=None,
    split_seed: int | None = None,
    baselines: Sequence[str] = BASELINES,
    max_models_per_batch: int | None = None,
    checkpoint_dir=None,
    trial_level: bool = True,
    keep_models: bool = False,
    control: bool = False,
) -> SweepResult:
    """Train and evaluate one model per subject x fold; report metrics, baselines and leakage.

    Parameters
    ----------
    windows : WindowSet
    model_name : str | callable
        Registered model name, or a factory (see :func:`build_model`).
    model_kwargs : dict | None
        Extra model arguments (``ch_pos`` defaults to ``windows.ch_pos`` for graph models).
    protocol : {"trial-holdout", "seed-9-6", "loso", "rbt-pooled"}
    n_folds : int | None
        See :func:`~neuroaffect.training.make_folds`.
    train_cfg : TrainConfig | None
        Default: ``TrainConfig()``, or ``TrainConfig.preset("rbt-pooled")`` for that protocol.
        Each fold's model uses :func:`fold_seed` ``(train_cfg.seed, subject, fold)``
        for its initialisation, shuffling and validation split.
    batched : bool
        Train the models of a group together (:func:`train_batched`); ``False``
        runs :func:`~neuroaffect.training.train_model` per fold with the same
        per-model data rule.
    subjects : iterable of int | None
        Subjects to evaluate (default all).
    split_seed : int | None
        Seed of the fold split (protocol default when ``None``).
    baselines : sequence of {"majority", "logistic"}
        Baselines fitted on each training fold (before SMOTE) and scored on its test fold.
    max_models_per_batch : int | None
        Largest group trained at once (bounds memory); default :func:`auto_group_size`.
    checkpoint_dir : path-like | None
        Checkpoints: ``group-XXX.pt`` per group when batched, ``<fold name>.pt`` per fold otherwise.
    trial_level : bool
        Also score trial-level majority votes.
    keep_models : bool
        Return the trained models in ``SweepResult.models``.
    control : bool
        Also train, on every fold, the same model (same seed, same data rule) on training
        labels permuted across trials (:func:`shuffle_trial_labels`), scored on the true test
        labels: rows ``"<model> (shuffled labels)"``. It should sit at chance; doubles the
        training cost.

    Returns
    -------
    result : SweepResult
    """
    t0 = time.perf_counter()
    if not isinstance(windows, WindowSet):
        raise TypeError(f"Invalid value for the 'windows' parameter: expected a WindowSet, but got {type(windows).__name__}.")
    for b in baselines:
        if b not in BASELINES:
            raise ValueError(f"Invalid value for the 'baselines' parameter. Allowed values are {BASELINES}, but got {b!r}.")
    if train_cfg is None:
        train_cfg = TrainConfig.preset("rbt-pooled") if protocol == "rbt-pooled" else TrainConfig()
    if not isinstance(train_cfg, TrainConfig):
        raise TypeError(f"Invalid value for the 'train_cfg' parameter: expected a TrainConfig, but got "
                        f"{type(train_cfg).__name__}.")
    cfg = train_cfg
    folds = make_folds(windows, protocol, n_folds=n_folds, seed=split_seed, subjects=subjects)
    K = windows.n_outputs
    data = [prepare_fold(windows, f, cfg, fold_seed(cfg.seed, f.subject, f.index)) for f in folds]
    if control:
        data += [prepare_fold(windows, f, cfg, fold_seed(cfg.seed, f.subject, f.index), control=True)
                 for f in folds]
    n_epoch = max(d.X_fit.shape[0] for d in data)
    group = auto_group_size(len(data), cfg) if max_models_per_batch is None else int(max_models_per_batch)
    if group < 1:
        raise ValueError(f"Invalid value for the 'max_models_per_batch' parameter: expected >= 1, but got {group}.")
    ckdir = None if checkpoint_dir is None else Path(checkpoint_dir)
    name = model_name if isinstance(model_name, str) else getattr(model_name, "__name__", "model")

    def make(d: FoldData):
        return build_model(model_name, n_chans=windows.n_chans, n_bands=windows.n_bands, n_outputs=K,
                           seed=d.seed, model_kwargs=model_kwargs, ch_pos=windows.ch_pos)

    probas, train_info, kept = [None] * len(data), [None] * len(data), []
    for g0 in range(0, len(data), group):
        chunk = data[g0:g0 + group]
        models = [make(d) for d in chunk]
        if batched:
            res = train_batched(
                models, [(d.X_fit, d.y_fit) for d in chunk], cfg, [d.seed for d in chunk],
                vals=None if cfg.patience is None else [(d.X_val, d.y_val) for d in chunk],
                samples_per_epoch=n_epoch,
                checkpoint=None if ckdir is None else ckdir / f"group-{g0 // group:03d}.pt",
            )
            ps = stacked_predict_proba(res.base, res.params, res.buffers, [d.X_test for d in chunk],
                                       device=cfg.device, batch_size=cfg.eval_batch_size, amp=cfg.amp)
            for j, d in enumerate(chunk):
                probas[g0 + j] = ps[j]
                train_info[g0 + j] = {"history": res.histories[j], "best_epoch": res.best_epochs[j],
                                      "stopped_early": res.stopped_early[j], "seconds": res.seconds / len(chunk)}
                if keep_models and not d.control:
                    kept.append(unstack_model(models[j], res.params, res.buffers, j).eval())
        else:
            for j, (d, model) in enumerate(zip(chunk, models)):
                r = train_model(model, d.X_fit, d.y_fit, cfg.replace(seed=d.seed), X_val=d.X_val, y_val=d.y_val,
                                samples_per_epoch=n_epoch,
                                checkpoint=None if ckdir is None else ckdir / f"{d.name}.pt")
                probas[g0 + j] = predict_proba(r.model, d.X_test, device=cfg.device,
                                               batch_size=cfg.eval_batch_size, amp=cfg.amp)
                train_info[g0 + j] = {"history": r.history, "best_epoch": r.best_epoch,
                                      "stopped_early": r.stopped_early, "seconds": r.seconds}
                if keep_models and not d.control:
                    kept.append(r.model)

    records, fold_rows, predictions, histories = [], [], [], []
    for d, proba, info in zip(data, probas, train_info):
        f = d.fold
        if d.control:
            pred = FoldPrediction(subject=f.subject, fold=f.index, test_idx=f.test_idx, y_true=d.y_test,
                                  proba=proba, y_pred={name + CONTROL_SUFFIX: proba.argmax(1).astype(np.int64)})
            records.extend(_rows(f, pred, windows, K, trial_level, name, {}, chance=False))
            continue
        y_pred = {name: proba.argmax(1).astype(np.int64)}
        X_train_raw = windows.X[f.train_idx]
        X_test_raw = windows.X[f.test_idx]
        if "majority" in baselines:
            y_pred["majority"] = MajorityClassifier().fit(X_train_raw, d.y_train_all).predict(X_test_raw).astype(np.int64)
        if "logistic" in baselines:
            y_pred["logistic"] = LogisticTokens().fit(X_train_raw, d.y_train_all).predict(X_test_raw).astype(np.int64)
        pred = FoldPrediction(subject=f.subject, fold=f.index, test_idx=f.test_idx, y_true=d.y_test,
                              proba=proba, y_pred=y_pred)
        predictions.append(pred)
        hist = info["history"]
        extra = {"epochs_run": len(hist["train_loss"]), "best_epoch": info["best_epoch"],
                 "final_train_loss": hist["train_loss"][-1] if hist["train_loss"] else float("nan")}
        records.extend(_rows(f, pred, windows, K, trial_level, name, extra))
        fold_rows.append({
            "subject": f.subject, "fold": f.index, "session": f.session, "n_train": int(f.train_idx.size),
            "n_fit": int(d.X_fit.shape[0]), "n_val": 0 if d.X_val is None else int(d.X_val.shape[0]),
            "n_test": int(f.test_idx.size), "leakage": f.leakage.fraction,
            "n_overlapping": f.leakage.n_overlapping, "same_trial_fraction": f.leakage.same_trial_fraction,
            "resample": f.resample, "split_rule": f.split_rule, "seed": d.seed,
        })
        histories.append(hist)

    kw = {k: (f"array{np.shape(v)}" if isinstance(v, (np.ndarray, torch.Tensor)) else v)
          for k, v in (model_kwargs or {}).items()}
    config = {"model": name, "model_kwargs": kw, "protocol": protocol, "n_folds": n_folds, "split_seed": split_seed,
              "train": cfg.to_dict(), "batched": bool(batched), "samples_per_epoch": int(n_epoch),
              "max_models_per_batch": group, "baselines": list(baselines), "control": bool(control),
              "subjects": [int(s) for s in sorted({f.subject for f in folds})],
              "device": str(resolve_device(cfg.device))}
    return SweepResult(model_name=name, protocol=protocol, n_classes=K, records=records, folds=fold_rows,
                       predictions=predictions, histories=histories, config=config,
                       seconds=time.perf_counter() - t0, models=kept if keep_models else None)
