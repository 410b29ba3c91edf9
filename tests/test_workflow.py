"""The Snakemake workflow: dry runs of the shipped config, and parameter changes rerun only what they affect."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
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
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return tmp_path


def test_dry_run_of_shipped_config(tmp_path):
    res = _snakemake(_workdir(tmp_path), "-n")
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = _jobs(res.stdout)
    assert jobs["simulate"] == 4 and jobs["summarize"] == 4
    assert jobs["extract_features"] == 16  # demo scale: 4 subjects x 4 datasets


def test_invalid_config_is_refused(tmp_path):
    res = _snakemake(_workdir(tmp_path, **{"simulate.scale": "huge"}), "-n")
    assert res.returncode != 0
    assert "huge" in res.stdout + res.stderr


def test_real_roots_are_used_when_configured(tmp_path, sim_root):
    root = sim_root("deap")
    wd = _workdir(tmp_path, datasets=["deap"], **{"data.deap.root": str(root)})
    res = _snakemake(wd, "-n", "results/features/deap/2.nc")
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = _jobs(res.stdout)
    assert "simulate" not in jobs and jobs["extract_features"] == 1
    assert str(root) in res.stdout


@pytest.mark.slow
def test_band_change_reruns_features_only(tmp_path):
    wd = _workdir(tmp_path, datasets=["deap"], **{"simulate.scale": "tiny"})
    targets = ["results/features/deap/1.nc", "results/features/deap/2.nc", "reports/summary/deap.md"]
    res = _snakemake(wd, *targets)
    assert res.returncode == 0, res.stderr + res.stdout
    res = _snakemake(wd, "-n", *targets)
    assert "Nothing to be done" in res.stdout + res.stderr
    cfg = yaml.safe_load((wd / "config/config.yaml").read_text())
    cfg["features"]["params"]["bands"]["gamma"] = [31, 40]
    (wd / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = _snakemake(wd, "-n", *targets)
    assert res.returncode == 0, res.stderr + res.stdout
    assert _jobs(res.stdout) == {"extract_features": 2}
    res = _snakemake(wd, *targets)
    assert res.returncode == 0, res.stderr + res.stdout
    import xarray as xr

    with xr.open_dataset(wd / "results/features/deap/1.nc", engine="h5netcdf") as ds:
        assert float(ds["band_hi"].sel(band="gamma")) == 40.0
        assert ds.attrs["code_version"] and ds.attrs["input_sha256"]
