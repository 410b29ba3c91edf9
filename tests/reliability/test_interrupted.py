"""Interrupted work: a training run killed with SIGKILL in the middle of an epoch, resumed in a fresh
process, ends as an uninterrupted run does (CPU), and its result says that it resumed; a workflow
killed in the middle of a rule completes after ``snakemake --unlock`` with the same output."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neuroaffect._utils import code_version

HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "MPLBACKEND": "Agg"}


def _child(task, mode, work, out=None):
    return subprocess.run([sys.executable, str(HERE / "interrupted_run.py"), task, mode, str(work), str(out or "-")],
                          capture_output=True, text=True, env=ENV, timeout=600)


TASKS = ("sweep", "teacher", "student")
RESUMED = {  # where each task's result records the resumption
    "sweep": lambda s: s.pop("resumed_from"),
    "teacher": lambda s: [s["summary"].pop("teacher_resumed_from_epoch"),
                          s["summary"].pop("control_resumed_from_epoch")],
    "student": lambda s: s["record"].pop("resumed_from_epoch"),
}
FRESH = {"sweep": [None] * 4, "teacher": [None, None], "student": None}
#: after a kill in epoch 2: every model of the sweep's group, the teacher (not its control, trained
#: after it) and the student resume after epoch 1
AFTER_KILL = {"sweep": [1] * 4, "teacher": [1, None], "student": 1}


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    """A batched sweep, the prototype teacher and the face student, each killed in epoch 2."""
    full = _child(",".join(TASKS), "run", tmp_path / "full", tmp_path / "full.json")
    assert full.returncode == 0, full.stderr
    for task in TASKS:
        killed = _child(task, "kill", tmp_path / "run")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = _child(",".join(TASKS), "run", tmp_path / "run", tmp_path / "resumed.json")
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "full.json").read_text())
    b = json.loads((tmp_path / "resumed.json").read_text())
    for task in TASKS:
        assert RESUMED[task](a[task]) == FRESH[task], task
        assert RESUMED[task](b[task]) == AFTER_KILL[task], task  # the result says it resumed, and after which epoch
        assert a[task] == b[task], task  # metrics, histories, predictions, every checkpointed tensor and number
    left = [str(p) for p in (tmp_path / "run").rglob("*.tmp")]
    assert not left, left


# --- the workflow, killed in the middle of a rule ---------------------------------------------

ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent


def _snakemake(workdir, *args, popen=False, snakefile=ROOT / "Snakefile"):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(workdir), "MPLBACKEND": "Agg"}
    cmd = [str(BIN / "snakemake"), "-s", str(snakefile), "--directory", str(workdir), "--cores", "1",
           *args]
    if popen:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
def test_workflow_killed_mid_rule_completes_after_unlock_with_the_same_output(tmp_path):
    import yaml

    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg["datasets"] = ["deap"]
    cfg["simulate"]["scale"] = "tiny"
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    target = "results/features/deap/1.nc"
    out, log = tmp_path / target, tmp_path / "logs/features/deap/1.log"
    res = _snakemake(tmp_path, "--until", "simulate")  # the simulated data, so that the next job is the rule
    assert res.returncode == 0, res.stdout + res.stderr

    proc = _snakemake(tmp_path, target, popen=True)
    t0 = time.monotonic()
    while not log.exists() and proc.poll() is None and time.monotonic() - t0 < 300:
        time.sleep(0.02)
    assert proc.poll() is None, "the rule ended before it could be killed"
    time.sleep(0.5)  # inside the rule's command (importing the package, reading, extracting)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not out.exists()  # killed mid-rule: atomic writes leave no output

    version = code_version()
    res = _snakemake(tmp_path, target)
    assert res.returncode != 0 and "--unlock" in res.stdout + res.stderr  # what the README tells to do
    res = _snakemake(tmp_path, "--unlock")
    assert res.returncode == 0, res.stdout + res.stderr
    res = _snakemake(tmp_path, target, "--rerun-incomplete")
    assert res.returncode == 0, res.stdout + res.stderr
    first = out.read_bytes()
    assert not list(out.parent.glob(".*.tmp"))

    out.unlink()  # an uninterrupted run of the same rule, in a fresh process, writes the same bytes
    res = _snakemake(tmp_path, target)
    assert res.returncode == 0, res.stdout + res.stderr
    assert_same_file(first, out, version)


def assert_same_file(first: bytes, path: Path, version: str) -> None:
    """``path`` holds ``first``, byte for byte; if the checkout changed meanwhile (others commit while
    tests run), the same features with another ``code_version``."""
    if code_version() == version:
        assert path.read_bytes() == first
        return
    import xarray as xr

    from neuroaffect.features import read_features

    other = path.with_name("first.nc")
    other.write_bytes(first)
    a, b = read_features(other), read_features(path)
    assert a.attrs.pop("code_version") != b.attrs.pop("code_version")
    xr.testing.assert_identical(a, b)


def _checkout(dest):
    """A copy of the workflow and the package it imports."""
    import shutil

    dest.mkdir()
    for item in ("Snakefile", "workflow", "profiles", "neuroaffect"):
        if (ROOT / item).is_dir():
            shutil.copytree(ROOT / item, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / item, dest / item)
    return dest


@pytest.mark.slow
def test_workflow_killed_in_train_teacher_resumes_the_teacher(tmp_path):
    """The teacher's checkpoint is no declared output (Snakemake would remove it before the rerun): after a
    kill in the middle of train_teacher, the rerun resumes it, and teacher.json says after which epoch."""
    import yaml

    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    cfg["datasets"], cfg["data"] = ["deap"], {"deap": {"root": None}}
    cfg["features"]["windows"] = {"deap": cfg["features"]["windows"]["deap"]}
    for key in ("training", "faces", "distill"):
        del cfg[key]
    cfg["prototypes"].update(dataset="deap", support=None, second_source=None, cv_folds=0,
                             train={"epochs": 40, "batch_size": 8, "lr": 0.002, "weight_decay": 0.01, "device": "cpu"})
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    # the workflow of a copy of the checkout: its code hashes stay put while others edit the package (a changed
    # hash would rerun the features, and a teacher trained on other features is rightly not resumed)
    snakefile = _checkout(tmp_path / "checkout") / "Snakefile"
    res = _snakemake(tmp_path, "--until", "extract_features", snakefile=snakefile)
    assert res.returncode == 0, res.stdout + res.stderr

    summary, checkpoint = tmp_path / "results/prototypes/teacher/teacher.json", \
        tmp_path / "results/prototypes/teacher/teacher.pt"
    proc = _snakemake(tmp_path, str(summary.relative_to(tmp_path)), popen=True, snakefile=snakefile)
    t0 = time.monotonic()
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() - t0 < 300:
        time.sleep(0.02)
    assert proc.poll() is None, "the teacher ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not summary.exists() and checkpoint.exists()

    res = _snakemake(tmp_path, "--unlock", snakefile=snakefile)
    assert res.returncode == 0, res.stdout + res.stderr
    res = _snakemake(tmp_path, str(summary.relative_to(tmp_path)), "--rerun-incomplete", snakefile=snakefile)
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.findall(r"^(?:local)?rule (\w+):$", res.stdout + res.stderr, re.M) == ["train_teacher"]
    done = json.loads(summary.read_text())
    assert isinstance(done["teacher_resumed_from_epoch"], int) and 1 <= done["teacher_resumed_from_epoch"] <= 40
    from neuroaffect.training import load_checkpoint

    state = load_checkpoint(checkpoint)
    assert state["finished"] and int(state["epoch"]) == 40
