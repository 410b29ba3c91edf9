"""The EEG teacher: maps -> valence/arousal regression, its cross-validated error, one final frozen
teacher, its embeddings, and MC-dropout uncertainty for unlabelled support windows.

Every trainer here is the training engine (:func:`neuroaffect.training.fit` through
:func:`~neuroaffect.training.run_sweep` and :func:`~neuroaffect.training.train_model`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._utils import DatasetFormatError, config_hash, load_json_bounded, loads_json_bounded, sha256_file
from ..labels import check_target
from ..training import (
    TrainConfig, WindowSet, build_model, predict, split_validation, train_model, windows_from_features,
)
from ..training.folds import shuffle_trial_labels
from .teacher_eval import cv_table

__all__ = [
    "TEACHER",
    "VA",
    "TeacherCV",
    "cross_validate_teacher",
    "embed",
    "load_teacher",
    "mc_dropout_predict",
    "read_teacher_summary",
    "remap_maps",
    "split_holdout",
    "fit_topo_teacher",
    "teacher_windows",
    "write_teacher_summary",
]

TEACHER = "topoteacher"
VA = ("valence", "arousal")
#: Roles of the checkpoints :func:`~neuroaffect.prototypes.make_teacher` writes, recorded in each
#: checkpoint's provenance (``inputs["role"]``) and checked by :func:`load_teacher`.
ROLES = ("teacher", "control")
SUMMARY_KEY = "summary_sha256"


def teacher_windows(sources, dataset: str, *, shuffle_seed: int | None = None) -> WindowSet:
    """Maps of labelled windows with targets ``(valence, arousal)`` normalised to [-1, 1].

    Parameters
    ----------
    sources : feature files or datasets (see :func:`neuroaffect.training.windows_from_features`)
    dataset : str
        A rated dataset (DREAMER, DEAP, MAHNOB).
    shuffle_seed : int | None
        Permute the (valence, arousal) pairs across trials (the shuffled-label control).

    Returns
    -------
    windows : WindowSet
        ``kind="maps"``, ``X`` (n, n_bands, H, W), ``y`` float32 (n, 2).
    """
    for t in VA:
        check_target(dataset, t)
    ws = windows_from_features(sources, "valence", "regression", dataset=dataset, kind="maps")
    idx = [ws.rating_names.index(n) for n in VA]
    y = ws.ratings[:, idx]
    if shuffle_seed is not None:
        y = shuffle_trial_labels(y, ws.trial, shuffle_seed)
    return dataclasses.replace(ws, y=y.astype(np.float32), n_classes=None)


def split_holdout(windows: WindowSet, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole trials held out from the final teacher (stratified by valence sign), as index arrays."""
    fit, held = split_validation(windows.y, windows.trial, fraction, seed)
    return np.flatnonzero(fit), np.flatnonzero(held)


def _teacher_model(windows: WindowSet, seed: int, model_kwargs: dict | None):
    return build_model(TEACHER, n_chans=max(windows.n_chans, 1), n_bands=windows.n_bands, n_outputs=2, seed=seed,
                       model_kwargs={"size": int(windows.X.shape[-1]), **(model_kwargs or {})})


def fit_topo_teacher(windows: WindowSet, train_idx: np.ndarray, cfg: TrainConfig, *, model_kwargs=None,
                     checkpoint=None, inputs=None, callbacks=()):
    """Train the one final teacher on ``windows[train_idx]``.

    The maps are z-scored per pixel with the training windows' statistics, stored in the model
    (``TopoTeacher.set_input_stats``) so that the checkpoint alone embeds new maps.

    Returns
    -------
    model : TopoTeacher
        In eval mode.
    result : TrainResult
    """
    model = _teacher_model(windows, cfg.seed, model_kwargs)
    X = windows.X[train_idx]
    model.set_input_stats(X.mean(axis=0), X.std(axis=0))
    res = train_model(model, X, windows.y[train_idx], cfg.replace(standardize=False), checkpoint=checkpoint,
                      callbacks=callbacks, inputs=inputs)
    return res.model.eval(), res


