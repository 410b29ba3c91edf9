"""The face student's training speed on CPU: each backbone at one input size, plain and channels-last.

For each student (ResNet-18 with ResNet's own 7 x 7 / 2 convolution + max-pool, ResNet-18 with the
small-input 3 x 3 / 1 stem without max-pool, the narrow ResNet-8 of the demo, the small CNN of the
reference row) and each thread count, the same randomly initialised student is trained (forward,
cross-entropy, backward, AdamW) on one random batch of ``--in-size`` pixels in two memory layouts,
interleaved step by step so that both see the same load:

* **plain**: ``torch.contiguous_format`` (NCHW), the layout before the student held channels-last;
* **channels-last**: ``torch.channels_last`` (NHWC), the student's default.

Printed per row: FLOPs per image of one training step (``FlopCounterMode``: convolutions and matrix
products, forward + backward), images/s of each layout (the best of ``--steps`` timed steps after
one warm-up), the ratio, the achieved GFLOP/s, and the load average; the machine's calibration
(cores, one-thread fp32 GEMM GFLOP/s) at the start and the end. ``--profile`` adds the five
operators with the most self CPU time of one plain and one channels-last step of each stem;
``--bf16`` adds a column under bf16 autocast (a different computation: not used by the student).

    python benchmarks/bench_student.py                      # 1 and 2 threads, batch 32, 48 px
    python benchmarks/bench_student.py --threads 1 --students imagenet resnet8 --batch 64
    python benchmarks/bench_student.py --threads 1 --profile --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _perf import flops_per_sample, machine_line  # noqa: E402

from neuroaffect.distill import FERStudent  # noqa: E402

LAYOUTS = {"plain": torch.contiguous_format, "channels-last": torch.channels_last}
#: The students timed: name -> (arch, small_input). ``resnet8``: the demo's (3 x 3 stride-2 stem);
#: ``resnet8-s1``: its stride-1 stem.
STUDENTS = {"imagenet": ("resnet18", False), "small": ("resnet18", True), "resnet8": ("resnet8", False),
            "resnet8-s1": ("resnet8", True), "cnn3": ("cnn3", True)}


def _student(name: str, layout, in_size: int = 48) -> tuple:
    torch.manual_seed(0)
    arch, small = STUDENTS[name]
    model = FERStudent(8, arch=arch, proj_dim=128, in_size=in_size, small_input=small).set_memory_format(layout)
    return model, torch.optim.AdamW(model.parameters(), lr=2e-4)


def _step(model, opt, x, y, bf16: bool = False) -> float:
    """One training step; its wall seconds."""
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model.forward_outputs(x)
    loss = F.cross_entropy(out["logits"].float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def measure(student: str, threads: int, batch: int, steps: int, bf16: bool, in_size: int = 48) -> dict:
    """Images/s of each layout (best of ``steps``, interleaved), for one student and thread count."""
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(batch, 1, in_size, in_size, generator=g)
    y = torch.randint(0, 8, (batch,), generator=g)
    runs = {name: _student(student, fmt, in_size) for name, fmt in LAYOUTS.items()}
    if bf16:
        runs["channels-last bf16"] = _student(student, torch.channels_last, in_size)
    best = dict.fromkeys(runs, float("inf"))
    load0 = os.getloadavg()[0]
    for i in range(steps + 1):
        for name, (model, opt) in runs.items():
            dt = _step(model, opt, x, y, bf16=name.endswith("bf16"))
            if i:  # the first step of each is a warm-up
                best[name] = min(best[name], dt)
    return {"threads": threads, "batch": batch, "images_per_s": {k: batch / v for k, v in best.items()},
            "load_before": load0, "load_after": os.getloadavg()[0]}


def profile(student: str, batch: int, rows: int = 5, in_size: int = 48) -> dict:
    """The operators with the most self CPU time in one training step of each layout (1 thread)."""
    torch.set_num_threads(1)
    x = torch.rand(batch, 1, in_size, in_size)
    y = torch.randint(0, 8, (batch,))
    out = {}
    for name, fmt in LAYOUTS.items():
        model, opt = _student(student, fmt, in_size)
        _step(model, opt, x, y)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            _step(model, opt, x, y)
        ev = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in ev)
        out[name] = [(e.key, e.self_cpu_time_total / 1e6, e.self_cpu_time_total / total) for e in ev[:rows]]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=2, help="timed steps per layout (after one warm-up)")
    ap.add_argument("--students", "--stems", nargs="+", default=list(STUDENTS), choices=list(STUDENTS),
                    help="imagenet / small: ResNet-18 with either stem; resnet8 (the demo's stride-2 stem) / "
                         "resnet8-s1; cnn3 (the small-CNN reference)")
    ap.add_argument("--in-size", type=int, default=48, help="input side, pixels")
    ap.add_argument("--profile", action="store_true", help="also list the costliest operators")
    ap.add_argument("--bf16", action="store_true", help="also time bf16 autocast (channels-last)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    print(f"start: {machine_line()}; torch {torch.__version__}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, oneDNN {torch.backends.mkldnn.is_available()}", flush=True)
    head = (f"{'student':<11}{'threads':>8}{'GFLOP/img':>10}{'plain img/s':>12}{'ch-last img/s':>14}{'x':>6}"
            f"{'GFLOP/s':>9}" + (f"{'bf16 img/s':>11}" if args.bf16 else "") + f"{'load before/after':>19}")
    print(head, flush=True)
    rows = []
    for stem in args.students:
        model, _ = _student(stem, torch.contiguous_format, args.in_size)
        fpi = flops_per_sample(model, torch.rand(4, 1, args.in_size, args.in_size), torch.device("cpu"), amp=False,
                               loss=lambda o: o.sum()) / 1e9
        for t in args.threads:
            r = {"student": stem, "in_size": args.in_size, "gflop_per_image": fpi,
                 **measure(stem, t, args.batch, args.steps, args.bf16, args.in_size)}
            rows.append(r)
            ips = r["images_per_s"]
            print(f"{stem:<11}{t:>8}{fpi:>10.3f}{ips['plain']:>12.1f}{ips['channels-last']:>14.1f}"
                  f"{ips['channels-last'] / ips['plain']:>6.2f}{fpi * ips['channels-last']:>9.1f}"
                  + (f"{ips['channels-last bf16']:>11.1f}" if args.bf16 else "")
                  + f"{r['load_before']:>10.2f}{r['load_after']:>9.2f}", flush=True)
    prof = {}
    if args.profile:
        for stem in args.students:
            prof[stem] = profile(stem, args.batch, in_size=args.in_size)
            for layout, ops in prof[stem].items():
                print(f"\n{stem}, {layout}, 1 thread, batch {args.batch}: self CPU time")
                for name, sec, share in ops:
                    print(f"  {name:<40}{sec:8.3f} s {100 * share:5.1f} %")
    end = machine_line()
    print(f"\nimages/s: best of {args.steps} training steps (forward, cross-entropy, backward, AdamW) of batch "
          f"{args.batch} at {args.in_size} px after one warm-up, the layouts interleaved; GFLOP/s: FLOPs per image x channels-last "
          f"images/s.\nend: {end}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "profile": prof, "end": end}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
