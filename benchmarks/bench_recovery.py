"""How much of the simulator's planted effect the models recover, against the signal-to-noise knob.

For each snr: simulate DEAP at ``--scale`` (default demo: 4 subjects x 40 trials x 20 s) into a
temporary folder, extract band-DE features (the workflow's defaults unless ``--feature-params``),
and run the subject-dependent trial-holdout sweep of each model with its shuffled-label control.
Prints, per snr, target and model, the mean over subjects of the window- and trial-level
accuracy, the majority-class row, the margin over it, the control and the simulator's oracle.
``snr = 0`` plants no effect at all: every row should sit at the majority / chance level.

Run::

    python benchmarks/bench_recovery.py --snr 0 1 2 --models dgcnn --epochs 20 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neuroaffect.features import FeatureParams, extract_features, write_features
from neuroaffect.io import read_dataset
from neuroaffect.report.performance import machine_line
from neuroaffect.simulate import oracle_accuracies, simulate, subjects
from neuroaffect.training import TrainConfig, run_sweep
from neuroaffect.training.inputs import windows_from_features
from neuroaffect.training.sweep import CONTROL_SUFFIX


def features(root: Path, out: Path, scale: str, params: FeatureParams) -> list[Path]:
    files = []
    for s in subjects("deap", scale):
        (rec,) = read_dataset("deap", root, subjects=[s])
        files.append(write_features(extract_features(rec, params), out / f"{s}.nc"))
    return files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snr", type=float, nargs="+", default=[0.0, 1.0, 2.0])
    ap.add_argument("--scale", default="demo", choices=["tiny", "demo"])
    ap.add_argument("--models", nargs="+", default=["dgcnn"])
    ap.add_argument("--targets", nargs="+", default=["valence", "arousal"])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--feature-params", default="{}", help="JSON FeatureParams (default: the defaults)")
    ap.add_argument("--seed", type=int, default=0, help="simulation seed")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    params = FeatureParams.from_dict(json.loads(args.feature_params))
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device="cpu")
    rows = []
    print(f"start: {machine_line()}", flush=True)
    print(f"{'snr':>4} {'target':<8} {'model':<14} {'level':<6} {'model %':>8} {'majority %':>10} "
          f"{'margin':>7} {'control %':>9} {'oracle %':>8} {'s':>6}")
    for snr in args.snr:
        with tempfile.TemporaryDirectory(prefix="neuroaffect-recovery-") as tmp:
            tmp = Path(tmp)
            simulate("deap", args.scale, tmp / "sim", seed=args.seed, snr=snr)
            files = features(tmp / "sim" / "deap", tmp / "features", args.scale, params)
            for target in args.targets:
                oracle = np.mean(list(oracle_accuracies(tmp / "sim" / "simulation.json", target).values()))
                ws = windows_from_features(files, target, "binary", dataset="deap")
                for model in args.models:
                    t0 = time.perf_counter()
                    res = run_sweep(ws, model, None, "trial-holdout", args.folds, cfg, control=True,
                                    baselines=("majority",))
                    sec = time.perf_counter() - t0
                    for level in ("window", "trial"):
                        s = res.summary(level)["accuracy_mean"]
                        row = {"snr": snr, "target": target, "model": model, "level": level,
                               "accuracy": float(s[model]), "majority": float(s["majority"]),
                               "control": float(s[model + CONTROL_SUFFIX]), "oracle": float(oracle),
                               "seconds": sec}
                        rows.append(row)
                        print(f"{snr:4.1f} {target:<8} {model:<14} {level:<6} {100 * row['accuracy']:8.1f} "
                              f"{100 * row['majority']:10.1f} {100 * (row['accuracy'] - row['majority']):+7.1f} "
                              f"{100 * row['control']:9.1f} {100 * oracle:8.1f} {sec:6.0f}", flush=True)
    print(f"end: {machine_line()}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