class _Features(torch.nn.Module):
    """A teacher whose output is its embedding (``forward_features``), for :func:`~neuroaffect.training.predict`."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.forward_features(x)


def embed(model, X: np.ndarray, *, batch_size: int = 512, device: str = "cpu") -> np.ndarray:
    """Embeddings ``forward_features`` of maps, shape (n, embed_dim) float32 (eval mode, no dropout).

    Runs through :func:`neuroaffect.training.predict` in float32 (no autocast); ``X`` (n, n_bands, H, W).
    """
    if not len(X):
        return np.zeros((0, model.embed_dim), np.float32)
    return predict(_Features(model.eval()), X, device=device, batch_size=batch_size, amp=False)[0]


class _DropoutOn(torch.nn.Module):
    """A model kept in train mode (dropout on) whatever mode it is set to: MC dropout through
    :func:`~neuroaffect.training.predict`, which sets its model to eval mode."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.train(True)
        return self

    def forward(self, x):
        return self.model(x)


def mc_dropout_predict(model, X: np.ndarray, *, n_samples: int = 20, seed: int = 0, batch_size: int = 512,
                       device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """MC-dropout predictions: mean and standard deviation over ``n_samples`` stochastic passes.

    Dropout stays on (the teacher has no batch statistics, so nothing else changes); the passes
    draw from ``torch.manual_seed(seed)``, so the result is reproducible. Each pass is one
    :func:`neuroaffect.training.predict` (float32) of the model with its dropout held on.

    Parameters
    ----------
    X : ndarray of float32, shape (n, n_bands, H, W)

    Returns
    -------
    mean, std : ndarray of float32, shape (n, 2)
        Predicted (valence, arousal) and its spread across passes. The model is left in eval mode.
    """
    stochastic = _DropoutOn(model)
    torch.manual_seed(seed)
    d = np.stack([predict(stochastic, X, device=device, batch_size=batch_size, amp=False)[0]
                  for _ in range(int(n_samples))])
    model.eval()
    return d.mean(axis=0), d.std(axis=0)


def remap_maps(ds, ch_names, size: int | None = None) -> np.ndarray:
    """Maps of a feature dataset re-interpolated from a subset of its electrodes.

    The teacher sees maps interpolated from its own montage (e.g. DREAMER's 14 Emotiv
    electrodes); a support dataset recorded with more electrodes (MAHNOB-HCI's 32) is mapped
    again from the band DE of those same electrodes, so that both share one spatial pattern.

    Parameters
    ----------
    ds : xarray.Dataset
        A feature dataset with ``bde`` (trial, window, channel, band).
    ch_names : sequence of str
        Electrodes to interpolate from (all present in ``ds``).
    size : int | None
        Map size (default: the dataset's own ``topo_size``).

    Returns
    -------
    maps : ndarray of float32, shape (n_trials, n_windows, n_bands, size, size)
    """
    from ..features import make_topomaps, topomap_grid_for_channels

    have = [str(c) for c in ds["channel"].values]
    missing = [c for c in ch_names if c not in have]
    if missing:
        raise ValueError(f"cannot map features of {ds.attrs.get('dataset')} subject {ds.attrs.get('subject')} onto "
                         f"{list(ch_names)}: channels {missing} are absent")
    size = int(size or ds.sizes.get("x", 32))
    outside = str(ds.attrs.get("param_outside", "zero"))
    interp = str(ds.attrs.get("param_topo_interp", "cubic"))
    grid = topomap_grid_for_channels(tuple(ch_names), size, interp, outside)
    sel = [have.index(c) for c in ch_names]
    bde = np.asarray(ds["bde"].values[:, :, sel, :], dtype=np.float32)  # (trial, window, chan, band)
    return make_topomaps(np.ascontiguousarray(bde.transpose(0, 1, 3, 2)), grid)


@dataclass
class TeacherCV:
    """Cross-validated error of the teacher (trial-holdout within subject) and of its baselines.

    ``table`` rows (:func:`~neuroaffect.prototypes.teacher_eval.cv_table`): target x level x row
    (``teacher``, ``ridge``, ``mean``, ``shuffled labels``) with RMSE, Pearson r and CCC from each
    subject's pooled out-of-fold predictions, as mean, sample SD (ddof=1) and 95 % t interval over
    subjects, and the baselines' paired comparison with the teacher (the Markdown:
    :func:`neuroaffect.report.teacher_cv_markdown`). ``predictions``: the out-of-fold predictions per row,
    shape (n_windows, 2).
    """

    table: list
    predictions: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def cross_validate_teacher(windows: WindowSet, cfg: TrainConfig, *, n_folds: int = 5, model_kwargs=None,
                           control: bool = True, progress=False) -> TeacherCV:
    """k-fold over trials per subject (a trial's windows never split): RMSE, r and CCC per target.

    Every window gets one out-of-fold prediction; each subject's are pooled before r and CCC are
    computed (``docs/prototypes.md``, "The teacher's error"). On the same folds: the mean predictor,
    ridge on the flattened maps and (``control``) the shuffled-label teacher, same seeds and epochs.
    These fold models only measure the teacher's error; none of them makes the grid.
    """
    from ..training import make_folds
    from ..training.sweep import auto_group_size
    from .teacher_eval import fold_baselines, fold_model_predictions

    folds = make_folds(windows, "trial-holdout", n_folds=n_folds)
    n_models = len(folds) * (2 if control else 1)
    nn = fold_model_predictions(windows, folds, cfg, TEACHER, model_kwargs, control=control,
                                group_size=auto_group_size(n_models, cfg), progress=progress)
    base = fold_baselines(windows, folds)
    preds = {"teacher": nn["model"], "ridge": base["ridge"], "mean": base["mean"]}
    if control:
        preds["shuffled labels"] = nn["shuffled labels"]
    return TeacherCV(table=cv_table(windows, preds, VA), predictions=preds,
                     extra={"n_folds": n_folds, "n_models": n_models})


def load_teacher(path, role: str):
    """Rebuild the final teacher (or its control) from its checkpoint, refusing any other checkpoint.

    The engine's checksum (:func:`~neuroaffect.training.load_checkpoint`) is verified first; then
    the checkpoint must hold one TopoTeacher whose constructor arguments lie within
    :attr:`TopoTeacher.LIMITS <neuroaffect.models.TopoTeacher.LIMITS>` (checked before anything is
    allocated), whose weights are finite, and whose recorded role (``inputs["role"]``, written by
    :func:`~neuroaffect.prototypes.make_teacher`) is ``role``: ``control.pt`` copied over
    ``teacher.pt`` is refused.

    Parameters
    ----------
    path : path-like
    role : {"teacher", "control"}

    Returns
    -------
    model : TopoTeacher
        In eval mode, on the CPU; ``model.checkpoint_spec`` is the recorded spec (name, arguments).
    provenance : dict
        The checkpoint's recorded inputs (role, shuffle seed, hold-out trials, input checksums).

    Raises
    ------
    DatasetFormatError
        Naming the file and the field (its subclass ``ArtifactIntegrityError`` for a changed file).
    """
    from ..models import TopoTeacher, create_model
    from ..training import load_checkpoint
    from ..training.checkpoint import decode_spec

    if role not in ROLES:
        raise ValueError(f"Invalid value for the 'role' parameter. Allowed values are {ROLES}, but got {role!r} "
                         "instead.")
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(path, f"the {role}'s checkpoint", "no such file")
    state = load_checkpoint(path)
    specs = state.get("specs")
    if not isinstance(specs, list) or len(specs) != 1 or not isinstance(specs[0], dict) \
            or specs[0].get("name") != TEACHER or not isinstance(specs[0].get("kwargs"), dict):
        raise DatasetFormatError(path, f"field 'specs': one {TEACHER!r} model", f"{str(specs)[:120]!r}")
    kw = decode_spec(specs[0])["kwargs"]
    try:
        TopoTeacher.check_arguments(**kw)
    except (TypeError, ValueError) as err:
        raise DatasetFormatError(path, f"field 'specs[0].kwargs': TopoTeacher arguments within its limits "
                                 f"{TopoTeacher.LIMITS}", f"{kw} ({err})") from None
    prov = loads_json_bounded(state.get("inputs", "null"), path, "field 'inputs': the checkpoint's provenance")
    found = prov.get("role") if isinstance(prov, dict) else None
    if found != role:
        raise DatasetFormatError(path, f"field 'inputs.role': the checkpoint of the {role}",
                                 f"role {found!r}" + (" (the shuffled-label control)" if found == "control" else ""))
    weights = state.get("weights")
    sd = weights.get("state") if isinstance(weights, dict) and weights.get("kind") == "single" else None
    if not isinstance(sd, dict):
        raise DatasetFormatError(path, "field 'weights': one model's state", f"{str(weights)[:80]!r}")
    for k, v in sd.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise DatasetFormatError(path, f"finite values in weight {k!r}",
                                     f"{int((~torch.isfinite(v)).sum())} NaN/Inf values")
    model = create_model(TEACHER, **kw)
    try:
        model.load_state_dict(sd)
    except RuntimeError as err:
        raise DatasetFormatError(path, f"weights matching {TEACHER} built with {kw}", f"others ({err})") from None
    model.checkpoint_spec = {"name": TEACHER, "kwargs": kw}
    return model.eval(), prov


def write_teacher_summary(path, summary: dict) -> dict:
    """Write ``teacher.json`` atomically with ``summary_sha256``, the checksum of the rest of it.

    Returns the summary as a reader parses it (checksum included).
    """
    from .._utils import atomic_write_json

    body = json.loads(json.dumps({k: v for k, v in summary.items() if k != SUMMARY_KEY}, default=_plain))
    body[SUMMARY_KEY] = config_hash({k: v for k, v in body.items() if k != SUMMARY_KEY})
    atomic_write_json(path, body)
    return body


def _plain(o):
    if isinstance(o, (np.generic, np.ndarray)):
        return o.tolist()
    return str(o)


def _in_range(x, correlation: bool, non_negative: bool, nan: bool = False) -> bool:
    """A CV figure: a number (NaN allowed for an undefined correlation, or with ``nan``: a standard
    deviation over one subject), >= 0 or in [-1, 1] as it must be."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    if np.isnan(x):
        return correlation or nan
    return bool(np.isfinite(x) and (not non_negative or x >= 0) and (not correlation or -1 <= x <= 1))


def read_teacher_summary(path, *, checkpoints=()) -> dict:
    """Read ``teacher.json`` and check it against its own checksum and the checkpoints beside it.

    Parameters
    ----------
    path : path-like
        A ``teacher.json`` of :func:`~neuroaffect.prototypes.make_teacher`.
    checkpoints : sequence of str
        Roles (``"teacher"``, ``"control"``) whose ``<role>.pt`` beside it must have the sha256 the
        summary recorded when it was written.

    Raises
    ------
    DatasetFormatError
        A missing, oversized or deeply nested file, one written before summaries carried their
        checksum, a summary whose content differs from its ``summary_sha256`` (e.g. edited CV
        figures), CV or held-out figures out of their ranges, or a checkpoint other than the recorded one.
    """
    path = Path(path)
    what = "the teacher's summary (teacher.json)"
    summary = load_json_bounded(path, what)
    if not isinstance(summary, dict) or not isinstance(summary.get(SUMMARY_KEY), str):
        raise DatasetFormatError(path, f"{what} carrying its {SUMMARY_KEY!r}",
                                 "none (written by an earlier version, or edited): train the teacher again")
    found = config_hash({k: v for k, v in summary.items() if k != SUMMARY_KEY})
    if found != summary[SUMMARY_KEY]:
        raise DatasetFormatError(path, f"content sha256 {summary[SUMMARY_KEY]}",
                                 f"{found} (teacher.json was changed after it was written)")
    for row in summary.get("cv") or []:
        ok = isinstance(row, dict) and all(_in_range(row.get(f"{k}_{m}"), k != "rmse", m == "std" or k == "rmse",
                                                     nan=m == "std") for k in ("rmse", "pearson_r", "ccc")
                                           for m in ("mean", "std"))
        if not ok:
            raise DatasetFormatError(path, "field 'cv': rows with a finite RMSE >= 0 and r, CCC in [-1, 1] "
                                     "(NaN where undefined)", f"{str(row)[:120]!r}")
    for row in summary.get("holdout") or []:
        if not (isinstance(row, dict) and all(_in_range(row.get(k), k != "rmse", k == "rmse")
                                              for k in ("rmse", "pearson_r", "ccc"))):
            raise DatasetFormatError(path, "field 'holdout': rows with a finite RMSE >= 0 and r, CCC in [-1, 1]",
                                     f"{str(row)[:120]!r}")
    recorded = summary.get("checkpoints_sha256") or {}
    for role in checkpoints:
        ckpt = path.parent / f"{role}.pt"
        if role not in recorded:
            raise DatasetFormatError(path, f"field 'checkpoints_sha256' naming {ckpt.name}", f"{recorded!r}"[:120])
        if not ckpt.is_file():
            raise DatasetFormatError(ckpt, f"the {role}'s checkpoint that {path.name} records", "no such file")
        if sha256_file(ckpt) != recorded[role]:
            raise DatasetFormatError(ckpt, f"the {role}'s checkpoint with the sha256 {path.name} records "
                                     f"({recorded[role][:12]}...)", "another file (replaced after training)")
    return summary
