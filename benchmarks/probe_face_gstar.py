"""How much of G* a small CNN reads from simulated FERPlus pixels, at several G* strengths.

Simulates FERPlus (``--scale``, default ``demo``) once per ``--strengths`` value with one seed (the
same people, poses, light, states and votes; only the faces' expressions differ), reads it back with
:func:`neuroaffect.io.faces.read_ferplus`, aligns the planted truth with
:func:`neuroaffect.simulate.faces.load_face_truth`, and trains a small CNN (three conv blocks, 24-48-96
channels, Adam with a one-cycle schedule, random shifts) on the ``train`` split to predict G* (MSE)
and the majority class (cross-entropy). On the ``test`` split it prints:

- ``r2``: R² of the predicted G* (4 components pooled);
- ``r2_class_mean``: R² of the training mean of G* over the image's true class (what the class alone gives);
- ``within_corr``: the correlation (mean over components) of the within-class parts, prediction minus
  the class's mean against G* minus it: 0 when nothing beyond the class is read;
- ``accuracy`` of the class head against the majority labels.

Run::

    python benchmarks/probe_face_gstar.py --seed 1 --strengths 0 1 2 --epochs 12

The figures are quoted in ``docs/simulator.md`` ("Faces: affect state, G* and votes").
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from neuroaffect.io.faces import read_ferplus
from neuroaffect.report.performance import machine_line
from neuroaffect.simulate.faces import load_face_truth, simulate_faces


def _net(n_out: int):
    from torch import nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                             nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    return nn.Sequential(block(1, 24), block(24, 48), block(48, 96), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(96, n_out))


def _train(x, g, y, idx_train, epochs: int, seed: int):
    """Fit the CNN on images ``x`` (n, 1, 48, 48), G* ``g`` (n, 4) and labels ``y`` (n,); returns it."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = _net(g.shape[1] + 8)
    batches = int(np.ceil(len(idx_train) / 64))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * batches)
    for _ in range(epochs):
        net.train()
        for idx in np.array_split(rng.permutation(idx_train), batches):
            dx, dy = (int(v) for v in rng.integers(-3, 4, 2))
            out = net(torch.roll(x[idx], shifts=(dy, dx), dims=(2, 3)))
            loss = nn.functional.mse_loss(out[:, :4], g[idx]) + nn.functional.cross_entropy(out[:, 4:], y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


def probe(strength: float, scale: str = "demo", seed: int = 0, epochs: int = 12) -> dict:
    """Simulate FERPlus at ``strength``, train the CNN, return the test figures (module docstring)."""
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        root = simulate_faces("ferplus", scale, tmp, seed=seed, gstar_strength=strength)
        fs = read_ferplus(root)
        truth = load_face_truth(root, fs)
    x = torch.from_numpy(fs.images.astype(np.float32) / 255.0)[:, None]
    x = (x - x.mean(dim=(2, 3), keepdim=True)) / (x.std(dim=(2, 3), keepdim=True) + 1e-3)
    itr, ite = np.flatnonzero(fs.split == "train"), np.flatnonzero(fs.split == "test")
    net = _train(x, torch.from_numpy(truth.gstar.astype(np.float32)), torch.from_numpy(fs.labels), itr, epochs, seed)
    with torch.no_grad():
        out = net(x[ite]).numpy()
    pred, gt, cls = out[:, :4], truth.gstar[ite], truth.true_class
    cm = np.stack([truth.gstar[itr][cls[itr] == c].mean(0) for c in range(8)])[cls[ite]]

    def r2(a, b):
        return float(1.0 - ((a - b) ** 2).sum() / ((a - a.mean(0)) ** 2).sum())

    within = np.mean([np.corrcoef(gt[:, j] - cm[:, j], pred[:, j] - cm[:, j])[0, 1] for j in range(gt.shape[1])])
    return {"strength": strength, "r2": r2(gt, pred), "r2_class_mean": r2(gt, cm), "within_corr": float(within),
            "accuracy": float((out[:, 4:].argmax(1) == fs.labels[ite]).mean())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="demo", choices=["tiny", "demo", "full"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strengths", type=float, nargs="+", default=[0.0, 1.0, 2.0])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    print(f"start: {machine_line()}", flush=True)
    for s in args.strengths:
        t0 = time.perf_counter()
        row = probe(s, args.scale, args.seed, args.epochs)
        print(f"gstar_strength {s:g}: r2 {row['r2']:.3f}  r2_class_mean {row['r2_class_mean']:.3f}  within_corr "
              f"{row['within_corr']:.3f}  accuracy {row['accuracy']:.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"end: {machine_line()}")


if __name__ == "__main__":
    main()
