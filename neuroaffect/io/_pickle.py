"""A restricted unpickler for files that should hold only numpy arrays (DEAP ``.dat``).

``pickle.load`` on a file from elsewhere can run arbitrary code: a pickle names any
importable callable and the unpickler calls it. :class:`NumpyOnlyUnpickler` resolves only
the few globals that numpy array reconstruction needs, each to a token that can do only its
role below, and refuses every other one *before* anything is imported or called, so a crafted
file fails without side effects.

Admitted globals (every other ``module.name`` pair is refused) and their only roles:

=========================================  ===============================================
global                                     admitted role (anything else is refused)
=========================================  ===============================================
``numpy(._)core.multiarray._reconstruct``  ``_reconstruct(numpy.ndarray, (0,), 'b')``: an
                                           empty array, which must then get its state
                                           (``BUILD``) exactly once: ``(1, shape, dtype,
                                           fortran, data)`` with ``data`` exactly
                                           ``prod(shape) * itemsize`` bytes of the file
``numpy.ndarray``                          only as the first argument of ``_reconstruct``;
                                           never called
``numpy.dtype``                            ``dtype(code, False, True)`` of a plain numeric
                                           code, then its state ``(3, order, None, None,
                                           None, -1, -1, 0)`` exactly once, before any use
``numpy(._)core.multiarray.scalar``        ``scalar(dtype, data)``: ``itemsize`` bytes
``numpy(._)core.numeric._frombuffer``      ``_frombuffer(data, dtype, shape, order)``:
                                           in-band arrays of protocol 5
``_codecs.encode``                         ``encode(text, 'latin1')``: ``bytes`` under
                                           Python 3 protocols 0-2
``__builtin__.bytes``, ``builtins.bytes``  ``bytes()``: the empty ``bytes`` of a zero-size
                                           array under Python 3 protocols 0-2
=========================================  ===============================================

Plain numeric dtypes are bool, int and uint of 8-64 bits, float16-64, complex64 and
complex128, in either byte order: no ``V``/structured, object, string, datetime or long
double type, no fields, offsets, subarrays or metadata, and a dtype is checked when it is
built and when its state is set, so no later step depends on a dtype-kind check. Every array
is therefore a new contiguous array made from bytes of the file: no zero or negative strides,
no views of other arrays, and the arrays' sizes (and the text ``_codecs.encode`` turns into
bytes) add up to at most the file's size. Declared lengths are checked against the bytes left
in the file before anything is allocated, object nesting is bounded, dict keys and set items
are plain values (hashing a deeply nested tuple crashes CPython), and ``INST``/``OBJ``/
``NEWOBJ``/``NEWOBJ_EX``, persistent ids and ``BUILD`` on anything else are refused. Every
refusal raises :class:`UnsafePickleError` and every other fault :class:`DatasetFormatError`,
both naming the file.

The unpickler is pickle's Python implementation with these opcodes replaced: CPython's C
unpickler cannot check an object's state before setting it, allocates a declared length before
reading it, and takes an extension code (``EXT1``/``EXT2``/``EXT4``) resolved earlier in the
process from ``copyreg``'s cache without asking ``find_class``. The globals are mapped to tokens
rather than imported by name, so the ``numpy.core`` spelling of old files does not go through
numpy's deprecated alias module. Files of a few large arrays load about as fast as with the C
unpickler (their bytes are read and converted in C); only files of many small objects are slower.

:func:`load_arrays_hashed` reads the common case, a pickled dict of plain numeric arrays (the
DEAP layout), without running an unpickler at all: it interprets a small fixed set of opcodes
under the same rules (the ``_reconstruct`` and ``dtype`` roles only, every array's bytes read
straight from the file into a new numpy array), and anything else makes it return ``None``;
the caller then loads the file with :class:`NumpyOnlyUnpickler`, which refuses or reports it.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import math
import os
import pickle
import struct

import numpy as np

from .._utils import DatasetFormatError

__all__ = [
    "ALLOWED_GLOBALS", "NumpyOnlyUnpickler", "UnsafePickleError", "load_arrays_hashed", "safe_load",
    "safe_load_hashed",
]

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray

#: dtype codes (kind and item size) of the plain numeric types an array may have.
_PLAIN_CODES = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"})
#: The only dtype state numpy gives plain numeric types, after the byte order.
_DTYPE_STATE_TAIL = (None, None, None, -1, -1, 0)
#: Most dimensions of an array (numpy 2's limit).
_MAX_NDIM = 64
#: Most containers (tuples, lists, dicts, sets, marks) one file may create (at most ~60 MB of them;
#: a pickle of numpy arrays uses about four per array).
_MAX_CONTAINERS = 1 << 18
#: Deepest nesting of containers in the loaded object.
_MAX_DEPTH = 100
#: Types a dict key or set item may have (alone or in a flat tuple).
_KEY_TYPES = (str, bytes, int, float, complex, bool, type(None))


class _Global:
    """What an admitted global resolves to: a token that can play only its role."""

    __slots__ = ("module", "name", "role")

    def __init__(self, module: str, name: str, role: str):
        self.module, self.name, self.role = module, name, role

    def __repr__(self):
        return f"{self.module}.{self.name}"


def _globals_table() -> dict:
    roles = {("numpy", "ndarray"): "ndarray", ("numpy", "dtype"): "dtype", ("_codecs", "encode"): "encode",
             ("__builtin__", "bytes"): "bytes", ("builtins", "bytes"): "bytes"}
    for core in ("numpy.core", "numpy._core"):
        roles[(f"{core}.multiarray", "_reconstruct")] = "reconstruct"
        roles[(f"{core}.multiarray", "scalar")] = "scalar"
        roles[(f"{core}.numeric", "_frombuffer")] = "frombuffer"
    return {key: _Global(*key, role) for key, role in roles.items()}


_GLOBALS = _globals_table()
#: The ``(module, name)`` pairs a pickle may reference; everything else is refused.
ALLOWED_GLOBALS = frozenset(_GLOBALS)


class UnsafePickleError(DatasetFormatError):
    """A pickle references a global outside :data:`ALLOWED_GLOBALS`, uses one outside its role,
    or uses an opcode that could run code or forge an array; nothing was executed.

    Parameters
    ----------
    fname : path-like | None
        The file.
    module, name : str | None
        The global (``module=None``: ``name`` describes the refused construct).
    use : str | None
        How an admitted global was misused (``None``: the global itself is refused).
    """

    def __init__(self, fname, module: str | None, name: str, use: str | None = None):
        self.module, self.name, self.use = module, name, use
        if module is None:
            found = name
        elif use is None:
            found = f"a reference to the global {module}.{name}"
        else:
            found = f"the global {module}.{name} {use}"
        super().__init__(
            fname,
            "a pickle of numpy arrays referencing only numpy array reconstruction globals, in their roles",
            f"{found} (refused; the file was not loaded)",
        )


def _describe(obj) -> str:
    """A short description of ``obj`` that never recurses into it."""
    if isinstance(obj, (str, bytes)):
        return f"{type(obj).__name__} {obj[:40]!r}"
    if isinstance(obj, int) and obj.bit_length() > 64:
        return f"int of {obj.bit_length()} bits"
    if isinstance(obj, (int, float, bool, type(None))):
        return f"{type(obj).__name__} {obj}"
    if isinstance(obj, _Global):
        return f"the global {obj!r}"
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


# --------------------------------------------------------------------------------------------
# the rules both readers apply
# --------------------------------------------------------------------------------------------
def _text(b):
    return b.decode("latin1") if isinstance(b, bytes) else b


def _is_text(x, value: str) -> bool:
    """True if ``x`` is ``value`` as str or (Python 2 str read as) bytes."""
    x = _text(x)
    return type(x) is str and x == value


def _is_int(x, *values) -> bool:
    """True if ``x`` is an int (or bool) equal to one of ``values``."""
    return type(x) in (int, bool) and x in values


def _plain_code(code) -> str | None:
    """``code`` as ``str`` if it names a plain numeric dtype (``'f8'``, ``b'<i4'``), else None."""
    code = _text(code)
    if type(code) is not str:
        return None
    return code if (code[1:] if code[:1] in ("<", ">", "|", "=") else code) in _PLAIN_CODES else None


def _dtype_order(dt: np.dtype, state) -> str | None:
    """The byte order a plain numeric dtype's state sets, or None if it is any other state."""
    if not (type(state) is tuple and len(state) == 8 and _is_int(state[0], 3)
            and all(type(a) is type(b) and a == b for a, b in zip(state[2:], _DTYPE_STATE_TAIL))):
        return None
    order = _text(state[1])
    if type(order) is not str or order not in (("|",) if dt.itemsize == 1 else ("<", ">", "=")):
        return None
    return order


