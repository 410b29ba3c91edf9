"""Fault suite: corrupted inputs and artifacts against every reader and loader, as one table.

Categories (each case runs in a forked worker under an address-space limit and a timeout,
``tests/reliability/harness.py``):

- ``reader:<format>``: corrupted variants of small valid copies of every dataset layout, a face
  image and a feature file (``tests/reliability/mutate.py``): each mutation once, then random draws;
- ``pickles``: the crafted-pickle corpus (``tests/reliability/pickle_corpus.py``) through
  ``safe_load``; a gadget that ran (its marker file exists) counts as an escape;
- ``configs``: wrong keys, types, ranges (every section), unknown loss options and negative weights,
  duplicate ablation sizes, commands in ``device``, contradictions, through the schema and
  :func:`neuroaffect_workflow.config.check_config` (the checks the workflow runs first); config files
  that are YAML alias bombs (under an unknown key, in ``distill.loss_options``, where a string is
  expected), nested too deep, too large, a FIFO or a device, through the bounded
  :func:`~neuroaffect_workflow.config.read_config_file`; and configs that switch stages off, which
  must read and say so (:func:`~neuroaffect_workflow.config.switched_off`);
- ``content``: artifacts whose checksums hold but whose content is invalid or whose roles are
  swapped (``tests/reliability/content.py``);
- ``inputs``: face images and other inputs that are bombs, odd bit depths, FIFOs and devices
  (``tests/reliability/inputs.py``);
- ``shell``: values that reach the workflow's shell commands (data and face roots, the scale note)
  holding a space, quotes and ``;touch MARKER;#``: one dry run (``snakemake -n -p``) of a config
  with all of them, then each planned command run by ``bash`` with a stand-in ``neuroaffect`` that
  records its arguments; a value must arrive as one argument, as written, and a marker file that
  appears counts as an injected command. A ``device`` holding a command must stop the dry run;
- ``tampered``: changed feature files, checkpoints, grid and student exports
  (``tests/reliability/tamper.py``); one that loads counts as a tampered artifact accepted.

Columns: cases tried, correct reads, clean rejections (the package's error naming the file or key),
escapes (any other exception, a crash), hangs, silently wrong reads, tampered artifacts accepted,
memory blow-ups (a MemoryError under the address-space limit) and injected commands. The last six
must be 0: the exit status is 1 otherwise. A category whose module is absent prints "not available"
(and does not fail the run).

Run::

    python benchmarks/fault_suite.py --quick          # under 2 minutes on 2 cores (part of make test-all)
    python benchmarks/fault_suite.py --per-reader 60  # more random variants per reader
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "workflow" / "lib"))  # the workflow's tooling (neuroaffect_workflow)

from reliability.harness import Case, run_case  # noqa: E402

COLUMNS = ("tried", "read", "rejected", "escape", "hang", "wrong", "tampered accepted", "memory", "injected",
           "seconds")
ZERO_COLUMNS = ("escape", "hang", "wrong", "tampered accepted", "memory", "injected")


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
    # a range for every section
    ("range simulate.seed", {"simulate.seed": 2**40}, str(2**40)),
    ("range simulate.snr", {"simulate.snr": 1e9}, "1000000000"),
    ("range features.windows", {"features.windows.deap.window": 10**9}, "1000000000"),
    ("range features.params.bands", {"features.params.bands": {"theta": [4, 1e9]}}, "1000000000"),
    ("range sweep folds", {"sweeps[0].folds": 10_000}, "10000"),
    ("range prototypes.model.width", {"prototypes.model.width": 100_000}, "100000"),
    ("range prototypes.model.embed_dim", {"prototypes.model.embed_dim": 10**6}, "1000000"),
    ("range prototypes.train.lr", {"prototypes.train.lr": 1e6}, "1000000"),
    ("range prototypes.train.epochs", {"prototypes.train.epochs": 10**6}, "1000000"),
    ("range prototypes.cv_folds", {"prototypes.cv_folds": 10_000}, "10000"),
    ("range prototypes.cv_folds one fold", {"prototypes.cv_folds": 1}, "cv_folds"),
    ("range prototypes.n_permutations", {"prototypes.n_permutations": 10**9}, "1000000000"),
    ("range prototypes.mc_samples", {"prototypes.mc_samples": 10**7}, "10000000"),
    ("range distill.train.batch_size", {"distill.train.batch_size": 10**9}, "1000000000"),
    ("range distill.train.grad_clip", {"distill.train.grad_clip": 1e12}, "1000000000000"),
    ("range distill.in_size", {"distill.in_size": 4096}, "4096"),
    ("range faces.seed", {"faces.seed": -1}, "-1"),
    ("duplicate prototypes.ablation_sizes", {"prototypes.ablation_sizes": [5, 5]}, "[5, 5]"),
    ("duplicate distill.seeds", {"distill.seeds": [0, 0]}, "[0, 0]"),
    ("unknown loss option", {"distill.loss_options": {"weigths": {"kd": 1}}}, "weigths"),
    ("unknown loss weight", {"distill.loss_options": {"weights": {"dgeo": 1}}}, "dgeo"),
    ("negative loss weight", {"distill.loss_options": {"weights": {"kd": -0.5}}}, "-0.5"),
    ("range loss geo_cap", {"distill.loss_options": {"geo_cap": 5}}, "5"),
    ("contradiction loss ramp", {"distill.loss_options": {"ramp": [0.6, 0.2]}}, "ramp"),
    ("device injection training", {"training.device": "cpu;touch INJECTED;#"}, "touch INJECTED"),
    ("device injection prototypes", {"prototypes.train.device": "cuda --help"}, "--help"),
    ("device injection distill", {"distill.train.device": "cpu --help;touch INJECTED;#"}, "touch INJECTED"),
    ("model name injection", {"sweeps[0].model": "dgcnn;id"}, "dgcnn;id"),
    ("empty root", {"data.deap.root": ""}, "root"),
)

#: (name, {dotted key: value or DELETE}, what switched_off must say): configs that read, and say which stages
#: they leave out.
DELETE = object()
STAGE_EDITS = (
    ("no dreamer (the grid's labelled dataset)", {"datasets": ["deap", "seed", "mahnob"], "data.dreamer": DELETE},
     "prototypes.dataset: 'dreamer' (the grid's labelled dataset) is not in datasets"),
    ("no ferplus", {"faces.data.ferplus": DELETE}, "no ferplus (the student's training set), so no face student"),
    ("no prototypes section", {"prototypes": DELETE}, "no prototypes: section, so no prototype grid"),
    ("no mahnob (the grid's support)", {"datasets": ["deap", "dreamer", "seed"], "data.mahnob": DELETE},
     "prototypes.support: 'mahnob' is not in datasets"),
    ("no distill section", {"distill": DELETE}, "no distill: section, so no face student"),
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
        if value is DELETE:
            del node[last]
        else:
            node[last] = value


def _bomb(indent: str, levels: int = 9, fan: int = 10) -> str:
    """YAML lines of nested aliases (``fan ** levels`` values once expanded, a few hundred bytes)."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * fan)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]" for i in range(1, levels + 1)]
    return "".join(f"{indent}{line}\n" for line in lines)


