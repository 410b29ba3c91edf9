"""``benchmarks/fault_suite.py --quick`` runs, prints its table, and its must-be-zero columns are zero."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "workflow" / "lib") not in sys.path:
    sys.path.insert(0, str(ROOT / "workflow" / "lib"))  # the workflow's tooling (neuroaffect_workflow)
ZERO_COLUMNS = ("escape", "hang", "wrong", "tampered accepted", "memory", "injected")


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
    assert columns[:9] == ["tried", "read", "rejected", "escape", "hang", "wrong", "tampered accepted", "memory",
                           "injected"]
    assert "load average:" in res.stdout
    for reader in ("deap", "dreamer", "seed", "seed-iv", "mahnob", "ferplus", "affectnet-mini", "ckplus",
                   "features", "faced", "amigos", "seed-v", "seed-v-features"):
        assert f"reader:{reader}" in rows, sorted(rows)
    assert {"pickles", "configs", "shell", "content", "inputs", "tampered", "total"} <= set(rows)
    assert dict(zip(columns, rows["shell"]))["tried"] >= 5 and dict(zip(columns, rows["configs"]))["tried"] >= 35
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


def _fault_suite():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import fault_suite
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return fault_suite


def _touch_marker(path):
    Path(path).touch()
    return 1


def _allocate():
    return bytearray(8 << 30)  # past the worker's address-space limit


def test_injected_commands_and_memory_blowups_have_their_columns(tmp_path):
    """A case whose injected command ran counts as injected (whatever it returned), a MemoryError as a memory
    blow-up; both are failures."""
    from reliability.harness import Case

    fault_suite = _fault_suite()
    marker = tmp_path / "INJ_x"
    cases = [Case("shell/x", "shell", lambda: _touch_marker(marker), "read", ("x",)),
             Case("shell/y", "shell", lambda: 1, "read", ("y",)),
             Case("inputs/bomb", "inputs", _allocate, "reject", ("bomb",))]
    failures = []
    counts = fault_suite.run_category(cases[:2], 20, 1 << 30, failures, lambda case: case.name == "shell/x"
                                      and marker.exists())
    assert counts["injected"] == 1 and counts["read"] == 1 and counts["tried"] == 2
    assert len(failures) == 1 and "shell/x" in failures[0] and failures[0].startswith("injected")
    counts = fault_suite.run_category(cases[2:], 20, 1 << 30, failures)
    assert counts["memory"] == 1 and counts["escape"] == 0 and failures[-1].startswith("memory")
    assert fault_suite.exit_status({"shell": counts}) == 1


def test_config_files_out_of_bounds_are_refused_by_the_suite_s_reader(tmp_path):
    """Every config file of the configs category is refused by the bounded reader, naming the file, in
    well under a second each (the plain YAML loader would expand the bombs)."""
    import time

    from neuroaffect_workflow.config import ConfigError, read_config_file

    fault_suite = _fault_suite()
    files = fault_suite.config_file_cases(tmp_path, (ROOT / "config/config.yaml").read_text())
    assert len(files) >= 10
    for name, path in files:
        t0 = time.perf_counter()
        with pytest.raises(ConfigError) as err:
            read_config_file(path)
        assert str(path) in str(err.value) and time.perf_counter() - t0 < 1, name
