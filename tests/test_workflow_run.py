"""The whole workflow at tiny scale, run end to end once; then what a change of config or code reruns.

The run (tests/configs/tiny.yaml: 2 subjects, 1 epoch, tiny faces, one seed) happens in a temporary folder,
never in the repository, whose name holds a space and ``;touch INJECTED;#``; DEAP and FERPlus are read from
real roots under it (simulated copies). A value that reached a shell command unquoted would split there or
run the injected command. After it, each freshness case is a dry run with one change: the rules whose own
params changed must be exactly those the change concerns (their consumers then rerun because their
inputs changed, which is Snakemake's part).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TINY = ROOT / "tests/configs/tiny.yaml"
HOSTILE = "tiny run;touch INJECTED;#"

pytestmark = pytest.mark.slow


def _checkout(dest, src=ROOT):
    """A copy of the workflow and the package it imports (the run never depends on later edits of the
    repository, and a test can edit the copy's code)."""
    dest.mkdir()
    for item in ("Snakefile", "workflow", "profiles", "neuroaffect"):
        if (src / item).is_dir():
            shutil.copytree(src / item, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src / item, dest / item)
    return dest


def _snakemake(workdir, *args, snakefile):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(workdir), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(BIN / "snakemake"), "-s", str(snakefile), "--directory", str(workdir),
                           "--cores", "2", *args], capture_output=True, text=True, env=env, timeout=1200)


def _rules_run(res):
    """Rule names of the jobs a (dry) run lists."""
    return re.findall(r"^(?:local)?rule (\w+):$", res.stdout + res.stderr, re.M)


def _params_changed(res):
    """Rules of the jobs a dry run schedules because their own params changed."""
    out = res.stdout + res.stderr
    blocks = re.split(r"^(?=(?:local)?rule \w+:$)", out, flags=re.M)
    return {re.match(r"(?:local)?rule (\w+):", b).group(1) for b in blocks
            if re.match(r"(?:local)?rule \w+:", b) and "Params have changed since last execution" in b}