def config_file_cases(tmp: Path, text: str) -> list:
    """Config files (``text`` is the shipped config's) that must be refused by the bounded reader, naming the file."""
    files = {
        "alias bomb under an unknown key": text + "\nlaughs:\n" + _bomb("  "),
        "alias bomb in distill.loss_options": text.replace("\ndistill:\n", "\ndistill:\n  loss_options:\n"
                                                           + _bomb("    ") + "", 1),
        "alias bomb where a string is expected": "laughs:\n" + _bomb("  ") + text.replace(
            "scale: demo ", "scale: *a9 ", 1),
        "alias bomb as a JSON-style flow": "{laughs: " + "[" * 3 + "]" * 3 + ", " + ", ".join(
            f"a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else 'lol'] * 10)}]" for i in range(10)) + "}\n",
        "nested 100,000 levels": "datasets: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "nested mapping 500 levels": "".join("  " * i + f"k{i}:\n" for i in range(500)) + "  " * 500 + "v\n",
        "larger than 1 MiB": text + "\n# " + "x" * (1 << 20) + "\n",
        "not UTF-8": text.replace("deap", "d\udce9ap", 1),
        "a sequence at the top": "- deap\n- dreamer\n",
    }
    tmp.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, body in files.items():
        path = tmp / (name.replace(" ", "_").replace(",", "") + ".yaml")
        path.write_bytes(body.encode("utf-8", "surrogateescape"))
        cases.append((name, path))
    fifo = tmp / "fifo.yaml"
    os.mkfifo(fifo)  # nobody writes to it: a plain read blocks forever
    cases += [("a FIFO", fifo), ("a device (/dev/zero)", Path("/dev/zero")), ("a folder", tmp)]
    return cases


