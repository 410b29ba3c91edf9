"""The ablation: arms x seeds trained and selected on FERPlus validation, then evaluated once.

Order of work (``docs/distillation.md``):

1. :func:`train_arm` trains one (arm, seed): B0 CE, B1 + KD, B2 + Proto-KD, B3 full, and the
   control ``B3-shuffled`` (the full loss against the grid with its prototypes permuted over the
   bins). The epoch kept is the one of best FERPlus **validation** macro-F1; the record holds only
   validation figures. Nothing here reads a test or cross-dataset set.
2. :func:`evaluate_runs` evaluates every trained student once on the FERPlus test split and the
   cross-dataset sets (AffectNet-mini, CK+), beside the majority-class and pixel-logistic rows.
3. :func:`ablation_markdown` writes the tables: mean +- std over seeds, the paired comparison of
   B3 against B0 and B1 across seeds, the published figures in their own column, and what the
   control says about the grid.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .._utils import atomic_write_json, atomic_write_text
from ..labels import FER_CLASSES

__all__ = ["ARM_LABELS", "PUBLISHED", "ablation_markdown", "evaluate_runs", "select_run", "train_arm"]

#: The arms of the ablation and the control.
ARM_LABELS = {"B0": "B0 CE", "B1": "B1 + KD", "B2": "B2 + Proto-KD", "B3": "B3 full (+ D-Geo)",
              "B3-shuffled": "B3 full, shuffled grid (control)"}
#: Published figures (FERPlus validation, accuracy / macro-F1 / balanced accuracy, %), and the full
#: arm's cross-dataset figures (accuracy / present-only macro-F1 / balanced accuracy); set beside
#: ours as the published method's, not ours.
PUBLISHED = {
    "ferplus": {"B0": (78.22, 51.29, 49.77), "B1": (82.31, 63.56, 59.28), "B2": (81.48, 64.21, 60.30),
                "B3": (83.06, 64.74, 59.90)},
    "affectnet-mini": {"B3": (76.30, 75.60, 75.77)},
    "ckplus": {"B3": (64.93, 49.33, 52.46)},
}


def train_arm(ferplus, grid, arm: str, seed: int, cfg, out, *, arch="resnet18", in_size=48, small_input=None,
              loss_options=None, progress=False, faces: str = "unknown") -> dict:
    """Train and select one (arm, seed) on FERPlus, export the student to ``out/student``.

    Parameters
    ----------
    ferplus : FaceSet
        FERPlus with its train / val / test splits; only train and val are used here.
    grid : PrototypeGrid | path-like
        The frozen prototype grid (used by B2, B3 and the control).
    arm : {"B0", "B1", "B2", "B3", "B3-shuffled"}
    seed : int
    cfg : TrainConfig
    out : path-like
        Folder for the checkpoint, the export and ``record.json``.
    faces : {"simulated", "real", "unknown"}
        Where the FERPlus faces came from (recorded, and stated in the export).

    Returns
    -------
    record : dict
        Arm, seed, selected epoch, FERPlus validation metrics, the history, seconds; written to
        ``out/record.json``.
    """
    from ..training import ProgressReporter
    from .evaluate import evaluate_student
    from .export import export_student
    from .train import train_student

    if arm not in ARM_LABELS:
        raise ValueError(f"Invalid value for the 'arm' parameter. Allowed values are {list(ARM_LABELS)}, but got "
                         f"{arm!r} instead.")
    out = Path(out)
    t0 = time.perf_counter()
    control = arm == "B3-shuffled"
    train, val = ferplus.select_split("train"), ferplus.select_split("val")
    res = train_student(train, val, grid, "B3" if control else arm, cfg, arch=arch, in_size=in_size,
                        small_input=small_input, checkpoint=out / "checkpoint.pt", seed=seed,
                        shuffle_grid=control, shuffle_seed=seed, loss_options=loss_options,
                        callbacks=[ProgressReporter(f"{arm} seed {seed}")] if progress else [])
    val_metrics = evaluate_student(res.model, val, device=cfg.device)
    export_student(res.model, out / "student", grid_sha256=res.grid_sha256, metrics={"ferplus-val": val_metrics},
                   training=res.record, faces=faces)
    record = {"arm": arm, "seed": int(seed), "selected_epoch": res.selected_epoch, "val": val_metrics,
              "history": {k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in res.history.items()
                          if k.startswith(("train_", "val_"))},
              "proto_target_entropy": res.proto_target_entropy, "grid_sha256": res.grid_sha256,
              "record": res.record, "faces": faces, "seconds": time.perf_counter() - t0,
              "student": str(out / "student")}
    atomic_write_json(out / "record.json", record)
    return record


def select_run(records, arm: str = "B3") -> dict:
    """The run of ``arm`` with the best FERPlus **validation** macro-F1 (the deployable student)."""
    runs = [r for r in records if r["arm"] == arm]
    if not runs:
        raise ValueError(f"no run of arm {arm!r} among {sorted({r['arm'] for r in records})}")
    return max(runs, key=lambda r: (r["val"]["macro_f1"], -r["seed"]))


def evaluate_runs(records, ferplus, cross_sets: dict, *, device="cpu") -> dict:
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
        ``baselines``: majority and pixel-logistic rows per set; ``sets``: names and sizes and the
        classes present in each set.
    """
    from .evaluate import baseline_rows, evaluate_student
    from .export import load_student

    sets = {"ferplus-test": ferplus.select_split("test"), **cross_sets}
    rows = []
    for r in records:
        model = load_student(r["student"], record=r)  # the export must be the run the record describes
        for name, fs in sets.items():
            m = evaluate_student(model, fs, device=device)
            rows.append({"arm": r["arm"], "seed": r["seed"], "set": name, **_plain(m)})
    base = [_plain(b) for b in baseline_rows(ferplus.select_split("train"), sets)]
    info = {name: {"n": len(fs), "classes": [FER_CLASSES[k] for k in fs.present_classes]} for name, fs in sets.items()}
    return {"runs": rows, "baselines": base, "sets": info}