def _is_shape(shape) -> bool:
    return (type(shape) is tuple and len(shape) <= _MAX_NDIM
            and all(type(n) is int and n >= 0 for n in shape))


def _nbytes(shape: tuple, dtype: np.dtype) -> int:
    return dtype.itemsize * math.prod(shape)


def _is_reconstruct_args(args) -> bool:
    """True for ``(numpy.ndarray, (0,), 'b')``, the only arguments ``_reconstruct`` is given."""
    return (len(args) == 3 and isinstance(args[0], _Global) and args[0].role == "ndarray"
            and type(args[1]) is tuple and len(args[1]) == 1 and _is_int(args[1][0], 0) and _is_text(args[2], "b"))


def _is_key(k) -> bool:
    """A dict key or set item that hashes without recursion: a plain value or a flat tuple of them."""
    return isinstance(k, _KEY_TYPES) or (type(k) is tuple and len(k) <= 64
                                          and all(isinstance(x, _KEY_TYPES) for x in k))


# --------------------------------------------------------------------------------------------
# the restricted unpickler
# --------------------------------------------------------------------------------------------
class _BoundedReader:
    """Read-only file wrapper that refuses reads past the file's end, optionally hashing them.

    A declared length beyond the bytes left fails before anything of that length is allocated.
    """

    def __init__(self, f, size: int, fname, hashed: bool = False):
        self._f, self.size, self.left, self._fname = f, size, size, fname
        self.sha256 = hashlib.sha256() if hashed else None

    def _past_end(self, n: int):
        if self.left == 0:
            return DatasetFormatError(self._fname, "a complete pickle",
                                      f"the stream ends early ({self.size} bytes; truncated?)")
        return DatasetFormatError(
            self._fname, "a complete pickle",
            f"a read of {n} bytes at byte {self.size - self.left} of {self.size} (a declared length "
            "beyond the end of the file; truncated or corrupt?)")

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.left
        if n > self.left:
            raise self._past_end(n)
        b = self._f.read(n)
        if len(b) != n:
            raise self._past_end(n)
        self.left -= n
        if self.sha256 is not None:
            self.sha256.update(b)
        return b

    def check_left(self, n: int) -> int:
        """``n`` if the file holds ``n`` more bytes, else the error of a read past its end."""
        if n > self.left:
            raise self._past_end(n)
        return n

    def readinto(self, buf) -> int:
        n = self.check_left(len(buf))
        if self._f.readinto(buf) != n:
            raise self._past_end(n)
        self.left -= n
        if self.sha256 is not None:
            self.sha256.update(buf)
        return n

    def readline(self, n: int = -1) -> bytes:
        b = self._f.readline(self.left if n is None or n < 0 else min(n, self.left))
        if not b.endswith(b"\n"):
            raise self._past_end(1)
        self.left -= len(b)
        if self.sha256 is not None:
            self.sha256.update(b)
        return b

    def hexdigest(self) -> str:
        """Hash of the whole file: what was read plus whatever follows the pickle."""
        for block in iter(lambda: self._f.read(1 << 20), b""):
            self.sha256.update(block)
        return self.sha256.hexdigest()