def config_cases(tmp: Path, stride: int = 1):
    """The configs category; ``stride`` > 1 keeps the first edit of each class (the name's first word) and every
    ``stride``-th other one."""
    import yaml
    from snakemake.utils import validate
    from snakemake_interface_common.exceptions import WorkflowError

    from neuroaffect_workflow.config import ConfigError, check_config, read_config_file, switched_off

    text = (ROOT / "config" / "config.yaml").read_text()
    base = yaml.safe_load(text)
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
    seen = set()
    for i, (name, edits, named) in enumerate(CONFIG_EDITS):
        kind = name.split()[0]
        if kind in seen and i % stride:
            continue
        seen.add(kind)
        cfg = copy.deepcopy(base)
        for key, value in edits.items():
            _edit(cfg, key, value)
        cases.append(Case(f"config/{name}", "configs", lambda c=cfg: load(c), "reject", (named,),
                          errors=(WorkflowError, ConfigError)))
    for name, edits, said in STAGE_EDITS:
        cfg = copy.deepcopy(base)
        for key, value in edits.items():
            _edit(cfg, key, value)
        cases.append(Case(f"config/stages off: {name}", "configs", lambda c=cfg: load(c), "read", ("config",),
                          lambda got, said=said: any(said in line for line in switched_off(got))))
    for name, path in config_file_cases(tmp, text):
        cases.append(Case(f"config file/{name}", "configs", lambda p=path: load(read_config_file(p)), "reject",
                          (str(path),), errors=(ConfigError,)))
    return cases


#: Where a hostile value goes in the shell category's config: (name, dotted key, dataset simulated as a real root
#: there, or None for a plain string).
SHELL_VALUES = (("deap root", "data.deap.root", "deap"), ("ferplus root", "faces.data.ferplus.root", "ferplus"),
                ("affectnet-mini root", "faces.data.affectnet-mini.root", "affectnet-mini"),
                ("ckplus root", "faces.data.ckplus.root", "ckplus"), ("scale note", "distill.scale_note", None))
#: The stand-in for the ``neuroaffect`` command: appends its arguments, NUL-separated, one line per call.
STUB = '#!/bin/sh\nfor a in "$0" "$@"; do printf "%s\\0" "$a"; done >> "$ARGV_FILE"\necho >> "$ARGV_FILE"\n'


def _hostile(tag: str) -> str:
    """A value that runs ``touch INJ_<tag>`` (three ways) wherever a shell command holds it unquoted."""
    return f"{tag} x;touch INJ_{tag};#'\"$(touch INJ_{tag})`touch INJ_{tag}`"


def _snakemake_dry(workdir: Path, configfile: Path):
    import subprocess

    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(workdir), "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-s", str(ROOT / "Snakefile"),
                           "--directory", str(workdir), "--cores", "1", "-n", "-p", "--configfile", str(configfile)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=600)