def _plain(m: dict) -> dict:
    return {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in m.items()}


def _ms(values, pct=True) -> str:
    v = np.asarray(values, dtype=float) * (100 if pct else 1)
    return f"{v.mean():.1f} +- {v.std():.1f}" if v.size > 1 else f"{v.mean():.1f}"


def paired_tests(rows, metric: str = "macro_f1", set_name: str = "ferplus-test") -> list:
    """B3 against B0 and B1 (and against the control) across seeds: mean difference, paired t, p."""
    from scipy.stats import ttest_rel

    by = {}
    for r in rows:
        if r["set"] == set_name:
            by.setdefault(r["arm"], {})[r["seed"]] = r[metric]
    out = []
    for other in ("B0", "B1", "B3-shuffled"):
        if "B3" not in by or other not in by:
            continue
        seeds = sorted(set(by["B3"]) & set(by[other]))
        a = np.array([by["B3"][s] for s in seeds])
        b = np.array([by[other][s] for s in seeds])
        t, p = (ttest_rel(a, b) if len(seeds) >= 2 and np.any(a != b) else (np.nan, np.nan))
        out.append({"comparison": f"B3 - {other}", "set": set_name, "metric": metric, "n_seeds": len(seeds),
                    "mean_difference": float(np.mean(a - b)) if seeds else np.nan, "t": float(t), "p": float(p)})
    return out


