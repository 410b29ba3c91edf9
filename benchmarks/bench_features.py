"""Speed and memory of feature extraction on full-scale (simulated) DEAP.

Per band-DE mode it runs, in a fresh process (so that peak RSS is that mode's own): for each
subject, read ``sNN.dat`` (:func:`neuroaffect.io.deap.read_deap`), extract band-DE tokens and
32 x 32 maps (:func:`neuroaffect.features.extract_features`, physiology off), write the
netCDF file. It prints seconds per subject, the projection to all 32 subjects, peak RSS, and
two ratios measured in the same run:

* against a TorchEEG-style per-window reference (Butterworth designed inside the loop for
  every window, band and channel, ``lfilter``, ``0.5 log2(2 pi e var)``), timed on
  ``--ref-trials`` trials and scaled to 40;
* against the read floor: reading the file plus one pass over the data.

Usage::

    python benchmarks/bench_features.py                       # simulate full DEAP to a temp dir
    python benchmarks/bench_features.py --root DIR            # an existing (real or simulated) copy
    python benchmarks/bench_features.py --in-memory           # no files: arrays of DEAP's size
    python benchmarks/bench_features.py --subjects 4 --json results.json

Wall-clock numbers depend on the machine's load: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODES = ("filter", "fft", "window-lfilter")
N_SUBJECTS = 32
N_TRIALS, N_CHANS, N_TIMES, N_BASE = 40, 32, 7680, 384


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------------------------
# data sources
# --------------------------------------------------------------------------------------------
def in_memory_recording(subject: int):
    """A Recording of DEAP's full size (40 x 32 x 7680 stimulus + 3-s baseline, float64 V)."""
    from neuroaffect.channels import DEAP_EEG_CH_NAMES
    from neuroaffect.io.base import Recording

    rng = np.random.default_rng(subject)
    data = rng.standard_normal((N_TRIALS, N_CHANS, N_TIMES + N_BASE)) * 1e-5
    labels = {k: rng.uniform(1, 9, N_TRIALS) for k in ("valence", "arousal", "dominance", "liking")}
    return Recording(
        dataset="deap", subject=subject, eeg=data[..., N_BASE:], sfreq=128.0,
        ch_names=DEAP_EEG_CH_NAMES, labels=labels, label_range={k: (1.0, 9.0) for k in labels},
        baseline=data[..., :N_BASE],
    )


def load_subject(root, subject):
    if root is None:
        return in_memory_recording(subject)
    from neuroaffect.io.deap import read_deap

    return read_deap(root, subjects=[subject], ratings=False)[0]


# --------------------------------------------------------------------------------------------
# workers (each in its own process)
# --------------------------------------------------------------------------------------------
def work_mode(mode, root, subjects, out_dir):
    from neuroaffect.features import FeatureParams, extract_features, write_features

    params = FeatureParams(mode=mode, physio=False, topo=True, topo_size=32)
    rows = []
    for s in subjects:
        c0, t0 = time.process_time(), time.perf_counter()
        rec = load_subject(root, s)
        t1 = time.perf_counter()
        ds = extract_features(rec, params)
        t2 = time.perf_counter()
        write_features(ds, Path(out_dir) / f"deap_{mode}_s{s:02d}.nc")
        t3 = time.perf_counter()
        rows.append({"subject": s, "read_s": t1 - t0, "extract_s": t2 - t1, "write_s": t3 - t2,
                     "total_s": t3 - t0, "cpu_s": time.process_time() - c0,
                     "tokens": list(ds["bde"].shape), "maps": list(ds["topo"].shape)})
        del rec, ds
    return {"mode": mode, "rows": rows, "peak_rss_mb": peak_rss_mb()}


def work_read_floor(root, subjects):
    rows = []
    for s in subjects:
        t0 = time.perf_counter()
        rec = load_subject(root, s)
        total = float(np.sum(rec.eeg)) + float(np.sum(rec.baseline))  # one pass over the data
        rows.append({"subject": s, "read_pass_s": time.perf_counter() - t0, "checksum": total})
        del rec
    return {"rows": rows, "peak_rss_mb": peak_rss_mb()}


def work_reference(root, subject, n_trials):
    """TorchEEG's BandDifferentialEntropy, window by window and channel by channel."""
    from scipy.signal import butter, lfilter

    from neuroaffect.features import BANDS

    rec = load_subject(root, subject)
    x = rec.eeg[:n_trials] * 1e6
    fs, win = rec.sfreq, int(rec.sfreq)
    t0 = time.perf_counter()
    out = []
    for trial in x:
        for start in range(0, trial.shape[-1] - win + 1, win):
            clip = trial[:, start:start + win]
            for lo, hi in BANDS.values():
                for ch in clip:
                    nyq = 0.5 * fs
                    b, a = butter(5, [lo / nyq, hi / nyq], btype="band")
                    out.append(0.5 * np.log2(2 * np.pi * np.e * np.var(lfilter(b, a, ch))))
    sec = time.perf_counter() - t0
    return {"trials": n_trials, "seconds": sec, "per_subject_s": sec * N_TRIALS / n_trials,
            "values": len(out)}


