"""The shipped configurations plan what they say: config/full.yaml (every dataset simulated at its real size,
the papers' settings) and config/real.yaml (licensed copies), the latter against a stub tree in the real
on-disk layouts and as shipped, with its placeholder roots missing."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "workflow" / "lib") not in sys.path:
    sys.path.insert(0, str(ROOT / "workflow" / "lib"))  # the workflow's tooling (neuroaffect_workflow)
BIN = Path(sys.executable).parent
EEG = ("deap", "dreamer", "seed", "mahnob")
FACES = ("ferplus", "affectnet-mini", "ckplus")


def _snakemake(workdir, *args):
    """Run snakemake; stdout holds both streams in the order written (stderr is empty)."""
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(workdir), "MPLBACKEND": "Agg"}
    return subprocess.run([str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
                           "--cores", "2", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, timeout=900)


def _jobs(out):
    table = out.split("Job stats:")[-1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def _write(tmp_path, cfg, name="test.yaml"):
    f = tmp_path / name
    f.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return f


@pytest.fixture(scope="module")
def face_roots(tmp_path_factory):
    """Tiny simulated copies of the face datasets in their real layouts: {dataset: root}."""
    from neuroaffect.simulate import simulate

    out = tmp_path_factory.mktemp("faces")
    return {d: simulate(d, scale="tiny", out=out / d, seed=0) for d in FACES}


@pytest.mark.slow
def test_full_config_plans_the_papers_settings_at_real_sizes(tmp_path):
    cfg = yaml.safe_load((ROOT / "config/full.yaml").read_text())
    res = _snakemake(tmp_path, "-n", "-p", "--configfile", str(ROOT / "config/full.yaml"))
    out = res.stdout
    assert res.returncode == 0, out[-5000:]
    jobs = _jobs(out)
    assert jobs["simulate"] == 4 and jobs["simulate_faces"] == 3
    assert jobs["extract_features"] == 32 + 23 + 15 + 27  # the real subject counts
    assert jobs["run_sweep"] == len(cfg["training"]["sweeps"])
    assert jobs["train_student"] == 8 * 3  # 4 arms, the 3 grid arms and the labelled-only grid's arm, 3 seeds
    assert len(cfg["distill"]["seeds"]) >= 3
    students = [line for line in out.splitlines() if "neuroaffect train-student" in line]
    assert students and all("--epochs 100 --batch-size 128" in s and "--imagenet-stem" not in s
                            and "--no-augment" not in s for s in students)
    assert all("--scale full" in line for line in out.splitlines() if "neuroaffect simulate" in line)
    pooled = [line for line in out.splitlines() if "--protocol rbt-pooled" in line and "neuroaffect sweep" in line]
    assert pooled and all("--epochs 300" in line for line in pooled)
    # --configfile replaces the demo config: none of the demo's smoke settings leak in
    assert "Smoke scale" not in out and "--epochs 2 " not in out


@pytest.mark.slow
def test_demo_plans_b0_and_b1_without_the_grid_and_the_teacher_chain_first(tmp_path):
    res = _snakemake(tmp_path, "-n", "-p", "--configfile", str(ROOT / "config/config.yaml"))
    out = res.stdout
    assert res.returncode == 0, out[-5000:]
    blocks = [b for b in out.split("\n\n") if re.search(r"^(local)?rule train_student:", b, re.M)]
    by_arm = {re.search(r"wildcards: arm=([\w-]+)", b).group(1): b for b in blocks}
    # the labelled-only grid's arm is config/full.yaml's (the time budget)
    assert set(by_arm) == {"B0", "B1", "B2", "B3", "B3-shuffled", "B3-coordinate", "B3-oracle"}
    for arm, b in by_arm.items():
        cmd = next(line for line in b.splitlines() if "neuroaffect train-student" in line)
        assert "--no-augment" in cmd  # the demo's 6 epochs train on the images as they are
        # B0 and B1 neither read nor wait for a grid, so they can run beside the teacher
        gridless = arm in ("B0", "B1")
        assert ("--grid" in cmd) != gridless and ("results/prototypes/" in b.split("output:")[0]) != gridless
    # the longest chain's rules are scheduled before the sweeps
    rules = (ROOT / "workflow/rules/prototypes.smk").read_text() + (ROOT / "workflow/rules/training.smk").read_text()
    prio = dict(re.findall(r"^rule (\w+):(?:(?!^rule ).)*?^    priority: (\d+)", rules, re.M | re.S))
    assert {"train_teacher", "cross_validate_teacher", "export_prototypes"} <= set(prio) and "run_sweep" not in prio
    # among the sweeps (below the students' 10), the costliest first: RBTransformer's (~40 x DGCNN per window)
    sweeps = [b for b in out.split("\n\n") if re.search(r"^(local)?rule run_sweep:", b, re.M)]
    sweep_prio = {re.search(r"model=(\w+), protocol=([\w-]+)", b).groups(): int((re.findall(r"priority: (\d+)", b)
                                                                                   or [0])[0]) for b in sweeps}
    assert len(sweep_prio) == len(sweeps) >= 2 and max(sweep_prio.values()) < 10
    assert sweep_prio[("rbtransformer", "trial-holdout")] == max(sweep_prio.values()) > min(sweep_prio.values())


def _stub_roots(real_cfg, sim_root, face_roots):
    """real.yaml's roots moved onto stub trees, keeping the form each shipped root has (a folder, or the
    file inside it such as DREAMER.mat, data_preprocessed_python/ or labels.csv)."""
    def move(shipped, stub):
        inner = Path(stub) / Path(shipped).name
        return str(inner if inner.exists() else stub)

    data = {d: {"root": move(real_cfg["data"][d]["root"], sim_root(d))} for d in EEG}
    faces = {f: {"root": move(real_cfg["faces"]["data"][f]["root"], face_roots[f])} for f in FACES}
    return data, faces


@pytest.mark.slow
def test_real_config_runs_on_a_tree_in_the_real_layouts(tmp_path, sim_root, face_roots):
    cfg = yaml.safe_load((ROOT / "config/real.yaml").read_text())
    assert all(cfg["data"][d]["root"] for d in EEG) and all(cfg["faces"]["data"][f]["root"] for f in FACES)
    cfg["data"], cfg["faces"]["data"] = _stub_roots(cfg, sim_root, face_roots)
    res = _snakemake(tmp_path, "-n", "-p", "--configfile", str(_write(tmp_path, cfg)))
    out = res.stdout
    assert res.returncode == 0, out[-5000:]
    assert "cannot read" not in out
    jobs = _jobs(out)
    assert "simulate" not in jobs and "simulate_faces" not in jobs
    assert "check_data_root" not in jobs and "check_face_root" not in jobs
    assert jobs["extract_features"] == 2 * 4  # two subjects in each stub
    assert jobs["run_sweep"] == len(cfg["training"]["sweeps"]) and jobs["train_teacher"] == 1
    assert jobs["train_student"] == 8 * 3 and jobs["evaluate_students"] == 1
    for d in EEG:
        assert f"--root {cfg['data'][d]['root']}" in out, d
    evaluate = next(line for line in out.splitlines() if "neuroaffect evaluate-students" in line)
    for f in FACES:
        assert f"--{f} {cfg['faces']['data'][f]['root']}" in evaluate, f


@pytest.mark.slow
def test_real_config_with_missing_roots_says_which_and_where_before_any_job(tmp_path):
    """real.yaml as shipped points at /data/...; with SEED and CK+ switched off, every other dataset is named
    with the path looked at before any job is planned, and only its check job is left; the switched-off
    ones are not mentioned (and not simulated in their place)."""
    cfg = yaml.safe_load((ROOT / "config/real.yaml").read_text())
    cfg["datasets"] = [d for d in cfg["datasets"] if d != "seed"]
    del cfg["faces"]["data"]["ckplus"]
    res = _snakemake(tmp_path, "-n", "--configfile", str(_write(tmp_path, cfg)))
    err = res.stdout
    assert res.returncode == 0, err[-5000:]
    plan = err.index("Building DAG")
    for name, root in [*((d, cfg["data"][d]["root"]) for d in ("deap", "dreamer", "mahnob")),
                       *((f, cfg["faces"]["data"][f]["root"]) for f in ("ferplus", "affectnet-mini"))]:
        said = err.index(f"cannot read the {name} data")
        assert said < plan and root in err[said:plan].splitlines()[0], name
    assert "the prototype grid and the face student" in err
    assert "cannot read the seed" not in err and "cannot read the ckplus" not in err
    jobs = _jobs(err)
    assert jobs["check_data_root"] == 3 and jobs["check_face_root"] == 2
    assert not {"simulate", "simulate_faces", "summarize", "extract_features", "run_sweep", "train_student"} & set(jobs)
    # the check job fails with the same message
    res = _snakemake(tmp_path, "results/checks/affectnet-mini.ok", "--configfile", str(_write(tmp_path, cfg)))
    out = res.stdout
    assert res.returncode != 0
    assert "faces.data.affectnet-mini.root" in out and cfg["faces"]["data"]["affectnet-mini"]["root"] in out
    assert "expected an AffectNet-mini manifest" in out


@pytest.mark.parametrize("config", ["full.yaml", "real.yaml"])
def test_shipped_configs_pass_the_schema_and_the_cross_checks(config):
    from snakemake.utils import validate

    from neuroaffect_workflow.config import check_config

    cfg = yaml.safe_load((ROOT / "config" / config).read_text())
    validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"))
    check_config(cfg)


def test_face_root_check_names_the_missing_piece(tmp_path, face_roots):
    from neuroaffect.io.faces import check_face_root

    for f in FACES:
        check_face_root(f, face_roots[f])  # the real layouts pass
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    with pytest.raises(FileNotFoundError, match=r"fer2013new\.csv: expected FERPlus's fer2013new\.csv"):
        check_face_root("ferplus", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"Emotion: expected CK\+'s Emotion/"):
        (tmp_path / "cohn-kanade-images").mkdir()
        check_face_root("ckplus", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"nowhere: expected the ckplus root holding"):
        check_face_root("ckplus", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"labels\.csv: expected an AffectNet-mini manifest"):
        check_face_root("affectnet-mini", tmp_path / "labels.csv")
    with pytest.raises(ValueError, match="'dataset'"):
        check_face_root("fer", tmp_path)
