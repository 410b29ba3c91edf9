"""The package's import layers, and the shared helpers every layer relies on."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuroaffect._utils import (
    DatasetFormatError, atomic_write_json, check_finite, check_option, check_sfreq, check_shape,
    config_hash, sha256_file,
)

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    res = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "broken" in res.stdout and "0 broken" in res.stdout


def test_import_contracts_can_fail(tmp_path):
    """A deliberately broken layer is reported (the contract test is not vacuous)."""
    pkg = tmp_path / "neuroaffect"
    shutil.copytree(ROOT / "neuroaffect", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "channels.py").write_text((pkg / "channels.py").read_text() + "\nimport torch\n")
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    env = {"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    res = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=tmp_path,
                         capture_output=True, text=True, env=env)
    assert res.returncode != 0
    assert "neuroaffect.channels" in res.stdout and "torch" in res.stdout


@pytest.mark.slow
def test_models_and_training_import_without_mne_or_snakemake():
    code = (
        "import sys; sys.modules['mne'] = None; sys.modules['snakemake'] = None\n"
        "import neuroaffect.models, neuroaffect.training\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_dataset_format_error_names_file_expectation_and_finding():
    err = DatasetFormatError("/x/s01.dat", "40 channels", "39 channels")
    assert str(err) == "/x/s01.dat: expected 40 channels, but found 39 channels"
    assert isinstance(err, ValueError)


def test_checks():
    with pytest.raises(ValueError, match="Allowed values are 'a', 'b', but got 'c'"):
        check_option("mode", "c", ["a", "b"])
    with pytest.raises(DatasetFormatError, match=r"f.mat: expected data of shape \(2, any\), but found shape \(3, 4\)"):
        check_shape(np.zeros((3, 4)), (2, None), "data", "f.mat")
    x = np.zeros((2, 3))
    x[1, 2] = np.nan
    with pytest.raises(DatasetFormatError, match=r"1 NaN/Inf values \(first at index \(1, 2\)\)"):
        check_finite(x, "EEG", "f.mat")
    with pytest.raises(DatasetFormatError, match="expected SEED sampling rate 200.0 Hz, but found 128.0 Hz"):
        check_sfreq(128, 200.0, "SEED", "f.mat")
    assert check_sfreq(200.0, 200.0, "SEED") == 200.0


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    f = tmp_path / "card.json"
    atomic_write_json(f, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(f, {"a": object()})
    assert json.loads(f.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"]


def test_hashes_are_stable(tmp_path):
    assert config_hash({"b": 1, "a": [1, 2]}) == config_hash({"a": [1, 2], "b": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    assert sha256_file(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_atomic_write_uses_default_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        f = atomic_write_json(tmp_path / "x.json", {})
    finally:
        os.umask(umask)
    assert (f.stat().st_mode & 0o777) == 0o644
