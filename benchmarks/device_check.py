"""Driver of ``benchmarks/device_check.sh``: install, GPU tests, training benchmarks, full sweep, report.

Run it through ``device_check.sh`` (which documents the machine it needs); directly::

    python3 benchmarks/device_check.py --device cuda --out "$OUT"
    python3 benchmarks/device_check.py --device cpu --tiny --out /tmp/check     # CPU fallback, < 1 min

Steps, each in its own process with a time limit taken from one overall budget
(``--budget-s``, 450 s by default: the whole check stays inside 8 minutes):

1. **install**: every wheel in ``.whl/`` whose distribution is not importable yet goes into a
   private folder (``pip install --no-index --no-deps --target``) put on ``PYTHONPATH``; the
   package itself is installed with ``pip install --no-deps --no-build-isolation -e .`` when it
   is not installed, and the checkout is put first on ``PYTHONPATH`` either way, so the code
   checked is this checkout's;
2. **environment**: GPU name, driver, torch and CUDA versions, the card's bf16 peak (vendor
   datasheet table, or "unknown card") and a measured bf16 matrix-product rate;
3. **tests**: ``pytest -m gpu`` over the test files that use the marker (skipped, with their
   reason, without CUDA);
4. **training**: ``bench_training.py`` (single models; batched sweep against the loop at
   M = 10, 80, 320);
5. **full sweep**: ``bench_full_sweep.py`` (32 subjects x 10 folds x 100 epochs, RBTransformer),
   whose per-epoch progress survives a time-out.

Writes ``device_check.json``, ``device_check.md`` (and the shell wrapper's ``device_check.log``)
under ``--out``; the Markdown report is also printed last.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
SCHEMA = "neuroaffect-device-check/1"
#: Sections every report holds (a test checks them).
SECTIONS = ("environment", "install", "tests", "training", "full_sweep")
#: Seconds kept back at the end for the report.
RESERVE_S = 10.0


def _load() -> list:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


# --------------------------------------------------------------------------------------------
# install
# --------------------------------------------------------------------------------------------
def _wheel_dist(path: Path) -> str:
    """Distribution name of a wheel file (``name-version-...whl``)."""
    return path.name.split("-")[0]


def _installed(*dists: str) -> dict:
    """``{dist: installed version or None}``, asked in one fresh interpreter (the current PYTHONPATH)."""
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for d in sys.argv[1:]:\n"
            "    try:\n        out[d] = m.version(d)\n"
            "    except m.PackageNotFoundError:\n        out[d] = None\n"
            "print(json.dumps(out))\n")
    res = subprocess.run([sys.executable, "-c", code, *dists], capture_output=True, text=True, env=os.environ.copy())
    try:
        return json.loads(res.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return dict.fromkeys(dists)


def install(wheel_dir: Path, site: Path, log) -> dict:
    """Install the missing wheels of ``wheel_dir`` into ``site`` and make the checkout importable.

    Returns
    -------
    record : dict
        ``installed``, ``already_present`` (name: version), ``package`` (how ``neuroaffect`` was
        made importable), ``pythonpath``, ``seconds``, ``status``.
    """
    t0 = time.perf_counter()
    rec = {"wheel_dir": str(wheel_dir), "installed": [], "already_present": {}, "status": "ok"}
    wheels = sorted(wheel_dir.glob("*.whl")) if wheel_dir.is_dir() else []
    versions = _installed(*(_wheel_dist(w) for w in wheels)) if wheels else {}
    missing = []
    for w in wheels:
        version = versions.get(_wheel_dist(w))
        if version is None:
            missing.append(w)
        else:
            rec["already_present"][_wheel_dist(w)] = version
    paths = [str(ROOT)]
    if missing:
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
               "--no-cache-dir", "--upgrade", "--target", str(site), *map(str, missing)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        log(res.stdout + res.stderr)
        if res.returncode == 0:
            rec["installed"] = [w.name for w in missing]
            paths.append(str(site))
        else:
            rec["status"] = f"pip failed (rc {res.returncode}): {res.stderr.strip()[-300:]}"
    if not wheels:
        rec["note"] = f"no wheels in {wheel_dir}: nothing to install"
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
    sys.path[:0] = [p for p in paths if p not in sys.path]
    version = _installed("neuroaffect")["neuroaffect"]
    if version is None:
        res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                              "-e", str(ROOT)], capture_output=True, text=True)
        log(res.stdout + res.stderr)
        rec["package"] = ("pip install --no-deps --no-build-isolation -e ." if res.returncode == 0
                          else f"pip install -e failed (rc {res.returncode}); imported from PYTHONPATH")
    else:
        rec["package"] = f"neuroaffect {version} already installed; this checkout first on PYTHONPATH"
    rec["pythonpath"] = os.environ["PYTHONPATH"]
    rec["seconds"] = time.perf_counter() - t0
    return rec


# --------------------------------------------------------------------------------------------
# running steps
# --------------------------------------------------------------------------------------------
def run_step(cmd: list, timeout: float, log) -> dict:
    """Run ``cmd`` in its own process group; kill the group after ``timeout`` seconds."""
    t0 = time.perf_counter()
    load0 = _load()
    log(f"$ {' '.join(cmd)}   (limit {timeout:.0f} s, load {load0})")
    if timeout <= 1:
        return {"status": "skipped: no time left in the budget", "rc": None, "seconds": 0.0, "command": cmd}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    dt = time.perf_counter() - t0
    log(out)
    status = (f"timed out after {dt:.0f} s" if timed_out else "ok" if proc.returncode == 0
              else f"failed (rc {proc.returncode})")
    return {"status": status, "rc": proc.returncode, "seconds": dt, "command": cmd, "load_average_start": load0,
            "load_average_end": _load(), "output_tail": out[-4000:]}


def junit_summary(path: Path) -> dict:
    """Passed / failed / skipped counts and skip or failure reasons from a JUnit XML file."""
    if not path.is_file():
        return {}
    root = ET.parse(path).getroot()
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    cases = []
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        kind, reason = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                kind = {"failure": "failed", "error": "errors", "skipped": "skipped"}[child.tag]
                reason = (child.get("message") or "")[:300]
        counts[kind] += 1
        cases.append({"test": name, "outcome": kind, "reason": reason, "seconds": float(case.get("time", 0))})
    return {**counts, "cases": cases}


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def _f(v, spec=".2f", missing="-"):
    if v is None or (isinstance(v, float) and v != v):
        return missing
    return format(v, spec)


def markdown(rep: dict) -> str:
    """The report as Markdown: one table per section."""
    env, ins, tests, tr, full = (rep[k] for k in SECTIONS)
    peak = env.get("card_peak_bf16_tflops") or {}
    mm = env.get("matmul_bf16") or {}
    lines = [f"# Device check ({rep['device_requested']}{', tiny' if rep['tiny'] else ''})", "",
             f"Started {rep['started']}; {rep['wall_s']:.0f} s in all (budget {rep['budget_s']:.0f} s); load average "
             f"{rep['load_average_start']} -> {rep['load_average_end']}; {env.get('machine_line', 'machine not calibrated')} "
             "(at the environment step).", "", "## environment", "",
             "| item | value |", "|---|---|"]
    for key, label in (("gpu_name", "GPU"), ("driver", "driver"), ("torch", "torch"), ("torch_cuda", "CUDA (torch)"),
                       ("cudnn", "cuDNN"), ("gpu_memory_gib", "GPU memory (GiB)"), ("python", "python"),
                       ("cpu_count", "CPUs")):
        v = env.get(key)
        lines.append(f"| {label} | {_f(v, '.1f') if isinstance(v, float) else (v if v is not None else '-')} |")
    lines.append(f"| bf16 dense peak used | {_f(peak.get('tflops'), '.0f', 'none')} TFLOP/s, "
                 f"{peak.get('source', '-')} |")
    lines.append(f"| bf16 matmul measured | " + (f"{mm['tflops']:.0f} TFLOP/s ({mm['n']}^3, {mm['what']})" if mm
                                                  else "not measured (CUDA only)") + " |")
    lines += ["", "## install", "", f"status: {ins.get('status')}; installed from wheels: "
              f"{', '.join(ins.get('installed') or []) or 'none'}; already present: "
              f"{', '.join(f'{k} {v}' for k, v in (ins.get('already_present') or {}).items()) or 'none'}; package: "
              f"{ins.get('package', '-')}.", ""]
    lines += ["## tests (pytest -m gpu)", "", f"status: {tests.get('status')}; {tests.get('passed', 0)} passed, "
              f"{tests.get('failed', 0)} failed, {tests.get('errors', 0)} errors, {tests.get('skipped', 0)} skipped "
              f"in {_f(tests.get('seconds'), '.0f')} s.", ""]
    reasons = sorted({c["reason"] for c in tests.get("cases", []) if c["outcome"] != "passed" and c["reason"]})
    lines += [f"- {r}" for r in reasons[:10]] + ([""] if reasons else [])
    lines += ["## training (bench_training.py)", "", f"status: {tr.get('status')}.", "",
              "| model | params | input | samples/s | MFLOP/sample | TFLOP/s | % of peak | peak GiB | load |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in tr.get("single", []):
        if "skipped" in r:
            lines.append(f"| {r['model']} | skipped: {r['skipped']} | | | | | | | |")
            continue
        pct = 100 * r["tflops"] / peak["tflops"] if peak.get("tflops") and r.get("tflops") else None
        lines.append(f"| {r['model']} | {r['params']:,} | {'x'.join(map(str, r['input_shape']))} | "
                     f"{r['samples_per_s']:,.0f} | {r['flops_per_sample'] / 1e6:.2f} | {_f(r.get('tflops'), '.3g')} | "
                     f"{_f(pct, '.1f')} | {_f(r.get('peak_gib'))} | {r['load_average'][-1][0] if r['load_average'] else '-'} |")
    lines += ["", "| model | M | group | loop s | batched s | loop samples/s | batched samples/s | speed-up | "
              "batched TFLOP/s | peak GiB (batched / loop) | load |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in tr.get("sweep", []):
        if "skipped" in r:
            lines.append(f"| {r['model']} | {r['n_models_requested']} | skipped: {r['skipped']} | | | | | | | | |")
            continue
        loads = r.get("batched_load_average") or [[None]]
        lines.append(f"| {r['model']} | {r['n_models']} | {r['group']} | "
                     f"{_f(r.get('loop_seconds')) if r.get('loop_seconds') else r.get('loop_skipped', '-')} | "
                     f"{_f(r.get('batched_seconds'))} | {_f(r.get('loop_samples_per_s'), ',.0f')} | "
                     f"{_f(r.get('batched_samples_per_s'), ',.0f')} | {_f(r.get('speedup'))} | "
                     f"{_f(r.get('batched_tflops'), '.3g')} | {_f(r.get('batched_peak_gib'))} / "
                     f"{_f(r.get('loop_peak_gib'))} | {loads[-1][0]} |")
    lines += ["", "## full sweep (bench_full_sweep.py)", "", f"status: {full.get('status')}.", ""]
    if full.get("samples_per_s"):
        pct = 100 * full["tflops"] / peak["tflops"] if peak.get("tflops") and full.get("tflops") else None
        lines += ["| subjects x folds | epochs | models | group | samples | sweep s | end to end s | samples/s | "
                  "TFLOP/s | % of peak | peak GiB | window acc % | load |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
                  f"| {full['subjects']} x {full['folds']} | {full['epochs']} | {full['n_models']} | {full['group']} | "
                  f"{full['samples'] / 1e6:.1f} M | {full['sweep_s']:.1f} | {full['end_to_end_s']:.1f} | "
                  f"{full['samples_per_s']:,.0f} | {_f(full.get('tflops'), '.3g')} | {_f(pct, '.1f')} | "
                  f"{_f(full.get('peak_gib'))} | {100 * full['window_accuracy_mean']:.1f} | "
                  f"{full['load_average_end'][0]} |"]
    elif full.get("progress"):
        p = full["progress"]
        lines.append(f"Not finished: {p['model_epochs']} of {p['model_epochs_total']} model-epochs "
                     f"({p['samples'] / 1e6:.2f} M samples) in {p['seconds']:.0f} s, {p['samples_per_s']:,.0f} "
                     f"samples/s measured over that part.")
    lines += ["", rep.get("flop_note", ""), ""]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cpu or auto")
    ap.add_argument("--tiny", action="store_true", help="small sizes everywhere: the CPU fallback")
    ap.add_argument("--out", default=os.environ.get("OUT") or str(HERE / "out"))
    ap.add_argument("--wheels", default=str(ROOT / ".whl"))
    ap.add_argument("--budget-s", type=float, default=450.0, help="the whole check's allowance (seconds)")
    ap.add_argument("--tests-s", type=float, default=100.0, help="at most this for the GPU tests")
    ap.add_argument("--training-s", type=float, default=150.0, help="at most this for bench_training.py")
    args = ap.parse_args(argv)
    t_start = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def left() -> float:
        return args.budget_s - RESERVE_S - (time.monotonic() - t_start)

    def log(text: str) -> None:
        if text:
            print(text.rstrip(), flush=True)

    rep = {"schema": SCHEMA, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "device_requested": args.device,
           "tiny": args.tiny, "budget_s": args.budget_s, "load_average_start": _load()}
    work = Path(tempfile.mkdtemp(prefix="device_check_"))
    log(f"== 1. install (wheels from {args.wheels})")
    rep["install"] = install(Path(args.wheels), work / "site", log)
    log(json.dumps({k: v for k, v in rep["install"].items() if k != "pythonpath"}))

    log("== 2. environment")
    import torch

    sys.path.insert(0, str(HERE))
    from _perf import FLOP_NOTE, environment, machine_line, matmul_ceiling

    from neuroaffect.training.config import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as err:
        log(f"{err}; falling back to the CPU")
        device = torch.device("cpu")
    env = environment(device)
    env["machine_line"] = machine_line(env["machine"])
    log(env["machine_line"])
    env["matmul_bf16"] = matmul_ceiling(device)
    env["torch_file"] = torch.__file__
    rep["environment"] = env
    rep["flop_note"] = FLOP_NOTE
    log(json.dumps(env, default=str))
    dev = str(device)

    log("== 3. tests marked gpu")
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                   if re.search(r"mark\.gpu\b", p.read_text(encoding="utf-8")))
    xml = work / "gpu_tests.xml"
    step = run_step([sys.executable, "-m", "pytest", "-m", "gpu", "-p", "no:cacheprovider", "-q", "-rs",
                     f"--junitxml={xml}", *files], min(args.tests_s, left()), log)
    rep["tests"] = {**step, "files": files, **junit_summary(xml)}
    if step["rc"] == 5:  # nothing collected: no test carries the marker
        rep["tests"]["status"] = "no test marked gpu was collected"

    log("== 4. training throughput (bench_training.py)")
    tj = work / "training.json"
    if args.tiny:
        targs = ["--tiny", "--models", "rbtransformer", "dgcnn", "rgnn", "topoteacher", "student",
                 "--sweep-models", "rbtransformer", "--sweep-sizes", "2", "4", "--folds", "2", "--trials",
                 "4", "--windows", "8", "--single-windows", "62", "--batch-size", "16", "--repeats", "1"]
    else:
        targs = ["--sweep-sizes", "10", "80", "320", "--repeats", "2"]
    limit = min(args.training_s, left())
    step = run_step([sys.executable, str(HERE / "bench_training.py"), "--device", dev, "--json", str(tj),
                     "--budget-s", f"{max(limit - 25, 1):.0f}", *targs], limit, log)
    rep["training"] = {**step, **(json.loads(tj.read_text()) if tj.is_file() else {})}

    log("== 5. full DEAP trial-holdout sweep (bench_full_sweep.py)")
    fj, fp = work / "full_sweep.json", work / "full_progress.json"
    fargs = ["--scale", "tiny"] if args.tiny else ["--scale", "full"]
    step = run_step([sys.executable, str(HERE / "bench_full_sweep.py"), "--device", dev, "--json", str(fj),
                     "--progress", str(fp), *fargs], left(), log)
    rep["full_sweep"] = {**step, **(json.loads(fj.read_text()) if fj.is_file() else {})}
    if fp.is_file():
        rep["full_sweep"]["progress"] = json.loads(fp.read_text())

    rep["load_average_end"] = _load()
    rep["wall_s"] = time.monotonic() - t_start
    for key in ("training", "full_sweep"):  # the environment is reported once, at the top
        rep[key].pop("env", None)
    from neuroaffect._utils import atomic_write_json, atomic_write_text

    atomic_write_json(out / "device_check.json", rep)
    md = markdown(rep)
    atomic_write_text(out / "device_check.md", md)
    log("\n" + md)
    log(f"written: {out / 'device_check.json'}, {out / 'device_check.md'}")
    shutil.rmtree(work, ignore_errors=True)  # intermediate files and the wheels' install folder
    not_ok = [k for k in ("tests", "training", "full_sweep") if rep[k].get("status") != "ok"]
    if not_ok:
        log("not ok: " + ", ".join(f"{k} ({rep[k].get('status')})" for k in not_ok))
    return 1 if not_ok or rep["install"]["status"] != "ok" else 0


if __name__ == "__main__":
    sys.exit(main())
