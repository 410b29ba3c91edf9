"""Progress of long steps: a tqdm bar on a terminal, one status line per step in a log.

Library functions stay silent unless a caller turns progress on (the command line does, unless
``--no-progress``): :func:`progress_enabled` sets it for the code that runs inside it, and the
loops of long steps (one subject simulated, one subject's features, a chunk of faces drawn) report
through :class:`Progress`. On a terminal the bar redraws in place; anywhere else (a workflow log)
each step prints one line such as ``[simulate deap] subject 3/32, 41.0 s, ETA 6.2 min``.
No torch here.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from typing import Iterator

__all__ = ["Progress", "progress_enabled", "progress_range"]

_ON = contextvars.ContextVar("neuroaffect_progress", default=False)


@contextlib.contextmanager
def progress_enabled(on: bool = True) -> Iterator[None]:
    """Turn progress reporting on (or off) for the code run inside the ``with`` block."""
    token = _ON.set(bool(on))
    try:
        yield
    finally:
        _ON.reset(token)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Count ``total`` units of one step; silent unless progress is on (:func:`progress_enabled`).

    Parameters
    ----------
    total : int | None
        Units the step has (subjects, images); None when not known in advance (no ETA then).
    label : str
        What runs, e.g. ``"simulate deap"``.
    unit : str
        The unit's name, singular (``"subject"``, ``"image"``).
    stream : file object | None
        Where to report; ``sys.stderr`` by default.
    """

    def __init__(self, total: int | None, label: str, unit: str = "subject", stream=None):
        self.total, self.label, self.unit = None if total is None else int(total), label, unit
        self.stream = stream or sys.stderr
        self.on = _ON.get()
        self.done = 0
        self.t0 = time.perf_counter()
        self._bar = None
        if self.on and getattr(self.stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, desc=label, unit=unit, file=self.stream, leave=False)

    def update(self, n: int = 1) -> None:
        """``n`` more units are done: advance the bar, or print one status line."""
        self.done += int(n)
        if not self.on:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        elapsed = time.perf_counter() - self.t0
        if self.total is None:
            print(f"[{self.label}] {self.unit} {self.done}, {_duration(elapsed)}", file=self.stream, flush=True)
            return
        eta = elapsed / max(self.done, 1) * max(self.total - self.done, 0)
        print(f"[{self.label}] {self.unit} {self.done}/{self.total}, {_duration(elapsed)}, ETA {_duration(eta)}",
              file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress_range(start: int, stop: int, label: str, unit: str = "subject") -> Iterator[int]:
    """``range(start, stop)``, reporting each finished item through :class:`Progress`."""
    p = Progress(stop - start, label, unit)
    try:
        for i in range(start, stop):
            yield i
            p.update(1)
    finally:
        p.close()
