"""Eyes closed against eyes open on real recordings: the positive control of the whole pipeline.

Each recording is a two-class dataset read by the reader for users' own recordings
(:func:`neuroaffect.io.read_custom`, a folder with a ``labels.csv``), turned into band DE and
topographic maps (:func:`neuroaffect.features.extract_features`), cut into 1-s windows and
classified under the trial-held-out protocol by the logistic row and a graph model (DGCNN),
beside the majority row and the drift control (:mod:`neuroaffect.training.drift`: the first
against the second half of each condition's trials, same features and protocol). Physiology
says alpha (8-14 Hz) over the occipital cortex rises when the eyes close (Berger's effect): the
control reports that effect (closed minus open mean alpha DE over O1/Oz/O2, with its sign, its
size as a power ratio and Cohen's d, and a Welch t-test over trials) and the accuracies.

Recordings (``tests/data/real``):

- ``eegmmidb``: PhysioNet eegmmidb subject 1, run 1 (eyes open) and run 2 (eyes closed), 64
  channels at 160 Hz, the first 30 s of each cut into 3-s trials by its ``labels.csv``; the two
  conditions are two runs, so their difference also holds whatever differs between runs.
- ``eye_state``: the UCI EEG Eye State Emotiv recording (14 channels at 128 Hz, 117 s, eye state
  per sample); each run of one eye state is cut into 2-s trials (:func:`eye_state_folder`), so
  the conditions alternate in time within one recording. Its isolated spikes are interpolated
  (``bad_samples="repair"`` below 10 mV: the Emotiv keeps a ~4.2 mV offset).

Run (from the repository root; writes the Markdown table to stdout, or to ``--out``)::

    python benchmarks/real_control.py                 # DGCNN 30 epochs, 5 folds
    python benchmarks/real_control.py --epochs 10 --out /tmp/real.md
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "real"
CLASSES = {"eyes": ["open", "closed"]}
OCCIPITAL = ("O1", "Oz", "O2")
#: Length (s) of the trials cut from each run of one eye state in the Eye State recording.
EYE_STATE_TRIAL_S = 2.0
#: Reader options per recording (the Emotiv's spikes are interpolated below 10 mV).
READ_KWARGS = {"eegmmidb": {}, "eye_state": {"bad_samples": "repair", "eeg_limit_uv": 10000.0}}


def eye_state_folder(arff, out, trial_s: float = EYE_STATE_TRIAL_S) -> Path:
    """A custom-dataset folder (``eye_state_raw.fif`` + ``labels.csv``) from the Eye State ARFF.

    Each run of one eye state (``eyeDetection`` 0 open, 1 closed) gives ``floor(run / trial_s)``
    consecutive trials of ``trial_s`` seconds, numbered in time order; the rest of a run is
    left out. Returns ``out``.
    """
    import pandas as pd

    from neuroaffect._utils import atomic_write_text
    from neuroaffect.io import raw_from_samples

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    raw = raw_from_samples(arff, 128.0, unit="uV", annotate=["eyeDetection"])
    tmp = out / f".{os.getpid()}.eye_state_raw.fif"  # MNE names its files *.fif; renamed once written
    raw.save(tmp, overwrite=True, fmt="double", verbose="error")
    os.replace(tmp, out / "eye_state_raw.fif")
    rows = []
    for onset, dur, desc in zip(raw.annotations.onset, raw.annotations.duration, raw.annotations.description):
        for j in range(int(dur // trial_s)):
            rows.append({"file": "eye_state_raw.fif", "subject": 1, "session": 1, "trial": len(rows) + 1,
                         "onset": round(float(onset) + j * trial_s, 6), "duration": trial_s,
                         "eyes": "closed" if desc.endswith("/1") else "open"})
    atomic_write_text(out / "labels.csv", pd.DataFrame(rows).to_csv(index=False))
    return out


def alpha_effect(ds, channels=OCCIPITAL) -> dict:
    """Closed minus open alpha band DE (nats) over the occipital ``channels`` the recording has.

    Per trial, the alpha DE is averaged over its windows and the channels; the effect is the
    difference of the two conditions' means, as a power ratio ``exp(2 * diff)`` (DE is
    ``0.5 ln(2 pi e var)``), Cohen's d (pooled SD) and Welch's t-test over trials.
    """
    from scipy import stats

    chans = [c for c in channels if c in ds["channel"].values]
    alpha = ds["bde"].sel(band="alpha", channel=chans).mean(("window", "channel")).values
    y = ds["eyes"].values  # 0 open, 1 closed (CLASSES order)
    a_open, a_closed = alpha[y == 0], alpha[y == 1]
    diff = float(a_closed.mean() - a_open.mean())
    sd = np.sqrt(((a_open.size - 1) * a_open.var(ddof=1) + (a_closed.size - 1) * a_closed.var(ddof=1))
                 / (a_open.size + a_closed.size - 2))
    t, p = stats.ttest_ind(a_closed, a_open, equal_var=False)
    return {"channels": chans, "n_open": int(a_open.size), "n_closed": int(a_closed.size),
            "open": float(a_open.mean()), "closed": float(a_closed.mean()), "diff": diff,
            "power_ratio": float(np.exp(2 * diff)), "cohen_d": float(diff / sd), "t": float(t), "p": float(p)}


def run_control(root, *, model: str = "dgcnn", epochs: int = 30, n_folds: int = 5, seed: int = 0,
                read_kwargs=None) -> dict:
    """Read, featurise, window and classify one eyes-open/closed recording.

    Returns ``{"alpha": alpha_effect(...), "result": ExperimentResult (drift rows included),
    "features": the feature dataset, "windows": the token WindowSet}``.
    """
    from neuroaffect.features import extract_features
    from neuroaffect.io import read_custom
    from neuroaffect.training import TrainConfig, run_experiment, windows_from_features
    from neuroaffect.training.drift import drift_records

    rec = read_custom(root, classes=CLASSES, **(read_kwargs or {}))[0]
    ds = extract_features(rec)
    windows = windows_from_features(ds, "eyes", "binary", dataset="custom", kind="tokens")
    cfg = TrainConfig(epochs=epochs, batch_size=64, seed=seed, device="cpu", amp=False)
    result = run_experiment(windows, int(rec.subject), model, "trial-holdout", n_folds, cfg,
                            metadata={"dataset": "custom", "root": str(root), "target": "eyes"})
    result.sweep.records.extend(drift_records(windows, "trial-holdout", n_folds, class_names=CLASSES["eyes"]))
    return {"alpha": alpha_effect(ds), "result": result, "features": ds, "windows": windows}


def accuracy(result, model: str, level: str = "window", metric: str = "accuracy") -> float:
    """Mean over folds of ``metric`` for one row of an experiment."""
    df = result.table(level)
    return float(df.loc[df["model"] == model, metric].mean())


def table(runs: dict, model: str = "dgcnn") -> str:
    """Markdown: one line per recording, the alpha effect and the window-level accuracies."""
    head = ("| recording | trials open / closed | alpha DE open / closed (O1 Oz O2) | closed - open (power ratio, "
            f"d, p) | {model} | logistic | majority | drift open / closed (balanced) |")
    lines = [head, "|---" * 8 + "|"]
    for name, r in runs.items():
        a, res = r["alpha"], r["result"]
        drift = " / ".join(f"{100 * accuracy(res, f'logistic (drift: {c})', metric='balanced_accuracy'):.1f}"
                           for c in CLASSES["eyes"])
        lines.append(
            f"| {name} ({'/'.join(a['channels'])}) | {a['n_open']} / {a['n_closed']} | {a['open']:.2f} / "
            f"{a['closed']:.2f} | {a['diff']:+.2f} nats (x{a['power_ratio']:.1f}, d {a['cohen_d']:.1f}, "
            f"p {a['p']:.1g}) | {100 * accuracy(res, model):.1f} | {100 * accuracy(res, 'logistic'):.1f} | "
            f"{100 * accuracy(res, 'majority'):.1f} | {drift} |")
    return "\n".join(lines) + "\n"


def recordings(data=DATA, work=None) -> dict:
    """``{name: (folder, read_kwargs)}`` of the recordings present under ``data``."""
    out = {}
    if (Path(data) / "eegmmidb" / "labels.csv").is_file():
        out["eegmmidb"] = (Path(data) / "eegmmidb", READ_KWARGS["eegmmidb"])
    arff = Path(data) / "eye_state" / "eeg_eye_state.arff"
    if arff.is_file():
        out["eye_state"] = (eye_state_folder(arff, Path(work or tempfile.mkdtemp()) / "eye_state"),
                            READ_KWARGS["eye_state"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="folder holding eegmmidb/ and eye_state/")
    ap.add_argument("--model", default="dgcnn", help="graph model beside the logistic row")
    ap.add_argument("--epochs", type=int, default=30, help="training epochs of the model")
    ap.add_argument("--folds", type=int, default=5, help="trial-holdout folds")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown here (default: stdout)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        runs = {name: run_control(root, model=args.model, epochs=args.epochs, n_folds=args.folds, read_kwargs=kw)
                for name, (root, kw) in recordings(args.data, work).items()}
    if not runs:
        print(f"no recordings under {args.data} (expected eegmmidb/labels.csv or eye_state/eeg_eye_state.arff)",
              file=sys.stderr)
        return 1
    from neuroaffect.report import machine_line, sweep_markdown

    load = machine_line()
    cmd = " ".join(["python", "benchmarks/real_control.py", *map(shlex.quote, argv or sys.argv[1:])])
    md = (table(runs, args.model) + f"\nWindow level, trial-holdout ({args.folds} folds), {args.model} "
          f"{args.epochs} epochs on CPU; `{cmd}` in {time.perf_counter() - t0:.0f} s; {load}.\n")
    for name, r in runs.items():
        md += f"\n{name}: {sweep_markdown(r['result'].sweep, 'window').splitlines()[-1]}\n"
    if args.out:
        from neuroaffect._utils import atomic_write_text

        atomic_write_text(args.out, md)
    else:
        print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
