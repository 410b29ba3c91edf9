"""The machine calibration printed beside every timing: one-thread fp32 GEMM GFLOP/s, cores, load."""

from __future__ import annotations

import math
import os
import re
import time

import numpy as np

from neuroaffect.cli import main
from neuroaffect.report.performance import benchmark_table, benchmarks_markdown, machine_calibration, machine_line


def test_calibration_measures_a_positive_rate_of_the_right_order():
    c = machine_calibration(n=256, repeats=3)
    assert set(c) >= {"gemm_gflops", "gemm", "cores", "cpu_count", "load_average"}
    assert math.isfinite(c["gemm_gflops"]) and c["gemm_gflops"] > 0
    assert isinstance(c["cores"], int) and 1 <= c["cores"] <= os.cpu_count()
    assert len(c["load_average"]) == 3 and all(x >= 0 for x in c["load_average"])
    assert "256 x 256" in c["gemm"] and "1 thread" in c["gemm"] and "best of 3" in c["gemm"]
    # independent check of the order of magnitude: the rate of the same product timed here, by hand
    a = np.ones((256, 256), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(3))
    by_hand = 2 * 256**3 / best / 1e9
    # the calibration holds BLAS to one thread, the product above may use several; both are noisy
    assert by_hand / 50 < c["gemm_gflops"] < by_hand * 50


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def test_machine_line_names_cores_rate_and_load():
    c = {"gemm_gflops": 53.04, "gemm": "x", "cores": 2, "cpu_count": 2, "load_average": [2.0, 3.456, 4.0]}
    assert machine_line(c) == "machine: 2 cores, one-thread fp32 GEMM 53.0 GFLOP/s; load average 2.00 / 3.46 / 4.00"
    line = machine_line()  # measured now
    assert re.fullmatch(r"machine: \d+ cores, one-thread fp32 GEMM \d+\.\d GFLOP/s; load average "
                        r"\d+\.\d\d / \d+\.\d\d / \d+\.\d\d", line), line


def test_performance_page_carries_the_calibration(tmp_path):
    bench = tmp_path / "a.tsv"
    bench.write_text("s\tmax_rss\tcpu_time\n3.0\t100.0\t2.0\n")
    df = benchmark_table({"extract_features": [bench]})
    assert "machine:" not in benchmarks_markdown(df)
    assert "(machine: 7 cores, x, when the table was written)" in benchmarks_markdown(df, "machine: 7 cores, x")
    out = tmp_path / "reports/performance"
    assert main(["tabulate-benchmarks", "--rule", "extract_features", str(bench), "--out", str(out)]) == 0
    md = (tmp_path / "reports/performance.md").read_text()
    assert "| extract_features | 1 | 3.0 | 3.0 | 100 | 2.0 |" in md
    assert re.search(r"machine: \d+ cores, one-thread fp32 GEMM \d+\.\d GFLOP/s; load average", md), md
