"""``benchmarks/fault_suite.py --quick`` runs, prints its table, and its must-be-zero columns are zero."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ZERO_COLUMNS = ("escape", "hang", "wrong", "tampered accepted")


def _table(stdout: str) -> tuple[list[str], dict]:
    """(column names, {category: [counts or 'not available']}) from the printed table."""
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("category"))
    # Column names are right-aligned and may hold one space ("tampered accepted"): split on 2+ spaces.
    import re

    columns = re.split(r"\s{2,}", lines[head].strip())[1:]
    rows = {}
    for line in lines[head + 2:]:
        if not line.strip() or line.startswith("load average"):
            break
        if line.startswith("-"):
            continue
        name, *rest = line.split()
        rows[name] = ["not available"] if rest == ["not", "available"] else [int(x) for x in rest]
    return columns, rows


@pytest.mark.slow
def test_quick_fault_suite_has_zeros_where_it_must():
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fault_suite.py"), "--quick"],
                         capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-3000:]
    columns, rows = _table(res.stdout)
    assert columns[:7] == ["tried", "read", "rejected", "escape", "hang", "wrong", "tampered accepted"]
    assert "load average:" in res.stdout
    for reader in ("deap", "dreamer", "seed", "seed-iv", "mahnob", "ferplus", "affectnet-mini", "ckplus",
                   "features"):
        assert f"reader:{reader}" in rows, sorted(rows)
    assert {"pickles", "configs", "tampered", "total"} <= set(rows)
    total = dict(zip(columns, rows["total"]))
    assert total["tried"] > 300 and total["rejected"] > 0 and total["read"] > 0
    for name, counts in rows.items():
        if counts == ["not available"]:
            continue
        row = dict(zip(columns, counts))
        assert row["tried"] == row["read"] + row["rejected"] + sum(row[c] for c in ZERO_COLUMNS), name
        assert all(row[c] == 0 for c in ZERO_COLUMNS), (name, row)


def test_table_format_and_exit_status():
    """The table parser above reads what format_table prints, and a non-zero must-be-zero count fails."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import fault_suite
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    from collections import Counter

    rows = {"reader:deap": Counter(tried=3, read=1, rejected=1, escape=1, seconds=2), "pickles": None}
    text = fault_suite.format_table(rows)
    columns, parsed = _table(text + "\n\nload average: 0")
    assert columns == list(fault_suite.COLUMNS)
    assert parsed["reader:deap"][:4] == [3, 1, 1, 1] and parsed["pickles"] == ["not available"]
    assert dict(zip(columns, parsed["total"]))["escape"] == 1
    assert fault_suite.exit_status(rows) == 1
    for column in fault_suite.ZERO_COLUMNS:
        assert fault_suite.exit_status({"x": Counter({"tried": 1, column: 1}), "y": None}) == 1
    assert fault_suite.exit_status({"x": Counter(tried=2, read=1, rejected=1), "y": None}) == 0
