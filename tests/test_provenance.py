"""The code-version input of the workflow: which package code a command runs, and its hash."""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "workflow" / "lib") not in sys.path:
    sys.path.insert(0, str(ROOT / "workflow" / "lib"))

from neuroaffect_workflow import commands, provenance  # noqa: E402  (workflow tooling, outside the package)

PACKAGE = provenance._ROOT


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """Point the provenance scan at an editable copy of the package (caches cleared before and after)."""
    copy = tmp_path / "neuroaffect"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))

    def clear():
        for f in (provenance._module_file, provenance._parse, provenance._defining_module, provenance._direct_uses,
                  provenance._module_digest, provenance._lazy_table):
            f.cache_clear()

    clear()
    monkeypatch.setattr(provenance, "_ROOT", copy)
    yield copy
    clear()


def _handler(command):
    return commands.command_handlers([command])[command]


@pytest.mark.slow
def test_each_command_runs_its_own_stage_and_not_the_others():
    features = provenance.function_code(_handler("features"))
    assert {"neuroaffect.features.bde", "neuroaffect.io.deap", "neuroaffect.cli.data"} <= set(features)
    assert not any(m.startswith(("neuroaffect.training", "neuroaffect.distill", "neuroaffect.models"))
                   for m in features)
    student = provenance.function_code(_handler("train-student"))
    assert {"neuroaffect.distill.losses", "neuroaffect.training.engine", "neuroaffect.prototypes.io"} <= set(student)
    assert "neuroaffect.prototypes.teacher" not in student  # the grid is loaded, not built
    sweep = provenance.function_code(_handler("sweep"))
    assert "neuroaffect.training.sweep" in sweep and not any(m.startswith("neuroaffect.distill") for m in sweep)


def test_lazy_and_computed_imports_count_the_whole_package():
    # io.list_subjects picks the reader with importlib.import_module(f".{dataset}")
    closure = provenance.module_closure(["neuroaffect.io"])
    assert {"neuroaffect.io.deap", "neuroaffect.io.dreamer", "neuroaffect.io.seed", "neuroaffect.io.mahnob"} <= \
        set(closure)


def test_hash_ignores_comments_docstrings_and_layout_but_not_code(package_copy):
    modules = provenance.module_closure(["neuroaffect.features.bde"])
    before = provenance.source_hash(modules)
    bde = package_copy / "features/bde.py"
    text = bde.read_text()
    edited = text.replace('"""', '"""Reworded: ', 1) + "\n\n# a comment\n"
    bde.write_text(edited)
    provenance._parse.cache_clear()
    provenance._module_digest.cache_clear()
    assert provenance.source_hash(modules) == before
    bde.write_text(edited + "\n_CONSTANT = 2\n")
    provenance._parse.cache_clear()
    provenance._module_digest.cache_clear()
    assert provenance.source_hash(modules) != before


@pytest.mark.slow
def test_every_command_a_rule_runs_has_a_code_hash():
    hashes = provenance.command_hashes(commands.command_handlers())
    assert set(hashes) == set(commands.COMMAND_PARSERS) >= set(commands.RULE_COMMANDS.values())
    assert all(len(h) == 64 for h in hashes.values())
    assert hashes["features"] != hashes["train-student"]


def test_the_declared_parsers_are_the_ones_the_command_line_builds():
    import importlib

    from neuroaffect import cli

    assert set(commands.COMMAND_PARSERS) == set(cli._COMMANDS)
    for command, where in commands.COMMAND_PARSERS.items():
        module, adder = where.split(":")
        assert cli._COMMANDS[command] is getattr(importlib.import_module(f"neuroaffect.cli.{module}"), adder), command


def test_the_hash_cache_is_kept_beside_snakemake_state_not_in_the_package():
    assert provenance.CACHE.parts[0] == ".snakemake" and not provenance.CACHE.is_absolute()


@pytest.mark.slow
def test_hashes_are_kept_while_no_source_file_changes(tmp_path):
    import json

    parser = commands.command_handlers()
    cache = tmp_path / "hashes.json"
    fresh = provenance.command_hashes(parser, cache=None)
    assert provenance.command_hashes(parser, cache=cache) == fresh
    kept = json.loads(cache.read_text())
    assert kept["hashes"] == fresh and kept["signature"] == provenance._tree_signature()
    # read back while the signature holds (a planted value shows it was not recomputed) ...
    cache.write_text(json.dumps({"signature": kept["signature"], "hashes": {**fresh, "features": "planted"}}))
    assert provenance.command_hashes(parser, cache=cache)["features"] == "planted"
    # ... and recomputed once it does not, or when the file is unreadable
    cache.write_text(json.dumps({"signature": "other", "hashes": {**fresh, "features": "planted"}}))
    assert provenance.command_hashes(parser, cache=cache) == fresh
    cache.write_text("{not json")
    assert provenance.command_hashes(parser, cache=cache) == fresh


def test_every_rule_that_runs_a_command_is_in_the_declared_table():
    """Each rule's shell text (read here, in the test only) runs the command RULE_COMMANDS says it runs."""
    import re

    found = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0]
            command = re.search(r'"neuroaffect ([a-z][a-z-]*)', block)
            if command:
                found[name] = command.group(1)
    assert found == dict(commands.RULE_COMMANDS)


def test_the_package_never_imports_the_workflow_tooling():
    offenders = [str(f) for f in PACKAGE.rglob("*.py") if "neuroaffect_workflow" in f.read_text(encoding="utf-8")]
    assert offenders == []


def test_a_lazily_served_name_is_traced_to_its_module_not_the_whole_package():
    # neuroaffect.distill serves its names from a _LAZY table: a command importing one of them reaches that
    # module (and what it imports), not every module of the package
    table = provenance._lazy_table("neuroaffect.distill")
    assert table and all(provenance._module_file(f"neuroaffect.distill.{m.lstrip('.')}") for m in table.values())
    name, module = next(iter(table.items()))
    assert provenance._defining_module("neuroaffect.distill", name) == f"neuroaffect.distill.{module.lstrip('.')}"
    assert provenance._literal_table(__import__("ast").parse("{'a': f()}").body[0].value) == {}  # not literal: {}
