"""What the form of the KD term does to the student's calibration (``docs/distillation.md``, "Loss").

Trains the demo's student (ResNet-8, 3 x 3 stride-2 stem, 48 px, 8 epochs, AdamW lr 3e-3, batch 32,
selected on FERPlus validation macro-F1) on simulated FERPlus faces with three losses, paired by seed:

* ``B0``: cross-entropy alone;
* ``B1-student-T5``: + 0.30 KD in the earlier form, ``T^2 KL(p || softmax(z / T))`` at T = 5: the
  student tempered, the votes not (its optimum is softmax(z) = softmax(T log p), 5 x sharper);
* ``B1``: + 0.30 KD in the standard form (:func:`neuroaffect.training.kd_loss`, T = 1: the votes'
  own cross-entropy, whose optimum is the votes);
* ``B1-T5``: the same loss with both sides tempered at T = 5 and the T^2 factor (Hinton's form; the
  same optimum; at high T its gradient approaches that of matching the logits to log p).

Each selected student is scored once on FERPlus test: macro-F1, the expected calibration error
(15 equal-width bins), NLL and the share of top-class probabilities above 0.99
(:func:`neuroaffect.distill.calibration_metrics`). Printed as a table, written with ``--json``.

    python benchmarks/bench_kd_calibration.py --ferplus data/sim/ferplus/ferplus --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from neuroaffect.distill import PAPER_CONFIG, train_student
from neuroaffect.distill import losses as distill_losses
from neuroaffect.distill.evaluate import evaluate_student
from neuroaffect.io.faces import read_ferplus
from neuroaffect.training import masked_mean


def student_only_kd(logits, soft, temperature: float = 1.0, mask=None):
    """The earlier KD form: ``T^2 KL(p || softmax(z / T))``, the votes untempered."""
    t = float(temperature)
    p = soft.float()
    per = (torch.xlogy(p, p) - p * F.log_softmax(logits.float() / t, dim=-1)).sum(-1) * (t * t)
    return masked_mean(per, mask)


@contextmanager
def kd_form(fn):
    """Use ``fn`` as the KD term of :class:`neuroaffect.distill.DistillLoss` inside the block."""
    old = distill_losses.kd_loss
    distill_losses.kd_loss = fn
    try:
        yield
    finally:
        distill_losses.kd_loss = old


VARIANTS = {"B0": ("B0", None, {}), "B1-student-T5": ("B1", student_only_kd, {"kd_temperature": 5.0}),
            "B1": ("B1", None, {}), "B1-T5": ("B1", None, {"kd_temperature": 5.0})}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ferplus", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--variants", nargs="+", default=["B0", "B1-student-T5", "B1"], choices=list(VARIANTS))
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    fs = read_ferplus(args.ferplus)
    train, val, test = (fs.select_split(k) for k in ("train", "val", "test"))
    cfg = PAPER_CONFIG.replace(epochs=args.epochs, batch_size=32, lr=3e-3, weight_decay=0.05, grad_clip=1.0,
                               device="cpu")
    rows = []
    for seed in args.seeds:
        for name in args.variants:
            arm, fn, opts = VARIANTS[name]
            t0 = time.perf_counter()
            with kd_form(fn or distill_losses.kd_loss):
                res = train_student(train, val, None, arm, cfg, arch="resnet8", in_size=48, small_input=False,
                                    seed=seed, loss_options=opts)
            m = evaluate_student(res.model, test, device="cpu")
            rows.append({"variant": name, "seed": seed, "selected_epoch": res.selected_epoch,
                         "macro_f1": m["macro_f1"], "ece": m["ece"], "nll": m["nll"],
                         "overconfident": m["overconfident"], "mean_confidence": m["mean_confidence"],
                         "accuracy": m["accuracy"], "seconds": time.perf_counter() - t0})
            r = rows[-1]
            print(f"{name:14s} seed {seed}: epoch {r['selected_epoch']}, test macro-F1 {100 * r['macro_f1']:.1f}, "
                  f"acc {100 * r['accuracy']:.1f}, ECE {r['ece']:.3f}, NLL {r['nll']:.3f}, "
                  f"p>0.99 {100 * r['overconfident']:.1f} %, mean conf {100 * r['mean_confidence']:.1f} %, "
                  f"{r['seconds']:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n_test": len(test), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
