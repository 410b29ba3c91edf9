"""Small shared helpers: exceptions, argument checks, hashing and atomic writes.

Nothing here imports torch, mne or snakemake.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

__all__ = [
    "TEMP_SUFFIX",
    "ArtifactIntegrityError",
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
    "check_regular_file",
    "check_shape",
    "check_sfreq",
    "check_subjects",
    "code_version",
    "config_hash",
    "content_sha256",
    "find_sidecar",
    "load_json_bounded",
    "loads_json_bounded",
    "remove_stale_temps",
    "sha256_file",
    "temp_prefix",
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


class ArtifactIntegrityError(DatasetFormatError):
    """An artifact's content differs from the checksum written into it when it was made.

    The file was changed (a flipped byte, an edit, a partial copy) after it was written: it is
    refused rather than read as data. The message names the file and both checksums.
    """

    def __init__(self, fname, expected: str, found: str,
                 hint: str = "the file was changed after it was written; delete it and rebuild it"):
        super().__init__(fname, f"content sha256 {expected}", f"{found} ({hint})")


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


def check_regular_file(fname: str | os.PathLike, what: str) -> Path:
    """Return ``fname`` as a Path if it is a regular file (a FIFO would block a read, a device never end it).

    Parameters
    ----------
    fname : path-like
    what : str
        What the caller expects there, for the message (e.g. ``"a MATLAB file"``).

    Raises
    ------
    FileNotFoundError
        Nothing is there (the message names the path and ``what``).
    DatasetFormatError
        The path cannot be read, or is a folder, FIFO, device or socket.
    """
    path = Path(fname)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: expected {what}, but found no such file") from None
    except (OSError, ValueError) as err:
        raise DatasetFormatError(path, what, f"a path that cannot be read ({err})") from None
    if not stat.S_ISREG(mode):
        raise DatasetFormatError(path, f"{what} (a regular file)",
                                 "a folder" if stat.S_ISDIR(mode) else "a FIFO, device or socket")
    return path


def sha256_file(fname: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(fname, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def content_sha256(obj: Any, convert=None) -> str:
    """sha256 of a nested structure of arrays and plain values, the checksum artifacts carry.

    Each value is fed with a type tag and its length, so distinct structures never collide by
    concatenation: ``None``, bools, integers (any width: by value), floats (as IEEE doubles, so a
    float32 and the float64 it widens to agree), strings, bytes, arrays (dtype, shape and C-order
    bytes; string and object arrays element by element as text), lists and tuples (alike), and
    dicts (in their iteration order). Arrays are hashed from their memory once, without copies when
    C-contiguous; string arrays of any width (``<U5``, object) hash alike.

    Parameters
    ----------
    obj : nested dict / list / tuple of arrays and plain values
    convert : callable | None
        ``convert(value) -> (tag, ndarray)`` for other types (e.g. torch tensors: a dtype-and-shape
        tag and a view of their bytes); ``TypeError`` for any type neither covers.

    Returns
    -------
    hexdigest : str
    """
    h = hashlib.sha256()
    _feed(h, obj, convert)
    return h.hexdigest()


def _feed_bytes(h, tag: bytes, data) -> None:
    h.update(tag + str(len(data)).encode() + b":")
    h.update(data)


def _feed(h, obj, convert) -> None:
    if obj is None:
        h.update(b"N")
    elif isinstance(obj, (bool, np.bool_)):
        h.update(b"T" if obj else b"F")
    elif isinstance(obj, (int, np.integer)):
        _feed_bytes(h, b"i", str(int(obj)).encode())
    elif isinstance(obj, (float, np.floating)):
        h.update(b"f" + struct.pack("<d", float(obj)))
    elif isinstance(obj, str):
        _feed_bytes(h, b"s", obj.encode("utf-8", "surrogatepass"))
    elif isinstance(obj, (bytes, bytearray)):
        _feed_bytes(h, b"y", bytes(obj))
    elif isinstance(obj, np.ndarray):
        _feed_array(h, "str" if obj.dtype.kind in "OUS" else obj.dtype.str, obj)
    elif isinstance(obj, dict):
        h.update(b"d" + str(len(obj)).encode() + b":")
        for k, v in obj.items():
            _feed(h, k, convert)
            _feed(h, v, convert)
    elif isinstance(obj, (list, tuple)):
        h.update(b"l" + str(len(obj)).encode() + b":")
        for v in obj:
            _feed(h, v, convert)
    elif convert is not None:
        tag, arr = convert(obj)
        _feed_array(h, tag, arr)
    else:
        raise TypeError(f"content_sha256: no checksum rule for a {type(obj).__name__}")


def _feed_array(h, tag: str, a: np.ndarray) -> None:
    h.update(b"a" + tag.encode() + str(a.shape).encode())
    if a.dtype.kind in "OUS":
        h.update(b"[")
        for v in a.ravel(order="C"):
            _feed(h, v if isinstance(v, str) else (v.decode("utf-8", "surrogateescape")
                                                    if isinstance(v, bytes) else str(v)), None)
        return
    a = np.ascontiguousarray(a)
    _feed_bytes(h, b"b", a.reshape(-1).view(np.uint8).data)


#: Largest artifact JSON file :func:`load_json_bounded` reads (bytes) and deepest nesting it parses.
JSON_MAX_BYTES = 64 << 20
JSON_MAX_DEPTH = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def loads_json_bounded(text, fname, what: str, *, error=DatasetFormatError, max_bytes: int = JSON_MAX_BYTES,
                       max_depth: int = JSON_MAX_DEPTH) -> Any:
    """Parse JSON text read from an artifact, refusing oversized or deeply nested text before parsing.

    The nesting depth is counted from the brackets outside string literals, so a document nested
    100,000 levels deep is refused with ``error`` (naming ``fname``) instead of reaching the
    parser's recursion.

    Parameters
    ----------
    text : str | bytes
    fname : path-like | None
        The file the text came from (named in the error).
    what : str
        What the file should hold, e.g. ``"the card of a prototype grid"``.
    error : type
        :class:`DatasetFormatError` or a subclass (the artifact's own error).
    max_bytes, max_depth : int

    Returns
    -------
    obj : the parsed value
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as err:
            raise error(fname, f"{what} (UTF-8 JSON)", f"undecodable bytes ({err})") from None
    if not isinstance(text, str):
        raise error(fname, f"{what} (JSON text)", f"a {type(text).__name__}")
    if len(text) > max_bytes:
        raise error(fname, f"{what} of at most {max_bytes} characters", f"{len(text)} characters")
    bare = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "surrogatepass"), np.uint8)
    step = np.isin(bare, np.frombuffer(b"[{", np.uint8)).astype(np.int64) \
        - np.isin(bare, np.frombuffer(b"]}", np.uint8))
    depth = int(np.cumsum(step).max()) if step.size else 0
    if depth > max_depth:
        raise error(fname, f"{what} nested at most {max_depth} levels deep", f"nesting {depth} levels deep")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise error(fname, f"{what} (JSON)", f"unreadable text ({type(err).__name__}: {err})") from None


