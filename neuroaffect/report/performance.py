"""The performance report: the cost of every workflow step (Snakemake's benchmark files) and the
machine calibration that lets timings from two machines be compared (``reports/performance.md``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .._utils import DatasetFormatError, atomic_write_text
from .markdown import format_cell, table_lines, table_row

__all__ = ["benchmark_table", "benchmarks_markdown", "machine_calibration", "machine_line", "tabulate_benchmarks"]

#: Columns of a Snakemake benchmark file used here (seconds, MB, seconds).
_BENCH_COLUMNS = ("s", "max_rss", "cpu_time")
#: Columns of :func:`benchmark_table` -> their titles in :func:`benchmarks_markdown`.
_BENCH_TITLES = {"rule": "rule", "jobs": "jobs", "wall_s_total": "wall s (total)", "wall_s_max": "wall s (longest job)",
                 "max_rss_mb": "max RSS MB", "cpu_s_total": "CPU s (total, lower bound)"}


def machine_calibration(n: int = 1024, repeats: int = 5) -> dict:
    """How fast this machine is, so that timings from two machines can be compared.

    One-thread float32 matrix product (numpy's BLAS held to one thread by ``threadpoolctl``),
    ``n x n`` times ``n x n`` on random data: one warm-up product, then the best of ``repeats``
    timed ones (about 0.2 s in all at 50 GFLOP/s). The best, not the mean, is the figure least
    disturbed by other work on a shared machine.

    Parameters
    ----------
    n : int
        Side of the square matrices.
    repeats : int
        Timed products.

    Returns
    -------
    calibration : dict
        ``gemm_gflops`` (one-thread fp32 GFLOP/s, counting ``2 n^3`` per product), ``gemm``
        (what was timed), ``cores`` (CPUs this process may run on), ``cpu_count``
        (``os.cpu_count()``) and ``load_average`` (1, 5 and 15 minutes, at the end).
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    best = float("inf")
    with threadpool_limits(limits=1, user_api="blas"):
        a @ b
        for _ in range(max(1, int(repeats))):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        cores = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - platforms without it
        load = [float("nan")] * 3
    return {"gemm_gflops": 2.0 * n**3 / best / 1e9, "gemm": f"numpy float32 {n} x {n} matmul, 1 thread, "
            f"best of {max(1, int(repeats))}", "cores": cores, "cpu_count": os.cpu_count(), "load_average": load}


def machine_line(calibration: dict | None = None) -> str:
    """One line for a benchmark's output: cores, one-thread fp32 GEMM GFLOP/s and the load average.

    ``calibration``: a :func:`machine_calibration` result (measured now when ``None``).
    """
    c = machine_calibration() if calibration is None else calibration
    return (f"machine: {c['cores']} cores, one-thread fp32 GEMM {c['gemm_gflops']:.1f} GFLOP/s; load average "
            + " / ".join(f"{x:.2f}" for x in c["load_average"]))


def _read_benchmark(fname) -> dict:
    """The first repeat of one Snakemake ``benchmark:`` file: wall s, max RSS MB, CPU s (NaN when absent)."""
    fname = Path(fname)
    try:
        df = pd.read_csv(fname, sep="\t")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DatasetFormatError(fname, f"a Snakemake benchmark file (tab-separated, columns "
                                 f"{', '.join(_BENCH_COLUMNS)})", f"text that cannot be parsed ({err})") from None
    if "s" not in df.columns or df.empty:
        raise DatasetFormatError(fname, "a Snakemake benchmark file with an 's' column and one row per repeat",
                                 f"columns {list(df.columns)} and {len(df)} row(s)")
    row = df.iloc[0]
    return {k: pd.to_numeric(row.get(k, np.nan), errors="coerce") for k in _BENCH_COLUMNS}


def benchmark_table(benchmarks: Mapping[str, Sequence]) -> pd.DataFrame:
    """One row per workflow rule: how many jobs ran, their wall time and their peak memory.

    Parameters
    ----------
    benchmarks : mapping of str -> sequence of path-like
        Rule name -> the ``benchmark:`` files of its jobs (Snakemake's tab-separated format:
        ``s`` wall seconds, ``max_rss`` MB, ``cpu_time`` seconds; the first repeat is used).

    Returns
    -------
    table : pandas.DataFrame
        Columns ``rule``, ``jobs``, ``wall_s_total``, ``wall_s_max`` (seconds), ``max_rss_mb``
        (largest peak resident memory of one job, MB; NaN when the jobs were too short to
        sample), ``cpu_s_total`` (seconds); rows in the given rule order, rules without files left out.
    """
    rows = []
    for rule, files in benchmarks.items():
        recs = [_read_benchmark(f) for f in files]
        if not recs:
            continue
        wall = np.array([r["s"] for r in recs], dtype=float)
        rss = np.array([r["max_rss"] for r in recs], dtype=float)
        cpu = np.array([r["cpu_time"] for r in recs], dtype=float)
        rows.append({"rule": rule, "jobs": len(recs), "wall_s_total": float(np.nansum(wall)),
                     "wall_s_max": float(np.nanmax(wall)) if np.isfinite(wall).any() else np.nan,
                     "max_rss_mb": float(np.nanmax(rss)) if np.isfinite(rss).any() else np.nan,
                     "cpu_s_total": float(np.nansum(cpu))})
    return pd.DataFrame(rows, columns=["rule", "jobs", "wall_s_total", "wall_s_max", "max_rss_mb", "cpu_s_total"])


def benchmarks_markdown(df: pd.DataFrame, machine: str | None = None) -> str:
    """The table of :func:`benchmark_table` as Markdown, with the total over all rules.

    ``machine``: a :func:`machine_line` placed under the table (left out when ``None``).
    """
    lines = ["# Performance: wall time and peak memory per workflow rule", "",
             "From the `benchmark:` file of every job (Snakemake's own measurement). Wall time adds up jobs that "
             "may have run in parallel, so the total is the compute spent, not the time the run took; max RSS is "
             "the largest peak resident memory of one job of the rule (`-`: a job too short to sample). CPU s is a "
             "lower bound: Snakemake samples a job's processes every 0.5 s for its first 15 s, then every 30 s, and "
             "keeps the last sample, so up to 30 s at the end of each job go uncounted (a 45-s student job shows "
             "about 15 s); with no more jobs than cores, a job's wall time is the better measure of its compute.", ""]
    lines += table_lines(df, _BENCH_TITLES, {"jobs": lambda v: str(int(v)), "wall_s_total": ".1f",
                                             "wall_s_max": ".1f", "max_rss_mb": ".0f", "cpu_s_total": ".1f"})
    if not df.empty:
        lines.append(table_row(["**all rules**", int(df["jobs"].sum()), f"{df['wall_s_total'].sum():.1f}",
                                format_cell(df["wall_s_max"].max(), ".1f"), format_cell(df["max_rss_mb"].max(), ".0f"),
                                f"{df['cpu_s_total'].sum():.1f}"]))
    if machine:
        lines += ["", f"Measured on this machine ({machine}, when the table was written). To compare with "
                  "another machine, the ratio of the GEMM rates is a rough guide: not all of the work is matrix "
                  "products, and a loaded machine gives fewer seconds to each job."]
    return "\n".join(lines) + "\n"


def tabulate_benchmarks(benchmarks: Mapping[str, Sequence], out) -> str:
    """Write ``out.md`` and ``out.csv`` (atomically) of :func:`benchmark_table`; return the Markdown."""
    df = benchmark_table(benchmarks)
    out = Path(out)
    atomic_write_text(out.with_suffix(".csv"), df.to_csv(index=False))
    md = benchmarks_markdown(df, machine_line())
    atomic_write_text(out.with_suffix(".md"), md)
    return md
