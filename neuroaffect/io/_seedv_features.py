"""SEED-V's published DE features: ``EEG_DE_features/<subject>_123.npz``.

Each file is a NumPy ``.npz`` archive of two entries, ``data`` and ``label``, each a 0-d byte string
(dtype ``S``) holding a pickled dict (the layout TorchEEG's ``SEEDVFeatureDataset`` reads;
``docs/formats.md``, SEED-V). The archive is opened with ``allow_pickle=False`` and each byte string
is unpickled by :class:`~neuroaffect.io._pickle.NumpyOnlyUnpickler` (numpy arrays and plain values
only; anything else is refused before it is imported or called).

``data``: {trial index 0..44: float array, shape (n_windows, 310)}; ``label``: {trial index: array,
shape (n_windows,)} of class codes 0..4. Trials 0-14 are session 1, 15-29 session 2, 30-44 session 3;
the 310 values of a window are 62 channels x 5 bands, channel-major.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError
from ._pickle import NumpyOnlyUnpickler, _BoundedReader

__all__ = ["N_BANDS", "read_de_file"]

#: Frequency bands of each DE value (delta, theta, alpha, beta, gamma).
N_BANDS = 5
_ENTRIES = ("data", "label")


def _unpickle(path: Path, key: str, blob: bytes):
    where = f"{path} [{key!r}]"
    src = _BoundedReader(io.BytesIO(blob), len(blob), where)
    try:
        obj = NumpyOnlyUnpickler(src, fname=where).load()
    except DatasetFormatError:  # UnsafePickleError included
        raise
    except Exception as err:  # noqa: BLE001 - any other fault of a crafted stream is a format error
        raise DatasetFormatError(where, "a complete pickle of a dict of numpy arrays",
                                 f"{type(err).__name__}: {str(err)[:200]}") from None
    if src.left:
        raise DatasetFormatError(where, "one pickle filling the entry", f"{src.left} bytes after its end")
    if not isinstance(obj, dict):
        raise DatasetFormatError(where, "a pickled dict {trial index: array}", f"a {type(obj).__name__}")
    return obj


def _entries(path: Path) -> dict:
    """{'data': bytes, 'label': bytes}: the two byte-string entries of the archive."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _ENTRIES if k not in npz.files]
            if missing:
                raise DatasetFormatError(path, "an .npz archive with the entries 'data' and 'label'",
                                         f"the entries {sorted(npz.files)}")
            arrays = {k: npz[k] for k in _ENTRIES}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: expected a SEED-V DE feature file, but found no such file") from None
    except DatasetFormatError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise DatasetFormatError(path, "a complete .npz archive (zip of .npy entries)",
                                 f"an unreadable file ({type(err).__name__}: {str(err)[:200]})") from None
    out = {}
    for k, a in arrays.items():
        if a.ndim != 0 or a.dtype.kind != "S":
            raise DatasetFormatError(path, f"entry {k!r} a 0-d byte string (a pickled dict)",
                                     f"a {a.dtype} array of shape {a.shape}")
        out[k] = a.item()
    return out


def read_de_file(path, n_trials: int, n_chans: int) -> tuple[list, list]:
    """DE features and per-window labels of one subject's ``<subject>_123.npz``.

    Parameters
    ----------
    path : path-like
        The ``.npz`` file.
    n_trials : int
        Trials the file must hold (45: 3 sessions x 15).
    n_chans : int
        Channels of each window (62).

    Returns
    -------
    de : list of ndarray, shape (n_windows_i, n_chans, 5)
        float64 DE per trial (trial index order), channels x bands.
    window_labels : list of ndarray, shape (n_windows_i,)
        float64 class code per window.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DatasetFormatError
        If the archive, an entry or a pickle is malformed or unsafe, the trial indices are not
        ``0 .. n_trials - 1`` in both dicts, a trial is not (n_windows, n_chans * 5) finite numbers,
        or its labels are not one code per window.
    """
    path = Path(path)
    blobs = _entries(path)
    data, label = (_unpickle(path, k, blobs[k]) for k in _ENTRIES)
    want = list(range(n_trials))
    for key, d in (("data", data), ("label", label)):
        keys = list(d)
        if not all(type(k) is int for k in keys) or sorted(keys) != want:
            raise DatasetFormatError(f"{path} [{key!r}]", f"trial indices 0 .. {n_trials - 1} as int keys",
                                     f"keys {sorted(map(repr, keys))[:50]}")
    de, window_labels = [], []
    width = n_chans * N_BANDS
    for k in want:
        x, y = np.asarray(data[k]), np.asarray(label[k])
        if x.ndim != 2 or x.shape[1] != width or x.shape[0] < 1 or x.dtype.kind not in "fiu":
            raise DatasetFormatError(f"{path} ['data']", f"trial {k} of shape (n_windows, {width}) "
                                     f"({n_chans} channels x {N_BANDS} bands), numeric",
                                     f"a {x.dtype} array of shape {x.shape}")
        if not np.isfinite(x).all():
            raise DatasetFormatError(f"{path} ['data']", f"finite DE values in trial {k}", "NaN or Inf")
        if y.dtype.kind not in "fiu" or y.reshape(-1).shape != (x.shape[0],):
            raise DatasetFormatError(f"{path} ['label']", f"trial {k}: one numeric label per window "
                                     f"({x.shape[0]} windows)", f"a {y.dtype} array of shape {y.shape}")
        de.append(x.astype(np.float64).reshape(x.shape[0], n_chans, N_BANDS))
        window_labels.append(y.reshape(-1).astype(np.float64))
    return de, window_labels
