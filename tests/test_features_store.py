"""extract_features -> netCDF -> read_features / load_tokens: layout, provenance, atomicity."""

import dataclasses
import json

import numpy as np
import pytest
import xarray as xr

from neuroaffect._utils import DatasetFormatError, code_version, sha256_file
from neuroaffect.channels import DEAP_EEG_CH_NAMES, DREAMER_CH_NAMES, SEED_CH_NAMES, get_positions
from neuroaffect.features import (
    FeatureParams, compute_band_de, extract_features, load_maps, load_tokens, read_features,
    write_features,
)
from neuroaffect.io.base import Peripheral, Recording

FS = 128.0


def make_recording(tmp_path, *, lengths=(1280,) * 4, dataset="deap", names=DEAP_EEG_CH_NAMES,
                   baseline=True, peripheral=False, seed=0):
    rng = np.random.default_rng(seed)
    c = len(names)
    trials = [1e-5 * rng.standard_normal((c, n)) for n in lengths]
    eeg = np.stack(trials) if len(set(lengths)) == 1 else trials
    n = len(lengths)
    lo, hi = {"deap": (1.0, 9.0), "dreamer": (1.0, 5.0)}.get(dataset, (-1.0, 1.0))
    if dataset == "seed":
        labels = {"emotion": np.array([1.0, 0.0, -1.0, 1.0][:n])}
    else:
        labels = {k: rng.uniform(lo, hi, n).round(2) for k in ("valence", "arousal", "dominance")}
    files = []
    for i in range(2):
        f = tmp_path / f"input{i}.bin"
        f.write_bytes(rng.bytes(1000))
        files.append(f)
    per = {}
    if peripheral:
        import neurokit2 as nk

        gsr = [1e6 / nk.eda_simulate(duration=int(n // FS), sampling_rate=128, scr_number=2, random_state=i)
               for i, n in enumerate(lengths)]
        per["gsr"] = Peripheral(np.stack(gsr)[:, None] if len(set(lengths)) == 1 else [g[None] for g in gsr],
                                FS, "Ohm", "gsr", ("GSR",))
    return Recording(
        dataset=dataset, subject=3, eeg=eeg, sfreq=FS, ch_names=names, labels=labels,
        label_range={k: (lo, hi) for k in labels},
        baseline=1e-5 * rng.standard_normal((n, c, 384)) if baseline else None,
        peripheral=per, fnames=files,
    )


FAST = dict(physio=False)


def test_round_trip_with_provenance(tmp_path):
    rec = make_recording(tmp_path)
    params = FeatureParams(**FAST)
    ds = extract_features(rec, params)
    assert ds["bde"].dims == ("trial", "window", "channel", "band")
    assert ds["bde"].shape == (4, 10, 32, 4) and ds["bde"].dtype == np.float32
    assert ds["topo"].dims == ("trial", "window", "band", "y", "x")
    assert ds["topo"].shape == (4, 10, 4, 32, 32)
    assert ds["ch_pos"].dims == ("channel", "xyz")
    np.testing.assert_allclose(ds["ch_pos"].values, get_positions(DEAP_EEG_CH_NAMES))
    np.testing.assert_array_equal(ds["win_start"].values, np.arange(10) * 128)
    assert ds["win_start"].attrs["window"] == 128
    assert list(ds["channel"].values) == list(DEAP_EEG_CH_NAMES)
    assert list(ds["band"].values) == ["theta", "alpha", "beta", "gamma"]
    np.testing.assert_array_equal(ds["band_lo"].values, [4, 8, 14, 31])
    np.testing.assert_array_equal(ds["band_hi"].values, [8, 14, 31, 45])

    f = write_features(ds, tmp_path / "out" / "deap_s03.nc")
    back = read_features(f)
    xr.testing.assert_identical(back, ds)
    a = back.attrs
    assert a["code_version"] == code_version()
    assert json.loads(a["input_sha256"]) == {str(p): sha256_file(p) for p in rec.fnames}
    resolved = params.resolve(FS)
    assert FeatureParams.from_dict(json.loads(a["params_json"])) == resolved
    assert a["params_hash"] == resolved.hash()
    for fld in dataclasses.fields(FeatureParams):
        assert f"param_{fld.name}" in a, fld.name
    assert (a["window"], a["stride"], a["param_window"], a["param_mode"]) == (128, 128, 128, "filter")
    assert (a["dataset"], a["subject"], a["sfreq"], a["baseline_applied"]) == ("deap", 3, 128.0, 1)


def test_labels_raw_and_normalised(tmp_path):
    rec = make_recording(tmp_path)
    ds = extract_features(rec, FAST)
    np.testing.assert_allclose(ds["valence_norm"].values, (rec.labels["valence"] - 5) / 4)
    np.testing.assert_allclose(ds["arousal"].values, rec.labels["arousal"])
    rec = make_recording(tmp_path, dataset="dreamer", names=DREAMER_CH_NAMES)
    ds = extract_features(rec, FAST)
    np.testing.assert_allclose(ds["valence_norm"].values, (rec.labels["valence"] - 3) / 2)
    rec = make_recording(tmp_path, dataset="seed", names=SEED_CH_NAMES, baseline=False)
    ds = extract_features(rec, dict(FAST, window=200))
    np.testing.assert_array_equal(ds["emotion_norm"].values, [1, 0, -1, 1])
    assert ds.attrs["baseline_applied"] == 0 and "baseline_bde" not in ds


def test_baseline_subtraction_semantics(tmp_path):
    rec = make_recording(tmp_path)
    on = extract_features(rec, dict(FAST, topo=False))
    off = extract_features(rec, dict(FAST, topo=False, baseline="off"))
    raw = compute_band_de(rec.eeg, FS, {}, scale=1e6)
    np.testing.assert_allclose(off["bde"].values, raw, rtol=1e-6)
    np.testing.assert_allclose(on["bde"].values, raw - on["baseline_bde"].values[:, None], atol=1e-5)
    np.testing.assert_array_equal(on["baseline_bde"].values, off["baseline_bde"].values)
    assert off.attrs["baseline_applied"] == 0 and on.attrs["baseline_applied"] == 1


def test_changed_parameter_changes_hash(tmp_path):
    rec = make_recording(tmp_path, lengths=(512,) * 2)
    base = extract_features(rec, dict(FAST, topo=False)).attrs["params_hash"]
    assert extract_features(rec, dict(FAST, topo=False)).attrs["params_hash"] == base
    for change in (dict(mode="fft"), dict(stride=64), dict(bands={"alpha": (8, 13)}),
                   dict(log_base=2), dict(baseline="off"), dict(scale_uv=False), dict(order=6)):
        h = extract_features(rec, dict(FAST, topo=False, **change)).attrs["params_hash"]
        assert h != base, change
    # the implicit 1-s window and an explicit 128 resolve to the same parameters
    assert extract_features(rec, dict(FAST, topo=False, window=128)).attrs["params_hash"] == base


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    ds = extract_features(make_recording(tmp_path, lengths=(256,) * 2), dict(FAST, topo=False))
    target = tmp_path / "feat" / "s.nc"
    write_features(ds, target)
    before = target.read_bytes()

    def broken(self, path, **kw):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(OSError, match="disk full"):
        write_features(ds, target)
    with pytest.raises(OSError, match="disk full"):
        write_features(ds, tmp_path / "feat" / "new.nc")
    assert sorted(p.name for p in target.parent.iterdir()) == ["s.nc"]
    assert target.read_bytes() == before


def test_unequal_length_trials(tmp_path):
    lengths = (1280, 960, 200, 100)  # 10, 7, 1 and 0 windows
    rec = make_recording(tmp_path, lengths=lengths, baseline=False)
    for mode in ("filter", "fft", "window-lfilter"):
        ds = extract_features(rec, dict(FAST, mode=mode))
        np.testing.assert_array_equal(ds["n_windows"].values, [10, 7, 1, 0])
        bde = ds["bde"].values
        assert bde.shape == (4, 10, 32, 4)
        valid = np.arange(10)[None] < np.array([10, 7, 1, 0])[:, None]
        assert np.isfinite(bde[valid]).all() and np.isnan(bde[~valid]).all()
        assert np.isnan(ds["topo"].values[~valid]).all()
        # each trial's values equal those of the trial on its own
        for i in (0, 1, 2):
            alone = compute_band_de(rec.eeg[i][None], FS, dict(mode=mode), scale=1e6)[0]
            np.testing.assert_allclose(bde[i, : alone.shape[0]], alone, rtol=1e-5, atol=1e-5)
    f = write_features(ds, tmp_path / "ragged.nc")
    tok = load_tokens(f)
    assert tok.X.shape == (18, 32, 4) and tok.X.dtype == np.float32
    np.testing.assert_array_equal(tok.trial, [0] * 10 + [1] * 7 + [2])
    np.testing.assert_array_equal(tok.window, list(range(10)) + list(range(7)) + [0])
    np.testing.assert_array_equal(tok.labels["valence"], rec.labels["valence"][tok.trial])
    np.testing.assert_array_equal(tok.X[11], ds["bde"].values[1, 1])
    maps, labels, trial, window = load_maps(f)
    assert maps.shape == (18, 4, 32, 32) and np.isfinite(maps).all()


def test_maps_are_maps_of_the_tokens(tmp_path):
    from neuroaffect.features import make_topomaps, topomap_grid_for_channels

    ds = extract_features(make_recording(tmp_path, lengths=(384,) * 2), dict(FAST, outside="nan"))
    grid = topomap_grid_for_channels(DEAP_EEG_CH_NAMES, 32, "cubic", "nan")
    expect = make_topomaps(ds["bde"].values.transpose(0, 1, 3, 2), grid)
    np.testing.assert_allclose(ds["topo"].values, expect, rtol=1e-6, equal_nan=True)
    inside = ds["topo_inside"].values.astype(bool)
    assert np.isnan(ds["topo"].values[..., ~inside]).all()


def test_physio_present_only_for_present_modalities(tmp_path):
    ds = extract_features(make_recording(tmp_path, lengths=(1280 * 3,) * 2), dict(topo=False))
    assert "physio" not in ds  # no peripheral signals: no physiology at all
    rec = make_recording(tmp_path, lengths=(1280 * 3,) * 2, peripheral=True)
    ds = extract_features(rec, dict(topo=False))
    assert list(ds["feature"].values) == ["gsr_tonic", "scr_count"]
    assert ds["physio"].shape == (2, 30, 2)
    tonic = ds["physio"].sel(feature="gsr_tonic").values
    assert np.isfinite(tonic).all() and 0.5 < np.median(tonic) < 5  # uS from Ohm
    back = read_features(write_features(ds, tmp_path / "p.nc"))
    assert list(back["feature_unit"].values) == ["uS", "count"]


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_features(tmp_path / "missing.nc")
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"not a netcdf file")
    with pytest.raises(DatasetFormatError, match="bad.nc: expected a netCDF feature file"):
        read_features(bad)
    other = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", np.arange(3))}).to_netcdf(other, engine="h5netcdf")
    with pytest.raises(DatasetFormatError, match="other.nc: expected a feature file"):
        read_features(other)
    with pytest.raises(ValueError, match="lacks the variable"):
        write_features(xr.Dataset({"a": ("x", np.arange(3))}), tmp_path / "x.nc")
