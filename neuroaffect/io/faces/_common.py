"""Helpers shared by the face readers: CSV tables, numeric columns, pixel strings, file checks.

Every check raises :class:`~neuroaffect._utils.DatasetFormatError` (or ``FileNotFoundError`` for a
missing file) naming the file, what was expected and what was found; line numbers count the header
as line 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..._utils import DatasetFormatError
from ._files import MAX_TABLE_BYTES, open_regular

__all__ = [
    "check_files_exist", "line_of", "parse_numbers", "parse_pixels", "read_table", "require_columns",
    "require_complete_last_line", "require_file", "require_layout",
]

#: Largest magnitude of a whole number parsed from text (exact in float64, far inside int64).
_MAX_EXACT_INT = 2.0**53
#: Rows of pixel text parsed at once (bounds the memory of :func:`parse_pixels` to ~150 MB).
_PIXEL_CHUNK = 2048
_BYTE_KIND = np.full(256, 2, dtype=np.uint8)
_BYTE_KIND[48:58] = 1
_BYTE_KIND[[9, 10, 13, 32]] = 0


def line_of(row: int) -> int:
    """File line of data row ``row`` (0-based) of a CSV with one header line."""
    return int(row) + 2


def require_file(fname, what: str) -> Path:
    """``fname`` as a Path if it is a regular file: ``FileNotFoundError`` when it is missing (or a
    folder), :class:`~neuroaffect._utils.DatasetFormatError` when it is a FIFO, device or socket."""
    fname = Path(fname)
    try:
        open_regular(fname, what).close()
    except DatasetFormatError:
        if fname.is_dir():
            raise FileNotFoundError(f"{fname}: expected {what}, but found a folder") from None
        raise
    return fname


def read_table(fname, what: str):
    """Read a CSV file as a table of strings (empty cells are ``''``).

    Parameters
    ----------
    fname : path-like
        The CSV (UTF-8, optional byte-order mark, one header line).
    what : str
        What the file should be, for the messages (e.g. ``"the FERPlus vote table"``).

    Returns
    -------
    table : pandas.DataFrame
        One column of ``str`` per header field (names stripped of surrounding spaces).
    """
    import pandas as pd

    fname = require_file(fname, what)
    try:
        with open_regular(fname, what, max_bytes=MAX_TABLE_BYTES) as f:
            df = pd.read_csv(f, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig",
                             skipinitialspace=False, engine="c")
    except pd.errors.EmptyDataError:
        raise DatasetFormatError(fname, f"{what} (a CSV file with a header line)", "an empty file") from None
    except pd.errors.ParserError as err:
        msg = " ".join(str(err).split())
        raise DatasetFormatError(fname, f"{what}: a CSV table with the same number of fields on every line",
                                 f"a malformed table ({msg})") from None
    except UnicodeDecodeError as err:
        raise DatasetFormatError(fname, f"{what}: a UTF-8 text file",
                                 f"undecodable bytes at byte {err.start}") from None
    except DatasetFormatError:
        raise
    except (OSError, ValueError) as err:
        raise DatasetFormatError(fname, f"{what}: a readable CSV file", f"an unreadable file ({err})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df.fillna("")


def require_complete_last_line(df, fname, what: str) -> None:
    """Raise if the last line of the CSV ``fname`` (read into ``df``) has fewer fields than the header.

    pandas pads a short line with empty cells, so a file cut inside its last line reads as complete
    wherever an empty cell is allowed (e.g. AffectNet-mini's optional valence and arousal).
    """
    n_last = _last_line_fields(fname)
    if len(df) and n_last is not None and n_last < len(df.columns):
        raise DatasetFormatError(fname, f"{what}: {len(df.columns)} comma-separated fields on the last line, as "
                                 "in the header", f"{n_last} on line {line_of(len(df) - 1)} (a truncated file?)")


def _last_line_fields(fname, tail: int = 1 << 20) -> int | None:
    """Fields on the last non-blank line of a CSV (read from its last ``tail`` bytes); None if not found."""
    import csv

    with open_regular(fname, "a CSV table") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - tail))
        text = f.read().decode("utf-8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or (size > tail and len(lines) < 2):
        return None
    try:
        return len(next(csv.reader([lines[-1]])))
    except csv.Error:
        return None


def require_columns(df, fname, columns, what: str) -> None:
    """Raise unless the table ``df`` read from ``fname`` has every column of ``columns``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DatasetFormatError(
            fname, f"{what} with the columns {','.join(columns)}",
            f"the header {','.join(map(str, df.columns))} (missing: {', '.join(missing)})",
        )


def parse_numbers(cells, fname, column: str, *, integer: bool = False, low: float | None = None,
                  high: float | None = None, allow: tuple = (), empty=None, rows=None) -> np.ndarray:
    """Parse a column of numeric text, checking type and range.

    Parameters
    ----------
    cells : array-like of str, shape (n,)
        The column's cells.
    fname : path-like
        The file, for the messages.
    column : str
        The column's name, for the messages.
    integer : bool
        Require whole numbers (``3`` or ``3.0``); the result is int64.
    low, high : float | None
        Inclusive range every value must lie in (values of ``allow`` excepted).
    allow : tuple of float
        Extra values accepted outside the range (e.g. AffectNet's ``-2``).
    empty : float | None
        Value given to empty cells; None refuses empty cells.
    rows : ndarray of int, shape (n,) | None
        Data-row index of each cell in the file, for line numbers (default ``0 .. n - 1``).

    Returns
    -------
    values : ndarray of float64 or int64, shape (n,)
    """
    import pandas as pd

    cells = np.asarray(cells, dtype=object)
    stripped = pd.Series(cells, dtype=object).str.strip()
    vals = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=np.float64)
    is_empty = (stripped == "").to_numpy()
    checked = np.ones(len(vals), dtype=bool)
    if empty is not None:
        vals[is_empty] = empty
        checked = ~is_empty
    special = np.isin(vals, np.asarray(allow, dtype=np.float64)) if allow else np.zeros(len(vals), bool)
    bad = ~np.isfinite(vals)
    if integer:  # whole numbers that int64 and float64 both hold exactly
        bad |= np.isfinite(vals) & ((vals != np.round(vals)) | (np.abs(vals) > _MAX_EXACT_INT))
    if low is not None:
        bad |= (vals < low) & ~special
    if high is not None:
        bad |= (vals > high) & ~special
    bad &= checked
    kind = "whole numbers" if integer else "numbers"
    rng = ""
    if low is not None or high is not None:
        rng = f" in [{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
        if allow:
            rng += f" (or {', '.join(f'{a:g}' for a in allow)})"
    expected = f"{kind}{rng} in column {column!r}"
    if integer and (bad & (np.abs(vals) > _MAX_EXACT_INT)).any():
        expected += " (at most 2**53 in magnitude)"
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        row = i if rows is None else int(rows[i])
        raise DatasetFormatError(
            fname, expected,
            f"{str(cells[i])!r} on line {line_of(row)} ({int(bad.sum())} bad value(s) in the column)",
        )
    if integer:
        return np.where(np.isfinite(vals), vals, 0).astype(np.int64)
    return vals


