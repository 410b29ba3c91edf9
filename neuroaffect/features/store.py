"""Feature files: one netCDF (h5netcdf engine) per dataset and subject, written atomically.

A reader needs only xarray and numpy; :func:`load_tokens` and :func:`load_maps` give the
arrays models take, one row per valid window, with the trial and window of each row so that
training code can split by trial and measure window overlap (``win_start``, ``window``)
without importing MNE.

Writing: the file and its global attributes are created by ``xarray.Dataset.to_netcdf``
(h5netcdf engine); the variables are then added with h5py directly, in the layout h5netcdf
gives them (contiguous, uncompressed datasets; netCDF-4 dimension scales, ``_Netcdf4Dimid``,
``_Netcdf4Coordinates``, ``_FillValue``; xarray's CF encoding of every variable, including the
``coordinates`` attributes), without h5netcdf's per-variable bookkeeping, which costs more than
the data. Readers load whole variables, which contiguous storage serves best. A dataset outside
what that path covers (an unlimited dimension, a dimension without its coordinate variable,
per-variable encodings such as chunks or compression, other dtypes) is written by
``to_netcdf`` entirely. ``tests/test_features_layout.py`` checks that both give the same file
layout.

Integrity: every file carries ``content_sha256``, a global attribute holding the checksum of
what a reader gets (every variable's name, dimensions, dtype, shape, bytes and attributes, and
the other global attributes; :func:`content_checksum`). :func:`read_features` recomputes it on the
loaded arrays (one pass over their bytes) and refuses a file whose content differs: a changed
byte can no longer alter tokens, labels, ``n_windows`` or ``ch_pos`` unnoticed. Files without the
attribute (written before it existed) are refused with a request to extract them again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xarray as xr

from .._utils import ArtifactIntegrityError, DatasetFormatError, atomic_path, content_sha256

__all__ = ["CHECKSUM_ATTR", "Tokens", "check_feature_dataset", "content_checksum", "label_spec", "write_features",
           "read_features", "load_tokens", "load_maps", "valid_mask"]

_ENGINE = "h5netcdf"
_REQUIRED_VARS = ("bde", "n_windows", "ch_pos")
_REQUIRED_ATTRS = ("params_hash", "params_json", "code_version", "input_sha256", "window", "stride")
#: What windows need of a feature dataset besides a variable of inputs: attributes and coordinates.
_WINDOW_ATTRS = ("dataset", "subject", "window")
_WINDOW_COORDS = ("channel", "band", "session", "trial_id", "win_start")
#: Provenance a dataset built by hand gets when written (it was not made by extract_features).
HAND_BUILT = "none: built outside neuroaffect.features.extract_features"
#: Global attribute holding a feature file's :func:`content_checksum`.
CHECKSUM_ATTR = "content_sha256"


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


def _attr_content(value):
    """An attribute value in the form it has whichever way it was stored and read back: a str, or
    a list of numbers / strings (a one-element list as its element)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    arr = np.asarray(value)
    if arr.dtype.kind in "biu":
        out = [int(v) for v in arr.ravel()]
    elif arr.dtype.kind == "f":
        out = [float(v) for v in arr.ravel()]
    else:
        out = [v if isinstance(v, str) else (v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else str(v))
               for v in arr.ravel()]
    return out[0] if len(out) == 1 else out


def content_checksum(ds: xr.Dataset) -> str:
    """sha256 of a feature dataset's content, as a reader sees it.

    Covers every variable (name, dimensions, dtype, shape, values as bytes; string arrays as text,
    whatever their width) and its attributes, and every global attribute but
    :data:`CHECKSUM_ATTR`, in sorted order; not the file encoding (chunks, fill values, attribute
    storage types), which the reader undoes. The arrays are hashed once from memory.

    Parameters
    ----------
    ds : xarray.Dataset
        Loaded (in memory), e.g. from :func:`extract_features` or :func:`read_features`.

    Returns
    -------
    hexdigest : str
    """
    attrs = {k: _attr_content(ds.attrs[k]) for k in sorted(ds.attrs) if k != CHECKSUM_ATTR}
    variables = []
    for name in sorted(ds.variables, key=str):
        var = ds.variables[name]
        variables.append([str(name), [str(d) for d in var.dims],
                          {str(k): _attr_content(var.attrs[k]) for k in sorted(var.attrs, key=str)},
                          np.asarray(var.values)])
    return content_sha256({"attrs": attrs, "variables": variables})