def shell_cases(tmp: Path, device: bool = True):
    """Cases of the ``shell`` category and a function saying whether a case's injected command ran.

    One dry run plans every command of a tiny config whose roots (simulated copies, so that they are read)
    and scale note hold :func:`_hostile` values; each case runs the planned commands that hold its value
    with ``bash`` and the :data:`STUB` ``neuroaffect``, and reads back the arguments the stub got. ``device``:
    also a dry run of a config whose ``device`` holds a command (the configs category refuses it in-process).
    """
    import subprocess

    import yaml

    from neuroaffect_workflow.config import ConfigError
    from neuroaffect.simulate import simulate

    run = tmp / "run"
    (run / "bin").mkdir(parents=True)
    stub = run / "bin" / "neuroaffect"
    stub.write_text(STUB)
    stub.chmod(0o755)
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    values = {}
    for name, key, dataset in SHELL_VALUES:
        tag = name.split()[0].replace("-", "_")
        value = _hostile(tag)
        if dataset is not None:
            value = str(simulate(dataset, scale="tiny", out=tmp / "roots" / value, seed=0))
        _edit(cfg, key, value)
        values[name] = (tag, value)
    (run / "cfg.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = _snakemake_dry(run, run / "cfg.yaml")
    commands = [line.split("Shell command:", 1)[1].strip() for line in res.stdout.splitlines()
                if line.startswith("Shell command:")]
    if res.returncode or not commands:
        raise RuntimeError(f"the shell category's dry run failed:\n{res.stdout[-3000:]}")
    for c in commands:  # the folders of the logs the commands write
        log = re.search(r"> (\S+) 2>&1$", c)
        if log:
            (run / log.group(1)).parent.mkdir(parents=True, exist_ok=True)

    def run_commands(name, tag, value):
        mine = [c for c in commands if f"INJ_{tag}" in c]
        if not mine:
            raise RuntimeError(f"{name}: no planned command holds the value")
        argv_file = run / f"argv_{tag}"
        env = {"PATH": f"{run / 'bin'}:/usr/bin:/bin", "ARGV_FILE": str(argv_file), "HOME": str(run)}
        for c in mine:
            subprocess.run(["bash", "-c", c], cwd=run, env=env, timeout=60, capture_output=True)
        calls = [line.split("\0") for line in argv_file.read_text().split("\0\n") if line]
        return len(mine), calls

    def check(result, value):
        n, calls = result
        return len(calls) == n and all(value in args for args in calls)  # one argument each, as written

    cases = [Case(f"shell/{name}", "shell", lambda a=(name, tag, value): run_commands(*a), "read", (name,),
                  lambda r, v=value: check(r, v)) for name, (tag, value) in values.items()]

    def refused_device():
        bad = dict(cfg, distill={**cfg["distill"], "train": {**cfg["distill"]["train"],
                                                              "device": "cpu --help;touch INJ_device;#"}})
        f = run / "device.yaml"
        f.write_text(yaml.safe_dump(bad, sort_keys=False))
        out = _snakemake_dry(run, f)
        if out.returncode and "does not match" in out.stdout:
            raise ConfigError("snakemake -n refused the config: " + next(
                line for line in out.stdout.splitlines() if "does not match" in line))
        return out.returncode

    if device:
        cases.append(Case("shell/device holding a command", "shell", refused_device, "reject",
                          ("touch INJ_device",), errors=(ConfigError,)))

    def injected(case) -> bool:
        tag = {f"shell/{n}": t for n, (t, _) in values.items()}.get(case.name, "device")
        return any(tmp.rglob(f"INJ_{tag}"))

    return cases, injected


def module_cases(module: str, category: str, tmp: Path):
    """``tests/reliability/<module>.py``'s ``cases(tmp)`` as :class:`Case` objects; None when it is absent."""
    try:
        mod = importlib.import_module(f"reliability.{module}")
    except ImportError:
        return None
    try:
        import torch

        # One intra-op thread: a forked worker of a process whose OpenMP pool has run can hang in its first
        # parallel region; tiny models lose nothing.
        torch.set_num_threads(1)
    except ImportError:
        pass
    return [Case(f"{category}/{name}", category, load, expect, (str(tmp),), getattr(load, "check", None))
            for name, load, expect in mod.cases(tmp)]  # a read case's own check of the values read, when it has one


def tamper_cases(tmp: Path):
    return module_cases("tamper", "tampered", tmp)


# --------------------------------------------------------------------------------------------
# running and printing
# --------------------------------------------------------------------------------------------
def run_category(cases, timeout_s: float, mem_bytes: int, failures: list, injected=None) -> Counter:
    """Run ``cases``; count their outcomes. ``injected(case) -> bool``: whether the case ran an injected command
    (then counted as "injected", whatever the read returned)."""
    counts = Counter()
    for case in cases:
        r = run_case(case, timeout_s, mem_bytes)
        counts["tried"] += 1
        outcome, detail = r.outcome, r.detail
        if outcome == "wrong" and case.category == "tampered":
            outcome = "tampered accepted"
        elif outcome == "escape" and detail.startswith("MemoryError"):
            outcome = "memory"
        if injected is not None and injected(case):
            outcome, detail = "injected", f"an injected command ran ({r.outcome}: {detail})"
        counts[outcome] += 1
        if outcome in ZERO_COLUMNS:
            failures.append(f"{outcome:18s} {case.name} [{case.expect}]: {detail}")
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
                    help="each mutation once and 2 random variants per reader, every 3rd crafted pickle and config "
                    "edit (one of each class at least), no dry run of a device holding a command")
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
        rows["configs"] = run_category(config_cases(tmp / "configs", stride), args.timeout, mem, failures)
        rows["configs"]["seconds"], t = round(time.perf_counter() - t), time.perf_counter()
        cases, injected = shell_cases(tmp / "shell", device=not args.quick)
        rows["shell"] = run_category(cases, args.timeout * 3, mem, failures, injected)
        rows["shell"]["seconds"], t = round(time.perf_counter() - t), time.perf_counter()
        for module, category in (("content", "content"), ("inputs", "inputs")):
            cases = module_cases(module, category, tmp / category)
            rows[category] = None if cases is None else run_category(cases, args.timeout, mem, failures)
            if cases is not None:
                rows[category]["seconds"], t = round(time.perf_counter() - t), time.perf_counter()
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
