"""Sweeps over subjects x folds, with many small models trained at once as one batched model.

Subject-dependent models are small, so a GPU (or CPU) spends most of a plain loop's time on
per-step overhead. :func:`train_batched` hands ``M`` identically built fold models to the
engine (:func:`~neuroaffect.training.engine.fit`), which stacks their parameters and runs their
forward passes as one ``torch.vmap``; the result equals ``M`` plain runs (see the engine).

Per-model data: each model sees only its own fold's training windows. Rule for training sets
of different sizes ``n_m``: every epoch, model ``m`` draws its own permutation of its ``n_m``
windows from its own generator (seeded with its fold seed); the epoch visits
``n_epoch = max_m n_m`` positions (the largest training set of the whole sweep), model ``m``
taking positions modulo ``n_m`` (wrap-around), so all models take batches of the same size at
every step and smaller training sets are revisited within an epoch. The plain loop
(``run_sweep(..., batched=False)``) trains each model with the same rule
(``train_model(..., samples_per_epoch=n_epoch)``), so both paths give the same weights up to
float rounding when the models have no dropout; with dropout the masks are drawn differently
(``vmap(randomness="different")``) and the results agree in distribution only.

Early stopping is per model: a model whose patience has run out keeps its best weights and its
history stops there; the shared computation may continue for the others, and the stopped
model's later updates are discarded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..models import LogisticTokens, MajorityClassifier
from .checkpoint import spec_summary
from .config import TrainConfig, resolve_device
from .data import WindowSet
from .engine import ArraySource, EpochInfo, ProgressReporter, StackedModels, TrainingDivergedError, fit, predict
from .folds import FoldData, build_model, check_model_fits, fold_seed, prepare_fold, shuffle_trial_labels
from .loop import objective_for, train_model
from .protocols import make_folds
from .results import CONTROL_SUFFIX, FoldPrediction, SweepResult, fold_records

__all__ = [
    "BASELINES",
    "BatchedTrainResult",
    "CONTROL_SUFFIX",
    "FoldData",
    "FoldPrediction",
    "REGRESSION_BASELINES",
    "SweepResult",
    "auto_group_size",
    "build_model",
    "fold_seed",
    "prepare_fold",
    "run_sweep",
    "shuffle_trial_labels",
    "train_batched",
    "unstack_model",
]

BASELINES = ("majority", "logistic")
REGRESSION_BASELINES = ("mean", "ridge")


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
    stack: StackedModels | None = None


def train_batched(
    models: Sequence[nn.Module],
    fits: Sequence[tuple[np.ndarray, np.ndarray]],
    cfg: TrainConfig,
    seeds: Sequence[int],
    *,
    vals: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    samples_per_epoch: int | None = None,
    checkpoint=None,
    callbacks: Sequence[Callable[[EpochInfo], None]] = (),
    checkpoint_every: int = 1,
    loss: str | None = None,
    inputs: dict | None = None,
) -> BatchedTrainResult:
    """Train ``M`` identically built models at once, each on its own data (engine adapter).

    Parameters
    ----------
    models : sequence of torch.nn.Module, length M
        Same class and constructor arguments; their current weights are the starting points.
    fits : sequence of (X, y), length M
        Training inputs (n_m, ...) float32 and targets (n_m,) (classes or continuous).
    cfg : TrainConfig
        Shared hyper-parameters; ``cfg.seed`` seeds the global torch RNG (dropout).
    seeds : sequence of int, length M
        Per-model shuffling seeds.
    vals : sequence of (X_val, y_val), length M | None
        Per-model validation sets (required with ``cfg.patience``).
    samples_per_epoch : int | None
        Positions per epoch (default ``max_m n_m``); see the module docstring.
    checkpoint : path-like | None
        One file for the whole group (see :func:`~neuroaffect.training.engine.fit`).
    callbacks : sequence of callable
        Called with an :class:`~neuroaffect.training.engine.EpochInfo` after each epoch.
    loss : {"mse", "ccc"} | None
        Regression loss for continuous targets.
    inputs : dict | None
        Provenance stored in the checkpoint.

    Returns
    -------
    result : BatchedTrainResult
    """
    M = len(models)
    if M == 0 or len(fits) != M or len(seeds) != M:
        raise ValueError(f"Invalid values of 'models'/'fits'/'seeds': expected equal non-zero lengths, but got "
                         f"{len(models)}, {len(fits)}, {len(seeds)}.")
    if cfg.patience is not None and vals is None:
        raise ValueError("Early stopping (cfg.patience) needs per-model validation sets: pass 'vals'.")
    device = resolve_device(cfg.device)
    train_obj, val_obj = objective_for(fits[0][1], cfg, loss)
    source = ArraySource([x for x, _ in fits], [y for _, y in fits], seeds, device=device,
                         samples_per_epoch=samples_per_epoch)
    val = None if vals is None else ArraySource([x for x, _ in vals], [y for _, y in vals], device=device)
    res = fit(list(models), source, train_obj, cfg, val=val, eval_loss=val_obj, checkpoint=checkpoint,
              checkpoint_every=checkpoint_every, callbacks=callbacks, inputs=inputs)
    st = res.trainable
    return BatchedTrainResult(params={k: v.detach() for k, v in st.params.items()}, buffers=st.buffers, base=st.base,
                              histories=res.histories, best_epochs=res.best_epochs, stopped_early=res.stopped_early,
                              resumed_from=res.resumed_from, seconds=res.seconds, stack=st)


def unstack_model(template: nn.Module, stack: StackedModels, m: int) -> nn.Module:
    """Load model ``m`` of a stacked state into ``template`` (an identically built module) and return it."""
    return stack.module(template, m)


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
    limit = GROUP_SAMPLES_PER_STEP["cuda" if resolve_device(cfg.device).type == "cuda" else "cpu"]
    return max(1, min(n_models, limit // cfg.largest_batch_size()))


def _class_scores(clf, X_te, n_classes: int) -> np.ndarray:
    """A fitted classifier's test probabilities in ``n_classes`` columns (a class absent from its
    training fold scores 0): shape (n_test, n_classes), float32."""
    out = np.zeros((X_te.shape[0], n_classes), np.float32)
    out[:, np.asarray(clf.classes_, dtype=np.int64)] = clf.predict_proba(X_te)
    return out


def _baseline_predictions(baselines, X_tr, y_tr, X_te, regression: bool, n_classes: int | None = None,
                          scores: dict | None = None) -> dict:
    """Predictions of the reference rows, fitted on the training fold (before SMOTE).

    Classification baselines also put their class probabilities, shape (n_test, n_classes),
    into ``scores`` (when given): the majority row's are its training class frequencies, the
    same for every window (so its AUROC is 0.5).
    """
    out = {}
    for b in baselines:
        if b in ("majority", "logistic"):
            clf = (MajorityClassifier() if b == "majority" else LogisticTokens()).fit(X_tr, y_tr)
            out[b] = clf.predict(X_te).astype(np.int64)
            if scores is not None:
                scores[b] = _class_scores(clf, X_te, n_classes)
        elif b == "mean":
            out[b] = np.broadcast_to(y_tr.mean(axis=0), (X_te.shape[0],) + y_tr.shape[1:]).astype(np.float32)
        elif b == "ridge":
            from sklearn.linear_model import RidgeCV
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            reg = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13)))
            reg.fit(X_tr.reshape(X_tr.shape[0], -1), y_tr)
            out[b] = reg.predict(X_te.reshape(X_te.shape[0], -1)).astype(np.float32).reshape((-1,) + y_tr.shape[1:])
    return out


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
    baselines: Sequence[str] | None = None,
    max_models_per_batch: int | None = None,
    checkpoint_dir=None,
    trial_level: bool = True,
    keep_models: bool = False,
    control: bool = False,
    loss: str | None = None,
    progress: bool | str | Callable | None = None,
    inputs: dict | None = None,
) -> SweepResult:
    """Train and evaluate one model per subject x fold; report metrics, baselines and leakage.

    Parameters
    ----------
    windows : WindowSet
        Classification (int ``y``) or regression (float ``y``) windows.
    model_name : str | callable
        Registered model name, or a factory (see :func:`build_model`).
    model_kwargs : dict | None
        Extra model arguments (``ch_pos`` defaults to ``windows.ch_pos`` for graph models).
    protocol : {"trial-holdout", "seed-9-6", "loso", "rbt-pooled"}
    n_folds : int | None
        See :func:`~neuroaffect.training.make_folds`.
    train_cfg : TrainConfig | None
        Default: :meth:`TrainConfig.for_protocol`. Each fold's model uses :func:`fold_seed`
        ``(train_cfg.seed, subject, fold)`` for its initialisation, shuffling and validation split.
    batched : bool
        Train the models of a group together (:func:`train_batched`); ``False``
        runs :func:`~neuroaffect.training.train_model` per fold with the same
        per-model data rule.
    subjects : iterable of int | None
        Subjects to evaluate (default all).
    split_seed : int | None
        Seed of the fold split (protocol default when ``None``).
    baselines : sequence of str | None
        Reference rows fitted on each training fold (before SMOTE) and scored on its test
        fold: ``"majority"``, ``"logistic"`` (classification; the default) or ``"mean"``
        (predict the training mean), ``"ridge"`` (regression; the default).
    max_models_per_batch : int | None
        Largest group trained at once (bounds memory); default :func:`auto_group_size`.
    checkpoint_dir : path-like | None
        Checkpoints: ``group-XXX.pt`` per group when batched, ``<fold name>.pt`` per fold
        otherwise; a file written for other data or settings is discarded (with a notice).
    trial_level : bool
        Also score trial-level majority votes (regression: trial means).
    keep_models : bool
        Return the trained models in ``SweepResult.models``.
    control : bool
        Also train, on every fold, the same model (same seed, same data rule) on training
        targets permuted across trials (:func:`shuffle_trial_labels`), scored on the true test
        targets: rows ``"<model> (shuffled labels)"``. It should sit at chance; doubles the
        training cost.
    loss : {"mse", "ccc"} | None
        Regression loss (default ``"mse"``).
    progress : bool | "auto" | callable | None
        Report each epoch (:class:`~neuroaffect.training.engine.ProgressReporter`: a bar on a
        terminal, one line per epoch in logs); a callable is used as the callback itself.
    inputs : dict | None
        Provenance of the windows (feature files and their sha256), stored in checkpoints.

    Returns
    -------
    result : SweepResult
    """
    t0 = time.perf_counter()
    baselines, cfg = _check_sweep_args(windows, model_name, protocol, train_cfg, baselines)
    folds = make_folds(windows, protocol, n_folds=n_folds, seed=split_seed, subjects=subjects)
    data = [prepare_fold(windows, f, cfg, fold_seed(cfg.seed, f.subject, f.index), control=c)
            for c in ((False, True) if control else (False,)) for f in folds]
    group = auto_group_size(len(data), cfg) if max_models_per_batch is None else int(max_models_per_batch)
    if group < 1:
        raise ValueError(f"Invalid value for the 'max_models_per_batch' parameter: expected >= 1, but got {group}.")
    name = model_name if isinstance(model_name, str) else getattr(model_name, "__name__", "model")
    run = _SweepRun(windows=windows, model_name=model_name, model_kwargs=model_kwargs, name=name, cfg=cfg,
                    device=resolve_device(cfg.device), n_epoch=max(d.X_fit.shape[0] for d in data),
                    n_groups=-(-len(data) // group), loss=loss, inputs=inputs, progress=progress,
                    ckdir=None if checkpoint_dir is None else Path(checkpoint_dir), keep_models=keep_models)
    outputs, train_info, kept = _train_groups(run, data, group, batched)
    scored = _score_folds(windows, data, outputs, train_info, baselines, name, trial_level)
    kw = spec_summary({"name": name, "kwargs": dict(model_kwargs or {})})["kwargs"]
    config = {"model": name, "model_kwargs": kw, "protocol": protocol, "n_folds": n_folds, "split_seed": split_seed,
              "train": cfg.resolved(), "batched": bool(batched), "samples_per_epoch": int(run.n_epoch),
              "max_models_per_batch": group, "baselines": list(baselines), "control": bool(control),
              "task": windows.task, "loss": (loss or "mse") if windows.is_regression else "cross-entropy",
              "input_kind": windows.kind,
              "subjects": [int(s) for s in sorted({f.subject for f in folds})]}
    n_classes = None if windows.is_regression else windows.n_outputs
    return SweepResult(model_name=name, protocol=protocol, n_classes=n_classes,
                       **scored, config=config, seconds=time.perf_counter() - t0, models=kept if keep_models else None)


def _check_sweep_args(windows, model_name, protocol, train_cfg, baselines) -> tuple[tuple, TrainConfig]:
    """Validated baselines and training configuration of :func:`run_sweep` (the protocol's default config)."""
    if not isinstance(windows, WindowSet):
        raise TypeError(f"Invalid value for the 'windows' parameter: expected a WindowSet, but got {type(windows).__name__}.")
    allowed = REGRESSION_BASELINES if windows.is_regression else BASELINES
    baselines = allowed if baselines is None else tuple(baselines)
    for b in baselines:
        if b not in allowed:
            raise ValueError(f"Invalid value for the 'baselines' parameter. Allowed values for "
                             f"{windows.task} are {allowed}, but got {b!r}.")
    cfg = TrainConfig.for_protocol(protocol) if train_cfg is None else train_cfg
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"Invalid value for the 'train_cfg' parameter: expected a TrainConfig, but got "
                        f"{type(cfg).__name__}.")
    check_model_fits(model_name, windows)
    return baselines, cfg


