"""Small shared helpers: exceptions, argument checks, hashing and atomic writes.

Nothing here imports torch, mne or snakemake.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

__all__ = [
    "DatasetFormatError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "check_finite",
    "check_int",
    "check_option",
    "check_positive_int",
    "check_real",
    "check_shape",
    "check_sfreq",
    "check_subjects",
    "code_version",
    "config_hash",
    "sha256_file",
]


class DatasetFormatError(ValueError):
    """A dataset file does not have the layout its reader expects.

    The message always names the file, what was expected and what was found.
    """

    def __init__(self, fname: str | os.PathLike | None, expected: str, found: str):
        self.fname = None if fname is None else str(fname)
        self.expected = expected
        self.found = found
        where = f"{self.fname}: " if self.fname is not None else ""
        super().__init__(f"{where}expected {expected}, but found {found}")


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed`` (MNE-style message)."""
    allowed = tuple(allowed)
    if value not in allowed:
        opts = ", ".join(repr(a) for a in allowed)
        raise ValueError(
            f"Invalid value for the {name!r} parameter. Allowed values are {opts}, "
            f"but got {value!r} instead."
        )
    return value


def check_int(name: str, value, minimum: int | None = None, allow_none: bool = False) -> int | None:
    """``value`` as ``int`` if it is an integer (not a bool) ``>= minimum``, else ``ValueError``.

    The one integer check of the package (MNE-style message naming the parameter).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or (minimum is not None and value < minimum):
        what = "an int" if minimum is None else ("a positive int" if minimum == 1 else f"an int >= {minimum}")
        raise ValueError(f"Invalid value for the {name!r} parameter: expected {what}, but got {value!r} instead.")
    return int(value)


def check_positive_int(name: str, value, allow_none: bool = False) -> int | None:
    """``check_int(name, value, minimum=1)``."""
    return check_int(name, value, 1, allow_none)


def check_real(name: str, value, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite ``float`` within the given bounds, else ``ValueError`` naming the range."""
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating)) \
        and np.isfinite(value)
    if ok:
        v = float(value)
        ok = (low is None or (v > low if low_open else v >= low)) and (high is None or (v < high if high_open else v <= high))
    if not ok:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
        rng = f" in {lo or '(-inf'}, {hi or 'inf)'}" if (low is not None or high is not None) else ""
        raise ValueError(f"Invalid value for the {name!r} parameter: expected a finite number{rng}, "
                         f"but got {value!r} instead.")
    return float(value)


def check_shape(arr: np.ndarray, expected: tuple, what: str, fname=None) -> np.ndarray:
    """Check ``arr.shape`` against ``expected`` (``None`` entries match any size)."""
    arr = np.asarray(arr)
    ok = arr.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, arr.shape)
    )
    if not ok:
        exp = "(" + ", ".join("any" if e is None else str(e) for e in expected) + ")"
        raise DatasetFormatError(fname, f"{what} of shape {exp}", f"shape {arr.shape}")
    return arr


def check_finite(arr: np.ndarray, what: str, fname=None) -> np.ndarray:
    """Raise if ``arr`` holds NaN or Inf; the message gives the count and first index."""
    arr = np.asarray(arr)
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DatasetFormatError(
            fname,
            f"finite values in {what}",
            f"{int(bad.sum())} NaN/Inf values (first at index {first})",
        )
    return arr


def check_sfreq(sfreq: float, expected: float, what: str, fname=None, rtol: float = 1e-3) -> float:
    """Check a sampling rate against the dataset's documented rate (Hz)."""
    try:
        sfreq = float(sfreq)
    except (TypeError, ValueError):
        raise DatasetFormatError(fname, f"{what} sampling rate {expected} Hz", repr(sfreq)) from None
    if not np.isfinite(sfreq) or abs(sfreq - expected) > rtol * expected:
        raise DatasetFormatError(fname, f"{what} sampling rate {expected} Hz", f"{sfreq} Hz")
    return sfreq


def check_subjects(subjects, available=None, where=None) -> list[int]:
    """Sorted unique 1-based subject numbers from an int or an iterable of ints.

    ``subjects=None`` means every subject in ``available``; a number not in ``available``
    (when given) raises ``ValueError`` naming ``where`` and the subjects it holds.
    """
    if subjects is None:
        if available is None:
            raise TypeError("subjects must be an int or an iterable of ints, got None")
        return sorted(int(a) for a in available)
    if isinstance(subjects, (int, np.integer)):
        subjects = [subjects]
    try:
        items = list(subjects)
    except TypeError:
        raise TypeError(f"subjects must be an int or an iterable of ints, got {subjects!r}") from None
    for s in items:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"subjects must be integers, got {s!r} ({type(s).__name__})")
        if s < 1:
            raise ValueError(f"subjects must be 1-based integers, got {s!r} in {subjects!r}")
    if available is not None:
        have = sorted(int(a) for a in available)
        missing = sorted({int(s) for s in items} - set(have))
        if missing:
            raise ValueError(
                f"Invalid value for the 'subjects' parameter. {where} holds subjects {have}, "
                f"but got {', '.join(map(str, missing))} instead."
            )
    return sorted({int(s) for s in items})


def sha256_file(fname: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(fname, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def config_hash(cfg: Any) -> str:
    """Stable sha256 of a JSON-serialisable configuration (keys sorted)."""
    blob = json.dumps(cfg, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def code_version() -> str:
    """Package version plus the git commit (and ``+dirty``) when run from a checkout."""
    from . import __version__

    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        return f"{__version__}+g{rev}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return __version__


@contextlib.contextmanager
def atomic_path(fname: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``fname``; rename it onto ``fname`` on success.

    On an exception the temporary file is removed and ``fname`` is left untouched.
    """
    fname = Path(fname)
    fname.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{fname.name}.", suffix=".tmp", dir=fname.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, fname)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(fname: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``fname`` atomically (temp file, fsync, rename)."""
    with atomic_path(fname) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(fname)


def atomic_write_text(fname: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``fname`` atomically."""
    return atomic_write_bytes(fname, text.encode("utf-8"))


def atomic_write_json(fname: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``fname`` atomically."""
    return atomic_write_text(fname, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serialisable")