def load_json_bounded(fname, what: str, *, error=DatasetFormatError, max_bytes: int = JSON_MAX_BYTES,
                      max_depth: int = JSON_MAX_DEPTH) -> Any:
    """Read an artifact's JSON file with :func:`loads_json_bounded` (its size checked before reading).

    A missing file raises ``error`` naming it.
    """
    fname = Path(fname)
    try:
        size = fname.stat().st_size
        if size > max_bytes:
            raise error(fname, f"{what} of at most {max_bytes} bytes", f"{size} bytes")
        data = fname.read_bytes()
    except OSError as err:
        raise error(fname, what, f"no readable file ({type(err).__name__}: {err.strerror or err})") from None
    return loads_json_bounded(data, fname, what, error=error, max_bytes=max_bytes, max_depth=max_depth)


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


#: Suffix of the temporary files of :func:`atomic_path`; no output of the package ends with it.
TEMP_SUFFIX = ".tmp"


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a pid: leave it alone
    return True


def remove_stale_temps(fname: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that writers of ``fname`` killed on this host left behind.

    A temporary file of :func:`atomic_path` is named ``.<name>.<pid>@<host>.<random>.tmp``
    (hidden, and ending in ``.tmp``, so no output pattern or glob of the package matches it). Those
    of ``fname`` whose writing process no longer runs on this host are removed; files of live
    processes or of other hosts are left alone. Returns the paths removed.
    """
    fname = Path(fname)
    pattern = re.compile(rf"^\.{re.escape(fname.name)}\.(\d+)@([A-Za-z0-9_-]+)\.[^.]+{re.escape(TEMP_SUFFIX)}$")
    host, removed = _host_tag(), []
    try:
        candidates = list(fname.parent.iterdir())
    except OSError:
        return removed
    for p in candidates:
        m = pattern.match(p.name)
        if m and m.group(2) == host and not _pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
                removed.append(p)
    return removed


def temp_prefix(fname: str | os.PathLike) -> str:
    """Prefix of this process's temporary files for ``fname`` (see :func:`remove_stale_temps`)."""
    return f".{Path(fname).name}.{os.getpid()}@{_host_tag()}."


@contextlib.contextmanager
def atomic_path(fname: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``fname``; rename it onto ``fname`` on success.

    On an exception the temporary file is removed and ``fname`` is left untouched. A process
    killed while writing cannot clean up: its temporary file (``.<name>.<pid>@<host>.<random>.tmp``)
    is removed by the next write of ``fname`` (:func:`remove_stale_temps`).
    """
    fname = Path(fname)
    fname.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(fname)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(fname), suffix=TEMP_SUFFIX, dir=fname.parent)
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


def find_sidecar(root):
    """The simulator's ``simulation.json`` for a dataset root (or a file below it): in ``root`` or up to
    three folders above it; ``None`` when there is none (the data were not simulated)."""
    from pathlib import Path

    root = Path(root)
    for folder in (root, *root.parents[:3]):
        f = folder / "simulation.json"
        if f.is_file():
            return f
    return None