def _train_groups(run: "_SweepRun", data: list, group: int, batched: bool) -> tuple[list, list, list]:
    """Train every fold's model, ``group`` at a time; (test outputs, train infos, kept models) in fold order."""
    outputs, train_info, kept = [], [], []
    for gi, g0 in enumerate(range(0, len(data), group)):
        chunk = data[g0:g0 + group]
        models = [run.make(d) for d in chunk]
        try:
            trained = (_train_group_batched if batched else _train_group_plain)(run, chunk, models, gi)
        except TrainingDivergedError as err:
            names = [chunk[m].name for m in err.models if m < len(chunk)] or [d.name for d in chunk]
            raise TrainingDivergedError(f"{run.name}, {run.windows.task} on folds {names}: {err}", err.models,
                                        err.epoch) from None
        for out, info, model in trained:
            outputs.append(out)
            train_info.append(info)
            if model is not None:
                kept.append(model)
    return outputs, train_info, kept


@dataclass
class _SweepRun:
    """What every group of a :func:`run_sweep` shares: the data, the model factory and the training settings."""

    windows: WindowSet
    model_name: object
    model_kwargs: dict | None
    name: str
    cfg: TrainConfig
    device: object
    n_epoch: int
    n_groups: int
    loss: str | None
    inputs: dict | None
    progress: object
    ckdir: Path | None
    keep_models: bool

    def make(self, d: FoldData) -> nn.Module:
        """The fold's model, initialised from its fold seed."""
        ws, kw = self.windows, self.model_kwargs
        if ws.kind == "maps":
            kw = {"size": int(ws.X.shape[-1]), **(self.model_kwargs or {})}
        return build_model(self.model_name, n_chans=max(ws.n_chans, 1), n_bands=ws.n_bands, n_outputs=ws.n_outputs,
                           seed=d.seed, model_kwargs=kw, ch_pos=ws.ch_pos, n_times=ws.n_times)

    def reporter(self, label: str) -> list:
        """Epoch callbacks: the user's callable, a :class:`ProgressReporter` or none."""
        if callable(self.progress):
            return [self.progress]
        return [ProgressReporter(label)] if self.progress else []


