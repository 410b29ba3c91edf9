"""write_features writes the file h5netcdf writes: every HDF5 object, attribute and byte of data."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr

from neuroaffect.channels import DEAP_EEG_CH_NAMES
from neuroaffect.features import FeatureParams, extract_features, read_features, write_features
from neuroaffect.features.store import CHECKSUM_ATTR, _direct_plan, content_checksum
from neuroaffect.io.base import Recording

FS = 128.0


def _recording(lengths=(1280,) * 3, seed=0) -> Recording:
    rng = np.random.default_rng(seed)
    trials = [1e-5 * rng.standard_normal((32, n)) for n in lengths]
    eeg = np.stack(trials) if len(set(lengths)) == 1 else trials
    labels = {k: rng.uniform(1, 9, len(lengths)).round(2) for k in ("valence", "arousal")}
    return Recording(dataset="deap", subject=2, eeg=eeg, sfreq=FS, ch_names=DEAP_EEG_CH_NAMES, labels=labels,
                     label_range={k: (1.0, 9.0) for k in labels},
                     baseline=1e-5 * rng.standard_normal((len(lengths), 32, 384)))


def _value(f, value):
    """An attribute value in comparable form: object references become the referenced names."""
    if isinstance(value, np.ndarray) and value.dtype.names == ("dataset", "dimension"):  # REFERENCE_LIST
        return sorted((f[ref].name, int(dim)) for ref, dim in value.tolist())
    if isinstance(value, np.ndarray) and value.dtype == object and value.size and \
            isinstance(value.flat[0], np.ndarray):  # DIMENSION_LIST
        return [[f[ref].name for ref in refs] for refs in value]
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, repr(value.tolist()))
    return (type(value).__name__, repr(value))


def _attrs(f, obj) -> dict:
    out = {}
    for key in obj.attrs:
        aid = h5py.h5a.open(obj.id, key.encode())
        kind = aid.get_type()
        vlen = kind.is_variable_str() if isinstance(kind, h5py.h5t.TypeStringID) else None
        out[key] = (type(kind).__name__, vlen, aid.get_space().get_simple_extent_dims(), _value(f, obj.attrs[key]))
    return out


def _layout(path) -> dict:
    with h5py.File(path, "r") as f:
        root = _attrs(f, f)
        root.pop("_NCProperties")  # library versions; its prefix is compared below
        out = {"root": root, "order": list(f.keys()), "nc_properties_prefix": f.attrs["_NCProperties"][:13]}
        for name, d in f.items():
            dcpl = d.id.get_create_plist()
            data = d[()]
            out[name] = {
                "dtype": str(d.dtype), "string": h5py.check_string_dtype(d.dtype), "shape": d.shape,
                "chunks": d.chunks, "compression": d.compression, "layout": dcpl.get_layout(),
                "attr_order": dcpl.get_attr_creation_order(), "fill": repr(d.fillvalue),
                "is_scale": h5py.h5ds.is_scale(d.id), "attrs": _attrs(f, d),
                "data": data.tolist() if data.dtype == object else data.tobytes(),
            }
    return out


def _reference(ds, path, ours):
    """xarray's own file of ``ds``, with the checksum attribute our file carries (write_features adds it)."""
    with h5py.File(ours, "r") as f:
        digest = f.attrs[CHECKSUM_ATTR]
    ds.assign_attrs({CHECKSUM_ATTR: digest}).to_netcdf(path, engine="h5netcdf")
    return path


@pytest.mark.parametrize("params, lengths", [
    (dict(physio=False), (1280,) * 3),
    (dict(physio=False, topo=False, mode="fft", window=256, stride=117), (1280, 1000, 600)),  # ragged: NaN
    (dict(physio=False, topo=True, topo_size=16, raw=True), (640,) * 2),
])
def test_file_layout_equals_h5netcdf(tmp_path, params, lengths):
    ds = extract_features(_recording(lengths), FeatureParams(**params))
    assert _direct_plan(ds) is not None  # the direct path writes these
    ours = _layout(write_features(ds, tmp_path / "ours.nc"))
    ref = _layout(_reference(ds, tmp_path / "ref.nc", tmp_path / "ours.nc"))
    assert ours["root"][CHECKSUM_ATTR][-1] == ("str", repr(content_checksum(ds)))
    assert ours["nc_properties_prefix"] == ref["nc_properties_prefix"] == b"version=2,h5n"
    assert ours.keys() == ref.keys()
    for key in ref:
        assert ours[key] == ref[key], key
    # readers see the same dataset, attribute order and encodings included
    a = xr.open_dataset(tmp_path / "ours.nc").load()
    b = xr.open_dataset(tmp_path / "ref.nc").load()
    xr.testing.assert_identical(a, b)
    xr.testing.assert_identical(read_features(tmp_path / "ours.nc"), ds)
    for name in b.variables:
        assert list(a[name].attrs) == list(b[name].attrs), name
        ea, eb = ({k: repr(v) for k, v in x[name].encoding.items() if k != "source"} for x in (a, b))
        assert ea == eb, name


@pytest.mark.slow
def test_datasets_outside_the_direct_path_are_written_by_xarray(tmp_path):
    ds = extract_features(_recording(), FeatureParams(physio=False, topo=False))
    read_back = read_features(write_features(ds, tmp_path / "a.nc"))  # carries file encodings
    assert _direct_plan(read_back) is None
    f = write_features(read_back, tmp_path / "b.nc")
    xr.testing.assert_identical(read_features(f), ds)
    unlimited = ds.copy()
    unlimited.encoding["unlimited_dims"] = {"trial"}
    assert _direct_plan(unlimited) is None
    no_coord = ds.drop_vars("xyz")  # a dimension without its coordinate variable
    assert _direct_plan(no_coord) is None
    ours = _layout(write_features(no_coord, tmp_path / "c.nc"))
    assert ours == _layout(_reference(no_coord, tmp_path / "d.nc", tmp_path / "c.nc"))