def parse_pixels(cells, fname, column: str, n_pixels: int) -> np.ndarray:
    """Parse rows of space-separated integers 0-255 (e.g. FER2013's ``pixels``), vectorised.

    Parameters
    ----------
    cells : sequence of str, length n
        One pixel string per row.
    fname : path-like
        The file, for the messages.
    column : str
        The column's name, for the messages.
    n_pixels : int
        Values every row must hold (2304 = 48 x 48 for FER2013).

    Returns
    -------
    pixels : ndarray of uint8, shape (n, n_pixels)
    """
    cells = list(cells)
    out = np.empty((len(cells), n_pixels), dtype=np.uint8)
    expected = f"{n_pixels} space-separated integers 0-255 in column {column!r}"
    for start in range(0, len(cells), _PIXEL_CHUNK):
        chunk = cells[start:start + _PIXEL_CHUNK]
        try:
            buf = ("\n".join(chunk) + "\n").encode("ascii")
        except UnicodeEncodeError:
            i = next(k for k, c in enumerate(chunk) if not c.isascii())
            raise DatasetFormatError(fname, expected, f"non-ASCII text on line {line_of(start + i)}") from None
        b = np.frombuffer(buf, dtype=np.uint8)
        kind = _BYTE_KIND[b]  # 1 digit, 0 separator, 2 anything else
        newlines = np.flatnonzero(b == 10)
        if len(newlines) != len(chunk):  # a quoted cell holding a line break (two images in one cell?)
            i = next(k for k, c in enumerate(chunk) if "\n" in c)
            raise DatasetFormatError(fname, expected, "a line break inside the quoted cell on line "
                                     f"{line_of(start + i)} (several images in one cell?)")
        if (kind == 2).any():
            p = int(np.flatnonzero(kind == 2)[0])
            i = int(np.searchsorted(newlines, p))
            line_start = int(newlines[i - 1]) + 1 if i else 0
            raise DatasetFormatError(fname, expected, f"{_token_at(chunk[i], p - line_start)!r} on line "
                                     f"{line_of(start + i)}")
        digit = kind == 1
        starts = np.flatnonzero(digit[1:] & ~digit[:-1]) + 1
        if digit[0]:
            starts = np.concatenate([[0], starts])
        ends = np.flatnonzero(digit[:-1] & ~digit[1:]) + 1  # the buffer ends with a newline
        rows = np.searchsorted(newlines, starts)
        counts = np.bincount(rows, minlength=len(chunk))
        if (counts != n_pixels).any():
            i = int(np.flatnonzero(counts != n_pixels)[0])
            raise DatasetFormatError(
                fname, expected,
                f"{int(counts[i])} values on line {line_of(start + i)} (a truncated or padded pixel string)",
            )
        length = ends - starts
        val = b[ends - 1].astype(np.int32) - 48
        val += np.where(length >= 2, 10 * (b[np.maximum(ends - 2, 0)].astype(np.int32) - 48), 0)
        val += np.where(length >= 3, 100 * (b[np.maximum(ends - 3, 0)].astype(np.int32) - 48), 0)
        for k in np.flatnonzero(length > 3):  # leading zeros are fine ("0012"); anything else is > 255
            digits = buf[starts[k]:ends[k]].lstrip(b"0")
            val[k] = int(digits or b"0") if len(digits) <= 3 else 256
        if (val > 255).any():
            k = int(np.flatnonzero(val > 255)[0])
            raise DatasetFormatError(
                fname, expected, f"{buf[starts[k]:ends[k]].decode()[:20]!r} on line {line_of(start + int(rows[k]))}",
            )
        out[start:start + len(chunk)] = val.reshape(len(chunk), n_pixels)
    return out


