"""From feature files to an exported grid: teacher, held-out embeddings, MAHNOB support, control, card.

The design (``docs/prototypes.md``):

1. The teacher's error is measured by k-fold cross-validation over trials (:func:`make_teacher`);
   those fold models are discarded.
2. **One** final teacher trains on a fraction of each dataset's trials; its embedding space is
   the grid's. The trials it never saw (``holdout``) fill the bins with their true
   valence/arousal. Embeddings of different models live in different spaces and are never mixed.
3. Unlabelled support (MAHNOB-HCI): the teacher predicts valence/arousal with MC dropout (dropout in
   its convolutional blocks and before its head, so the passes differ in their embedding); a window
   joins the bin of its predicted (v, a) when its predictive spread (mean std over v and a) is no
   larger than the ``gate_quantile`` quantile of the spreads on the labelled held-out windows, i.e.
   when the teacher is at least as sure of it as of a typical window it was tested on. Our
   design: the published method does not say how it used MAHNOB. The card records the pass rate of
   each source and where the passing windows land (inner or outer bins).
4. Control: the same procedure with (valence, arousal) permuted across trials before anything is
   trained; its grid must not come out ordered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_int, check_real, code_version, config_hash, sha256_file
from ..labels import grid_cells
from ..training import predict
from .grid import GridBuild, axis_ordering, bootstrap_ordering, build_grid, ordering_test
from .io import LICENCE_NOTE, write_grid_files
from .teacher import (
    ROLES, VA, cross_validate_teacher, embed, fit_topo_teacher, load_teacher, mc_dropout_predict, read_teacher_summary,
    remap_maps, split_holdout, teacher_windows, write_teacher_summary,
)

__all__ = ["PrototypeConfig", "GridResult", "TEACHER_FIELDS", "export_prototype_grid", "make_grid", "make_teacher"]

#: The PrototypeConfig fields :func:`make_teacher` uses (the others only shape the grid built from it).
TEACHER_FIELDS = ("holdout", "cv_folds", "seed", "model_kwargs")

NORMALISATION = {"dreamer": "(score - 3) / 2, scores 1-5", "deap": "(rating - 5) / 4, ratings 1-9",
                 "mahnob": "(rating - 5) / 4, ratings 1-9"}


@dataclass(frozen=True)
class PrototypeConfig:
    """Parameters of the grid (every one recorded in the card and its config hash).

    Parameters
    ----------
    grid_size : int
        Bins per axis (5: side 0.4, centres -0.8 .. 0.8).
    ablation_sizes : tuple of int
        Other grid sizes whose occupancy the report shows.
    holdout : float
        Fraction of trials (stratified by valence sign) the final teacher never trains on; their
        windows fill the bins.
    cv_folds : int
        Folds over trials for the teacher's cross-validated error (0: skip).
    mc_samples : int
        MC-dropout passes for the support gate.
    gate_quantile : float
        A support window passes when its predictive spread is at most this quantile of the
        labelled held-out windows' spreads.
    n_permutations : int
        Permutations of the ordering test.
    n_bootstrap : int
        Resamples of the trial bootstrap of the ordering statistics (hold-out trials resampled within
        each subject; :func:`~neuroaffect.prototypes.grid.bootstrap_ordering`).
    seed : int
        Seeds the hold-out split, the control's label permutation, MC dropout and the permutations.
    model_kwargs : dict
        TopoTeacher arguments (``width``, ``embed_dim``, ``dropout``).
    """

    grid_size: int = 5
    ablation_sizes: tuple = (3, 7)
    holdout: float = 0.3
    cv_folds: int = 5
    mc_samples: int = 20
    gate_quantile: float = 0.5
    n_permutations: int = 1000
    n_bootstrap: int = 200
    seed: int = 0
    model_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        check_int("grid_size", self.grid_size, minimum=2)
        for n in self.ablation_sizes:
            check_int("ablation_sizes", n, minimum=2)
        check_real("holdout", self.holdout, 0.0, 1.0, low_open=True, high_open=True)
        if self.cv_folds != 0:
            check_int("cv_folds", self.cv_folds, minimum=2)
        check_int("mc_samples", self.mc_samples, minimum=2)
        check_real("gate_quantile", self.gate_quantile, 0.0, 1.0)
        check_int("n_permutations", self.n_permutations, minimum=1)
        check_int("n_bootstrap", self.n_bootstrap, minimum=1)
        check_int("seed", self.seed, minimum=0)
        object.__setattr__(self, "ablation_sizes", tuple(int(n) for n in self.ablation_sizes))

    def to_dict(self) -> dict:
        return {"grid_size": self.grid_size, "ablation_sizes": list(self.ablation_sizes), "holdout": self.holdout,
                "cv_folds": self.cv_folds, "mc_samples": self.mc_samples, "gate_quantile": self.gate_quantile,
                "n_permutations": self.n_permutations, "n_bootstrap": self.n_bootstrap, "seed": self.seed,
                "model_kwargs": dict(self.model_kwargs)}


def _held_pairs(ws, idx) -> list:
    """Sorted unique (subject, trial id) pairs of windows ``idx``."""
    pairs = {(int(s), int(t)) for s, t in zip(ws.subject[idx], ws.trial_number[idx])}
    return sorted(pairs)


def make_teacher(labelled, dataset: str, out, cfg: PrototypeConfig, train_cfg, *, inputs: dict | None = None,
                 progress=False, final: bool = True) -> dict:
    """Cross-validate the teacher, then train the final teacher and its shuffled-label control.

    Writes ``out/teacher.pt``, ``out/control.pt`` (engine checkpoints of
    :func:`~neuroaffect.prototypes.teacher.fit_topo_teacher` that :func:`neuroaffect.training.load_model`
    rebuilds) and ``out/teacher.json`` (the CV table, ``holdout``: the final teacher beside the mean
    predictor and ridge on its held-out windows (:func:`~neuroaffect.prototypes.teacher_eval.holdout_table`),
    the fields of ``cfg`` it used
    (:data:`TEACHER_FIELDS`), the hold-out trials, timings, ``<name>_resumed_from_epoch``: the epochs a
    resumed checkpoint had done, ``None`` for a run from scratch). Returns the JSON's content.
    ``final=False`` only cross-validates (e.g. a second source such as DEAP), without the shuffled-label row
    of the CV table (it doubles the CV's cost; the grid's teacher has it).
    """
    from ..training import ProgressReporter

    out = Path(out)
    t0 = time.perf_counter()
    ws = teacher_windows(labelled, dataset)
    config = {k: v for k, v in cfg.to_dict().items() if k in TEACHER_FIELDS}
    summary = {"dataset": dataset, "config": config, "train_config": train_cfg.resolved(),
               "n_windows": ws.n_windows, "n_trials": int(np.unique(ws.trial).size),
               "subjects": ws.subjects.tolist(), "code_version": code_version()}
    if cfg.cv_folds:
        cv = cross_validate_teacher(ws, train_cfg.replace(seed=cfg.seed), n_folds=cfg.cv_folds,
                                    model_kwargs=cfg.model_kwargs, control=final, progress=progress)
        summary["cv"] = cv.table
    summary["seconds_cv"] = time.perf_counter() - t0
    fit_idx, held_idx = split_holdout(ws, cfg.holdout, cfg.seed)
    summary["holdout_trials"] = _held_pairs(ws, held_idx)
    for name, shuffle in (("teacher", None), ("control", cfg.seed + 1)) if final else ():
        t1 = time.perf_counter()
        w = ws if shuffle is None else teacher_windows(labelled, dataset, shuffle_seed=shuffle)
        prov = {"dataset": dataset, "role": name, "shuffle_seed": shuffle, "holdout_trials": summary["holdout_trials"],
                "inputs": inputs or {}}
        cb = [ProgressReporter(f"{name}")] if progress else []
        model, res = fit_topo_teacher(w, fit_idx, train_cfg.replace(seed=cfg.seed), model_kwargs=cfg.model_kwargs,
                                      checkpoint=out / f"{name}.pt", inputs=prov, callbacks=cb)
        summary[f"seconds_{name}"] = time.perf_counter() - t1
        summary[f"{name}_final_train_loss"] = res.history["train_loss"][-1]
        summary[f"{name}_resumed_from_epoch"] = res.resumed_from  # None: trained from scratch
        if shuffle is None:  # the final teacher beside the mean predictor and ridge on its held-out windows
            from .teacher_eval import holdout_table

            pred = predict(model, ws.X[held_idx], device="cpu", batch_size=max(held_idx.size, 1), amp=False)[0]
            summary["holdout"] = holdout_table(ws, fit_idx, held_idx, pred, VA, seed=cfg.seed)
    summary["inputs"] = inputs or {}
    summary["checkpoints_sha256"] = {name: sha256_file(out / f"{name}.pt") for name in ROLES if final}
    return write_teacher_summary(out / "teacher.json", summary)


@dataclass
class GridResult:
    """Everything the export and the report need.

    Attributes
    ----------
    grid : GridBuild
        The exported grid (labelled held-out members plus gated support).
    labelled_only : GridBuild
        The same teacher's grid without support members.
    control : GridBuild | None
        The shuffled-label control's grid.
    ablation : dict of int -> GridBuild
        Grids of the other sizes (same members).
    ordering : dict of str -> dict
        :func:`~neuroaffect.prototypes.grid.ordering_test` and
        :func:`~neuroaffect.prototypes.grid.axis_ordering` of ``grid``, ``labelled_only``, ``control``; for
        ``grid`` and ``labelled_only`` also ``bootstrap``
        (:func:`~neuroaffect.prototypes.grid.bootstrap_ordering`, ``None`` without two hold-out trials of a
        subject).
    held : dict
        Held-out labelled windows: ``true`` (n, 2), ``pred`` (n, 2), ``mc_mean`` (n, 2), ``std`` (n, 2),
        ``embedding`` (n, D).
    support : dict
        Per support source: windows seen, passed the gate, threshold, median spread and where all and the
        passing windows land (``_gate_summary``).
    card : dict
        Provenance for the export.
    """

    grid: GridBuild
    labelled_only: GridBuild
    control: GridBuild | None
    ablation: dict
    ordering: dict
    held: dict
    support: dict
    card: dict


def _grid(members: dict, n: int, cfg: PrototypeConfig, *, order: bool = True):
    """The grid of ``members`` (:func:`~neuroaffect.prototypes.grid.build_grid`) and, with ``order``, its
    ordering test and per-axis ordering over the non-empty bins (``None`` otherwise)."""
    g = build_grid(members, n)
    if not order:
        return g, None
    return g, {**ordering_test(g.prototypes, g.centres, ~g.filled, n_permutations=cfg.n_permutations, seed=cfg.seed),
               **axis_ordering(g.prototypes, g.centres, ~g.filled)}


def _bootstrap(emb, true, ws, held_idx, cfg: PrototypeConfig, fixed=None) -> dict | None:
    """Trial bootstrap (within subject) of the ordering statistics of the grid of the held-out windows (plus the
    ``fixed`` members); ``None`` when no subject has two hold-out trials to resample."""
    trials, subjects = ws.trial[held_idx], ws.subject[held_idx]
    if max((np.unique(trials[subjects == s]).size for s in np.unique(subjects)), default=0) < 2:
        return None
    return bootstrap_ordering(emb, true[:, 0], true[:, 1], trials, strata=subjects, fixed=fixed, n=cfg.grid_size,
                              n_resamples=cfg.n_bootstrap, seed=cfg.seed)


def _where(va: np.ndarray, n: int, keep=None) -> dict:
    """How many of the points ``va`` (m, 2) (those with ``keep``, shape (m,) bool) fall in the inner bins (neither
    index on the border) and in the outer ring of bins; a point outside ``[-1, 1]^2`` counts in the edge bin
    :func:`~neuroaffect.labels.grid_cells` gives it (where the grid puts its member), a NaN point in neither."""
    iv, ia = grid_cells(va[:, 0].astype(np.float64), va[:, 1].astype(np.float64), n)
    keep = np.ones(len(iv), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    inside = keep & (iv >= 0)
    inner = inside & (iv > 0) & (iv < n - 1) & (ia > 0) & (ia < n - 1)
    return {"inner": int(inner.sum()), "outer": int((inside & ~inner).sum())}


def _gate_summary(std: np.ndarray, mean: np.ndarray, threshold: float, n: int, true=None) -> dict:
    """One source's gate figures: windows, windows passing (spread ``std`` (m, 2) averaged over v and a at most
    ``threshold``), median spread, and where all and the passing windows land by their MC-mean prediction
    ``mean`` (m, 2) (and by ``true`` (m, 2), their labels, when given, with ``spread_error_rho``: Spearman's rho
    between the spread and the absolute error of ``mean`` averaged over v and a, NaN under 3 windows)."""
    spread = std.mean(axis=1)
    keep = spread <= threshold
    out = {"windows": int(len(spread)), "passed": int(keep.sum()),
           "spread_median": float(np.median(spread)) if len(spread) else float("nan"),
           "bins_all": _where(mean, n), "bins_passed": _where(mean, n, keep)}
    if true is not None:
        from scipy.stats import spearmanr

        err = np.abs(mean - true).mean(axis=1)
        rho = float(spearmanr(spread, err)[0]) if len(spread) >= 3 else float("nan")
        out.update(bins_all_true=_where(true, n), bins_passed_true=_where(true, n, keep), spread_error_rho=rho)
    return out


def _gate(std: np.ndarray, cfg: PrototypeConfig) -> float:
    """Support-gate threshold: the ``gate_quantile`` quantile of the mean (v, a) spread of windows, ``std`` (n, 2)."""
    return float(np.quantile(std.mean(axis=1), cfg.gate_quantile))


def _support_members(teacher, sources, ch_names, cfg, threshold):
    """Embeddings and predicted (v, a) of the support windows that pass the gate (``None`` when none does), and
    the gate's figures for them (:func:`_gate_summary`, ``threshold``)."""
    import xarray as xr

    from ..features import read_features, valid_mask

    emb, pv, pa, stds, means = [], [], [], [], []
    for src in sources:
        ds = src if isinstance(src, xr.Dataset) else read_features(src)
        maps = remap_maps(ds, ch_names, size=teacher.size)
        ok = valid_mask(ds)
        X = np.ascontiguousarray(maps[ok], dtype=np.float32)
        if not len(X):
            continue
        mean, std = mc_dropout_predict(teacher, X, n_samples=cfg.mc_samples, seed=cfg.seed)
        keep = std.mean(axis=1) <= threshold
        stds.append(std)
        means.append(mean)
        if keep.any():
            emb.append(embed(teacher, X[keep]))
            pv.append(mean[keep, 0])
            pa.append(mean[keep, 1])
    std, mean = (np.concatenate(stds), np.concatenate(means)) if stds else (np.zeros((0, 2)), np.zeros((0, 2)))
    info = {**_gate_summary(std, mean, threshold, cfg.grid_size), "threshold": float(threshold)}
    if not emb:
        return None, info
    return (np.concatenate(emb), np.concatenate(pv), np.concatenate(pa)), info


