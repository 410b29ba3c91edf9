"""Feature files: one netCDF (h5netcdf engine) per dataset and subject, written atomically.

A reader needs only xarray and numpy; :func:`load_tokens` and :func:`load_maps` give the
arrays models take, one row per valid window, with the trial and window of each row so that
training code can split by trial and measure window overlap (``win_start``, ``window``)
without importing MNE.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xarray as xr

from .._utils import DatasetFormatError, atomic_path

__all__ = ["Tokens", "write_features", "read_features", "load_tokens", "load_maps", "valid_mask"]

_ENGINE = "h5netcdf"
_REQUIRED_VARS = ("bde", "n_windows", "ch_pos")
_REQUIRED_ATTRS = ("params_hash", "params_json", "code_version", "input_sha256", "window", "stride")


class Tokens(NamedTuple):
    """Per-window samples of one subject, valid windows only, trial-major order.

    Attributes
    ----------
    X : ndarray, shape (n_samples, n_chans, n_bands), float32
        Band DE tokens (one token per electrode).
    labels : dict of str -> ndarray, shape (n_samples,)
        Every trial label, raw (``valence``) and normalised (``valence_norm``).
    trial : ndarray of int, shape (n_samples,)
        Trial index (position along the file's ``trial`` axis) of each sample.
    window : ndarray of int, shape (n_samples,)
        Window index within its trial; its first sample is ``win_start[window]``.
    """

    X: np.ndarray
    labels: dict
    trial: np.ndarray
    window: np.ndarray


def write_features(ds: xr.Dataset, fname) -> Path:
    """Write ``ds`` to ``fname`` (netCDF via h5netcdf) atomically: a temporary file beside it,
    renamed onto ``fname`` only once complete. On failure nothing is left behind and an
    existing ``fname`` is untouched."""
    fname = Path(fname)
    missing = [v for v in _REQUIRED_VARS if v not in ds.variables]
    if missing:
        raise ValueError(f"{fname}: the dataset lacks the variable(s) {missing} of a feature file")
    with atomic_path(fname) as tmp:
        ds.to_netcdf(tmp, engine=_ENGINE)
    return fname


def read_features(fname) -> xr.Dataset:
    """Load a feature file into memory (the file is closed on return).

    Raises
    ------
    FileNotFoundError
        ``fname`` does not exist.
    DatasetFormatError
        It is not a feature file (missing variables or provenance attributes).
    """
    fname = Path(fname)
    if not fname.is_file():
        raise FileNotFoundError(f"{fname}: expected a feature file, but found no such file")
    try:
        with xr.open_dataset(fname, engine=_ENGINE) as f:
            ds = f.load()
    except (OSError, ValueError) as err:
        raise DatasetFormatError(fname, "a netCDF feature file", f"an unreadable file ({err})") from None
    missing = [v for v in _REQUIRED_VARS if v not in ds.variables]
    missing += [a for a in _REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise DatasetFormatError(fname, "a feature file with bde, n_windows, ch_pos and provenance",
                                 f"no {missing}")
    return ds


def _as_dataset(src) -> xr.Dataset:
    return src if isinstance(src, xr.Dataset) else read_features(src)


def valid_mask(src) -> np.ndarray:
    """(n_trials, n_windows) bool: windows that exist in their trial."""
    ds = _as_dataset(src)
    nw = ds["n_windows"].values
    return np.arange(ds.sizes["window"])[None, :] < nw[:, None]


def _labels(ds: xr.Dataset, trial: np.ndarray) -> dict:
    names = json.loads(ds.attrs.get("label_names", "[]"))
    out = {}
    for name in names:
        for key in (name, f"{name}_norm"):
            if key in ds.coords:
                out[key] = ds.coords[key].values[trial]
    return out


def load_tokens(src) -> Tokens:
    """Band-DE tokens of every valid window, ready for a model.

    Parameters
    ----------
    src : path-like | xarray.Dataset
        A feature file or a dataset from :func:`extract_features` / :func:`read_features`.

    Returns
    -------
    tokens : Tokens
        ``X`` (n_samples, n_chans, n_bands) float32, ``labels``, ``trial``, ``window``.
    """
    ds = _as_dataset(src)
    trial, window = np.nonzero(valid_mask(ds))
    X = np.ascontiguousarray(ds["bde"].values[trial, window], dtype=np.float32)
    return Tokens(X=X, labels=_labels(ds, trial), trial=trial, window=window)


def load_maps(src):
    """Topographic maps of every valid window.

    Returns
    -------
    maps : ndarray, shape (n_samples, n_bands, H, W), float32
    labels : dict of str -> ndarray, shape (n_samples,)
    trial, window : ndarray of int, shape (n_samples,)
    """
    ds = _as_dataset(src)
    if "topo" not in ds:
        raise ValueError("the features hold no maps (extracted with topo=False)")
    trial, window = np.nonzero(valid_mask(ds))
    maps = np.ascontiguousarray(ds["topo"].values[trial, window], dtype=np.float32)
    return maps, _labels(ds, trial), trial, window
