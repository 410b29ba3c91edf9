"""The fault harness itself: each outcome is reported when, and only when, it happens."""

from __future__ import annotations

import ctypes
import time

import numpy as np
import pytest

from neuroaffect._utils import DatasetFormatError
from reliability.harness import Case, classify, run_case


def _refuse():
    raise DatasetFormatError("/data/s01.dat", "a dict", "a list")


def _not_found():
    raise FileNotFoundError("/data: expected s01.dat, but found no such file")


@pytest.mark.parametrize("case, outcome", [
    (Case("ok", "t", lambda: 1, "read"), "read"),
    (Case("either-read", "t", lambda: 2, "either", check=lambda r: r == 2), "read"),
    (Case("refused", "t", _refuse, "reject", ("s01.dat",)), "rejected"),
    (Case("refused-either", "t", _refuse, "either", ("/data",)), "rejected"),
    (Case("not-found", "t", _not_found, "reject", ("/data",)), "rejected"),
    (Case("refused-unnamed", "t", _refuse, "reject", ("s02.dat",)), "escape"),
    (Case("foreign", "t", lambda: {}["k"], "reject"), "escape"),
    (Case("memory", "t", lambda: np.ones(3 << 30, dtype=np.uint8), "read"), "escape"),
    (Case("crash", "t", lambda: ctypes.string_at(0), "reject"), "escape"),
    (Case("accepted", "t", lambda: 1, "reject"), "wrong"),
    (Case("differs", "t", lambda: 1, "either", check=lambda r: r == 2), "wrong"),
    (Case("config", "t", lambda: (_ for _ in ()).throw(KeyError("'epoch' was unexpected")), "reject",
          ("epoch",), errors=(KeyError,)), "rejected"),
], ids=lambda x: x.name if isinstance(x, Case) else x)
def test_outcomes(case, outcome):
    assert classify(case, timeout_s=20, mem_bytes=1 << 30) == outcome


@pytest.mark.slow
def test_hang_is_killed():
    t0 = time.perf_counter()
    result = run_case(Case("sleep", "t", lambda: time.sleep(60), "read"), timeout_s=0.5)
    assert result.outcome == "hang" and time.perf_counter() - t0 < 30


def test_expect_is_checked():
    with pytest.raises(ValueError, match="'expect'"):
        Case("x", "t", lambda: 1, "maybe")