def _final_teacher(teacher_dir: Path, dataset: str):
    """The final teacher (loaded once), its provenance, ``teacher.json`` checked against the checkpoints, and
    whether ``control.pt`` is there."""
    has_control = (teacher_dir / "control.pt").is_file()
    summary = read_teacher_summary(teacher_dir / "teacher.json",
                                   checkpoints=("teacher", "control") if has_control else ("teacher",))
    teacher, prov = load_teacher(teacher_dir / "teacher.pt", "teacher")
    if prov.get("dataset") != dataset or [tuple(p) for p in prov.get("holdout_trials") or []] \
            != [tuple(p) for p in summary.get("holdout_trials") or []]:
        raise DatasetFormatError(teacher_dir / "teacher.pt", f"a teacher of {dataset} with the hold-out trials "
                                 "teacher.json records", f"dataset {prov.get('dataset')!r} and other trials")
    return teacher, prov, summary, has_control


def _held_idx(ws, summary: dict, cfg: PrototypeConfig, where: Path) -> np.ndarray:
    """Indices of the windows of the hold-out trials ``teacher.json`` records, checked against the split that
    ``cfg`` makes of these features."""
    held_pairs = {tuple(p) for p in summary["holdout_trials"]}
    pairs = list(zip(ws.subject.tolist(), ws.trial_number.tolist()))
    held_idx = np.flatnonzero([p in held_pairs for p in pairs])
    _, check_idx = split_holdout(ws, cfg.holdout, cfg.seed)
    if not np.array_equal(np.sort(check_idx), held_idx):
        raise ValueError(f"{where}: expected the hold-out trials of these features "
                         f"(holdout={cfg.holdout}, seed={cfg.seed}), but the recorded trials differ: the teacher was "
                         "trained on other data or settings")
    return held_idx


