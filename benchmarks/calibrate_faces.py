"""How learnable the simulated FERPlus is: raw-pixel logistic regression against a small CNN.

Simulates FERPlus at ``--scale`` (default ``demo``: 3,000 / 400 / 400 rows), reads it back with
:func:`neuroaffect.io.faces.read_ferplus`, trains on the ``train`` split and scores the ``test``
split against the reader's majority-vote labels:

(a) logistic regression on the standardised raw pixels (scikit-learn);
(b) a small CNN (three conv blocks, torch, CPU), trained with Adam and random shifts/flips;
(c) optionally (``--hgb``) histogram gradient boosting on 24 x 24 downsampled pixels.

Prints accuracy and macro-F1 of each, the CNN's confusion matrix (rows: label, columns:
prediction), the fear -> surprise and surprise -> fear rates against the largest other off-diagonal
rate, the annotators' own fear/surprise confusion in the votes, and how often the majority label
equals the generator's true class (the ceiling set by the vote noise). These are the figures
quoted for the face simulator.

Run::

    python benchmarks/calibrate_faces.py --seed 0 --epochs 25
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neuroaffect.io.faces import read_ferplus
from neuroaffect.labels import FER_CLASSES
from neuroaffect.report.performance import machine_line
from neuroaffect.simulate import simulate_faces

FEAR, SURPRISE = FER_CLASSES.index("fear"), FER_CLASSES.index("surprise")


def logistic(xtr, ytr, xte, C=0.01):
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=300))
    clf.fit(xtr.reshape(len(xtr), -1).astype(np.float32), ytr)
    return clf.predict(xte.reshape(len(xte), -1).astype(np.float32))


def hgb(xtr, ytr, xte):
    from sklearn.ensemble import HistGradientBoostingClassifier

    def down(x):
        return x.reshape(len(x), 24, 2, 24, 2).mean(axis=(2, 4)).reshape(len(x), -1)

    clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0)
    clf.fit(down(xtr.astype(np.float32)), ytr)
    return clf.predict(down(xte.astype(np.float32)))


def cnn(xtr, ytr, xte, epochs=25, seed=0, threads=2):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                             nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    net = nn.Sequential(block(1, 24), block(24, 48), block(48, 96), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Dropout(0.3), nn.Linear(96, len(FER_CLASSES)))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * int(np.ceil(len(xtr) / 64)))

    def prep(x):
        x = torch.from_numpy(x.astype(np.float32) / 255.0)[:, None]
        return (x - x.mean(dim=(2, 3), keepdim=True)) / (x.std(dim=(2, 3), keepdim=True) + 1e-3)

    xt, yt = prep(xtr), torch.from_numpy(ytr)
    for _ in range(epochs):
        net.train()
        for idx in np.array_split(rng.permutation(len(xt)), int(np.ceil(len(xt) / 64))):
            xb = xt[idx]
            if rng.random() < 0.5:
                xb = xb.flip(3)
            dx, dy = rng.integers(-3, 4, 2)
            xb = torch.roll(xb, shifts=(int(dy), int(dx)), dims=(2, 3))
            loss = nn.functional.cross_entropy(net(xb), yt[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        return net(prep(xte)).argmax(1).numpy()


def report(name, y, pred, seconds):
    print(f"{name:<28} accuracy {accuracy_score(y, pred):.3f}  macro-F1 "
          f"{f1_score(y, pred, average='macro'):.3f}  ({seconds:.1f} s)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="demo", choices=["tiny", "demo", "full"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gstar-strength", type=float, default=1.0,
                    help="weight of G* in the faces' expressions (0: none; docs/simulator.md, 'Faces')")
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--hgb", action="store_true", help="also fit gradient boosting on 24 x 24 pixels")
    ap.add_argument("--no-cnn", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="where to simulate (default: a temporary folder)")
    args = ap.parse_args(argv)
    print(f"start: {machine_line()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        t0 = time.perf_counter()
        root = simulate_faces("ferplus", args.scale, out, seed=args.seed, gstar_strength=args.gstar_strength)
        t_sim = time.perf_counter() - t0
        t0 = time.perf_counter()
        fs = read_ferplus(root)
        t_read = time.perf_counter() - t0
        truth = np.load(out / "simulation.npz")
        card = json.loads((out / "simulation.json").read_text())
    print(f"simulated FERPlus ({args.scale}, seed {args.seed}, gstar_strength {args.gstar_strength:g}) in "
          f"{t_sim:.1f} s, read in {t_read:.1f} s: {fs}")
    print(f"dropped rows: {fs.meta['dropped']}")
    true = truth["true_class"][fs.meta["row"]]
    print(f"majority label == generator's class: {np.mean(true == fs.labels):.3f}")
    votes = truth["votes"][(truth["kind"] == 0)]
    cls = truth["true_class"][(truth["kind"] == 0)]
    share = np.array([votes[cls == c, :8].sum(0) / votes[cls == c].sum() for c in range(8)])
    off = share.copy()
    np.fill_diagonal(off, 0)
    print(f"votes: fear faces voted surprise {share[FEAR, SURPRISE]:.3f}, surprise faces voted fear "
          f"{share[SURPRISE, FEAR]:.3f}; largest other off-diagonal vote share "
          f"{np.max(np.delete(off.ravel(), [FEAR * 8 + SURPRISE, SURPRISE * 8 + FEAR])):.3f}")
    tr, te = fs.select_split("train"), fs.select_split("test")
    print(f"train {len(tr)} / test {len(te)}; chance (majority class) "
          f"{np.bincount(te.labels, minlength=8).max() / len(te):.3f}; image size {card['image_size']}")
    t0 = time.perf_counter()
    report("(a) logistic, raw pixels", te.labels, logistic(tr.images, tr.labels, te.images), time.perf_counter() - t0)
    if args.hgb:
        t0 = time.perf_counter()
        report("(c) boosting, 24x24 pixels", te.labels, hgb(tr.images, tr.labels, te.images),
               time.perf_counter() - t0)
    if not args.no_cnn:
        t0 = time.perf_counter()
        pred = cnn(tr.images, tr.labels, te.images, epochs=args.epochs, seed=args.seed)
        report("(b) small CNN", te.labels, pred, time.perf_counter() - t0)
        cm = confusion_matrix(te.labels, pred, labels=range(8))
        rates = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        print("CNN confusion matrix (rows: label, columns: prediction; " + " ".join(c[:3] for c in FER_CLASSES) + ")")
        for c, row in zip(FER_CLASSES, cm):
            print(f"  {c:<10} " + " ".join(f"{v:3d}" for v in row))
        off = rates.copy()
        np.fill_diagonal(off, 0)
        others = np.delete(off.ravel(), [FEAR * 8 + SURPRISE, SURPRISE * 8 + FEAR])
        print(f"CNN: fear -> surprise {rates[FEAR, SURPRISE]:.3f}, surprise -> fear {rates[SURPRISE, FEAR]:.3f}, "
              f"largest other confusion {others.max():.3f} (mean {others.mean():.3f})")
    print(f"end: {machine_line()}")


if __name__ == "__main__":
    main()