def run_worker(kind, args):
    cmd = [sys.executable, __file__, "--worker", kind, "--subjects", str(args.subjects),
           "--ref-trials", str(args.ref_trials), "--out-dir", str(args.out_dir)]
    if args.root is not None:
        cmd += ["--root", str(args.root)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"worker {kind} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, help="DEAP data_preprocessed_python/ (or its parent)")
    ap.add_argument("--in-memory", action="store_true", help="use in-memory arrays of DEAP's size")
    ap.add_argument("--sim-dir", type=Path, help="where to simulate full DEAP (default: a temp dir)")
    ap.add_argument("--subjects", type=int, default=N_SUBJECTS, help="subjects to time (1..N)")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--ref-trials", type=int, default=2, help="trials timed for the reference")
    ap.add_argument("--out-dir", type=Path, help="where feature files go (default: a temp dir)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    subjects = list(range(1, args.subjects + 1))

    if args.worker:
        if args.worker == "read":
            res = work_read_floor(args.root, subjects)
        elif args.worker == "reference":
            res = work_reference(args.root, 1, args.ref_trials)
        else:
            res = work_mode(args.worker, args.root, subjects, args.out_dir)
        print(json.dumps(res))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
        tmp = Path(tmp)
        args.out_dir = args.out_dir or tmp / "features"
        args.out_dir.mkdir(parents=True, exist_ok=True)
        if args.in_memory:
            args.root, source = None, "in-memory arrays, 40 x 32 x (7680 + 384) float64"
        elif args.root is None:
            from neuroaffect.simulate import simulate

            t0 = time.perf_counter()
            args.root = simulate("deap", "full", args.sim_dir or tmp / "sim", seed=0)
            source = f"simulated full DEAP (written in {time.perf_counter() - t0:.0f} s)"
        else:
            source = str(args.root)
        load0 = os.getloadavg()
        print(f"source: {source}; subjects timed: {len(subjects)}; cpus: {os.cpu_count()}; "
              f"load average: {load0[0]:.2f}", flush=True)

        floor = run_worker("read", args)
        ref = run_worker("reference", args)
        read_s = float(np.mean([r["read_pass_s"] for r in floor["rows"]]))
        print(f"read floor (load + one pass): {read_s:.3f} s/subject; reference (TorchEEG-style, "
              f"{ref['trials']} trials timed): {ref['per_subject_s']:.1f} s/subject", flush=True)
        results = {"source": source, "subjects": len(subjects), "read_floor_s": read_s,
                   "reference": ref, "modes": {}, "load_average_start": load0}
        header = (f"{'mode':15s} {'s/subject':>9s} {'(read':>7s} {'extract':>8s} {'write)':>7s} "
                  f"{'32 subj s':>9s} {'peak RSS MB':>11s} {'x reference':>11s} {'x read floor':>12s}")
        lines = [header]
        for mode in args.modes:
            res = run_worker(mode, args)
            rows = res["rows"]
            mean = {k: float(np.mean([r[k] for r in rows])) for k in ("read_s", "extract_s", "write_s", "total_s", "cpu_s")}
            projected = mean["total_s"] * N_SUBJECTS
            speedup = ref["per_subject_s"] / mean["extract_s"]
            vs_floor = mean["total_s"] / read_s
            results["modes"][mode] = {**mean, "projected_32_s": projected, "peak_rss_mb": res["peak_rss_mb"],
                                      "speedup_vs_reference": speedup, "ratio_to_read_floor": vs_floor,
                                      "measured_32_s": sum(r["total_s"] for r in rows) if len(rows) == N_SUBJECTS else None,
                                      "rows": rows}
            line = (f"{mode:15s} {mean['total_s']:9.3f} {mean['read_s']:7.3f} {mean['extract_s']:8.3f} "
                    f"{mean['write_s']:7.3f} {projected:9.1f} {res['peak_rss_mb']:11.0f} {speedup:11.0f} "
                    f"{vs_floor:12.2f}")
            lines.append(line)
            print(line, flush=True)
        results["load_average_end"] = os.getloadavg()
        print("\n".join(["", *lines]))
        print("x reference = TorchEEG-style seconds per subject / our extraction seconds per subject "
              "(reading excluded from both); x read floor = our total per subject / (read + one pass). "
              f"Load average at the end: {results['load_average_end'][0]:.2f}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
