"""What the workflow's code hash covers: a change in a module a command imports, however deep (and
lazily, inside a function), changes that command's hash and not an unrelated command's; a docstring
or comment change changes none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from test_provenance import package_copy  # noqa: F401  (the fixture: an editable copy of the package)

from neuroaffect_workflow import commands, provenance  # (workflow/lib, put on sys.path by test_provenance)


def _hashes():
    for f in (provenance._parse, provenance._module_digest):
        f.cache_clear()
    return provenance.command_hashes(commands.command_handlers(), cache=None)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) >= 1, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.slow
def test_a_change_deep_in_the_distillation_loss_reruns_the_student_and_not_the_features(package_copy):
    before = _hashes()
    losses = package_copy / "distill" / "losses.py"
    # docstrings (module, class, function) and comments: no command changes
    _edit(losses, '"""', '"""Reworded. ')
    losses.write_text(re.sub(r'(\n    """)', r'\1Reworded. ', losses.read_text(), count=1))  # a def's docstring
    losses.write_text(losses.read_text() + "\n# a trailing comment\n")
    assert _hashes() == before
    # one constant of the code: the commands that train or load a student change, feature extraction not
    losses.write_text(losses.read_text() + "\n_PLANTED = 1\n")
    after = _hashes()
    assert after["train-student"] != before["train-student"]
    for unrelated in ("features", "simulate", "summarize"):
        assert after[unrelated] == before[unrelated], unrelated


@pytest.mark.slow
def test_a_change_in_the_band_power_code_reruns_features_and_the_sweep_not_the_face_commands(package_copy):
    before = _hashes()
    bde = package_copy / "features" / "bde.py"
    bde.write_text(bde.read_text() + "\n\ndef _planted():\n    return 2\n")
    after = _hashes()
    for affected in ("features", "sweep"):
        assert after[affected] != before[affected], affected
    for unrelated in ("predict-faces", "simulate"):
        assert after[unrelated] == before[unrelated], unrelated


@pytest.mark.slow
def test_a_change_in_the_shared_helpers_reruns_every_command_that_imports_them(package_copy):
    before = _hashes()
    utils = package_copy / "_utils.py"
    utils.write_text(utils.read_text() + "\n_PLANTED = 3\n")
    after = _hashes()
    for command in ("features", "sweep", "train-student", "simulate"):
        assert after[command] != before[command], command
