"""A restricted unpickler for files that should hold only numpy arrays (DEAP ``.dat``).

``pickle.load`` on a file from elsewhere can run arbitrary code: a pickle names any
importable callable and the unpickler calls it. :class:`NumpyOnlyUnpickler` resolves only
the few globals that numpy array reconstruction needs and refuses every other one *before*
anything is imported or called, so a crafted file fails without side effects.

Admitted globals (all other ``module.name`` pairs are refused):

=====================================  ===================================================
global                                 why
=====================================  ===================================================
``numpy.core.multiarray._reconstruct``  arrays pickled by Python 2 / numpy 1.x (the real
                                       DEAP files)
``numpy._core.multiarray._reconstruct`` arrays pickled by numpy 2
``numpy.ndarray``, ``numpy.dtype``     arguments of the reconstruction
``numpy(._)core.multiarray.scalar``    numpy scalars
``_codecs.encode``                     ``bytes`` under Python 3 protocols 0-2
``numpy(._)core.numeric._frombuffer``  out-of-band arrays under protocol 5
=====================================  ===================================================

The globals are mapped to the objects themselves rather than imported by name, so the
``numpy.core`` spelling of old files does not go through numpy's deprecated alias module.

:func:`load_arrays_hashed` reads the common case, a pickled dict of plain numeric arrays (the
DEAP layout), without running an unpickler at all: it interprets a small fixed set of opcodes,
accepts only the allowed globals above in the exact roles numpy's array pickles give them
(``_reconstruct(ndarray, (0,), 'b')``, ``dtype(code, 0, 1)`` of a plain numeric code, and
their ``BUILD`` states), and reads each array's bytes straight into a new numpy array. Anything
else makes it return ``None``, and the caller loads the file with
:class:`NumpyOnlyUnpickler`, which reports every refusal and format error as before.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import pickle
import re
import struct

import numpy as np

from .._utils import DatasetFormatError

__all__ = [
    "ALLOWED_GLOBALS", "NumpyOnlyUnpickler", "UnsafePickleError", "load_arrays_hashed", "safe_load",
    "safe_load_hashed",
]

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric


def _allowed_table() -> dict:
    table = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
             ("_codecs", "encode"): codecs.encode}
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = _multiarray._reconstruct
        table[(f"{core}.multiarray", "scalar")] = _multiarray.scalar
        table[(f"{core}.numeric", "_frombuffer")] = _numeric._frombuffer
    return table


_ALLOWED = _allowed_table()
#: The ``(module, name)`` pairs a pickle may reference; everything else is refused.
ALLOWED_GLOBALS = frozenset(_ALLOWED)


class UnsafePickleError(DatasetFormatError):
    """A pickle references a global outside :data:`ALLOWED_GLOBALS`; nothing was executed."""

    def __init__(self, fname, module: str, name: str):
        self.module, self.name = module, name
        super().__init__(
            fname,
            "a pickle of numpy arrays referencing only numpy array reconstruction globals",
            f"a reference to the global {module}.{name} (refused; the file was not loaded)",
        )


class NumpyOnlyUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only numpy array reconstruction globals.

    Parameters
    ----------
    file : binary file object
        Open pickle stream.
    fname : str | None
        Name used in error messages.
    encoding : str
        How Python 2 ``str`` objects are decoded; ``"latin1"`` is required for Python 2
        pickles of numpy arrays (``"bytes"`` keeps them as bytes).
    """

    def __init__(self, file, fname=None, encoding: str = "latin1"):
        super().__init__(file, encoding=encoding)
        self._fname = fname

    def find_class(self, module, name):  # noqa: D102 - pickle hook
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickleError(self._fname, str(module), str(name)) from None

    def persistent_load(self, pid):  # noqa: D102 - pickle hook
        raise UnsafePickleError(self._fname, "<persistent id>", repr(pid)[:60])


class _HashingReader:
    """Read-only file wrapper that feeds every byte it hands out to a sha256.

    The unpickler sees only ``read``/``readline``/``readinto`` (no ``peek``), so it asks for
    exactly the bytes it consumes and each byte of the file is read, and hashed, once.
    """

    def __init__(self, f):
        self._f = f
        self.sha256 = hashlib.sha256()

    def read(self, n=-1):
        b = self._f.read(n)
        self.sha256.update(b)
        return b

    def readline(self, n=-1):
        b = self._f.readline(n)
        self.sha256.update(b)
        return b

    def readinto(self, buf):
        k = self._f.readinto(buf)
        self.sha256.update(memoryview(buf)[:k])
        return k

    def hexdigest(self) -> str:
        """Hash of the whole file: what was read plus whatever follows the pickle."""
        for block in iter(lambda: self._f.read(1 << 20), b""):
            self.sha256.update(block)
        return self.sha256.hexdigest()