def write_features(ds: xr.Dataset, fname) -> Path:
    """Write ``ds`` to ``fname`` (netCDF via h5netcdf) atomically: a temporary file beside it,
    renamed onto ``fname`` only once complete. On failure nothing is left behind and an
    existing ``fname`` is untouched. The file carries the :func:`content_checksum` of ``ds`` as
    the global attribute ``content_sha256`` (replacing any in ``ds.attrs``).

    A dataset built by hand (not by :func:`extract_features`) gets the provenance attributes a
    feature file needs, so that :func:`read_features` reads it back: ``code_version`` (this
    code's), ``input_sha256`` (``{}``), ``params_json`` (``{}``) and ``params_hash`` (saying
    it was built by hand), and ``window`` / ``stride`` from the ``win_start`` coordinate (its
    ``window`` / ``stride`` attributes, else its spacing); a dataset without them is refused."""
    fname = Path(fname)
    missing = [v for v in _REQUIRED_VARS if v not in ds.variables]
    if missing:
        raise ValueError(f"{fname}: the dataset lacks the variable(s) {missing} of a feature file")
    ds = _with_provenance(ds, fname)
    if CHECKSUM_ATTR in ds.attrs:
        ds = ds.copy(deep=False)
        del ds.attrs[CHECKSUM_ATTR]
    plan = _direct_plan(ds)
    with atomic_path(fname) as tmp:
        if plan is None:
            # xarray's encodings (e.g. packing) may change what a reader gets: checksum the read-back
            ds.to_netcdf(tmp, engine=_ENGINE)
            with xr.open_dataset(tmp, engine=_ENGINE) as back:
                digest = content_checksum(back.load())
            ds.assign_attrs({CHECKSUM_ATTR: digest}).to_netcdf(tmp, engine=_ENGINE)
        else:
            variables, attrs = plan
            attrs = {**attrs, CHECKSUM_ATTR: content_checksum(ds)}
            xr.Dataset(attrs=attrs).to_netcdf(tmp, engine=_ENGINE)  # the file, global attributes
            _write_variables(tmp, variables)
    return fname


def _with_provenance(ds: xr.Dataset, fname) -> xr.Dataset:
    """``ds`` with the provenance attributes a feature file needs filled in (see :func:`write_features`)."""
    from .._utils import code_version

    missing = [a for a in _REQUIRED_ATTRS if a not in ds.attrs]
    if not missing:
        return ds
    fill = {"code_version": code_version(), "input_sha256": "{}", "params_json": "{}", "params_hash": HAND_BUILT}
    ws = ds.coords.get("win_start")
    for key in ("window", "stride"):
        if key in missing and ws is not None and key in ws.attrs:
            fill[key] = int(ws.attrs[key])
    if "stride" not in fill and "stride" in missing and ws is not None and ws.size > 1:
        fill["stride"] = int(np.diff(ws.values)[0])
    if "window" not in fill and "window" in missing and "raw" in ds:
        fill["window"] = int(ds["raw"].shape[-1])
    still = [a for a in missing if a not in fill]
    if still:
        raise ValueError(f"{fname}: expected the window length and stride of a feature dataset (attributes "
                         f"'window' and 'stride' in samples, or a 'win_start' coordinate holding them), but found "
                         f"no {still}")
    return ds.assign_attrs({a: fill[a] for a in missing})


def check_feature_dataset(ds: xr.Dataset, where, variable: str = "bde") -> None:
    """Refuse a feature dataset that lacks what windows are made of, naming what is missing.

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset of :func:`extract_features` / :func:`read_features`, or one built by hand.
    where : str
        Its file, or a description of the in-memory dataset (for the message).
    variable : str
        The inputs variable needed (``bde``, ``topo`` or ``raw``).

    Raises
    ------
    DatasetFormatError
        Naming the missing variables, coordinates or attributes.
    """
    if not isinstance(ds, xr.Dataset):
        raise DatasetFormatError(where, "an xarray.Dataset of features (neuroaffect.features.extract_features)",
                                 f"an instance of {type(ds).__name__}")
    missing = [f"variable {v!r}" for v in (variable, "n_windows", "ch_pos") if v not in ds.variables]
    missing += [f"coordinate {c!r}" for c in _WINDOW_COORDS if c not in ds.coords]
    missing += [f"attribute {a!r}" for a in _WINDOW_ATTRS if a not in ds.attrs]
    if missing:
        raise DatasetFormatError(where, "a feature dataset as extract_features makes it (variables bde/topo/raw, "
                                 "n_windows, ch_pos; coordinates channel, band, session, trial_id, win_start and the "
                                 "labels; attributes dataset, subject, window, label_names)",
                                 f"no {', '.join(missing)}")


def label_spec(ds: xr.Dataset, name: str) -> dict:
    """How a user's own label ``name`` of a feature dataset becomes targets.

    Returns
    -------
    spec : dict
        ``{"scale": (lo, hi) | None, "classes": tuple of str | None}`` from the dataset's
        ``label_range`` and ``label_classes`` attributes (the keyword arguments of
        :func:`neuroaffect.labels.make_custom_labels`).
    """
    classes = json.loads(ds.attrs.get("label_classes", "{}") or "{}")
    ranges = json.loads(ds.attrs.get("label_range", "{}") or "{}")
    if name in classes:
        return {"scale": None, "classes": tuple(classes[name])}
    return {"scale": tuple(ranges[name]) if name in ranges else None, "classes": None}