def _stream_size(f) -> int:
    """Bytes left in the seekable binary file ``f``."""
    try:
        return os.fstat(f.fileno()).st_size - f.tell()
    except (AttributeError, OSError, io.UnsupportedOperation):
        pos = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(pos)
        return end - pos


class _Dispatch(dict):
    """Pickle's opcode table; an unknown opcode is a format error."""

    def __missing__(self, code):
        def unknown(unpickler):
            raise DatasetFormatError(unpickler._fname, "a pickle of known opcodes", f"the opcode byte {code:#04x}")
        return unknown


_DISPATCH = _Dispatch(pickle._Unpickler.dispatch)  # noqa: SLF001 - the opcodes this module replaces


def _op(opcode: bytes):
    def register(load):
        _DISPATCH[opcode[0]] = load
        return load
    return register


def _counted(load):
    def counted(self):
        self._count_container()
        load(self)
    return counted


for _code in (pickle.MARK, pickle.TUPLE, pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3, pickle.EMPTY_LIST,
              pickle.LIST, pickle.EMPTY_DICT, pickle.EMPTY_SET):
    _DISPATCH[_code[0]] = _counted(_DISPATCH[_code[0]])


class NumpyOnlyUnpickler(pickle._Unpickler):  # noqa: SLF001 - pickle's Python implementation
    """Unpickler that builds only plain numeric numpy arrays and plain Python values.

    Parameters
    ----------
    file : binary file object
        Open, seekable pickle stream (or a reader from this module).
    fname : str | None
        Name used in error messages.
    encoding : str
        How Python 2 ``str`` objects are decoded; ``"latin1"`` is required for Python 2
        pickles of numpy arrays (``"bytes"`` keeps them as bytes).

    Notes
    -----
    The rules are those of the module docstring; the arrays' total size is bounded by the
    bytes of the stream from its current position to its end.
    """

    dispatch = _DISPATCH

    def __init__(self, file, fname=None, encoding: str = "latin1"):
        if not isinstance(file, _BoundedReader):
            file = _BoundedReader(file, _stream_size(file), fname)
        super().__init__(file, encoding=encoding)
        self._src, self._fname = file, fname
        self._budget = file.size
        self._array_bytes = self._codec_bytes = self._containers = 0
        self._pending_arrays: dict[int, np.ndarray] = {}  # reconstructed, awaiting their state
        self._pending_dtypes: dict[int, np.dtype] = {}
        self._dtypes: dict[int, np.dtype] = {}  # built, usable (kept alive: keyed by id)

    # -- globals --------------------------------------------------------------------------
    def find_class(self, module, name):  # noqa: D102 - pickle hook
        glob = _GLOBALS.get((module, name)) if type(module) is str and type(name) is str else None
        if glob is None:
            raise UnsafePickleError(self._fname, str(module), str(name))
        return glob

    def persistent_load(self, pid):  # noqa: D102 - pickle hook
        raise UnsafePickleError(self._fname, None, f"a persistent id ({_describe(pid)}), which names an "
                                "object outside the file")

    def get_extension(self, code):  # noqa: D102 - always through find_class, never copyreg's cache
        key = copyreg._inverted_registry.get(code)  # noqa: SLF001
        if key is None:
            raise DatasetFormatError(self._fname, "a pickle without extension codes (copyreg)",
                                     f"the unregistered extension code {code}")
        self.append(self.find_class(*key))

    def _misuse(self, glob: _Global, use: str):
        return UnsafePickleError(self._fname, glob.module, glob.name, use)

    # -- budget and checks ----------------------------------------------------------------
    def _count_container(self):
        self._containers += 1
        if self._containers > _MAX_CONTAINERS:
            raise DatasetFormatError(self._fname, f"a pickle of numpy arrays with at most {_MAX_CONTAINERS} "
                                     "containers (tuples, lists, dicts, sets)", "more")

    def _spend(self, nbytes: int, what: str):
        used = self._array_bytes if what == "arrays" else self._codec_bytes
        if used + nbytes > self._budget:
            raise DatasetFormatError(
                self._fname, f"{what} of at most {self._budget} bytes in all (the file's size)",
                f"{used + nbytes} bytes (an amplification: the same bytes used more than once?)")
        if what == "arrays":
            self._array_bytes += nbytes
        else:
            self._codec_bytes += nbytes

    def _data_bytes(self, data, glob: _Global | None = None):
        """``data`` (bytes, or a Python 2 str read as latin1) as bytes."""
        if type(data) is bytes:
            return data
        if type(data) is str:
            return data.encode("latin1")
        raise UnsafePickleError(self._fname, None, f"array data given as a {_describe(data)} "
                                f"(admitted: bytes{'' if glob is None else ' in ' + repr(glob)})")

    def _usable_dtype(self, dt, glob: _Global) -> np.dtype:
        if self._dtypes.get(id(dt)) is not dt:
            raise self._misuse(glob, f"given the {_describe(dt)} (admitted: a plain numeric numpy.dtype "
                                     "reconstructed and given its state before use)")
        return dt

    def _check_key(self, k):
        if not _is_key(k):
            raise DatasetFormatError(self._fname, "dict keys and set items that are str, bytes, numbers, "
                                     "None or flat tuples of them", f"a {_describe(k)}")

    # -- the roles of the admitted globals ------------------------------------------------
    def _call(self, func, args):
        if not isinstance(func, _Global):
            raise UnsafePickleError(self._fname, None, f"a call of a {_describe(func)} (only admitted globals "
                                    "are called)")
        if type(args) is not tuple:
            raise DatasetFormatError(self._fname, "a tuple of arguments", f"a {_describe(args)}")
        if func.role == "ndarray":
            raise self._misuse(func, "called directly (admitted only as the first argument of _reconstruct)")
        return getattr(self, f"_call_{func.role}")(func, args)

    def _call_reconstruct(self, glob, args):
        if not _is_reconstruct_args(args):
            raise self._misuse(glob, "called with other arguments than (numpy.ndarray, (0,), 'b')")
        arr = _multiarray._reconstruct(np.ndarray, (0,), b"b")
        self._pending_arrays[id(arr)] = arr
        return arr

    def _call_dtype(self, glob, args):
        code = _plain_code(args[0]) if len(args) == 3 else None
        if code is None or not _is_int(args[1], 0) or not _is_int(args[2], 1):
            raise self._misuse(glob, f"called with {_describe(args[0]) if args else 'no arguments'} "
                                     "(admitted: dtype(code, False, True) of a plain numeric code: "
                                     f"{', '.join(sorted(_PLAIN_CODES))})")
        dt = np.dtype(code, align=False, copy=True)  # a private copy: its state may be set
        self._pending_dtypes[id(dt)] = dt
        return dt

    def _call_scalar(self, glob, args):
        if len(args) != 2:
            raise self._misuse(glob, "called with other arguments than (dtype, data)")
        dt = self._usable_dtype(args[0], glob)
        data = self._data_bytes(args[1], glob)
        if len(data) != dt.itemsize:
            raise DatasetFormatError(self._fname, f"a {dt} scalar of {dt.itemsize} bytes", f"{len(data)} bytes")
        self._spend(dt.itemsize, "arrays")
        return _multiarray.scalar(dt, data)

    def _call_frombuffer(self, glob, args):
        if not (len(args) == 4 and type(args[0]) in (bytes, bytearray) and _is_shape(args[2])
                and (_is_text(args[3], "C") or _is_text(args[3], "F"))):
            raise self._misuse(glob, "called with other arguments than (bytes, dtype, shape, 'C' or 'F')")
        buf, dt, shape, order = args
        dt = self._usable_dtype(dt, glob)
        self._check_array_data(len(buf), shape, dt)
        return np.frombuffer(buf, dtype=dt).reshape(shape, order=_text(order))

    def _call_encode(self, glob, args):
        if not (len(args) == 2 and type(args[0]) is str and (_is_text(args[1], "latin1")
                                                              or _is_text(args[1], "latin-1"))):
            raise self._misuse(glob, "called with other arguments than (str, 'latin1')")
        self._spend(len(args[0]), "bytes made by _codecs.encode")
        return args[0].encode("latin1")

    def _call_bytes(self, glob, args):
        if args:
            raise self._misuse(glob, "called with arguments (admitted: bytes() for an empty array)")
        return b""

    def _check_array_data(self, n: int, shape: tuple, dt: np.dtype):
        need = _nbytes(shape, dt)
        if n != need:
            raise DatasetFormatError(self._fname, f"array data of {need} bytes for shape {shape} and dtype {dt}",
                                     f"{n} bytes")
        self._spend(need, "arrays")

    # -- object states ----------------------------------------------------------------------
    def _build_array(self, arr: np.ndarray, state):
        glob = _GLOBALS[("numpy", "ndarray")]
        if not (type(state) is tuple and len(state) == 5 and _is_int(state[0], 1) and _is_shape(state[1])
                and _is_int(state[3], 0, 1)):
            raise UnsafePickleError(self._fname, None, f"an array state {_describe(state)} other than "
                                    "(1, shape, dtype, fortran, data)")
        _, shape, dt, fortran, data = state
        dt = self._usable_dtype(dt, glob)
        data = self._data_bytes(data)
        self._check_array_data(len(data), shape, dt)
        np.ndarray.__setstate__(arr, (1, shape, dt, bool(fortran), data))
        del self._pending_arrays[id(arr)]

    def _build_dtype(self, dt: np.dtype, state):
        order = _dtype_order(dt, state)
        if order is None:
            raise self._misuse(_GLOBALS[("numpy", "dtype")], f"given the state {_describe(state)} (admitted: "
                               "(3, byte order, None, None, None, -1, -1, 0) of a plain numeric type)")
        dt.__setstate__((3, order, *_DTYPE_STATE_TAIL))  # a plain code in a byte order: nothing else
        del self._pending_dtypes[id(dt)]
        self._dtypes[id(dt)] = dt

    def _check_result(self, value):
        if self._pending_arrays:
            raise DatasetFormatError(self._fname, "every reconstructed array followed by its state",
                                     f"{len(self._pending_arrays)} array(s) without one")
        todo, seen = [(value, 0)], set()
        while todo:
            obj, depth = todo.pop()
            if isinstance(obj, _Global):
                raise self._misuse(obj, "left in the data outside its role")
            if type(obj) not in (tuple, list, dict, set, frozenset) or id(obj) in seen:
                continue
            if depth >= _MAX_DEPTH:
                raise DatasetFormatError(self._fname, f"objects nested at most {_MAX_DEPTH} deep", "deeper nesting")
            seen.add(id(obj))
            items = [x for kv in obj.items() for x in kv] if type(obj) is dict else obj
            todo.extend((x, depth + 1) for x in items)

    # -- replaced opcodes -----------------------------------------------------------------
    @_op(pickle.REDUCE)
    def _load_reduce(self):
        args = self.stack.pop()
        self.stack[-1] = self._call(self.stack[-1], args)

    @_op(pickle.BUILD)
    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if self._pending_arrays.get(id(inst)) is inst:
            self._build_array(inst, state)
        elif self._pending_dtypes.get(id(inst)) is inst:
            self._build_dtype(inst, state)
        else:
            raise UnsafePickleError(self._fname, None, f"an object state (BUILD) set on a {_describe(inst)} "
                                    "(admitted only once on each array and dtype just reconstructed)")

    @_op(pickle.INST)
    def _load_inst(self):
        module = self.readline()[:-1].decode("ascii")
        name = self.readline()[:-1].decode("ascii")
        raise self._misuse(self.find_class(module, name), "instantiated by INST (admitted only through REDUCE)")

    def _refuse_new(self, cls, opcode: str):
        if isinstance(cls, _Global):
            raise self._misuse(cls, f"instantiated by {opcode} (admitted only through REDUCE)")
        raise UnsafePickleError(self._fname, None, f"{opcode} of a {_describe(cls)}")

    @_op(pickle.OBJ)
    def _load_obj(self):
        args = self.pop_mark()
        self._refuse_new(args[0] if args else None, "OBJ")

    @_op(pickle.NEWOBJ)
    def _load_newobj(self):
        self._refuse_new(self.stack[-2], "NEWOBJ")

    @_op(pickle.NEWOBJ_EX)
    def _load_newobj_ex(self):
        self._refuse_new(self.stack[-3], "NEWOBJ_EX")

    def _target(self, kind: type):
        target = self.stack[-1]
        if type(target) is not kind:
            raise DatasetFormatError(self._fname, f"items added to a {kind.__name__}", f"a {_describe(target)}")
        return target

    @_op(pickle.APPEND)
    def _load_append(self):
        value = self.stack.pop()
        self._target(list).append(value)

    @_op(pickle.APPENDS)
    def _load_appends(self):
        items = self.pop_mark()
        self._target(list).extend(items)

    @_op(pickle.SETITEM)
    def _load_setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        self._check_key(key)
        self._target(dict)[key] = value

    @_op(pickle.SETITEMS)
    def _load_setitems(self):
        items = self.pop_mark()
        target = self._target(dict)
        if len(items) % 2:
            raise DatasetFormatError(self._fname, "key-value pairs in SETITEMS", f"{len(items)} items")
        for key, value in zip(items[::2], items[1::2]):
            self._check_key(key)
            target[key] = value

    @_op(pickle.DICT)
    def _load_dict(self):
        self._count_container()
        items = self.pop_mark()
        if len(items) % 2:
            raise DatasetFormatError(self._fname, "key-value pairs in DICT", f"{len(items)} items")
        for key in items[::2]:
            self._check_key(key)
        self.append(dict(zip(items[::2], items[1::2])))

    @_op(pickle.ADDITEMS)
    def _load_additems(self):
        items = self.pop_mark()
        for item in items:
            self._check_key(item)
        self._target(set).update(items)

    @_op(pickle.FROZENSET)
    def _load_frozenset(self):
        self._count_container()
        items = self.pop_mark()
        for item in items:
            self._check_key(item)
        self.append(frozenset(items))

    @_op(pickle.BYTEARRAY8)
    def _load_bytearray8(self):
        n, = struct.unpack("<Q", self.read(8))
        if self._unframer.current_frame is not None:
            self.append(bytearray(self.read(n)))  # bounded by the frame, itself read from the file
            return
        buf = bytearray(self._src.check_left(n))  # allocated only once the file is known to hold it
        self._src.readinto(buf)
        self.append(buf)

    @_op(pickle.STOP)
    def _load_stop(self):
        self._check_result(self.stack[-1])
        pickle._Unpickler.dispatch[pickle.STOP[0]](self)  # noqa: SLF001