def _load(fname: str, encoding: str, hashed: bool):
    if not os.path.isfile(fname):
        raise FileNotFoundError(f"{fname}: expected a pickle file, but found no such file")
    size = os.path.getsize(fname)
    with open(fname, "rb") as f:
        src = _HashingReader(f) if hashed else f
        try:
            obj = NumpyOnlyUnpickler(src, fname=fname, encoding=encoding).load()
        except UnsafePickleError:
            raise
        except EOFError:
            raise DatasetFormatError(
                fname, "a complete pickle", f"the stream ends early ({size} bytes; truncated?)"
            ) from None
        except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError,
                KeyError, UnicodeDecodeError, MemoryError, OverflowError) as err:
            raise DatasetFormatError(
                fname, "a complete pickle of numpy arrays",
                f"{type(err).__name__}: {err} ({size} bytes; truncated or corrupt?)",
            ) from None
        return (obj, src.hexdigest()) if hashed else obj


def safe_load(fname: str | os.PathLike, encoding: str = "latin1"):
    """Load a pickle that may reference only numpy array reconstruction globals.

    Parameters
    ----------
    fname : path-like
        Pickle file (e.g. a DEAP ``sNN.dat``).
    encoding : str
        Decoding of Python 2 ``str`` objects (``"latin1"``, the default, is what Python 2
        pickles of numpy arrays need).

    Returns
    -------
    obj : object
        The unpickled object (containers of numpy arrays and plain Python values).

    Raises
    ------
    UnsafePickleError
        The pickle references any other global (``os.system``, ``builtins.exec``, ...).
        The refusal happens when the reference is met, before it is imported or called.
    DatasetFormatError
        The file is not a complete pickle (truncated or corrupt).
    FileNotFoundError
        ``fname`` does not exist.
    """
    return _load(os.fspath(fname), encoding, hashed=False)


def safe_load_hashed(fname: str | os.PathLike, encoding: str = "latin1"):
    """:func:`safe_load`, also returning the sha256 of the file's bytes, read only once.

    Every byte is hashed as the unpickler reads it (the bytes after the pickle's end, if
    any, are read and hashed afterwards), so the digest equals
    :func:`neuroaffect._utils.sha256_file` without a second pass over the file.

    ``encoding="bytes"`` keeps Python 2 ``str`` objects as ``bytes``: for Python 2 pickles of
    numpy arrays (DEAP) numpy then builds each array on the pickled bytes object itself,
    which avoids the ``latin1`` round trip (bytes -> str -> bytes) of the array data. Dict
    keys and other strings of such files then come back as ``bytes``.

    Returns
    -------
    obj : object
        The unpickled object.
    sha256 : str
        Hex sha256 of the whole file.

    Raises
    ------
    UnsafePickleError, DatasetFormatError, FileNotFoundError
        As :func:`safe_load`.
    """
    return _load(os.fspath(fname), encoding, hashed=True)


# --------------------------------------------------------------------------------------------
# dicts of numeric arrays, read without an unpickler
# --------------------------------------------------------------------------------------------
class _Declined(Exception):
    """The stream is not a plain dict of numeric arrays (the caller falls back)."""


class _Mark:
    """The ``MARK`` opcode's position on the stack."""


class _ArrayStub:
    """``_reconstruct(ndarray, (0,), 'b')`` awaiting its ``BUILD`` state."""


#: Plain numeric dtype codes a ``dtype(code, 0, 1)`` reduction may name.
_DTYPE_CODE = re.compile(r"^[<>|=]?(?:[fiuc]\d{1,2}|b1)$")
#: Bytes read and hashed per ``readinto`` when an array's data goes to its buffer.
_CHUNK = 1 << 22
_MEMO_OPS = {b"q": 1, b"r": 4}


