"""A structural check of a MATLAB v5 file, run before :func:`scipy.io.loadmat` opens it.

scipy's MATLAB reader trusts the element tags of the file: an unknown data type code in a
corrupted file can crash the interpreter (a segmentation fault, not an exception). This walk
reads every element tag (compressed variables decompressed, within a bound) and refuses, as a
:class:`~neuroaffect._utils.DatasetFormatError` naming the file, anything that is not a
well-formed numeric, char, logical, cell or struct array: unknown data types and array classes,
lengths beyond their container, dimensions whose data does not fill the declared bytes, field
name tables that do not add up, nesting deeper than :data:`MAX_DEPTH`. It decodes no values.
"""

from __future__ import annotations

import struct
import zlib

from .._utils import DatasetFormatError, check_regular_file

__all__ = ["MAX_DEPTH", "MAX_INFLATED", "check_mat5", "load_mat5"]

#: Deepest nesting of cells and structs accepted.
MAX_DEPTH = 32
#: Largest decompressed size of one compressed variable, bytes.
MAX_INFLATED = 1 << 30
# data type code -> item size in bytes (miMATRIX 14 and miCOMPRESSED 15 are containers)
_ITEM = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4}
_CELL, _STRUCT, _CHAR = 1, 2, 4
_NUMERIC_CLASSES = frozenset({_CHAR, *range(6, 16)})  # char, double .. uint64
_NUMBER_TYPES = frozenset(_ITEM) - {16, 17, 18}
_CHAR_TYPES = frozenset(_ITEM)


class _Bad(Exception):
    """The walk found a malformed element (its description)."""


def _tag(buf: bytes, pos: int, end: int) -> tuple[int, int, int, int]:
    """(data type, nbytes, start of data, end of element incl. padding) of the element at ``pos``."""
    if pos + 8 > end:
        raise _Bad(f"an element tag at byte {pos} beyond its container's end ({end})")
    dtype, nbytes = struct.unpack_from("<II", buf, pos)
    if dtype >> 16:  # small data element: 2-byte size, 2-byte type, data in the next 4 bytes
        dtype, nbytes = dtype & 0xFFFF, dtype >> 16
        if nbytes > 4:
            raise _Bad(f"a small element of {nbytes} bytes (at most 4) at byte {pos}")
        return dtype, nbytes, pos + 4, pos + 8
    stop = pos + 8 + nbytes
    padded = stop if dtype == 15 else stop + (-nbytes) % 8
    if stop > end:
        raise _Bad(f"an element of {nbytes} bytes at byte {pos} running past its container's end ({end})")
    return dtype, nbytes, pos + 8, min(padded, end)


def _data(buf: bytes, pos: int, end: int, types, what: str) -> tuple[int, int, int, int]:
    """(data type, nbytes, start of data, start of the next element) of a subelement of a type in ``types``."""
    dtype, nbytes, start, stop = _tag(buf, pos, end)
    if dtype not in types:
        raise _Bad(f"{what} of data type {dtype} at byte {pos}")
    return dtype, nbytes, start, stop


