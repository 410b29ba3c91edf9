"""The full DEAP trial-holdout sweep on full-size token arrays, timed end to end.

What it runs (``--scale full``, the default): 32 subjects x 10 trial-holdout folds = 320
RBTransformer models, one binary target, 100 epochs, batch 256, AdamW, the package's default
training configuration (bf16 autocast on CUDA), batched (``run_sweep(..., batched=True)``,
groups of :func:`~neuroaffect.training.sweep.auto_group_size` models unless ``--group``).
The tokens have DEAP's full size at the paper's window preset
(``neuroaffect.features.params.WINDOW_PRESETS["rbtransformer"]``: 512-sample windows, stride
117, so 62 windows per 60-s trial at 128 Hz): 32 subjects x 40 trials x 62 windows x 32
electrodes x 4 bands, float32, simulated directly as token arrays
(:func:`~neuroaffect.training.make_synthetic_windows`; no MNE, no files).

Timed end to end: from the host arrays to the fold metrics, i.e. fold preparation
(standardisation), the copies to the device, training, prediction and scoring (the
``run_sweep`` call, synchronised), plus the time to simulate the tokens, reported apart.
After every epoch of every group the progress (epochs done, seconds, samples) is written to
``--progress``, so that a run stopped early still leaves a measured partial figure.

Scales: ``full`` as above; ``small`` (4 subjects, 10 folds, 5 epochs); ``tiny`` (2 subjects x 10
trials x 6 windows, 2 folds, 2 epochs, a small RBTransformer: a CPU smoke run in seconds).
Any of ``--subjects --trials --windows --folds --epochs`` overrides the scale's value.

Usage::

    python benchmarks/bench_full_sweep.py --device cuda --json full_sweep.json
    python benchmarks/bench_full_sweep.py --device cpu --scale tiny
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from _perf import (FLOP_NOTE, environment, flops_per_sample, load_average, machine_line, peak_gib, reset_peak, sync,
                   tflops)
from neuroaffect._utils import atomic_write_json
from neuroaffect.features.bde import n_windows
from neuroaffect.features.params import WINDOW_PRESETS
from neuroaffect.training import TrainConfig, build_model, make_folds, make_synthetic_windows, run_sweep
from neuroaffect.training.config import resolve_device

DEAP_SFREQ, DEAP_TRIAL_S = 128, 60
WINDOW, STRIDE = WINDOW_PRESETS["rbtransformer"]
#: Windows per DEAP trial at the paper's preset: (7680 - 512) // 117 + 1 = 62.
DEAP_WINDOWS = n_windows(DEAP_SFREQ * DEAP_TRIAL_S, WINDOW, STRIDE)
SCALES = {
    "full": dict(subjects=32, trials=40, windows=DEAP_WINDOWS, folds=10, epochs=100, model_kwargs=None),
    "small": dict(subjects=4, trials=40, windows=DEAP_WINDOWS, folds=10, epochs=5, model_kwargs=None),
    "tiny": dict(subjects=2, trials=10, windows=6, folds=2, epochs=2,
                 model_kwargs=dict(embed_dim=8, depth=1, n_heads=2, head_dim=4, mlp_dim=8)),
}
N_CHANS, N_BANDS = 32, 4


class Progress:
    """Engine callback: counts epochs and samples over the groups and writes them to a JSON file.

    Parameters
    ----------
    path : path-like | None
        Rewritten (atomically) after every epoch; ``None``: kept in memory only.
    samples_per_epoch : int
        Positions each model visits per epoch (the sweep's ``samples_per_epoch``).
    t0 : float
        ``time.perf_counter()`` at the start of the timed region.
    total_epochs : int
        Model-epochs of the whole sweep (models x epochs).
    """

    def __init__(self, path, samples_per_epoch: int, t0: float, total_epochs: int):
        self.path, self.per, self.t0, self.total = path, samples_per_epoch, t0, total_epochs
        self.state = {"model_epochs": 0, "samples": 0, "seconds": 0.0, "groups_started": 0, "finished": False,
                      "model_epochs_total": total_epochs}

    def __call__(self, info) -> None:
        m = len(info.histories)
        if info.epoch == info.start_epoch:
            self.state["groups_started"] += 1
        self.state["model_epochs"] += m
        self.state["samples"] += m * self.per
        self.state["seconds"] = time.perf_counter() - self.t0
        self.state["samples_per_s"] = self.state["samples"] / max(self.state["seconds"], 1e-9)
        self.state["load_average"] = load_average()
        if self.path:
            atomic_write_json(self.path, self.state)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--scale", default="full", choices=tuple(SCALES))
    for k in ("subjects", "trials", "windows", "folds", "epochs"):
        ap.add_argument(f"--{k}", type=int, default=None)
    ap.add_argument("--model", default="rbtransformer")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--group", type=int, default=None, help="models per batched group (default: auto)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the result here")
    ap.add_argument("--progress", default=None, help="rewrite the progress here after every epoch")
    args = ap.parse_args(argv)
    scale = dict(SCALES[args.scale])
    for k in ("subjects", "trials", "windows", "folds", "epochs"):
        if getattr(args, k) is not None:
            scale[k] = getattr(args, k)
    device = resolve_device(args.device)
    env = environment(device)
    print(f"device {device}" + (f" ({env['gpu_name']}, driver {env['driver']})" if device.type == "cuda" else "")
          + f" | torch {env['torch']} (CUDA {env['torch_cuda']}) | {machine_line(env['machine'])}", flush=True)

    t_sim = time.perf_counter()
    ws = make_synthetic_windows(n_subjects=scale["subjects"], n_trials=scale["trials"], n_windows=scale["windows"],
                                n_chans=N_CHANS, n_bands=N_BANDS, win_len=WINDOW, stride=STRIDE, seed=args.seed)
    t_sim = time.perf_counter() - t_sim
    cfg = TrainConfig(epochs=scale["epochs"], batch_size=args.batch_size, device=str(device))
    n_models = scale["subjects"] * scale["folds"]
    train_windows = scale["trials"] * scale["windows"] * (scale["folds"] - 1) // scale["folds"]
    print(f"tokens: {ws.X.shape[0]:,} windows x {N_CHANS} x {N_BANDS} ({ws.X.nbytes / 2**20:.0f} MiB float32, "
          f"simulated in {t_sim:.2f} s); {n_models} models x {scale['epochs']} epochs, ~{train_windows} training "
          f"windows per fold, {args.model}, batch {args.batch_size}, bf16 autocast: "
          f"{'on' if cfg.amp_on(device) else 'off (CPU)'}", flush=True)
    example = build_model(args.model, n_chans=N_CHANS, n_bands=N_BANDS, n_outputs=2, seed=0, ch_pos=ws.ch_pos,
                          model_kwargs=scale["model_kwargs"])
    fps = flops_per_sample(example, torch.from_numpy(ws.X[:args.batch_size]), device, amp=cfg.amp_on(device))
    n_params = sum(p.numel() for p in example.parameters())
    del example
    if device.type == "cuda":
        torch.cuda.empty_cache()

    reset_peak(device)
    load0 = load_average()
    sync(device)
    t0 = time.perf_counter()
    # positions per epoch: the largest training fold (no validation carve, no resampling here)
    per_epoch = max(f.train_idx.size for f in make_folds(ws, "trial-holdout", n_folds=scale["folds"]))
    progress = Progress(args.progress, per_epoch, t0, n_models * scale["epochs"])
    res = run_sweep(ws, args.model, model_kwargs=scale["model_kwargs"], protocol="trial-holdout",
                    n_folds=scale["folds"], train_cfg=cfg, batched=True, baselines=(), trial_level=True,
                    max_models_per_batch=args.group, progress=progress)
    sync(device)
    seconds = time.perf_counter() - t0
    wall = t_sim + seconds  # the two timed regions: simulating the tokens, then the sweep
    per = res.config["samples_per_epoch"]
    samples = n_models * scale["epochs"] * per
    rate = samples / seconds
    summary = res.summary()
    acc = float(summary.loc[res.model_name, "accuracy_mean"])
    out = {
        "scale": args.scale, **{k: scale[k] for k in ("subjects", "trials", "windows", "folds", "epochs")},
        "window": WINDOW, "stride": STRIDE, "model": args.model, "params": n_params,
        "model_kwargs": scale["model_kwargs"], "n_models": n_models, "batch_size": args.batch_size,
        "group": res.config["max_models_per_batch"], "amp": cfg.amp_on(device),
        "samples_per_epoch": per, "samples": samples, "simulate_s": t_sim, "sweep_s": seconds,
        "end_to_end_s": wall, "samples_per_s": rate, "flops_per_sample": fps, "tflops": tflops(fps, rate),
        "peak_gib": peak_gib(device), "window_accuracy_mean": acc, "load_average_start": load0,
        "load_average_end": load_average(), "env": env, "flop_note": FLOP_NOTE,
    }
    progress.state.update(finished=True, seconds=seconds)
    if args.progress:
        atomic_write_json(args.progress, progress.state)
    peak = env["card_peak_bf16_tflops"]
    frac = (f" = {100 * out['tflops'] / peak['tflops']:.1f} % of {peak['tflops']:.0f} ({peak['source']})"
            if peak["tflops"] and out["tflops"] else f" ({peak['source']})")
    print(f"sweep: {n_models} models x {scale['epochs']} epochs x {per} samples = {samples / 1e6:.2f} M samples in "
          f"{seconds:.1f} s ({rate:,.0f} samples/s), end to end with the simulation {wall:.1f} s; groups of "
          f"{out['group']}; {fps / 1e6:.1f} MFLOP/sample -> {out['tflops']:.3g} TFLOP/s{frac}; peak memory "
          + (f"{out['peak_gib']:.2f} GiB" if out["peak_gib"] is not None else "n/a (CPU)")
          + f"; window accuracy {100 * acc:.1f} %; load average {load0} -> {out['load_average_end']}", flush=True)
    if args.json:
        atomic_write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
