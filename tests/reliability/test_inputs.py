"""Unusual inputs (:mod:`reliability.inputs`): every one is read right or refused with the package's own
error naming the file; none escapes, hangs or is read wrong.

Each case runs in a forked worker under an address-space limit and a timeout
(:func:`reliability.harness.run_case`), so that a FIFO read by mistake counts as a hang instead of
stopping the test run; a read case's ``check`` compares the values read with the expected ones.
"""

from __future__ import annotations

from collections import Counter

import pytest

from reliability.harness import MUST_BE_ZERO, Case, run_case
from reliability.inputs import cases

#: Classes the module must cover (the first part of each case's name).
CLASSES = ("image", "special", "bomb", "ferplus", "affectnet", "ckplus", "seed", "deap")


@pytest.mark.slow
def test_every_unusual_input_is_read_right_or_refused(tmp_path):
    import pandas  # noqa: F401 - imported once here rather than in every forked worker

    all_cases = cases(tmp_path)
    names = [name for name, _, _ in all_cases]
    assert len(set(names)) == len(names)
    kinds = Counter(name.split("/")[0] for name in names)
    assert set(kinds) == set(CLASSES), kinds
    for name, load, expect in all_cases:
        assert expect in ("read", "reject"), name
        assert expect == "reject" or callable(getattr(load, "check", None)), f"{name}: a read without a check"
    results = [run_case(Case(name, "inputs", load, expect, (str(tmp_path),), getattr(load, "check", None)),
                        timeout_s=20, mem_bytes=1 << 30)
               for name, load, expect in all_cases]
    bad = [f"{r.case.name}: {r.outcome} ({r.detail})" for r in results if r.outcome in MUST_BE_ZERO]
    assert not bad, "\n".join(bad)
    for r in results:  # a read case read, a reject case refused
        assert r.outcome == ("read" if r.case.expect == "read" else "rejected"), (r.case.name, r.outcome, r.detail)
