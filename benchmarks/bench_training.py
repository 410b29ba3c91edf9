"""Training throughput: one model, and a batched sweep against a plain loop over the same models.

Two measurements, in one run, on the device ``--device`` selects (``auto``: CUDA when present,
else CPU); on CUDA the forward passes run under bfloat16 autocast (``TrainConfig.amp``, the
default), on CPU in float32:

1. **Single model**: training samples per second of each model (forward + backward + AdamW,
   batch ``--batch-size``, fastest of ``--repeats`` runs of ``--single-epochs`` epochs after a
   warm-up epoch): RBTransformer, DGCNN and RGNN on DEAP-like tokens (32 channels x 4 bands),
   TopoTeacher on 4 x 32 x 32 maps, and the face student (ResNet-18, grey 48 x 48 images) when
   ``neuroaffect.distill`` is importable (``student`` in ``--models``).
2. **Sweep**: ``M`` fold models (``--sweep-sizes``, e.g. 10, 80 and 320 = 1, 8 and 32 subjects
   x 10 trial-holdout folds of 40 trials x 62 windows, DEAP's size at the 512/117 window) trained
   by ``run_sweep(..., batched=True)`` (``torch.vmap`` over stacked parameters, groups of
   ``--group`` models, default :func:`~neuroaffect.training.sweep.auto_group_size`) and by
   ``run_sweep(..., batched=False)`` (the plain loop, one model after another, same per-model
   data rule); samples per second of each and the speed-up.

Beside each rate: FLOPs per sample (``torch.utils.flop_counter.FlopCounterMode`` on one step),
the achieved TFLOP/s, and on CUDA the peak memory (``torch.cuda.max_memory_allocated``). With
``--budget-s`` a measurement that would start after the allowance is spent is skipped (and
reported as skipped); so is a loop measurement that the loop at the next smaller ``M``, scaled
by the model count, says would not fit in what is left.

On CPU the script also projects the full DEAP trial-holdout sweep (32 subjects x 10 folds x
100 epochs) from the measured rate, labelled as a projection. On CUDA nothing is projected:
``bench_full_sweep.py`` measures that sweep.

Usage::

    python benchmarks/bench_training.py                           # CPU or CUDA, default sizes
    python benchmarks/bench_training.py --device cuda --sweep-sizes 10 80 320 --json training.json
    python benchmarks/bench_training.py --device cpu --tiny       # seconds: small models and data

On Linux CPUs, large per-step activations (the batched RBTransformer at 8 models allocates
~100 MB tensors) are returned to the kernel and faulted in again at every step by glibc's
allocator; setting ``MALLOC_MMAP_THRESHOLD_=17179869184 MALLOC_TRIM_THRESHOLD_=17179869184
MALLOC_TOP_PAD_=1073741824`` in the environment keeps them. The script prints whether these are
set; numbers depend on them and on the machine's load (printed beside every timing).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time

import numpy as np
import torch

from _perf import (
    FLOP_NOTE, Budget, environment, flops_per_sample, load_average, machine_calibration, machine_line, peak_gib,
    reset_peak, sync, tflops,
)
from neuroaffect.training import TrainConfig, fit, make_synthetic_windows, run_sweep, train_model
from neuroaffect.training.config import resolve_device
from neuroaffect.training.folds import build_model
from neuroaffect.training.objectives import CrossEntropy

N_CHANS, N_BANDS = 32, 4
DEAP_WINDOW, DEAP_STRIDE = 512, 117  # neuroaffect.features.params.WINDOW_PRESETS["rbtransformer"]
FULL_SWEEP = dict(subjects=32, folds=10, epochs=100, windows=36 * 62)  # 36 training trials x 62 windows
TOKEN_MODELS = ("rbtransformer", "dgcnn", "rgnn")
SINGLE_MODELS = TOKEN_MODELS + ("topoteacher", "student")
#: Small constructor arguments for ``--tiny`` (smoke runs on CPU).
TINY_KWARGS = {
    "dgcnn": dict(K=2, n_filters=4, hidden=8, dropout=0.0, k=3),
    "rgnn": dict(K=2, hidden=8, dropout=0.0),
    "rbtransformer": dict(embed_dim=8, depth=1, n_heads=2, head_dim=4, mlp_dim=8, dropout=0.0),
    "topoteacher": dict(size=8, width=8),
    "student": dict(in_size=8, proj_dim=8),
}


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in load_average())


def has_student() -> bool:
    """Whether the face student (``neuroaffect.distill``) can be imported here."""
    if importlib.util.find_spec("neuroaffect.distill") is None:
        return False
    try:
        from neuroaffect.distill import FERStudent  # noqa: F401
    except ImportError:
        return False
    return True


class LogitsCrossEntropy(CrossEntropy):
    """Cross-entropy on the ``"logits"`` entry of a model returning a dict (the face student)."""

    def __call__(self, outputs, target, mask=None):
        return super().__call__(outputs["logits"] if isinstance(outputs, dict) else outputs, target, mask)

    def score(self, outputs, target, mask=None):
        return super().score(outputs["logits"] if isinstance(outputs, dict) else outputs, target, mask)


def _single_data(name: str, n: int, tiny: bool, seed: int = 0):
    """Inputs and targets of one model's single-model measurement."""
    rng = np.random.default_rng(seed)
    if name in TOKEN_MODELS:
        per = 62
        ws = make_synthetic_windows(n_subjects=1, n_trials=max(1, n // per), n_windows=per, n_chans=N_CHANS,
                                    n_bands=N_BANDS, win_len=DEAP_WINDOW, stride=DEAP_STRIDE, seed=seed)
        return ws.X, ws.y, ws.ch_pos
    if name == "topoteacher":
        size = TINY_KWARGS["topoteacher"]["size"] if tiny else 32
        X = rng.standard_normal((n, N_BANDS, size, size)).astype(np.float32)
        y = rng.uniform(-1, 1, (n, 2)).astype(np.float32)  # valence, arousal (regression, MSE)
        return X, y, None
    size = TINY_KWARGS["student"]["in_size"] if tiny else 48
    X = rng.random((n, 1, size, size), dtype=np.float32)
    y = rng.integers(0, 8, n).astype(np.int64)
    return X, y, None


def _single_model(name: str, tiny: bool, ch_pos, seed: int):
    if name == "student":
        from neuroaffect.distill import FERStudent

        torch.manual_seed(seed)
        return FERStudent(arch="resnet18", **(TINY_KWARGS["student"] if tiny else {}))
    kw = dict(TINY_KWARGS[name]) if tiny else {}
    n_out = 2
    return build_model(name, n_chans=N_CHANS, n_bands=N_BANDS, n_outputs=n_out, seed=seed, model_kwargs=kw,
                       ch_pos=ch_pos)


def _train(name, model, X, y, cfg):
    if name == "student":
        return fit(model, (X, y), LogitsCrossEntropy(), cfg)
    return train_model(model, X, y, cfg)


def single_model(name: str, device: torch.device, n_windows: int, epochs: int, batch_size: int, repeats: int,
                 tiny: bool = False, budget: Budget | None = None) -> dict:
    """Training samples per second of one model (fastest of ``repeats`` runs after a warm-up epoch)."""
    X, y, ch_pos = _single_data(name, n_windows, tiny)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, device=str(device))
    out = {"model": name, "windows": int(X.shape[0]), "input_shape": list(X.shape[1:]), "epochs": epochs,
           "batch_size": batch_size, "amp": cfg.amp_on(device), "all_seconds": [], "load_average": []}
    if budget is not None and budget.left() <= 0:
        return {**out, "skipped": "time budget spent"}
    warm = _single_model(name, tiny, ch_pos, seed=0)
    _train(name, warm, X, y, cfg.replace(epochs=1))  # lazy imports, allocator, CUDA context, kernels
    xb = torch.from_numpy(X[:batch_size])
    out["flops_per_sample"] = flops_per_sample(_single_model(name, tiny, ch_pos, seed=0), xb, device,
                                               amp=cfg.amp_on(device))
    model = warm
    for r in range(repeats):
        if r and budget is not None and budget.left() <= 0:
            break
        model = _single_model(name, tiny, ch_pos, seed=1 + r)
        reset_peak(device)
        sync(device)
        t0 = time.perf_counter()
        _train(name, model, X, y, cfg)
        sync(device)
        out["all_seconds"].append(time.perf_counter() - t0)
        out["load_average"].append(load_average())
        out["peak_gib"] = peak_gib(device)
    out["params"] = sum(p.numel() for p in model.parameters())
    out["seconds"] = min(out["all_seconds"])
    out["samples_per_s"] = out["windows"] * epochs / out["seconds"]
    out["tflops"] = tflops(out["flops_per_sample"], out["samples_per_s"])
    return out


