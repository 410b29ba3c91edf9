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
"""

from __future__ import annotations

import codecs
import hashlib
import os
import pickle

import numpy as np

from .._utils import DatasetFormatError

__all__ = [
    "ALLOWED_GLOBALS", "NumpyOnlyUnpickler", "UnsafePickleError", "safe_load", "safe_load_hashed",
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
