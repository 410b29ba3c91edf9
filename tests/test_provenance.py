"""The code-version input of the workflow: which package code a command runs, and its hash."""

import shutil
from pathlib import Path

import pytest

from neuroaffect.pipeline import provenance

PACKAGE = Path(provenance.__file__).resolve().parent.parent


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """Point the provenance scan at an editable copy of the package (caches cleared before and after)."""
    copy = tmp_path / "neuroaffect"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))

    def clear():
        for f in (provenance._module_file, provenance._parse, provenance._defining_module, provenance._direct_uses,
                  provenance._module_digest):
            f.cache_clear()

    clear()
    monkeypatch.setattr(provenance, "_ROOT", copy)
    yield copy
    clear()


def _handler(command):
    from neuroaffect.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices[command].get_default("func")


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


def test_every_command_has_a_code_hash():
    from neuroaffect.cli import build_parser

    hashes = provenance.command_hashes(build_parser())
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(hashes) == set(sub.choices)
    assert all(len(h) == 64 for h in hashes.values())
    assert hashes["features"] != hashes["train-student"]


def test_hashes_are_kept_while_no_source_file_changes(tmp_path):
    import json

    from neuroaffect.cli import build_parser

    parser = build_parser()
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
