"""Determinism on CPU: the same inputs, configuration and seed give byte-identical feature files and
student exports from two fresh processes. (The grid: ``tests/test_prototypes.py``,
``test_cli_export_is_byte_identical_across_fresh_processes``.)

No attribute of these files holds a time or a process-dependent value; ``code_version`` changes only
between commits (or with a modified checkout), which both processes share.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from neuroaffect._utils import code_version

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.mark.slow
def test_feature_files_are_byte_identical_across_fresh_processes(sim_root, tmp_path):
    root = sim_root("deap")
    outs, version = [], code_version()
    for k in range(2):
        out = tmp_path / f"run{k}" / "1.nc"
        res = subprocess.run([sys.executable, "-m", "neuroaffect", "features", "--dataset", "deap", "--root", str(root),
                              "--subject", "1", "--out", str(out), "--no-progress",
                              "--params", '{"topo_size": 16, "physio": true}'],
                             capture_output=True, text=True, env=ENV, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        outs.append(out.read_bytes())
    from neuroaffect.features import read_features

    if code_version() == version:
        assert outs[0] == outs[1]
    else:  # the checkout changed between the two runs (others commit while tests run)
        import xarray as xr

        a, b = (read_features(tmp_path / f"run{k}" / "1.nc") for k in range(2))
        assert a.attrs.pop("code_version") != b.attrs.pop("code_version")
        xr.testing.assert_identical(a, b)

    ds = read_features(tmp_path / "run0" / "1.nc")  # checksummed, and holds what the test claims to compare
    assert {"bde", "topo", "n_windows", "ch_pos"} <= set(ds.variables) and ds.sizes["trial"] > 1


_STUDENT = """
import sys
import numpy as np, torch
from pathlib import Path
sys.path.insert(0, sys.argv[2])
torch.set_num_threads(1)
from neuroaffect.distill import save_student, train_student
from neuroaffect.report import student_card
from neuroaffect.prototypes import load_grid
from neuroaffect.training import TrainConfig
from reliability.interrupted_run import _faces
from reliability.tamper import make_grid
out = Path(sys.argv[1])
grid = load_grid(make_grid(out / "grid"))
cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-3, weight_decay=0.05, grad_clip=1.0, standardize=False,
                  eval_batch_size=8, device="cpu", seed=3)
res = train_student(_faces(16, "train", 0), _faces(8, "val", 1), grid, "B3", cfg, in_size=8)
save_student(res.model, out / "student", card=student_card, grid_sha256=res.grid_sha256,
             metrics={"val": {"macro_f1": res.val_macro_f1}}, training=res.record)
"""


@pytest.mark.slow
def test_student_export_is_byte_identical_across_fresh_processes(tmp_path):
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files, version = [], code_version()
    for k in range(2):
        out = tmp_path / f"run{k}"
        res = subprocess.run([sys.executable, "-c", _STUDENT, str(out), tests_dir], capture_output=True, text=True,
                             env=ENV)
        assert res.returncode == 0, res.stderr
        files.append({p.name: p.read_bytes() for p in sorted((out / "student").iterdir())})
    assert set(files[0]) == {"model.safetensors", "config.json", "README.md"}
    if code_version() != version:  # the checkout changed between the two runs (others commit while tests run)
        import json

        a, b = (json.loads(f.pop("config.json")) for f in files)
        assert a.pop("code_version") != b.pop("code_version") and a.pop("config_sha256") != b.pop("config_sha256")
        assert a == b
    for name in files[0]:
        assert files[0][name] == files[1][name], name
    from neuroaffect.distill import load_student

    assert load_student(tmp_path / "run0" / "student").export_config["training"]["arm"] == "B3"