del _code


def _load(fname: str, encoding: str, hashed: bool):
    if not os.path.isfile(fname):
        raise FileNotFoundError(f"{fname}: expected a pickle file, but found no such file")
    size = os.path.getsize(fname)
    with open(fname, "rb") as f:
        src = _BoundedReader(f, size, fname, hashed)
        try:
            obj = NumpyOnlyUnpickler(src, fname=fname, encoding=encoding).load()
        except DatasetFormatError:  # UnsafePickleError included: they name the file already
            raise
        except EOFError:
            raise DatasetFormatError(
                fname, "a complete pickle", f"the stream ends early ({size} bytes; truncated?)"
            ) from None
        except Exception as err:  # noqa: BLE001 - any other fault of a crafted stream is a format error
            raise DatasetFormatError(
                fname, "a complete pickle of numpy arrays",
                f"{type(err).__name__}: {str(err)[:200]} ({size} bytes; truncated or corrupt?)",
            ) from None
        if src.left:
            raise _trailing(fname, size, src.left)
        return (obj, src.hexdigest()) if hashed else obj


def _trailing(fname, size: int, left: int) -> DatasetFormatError:
    """The error for ``left`` bytes after the pickle's STOP opcode (two files joined, an appended payload)."""
    return DatasetFormatError(fname, "one pickle ending at the end of the file (its STOP opcode the last byte)",
                              f"{left} more bytes after the STOP opcode at byte {size - left - 1} of {size}")


