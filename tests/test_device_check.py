"""The prepared device check runs end to end on CPU at small sizes and reports every section."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "device_check.sh"
SECTIONS = ("environment", "install", "tests", "training", "full_sweep")


@pytest.mark.slow
def test_device_check_cpu_fallback_reports_every_section(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    res = subprocess.run(["bash", str(SCRIPT), "--device", "cpu", "--tiny"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["device_check.json", "device_check.log", "device_check.md"], names

    rep = json.loads((tmp_path / "device_check.json").read_text())
    assert rep["schema"] == "neuroaffect-device-check/1" and rep["tiny"] is True
    for key in SECTIONS:
        assert key in rep, key
    env_ = rep["environment"]
    assert env_["device"] == "cpu" and env_["torch"] and env_["card_peak_bf16_tflops"]["tflops"] is None
    assert rep["install"]["status"] == "ok" and "neuroaffect" in rep["install"]["package"]
    tests = rep["tests"]
    assert tests["status"] == "ok" and tests["files"] == ["tests/test_gpu.py"]
    assert tests["skipped"] > 0 and tests["passed"] == tests["failed"] == tests["errors"] == 0
    assert all("needs a CUDA GPU" in c["reason"] for c in tests["cases"])
    tr = rep["training"]
    assert tr["status"] == "ok"
    singles = {r["model"]: r for r in tr["single"]}
    assert {"rbtransformer", "dgcnn", "rgnn", "topoteacher"} <= set(singles)
    for r in singles.values():
        if "skipped" not in r:
            assert r["samples_per_s"] > 0 and r["flops_per_sample"] > 0 and r["peak_gib"] is None
    assert [r["n_models"] for r in tr["sweep"]] == [2, 4]
    for r in tr["sweep"]:
        assert r["batched_samples_per_s"] > 0 and r["loop_samples_per_s"] > 0 and r["speedup"] > 0
    full = rep["full_sweep"]
    assert full["status"] == "ok" and full["n_models"] == full["subjects"] * full["folds"]
    assert full["samples_per_s"] > 0 and full["progress"]["finished"] is True
    assert full["progress"]["model_epochs"] == full["n_models"] * full["epochs"]

    md = (tmp_path / "device_check.md").read_text()
    for heading in ("## environment", "## install", "## tests (pytest -m gpu)", "## training (bench_training.py)",
                    "## full sweep (bench_full_sweep.py)"):
        assert heading in md, heading
    assert "CPU: no peak used" in md and "| rbtransformer |" in md
    assert "== 5. full DEAP trial-holdout sweep" in (tmp_path / "device_check.log").read_text()
    print(f"device check, CPU fallback: {seconds:.1f} s, load average {os.getloadavg()[0]:.2f}")