class _HashedStream:
    """Reads a file, hashing every byte handed out; arrays' data go straight to numpy buffers."""

    def __init__(self, f, size: int):
        self._f, self.left = f, size
        self.sha256 = hashlib.sha256()

    def read(self, n: int) -> bytes:
        if n < 0 or n > self.left:
            raise _Declined
        b = self._f.read(n)
        if len(b) != n:
            raise _Declined
        self.left -= n
        self.sha256.update(b)
        return b

    def readline(self) -> bytes:
        b = self._f.readline(min(self.left, 1 << 16))
        if not b.endswith(b"\n"):
            raise _Declined
        self.left -= len(b)
        self.sha256.update(b)
        return b

    def read_array(self, n: int, shape: tuple, dtype: np.dtype, fortran: bool) -> np.ndarray:
        if n > self.left or n != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise _Declined
        buf = np.empty(n // dtype.itemsize if dtype.itemsize else 0, dtype=dtype)
        view = memoryview(buf).cast("B")
        pos = 0
        while pos < n:
            k = self._f.readinto(view[pos:pos + _CHUNK])
            if not k:
                raise _Declined
            self.sha256.update(view[pos:pos + k])
            pos += k
        self.left -= n
        return buf.reshape(shape, order="F" if fortran else "C")

    def hexdigest(self) -> str:
        for block in iter(lambda: self._f.read(1 << 20), b""):
            self.sha256.update(block)
        return self.sha256.hexdigest()


def _text(b) -> str:
    return b.decode("latin1") if isinstance(b, bytes) else b


def _reduce(func, args):
    if func is _multiarray._reconstruct:
        if (isinstance(args, tuple) and len(args) == 3 and args[0] is np.ndarray and args[1] == (0,)
                and _text(args[2]) == "b"):
            return _ArrayStub()
    elif func is np.dtype:
        if (isinstance(args, tuple) and len(args) == 3 and isinstance(args[0], (bytes, str))
                and _DTYPE_CODE.match(_text(args[0])) and args[1] in (0, False) and args[2] in (1, True)):
            return np.dtype(_text(args[0]))
    raise _Declined


def _build(obj, state):
    if isinstance(obj, np.dtype):
        if (isinstance(state, tuple) and len(state) == 8 and state[0] == 3 and _text(state[1]) in "<>|="
                and state[2:] == (None, None, None, -1, -1, 0)):
            order = _text(state[1])
            return obj.newbyteorder(order) if order in "<>" else obj
    elif isinstance(obj, _ArrayStub):
        if isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and isinstance(state[2], np.dtype):
            _, shape, dtype, fortran, data = state
            if isinstance(data, np.ndarray):
                return data
            if isinstance(data, bytes) and _is_shape(shape) and fortran in (True, False, 0, 1):
                if len(data) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
                    raise _Declined
                return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()
    raise _Declined


def _is_shape(shape) -> bool:
    return isinstance(shape, tuple) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                            for n in shape)


def _array_state_pending(stack) -> tuple | None:
    """(shape, dtype, fortran) when the stack ends in an array's BUILD state up to its data."""
    if len(stack) >= 6 and stack[-5] is _Mark and isinstance(stack[-6], _ArrayStub) and stack[-4] == 1:
        shape, dtype, fortran = stack[-3], stack[-2], stack[-1]
        if _is_shape(shape) and isinstance(dtype, np.dtype) and fortran in (True, False):
            return shape, dtype, bool(fortran)
    return None


def _pop_mark(stack) -> list:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _Mark:
            items = stack[i + 1:]
            del stack[i:]
            return items
    raise _Declined