# --------------------------------------------------------------------------------------------
# direct writing of the variables (the layout h5netcdf writes, without its per-variable cost)
# --------------------------------------------------------------------------------------------
def _direct_plan(ds: xr.Dataset):
    """``(variables, attributes)`` as xarray encodes them for netCDF-4, or None when the direct
    path does not cover ``ds`` (it is then written by ``to_netcdf`` alone)."""
    from xarray import conventions

    if ds.encoding.get("unlimited_dims") or any(v.encoding for v in ds.variables.values()):
        return None
    variables, attrs = conventions.encode_dataset_coordinates(ds)
    variables, attrs = conventions.cf_encoder(variables, attrs)
    for name, var in variables.items():
        kind = var.dtype.kind
        if kind not in "fiuU" or var.encoding or "/" in name:
            return None
        if any(d not in variables or variables[d].dims != (d,) for d in var.dims):
            return None  # a dimension without its coordinate variable
        if not all(_plain_attr(v) for k, v in var.attrs.items() if k != "_FillValue"):
            return None
    return variables, attrs


def _plain_attr(value) -> bool:
    """Attribute values the direct path writes: str, or numbers (scalars or 1-D arrays)."""
    if isinstance(value, str):
        return True
    if isinstance(value, bool | np.bool_):
        return False
    arr = np.asarray(value)
    return arr.dtype.kind in "iuf" and arr.ndim <= 1


def _attr(value):
    """An attribute value as h5netcdf stores it (numbers as 1-element arrays)."""
    if isinstance(value, str):
        return value
    return np.atleast_1d(np.asarray(value))


def _write_variables(path, variables: dict) -> None:
    """Add ``variables`` (xarray-encoded) to the netCDF-4 file ``path`` with h5py."""
    import h5py

    dim_ids: dict = {}
    for var in variables.values():
        for d in var.dims:
            dim_ids.setdefault(d, len(dim_ids))
    with h5py.File(path, "r+") as f:
        dsets = {}
        for name, var in variables.items():
            fill = var.attrs.get("_FillValue")
            if var.dtype.kind == "U":
                dset = f.create_dataset(name, shape=var.shape, dtype=h5py.string_dtype("utf-8"), track_order=True)
                dset[...] = np.asarray(var.values, dtype=object)
            else:
                data = np.ascontiguousarray(var.values)
                dset = f.create_dataset(name, shape=var.shape, dtype=data.dtype, fillvalue=fill, track_order=True)
                if data.size:
                    dset.write_direct(data)
            dsets[name] = dset
        for name, var in variables.items():  # coordinate variables are the dimension scales
            if var.dims == (name,):
                dsets[name].make_scale(name)
                dsets[name].attrs["_Netcdf4Dimid"] = np.int32(dim_ids[name])
        for name, var in variables.items():
            dset = dsets[name]
            if var.dims != (name,):
                for i, d in enumerate(var.dims):
                    dset.dims[i].attach_scale(dsets[d])
            if var.dims:
                dset.attrs["_Netcdf4Coordinates"] = np.array([dim_ids[d] for d in var.dims], np.int32)
                if var.dims != (name,):
                    dset.attrs["_Netcdf4Dimid"] = np.int32(dim_ids[var.dims[0]])
            for key, value in var.attrs.items():
                if key == "_FillValue":
                    value = np.array([value], dtype=var.dtype)
                dset.attrs[key] = _attr(value)


def read_features(fname) -> xr.Dataset:
    """Load a feature file into memory (the file is closed on return).

    The file's ``content_sha256`` attribute is checked against the loaded content and removed
    from the returned dataset's attributes.

    Raises
    ------
    FileNotFoundError
        ``fname`` does not exist.
    DatasetFormatError
        It is not a feature file (unreadable, e.g. corrupted HDF5 metadata; missing variables or
        provenance attributes; no ``content_sha256``, i.e. written before feature files carried
        one).
    ArtifactIntegrityError
        Its content differs from its ``content_sha256`` (the file was changed after it was written).
    """
    fname = Path(fname)
    if not fname.is_file():
        raise FileNotFoundError(f"{fname}: expected a feature file, but found no such file")
    try:
        with xr.open_dataset(fname, engine=_ENGINE) as f:
            ds = f.load()
    except Exception as err:  # h5py, h5netcdf and xarray report corrupted files with many types
        raise DatasetFormatError(fname, "a netCDF feature file",
                                 f"an unreadable file ({type(err).__name__}: {err})") from None
    missing = [v for v in _REQUIRED_VARS if v not in ds.variables]
    missing += [a for a in _REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise DatasetFormatError(fname, "a feature file with bde, n_windows, ch_pos and provenance",
                                 f"no {missing}")
    expected = ds.attrs.pop(CHECKSUM_ATTR, None)
    if not isinstance(expected, str):
        raise DatasetFormatError(
            fname, f"a feature file with its {CHECKSUM_ATTR!r} attribute",
            "none (written by an earlier version of neuroaffect, or edited): delete it and extract the features "
            "again (snakemake rebuilds a removed feature file)")
    try:
        found = content_checksum(ds)
    except Exception as err:  # an attribute or variable of a type no feature file holds
        raise DatasetFormatError(fname, "a feature file of numbers and text",
                                 f"content that cannot be checksummed ({type(err).__name__}: {err})") from None
    if found != expected:
        raise ArtifactIntegrityError(fname, expected, found)
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
