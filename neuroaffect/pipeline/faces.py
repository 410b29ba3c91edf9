"""The face student from dataset roots to tables and a deployable export.

- :func:`train_arm`: one (arm, seed) of the ablation trained and selected on FERPlus validation.
- :func:`evaluate_students`: every trained run evaluated once on the FERPlus test split and the
  cross-dataset sets, with the ablation tables and confusion matrices.
- :func:`export_student`: the run of one arm with the best FERPlus validation macro-F1, exported.

The losses, training, evaluation and export themselves live in :mod:`neuroaffect.distill`
(``docs/distillation.md``).

>>> from neuroaffect import pipeline
>>> pipeline.train_arm("data/sim/ferplus/ferplus", "results/prototypes/grid", "B3", 0, "runs/B3_0")  # doctest: +SKIP
>>> pipeline.evaluate_students(["runs/B3_0"], "data/sim/ferplus/ferplus", "reports/distill",
...                            affectnet_mini="data/sim/affectnet-mini/affectnet_mini")               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

__all__ = ["evaluate_students", "export_student", "train_arm"]


def _faceset(ferplus):
    """A FERPlus :class:`~neuroaffect.io.faces.FaceSet` and where its faces came from (``"simulated"`` when
    the root has the simulator's sidecar, ``"real"`` for another root, ``"unknown"`` for a FaceSet)."""
    from ..io.faces import FaceSet, read_ferplus
    from .data import find_sidecar

    if isinstance(ferplus, FaceSet):
        return ferplus, "unknown"
    return read_ferplus(ferplus), "simulated" if find_sidecar(ferplus) is not None else "real"


def _labelled_only_grid(grid, arm: str):
    """The grid of the ``B3-labelled`` arm, loaded; refused unless its card says it is the labelled-only
    grid (``labelled_only: true``, :func:`neuroaffect.pipeline.prototypes.labelled_only_card`)."""
    from ..prototypes import PrototypeGrid, load_grid

    what = "the labelled-only grid (export-prototypes --labelled-out; its card says labelled_only: true)"
    if grid is None:
        raise ValueError(f"Invalid value for the 'grid' parameter: arm {arm!r} trains against {what}, but got None "
                         "instead.")
    grid = grid if isinstance(grid, PrototypeGrid) else load_grid(grid)
    if grid.card.get("labelled_only") is not True:
        raise ValueError(f"Invalid value for the 'grid' parameter: arm {arm!r} trains against {what}, but got "
                         f"{grid.path or 'a grid'}, whose card does not say labelled_only: true.")
    return grid


def train_arm(ferplus, grid, arm: str, seed: int, out, *, train=None, progress=False, faces: str | None = None,
              **options) -> dict:
    """Train and select one (arm, seed) on FERPlus, export the student to ``out/student``.

    The arm's loss is :data:`neuroaffect.distill.ARMS`' (B0 CE, B1 + KD, B2 + Proto-KD, B3 full) or,
    for a grid arm of :data:`neuroaffect.distill.ablation.GRID_ARMS`, the full loss against the grid
    :func:`neuroaffect.prototypes.grid_arm` derives from ``grid`` (``B3-shuffled``: prototypes and flags
    permuted over the bins, seeded by ``seed``; ``B3-coordinate``: a fixed function of the bin centres;
    ``B3-oracle``: G* at the bin centres; both with seed 0), written to ``out/grid`` so the student's
    grid is a file it can load. The epoch kept is the one of best FERPlus **validation** macro-F1; the
    record holds only validation figures. Nothing here reads a test or cross-dataset set.

    Parameters
    ----------
    ferplus : path-like | FaceSet
        FERPlus root (read with :func:`~neuroaffect.io.faces.read_ferplus`) or the set itself, with its
        train / val / test splits; only train and val are used.
    grid : PrototypeGrid | path-like | None
        The frozen prototype grid (used by B2, B3 and the grid arms, which derive theirs from it).
    arm : {"B0", "B1", "B2", "B3", "B3-shuffled", "B3-coordinate", "B3-oracle", "B3-labelled"}
        ``B3-labelled``: the full loss against ``grid`` as it is, which must be the labelled-only grid.
    seed : int
    out : path-like
        Folder for the checkpoint, the export and ``record.json``.
    train : TrainConfig | None
        The training configuration (default :data:`neuroaffect.distill.PAPER_CONFIG`).
    faces : {"simulated", "real", "unknown"} | None
        Where the FERPlus faces came from (recorded, and stated in the export); ``None``: from the root.
    **options
        Fields of :class:`~neuroaffect.training.TrainConfig` (``epochs``, ``lr``, ``device``, ...) replace
        those of ``train``; the others (``arch``, ``in_size``, ``small_input``, ``loss_options``, ``augment``) go to
        :func:`~neuroaffect.distill.train_student`, whose defaults (the student's) hold otherwise.

    Returns
    -------
    record : dict
        Arm, seed, selected epoch, FERPlus validation metrics, the history, seconds, the grid arm
        (``grid_arm``: its card's ``arm`` entry, ``None`` for the EEG grid); written to ``out/record.json``.
    """
    from .._utils import atomic_write_json
    from ..distill import PAPER_CONFIG
    from ..distill.ablation import SOURCE_GRID_ARMS, arm_grid
    from ..distill.evaluate import evaluate_student
    from ..distill.export import save_student
    from ..prototypes import grid_arm, save_grid_arm
    from ..report import student_card
    from ..distill.train import train_student
    from ..training import ProgressReporter, TrainConfig

    loss_arm, kind, grid_seed = arm_grid(arm, seed)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = (train or PAPER_CONFIG).replace(**{k: options.pop(k) for k in list(options) if k in fields})
    ferplus, found = _faceset(ferplus)
    faces = found if faces is None else faces
    out = Path(out)
    t0 = time.perf_counter()
    if kind != "eeg":
        if grid is None:
            raise ValueError(f"Invalid value for the 'grid' parameter: arm {arm!r} derives its grid from the EEG grid, "
                             "but got None instead.")
        grid = grid_arm(grid, kind, grid_seed)
        save_grid_arm(grid, out / "grid")
    elif arm in SOURCE_GRID_ARMS:
        grid = _labelled_only_grid(grid, arm)
    train_set, val = ferplus.select_split("train"), ferplus.select_split("val")
    res = train_student(train_set, val, grid, loss_arm, cfg, checkpoint=out / "checkpoint.pt", seed=seed,
                        callbacks=[ProgressReporter(f"{arm} seed {seed}")] if progress else [], **options)
    grid_info = None if kind == "eeg" else grid.card["arm"]
    res.record.update(arm=arm, loss_arm=loss_arm)  # the export names the ablation arm it was trained as
    res.record["inputs"]["grid_arm"] = grid_info
    val_metrics = evaluate_student(res.model, val, device=cfg.device)
    save_student(res.model, out / "student", card=student_card, grid_sha256=res.grid_sha256,
                 metrics={"ferplus-val": val_metrics}, training=res.record, faces=faces)
    record = {"arm": arm, "seed": int(seed), "selected_epoch": res.selected_epoch, "val": val_metrics,
              "history": {k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in res.history.items()
                          if k.startswith(("train_", "val_"))},
              "proto_target_entropy": res.proto_target_entropy, "grid_sha256": res.grid_sha256,
              "grid_arm": None if grid_info is None else {k: v for k, v in grid_info.items() if k != "permutation"},
              "record": res.record, "faces": faces, "seconds": time.perf_counter() - t0,
              "student": str(out / "student")}
    atomic_write_json(out / "record.json", record)
    return record


def _records(runs) -> list:
    from .._utils import load_json_bounded

    out = []
    for r in runs:
        f = Path(r) / "record.json"
        if not f.is_file():
            raise FileNotFoundError(f"{f}: expected the record of a trained student (train-student writes it), but "
                                    "found no such file")
        out.append(load_json_bounded(f, "the JSON record of a trained student"))  # size and nesting bounded
    return out


def _plain(m: dict) -> dict:
    return {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in m.items()}


def _evaluate_runs(records, ferplus, cross_sets: dict, *, device="cpu") -> dict:
    """Evaluate every trained student once: FERPlus test and each cross-dataset set.

    Parameters
    ----------
    records : list of dict
        From :func:`train_arm` (their ``student`` folders are loaded).
    ferplus : FaceSet
    cross_sets : dict of str -> FaceSet
        E.g. ``{"affectnet-mini": ..., "ckplus": ...}`` (every split of each).

    Returns
    -------
    results : dict
        ``runs``: one row per (arm, seed, set) with :func:`~neuroaffect.distill.fer_metrics`;
        ``baselines``: majority, pixel-logistic and small-CNN (trained with the B0 record's budget)
        rows per set; ``sets``: names and sizes and the classes present in each set.
    """
    from ..distill.data import make_loader
    from ..distill.evaluate import baseline_rows, evaluate_student, small_cnn_budget
    from ..distill.export import load_student
    from ..labels import FER_CLASSES

    sets = {"ferplus-test": ferplus.select_split("test"), **cross_sets}
    rows, loaders = [], {}  # each set decoded once per input size, not once per student
    for r in records:
        model = load_student(r["student"], record=r)  # the export must be the run the record describes
        for name, fs in sets.items():
            key = (name, model.in_size)
            if key not in loaders:
                loaders[key] = make_loader(fs, False, 512, in_size=model.in_size)
            m = evaluate_student(model, fs, device=device, loader=loaders[key])
            rows.append({"arm": r["arm"], "seed": r["seed"], "set": name, **_plain(m)})
    base = [_plain(b) for b in baseline_rows(ferplus.select_split("train"), sets, val_set=ferplus.select_split("val"),
                                             device=device, **small_cnn_budget(records, device=device))]
    info = {name: {"n": len(fs), "classes": [FER_CLASSES[k] for k in fs.present_classes],
                   "labels": np.asarray(fs.labels).astype(int).tolist()} for name, fs in sets.items()}
    return {"runs": rows, "baselines": base, "sets": info}


def evaluate_students(runs, ferplus_root, out, *, affectnet_mini=None, ckplus=None, scale_note: str = "",
                      device: str = "cpu") -> str:
    """Evaluate every run once, write ``out/ablation.md``, ``out/ablation.json``, ``out/confusion.png`` and
    ``out/reliability.png`` (the arms' reliability diagram on FERPlus test).

    Every trained student is evaluated once on the FERPlus test split and the cross-dataset sets
    (AffectNet-mini, CK+), beside the majority-class and pixel-logistic rows, after all training.
    Returns the Markdown.
    """
    from ..distill.ablation import pooled_reliability, select_run
    from ..io.faces import read_affectnet_mini, read_ckplus, read_ferplus
    from ..labels import FER_CLASSES
    from ..report import write_ablation
    from ..viz import plot_confusions, plot_reliability

    records = _records(runs)
    cross = {}
    if affectnet_mini is not None:
        cross["affectnet-mini"] = read_affectnet_mini(affectnet_mini)
    if ckplus is not None:
        cross["ckplus"] = read_ckplus(ckplus)
    results = _evaluate_runs(records, read_ferplus(ferplus_root), cross, device=device)
    write_ablation(records, results, out, scale_note=scale_note)
    arm = "B3" if any(r["arm"] == "B3" for r in records) else records[0]["arm"]
    best = select_run(records, arm)
    cms = {r["set"]: r["confusion"] for r in results["runs"] if r["arm"] == arm and r["seed"] == best["seed"]}
    plot_confusions(cms, Path(out) / "confusion.png", class_names=FER_CLASSES,
                    title=f"{arm} seed {best['seed']} (best FERPlus validation macro-F1): test and cross-dataset sets")
    plot_reliability(pooled_reliability(results["runs"]), Path(out) / "reliability.png",
                     title="FERPlus test, every arm (seeds pooled)")
    return (Path(out) / "ablation.md").read_text()


def export_student(runs, out, *, arm: str = "B3", evaluation=None, onnx: bool = True) -> dict:
    """Export the run of ``arm`` with the best FERPlus validation macro-F1, with its evaluated metrics and ONNX.

    Writes what :func:`neuroaffect.distill.save_student` writes (and ``model.onnx``, checked
    against PyTorch). Returns ``{"arm", "seed", "val_macro_f1", "onnx_max_abs_diff"}``.
    """
    import torch

    from ..distill import check_onnx, export_onnx, load_student
    from ..distill import save_student
    from ..report import student_card
    from ..distill.ablation import select_run

    best = select_run(_records(runs), arm)
    model = load_student(best["student"], record=best)  # the export must be the run the record describes
    metrics = {"ferplus-val": best["val"]}
    if evaluation is not None:
        ev = json.loads(Path(evaluation).read_text())
        for r in ev["runs"]:
            if r["arm"] == best["arm"] and r["seed"] == best["seed"]:
                metrics[r["set"]] = r
    datasets = ["ferplus"] + [k for k in metrics if k not in ("ferplus-val", "ferplus-test")]
    save_student(model, out, card=student_card, grid_sha256=getattr(model, "grid_sha256", None), metrics=metrics,
                 datasets=datasets, training=best.get("record"), faces=best.get("faces", "unknown"))
    info = {"arm": best["arm"], "seed": best["seed"], "val_macro_f1": best["val"]["macro_f1"],
            "onnx_max_abs_diff": None}
    if onnx:
        path = export_onnx(model, Path(out) / "model.onnx")
        x = torch.as_tensor(np.random.default_rng(0).uniform(0, 1, (8, 1, model.in_size, model.in_size)),
                            dtype=torch.float32)
        info["onnx_max_abs_diff"] = float(check_onnx(path, model, x))
    return info
