"""Every tampered artifact (feature file, checkpoint, sweep checkpoint, grid, student) is refused
with the package's own error naming the file; every intact one loads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from neuroaffect._utils import DatasetFormatError
from reliability.tamper import cases

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.slow
def test_every_tampered_artifact_is_refused_and_every_intact_one_read(tmp_path):
    all_cases = cases(tmp_path)
    kinds = Counter((name.split("/")[0], expect) for name, _, expect in all_cases)
    for kind in ("features", "checkpoint", "sweep", "grid", "student"):
        assert kinds[(kind, "read")] >= 1 and kinds[(kind, "reject")] >= 1, kind
    wrong = []
    for name, load, expect in all_cases:
        try:
            load()
        except DatasetFormatError as err:  # the package's error (integrity errors are a subclass)
            named = err.fname is not None and Path(err.fname).resolve().is_relative_to(tmp_path.resolve())
            if expect != "reject" or not named:
                wrong.append(f"{name}: {'refused' if named else 'refused without naming the file'}: {err}")
        except Exception as err:  # noqa: BLE001 - a foreign exception is a failure to report
            wrong.append(f"{name}: {type(err).__name__} escaped: {err}")
        else:
            if expect == "reject":
                wrong.append(f"{name}: the tampered file was accepted")
    assert not wrong, "\n".join(wrong)
