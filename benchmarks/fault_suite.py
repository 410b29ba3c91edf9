"""Fault suite: corrupted inputs and artifacts against every reader and loader, as one table.

Categories (each case runs in a forked worker under an address-space limit and a timeout,
``tests/reliability/harness.py``):

- ``reader:<format>``: corrupted variants of small valid copies of every dataset layout, a face
  image and a feature file (``tests/reliability/mutate.py``): each mutation once, then random draws;
- ``pickles``: the crafted-pickle corpus (``tests/reliability/pickle_corpus.py``) through
  ``safe_load``; a gadget that ran (its marker file exists) counts as an escape;
- ``configs``: wrong keys, types, ranges and contradictions in the workflow config, through the
  schema and :func:`neuroaffect.pipeline.config.check_config` (the checks the workflow runs first);
- ``tampered``: changed feature files, checkpoints, grid and student exports
  (``tests/reliability/tamper.py``); one that loads counts as a tampered artifact accepted.

Columns: cases tried, correct reads, clean rejections (the package's error naming the file or key),
escapes (any other exception, a crash, a MemoryError under the limit), hangs, silently wrong reads
and tampered artifacts accepted. The last four must be 0: the exit status is 1 otherwise. A category
whose module is absent prints "not available" (and does not fail the run).

Run::

    python benchmarks/fault_suite.py --quick          # under 2 minutes on 2 cores (part of make test)
    python benchmarks/fault_suite.py --per-reader 60  # more random variants per reader
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from reliability.harness import MUST_BE_ZERO, Case, run_case  # noqa: E402

COLUMNS = ("tried", "read", "rejected", "escape", "hang", "wrong", "tampered accepted", "seconds")
ZERO_COLUMNS = ("escape", "hang", "wrong", "tampered accepted")


# --------------------------------------------------------------------------------------------
# categories
# --------------------------------------------------------------------------------------------
def reader_cases(tmp: Path, per_reader: int, seed: int):
    """Yield (category, cases) per reader: its intact read, each mutation once, ``per_reader`` drawn ones."""
    from reliability import mutate

    for name, target in mutate.targets().items():
        prep = mutate.prepare(target, tmp / name)
        yield f"reader:{name}", mutate.random_cases(prep, per_reader, seed, tmp / name / "variants")


def pickle_cases(tmp: Path, stride: int):
    """The crafted-pickle corpus through ``safe_load``; every ``stride``-th refusal case and every read case."""
    try:
        corpus = importlib.import_module("reliability.pickle_corpus")
    except ImportError:
        return None, None
    import numpy as np

    from neuroaffect.io._pickle import safe_load

    listing = corpus.cases(tmp)
    cases = []
    for i, (name, path, expect) in enumerate(listing):
        if expect == "reject" and i % stride:
            continue
        path = Path(path)

        def check(result, want=f"{path}.npz"):
            if not isinstance(result, dict):
                return False
            got = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in result.items()}
            with np.load(want) as ref:
                return set(got) == set(ref.files) and all(
                    np.asarray(got[k]).shape == ref[k].shape and np.array_equal(np.asarray(got[k]), ref[k])
                    for k in ref.files)

        cases.append(Case(f"pickle/{name}", "pickles", lambda p=path: safe_load(p), expect, (str(path),),
                          check if expect == "read" else None))
    return cases, corpus.marker_dir(tmp)


#: (name, {dotted key: value}, what the refusal must name). Sweeps are edited through "sweeps[i].key".
CONFIG_EDITS = (
    ("typo training.epoch", {"training.epoch": 3}, "epoch"),
    ("typo top-level trainig", {"trainig": {"sweeps": []}}, "trainig"),
    ("typo features.params.topo_sise", {"features.params.topo_sise": 32}, "topo_sise"),
    ("typo prototypes.grid_sise", {"prototypes.grid_sise": 5}, "grid_sise"),
    ("range features.params.topo_size", {"features.params.topo_size": 2048}, "2048"),
    ("range training.lr", {"training.lr": 1e6}, "1000000"),
    ("range training.epochs", {"training.epochs": 0}, "epochs"),
    ("type training.epochs", {"training.epochs": "3"}, "'3'"),
    ("range training.batch_size", {"training.batch_size": -4}, "-4"),
    ("unknown dataset", {"datasets": ["deapp"]}, "deapp"),
    ("contradiction seed-9-6 on DEAP", {"sweeps[0].dataset": "deap", "sweeps[0].protocol": "seed-9-6"},
     "seed-9-6"),
    ("unknown model", {"sweeps[0].model": "nosuchnet"}, "nosuchnet"),
    ("duplicate sweep", {"sweeps+": 0}, "same sweep"),
)


def _edit(cfg: dict, key: str, value) -> None:
    sweeps = cfg["training"]["sweeps"]
    if key == "sweeps+":
        sweeps.append(copy.deepcopy(sweeps[value]))
    elif key.startswith("sweeps["):
        i, field = int(key[7:key.index("]")]), key.split(".", 1)[1]
        sweeps[i][field] = value
    else:
        *path, last = key.split(".")
        node = cfg
        for k in path:
            node = node.setdefault(k, {})
        node[last] = value


def config_cases():
    import yaml
    from snakemake.utils import validate
    from snakemake_interface_common.exceptions import WorkflowError

    from neuroaffect.pipeline.config import ConfigError, check_config

    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    schema = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")

    def load(cfg):
        cfg = copy.deepcopy(cfg)
        cwd = os.getcwd()
        os.chdir(ROOT)
        try:
            validate(cfg, schema)
            check_config(cfg)
        finally:
            os.chdir(cwd)
        return cfg

    load(base)  # imports what the checks need (the model registry: torch) here, not in each worker
    cases = [Case("config/intact", "configs", lambda: load(base), "read", ("config",))]
    for name, edits, named in CONFIG_EDITS:
        cfg = copy.deepcopy(base)
        for key, value in edits.items():
            _edit(cfg, key, value)
        cases.append(Case(f"config/{name}", "configs", lambda c=cfg: load(c), "reject", (named,),
                          errors=(WorkflowError, ConfigError)))
    return cases


def tamper_cases(tmp: Path):
    try:
        tamper = importlib.import_module("reliability.tamper")
    except ImportError:
        return None
    import torch

    # One intra-op thread: a forked worker of a process whose OpenMP pool has run can hang in its first
    # parallel region; tiny models lose nothing.
    torch.set_num_threads(1)
    return [Case(f"tampered/{name}", "tampered", load, expect, (str(tmp),)) for name, load, expect in tamper.cases(tmp)]


# --------------------------------------------------------------------------------------------
# running and printing
# --------------------------------------------------------------------------------------------
def run_category(cases, timeout_s: float, mem_bytes: int, failures: list) -> Counter:
    counts = Counter()
    for case in cases:
        r = run_case(case, timeout_s, mem_bytes)
        counts["tried"] += 1
        outcome = r.outcome
        if outcome == "wrong" and case.category == "tampered":
            outcome = "tampered accepted"
        counts[outcome] += 1
        if r.outcome in MUST_BE_ZERO:
            failures.append(f"{outcome:18s} {case.name} [{case.expect}]: {r.detail}")
    return counts


def format_table(rows: dict) -> str:
    width = max(len("category"), *(len(k) for k in rows)) + 2
    head = "category".ljust(width) + "".join(f"{c:>{len(c) + 2}s}" for c in COLUMNS)
    lines = [head, "-" * len(head)]
    total = Counter()
    for name, counts in rows.items():
        if counts is None:
            lines.append(name.ljust(width) + "  not available")
            continue
        total.update(counts)
        lines.append(name.ljust(width) + "".join(f"{counts.get(c, 0):>{len(c) + 2}d}" for c in COLUMNS))
    lines.append("-" * len(head))
    lines.append("total".ljust(width) + "".join(f"{total.get(c, 0):>{len(c) + 2}d}" for c in COLUMNS))
    return "\n".join(lines)


def exit_status(rows: dict) -> int:
    """0 when every must-be-zero column is 0 in every category that ran, else 1."""
    return int(any(c is not None and any(c.get(k, 0) for k in ZERO_COLUMNS) for c in rows.values()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="each mutation once and 2 random variants per reader, every 3rd crafted pickle")
    ap.add_argument("--per-reader", type=int, default=None, help="random variants per reader beyond one of each "
                    "mutation (default 2 with --quick, else 30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--mem-gib", type=float, default=2.0, help="address space per case beyond the parent's")
    ap.add_argument("--json", type=Path, default=None, help="write the counts and failures here")
    args = ap.parse_args(argv)
    per_reader = args.per_reader if args.per_reader is not None else (2 if args.quick else 30)
    stride = 3 if args.quick else 1
    mem = int(args.mem_gib * (1 << 30))
    t0 = time.perf_counter()
    rows, failures = {}, []
    with tempfile.TemporaryDirectory(prefix="fault_suite_") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        for cat, cases in reader_cases(tmp / "readers", per_reader, args.seed):
            rows[cat] = run_category(cases, args.timeout, mem, failures)
            rows[cat]["seconds"], t = round(time.perf_counter() - t), time.perf_counter()
        cases, markers = pickle_cases(tmp / "pickles", stride)
        if cases is None:
            rows["pickles"] = None
        else:
            rows["pickles"] = run_category(cases, args.timeout, mem, failures)
            ran = sorted(p.name for p in markers.iterdir()) if markers.is_dir() else []
            if ran:
                rows["pickles"]["escape"] += len(ran)
                failures += [f"{'escape':18s} pickle gadget ran: {name}" for name in ran]
            rows["pickles"]["seconds"] = round(time.perf_counter() - t)
        t = time.perf_counter()
        rows["configs"] = run_category(config_cases(), args.timeout, mem, failures)
        rows["configs"]["seconds"], t = round(time.perf_counter() - t), time.perf_counter()
        cases = tamper_cases(tmp / "tampered")  # last: it imports torch, which makes every fork slower
        rows["tampered"] = None if cases is None else run_category(cases, args.timeout, mem, failures)
        if cases is not None:
            rows["tampered"]["seconds"] = round(time.perf_counter() - t)
    elapsed = time.perf_counter() - t0
    print(format_table(rows))
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs); "
          f"{elapsed:.1f} s{' (--quick)' if args.quick else ''}")
    if failures:
        print("\nmust be 0:")
        print("\n".join(f"  {f[:600]}" for f in failures))
    if args.json:
        args.json.write_text(json.dumps({"rows": {k: (dict(v) if v is not None else None) for k, v in rows.items()},
                                         "failures": failures, "seconds": elapsed}, indent=2) + "\n")
    return exit_status(rows)


if __name__ == "__main__":
    sys.exit(main())
