"""The EEG teacher: maps -> valence/arousal regression, its cross-validated error, one final frozen
teacher, its embeddings, and MC-dropout uncertainty for unlabelled support windows.

Every trainer here is the training engine (:func:`neuroaffect.training.fit` through
:func:`~neuroaffect.training.run_sweep` and :func:`~neuroaffect.training.train_model`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from ..labels import check_target
from ..training import (
    TrainConfig, WindowSet, average_trials, build_model, regression_metrics, run_sweep, split_validation,
    train_model, windows_from_features,
)
from ..training.folds import shuffle_trial_labels

__all__ = [
    "TEACHER",
    "VA",
    "TeacherCV",
    "cross_validate_teacher",
    "embed",
    "mc_dropout_predict",
    "remap_maps",
    "split_holdout",
    "teacher_windows",
    "train_teacher",
]

TEACHER = "topoteacher"
VA = ("valence", "arousal")


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


def train_teacher(windows: WindowSet, train_idx: np.ndarray, cfg: TrainConfig, *, model_kwargs=None,
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


def embed(model, X: np.ndarray, *, batch_size: int = 512, device: str = "cpu") -> np.ndarray:
    """Embeddings ``forward_features`` of maps, shape (n, embed_dim) float32 (eval mode, no dropout)."""
    model = model.to(device).eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(X), batch_size):
            out.append(model.forward_features(torch.as_tensor(X[s:s + batch_size], device=device)).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.embed_dim), np.float32)


def mc_dropout_predict(model, X: np.ndarray, *, n_samples: int = 20, seed: int = 0, batch_size: int = 512,
                       device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """MC-dropout predictions: mean and standard deviation over ``n_samples`` stochastic passes.

    Dropout stays on (the teacher has no batch statistics, so nothing else changes); the passes
    draw from ``torch.manual_seed(seed)``, so the result is reproducible.

    Returns
    -------
    mean, std : ndarray of float32, shape (n, 2)
        Predicted (valence, arousal) and its spread across passes.
    """
    model = model.to(device).train()
    torch.manual_seed(seed)
    Xt = torch.as_tensor(X, device=device)
    draws = []
    with torch.no_grad():
        for _ in range(int(n_samples)):
            draws.append(torch.cat([model(Xt[s:s + batch_size]).float() for s in range(0, len(Xt), batch_size)]))
    model.eval()
    d = torch.stack(draws).cpu().numpy()
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
    """Cross-validated error of the teacher (trial-holdout), per target, against the mean baseline.

    ``table`` rows: target x level x row (``teacher``, ``mean``) with RMSE, Pearson r and CCC as
    mean and std over subjects.
    """

    table: list
    sweep: object = None
    extra: dict = field(default_factory=dict)

    def to_markdown(self, title: str = "") -> str:
        lines = ([f"### {title}", ""] if title else []) + [
            "| target | level | row | RMSE | Pearson r | CCC |", "|---|---|---|---|---|---|"]
        for r in self.table:
            lines.append(f"| {r['target']} | {r['level']} | {r['row']} | {r['rmse_mean']:.3f} +- {r['rmse_std']:.3f} | "
                         f"{r['pearson_r_mean']:.3f} +- {r['pearson_r_std']:.3f} | "
                         f"{r['ccc_mean']:.3f} +- {r['ccc_std']:.3f} |")
        return "\n".join(lines) + "\n"


def cross_validate_teacher(windows: WindowSet, cfg: TrainConfig, *, n_folds: int = 5, model_kwargs=None,
                           progress=False) -> TeacherCV:
    """k-fold over trials per subject (a trial's windows never split): RMSE, r and CCC per target.

    These fold models only measure the teacher's error; none of them makes the grid.
    """
    kw = {"size": int(windows.X.shape[-1]), **(model_kwargs or {})}
    sw = run_sweep(windows, TEACHER, kw, "trial-holdout", n_folds, cfg, baselines=("mean",), progress=progress)
    rows = {}
    for pred in sw.predictions:
        trial = windows.trial[pred.test_idx]
        for j, target in enumerate(VA):
            for name in ("teacher", "mean"):
                yp = np.asarray(pred.y_pred[TEACHER if name == "teacher" else "mean"])[:, j]
                yt = pred.y_true[:, j]
                for level in ("window", "trial"):
                    a, b = (yt, yp) if level == "window" else average_trials(trial, yt, yp)[1:]
                    rows.setdefault((target, level, name), {}).setdefault(pred.subject, []).append(
                        regression_metrics(a, b))
    table = []
    for (target, level, name), per_subject in rows.items():
        subj = {s: {k: float(np.mean([m[k] for m in ms])) for k in ms[0]} for s, ms in per_subject.items()}
        row = {"target": target, "level": level, "row": name, "n_subjects": len(subj)}
        for k in ("rmse", "pearson_r", "ccc"):
            v = np.array([m[k] for m in subj.values()])
            row[f"{k}_mean"], row[f"{k}_std"] = float(v.mean()), float(v.std())
        table.append(row)
    table.sort(key=lambda r: (VA.index(r["target"]), r["level"] != "window", r["row"] != "teacher"))
    return TeacherCV(table=table, sweep=sw)
