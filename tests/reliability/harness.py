"""Run one read of a (possibly corrupted) input in a worker process and say how it ended.

A :class:`Case` is a zero-argument callable that performs a read (a reader on a mutated copy of a
dataset, ``safe_load`` on a crafted pickle, ``read_features`` on a tampered file) and what it must
end in. :func:`classify` runs it in a child forked from this process (so that nothing is imported
again and each case starts from the same state), under an address-space limit and a timeout, and
returns one of :data:`OUTCOMES`:

``"read"``
    The read returned, the case allowed a read, and its ``check`` (when given) accepted the result.
``"rejected"``
    The package's own error for a bad input, naming the file: ``DatasetFormatError`` (or a
    subclass), or ``FileNotFoundError`` for a missing or misnamed file (``docs/formats.md``,
    "Errors"), whose message holds one of the case's ``names`` and the word ``expected``.
``"escape"``
    Any other exception (``MemoryError`` under the limit included), the package's error without
    the file's name, or a crash of the worker (a signal, e.g. a segfault).
``"hang"``
    No answer within ``timeout_s``.
``"wrong"``
    The read returned although the case expected a rejection, or its ``check`` refused the result:
    a silently wrong read.

Nothing here imports the package at module level, so ``benchmarks/fault_suite.py`` can import it
before it decides what to run. A process that has run torch with several intra-op threads can hang
its forked workers (OpenMP after ``fork``): call ``torch.set_num_threads(1)`` before such work.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import signal
import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

__all__ = ["Case", "MUST_BE_ZERO", "OUTCOMES", "Result", "classify", "classify_many", "is_clean_rejection", "run_case"]

#: Every outcome :func:`classify` returns.
OUTCOMES = ("read", "rejected", "escape", "hang", "wrong")
#: Outcomes that must never occur.
MUST_BE_ZERO = ("escape", "hang", "wrong")
EXPECTS = ("read", "reject", "either")


@dataclass(frozen=True)
class Case:
    """One read to try.

    Attributes
    ----------
    name : str
        Unique name, e.g. ``"deap/s01.dat/truncate@1234"``.
    category : str
        Group in the fault table, e.g. ``"reader:deap"``, ``"pickle"``, ``"tampered"``.
    read : callable
        Performs the read and returns its result; takes no argument.
    expect : {'read', 'reject', 'either'}
        ``"reject"``: only a clean rejection is right. ``"read"``: the read must return (and pass
        ``check``). ``"either"``: a clean rejection, or a read that passes ``check`` (a corrupted
        byte that leaves what is read unchanged).
    names : tuple of str
        Strings one of which a rejection's message must hold (the corrupted file's path, its
        dataset folder); empty: any message naming a file (``DatasetFormatError.fname`` set).
    check : callable | None
        ``check(result) -> bool``, run on a returned read in the worker; None accepts any result.
    errors : tuple of exception types
        The errors that count as a clean rejection when they name one of ``names`` (e.g. the
        workflow's config errors); empty: the package's errors for bad files (see the module
        docstring), whose message must also say what was ``expected``.
    """

    name: str
    category: str
    read: Callable[[], object]
    expect: str = "reject"
    names: tuple = ()
    check: Callable[[object], bool] | None = None
    errors: tuple = ()

    def __post_init__(self):
        if self.expect not in EXPECTS:
            raise ValueError(f"Invalid value for the 'expect' parameter. Allowed values are {EXPECTS}, "
                             f"but got {self.expect!r} instead.")


@dataclass(frozen=True)
class Result:
    """How one case ended: ``outcome`` in :data:`OUTCOMES` and a one-line ``detail``."""

    case: Case
    outcome: str
    detail: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def is_clean_rejection(err: BaseException, names: Sequence[str] = (), errors: tuple = ()) -> bool:
    """True for the package's own error on a bad input, naming the file (see the module docstring).

    ``errors``: other exception types to accept instead (their message must hold one of ``names``).
    """
    from neuroaffect._utils import DatasetFormatError

    if errors:
        return isinstance(err, errors) and any(str(n) in str(err) for n in names)
    if not isinstance(err, (DatasetFormatError, FileNotFoundError)):
        return False
    msg = str(err)
    if "expected" not in msg:
        return False
    if names:
        return any(str(n) in msg for n in names)
    return getattr(err, "fname", None) is not None or isinstance(err, FileNotFoundError)


def _vm_bytes() -> int:
    """This process's address-space size (VmSize) in bytes; 0 when /proc is not there."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _run_child(case: Case, mem_bytes: int, conn) -> None:
    """Body of the worker: limit memory, run the read, send (outcome, detail) and exit."""
    import faulthandler

    faulthandler.disable()  # a crash is reported by the parent, without a dump of every thread here
    try:
        # The fork inherits this process's mappings: the limit is what is mapped now plus mem_bytes.
        limit = _vm_bytes() + int(mem_bytes)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    try:
        result = case.read()
    except BaseException as err:  # noqa: BLE001 - classifying every exception is the point
        if is_clean_rejection(err, case.names, case.errors):
            outcome, detail = "rejected", f"{type(err).__name__}: {err}"
        else:
            tb = traceback.extract_tb(err.__traceback__)
            where = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
            outcome, detail = "escape", f"{type(err).__name__}: {str(err)[:400]}{where}"
    else:
        try:
            ok = case.check is None or bool(case.check(result))
        except BaseException as err:  # noqa: BLE001
            ok, err_text = False, f"check raised {type(err).__name__}: {err}"
        else:
            err_text = "the read differs from the intact file's"
        if case.expect == "reject":
            outcome, detail = "wrong", "read although a rejection was expected"
        elif not ok:
            outcome, detail = "wrong", err_text
        else:
            outcome, detail = "read", ""
    try:
        conn.send((outcome, detail[:2000]))
    finally:
        conn.close()
        os._exit(0)


def classify(case: Case, timeout_s: float = 10, mem_bytes: int = 2 << 30) -> str:
    """Run ``case`` in a forked worker; return its outcome (one of :data:`OUTCOMES`).

    Parameters
    ----------
    case : Case
    timeout_s : float
        Seconds before the worker is killed and the case counts as a hang.
    mem_bytes : int
        Address space the worker may map beyond what this process maps when it forks
        (``RLIMIT_AS``); an allocation past it raises ``MemoryError``, which counts as an escape.

    Returns
    -------
    outcome : str
    """
    return run_case(case, timeout_s, mem_bytes).outcome


def run_case(case: Case, timeout_s: float = 10, mem_bytes: int = 2 << 30) -> Result:
    """:func:`classify`, returning the full :class:`Result` (outcome, detail, seconds)."""
    import time

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_run_child, args=(case, mem_bytes, child), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    child.close()
    try:
        if parent.poll(timeout_s):
            try:
                outcome, detail = parent.recv()
            except EOFError:
                outcome, detail = None, ""
        else:
            outcome, detail = "hang", f"no answer within {timeout_s:g} s"
    finally:
        if outcome == "hang" and proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
        proc.join(5)
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
            proc.join()
        parent.close()
    if outcome is None:
        code = proc.exitcode
        sig = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        outcome, detail = "escape", f"the worker died ({sig}) without an answer"
    return Result(case, outcome, detail, time.perf_counter() - t0)


def classify_many(cases: Iterable[Case], timeout_s: float = 10, mem_bytes: int = 2 << 30) -> list[Result]:
    """:func:`run_case` for each case, in order."""
    return [run_case(c, timeout_s, mem_bytes) for c in cases]
