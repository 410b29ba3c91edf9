"""A CPU ablation of the distilled face student large enough to compare the arms, and the student's throughput.

Runs every arm (B0 CE, B1 + KD, B2 + Proto-KD, B3 full) and the shuffled-grid control, over several
seeds, on simulated FERPlus at the demo scale (or --scale), selected on FERPlus validation and evaluated
once on FERPlus test, AffectNet-mini and CK+ beside the majority and pixel-logistic rows; prints the
ablation tables (with the paired tests across seeds) and the training throughput, with the load average.

The grid: a prototype grid from `snakemake` (results/prototypes/grid), or --grid; without one, the
prototype stage is run first on simulated DREAMER + MAHNOB-HCI (demo scale).

    python benchmarks/bench_distill.py --epochs 6 --seeds 0 1 2 --out benchmarks/out/distill

On two cores, two processes of one thread each finish sooner: train a share of the arms in each
(``--arms B0 B1 B2 --out out/A`` and ``--arms B3 B3-shuffled --out out/B``, same grid), then evaluate all
runs together, so that the paired tests see every arm:

    python benchmarks/bench_distill.py --evaluate out/A/runs/* out/B/runs/* --out out/all
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def _load():
    return "load average %.2f / %.2f / %.2f" % os.getloadavg()


def _machine():
    from neuroaffect.report.performance import machine_line

    return machine_line()


def _grid(args, work: Path) -> Path:
    if args.grid:
        return Path(args.grid)
    default = ROOT / "results/prototypes/grid"
    if (default / "card.json").is_file():
        return default
    from neuroaffect.pipeline import export_prototypes, train_teacher
    from neuroaffect.simulate import simulate
    from neuroaffect.training import TrainConfig

    d = simulate("dreamer", "demo", work / "sim/dreamer", snr=2)
    m = simulate("mahnob", "demo", work / "sim/mahnob", snr=2)
    cfg = {"holdout": 0.5, "cv_folds": 0, "model_kwargs": {"width": 8}}
    train_teacher(work / "teacher", "dreamer", root=d, feature_params={"physio": False}, config=cfg,
                  train_cfg=TrainConfig(epochs=30, batch_size=32, lr=2e-3, weight_decay=1e-2, device="cpu"))
    export_prototypes(work / "grid", work / "teacher", "dreamer", root=d, support_root=m,
                      feature_params={"physio": False}, support_params={"physio": False, "window": 256, "stride": 256},
                      config=cfg)
    return work / "grid"


def throughput(in_size: int, small_input: bool, threads: int, steps: int = 6, batch: int = 64) -> float:
    """Images per second of ResNet-18 training steps (forward, backward, AdamW) on CPU."""
    from neuroaffect.distill import FERStudent

    torch.set_num_threads(threads)
    model = FERStudent(8, arch="resnet18", proj_dim=128, in_size=in_size, small_input=small_input)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4)
    x = torch.rand(batch, 1, in_size, in_size)
    y = torch.randint(0, 8, (batch,))
    for i in range(steps + 1):
        if i == 1:
            t0 = time.perf_counter()
        out = model.forward_outputs(x)
        loss = torch.nn.functional.cross_entropy(out["logits"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", default="demo", choices=["tiny", "demo", "full"], help="simulated face sets")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", default=["B0", "B1", "B2", "B3", "B3-shuffled"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--small-input", action="store_true", help="the small-input stem (about 13x slower on CPU)")
    p.add_argument("--grid", default=None, help="an exported prototype grid folder")
    p.add_argument("--out", default=str(ROOT / "benchmarks/out/distill"))
    p.add_argument("--evaluate", nargs="+", default=None, metavar="RUN",
                   help="only evaluate these trained runs together (their faces simulated again into --out)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from neuroaffect.pipeline.faces import evaluate_students, train_arm
    from neuroaffect.simulate import simulate

    out = Path(args.out)
    if args.evaluate:
        roots = {f: simulate(f, args.scale, out / "sim" / f, seed=0) for f in ("ferplus", "affectnet-mini", "ckplus")}
        note = (f"CPU benchmark: simulated faces at the {args.scale} scale; runs {', '.join(args.evaluate)} "
                "evaluated together (their settings are in each run's record.json).")
        print(evaluate_students(args.evaluate, roots["ferplus"], out / "report", affectnet_mini=roots["affectnet-mini"],
                                ckplus=roots["ckplus"], scale_note=note))
        return 0
    print(f"start: {_machine()}, threads {args.threads}", flush=True)
    tp = {f"{'small' if s else 'imagenet'} stem, {t} thread(s)": throughput(48, s, t) for s in (False, True)
          for t in sorted({1, args.threads})}
    for k, v in tp.items():
        print(f"ResNet-18 training at 48 x 48, {k}: {v:.1f} images/s ({_load()})", flush=True)
    roots = {f: simulate(f, args.scale, out / "sim" / f, seed=0) for f in ("ferplus", "affectnet-mini", "ckplus")}
    grid = _grid(args, out)
    runs, times = [], {}
    for arm in args.arms:
        for seed in args.seeds:
            t0 = time.perf_counter()
            run = out / "runs" / f"{arm}_seed{seed}"
            rec = train_arm(roots["ferplus"], grid, arm, seed, run, epochs=args.epochs, batch_size=args.batch_size,
                            device="cpu", small_input=True if args.small_input else False)
            times.setdefault(arm, []).append(time.perf_counter() - t0)
            runs.append(run)
            print(f"{arm} seed {seed}: val macro-F1 {100 * rec['val']['macro_f1']:.1f} %, epoch "
                  f"{rec['selected_epoch'] + 1}, {times[arm][-1]:.0f} s ({_load()})", flush=True)
    note = (f"CPU benchmark: simulated faces at the {args.scale} scale, {args.epochs} epochs, batch {args.batch_size}, "
            f"seeds {args.seeds}, ResNet-18 with the {'small-input' if args.small_input else 'ImageNet'} stem at "
            f"48 x 48, {args.threads} thread(s).")
    md = evaluate_students(runs, roots["ferplus"], out / "report", affectnet_mini=roots["affectnet-mini"],
                           ckplus=roots["ckplus"], scale_note=note)
    print(md)
    per_arm = {a: sum(t) / len(t) for a, t in times.items()}
    print("seconds per run, by arm: " + ", ".join(f"{a} {t:.0f}" for a, t in per_arm.items()) + f" ({_machine()})")
    (out / "bench.json").write_text(json.dumps({"throughput": tp, "seconds_per_run": per_arm, "note": note}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
