"""The face student from dataset roots to tables and a deployable export.

>>> from neuroaffect import pipeline
>>> pipeline.train_arm("data/sim/ferplus/ferplus", "results/prototypes/grid", "B3", 0, "runs/B3_0")  # doctest: +SKIP
>>> pipeline.evaluate_students(["runs/B3_0"], "data/sim/ferplus/ferplus", "reports/distill",
...                            affectnet_mini="data/sim/affectnet-mini/affectnet_mini")               # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["evaluate_students", "export_selected", "train_arm"]


def train_arm(ferplus_root, grid, arm: str, seed: int, out, *, epochs=100, batch_size=128, lr=2e-4,
              weight_decay=0.05, grad_clip=1.0, device="auto", arch="resnet18", in_size=48, small_input=None,
              loss_options=None, progress=False) -> dict:
    """Read FERPlus and train one (arm, seed) (:func:`neuroaffect.distill.ablation.train_arm`)."""
    from ..distill import PAPER_CONFIG
    from ..distill.ablation import train_arm as _train
    from ..io.faces import read_ferplus
    from .data import find_sidecar

    cfg = PAPER_CONFIG.replace(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                               grad_clip=grad_clip, device=device)
    return _train(read_ferplus(ferplus_root), grid, arm, seed, cfg, out, arch=arch, in_size=in_size,
                  small_input=small_input, loss_options=loss_options, progress=progress,
                  faces="simulated" if find_sidecar(ferplus_root) is not None else "real")


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


def evaluate_students(runs, ferplus_root, out, *, affectnet_mini=None, ckplus=None, scale_note: str = "",
                      device: str = "cpu") -> str:
    """Evaluate every run once, write ``out/ablation.md``, ``out/ablation.json`` and ``out/confusion.png``.

    Returns the Markdown.
    """
    from ..distill.ablation import evaluate_runs, select_run, write_ablation
    from ..io.faces import read_affectnet_mini, read_ckplus, read_ferplus
    from ..labels import FER_CLASSES
    from ..viz import plot_confusions

    records = _records(runs)
    cross = {}
    if affectnet_mini is not None:
        cross["affectnet-mini"] = read_affectnet_mini(affectnet_mini)
    if ckplus is not None:
        cross["ckplus"] = read_ckplus(ckplus)
    results = evaluate_runs(records, read_ferplus(ferplus_root), cross, device=device)
    write_ablation(records, results, out, scale_note=scale_note)
    arm = "B3" if any(r["arm"] == "B3" for r in records) else records[0]["arm"]
    best = select_run(records, arm)
    cms = {r["set"]: r["confusion"] for r in results["runs"] if r["arm"] == arm and r["seed"] == best["seed"]}
    plot_confusions(cms, Path(out) / "confusion.png", class_names=FER_CLASSES,
                    title=f"{arm} seed {best['seed']} (best FERPlus validation macro-F1): test and cross-dataset sets")
    return (Path(out) / "ablation.md").read_text()


def export_selected(runs, out, *, arm: str = "B3", evaluation=None, onnx: bool = True) -> dict:
    """Export the run of ``arm`` with the best FERPlus validation macro-F1, with its evaluated metrics and ONNX.

    Returns ``{"arm", "seed", "val_macro_f1", "onnx_max_abs_diff"}``.
    """
    import numpy as np
    import torch

    from ..distill import check_onnx, export_onnx, export_student, load_student
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
    export_student(model, out, grid_sha256=getattr(model, "grid_sha256", None), metrics=metrics, datasets=datasets,
                   training=best.get("record"), faces=best.get("faces", "unknown"))
    info = {"arm": best["arm"], "seed": best["seed"], "val_macro_f1": best["val"]["macro_f1"],
            "onnx_max_abs_diff": None}
    if onnx:
        path = export_onnx(model, Path(out) / "model.onnx")
        x = torch.as_tensor(np.random.default_rng(0).uniform(0, 1, (8, 1, model.in_size, model.in_size)),
                            dtype=torch.float32)
        info["onnx_max_abs_diff"] = float(check_onnx(path, model, x))
    return info