def _control_grids(teacher_dir: Path, labelled, dataset: str, held_idx, cfg: PrototypeConfig, support,
                   support_name: str, ch_names) -> tuple:
    """The shuffled-label control's grid from its own held-out embeddings, and its ordering tests (``control``;
    with support, ``control_with_support``: support gated and binned by the control's own predictions)."""
    ctrl_model, _ = load_teacher(teacher_dir / "control.pt", "control")
    cws = teacher_windows(labelled, dataset, shuffle_seed=cfg.seed + 1)
    X = cws.X[held_idx]
    own = {dataset: (embed(ctrl_model, X), cws.y[held_idx, 0], cws.y[held_idx, 1])}
    control, ordering = _grid(own, cfg.grid_size, cfg)
    orderings = {"control": ordering}
    if support:
        _, hstd = mc_dropout_predict(ctrl_model, X, n_samples=cfg.mc_samples, seed=cfg.seed)
        csup, _ = _support_members(ctrl_model, support, ch_names, cfg, _gate(hstd, cfg))
        if csup is not None:
            _, orderings["control_with_support"] = _grid({**own, support_name: csup}, cfg.grid_size, cfg)
    return control, orderings


def _card(teacher, prov: dict, summary: dict, grid: GridBuild, cfg: PrototypeConfig, *, dataset: str,
          support_name: str, n_held: tuple, sup_info: dict, ordering: dict, inputs: dict | None,
          labelled_gate: dict) -> dict:
    """The export's provenance (``card.json`` less the checksums :func:`write_grid_files` adds);
    ``n_held``: (hold-out trials, hold-out windows); ``labelled_gate``: :func:`_gate_summary` of the labelled
    hold-out windows (``support_gate["labelled"]``, beside the support's figures at its top level)."""
    spec = teacher.checkpoint_spec
    arch = {"name": spec["name"], "kwargs": {k: v for k, v in spec["kwargs"].items() if not hasattr(v, "shape")}}
    return {
        "dim": int(teacher.embed_dim), "grid_size": cfg.grid_size, "axes": ["valence", "arousal"],
        "bin_edges": grid.edges.tolist(), "bin_centres": grid.centres.tolist(),
        "normalisation": NORMALISATION, "sources": [dataset, support_name],
        "counts": {k: v.tolist() for k, v in grid.counts.items()}, "filled": grid.filled.astype(int).tolist(),
        "teacher": {"architecture": arch, "checkpoint_sha256": summary["checkpoints_sha256"]["teacher"],
                    "role": prov["role"], "train_config":
                    summary["train_config"], "dataset": dataset, "holdout_fraction": cfg.holdout,
                    "n_holdout_trials": n_held[0], "n_holdout_windows": n_held[1],
                    "cv": summary.get("cv")},
        "support_gate": {"method": "MC dropout" if getattr(teacher, "block_dropout", 0.0) > 0 else
                         "MC dropout of the head only (a weighted norm of the embedding)",
                         "block_dropout": float(getattr(teacher, "block_dropout", 0.0)),
                         "head_dropout": float(teacher.drop.p), "samples": cfg.mc_samples,
                         "quantile": cfg.gate_quantile, **sup_info, "labelled": labelled_gate},
        "ordering": ordering, "config": cfg.to_dict(), "config_hash": config_hash(cfg.to_dict()),
        "inputs": inputs or {}, "code_version": code_version(), "licence": LICENCE_NOTE,
    }