def _train_group_batched(run: _SweepRun, chunk: list, models: list, gi: int) -> list[tuple]:
    """Train one group's models at once (:func:`train_batched`); per model (test outputs, train info, kept model)."""
    cfg, dev = run.cfg, run.device
    res = train_batched(
        models, [(d.X_fit, d.y_fit) for d in chunk], cfg, [d.seed for d in chunk],
        vals=None if cfg.patience is None and not cfg.validate else [(d.X_val, d.y_val) for d in chunk],
        samples_per_epoch=run.n_epoch, loss=run.loss, inputs=run.inputs,
        checkpoint=None if run.ckdir is None else run.ckdir / f"group-{gi:03d}.pt",
        callbacks=run.reporter(f"{run.name} group {gi + 1}/{run.n_groups}, {len(chunk)} models"),
    )
    outs = predict(res.stack, ArraySource([d.X_test for d in chunk], device=dev),
                   device=dev, batch_size=cfg.eval_batch_size, amp=cfg.amp)
    trained = []
    for j, d in enumerate(chunk):
        info = {"history": res.histories[j], "best_epoch": res.best_epochs[j],
                "stopped_early": res.stopped_early[j], "resumed_from": res.resumed_from}
        keep = run.keep_models and not d.control
        trained.append((outs[j], info, unstack_model(models[j], res.stack, j).eval() if keep else None))
    return trained