def ablation_markdown(records, results: dict, *, scale_note: str = "") -> str:
    """The ablation and cross-dataset tables (Markdown)."""
    arms = [a for a in ARM_LABELS if any(r["arm"] == a for r in records)]
    seeds = sorted({r["seed"] for r in records})
    lines = ["# Distilled FER student: ablation", ""]
    if scale_note:
        lines += [scale_note, ""]
    lines += [f"Arms x seeds {len(arms)} x {len(seeds)} (seeds {seeds}). Every checkpoint was chosen by macro-F1 "
              "on FERPlus validation; test and cross-dataset sets were evaluated once, after all training. "
              "Figures: mean +- std over seeds, %. The published column is the published method's own "
              "(FERPlus validation), not ours.", "",
              "## FERPlus", "",
              "| arm | val acc | val macro-F1 | val bACC | test acc | test macro-F1 | test bACC | published val "
              "acc / macro-F1 / bACC |", "|---|---|---|---|---|---|---|---|"]
    test = {a: [r for r in results["runs"] if r["arm"] == a and r["set"] == "ferplus-test"] for a in arms}
    for a in arms:
        val = [r["val"] for r in records if r["arm"] == a]
        pub = PUBLISHED["ferplus"].get(a)
        lines.append(f"| {ARM_LABELS[a]} | {_ms([v['accuracy'] for v in val])} | {_ms([v['macro_f1'] for v in val])} | "
                     f"{_ms([v['balanced_accuracy'] for v in val])} | {_ms([r['accuracy'] for r in test[a]])} | "
                     f"{_ms([r['macro_f1'] for r in test[a]])} | {_ms([r['balanced_accuracy'] for r in test[a]])} | "
                     + (" / ".join(f"{x:.2f}" for x in pub) if pub else "") + " |")
    for b in results["baselines"]:
        if b["set"] == "ferplus-test":
            lines.append(f"| {b['method']} (reference) | | | | {100 * b['accuracy']:.1f} | {100 * b['macro_f1']:.1f} | "
                         f"{100 * b['balanced_accuracy']:.1f} | |")
    cross = [s for s in results["sets"] if s != "ferplus-test"]
    if cross:
        lines += ["", "## Cross-dataset (present-only macro-F1: averaged over the classes present in the set)", "",
                  "| arm | " + " | ".join(f"{s} acc | {s} present-only macro-F1 | {s} bACC" for s in cross) + " |",
                  "|---" * (1 + 3 * len(cross)) + "|"]
        for a in arms:
            cells = []
            for s in cross:
                rs = [r for r in results["runs"] if r["arm"] == a and r["set"] == s]
                cells += [_ms([r["accuracy"] for r in rs]), _ms([r["present_macro_f1"] for r in rs]),
                          _ms([r["balanced_accuracy"] for r in rs])]
            lines.append(f"| {ARM_LABELS[a]} | " + " | ".join(cells) + " |")
        for method in ("majority", "pixel-logistic"):
            cells = []
            for s in cross:
                b = next((b for b in results["baselines"] if b["method"] == method and b["set"] == s), None)
                cells += ["" if b is None else f"{100 * b[k]:.1f}" for k in ("accuracy", "present_macro_f1",
                                                                              "balanced_accuracy")]
            lines.append(f"| {method} (reference) | " + " | ".join(cells) + " |")
        pubs = [f"{s}: " + " / ".join(f"{x:.2f}" for x in PUBLISHED[s]["B3"]) for s in cross if s in PUBLISHED]
        if pubs:
            lines += ["", "Published full-arm cross-dataset figures (their protocol, accuracy / macro-F1 / bACC): "
                      + "; ".join(pubs) + "."]
        lines += ["", "Classes present: " + "; ".join(f"{s} ({results['sets'][s]['n']} images): "
                                                     f"{', '.join(results['sets'][s]['classes'])}" for s in cross) + "."]
    tests = paired_tests(results["runs"])
    if tests:
        lines += ["", "## Paired comparison across seeds (FERPlus test macro-F1)", "",
                  "| comparison | seeds | mean difference (points) | t | p |", "|---|---|---|---|---|"]
        for t in tests:
            lines.append(f"| {t['comparison']} | {t['n_seeds']} | {100 * t['mean_difference']:+.2f} | "
                         f"{t['t']:.2f} | {t['p']:.3f} |")
        ctrl = next((t for t in tests if t["comparison"] == "B3 - B3-shuffled"), None)
        if ctrl is not None:
            if ctrl["n_seeds"] < 2:
                verdict = ("one seed allows no test, so this run cannot tell whether the real grid helps more "
                           "than the shuffled one")
            elif ctrl["mean_difference"] > 0 and ctrl["p"] < 0.05:
                verdict = "the real grid did better than the shuffled one"
            else:
                verdict = ("the shuffled grid helped as much as the real one: on this run the EEG grid carried no "
                           "information beyond acting as a regulariser")
            lines += ["", f"Control: {verdict} (B3 - B3-shuffled {100 * ctrl['mean_difference']:+.2f} points, "
                          f"p {ctrl['p']:.3f}, {ctrl['n_seeds']} seed(s))."]
    return "\n".join(lines) + "\n"


def write_ablation(records, results, out, *, scale_note: str = "") -> list:
    """Write ``out/ablation.md``, ``out/ablation.json`` (every row) atomically; return the paths."""
    out = Path(out)
    md = ablation_markdown(records, results, scale_note=scale_note)
    return [atomic_write_text(out / "ablation.md", md),
            atomic_write_json(out / "ablation.json", {"records": [{k: v for k, v in r.items() if k != "history"}
                                                                  for r in records], **results,
                                                      "paired": paired_tests(results["runs"])})]