def _token_at(text: str, pos: int) -> str:
    """The whitespace-delimited token of ``text`` that covers character ``pos``."""
    lo = text.rfind(" ", 0, pos) + 1
    hi = text.find(" ", pos)
    return text[lo:hi if hi >= 0 else len(text)][:20]


def check_files_exist(paths, listed_in, what: str, show: int = 5) -> None:
    """Raise ``FileNotFoundError`` naming ``listed_in`` and the first missing of ``paths``."""
    missing = [p for p in paths if not _is_file(p)]
    if missing:
        first = ", ".join(_clip(str(p)) for p in missing[:show])
        more = f" and {len(missing) - show} more" if len(missing) > show else ""
        raise FileNotFoundError(
            f"{listed_in}: expected every listed {what} to exist, but found {len(missing)} of {len(paths)} "
            f"missing: {first}{more}"
        )


def require_layout(dataset: str, root, need, kind: str) -> None:
    """Raise ``FileNotFoundError`` unless ``root`` holds each piece of ``need`` (file and folder names only).

    Parameters
    ----------
    dataset : str
        The dataset's name, for the message.
    root : path-like
        What the dataset's reader takes.
    need : list of (list of Path, str)
        Each piece: the paths any one of which will do, and what the reader expects there (for the message).
    kind : {'file', 'dir', 'any'}
        What each path must be: a file, a folder, or either.

    Raises
    ------
    FileNotFoundError
        Naming ``root`` when neither it nor any needed path exists, else the first missing piece's path,
        what the reader expects there and what was found.
    """
    root = Path(root)
    if not root.exists() and all(root not in paths for paths, _ in need):
        raise FileNotFoundError(f"{root}: expected the {dataset} root holding "
                                f"{' and '.join(what for _, what in need)}, but found no such file or folder")
    noun = {"file": "file", "dir": "folder"}.get(kind, "file or folder")
    for paths, what in need:
        ok = [p for p in paths if (p.is_file() if kind == "file" else p.is_dir() if kind == "dir" else p.exists())]
        if not ok:
            raise FileNotFoundError(f"{paths[0]}: expected {what}, but found no such {noun}")


def _is_file(path) -> bool:
    """``Path(path).is_file()``, False for a path the system refuses (a name too long, a NUL byte)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def _clip(text: str, n: int = 200) -> str:
    return text if len(text) <= n else f"{text[:n]}... ({len(text)} characters)"