def _interpret(src: _HashedStream):
    """Run the opcode subset over ``src``; the pickled object, or :class:`_Declined`."""
    stack, memo = [], {}
    ints = {b"K": ("<B", 1), b"M": ("<H", 2), b"J": ("<i", 4)}
    strings = {b"U": ("<B", 1, False), b"T": ("<i", 4, False), b"C": ("<B", 1, False),
               b"B": ("<I", 4, False), b"\x8e": ("<Q", 8, False), b"\x8c": ("<B", 1, True),
               b"X": ("<I", 4, True), b"\x8d": ("<Q", 8, True)}
    while True:
        op = src.read(1)
        if op == b"\x80":
            src.read(1)
        elif op == b"\x95":
            src.read(8)  # FRAME: a length hint only
        elif op in ints:
            fmt, n = ints[op]
            stack.append(struct.unpack(fmt, src.read(n))[0])
        elif op in strings:
            fmt, n, unicode = strings[op]
            length = struct.unpack(fmt, src.read(n))[0]
            pending = None if unicode else _array_state_pending(stack)
            if pending is not None:
                stack.append(src.read_array(length, *pending))
            else:
                data = src.read(length)
                stack.append(data.decode("utf-8") if unicode else data)
        elif op == b"c":
            module, name = src.readline()[:-1].decode("ascii"), src.readline()[:-1].decode("ascii")
            if (module, name) not in _ALLOWED:
                raise _Declined  # refused with its name by the unpickler
            stack.append(_ALLOWED[(module, name)])
        elif op == b"\x93":
            name, module = stack.pop(), stack.pop()
            if (_text(module), _text(name)) not in _ALLOWED:
                raise _Declined
            stack.append(_ALLOWED[(_text(module), _text(name))])
        elif op in _MEMO_OPS:
            memo[struct.unpack("<B" if op == b"q" else "<I", src.read(_MEMO_OPS[op]))[0]] = stack[-1]
        elif op == b"\x94":
            memo[len(memo)] = stack[-1]
        elif op in (b"h", b"j"):
            key = struct.unpack("<B" if op == b"h" else "<I", src.read(1 if op == b"h" else 4))[0]
            stack.append(memo[key])
        elif op == b"(":
            stack.append(_Mark)
        elif op in (b"\x85", b"\x86", b"\x87"):
            n = {b"\x85": 1, b"\x86": 2, b"\x87": 3}[op]
            items = tuple(stack[-n:])
            del stack[-n:]
            stack.append(items)
        elif op == b"t":
            stack.append(tuple(_pop_mark(stack)))
        elif op == b")":
            stack.append(())
        elif op in (b"N", b"\x88", b"\x89"):
            stack.append({b"N": None, b"\x88": True, b"\x89": False}[op])
        elif op == b"}":
            stack.append({})
        elif op == b"R":
            args = stack.pop()
            stack.append(_reduce(stack.pop(), args))
        elif op == b"b":
            state = stack.pop()
            stack.append(_build(stack.pop(), state))
        elif op in (b"s", b"u"):
            items = [stack.pop(), stack.pop()][::-1] if op == b"s" else _pop_mark(stack)
            target = stack[-1]
            if not isinstance(target, dict) or len(items) % 2:
                raise _Declined
            for k, v in zip(items[::2], items[1::2]):
                if not isinstance(k, (bytes, str)) or not isinstance(v, np.ndarray):
                    raise _Declined
                target[k] = v
        elif op == b".":
            if len(stack) != 1 or not isinstance(stack[0], dict):
                raise _Declined
            return stack[0]
        else:
            raise _Declined  # any other opcode: the unpickler decides


def load_arrays_hashed(fname: str | os.PathLike):
    """A pickled dict of numeric arrays, each read straight into its own numpy buffer.

    No unpickler runs and nothing named in the file is called: the stream is interpreted for
    the few opcodes numpy's array pickles use (protocols 2 to 4, and Python 2's ``cPickle``
    layout of DEAP), the only globals accepted are those of :data:`ALLOWED_GLOBALS` in the
    roles numpy gives them, and every array's data (its length checked against its shape,
    dtype and the bytes left in the file before anything is allocated) goes straight from the
    file into a new array, without an intermediate ``bytes`` object.

    Parameters
    ----------
    fname : path-like
        Pickle file (e.g. a DEAP ``sNN.dat``).

    Returns
    -------
    loaded : (dict, str) | None
        ``({key: ndarray}, sha256 hex of the whole file)``, keys as stored (``bytes`` for
        Python 2 strings, ``str`` otherwise), or ``None`` when the file is anything else (other
        objects or opcodes, other globals, truncated or corrupt): load it with
        :func:`safe_load_hashed` then, which refuses or reports it.
    """
    fname = os.fspath(fname)
    if not os.path.isfile(fname):
        return None
    with open(fname, "rb") as f:
        src = _HashedStream(f, os.path.getsize(fname))
        try:
            obj = _interpret(src)
        except (_Declined, struct.error, KeyError, IndexError, ValueError, TypeError, UnicodeDecodeError,
                MemoryError, OverflowError):
            return None
        return obj, src.hexdigest()
