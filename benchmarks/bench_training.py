"""Training throughput: one model, and a batched sweep against a plain loop over the same models.

Two measurements, in one run, on the device ``--device`` selects (``auto``: CUDA
when present, else CPU):

1. **Single model**: training samples per second of each model
   (``train_model``, batch 256) on DEAP-like tokens (32 channels x 4 bands).
2. **Sweep**: the same ``--n-models`` models (one subject, trial-holdout with
   ``--n-models`` folds, ~2400 training windows each) trained by
   ``run_sweep(..., batched=True)`` (one ``torch.vmap`` over stacked
   parameters) and by ``run_sweep(..., batched=False)`` (the plain loop, one
   model after another, same per-model data rule); samples per second of each
   and the speed-up.

It then projects the full DEAP trial-holdout sweep (32 subjects x 10 folds x
100 epochs, 2,160 training windows per fold with 1-s windows) from the
measured sweep throughput. Projections are labelled as such.

Usage::

    python benchmarks/bench_training.py                          # both models, CPU or CUDA
    python benchmarks/bench_training.py --models dgcnn --epochs 2
    python benchmarks/bench_training.py --json results.json

On Linux CPUs, large per-step activations (the batched RBTransformer at 8
models allocates ~100 MB tensors) are returned to the kernel and faulted in
again at every step by glibc's allocator; setting
``MALLOC_MMAP_THRESHOLD_=17179869184 MALLOC_TRIM_THRESHOLD_=17179869184
MALLOC_TOP_PAD_=1073741824`` in the environment keeps them. The script prints
whether these are set; numbers depend on them and on the machine's load
(printed too).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch

from neuroaffect.training import TrainConfig, make_synthetic_windows, run_sweep, train_model
from neuroaffect.training.loop import resolve_device
from neuroaffect.training.sweep import build_model

N_CHANS, N_BANDS = 32, 4
FULL_SWEEP = dict(subjects=32, folds=10, epochs=100, windows=2160)  # DEAP, 1-s windows, 36 training trials


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def single_model(name: str, device: torch.device, n_windows: int, epochs: int, batch_size: int,
                 repeats: int) -> dict:
    ws = make_synthetic_windows(n_subjects=1, n_trials=n_windows // 60, n_windows=60, n_chans=N_CHANS,
                                n_bands=N_BANDS, seed=0)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, device=str(device))
    # warm-up: one epoch at full size (lazy imports, allocator, CUDA context, kernels)
    warm = build_model(name, n_chans=N_CHANS, n_bands=N_BANDS, n_outputs=2, seed=0, ch_pos=ws.ch_pos)
    train_model(warm, ws.X, ws.y, cfg.replace(epochs=1))
    times = []
    for r in range(repeats):
        model = build_model(name, n_chans=N_CHANS, n_bands=N_BANDS, n_outputs=2, seed=1 + r, ch_pos=ws.ch_pos)
        _sync(device)
        t0 = time.perf_counter()
        train_model(model, ws.X, ws.y, cfg)
        _sync(device)
        times.append(time.perf_counter() - t0)
    n_params = sum(p.numel() for p in model.parameters())
    dt = min(times)
    return {"model": name, "params": n_params, "windows": ws.n_windows, "epochs": epochs, "seconds": dt,
            "all_seconds": times, "samples_per_s": ws.n_windows * epochs / dt}


def sweep(name: str, device: torch.device, n_models: int, n_trials: int, epochs: int, batch_size: int,
          repeats: int) -> dict:
    ws = make_synthetic_windows(n_subjects=1, n_trials=n_trials, n_windows=60, n_chans=N_CHANS, n_bands=N_BANDS,
                                seed=0)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, device=str(device))
    kw = dict(protocol="trial-holdout", n_folds=n_models, train_cfg=cfg, baselines=(), trial_level=False)
    # warm-up of both paths on a single epoch of a two-fold split
    tiny = ws.subset(np.isin(ws.trial, np.arange(4)))
    run_sweep(tiny, name, protocol="trial-holdout", n_folds=2, train_cfg=cfg.replace(epochs=1), baselines=(),
              trial_level=False, batched=True)
    out = {"model": name, "n_models": n_models, "epochs": epochs, "batched_all_seconds": [], "loop_all_seconds": []}
    for _ in range(repeats):  # interleaved, so that load changes hit both paths alike
        for batched in (True, False):
            _sync(device)
            t0 = time.perf_counter()
            res = run_sweep(ws, name, batched=batched, **kw)
            _sync(device)
            dt = time.perf_counter() - t0
            key = "batched" if batched else "loop"
            out[f"{key}_all_seconds"].append(dt)
            out["windows_per_model"] = res.config["samples_per_epoch"]
            out["n_models"] = len(res.folds)
            out[f"{key}_accuracy"] = float(res.summary().loc[name, "accuracy_mean"])
    samples = out["n_models"] * epochs * out["windows_per_model"]
    for key in ("batched", "loop"):
        out[f"{key}_seconds"] = min(out[f"{key}_all_seconds"])
        out[f"{key}_samples_per_s"] = samples / out[f"{key}_seconds"]
    out["speedup"] = out["loop_seconds"] / out["batched_seconds"]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", nargs="+", default=["rbtransformer", "dgcnn"])
    ap.add_argument("--n-models", type=int, default=8, help="models trained together in the sweep comparison")
    ap.add_argument("--trials", type=int, default=46, help="trials of 60 windows (46: ~2400 training windows/model)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=2, help="timed repetitions; the fastest is reported")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    malloc = {k: os.environ.get(k) for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")}
    env = {
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "load_average": os.getloadavg(), "malloc_env": malloc,
    }
    print(f"device {env['device']} | torch {env['torch']} | threads {env['threads']} of {env['cpu_count']} CPUs | "
          f"load average {', '.join(f'{x:.2f}' for x in env['load_average'])}")
    print(f"glibc malloc tuning: {'set' if all(malloc.values()) else 'not set'} ({malloc})\n")

    singles = []
    print(f"1. single model: train_model, batch {args.batch_size}, {args.epochs} epoch(s), {N_CHANS} ch x {N_BANDS} "
          f"bands, fastest of {args.repeats}")
    print(f"{'model':<15}{'params':>10}{'windows':>9}{'seconds':>9}{'samples/s':>11}")
    for name in args.models:
        r = single_model(name, device, args.trials * 60, args.epochs, args.batch_size, args.repeats)
        singles.append(r)
        print(f"{name:<15}{r['params']:>10,}{r['windows']:>9}{r['seconds']:>9.1f}{r['samples_per_s']:>11.0f}")

    sweeps = []
    print(f"\n2. sweep: {args.n_models} models (trial-holdout folds of one subject), batched (vmap) vs plain loop, "
          f"fastest of {args.repeats}")
    print(f"{'model':<15}{'windows/model':>14}{'loop s':>9}{'batched s':>10}{'loop sam/s':>12}"
          f"{'batched sam/s':>14}{'speed-up':>10}")
    for name in args.models:
        r = sweep(name, device, args.n_models, args.trials, args.epochs, args.batch_size, args.repeats)
        sweeps.append(r)
        print(f"{name:<15}{r['windows_per_model']:>14}{r['loop_seconds']:>9.1f}{r['batched_seconds']:>10.1f}"
              f"{r['loop_samples_per_s']:>12.0f}{r['batched_samples_per_s']:>14.0f}{r['speedup']:>9.2f}x")

    fs = FULL_SWEEP
    total = fs["subjects"] * fs["folds"] * fs["epochs"] * fs["windows"]
    print(f"\n3. projection (not measured): full DEAP trial-holdout sweep, {fs['subjects']} subjects x {fs['folds']} "
          f"folds x {fs['epochs']} epochs x {fs['windows']} windows = {total / 1e6:.1f} M training samples, "
          f"on {env['device']}")
    proj = []
    for r in sweeps:
        best = max(r["batched_samples_per_s"], r["loop_samples_per_s"])
        hours = total / best / 3600
        proj.append({"model": r["model"], "samples": total, "hours_at_best_measured_rate": hours})
        print(f"{r['model']:<15} {hours:8.1f} h at {best:,.0f} samples/s")

    if args.json:
        from neuroaffect._utils import atomic_write_json

        atomic_write_json(args.json, {"env": env, "single": singles, "sweep": sweeps, "projection": proj,
                                      "args": vars(args)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