def _edit(wd, **changes):
    """Write wd/config/config.yaml = tiny.yaml with the run's real roots (``roots.json`` beside ``wd``, if any)
    and ``changes`` (dotted keys; [i] for list items)."""
    cfg = yaml.safe_load(TINY.read_text())
    roots = wd.parent / "roots.json"
    changes = {**(json.loads(roots.read_text()) if roots.exists() else {}), **changes}
    for key, value in changes.items():
        node, parts = cfg, re.findall(r"[^.\[\]]+", key)
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[parts[-1]] = value
    (wd / "config").mkdir(exist_ok=True)
    (wd / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A complete run of tests/configs/tiny.yaml in a temporary folder named with a space and a ``;`` (about 1-2
    minutes on 2 cores), with the Snakefile of a copy of the checkout, DEAP and FERPlus read from real roots
    under that folder; returns (run folder, Snakefile, the run's output)."""
    from neuroaffect.simulate import simulate

    base = tmp_path_factory.mktemp("tiny_workflow") / HOSTILE
    base.mkdir()
    snakefile = _checkout(base / "checkout") / "Snakefile"
    roots = {"data.deap": {"root": str(simulate("deap", scale="tiny", out=base / "deap data", seed=0))},
             "faces.data.ferplus": {"root": str(simulate("ferplus", scale="tiny", out=base / "fer plus", seed=0))}}
    (base / "roots.json").write_text(json.dumps(roots))
    wd = base / "run"
    wd.mkdir()
    _edit(wd)
    res = _snakemake(wd, snakefile=snakefile)
    assert res.returncode == 0, res.stderr[-5000:] + res.stdout[-5000:]
    return wd, snakefile, res


def test_no_injected_command_ran(tiny_run):
    wd, _, _ = tiny_run
    assert not list(wd.parent.rglob("INJECTED")) and not list(Path("/tmp").glob("INJECTED"))
    assert not (ROOT / "INJECTED").exists()


def test_tiny_run_executes_every_stage(tiny_run):
    wd, snakefile, res = tiny_run
    defined = {m for smk in (ROOT / "workflow/rules").glob("*.smk")
               for m in re.findall(r"^rule (\w+):", smk.read_text(), re.M)}
    only_on_bad_roots = {"check_data_root", "check_face_root"}
    assert defined - only_on_bad_roots - set(_rules_run(res)) == set()  # a rule added later must run here too
    for f in ["reports/summary/deap.md", "results/features/deap/1.nc", "reports/features/deap_label_contrast.png",
              "results/sweeps/deap/valence_binary_dgcnn_trial-holdout.json", "reports/results.md",
              "results/prototypes/teacher/teacher.pt", "results/prototypes/cv_deap/teacher.json",
              "results/prototypes/grid/grid.safetensors", "results/prototypes/grid/card.json",
              "reports/prototypes/summary.md", "results/students/B0_seed0/record.json",
              "results/students/B3-shuffled_seed0/record.json", "reports/distill/ablation.md",
              "results/student/model.safetensors", "results/student/config.json", "results/student/model.onnx",
              "reports/README.md"]:
        assert (wd / f).is_file() and (wd / f).stat().st_size > 0, f
    # the exported grid and student load back with their own loaders, and the student knows its grid
    import torch

    from neuroaffect.distill import load_student
    from neuroaffect.prototypes import load_grid

    grid = load_grid(wd / "results/prototypes/grid")
    assert grid.prototypes.shape == (3, 3, 8)  # grid_size 3, teacher embedding 8 (tiny.yaml)
    student = load_student(wd / "results/student")
    with torch.no_grad():
        out = student.forward_outputs(torch.zeros(1, 3, 32, 32))
    assert out["logits"].shape == (1, 8) and out["embedding"].shape == (1, grid.dim)
    config = json.loads((wd / "results/student/config.json").read_text())
    assert config["grid_sha256"] == grid.sha256
    # a status line per step in the logs: each subject simulated, each epoch of the sweep and of each arm
    assert "[simulate dreamer] subject 2/2" in (wd / "logs/simulate/dreamer.log").read_text()
    assert not (wd / "logs/simulate/deap.log").exists()  # DEAP and FERPlus came from their real roots
    assert "epoch 1/1" in (wd / "logs/sweeps/deap/valence_binary_dgcnn_trial-holdout.log").read_text()
    assert "[B3 seed 0] epoch 1/1" in (wd / "logs/students/B3_seed0.log").read_text()
    # a second invocation finds nothing to do
    res = _snakemake(wd, "-n", snakefile=snakefile)
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr, res.stdout + res.stderr


def test_report_is_written_from_the_run(tiny_run):
    wd, snakefile, _ = tiny_run
    res = _snakemake(wd, "--report", "reports/report.html", snakefile=snakefile)
    assert res.returncode == 0, res.stderr[-5000:]
    html = (wd / "reports/report.html").read_text(errors="replace")
    assert html.lstrip().lower().startswith("<!doctype html") or "<html" in html[:2000].lower()
    for category in ("Data", "Features", "Prototype grid", "Face student"):
        assert category in html, category


@pytest.mark.parametrize("changes, expected", [
    ({"training.sweeps[0].epochs": 2}, {"run_sweep"}),                              # a sweep's training
    ({"prototypes.n_permutations": 20}, {"export_prototypes"}),                     # the grid, not its teacher
    ({"prototypes.model.width": 3}, {"train_teacher", "cross_validate_teacher"}),  # (the export follows them)
    ({"distill.train.grad_clip": 0.5}, {"train_student"}),                          # every arm of the student
], ids=["training", "grid", "teacher", "student"])
def test_a_changed_parameter_reruns_exactly_its_rules(tiny_run, changes, expected):
    wd, snakefile, _ = tiny_run
    _edit(wd, **changes)
    try:
        res = _snakemake(wd, "-n", snakefile=snakefile)
    finally:
        _edit(wd)
    assert res.returncode == 0, res.stderr[-5000:]
    assert _params_changed(res) == expected


def test_a_code_change_reruns_the_rules_that_run_it(tiny_run, tmp_path):
    """A copy of the workflow whose package differs in one function of the student's losses, and in a
    docstring and a comment of the band-DE module: the student's rules rerun, no EEG rule does."""
    wd, snakefile, _ = tiny_run
    copy = _checkout(tmp_path / "checkout", src=snakefile.parent)
    losses = copy / "neuroaffect/distill/losses.py"
    losses.write_text(losses.read_text() + "\n\ndef _unused(x):\n    return x\n")
    bde = copy / "neuroaffect/features/bde.py"
    text = bde.read_text()
    bde.write_text(text.replace('"""', '"""Reworded. ', 1) + "\n# a comment\n")
    res = _snakemake(wd, "-n", snakefile=copy / "Snakefile")
    assert res.returncode == 0, res.stderr[-5000:]
    changed = _params_changed(res)
    assert "train_student" in changed  # (evaluate_students and export_student follow it)
    eeg = {"simulate", "summarize", "extract_features", "plot_feature_maps", "run_sweep", "plot_sweep",
           "tabulate_results", "train_teacher", "cross_validate_teacher", "export_prototypes", "simulate_faces"}
    assert not changed & eeg, changed & eeg


def test_changed_epochs_retrain_instead_of_failing(tiny_run):
    """After a run, a changed config retrains (the old checkpoint is discarded with a notice). Keep this test
    last in the module: it leaves the run trained with other settings than tiny.yaml's."""
    wd, snakefile, _ = tiny_run
    target = "results/sweeps/deap/valence_binary_dgcnn_trial-holdout.json"
    _edit(wd, **{"training.sweeps[0].epochs": 2})
    res = _snakemake(wd, target, snakefile=snakefile)
    assert res.returncode == 0, res.stderr[-5000:]
    assert _rules_run(res) == ["run_sweep"]  # nothing upstream reruns
    out = json.loads((wd / target).read_text())
    assert out["metadata"]["train_config"]["epochs"] == 2 and len(out["histories"][0]["train_loss"]) == 2
    log = (wd / "logs/sweeps/deap/valence_binary_dgcnn_trial-holdout.log").read_text()
    assert "discarding it and training from scratch" in log