def make_grid(teacher_dir, labelled, dataset: str, cfg: PrototypeConfig, *, support=(), support_name="mahnob",
              inputs: dict | None = None) -> GridResult:
    """Build the grid from the final teacher in ``teacher_dir`` (see :func:`make_teacher`).

    Parameters
    ----------
    teacher_dir : path-like
        Folder with ``teacher.pt``, ``teacher.json`` and (optional) ``control.pt``.
    labelled : feature files or datasets of ``dataset`` (the teacher's own)
    support : feature files or datasets of the unlabelled support dataset
    inputs : dict | None
        sha256 of every input file, for the card.
    """
    teacher_dir = Path(teacher_dir)
    teacher, prov, summary, has_control = _final_teacher(teacher_dir, dataset)
    ws = teacher_windows(labelled, dataset)
    held_idx = _held_idx(ws, summary, cfg, teacher_dir / "teacher.json")
    X, true = ws.X[held_idx], ws.y[held_idx]
    pred_mean, pred_std = mc_dropout_predict(teacher, X, n_samples=cfg.mc_samples, seed=cfg.seed)
    emb = embed(teacher, X)
    pred = predict(teacher, X, device="cpu", batch_size=max(len(X), 1), amp=False)[0]
    threshold = _gate(pred_std, cfg)
    labelled_members = {dataset: (emb, true[:, 0], true[:, 1])}
    ch_names = [str(c) for c in _channels(labelled)]
    sup_members, sup_info = None, {**_gate_summary(np.zeros((0, 2)), np.zeros((0, 2)), threshold, cfg.grid_size),
                                   "threshold": threshold}
    if support:
        sup_members, sup_info = _support_members(teacher, support, ch_names, cfg, threshold)
    members = {**labelled_members, support_name: sup_members if sup_members is not None else (
        np.zeros((0, teacher.embed_dim)), np.zeros(0), np.zeros(0))}
    grid, ordering_grid = _grid(members, cfg.grid_size, cfg)
    labelled_only, ordering_labelled = _grid(labelled_members, cfg.grid_size, cfg)
    ablation = {k: _grid(members, k, cfg, order=False)[0] for k in cfg.ablation_sizes}
    ordering_labelled["bootstrap"] = _bootstrap(emb, true, ws, held_idx, cfg)
    ordering_grid["bootstrap"] = _bootstrap(emb, true, ws, held_idx, cfg, fixed=None if sup_members is None else
                                            {support_name: sup_members})
    ordering = {"grid": ordering_grid, "labelled_only": ordering_labelled}
    control = None
    if has_control:
        control, control_ordering = _control_grids(teacher_dir, labelled, dataset, held_idx, cfg, support,
                                                   support_name, ch_names)
        ordering.update(control_ordering)
    n_held = (len({tuple(p) for p in summary["holdout_trials"]}), int(held_idx.size))
    card = _card(teacher, prov, summary, grid, cfg, dataset=dataset, support_name=support_name, n_held=n_held,
                 sup_info=sup_info, ordering=ordering, inputs=inputs,
                 labelled_gate=_gate_summary(pred_std, pred_mean, threshold, cfg.grid_size, true))
    return GridResult(grid=grid, labelled_only=labelled_only, control=control, ablation=ablation, ordering=ordering,
                      held={"true": true, "pred": pred, "mc_mean": pred_mean, "std": pred_std, "embedding": emb},
                      support={support_name: sup_info}, card=card)


def _channels(labelled):
    import xarray as xr

    from ..features import read_features

    first = labelled[0] if isinstance(labelled, (list, tuple)) else labelled
    ds = first if isinstance(first, xr.Dataset) else read_features(first)
    return list(ds["channel"].values)


def export_prototype_grid(result: GridResult, out) -> dict:
    """Write ``grid.safetensors``, ``grid.npz`` and ``card.json`` to ``out`` (atomically); return the paths."""
    return write_grid_files(out, result.grid.arrays(result.card["sources"]), result.card)
