"""The fast tier (`make test`, ``pytest -m "not slow"``) keeps a test of every test file.

Read from the source (no import, no collection): a test is slow when it or its module carries
``pytest.mark.slow`` (a decorator, or ``pytestmark``). A file whose every test is slow must be listed
in :data:`WHOLLY_SLOW` with the reason, so that a module never drops out of the fast tier unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

#: Files with no fast test, by design: every test needs the same long fixture or a fresh whole run.
WHOLLY_SLOW = {
    "test_workflow_run.py": "every test reads one tiny whole-workflow run (its module fixture)",
    "test_report_browser.py": "renders the tiny run's report in headless Chromium",
    "test_cli_distill.py": "one test: train, evaluate, export and predict through the CLI in subprocesses",
    "test_cli_training.py": "experiment, sweep and tables through the CLI in subprocesses on simulated data",
    "test_device_check.py": "one test: benchmarks/device_check.sh end to end on the CPU",
    "test_predict_faces.py": "every test runs predict-faces on a student trained and exported once (module fixture)",
    "test_guards_provenance.py": "every test hashes every command's code in an edited copy of the package",
    "reliability/test_interrupted.py": "every test kills a run mid-way and resumes it",
    "reliability/test_determinism.py": "every test compares the outputs of two fresh processes",
    "reliability/test_content.py": "one test: the whole corpus of content cases",
    "reliability/test_inputs.py": "one test: the whole corpus of unusual inputs",
    "reliability/test_tamper.py": "one test: every artifact tampered with every way",
}


def _is_slow_mark(node: ast.AST) -> bool:
    """``pytest.mark.slow`` or ``pytest.mark.slow(...)``."""
    if isinstance(node, ast.Call):
        node = node.func
    return isinstance(node, ast.Attribute) and node.attr == "slow" and isinstance(node.value, ast.Attribute) \
        and node.value.attr == "mark"


def _module_is_slow(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            marks = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            return any(_is_slow_mark(m) for m in marks)
    return False


def _tests(tree: ast.Module):
    """(name, slow) of every test function, methods of ``Test*`` classes included."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            cls_slow = any(_is_slow_mark(d) for d in node.decorator_list)
            for f in node.body:
                if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name.startswith("test"):
                    yield f"{node.name}.{f.name}", cls_slow or any(_is_slow_mark(d) for d in f.decorator_list)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            yield node.name, any(_is_slow_mark(d) for d in node.decorator_list)


def _census() -> dict:
    """``{relative path: (n_tests, n_fast)}`` of every test file under tests/."""
    out = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        tests = list(_tests(tree))
        slow_module = _module_is_slow(tree)
        out[path.relative_to(TESTS).as_posix()] = (len(tests), sum(not (s or slow_module) for _, s in tests))
    return out


def test_every_test_file_has_a_fast_test_unless_listed():
    census = _census()
    assert "test_markers.py" in census and census["test_markers.py"][1] >= 1
    no_fast = sorted(f for f, (n, fast) in census.items() if n and not fast)
    unlisted = [f for f in no_fast if f not in WHOLLY_SLOW]
    assert not unlisted, (f"expected a fast test (not marked slow) in every test file, but found none in {unlisted}: "
                          f"keep one small test fast, or list the file in WHOLLY_SLOW with the reason")
    stale = sorted(f for f in WHOLLY_SLOW if f not in no_fast)
    assert not stale, f"expected WHOLLY_SLOW to list only files without a fast test, but {stale} have one (or are gone)"


@pytest.mark.parametrize("source, slow", [
    ("@pytest.mark.slow\ndef test_a(): pass\n", [True]),
    ("@pytest.mark.slow()\ndef test_a(): pass\ndef test_b(): pass\n", [True, False]),
    ("@pytest.mark.parametrize('x', [1])\ndef test_a(x): pass\n", [False]),
    ("class TestA:\n    @pytest.mark.slow\n    def test_a(self): pass\n    def test_b(self): pass\n", [True, False]),
])
def test_the_census_reads_decorators(source, slow):
    assert [s for _, s in _tests(ast.parse(source))] == slow


@pytest.mark.parametrize("source, slow", [
    ("pytestmark = pytest.mark.slow\n", True),
    ("pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('x')]\n", True),
    ("pytestmark = pytest.mark.usefixtures('one_torch_thread')\n", False),
    ("import pytest\n", False),
])
def test_the_census_reads_module_marks(source, slow):
    assert _module_is_slow(ast.parse(source)) is slow
