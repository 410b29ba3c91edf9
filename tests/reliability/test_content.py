"""Artifacts that keep their checksums but break their meaning (content-invalid grids, students and
teachers with recomputed checksums, swapped roles, JSON nested 100,000 deep, npz members declaring
gigabytes, truncated ONNX) are refused with the package's own error naming the file, in a forked
worker under a memory limit and a timeout: no escape, no hang, no silently wrong read."""

from __future__ import annotations

from collections import Counter

import pytest

from reliability.content import cases
from reliability.harness import MUST_BE_ZERO, Case, classify_many

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.slow
def test_every_content_case_is_read_or_refused_cleanly(tmp_path):
    all_cases = [Case(f"content/{name}", "content", load, expect, (str(tmp_path),))
                 for name, load, expect in cases(tmp_path)]
    kinds = Counter((c.name.split("/")[1], c.expect) for c in all_cases)
    for kind in ("grid", "student", "onnx", "teacher"):
        assert kinds[(kind, "read")] >= 1 and kinds[(kind, "reject")] >= 1, kind
    results = classify_many(all_cases, timeout_s=60, mem_bytes=1 << 30)
    bad = [f"{r.case.name}: {r.outcome}: {r.detail}" for r in results if r.outcome in MUST_BE_ZERO]
    assert not bad, "\n".join(bad)
    outcomes = Counter(r.outcome for r in results)
    assert outcomes["read"] == sum(c.expect == "read" for c in all_cases)
    assert outcomes["rejected"] == sum(c.expect == "reject" for c in all_cases)
