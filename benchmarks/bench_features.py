"""Speed and memory of feature extraction on full-scale (simulated) DEAP.

Per band-DE mode, one subject's work is: read ``sNN.dat`` (:func:`neuroaffect.io.deap.read_deap`,
which also hashes the file), extract band-DE tokens and 32 x 32 maps
(:func:`neuroaffect.features.extract_features`, physiology off), write the netCDF file
(:func:`neuroaffect.features.write_features`). Each mode is run twice, each time in a fresh
process (so that peak RSS is that mode's own):

* **serial**: one subject after another in one process; seconds per subject (read, extract,
  write) and their sum over the subjects (a projection to 32 when fewer are timed);
* **2 workers**: every subject as one task of a ``ProcessPoolExecutor`` with ``--workers``
  processes (BLAS, OpenMP and FFT threads 1 per worker), as the workflow runs subjects as
  parallel jobs on this machine's cores. The wall time is measured end to end: pool start,
  all subjects, pool shut-down. Peak RSS is that of the whole process tree: the largest sum
  of the resident sets of the driver and all its descendants, sampled every 50 ms, and the
  sum of each process's own peak (an upper bound).

Each mode is judged by its **best configuration** (the faster of the serial and the
``--workers`` runs, for all 32 subjects) against the targets: filter (the default) <= 8 s,
fft <= 5 s, window-lfilter <= 8 s, with that configuration's peak RSS (the process's when
serial, the process tree's upper bound with workers) < 1000 MB, and, for the default mode,
at least 400 times the reference's speed. Two ratios are measured in the same run:

* against a TorchEEG-style per-window reference (Butterworth designed inside the loop for
  every window, band and channel, ``lfilter``, ``0.5 log2(2 pi e var)``), timed on
  ``--ref-trials`` trials and scaled to 40;
* against the read floor: reading the file plus one pass over the data.

Usage::

    python benchmarks/bench_features.py                       # simulate full DEAP to a temp dir
    python benchmarks/bench_features.py --root DIR            # an existing (real or simulated) copy
    python benchmarks/bench_features.py --in-memory           # no files: arrays of DEAP's size
    python benchmarks/bench_features.py --subjects 4 --json results.json
    python benchmarks/bench_features.py --workers 0            # serial only

Wall-clock numbers depend on the machine's load: the 1-minute load average before and after
each mode's two runs is printed beside them, and at the start and the end of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

MODES = ("filter", "fft", "window-lfilter")
N_SUBJECTS = 32
N_TRIALS, N_CHANS, N_TIMES, N_BASE = 40, 32, 7680, 384
#: Targets for all 32 subjects on the 2-core machine (seconds), for peak RSS (MB, below), and
#: for the default mode's speed-up over the per-window reference (at least).
TARGET_S = {"filter": 8.0, "fft": 5.0, "window-lfilter": 8.0}
TARGET_RSS_MB = 1000.0
TARGET_X_REF = {"filter": 400.0}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


# --------------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------------
def _status_mb(pid, field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of a process in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    """This process's peak resident set (``VmHWM``; ``ru_maxrss`` where /proc is missing).

    ``VmHWM`` belongs to the process image: unlike ``ru_maxrss`` it does not inherit the
    peak of the parent that forked it."""
    hwm = _status_mb("self", "VmHWM")
    return hwm or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _descendants(root: int) -> set:
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = set(), [root]
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


class TreeRSS(threading.Thread):
    """Samples the summed RSS of this process and all its descendants (Linux /proc)."""

    def __init__(self, interval=0.05, rescan=0.5):
        super().__init__(daemon=True)
        self.interval, self.rescan = interval, rescan
        self.peak_mb, self.proc_peak_mb = 0.0, {}
        self._stop_evt = threading.Event()

    def run(self):
        me, pids, last = os.getpid(), set(), 0.0
        while not self._stop_evt.is_set():
            if time.monotonic() - last > self.rescan:
                pids, last = _descendants(me), time.monotonic()
            rss = {pid: _status_mb(pid, "VmRSS") for pid in pids | {me}}
            self.peak_mb = max(self.peak_mb, sum(rss.values()))
            for pid, v in rss.items():
                self.proc_peak_mb[pid] = max(self.proc_peak_mb.get(pid, 0.0), v)
            self._stop_evt.wait(self.interval)

    def stop(self):
        self._stop_evt.set()
        self.join()


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
def process_subject(mode, root, subject, out_dir) -> dict:
    """Read, extract and write one subject; seconds per stage."""
    from neuroaffect.features import FeatureParams, extract_features, write_features

    params = FeatureParams(mode=mode, physio=False, topo=True, topo_size=32)
    start = time.time()
    c0, t0 = time.process_time(), time.perf_counter()
    rec = load_subject(root, subject)
    t1 = time.perf_counter()
    ds = extract_features(rec, params)
    t2 = time.perf_counter()
    write_features(ds, Path(out_dir) / f"deap_{mode}_s{subject:02d}.nc")
    t3 = time.perf_counter()
    return {"subject": subject, "read_s": t1 - t0, "extract_s": t2 - t1, "write_s": t3 - t2,
            "total_s": t3 - t0, "cpu_s": time.process_time() - c0,
            "tokens": list(ds["bde"].shape), "maps": list(ds["topo"].shape),
            "pid": os.getpid(), "peak_rss_mb": peak_rss_mb(), "start": start, "end": time.time()}


def work_mode(mode, root, subjects, out_dir):
    t0 = time.perf_counter()
    rows = [process_subject(mode, root, s, out_dir) for s in subjects]
    return {"mode": mode, "rows": rows, "wall_s": time.perf_counter() - t0,
            "peak_rss_mb": peak_rss_mb()}


def work_pool(mode, root, subjects, out_dir, workers):
    """All subjects as tasks of a process pool; wall time and process-tree memory."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    for var in THREAD_VARS:  # inherited by the spawned workers before numpy loads
        os.environ[var] = "1"
    mon = TreeRSS()
    mon.start()
    t0, w0 = time.perf_counter(), time.time()
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
        futures = [ex.submit(process_subject, mode, root, s, out_dir) for s in subjects]
        rows = [f.result() for f in futures]
    wall, w1 = time.perf_counter() - t0, time.time()
    mon.stop()
    # start-up (pool creation to the first task) and shut-down (last task to the end) are
    # paid once; only the part between them grows with the number of subjects
    first, last = min(r["start"] for r in rows), max(r["end"] for r in rows)
    fixed = (first - w0) + (w1 - last)
    proj32 = fixed + (last - first) * N_SUBJECTS / len(subjects)
    worker_peak = {}
    for r in rows:
        worker_peak[r["pid"]] = max(worker_peak.get(r["pid"], 0.0), r["peak_rss_mb"])
    others = {pid: v for pid, v in mon.proc_peak_mb.items()
              if pid not in worker_peak and pid != os.getpid()}
    bound = peak_rss_mb() + sum(worker_peak.values()) + sum(others.values())
    return {"mode": mode, "workers": workers, "rows": rows, "wall_s": wall,
            "startup_shutdown_s": fixed, "projected_32_s": proj32,
            "tree_peak_rss_mb": mon.peak_mb, "tree_peak_rss_bound_mb": bound,
            "worker_peak_rss_mb": list(worker_peak.values()), "cpu_s": sum(r["cpu_s"] for r in rows)}


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
           "--ref-trials", str(args.ref_trials), "--out-dir", str(args.out_dir),
           "--workers", str(args.workers)]
    if args.root is not None:
        cmd += ["--root", str(args.root)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"worker {kind} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _clear(out_dir: Path):
    for f in out_dir.glob("deap_*.nc"):
        f.unlink()


# --------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, help="DEAP data_preprocessed_python/ (or its parent)")
    ap.add_argument("--in-memory", action="store_true", help="use in-memory arrays of DEAP's size")
    ap.add_argument("--sim-dir", type=Path, help="where to simulate full DEAP (default: a temp dir)")
    ap.add_argument("--subjects", type=int, default=N_SUBJECTS, help="subjects to time (1..N)")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--workers", type=int, default=2,
                    help="processes of the parallel run (0: serial run only)")
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
        elif args.worker.startswith("pool:"):
            res = work_pool(args.worker[5:], args.root, subjects, args.out_dir, args.workers)
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
        from neuroaffect.report.performance import machine_calibration, machine_line

        calib0 = machine_calibration()
        load0 = os.getloadavg()
        print(f"source: {source}; subjects timed: {len(subjects)}; {machine_line(calib0)}", flush=True)

        floor = run_worker("read", args)
        ref = run_worker("reference", args)
        read_s = float(np.mean([r["read_pass_s"] for r in floor["rows"]]))
        print(f"read floor (load + sha256 + one pass): {read_s:.3f} s/subject; reference "
              f"(TorchEEG-style, {ref['trials']} trials timed): {ref['per_subject_s']:.1f} s/subject",
              flush=True)
        results = {"source": source, "subjects": len(subjects), "workers": args.workers,
                   "read_floor_s": read_s, "reference": ref, "modes": {}, "load_average_start": load0,
                   "machine_start": calib0}
        scale = N_SUBJECTS / len(subjects)
        all32 = "32 subj" if scale == 1 else "32 proj"
        header = (f"{'mode':15s} {'read':>6s} {'extract':>7s} {'write':>6s} {'s/subj':>6s} "
                  f"{'serial ' + all32 + ' s':>17s} {'RSS MB':>7s} | "
                  f"{f'{args.workers} workers ' + all32 + ' s':>22s} {'tree RSS MB':>11s} "
                  f"{'(bound)':>7s} | {'best':>7s} {'s':>5s} {'target':>6s} {'met':>3s} | {'x ref':>5s} "
                  f"{'x floor':>7s} | {'load before/after':>17s}")
        lines = [header]
        for mode in args.modes:
            _clear(args.out_dir)
            load_before = os.getloadavg()[0]
            res = run_worker(mode, args)
            rows = res["rows"]
            mean = {k: float(np.mean([r[k] for r in rows]))
                    for k in ("read_s", "extract_s", "write_s", "total_s", "cpu_s")}
            serial32 = sum(r["total_s"] for r in rows) * scale
            speedup = ref["per_subject_s"] / mean["extract_s"]
            vs_floor = mean["total_s"] / read_s
            entry = {**mean, "serial_32_s": serial32, "serial_measured": scale == 1,
                     "peak_rss_mb": res["peak_rss_mb"], "speedup_vs_reference": speedup,
                     "ratio_to_read_floor": vs_floor, "rows": rows}
            par32 = tree = bound = None
            if args.workers > 0:
                _clear(args.out_dir)
                pool = run_worker(f"pool:{mode}", args)
                par32 = pool["wall_s"] if scale == 1 else pool["projected_32_s"]
                tree, bound = pool["tree_peak_rss_mb"], pool["tree_peak_rss_bound_mb"]
                entry.update(parallel_32_s=par32, parallel_measured=scale == 1,
                             tree_peak_rss_mb=tree, tree_peak_rss_bound_mb=bound, parallel=pool)
            # each mode is judged by its best configuration: the faster of serial and workers
            configs = [("serial", serial32, res["peak_rss_mb"])]
            if par32 is not None:
                configs.append((f"{args.workers}w", par32, bound))
            best, compared, rss = min(configs, key=lambda c: c[1])
            met = (compared <= TARGET_S[mode] and rss < TARGET_RSS_MB
                   and speedup >= TARGET_X_REF.get(mode, 0.0))
            load_after = os.getloadavg()[0]
            entry.update(target_s=TARGET_S[mode], best_config=best, compared_s=compared,
                         compared_rss_mb=rss, target_met=met, load_before=load_before,
                         load_after=load_after)
            results["modes"][mode] = entry
            par = (f"{par32:22.1f} {tree:11.0f} {bound:7.0f}" if par32 is not None
                   else f"{'-':>22s} {'-':>11s} {'-':>7s}")
            line = (f"{mode:15s} {mean['read_s']:6.3f} {mean['extract_s']:7.3f} {mean['write_s']:6.3f} "
                    f"{mean['total_s']:6.3f} {serial32:17.1f} {res['peak_rss_mb']:7.0f} | {par} | "
                    f"{best:>7s} {compared:5.1f} {TARGET_S[mode]:6.0f} {'yes' if met else 'no':>3s} | "
                    f"{speedup:5.0f} {vs_floor:7.2f} | {load_before:8.2f} {load_after:8.2f}")
            lines.append(line)
            print(line, flush=True)
        _clear(args.out_dir)
        results["load_average_end"] = os.getloadavg()
        results["machine_end"] = calib1 = machine_calibration()
        what = "measured" if scale == 1 else f"projected from {len(subjects)} subjects"
        notes = [
            "read / extract / write / s/subj: serial means per subject. serial 32: sum over the "
            f"subjects in one process ({what}); RSS MB: that process's peak.",
        ]
        if args.workers > 0:
            notes.append(
                f"{args.workers} workers 32: wall time of a ProcessPoolExecutor of {args.workers} "
                "processes (1 BLAS/FFT thread each, one subject per task), pool start-up and "
                f"shut-down included ({what}"
                + ("" if scale == 1 else "; only the span from the first task's start to the "
                   "last one's end is scaled") + "). tree RSS MB: peak of the summed RSS of "
                "the whole process tree (sampled every 50 ms); (bound): sum of every process's "
                "own peak."
            )
        notes += [
            "best / s / target / met: each mode is judged by its best configuration (serial or "
            f"{args.workers} workers, whichever is faster for 32 subjects): that time <= the target, "
            f"that configuration's peak RSS (serial: the process's; workers: the tree's bound) < "
            f"{TARGET_RSS_MB:.0f} MB, and for the default mode (filter) x ref >= "
            f"{TARGET_X_REF['filter']:.0f}.",
            "load before/after: the 1-minute load average before the mode's serial run and after its "
            "parallel run.",
            "x ref = TorchEEG-style seconds per subject / our serial extraction seconds per "
            "subject (reading excluded from both); x floor = our serial total per subject / "
            "(read + one pass).",
            f"Load average at the start: {load0[0]:.2f}, at the end: "
            f"{results['load_average_end'][0]:.2f}.",
            f"At the start, {machine_line(calib0)}; at the end, {machine_line(calib1)}.",
        ]
        print("\n".join(["", *lines, *notes]))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
