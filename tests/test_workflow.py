"""The Snakemake workflow: dry runs of the shipped config, and parameter changes rerun only what they affect."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "workflow" / "lib") not in sys.path:
    sys.path.insert(0, str(ROOT / "workflow" / "lib"))  # the workflow's tooling (neuroaffect_workflow)
BIN = Path(sys.executable).parent


def _snakemake(workdir, *args):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(workdir), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--cores", "2", *args],
        capture_output=True, text=True, env=env, timeout=900,
    )


def _jobs(dry_run_output):
    """{rule: count} from the job-stats table of a dry run."""
    table = dry_run_output.split("Job stats:")[-1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)
            if m.group(1) != "total"}


def _workdir(tmp_path, **changes):
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    for key, value in changes.items():
        node = cfg
        *path, last = key.split(".")
        for p in path:
            node = node[p]
        node[last] = value
    (tmp_path / "config").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return tmp_path


@pytest.mark.slow
def test_dry_run_of_shipped_config(tmp_path):
    res = _snakemake(_workdir(tmp_path), "-n")
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = _jobs(res.stdout)
    assert jobs["simulate"] == 4 and jobs["summarize"] == 4
    assert jobs["extract_features"] == 16  # demo scale: 4 subjects x 4 datasets


@pytest.mark.slow
def test_invalid_config_is_refused(tmp_path):
    res = _snakemake(_workdir(tmp_path, **{"simulate.scale": "huge"}), "-n")
    assert res.returncode != 0
    assert "huge" in res.stdout + res.stderr


@pytest.mark.slow
def test_real_roots_are_used_when_configured(tmp_path, sim_root):
    root = sim_root("deap")
    wd = _workdir(tmp_path, datasets=["deap"], **{"data.deap.root": str(root)})
    res = _snakemake(wd, "-n", "results/features/deap/2.nc")
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = _jobs(res.stdout)
    assert "simulate" not in jobs and jobs["extract_features"] == 1
    assert str(root) in res.stdout


@pytest.mark.slow
def test_band_change_reruns_everything_downstream_sweeps_included(tmp_path):
    """After a complete run, a changed band edge reruns the feature files and every job that reads
    them (the sweep and the results table), and nothing else: the raw-data summary stays. The
    rerun sweep trains from scratch on the new features (its checkpoint, written for other data,
    is discarded) and records the new parameter hash."""
    sweep = {"dataset": "deap", "target": "valence", "task": "binary", "model": "dgcnn",
             "protocol": "trial-holdout", "epochs": 1, "folds": 2, "batch_size": 32}
    wd = _workdir(tmp_path, datasets=["deap"], **{"simulate.scale": "tiny", "training.sweeps": [sweep]})
    result = "results/sweeps/deap/valence_binary_dgcnn_trial-holdout.json"
    targets = ["results/features/deap/1.nc", "results/features/deap/2.nc", "reports/summary/deap.md", result,
               "reports/results.md"]
    res = _snakemake(wd, *targets)
    assert res.returncode == 0, res.stderr + res.stdout
    res = _snakemake(wd, "-n", *targets)
    assert "Nothing to be done" in res.stdout + res.stderr
    import json

    before = json.loads((wd / result).read_text())["metadata"]["inputs"]["feature_params_hash"]
    cfg = yaml.safe_load((wd / "config/config.yaml").read_text())
    cfg["features"]["params"]["bands"]["gamma"] = [31, 40]
    (wd / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = _snakemake(wd, "-n", *targets)
    assert res.returncode == 0, res.stderr + res.stdout
    assert _jobs(res.stdout) == {"extract_features": 2, "run_sweep": 1, "tabulate_results": 1}
    res = _snakemake(wd, *targets)
    assert res.returncode == 0, res.stderr + res.stdout
    import xarray as xr

    with xr.open_dataset(wd / "results/features/deap/1.nc", engine="h5netcdf") as ds:
        assert float(ds["band_hi"].sel(band="gamma")) == 40.0
        assert ds.attrs["code_version"] and ds.attrs["input_sha256"]
        new_hash = ds.attrs["params_hash"]
    out = json.loads((wd / result).read_text())
    assert out["metadata"]["inputs"]["feature_params_hash"] == [new_hash] != before
    assert all(f["resumed_from"] is None for f in out["folds"])
    log = (wd / "logs/sweeps/deap/valence_binary_dgcnn_trial-holdout.log").read_text()
    assert "discarding it and training from scratch" in log
    res = _snakemake(wd, "-n", *targets)
    assert "Nothing to be done" in res.stdout + res.stderr


def test_training_defaults_have_one_source():
    """The schema's training defaults are TrainConfig's (and the protocol's fold count)."""
    from neuroaffect.training import TrainConfig
    from neuroaffect.training.protocols import DEFAULT_N_FOLDS

    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    props = schema["properties"]["training"]["properties"]
    d = TrainConfig()
    expected = {"folds": DEFAULT_N_FOLDS["trial-holdout"], "epochs": d.epochs, "batch_size": d.batch_size,
                "lr": d.lr, "device": d.device, "seed": d.seed, "control": False, "validate": d.validate}
    assert {k: props[k]["default"] for k in expected} == expected
    # and the workflow reads no other fallback
    common = (ROOT / "workflow/rules/common.smk").read_text()
    assert "defaults = {" not in common


@pytest.mark.slow
def test_a_missing_root_fails_only_its_own_job(tmp_path, sim_root):
    missing = tmp_path / "nowhere" / "DREAMER.mat"
    wd = _workdir(tmp_path, datasets=["deap", "dreamer"], **{"data.dreamer.root": str(missing),
                                                              "data.deap.root": str(sim_root("deap"))})
    res = _snakemake(wd, "-n")
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = _jobs(res.stdout)
    assert jobs["check_data_root"] == 1 and jobs["summarize"] == 1 and jobs["run_sweep"] >= 1
    res = _snakemake(wd, "results/checks/dreamer.ok")
    assert res.returncode != 0
    assert "data.dreamer.root" in res.stderr + res.stdout and str(missing) in res.stderr + res.stdout


@pytest.mark.slow
def test_a_single_subject_file_is_a_root(tmp_path, sim_root):
    s01 = next(sim_root("deap").rglob("s01.dat"))
    wd = _workdir(tmp_path, datasets=["deap"], **{"data.deap.root": str(s01)})
    res = _snakemake(wd, "-n")
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = _jobs(res.stdout)
    assert jobs["extract_features"] == 1 and jobs["summarize"] == 1 and "check_data_root" not in jobs


@pytest.mark.slow
def test_raw_signal_and_regression_sweeps_are_planned(tmp_path):
    sweeps = [{"dataset": "deap", "target": "valence", "task": "binary", "model": "eegnet",
               "protocol": "trial-holdout"},
              {"dataset": "deap", "target": "arousal", "task": "regression", "model": "dgcnn",
               "protocol": "trial-holdout"}]
    wd = _workdir(tmp_path, datasets=["deap"], **{"training.sweeps": sweeps})
    res = _snakemake(wd, "-n", "-p")
    assert res.returncode == 0, res.stderr + res.stdout
    assert _jobs(res.stdout)["run_sweep"] == 2
    eeg = [line for line in res.stdout.splitlines() if "--model eegnet" in line]
    assert eeg and "--root results/sim/deap/deap" in eeg[0] and '"raw"' not in eeg[0]
    dg = [line for line in res.stdout.splitlines() if "--model dgcnn" in line]
    assert dg and "--features results/features/deap" in dg[0] and "--task regression" in dg[0]


@pytest.mark.parametrize("changes, expected", [
    ({"training.epoch": 3}, "epoch"),
    ({"trainig": {"sweeps": []}}, "trainig"),
    ({"features.params.topo_sise": 32}, "topo_sise"),
    ({"features.params.topo_size": 2048}, "2048"),
    ({"training.lr": 1e6}, "1000000"),
    ({"prototypes.grid_sise": 5}, "grid_sise"),
])
def test_schema_refuses_typos_and_absurd_values(tmp_path, changes, expected):
    """The Snakefile's checks at load (the schema, then check_config), run here in-process on the config the
    workflow would load; test_invalid_config_is_refused shows snakemake itself stopping on them."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from neuroaffect_workflow.config import ConfigError, check_config

    cfg = yaml.safe_load((_workdir(tmp_path, **changes) / "config/config.yaml").read_text())
    with pytest.raises((WorkflowError, ConfigError)) as err:
        validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"))
        check_config(cfg)
    assert expected in str(err.value)


@pytest.mark.slow
def test_contradictions_are_refused_before_any_job(tmp_path):
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    first = dict(cfg["training"]["sweeps"][0])
    sweeps = [first, dict(first, epochs=3),
              {"dataset": "deap", "target": "valence", "task": "binary", "model": "dgcnn", "protocol": "seed-9-6"},
              {"dataset": "deap", "target": "emotion", "task": "binary", "model": "dgcnn", "protocol": "loso"},
              {"dataset": "seed", "target": "emotion", "task": "binary", "model": "dgcnn", "protocol": "seed-9-6"},
              {"dataset": "deap", "target": "arousal", "task": "binary", "model": "nosuchnet",
               "protocol": "trial-holdout"}]
    res = _snakemake(_workdir(tmp_path, **{"training.sweeps": sweeps}), "-n")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "training.sweeps[1]" in out and "same sweep as training.sweeps[0]" in out
    assert "training.sweeps[2]" in out and "seed-9-6" in out and "expected dataset 'seed'" in out
    assert "training.sweeps[3]" in out and "'target'" in out
    assert "training.sweeps[4]" in out and "no 'binary' labels" in out
    assert "training.sweeps[5]" in out and "nosuchnet" in out
    assert "Job stats" not in out  # stopped at validation


@pytest.mark.slow
def test_one_dataset_alone_plans_its_own_jobs(tmp_path):
    """datasets: [deap] keeps only DEAP's sweeps, their sidecar and no prototype stage (no DREAMER)."""
    res = _snakemake(_workdir(tmp_path, datasets=["deap"]), "-n")
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = _jobs(res.stdout)
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    n_deap = sum(s["dataset"] == "deap" for s in cfg["training"]["sweeps"])
    assert jobs["simulate"] == 1 and jobs["run_sweep"] == n_deap and jobs["tabulate_results"] == 1
    assert "train_teacher" not in jobs


TRAINING_RULES = {"run_sweep", "cross_dataset", "train_teacher", "cross_validate_teacher", "train_student"}


@pytest.mark.slow
def test_slurm_profile_requests_gpus_for_training_only(tmp_path):
    """A dry run through the SLURM executor's profile (no cluster needed): every training rule asks for a GPU
    with the standard `gpu` resource, every other rule does not, and each declares memory and runtime."""
    # with a second source, so that every training rule is planned (the demo has none)
    res = _snakemake(_workdir(tmp_path, **{"prototypes.second_source": "deap"}), "-n", "--profile",
                     str(ROOT / "profiles/slurm"))
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", res.stdout, re.M)
    seen = {}
    for rule, resources in jobs:
        r = dict(kv.split("=", 1) for kv in resources.split(", "))
        seen[rule] = r
    assert TRAINING_RULES & set(seen) >= {"run_sweep", "train_teacher", "cross_validate_teacher"}
    for rule, r in seen.items():
        if rule == "all":
            continue
        assert ("gpu" in r and r["gpu"] == "1") == (rule in TRAINING_RULES), (rule, r)
        assert "mem_mb" in r and "runtime" in r and r["slurm_partition"] == "CHANGE-ME", (rule, r)
    # device: cpu in the config: nothing asks for a GPU
    res = _snakemake(_workdir(tmp_path / "cpu", **{"training.device": "cpu", "prototypes.train.device": "cpu",
                                                  "distill.train.device": "cpu"}),
                     "-n", "--profile", str(ROOT / "profiles/slurm"))
    assert res.returncode == 0, res.stderr + res.stdout
    assert "gpu=1" not in res.stdout


@pytest.mark.slow
def test_lint_is_clean_and_no_rule_ends_in_shell_glue(tmp_path):
    res = _snakemake(_workdir(tmp_path), "--lint")
    assert res.returncode == 0, res.stderr + res.stdout
    assert "Congratulations, your workflow is in a good condition!" in res.stdout + res.stderr
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        assert " && " not in text and '"cp ' not in text and " cp " not in text, smk.name