def _matrix(buf: bytes, pos: int, end: int, depth: int) -> None:
    """Walk the body of one miMATRIX element spanning ``[pos, end)``."""
    if depth > MAX_DEPTH:
        raise _Bad(f"cells or structs nested deeper than {MAX_DEPTH}")
    if pos == end:  # an empty matrix element (MATLAB writes these for [])
        return
    _, n, start, pos = _data(buf, pos, end, {6}, "array flags")
    if n != 8:
        raise _Bad(f"array flags of {n} bytes (8 expected)")
    flags = struct.unpack_from("<I", buf, start)[0]
    cls, is_complex = flags & 0xFF, bool(flags & 0x800)
    _, n, start, pos = _data(buf, pos, end, {5}, "dimensions")
    if n < 8 or n % 4:
        raise _Bad(f"{n // 4} dimensions (at least 2 expected)")
    dims = struct.unpack_from(f"<{n // 4}i", buf, start)
    if min(dims) < 0:
        raise _Bad(f"negative dimensions {dims}")
    count = 1
    for d in dims:
        count *= d
    _, _, _, pos = _data(buf, pos, end, {1}, "the array name")
    if cls == _CELL:
        for _ in range(count):
            pos = _element(buf, pos, end, depth + 1, nested=True)
    elif cls == _STRUCT:
        _, n, start, pos = _data(buf, pos, end, {5}, "the field name length")
        if n != 4:
            raise _Bad(f"a field name length of {n} bytes (4 expected)")
        fnl = struct.unpack_from("<i", buf, start)[0]
        _, n, _, pos = _data(buf, pos, end, {1}, "the field names")
        if fnl < 1 or n % fnl:
            raise _Bad(f"field names of {n} bytes for a field name length of {fnl}")
        for _ in range(count * (n // fnl)):
            pos = _element(buf, pos, end, depth + 1, nested=True)
    elif cls in _NUMERIC_CLASSES:
        for _ in range(2 if is_complex else 1):
            dtype, n, _, pos = _data(buf, pos, end, _CHAR_TYPES if cls == _CHAR else _NUMBER_TYPES, "numeric data")
            if dtype not in (16, 17, 18) and n != count * _ITEM[dtype]:  # UTF-8/16 text: variable width
                raise _Bad(f"{n} bytes of data for dimensions {dims} of {_ITEM[dtype]}-byte items")
    else:
        raise _Bad(f"an array of class {cls} (sparse, object or function handle)")


def _element(buf: bytes, pos: int, end: int, depth: int, nested: bool = False) -> int:
    """Walk one top-level or nested element at ``pos``; return where the next one starts."""
    dtype, nbytes, start, stop = _tag(buf, pos, end)
    if dtype == 15 and not nested:
        try:
            inflated = zlib.decompressobj().decompress(buf[start:start + nbytes], MAX_INFLATED)
        except zlib.error as err:
            raise _Bad(f"a compressed variable at byte {pos} that does not decompress ({err})") from None
        sub_end = len(inflated)
        p = 0
        while p < sub_end:
            p = _element(inflated, p, sub_end, depth)
        return stop
    if dtype != 14:
        raise _Bad(f"an element of data type {dtype} at byte {pos} where an array (miMATRIX, 14) belongs")
    _matrix(buf, start, start + nbytes, depth)
    return stop


def check_mat5(fname, raw: bytes) -> None:
    """Refuse ``raw`` (the bytes of ``fname``) unless it is a well-formed little-endian MATLAB v5 file.

    Parameters
    ----------
    fname : path-like
        The file, for the message.
    raw : bytes
        Its content.

    Raises
    ------
    DatasetFormatError
        The header is not MATLAB v5 (little-endian, version 0x0100), or an element is malformed
        (see the module docstring); the message names the file and the first fault.
    """
    if len(raw) < 128 or raw[124:128] != b"\x00\x01IM":
        raise DatasetFormatError(fname, "a little-endian MATLAB v5 file (version 0x0100, 'IM' at byte 126)",
                                 f"{len(raw)} bytes, bytes 124-127 {raw[124:128]!r}")
    try:
        pos = 128
        while pos < len(raw):
            pos = _element(raw, pos, len(raw), 0)
    except _Bad as err:
        raise DatasetFormatError(fname, "a well-formed MATLAB v5 file of numeric, char, cell and struct arrays",
                                 str(err)) from None


def load_mat5(fname) -> dict:
    """The variables of a MATLAB v5 file, its structure checked first (:func:`check_mat5`).

    Raises
    ------
    FileNotFoundError
        No such file.
    DatasetFormatError
        Not a regular file, a structure scipy could not survive, or a file scipy cannot read; the
        message names ``fname``.
    """
    import io

    import scipy.io

    path = check_regular_file(fname, "a MATLAB file")
    raw = path.read_bytes()
    check_mat5(path, raw)  # scipy trusts element tags: a corrupted one can crash the interpreter
    try:
        return scipy.io.loadmat(io.BytesIO(raw))
    except Exception as err:  # scipy raises OSError, ValueError, zlib.error, MatReadError, ...
        raise DatasetFormatError(path, "a complete MATLAB v5 file",
                                 f"an unreadable file ({type(err).__name__}: {err})") from err