def _train_group_plain(run: _SweepRun, chunk: list, models: list, gi: int) -> list[tuple]:
    """Train one group's models one after the other (:func:`train_model`); as :func:`_train_group_batched`."""
    cfg, dev = run.cfg, run.device
    trained = []
    for d, model in zip(chunk, models):
        r = train_model(model, d.X_fit, d.y_fit, cfg.replace(seed=d.seed), X_val=d.X_val, y_val=d.y_val,
                        samples_per_epoch=run.n_epoch, loss=run.loss,
                        checkpoint=None if run.ckdir is None else run.ckdir / f"{d.name}.pt",
                        callbacks=run.reporter(f"{run.name} {d.name}"))
        (out,) = predict(r.model, d.X_test, device=dev, batch_size=cfg.eval_batch_size, amp=cfg.amp)
        info = {"history": r.history, "best_epoch": r.best_epoch,
                "stopped_early": r.stopped_early, "resumed_from": r.resumed_from}
        trained.append((out, info, r.model if run.keep_models and not d.control else None))
    return trained


def _score_folds(windows: WindowSet, data: list, outputs: list, train_info: list, baselines, name: str,
                 trial_level: bool) -> dict:
    """Records, fold rows, predictions and histories of every trained fold (controls give records only)."""
    regression = windows.is_regression
    n_classes = None if regression else windows.n_outputs
    scored = {"records": [], "folds": [], "predictions": [], "histories": []}
    for d, out, info in zip(data, outputs, train_info):
        f = d.fold
        trial = windows.trial[f.test_idx]
        if regression:
            proba = out.astype(np.float32)
            yhat = proba[:, 0] if windows.y.ndim == 1 else proba
        else:
            proba = torch.softmax(torch.from_numpy(out), dim=1).numpy()
            yhat = proba.argmax(1).astype(np.int64)
        if d.control:
            pred = FoldPrediction(subject=f.subject, fold=f.index, test_idx=f.test_idx, y_true=d.y_test,
                                  proba=proba, y_pred={name + CONTROL_SUFFIX: yhat},
                                  scores={} if regression else {name + CONTROL_SUFFIX: proba})
            scored["records"].extend(fold_records(f, pred, trial, n_classes, trial_level, name, {}, chance=False))
            continue
        scores = None if regression else {name: proba}
        y_pred = {name: yhat, **_baseline_predictions(baselines, windows.X[f.train_idx], d.y_train_all,
                                                      windows.X[f.test_idx], regression, n_classes, scores)}
        pred = FoldPrediction(subject=f.subject, fold=f.index, test_idx=f.test_idx, y_true=d.y_test,
                              proba=proba, y_pred=y_pred, scores=scores or {})
        scored["predictions"].append(pred)
        hist = info["history"]
        extra = {"epochs_run": len(hist["train_loss"]), "best_epoch": info["best_epoch"],
                 "final_train_loss": hist["train_loss"][-1] if hist["train_loss"] else float("nan")}
        scored["records"].extend(fold_records(f, pred, trial, n_classes, trial_level, name, extra))
        scored["folds"].append(_fold_row(d, info))
        scored["histories"].append(hist)
    return scored


def _fold_row(d: FoldData, info: dict) -> dict:
    """One row of ``SweepResult.folds``: sizes, leakage, split rule, seed and resume point of a fold."""
    f = d.fold
    return {
        "subject": f.subject, "fold": f.index, "session": f.session, "n_train": int(f.train_idx.size),
        "n_fit": int(d.X_fit.shape[0]), "n_val": 0 if d.X_val is None else int(d.X_val.shape[0]),
        "n_test": int(f.test_idx.size), "trial_overlap": f.leakage.same_trial_fraction,
        "sample_overlap": f.leakage.fraction, "n_overlapping": f.leakage.n_overlapping,
        "resample": f.resample, "split_rule": f.split_rule, "seed": d.seed,
        "resumed_from": info["resumed_from"],
    }