def sweep_windows(n_models: int, folds: int, trials: int, windows: int, seed: int = 0):
    """DEAP-shaped tokens for ``n_models`` fold models: ``ceil(M / folds)`` subjects of ``trials`` trials.

    Returns
    -------
    ws : WindowSet
    n_folds : int
        Folds per subject (``min(folds, n_models)``).
    """
    n_folds = min(folds, n_models)
    n_subjects = -(-n_models // n_folds)
    ws = make_synthetic_windows(n_subjects=n_subjects, n_trials=trials, n_windows=windows, n_chans=N_CHANS,
                                n_bands=N_BANDS, win_len=DEAP_WINDOW, stride=DEAP_STRIDE, seed=seed)
    return ws, n_folds


def sweep(name: str, device: torch.device, n_models: int, folds: int, trials: int, windows: int, epochs: int,
          batch_size: int, repeats: int, group: int | None = None, tiny: bool = False,
          budget: Budget | None = None, loop_hint_s: float | None = None) -> dict:
    """Batched (vmap) and plain-loop sweeps over the same ``n_models`` fold models.

    ``loop_hint_s``: seconds per model of the loop measured at a smaller ``M``; when that rate
    says the loop would not fit in the budget left, the loop is skipped (and reported so).
    """
    ws, n_folds = sweep_windows(n_models, folds, trials, windows)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, device=str(device))
    kw = dict(protocol="trial-holdout", n_folds=n_folds, train_cfg=cfg, baselines=(), trial_level=False,
              model_kwargs=dict(TINY_KWARGS[name]) if tiny else None, max_models_per_batch=group)
    out = {"model": name, "n_models_requested": n_models, "subjects": int(np.unique(ws.subject).size),
           "folds_per_subject": n_folds, "epochs": epochs, "batch_size": batch_size, "amp": cfg.amp_on(device)}
    for key in ("batched", "loop"):
        out[f"{key}_all_seconds"], out[f"{key}_load_average"] = [], []
    if budget is not None and budget.left() <= 0:
        return {**out, "skipped": "time budget spent"}
    # warm-up of both paths on one epoch of a two-fold split of the first subject's first trials
    first = ws.subset(np.isin(ws.trial, np.unique(ws.trial)[:4]))
    for batched in (True, False):
        run_sweep(first, name, **{**kw, "n_folds": 2, "train_cfg": cfg.replace(epochs=1), "batched": batched})
    example = build_model(name, n_chans=N_CHANS, n_bands=N_BANDS, n_outputs=2, seed=0, ch_pos=ws.ch_pos,
                          model_kwargs=kw["model_kwargs"])
    out["flops_per_sample"] = flops_per_sample(example, torch.from_numpy(ws.X[:batch_size]), device,
                                               amp=cfg.amp_on(device))
    out["params"] = sum(p.numel() for p in example.parameters())
    for r in range(repeats):  # interleaved, so that load changes hit both paths alike
        for batched in (True, False):
            key = "batched" if batched else "loop"
            left = budget.left() if budget is not None else float("inf")
            if r and left <= 0:
                continue
            if not batched and loop_hint_s is not None and not out["loop_all_seconds"] \
                    and loop_hint_s * n_models > left:
                out["loop_skipped"] = (f"not run: the loop at a smaller M took {loop_hint_s:.2f} s per model, "
                                       f"{n_models} models would not fit in the {max(left, 0):.0f} s left")
                continue
            if r and out[f"{key}_all_seconds"] and budget is not None \
                    and out[f"{key}_all_seconds"][-1] > left:
                continue
            reset_peak(device)
            sync(device)
            t0 = time.perf_counter()
            res = run_sweep(ws, name, batched=batched, **kw)
            sync(device)
            dt = time.perf_counter() - t0
            out[f"{key}_all_seconds"].append(dt)
            out[f"{key}_load_average"].append(load_average())
            out[f"{key}_peak_gib"] = peak_gib(device)
            out["windows_per_model"] = res.config["samples_per_epoch"]
            out["n_models"] = len(res.folds)
            out["group"] = res.config["max_models_per_batch"]
            out[f"{key}_accuracy"] = float(res.summary().loc[name, "accuracy_mean"])
    if "n_models" not in out:
        return {**out, "skipped": "time budget spent"}
    samples = out["n_models"] * epochs * out["windows_per_model"]
    for key in ("batched", "loop"):
        if out[f"{key}_all_seconds"]:
            out[f"{key}_seconds"] = min(out[f"{key}_all_seconds"])
            out[f"{key}_samples_per_s"] = samples / out[f"{key}_seconds"]
            out[f"{key}_tflops"] = tflops(out["flops_per_sample"], out[f"{key}_samples_per_s"])
    if out.get("loop_seconds") and out.get("batched_seconds"):
        out["speedup"] = out["loop_seconds"] / out["batched_seconds"]
    return out