def safe_load(fname: str | os.PathLike, encoding: str = "latin1"):
    """Load a pickle that may reference only numpy array reconstruction globals, in their roles.

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
        The unpickled object: containers of plain numeric numpy arrays and plain Python
        values. The arrays hold at most as many bytes, in all, as the file.

    Raises
    ------
    UnsafePickleError
        The pickle references any other global (``os.system``, ``builtins.exec``,
        ``numpy.load``, ...), uses an admitted one outside its role (``numpy.ndarray`` called,
        a dtype with fields, ...) or uses an opcode that would call or set anything else. The
        refusal happens when the reference or call is met, before it is imported or called.
    DatasetFormatError
        The file is not a complete pickle of that kind (truncated, corrupt, a declared length
        beyond the file's end, arrays larger in all than the file, nesting too deep), or bytes
        follow the pickle's STOP opcode (a second pickle or any payload appended).
    FileNotFoundError
        ``fname`` does not exist.
    """
    return _load(os.fspath(fname), encoding, hashed=False)


def safe_load_hashed(fname: str | os.PathLike, encoding: str = "latin1"):
    """:func:`safe_load`, also returning the sha256 of the file's bytes, read only once.

    Every byte is hashed as the unpickler reads it (a file with bytes after the pickle's end
    is refused), so the digest equals
    :func:`neuroaffect._utils.sha256_file` without a second pass over the file.

    ``encoding="bytes"`` keeps Python 2 ``str`` objects as ``bytes``: for Python 2 pickles of
    numpy arrays (DEAP) each array is then built from the pickled bytes object itself, which
    avoids the ``latin1`` round trip (bytes -> str -> bytes) of the array data. Dict keys and
    other strings of such files then come back as ``bytes``.

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


#: Bytes read and hashed per ``readinto`` when an array's data goes to its buffer.
_CHUNK = 1 << 22
_MEMO_OPS = {b"q": 1, b"r": 4}
#: Most containers (tuples, dicts, marks) the fast path creates before it declines.
_FAST_MAX_CONTAINERS = 1 << 16


class _HashedStream:
    """Reads a file, hashing every byte handed out; arrays' data go straight to numpy buffers."""

    def __init__(self, f, size: int):
        self._f, self.left, self.budget = f, size, size
        self.sha256 = hashlib.sha256()
        self.containers = 0

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

    def spend(self, n: int):
        """Count ``n`` bytes of arrays against the file's size."""
        if n > self.budget:
            raise _Declined
        self.budget -= n

    def count(self):
        self.containers += 1
        if self.containers > _FAST_MAX_CONTAINERS:
            raise _Declined

    def read_array(self, n: int, shape: tuple, dtype: np.dtype, fortran: bool) -> np.ndarray:
        if n > self.left or n != _nbytes(shape, dtype):
            raise _Declined
        self.spend(n)
        buf = np.empty(n // dtype.itemsize, dtype=dtype)
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


class _FastState:
    """What the opcode interpreter knows beyond its stack: dtypes built, arrays read from the file."""

    def __init__(self):
        self.pending_dtypes: dict[int, np.dtype] = {}
        self.dtypes: dict[int, np.dtype] = {}
        self.read_arrays: dict[int, np.ndarray] = {}  # read for the state being built, not yet used


def _reduce(st: _FastState, func, args):
    if not isinstance(func, _Global) or type(args) is not tuple:
        raise _Declined
    if func.role == "reconstruct":
        if _is_reconstruct_args(args):
            return _ArrayStub()
    elif func.role == "dtype":
        if len(args) == 3 and _plain_code(args[0]) is not None and _is_int(args[1], 0) and _is_int(args[2], 1):
            dt = np.dtype(_plain_code(args[0]), align=False, copy=True)
            st.pending_dtypes[id(dt)] = dt
            return dt
    raise _Declined


def _build(st: _FastState, src: _HashedStream, obj, state):
    if isinstance(obj, np.dtype):
        order = _dtype_order(obj, state) if st.pending_dtypes.get(id(obj)) is obj else None
        if order is None:
            raise _Declined
        obj.__setstate__((3, order, *_DTYPE_STATE_TAIL))  # in place: memo references see it too
        del st.pending_dtypes[id(obj)]
        st.dtypes[id(obj)] = obj
        return obj
    if isinstance(obj, _ArrayStub) and type(state) is tuple and len(state) == 5 and _is_int(state[0], 1) \
            and _is_shape(state[1]) and st.dtypes.get(id(state[2])) is state[2] and _is_int(state[3], 0, 1):
        _, shape, dtype, fortran, data = state
        if isinstance(data, np.ndarray) and st.read_arrays.pop(id(data), None) is data:
            if data.shape == shape and data.dtype == dtype \
                    and data.flags["F_CONTIGUOUS" if fortran else "C_CONTIGUOUS"]:
                return data
        elif type(data) is bytes and len(data) == _nbytes(shape, dtype):
            src.spend(len(data))
            return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()
    raise _Declined


def _array_state_pending(st: _FastState, stack) -> tuple | None:
    """(shape, dtype, fortran) when the stack ends in an array's BUILD state up to its data."""
    if len(stack) >= 6 and stack[-5] is _Mark and isinstance(stack[-6], _ArrayStub) and _is_int(stack[-4], 1):
        shape, dtype, fortran = stack[-3], stack[-2], stack[-1]
        if _is_shape(shape) and st.dtypes.get(id(dtype)) is dtype and _is_int(fortran, 0, 1):
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
    stack, memo, st = [], {}, _FastState()
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
            pending = None if unicode else _array_state_pending(st, stack)
            if pending is not None:
                arr = src.read_array(length, *pending)
                st.read_arrays[id(arr)] = arr
                stack.append(arr)
            else:
                data = src.read(length)
                stack.append(data.decode("utf-8") if unicode else data)
        elif op == b"c":
            key = (src.readline()[:-1].decode("ascii"), src.readline()[:-1].decode("ascii"))
            if key not in _GLOBALS:
                raise _Declined  # refused with its name by the unpickler
            stack.append(_GLOBALS[key])
        elif op == b"\x93":
            name, module = stack.pop(), stack.pop()
            if type(module) is not str or type(name) is not str or (module, name) not in _GLOBALS:
                raise _Declined
            stack.append(_GLOBALS[(module, name)])
        elif op in _MEMO_OPS:
            memo[struct.unpack("<B" if op == b"q" else "<I", src.read(_MEMO_OPS[op]))[0]] = stack[-1]
        elif op == b"\x94":
            memo[len(memo)] = stack[-1]
        elif op in (b"h", b"j"):
            key = struct.unpack("<B" if op == b"h" else "<I", src.read(1 if op == b"h" else 4))[0]
            stack.append(memo[key])
        elif op == b"(":
            src.count()
            stack.append(_Mark)
        elif op in (b"\x85", b"\x86", b"\x87"):
            src.count()
            n = {b"\x85": 1, b"\x86": 2, b"\x87": 3}[op]
            if len(stack) < n:
                raise _Declined
            items = tuple(stack[-n:])
            del stack[-n:]
            stack.append(items)
        elif op == b"t":
            src.count()
            stack.append(tuple(_pop_mark(stack)))
        elif op == b")":
            stack.append(())
        elif op in (b"N", b"\x88", b"\x89"):
            stack.append({b"N": None, b"\x88": True, b"\x89": False}[op])
        elif op == b"}":
            src.count()
            stack.append({})
        elif op == b"R":
            args = stack.pop()
            stack.append(_reduce(st, stack.pop(), args))
        elif op == b"b":
            state = stack.pop()
            stack.append(_build(st, src, stack.pop(), state))
        elif op in (b"s", b"u"):
            items = [stack.pop(), stack.pop()][::-1] if op == b"s" else _pop_mark(stack)
            target = stack[-1]
            if type(target) is not dict or len(items) % 2:
                raise _Declined
            for k, v in zip(items[::2], items[1::2]):
                if type(k) not in (bytes, str) or type(v) is not np.ndarray:
                    raise _Declined
                target[k] = v
        elif op == b".":
            if len(stack) != 1 or type(stack[0]) is not dict or st.read_arrays or src.left:
                raise _Declined  # bytes after STOP included: the unpickler refuses them, naming the file
            return stack[0]
        else:
            raise _Declined  # any other opcode: the unpickler decides


def load_arrays_hashed(fname: str | os.PathLike):
    """A pickled dict of numeric arrays, each read straight into its own numpy buffer.

    No unpickler runs and nothing named in the file is called: the stream is interpreted for
    the few opcodes numpy's array pickles use (protocols 2 to 4, and Python 2's ``cPickle``
    layout of DEAP), the only globals accepted are ``_reconstruct``, ``ndarray`` and ``dtype``
    in the roles of :data:`ALLOWED_GLOBALS` (plain numeric dtypes, each given its state once
    before use), and every array's data (its length checked against its shape, dtype, the
    bytes left in the file and the bytes of arrays so far before anything is allocated) goes
    straight from the file into a new array, without an intermediate ``bytes`` object.

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
        except Exception:  # noqa: BLE001 - anything unusual: the restricted unpickler decides
            return None
        return obj, src.hexdigest()