def _fmt(v, spec, missing="-"):
    return missing if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", nargs="+", default=None, choices=SINGLE_MODELS,
                    help="single-model measurements (default: all; the student on CUDA only, when it imports)")
    ap.add_argument("--sweep-models", nargs="+", default=["rbtransformer", "dgcnn"], choices=TOKEN_MODELS)
    ap.add_argument("--sweep-sizes", nargs="+", type=int, default=None,
                    help="models per sweep comparison (default: 10 80 320 on CUDA, 8 on CPU)")
    ap.add_argument("--folds", type=int, default=10, help="trial-holdout folds per subject")
    ap.add_argument("--trials", type=int, default=40, help="trials per subject (DEAP: 40)")
    ap.add_argument("--windows", type=int, default=62, help="windows per trial (DEAP at 512/117: 62)")
    ap.add_argument("--single-windows", type=int, default=2480, help="windows of the single-model measurement")
    ap.add_argument("--epochs", type=int, default=1, help="epochs of each sweep")
    ap.add_argument("--single-epochs", type=int, default=None, help="epochs of each single-model run "
                    "(default: 5 on CUDA, --epochs on CPU)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--group", type=int, default=None, help="models per batched group (default: auto_group_size)")
    ap.add_argument("--repeats", type=int, default=2, help="timed repetitions; the fastest is reported")
    ap.add_argument("--budget-s", type=float, default=None, help="skip measurements that would start later")
    ap.add_argument("--tiny", action="store_true", help="small models and data (a smoke run in seconds)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    budget = Budget(args.budget_s)
    cuda = device.type == "cuda"
    sizes = args.sweep_sizes or ([10, 80, 320] if cuda else [8])
    single_epochs = args.single_epochs or (5 if cuda else args.epochs)
    # the face student (ResNet-18) takes minutes per epoch on a CPU: measured by default on CUDA only
    models = args.models or [m for m in SINGLE_MODELS if m != "student" or (cuda and has_student())]
    malloc = {k: os.environ.get(k) for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")}
    env = {**environment(device), "malloc_env": malloc}
    gpu = f" ({env['gpu_name']}, driver {env['driver']})" if cuda else ""
    print(f"device {device}{gpu} | torch {env['torch']} (CUDA {env['torch_cuda']}) | threads {env['threads']} of "
          f"{env['cpu_count']} CPUs | {machine_line(env['machine'])}")
    print(f"glibc malloc tuning: {'set' if all(malloc.values()) else 'not set'} ({malloc}) | autocast bf16: "
          f"{'on' if cuda else 'off (CPU)'}\n", flush=True)

    singles = []
    print(f"1. single model: batch {args.batch_size}, {single_epochs} epoch(s), fastest of {args.repeats}")
    print(f"{'model':<14}{'params':>11}{'input':>14}{'windows':>8}{'seconds':>9}{'samples/s':>11}"
          f"{'MFLOP/sam':>10}{'TFLOP/s':>9}{'peak GiB':>9}  load")
    for name in models:
        if name == "student" and not has_student():
            singles.append({"model": name, "skipped": "neuroaffect.distill is not importable"})
            print(f"{name:<14} skipped: neuroaffect.distill is not importable", flush=True)
            continue
        n = min(args.single_windows, 32) if (name == "student" and args.tiny) else args.single_windows
        r = single_model(name, device, n, single_epochs, args.batch_size, args.repeats, args.tiny, budget)
        singles.append(r)
        if "skipped" in r:
            print(f"{name:<14} skipped: {r['skipped']}", flush=True)
            continue
        print(f"{name:<14}{r['params']:>11,}{'x'.join(map(str, r['input_shape'])):>14}{r['windows']:>8}"
              f"{r['seconds']:>9.2f}{r['samples_per_s']:>11,.0f}{r['flops_per_sample'] / 1e6:>10.2f}"
              f"{_fmt(r['tflops'], '.3g'):>9}{_fmt(r.get('peak_gib'), '.2f'):>9}  {_load()}", flush=True)

    sweeps = []
    print(f"\n2. sweep: batched (vmap) vs plain loop over the same M fold models ({args.folds} trial-holdout folds "
          f"per subject, {args.trials} trials x {args.windows} windows), {args.epochs} epoch(s), fastest of "
          f"{args.repeats}")
    print(f"{'model':<14}{'M':>5}{'group':>6}{'win/model':>10}{'loop s':>9}{'batched s':>10}{'loop sam/s':>12}"
          f"{'batched sam/s':>14}{'speed-up':>9}{'TFLOP/s':>9}{'peak GiB':>9}  load")
    for name in args.sweep_models:
        hint = None
        for m in sizes:
            r = sweep(name, device, m, args.folds, args.trials, args.windows, args.epochs, args.batch_size,
                      args.repeats, args.group, args.tiny, budget, loop_hint_s=hint)
            sweeps.append(r)
            if "skipped" in r:
                print(f"{name:<14}{m:>5} skipped: {r['skipped']}", flush=True)
                continue
            if r.get("loop_seconds"):
                hint = r["loop_seconds"] / r["n_models"]
            print(f"{name:<14}{r['n_models']:>5}{r['group']:>6}{r['windows_per_model']:>10}"
                  f"{_fmt(r.get('loop_seconds'), '.2f'):>9}{_fmt(r.get('batched_seconds'), '.2f'):>10}"
                  f"{_fmt(r.get('loop_samples_per_s'), ',.0f'):>12}{_fmt(r.get('batched_samples_per_s'), ',.0f'):>14}"
                  f"{_fmt(r.get('speedup'), '.2f'):>8}x{_fmt(r.get('batched_tflops'), '.3g'):>9}"
                  f"{_fmt(r.get('batched_peak_gib'), '.2f'):>9}  {_load()}", flush=True)
            if r.get("loop_skipped"):
                print(f"{'':<14}{'':>5} loop {r['loop_skipped']}", flush=True)
    print(f"\n{FLOP_NOTE}")
    peak = env["card_peak_bf16_tflops"]
    print(f"card peak used: {_fmt(peak['tflops'], '.0f', 'none')} TFLOP/s bf16 dense ({peak['source']})")

    proj = []
    if not cuda:
        fs = FULL_SWEEP
        total = fs["subjects"] * fs["folds"] * fs["epochs"] * fs["windows"]
        print(f"\n3. projection (not measured): full DEAP trial-holdout sweep, {fs['subjects']} subjects x "
              f"{fs['folds']} folds x {fs['epochs']} epochs x {fs['windows']} windows = {total / 1e6:.1f} M training "
              f"samples, on {device}")
        for r in sweeps:
            rates = [r.get("batched_samples_per_s"), r.get("loop_samples_per_s")]
            rates = [x for x in rates if x]
            if not rates:
                continue
            hours = total / max(rates) / 3600
            proj.append({"model": r["model"], "n_models": r["n_models"], "samples": total,
                         "hours_at_best_measured_rate": hours})
            print(f"{r['model']:<14} M={r['n_models']:<4} {hours:8.1f} h at {max(rates):,.0f} samples/s")

    env["load_average_end"] = load_average()
    env["machine_end"] = machine_calibration()
    print(f"\nat the end: {machine_line(env['machine_end'])}")
    if args.json:
        from neuroaffect._utils import atomic_write_json

        atomic_write_json(args.json, {"env": env, "single": singles, "sweep": sweeps, "projection": proj,
                                      "flop_note": FLOP_NOTE, "args": vars(args)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
