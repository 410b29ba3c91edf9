"""Band differential entropy: closed forms, a plain per-window reference, windows, baseline."""

import math

import numpy as np
import pytest
from scipy import signal

from neuroaffect.features import (
    BANDS, FeatureParams, compute_band_de, compute_band_variance, compute_baseline_variance,
    n_windows, variance_to_de, window_starts,
)
from neuroaffect.features.bde import _windows_view

FS = 128.0


def bandlimited_noise(rng, n_sig, n_times, lo, hi, var, fs=FS):
    """Gaussian noise with a flat spectrum on [lo, hi] Hz and exact variance ``var`` per signal."""
    f = np.fft.rfftfreq(n_times, 1 / fs)
    m = (f >= lo) & (f <= hi)
    spec = (rng.standard_normal((n_sig, f.size)) + 1j * rng.standard_normal((n_sig, f.size))) * m
    x = np.fft.irfft(spec, n_times)
    return x * np.sqrt(var / x.var(axis=-1, keepdims=True))


def pink_noise(rng, n_sig, n_times, fs=FS):
    f = np.fft.rfftfreq(n_times, 1 / fs)
    amp = np.where(f > 0, 1 / np.sqrt(np.maximum(f, 1e-12)), 0.0)
    spec = (rng.standard_normal((n_sig, f.size)) + 1j * rng.standard_normal((n_sig, f.size))) * amp
    x = np.fft.irfft(spec, n_times)
    return x / x.std(axis=-1, keepdims=True)


def torcheeg_reference(x, fs, window, stride, bands, log2=True, normalize=False, order=5):
    """Plain TorchEEG-style band DE: per window, per band, per channel, filter designed
    inside the loop, ``lfilter`` from rest, ``0.5 log(2 pi e var)``.

    x : (n_trials, n_chans, n_times) -> (n_trials, n_windows, n_chans, n_bands)
    """
    log = np.log2 if log2 else np.log
    out = []
    for trial in x:
        rows = []
        for start in range(0, trial.shape[-1] - window + 1, stride):
            clip = trial[:, start:start + window]
            if normalize:
                sd = clip.std()
                clip = (clip - clip.mean()) / (sd if sd != 0 else 1.0)
            per_band = []
            for lo, hi in bands:
                per_chan = []
                for ch in clip:
                    nyq = 0.5 * fs
                    b, a = signal.butter(order, [lo / nyq, hi / nyq], btype="band")
                    per_chan.append(0.5 * log(2 * np.pi * np.e * np.var(signal.lfilter(b, a, ch))))
                per_band.append(per_chan)
            rows.append(np.array(per_band).T)
        out.append(rows)
    return np.array(out)


# --------------------------------------------------------------------------------------------
# closed form
# --------------------------------------------------------------------------------------------
# Gaussian noise, flat on 10-12 Hz (inside the alpha band 8-14 Hz), variance 25 uV^2, in
# 10-s windows (40 degrees of freedom per estimate). Stated tolerances on the mean DE over
# 240 windows, in nats: filter and fft 0.03, window-lfilter 0.04 (its per-window start-up
# transient lowers the variance by ~2 %). A 25 % error in variance would be 0.11 nats.
CLOSED_FORM_TOL = {"filter": 0.03, "fft": 0.03, "window-lfilter": 0.04}


@pytest.mark.parametrize("mode", ["filter", "fft", "window-lfilter"])
def test_closed_form_de_of_bandlimited_gaussian_noise(mode):
    rng = np.random.default_rng(0)
    var = 25.0
    x = bandlimited_noise(rng, 8, 1280 * 30, 10, 12, var)[None]
    p = FeatureParams(mode=mode, bands={"alpha": (8, 14)}, window=1280)
    de = compute_band_de(x, FS, p)
    assert de.shape == (1, 30, 8, 1)
    expected = 0.5 * math.log(2 * math.pi * math.e * var)
    assert abs(de.mean() - expected) < CLOSED_FORM_TOL[mode]
    assert abs(de.mean() - 0.5 * math.log(2 * math.pi * math.e * 1.25 * var)) > CLOSED_FORM_TOL[mode]
    # log base 2: the same entropy in bits
    de2 = compute_band_de(x, FS, FeatureParams(mode=mode, bands={"alpha": (8, 14)}, window=1280, log_base=2))
    np.testing.assert_allclose(de2, de / math.log(2), rtol=1e-12)


def test_closed_form_gamma_band():
    rng = np.random.default_rng(1)
    x = bandlimited_noise(rng, 4, 1280 * 20, 34, 42, 4.0)[None]
    expected = 0.5 * math.log(2 * math.pi * math.e * 4.0)
    for mode in ("filter", "fft", "window-lfilter"):
        de = compute_band_de(x, FS, dict(mode=mode, bands={"gamma": (31, 45)}, window=1280))
        assert abs(de.mean() - expected) < CLOSED_FORM_TOL[mode], mode


def test_variance_to_de():
    np.testing.assert_allclose(variance_to_de(1.0), 0.5 * math.log(2 * math.pi * math.e))
    np.testing.assert_allclose(variance_to_de(4.0, "2"), 0.5 * math.log2(2 * math.pi * math.e * 4))
    assert np.isfinite(variance_to_de(0.0))


# --------------------------------------------------------------------------------------------
# window-lfilter == plain per-window scipy reference
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("log_base", ["e", "2"])
def test_window_lfilter_equals_per_window_reference(log_base):
    rng = np.random.default_rng(2)
    x = 20.0 * pink_noise(rng, 3 * 5, 128 * 6).reshape(3, 5, -1) + 3.0  # uV with an offset
    p = FeatureParams(mode="window-lfilter", log_base=log_base)
    ours = compute_band_de(x, FS, p)
    ref = torcheeg_reference(x, FS, 128, 128, list(BANDS.values()), log2=log_base == "2")
    assert ours.shape == ref.shape == (3, 6, 5, 4)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


@pytest.mark.parametrize("window, stride, normalize", [(128, 128, "off"), (100, 37, "window")])
def test_window_lfilter_in_place_buffers_give_the_values_bit_for_bit(monkeypatch, window, stride, normalize):
    """The band variances of window-lfilter, filtered in one buffer per chunk of trials, are those
    of a fresh BLAS triangular product per band (the earlier form, written out here), bit for bit,
    whatever the chunking; and the documented fixed linear map (windows @ the stacked matrices of
    design_window_filters, a plain dense product) to float64 rounding."""
    from scipy import linalg

    from neuroaffect.features import bde

    rng = np.random.default_rng(11)
    x = 12.0 * pink_noise(rng, 5 * 3, 128 * 5).reshape(5, 3, -1).astype(np.float32) + 2.0
    p = FeatureParams(mode="window-lfilter", window=window, stride=stride, normalize=normalize).resolve(FS)
    bands = tuple(p.bands.values())
    xw = np.multiply(_windows_view(x, window, stride), 1.0, dtype=np.float64)  # (trial, chan, win, sample)
    if normalize == "window":
        sd = xw.std(axis=(1, 3), keepdims=True)
        xw = (xw - xw.mean(axis=(1, 3), keepdims=True)) / sd
    rows = xw.reshape(-1, window)
    earlier, dense = [], []
    m = bde.design_window_filters(FS, bands, p.order, window)
    for b in range(len(bands)):
        block = np.asfortranarray(m[:, b * window:(b + 1) * window])
        y = linalg.blas.dtrmm(1.0, block, rows.T, side=0, lower=0, trans_a=1).T
        s1, s2 = y.sum(-1) / window, np.einsum("...i,...i->...", y, y) / window
        earlier.append(np.maximum(s2 - s1 * s1, 0.0))
        yd = rows @ m[:, b * window:(b + 1) * window]
        dense.append(yd.var(-1))
    to_out = lambda v: np.stack(v, -1).reshape(xw.shape[:3] + (len(bands),)).transpose(0, 2, 1, 3)  # noqa: E731
    for chunk_bytes in (8 * 2**20, 1):  # all trials in one chunk; one trial per chunk
        monkeypatch.setattr(bde, "_CHUNK_BYTES", chunk_bytes)
        ours = compute_band_variance(x, FS, p)
        assert ours.shape == (5, xw.shape[2], 3, 4)
        np.testing.assert_allclose(ours, to_out(dense), rtol=1e-9)
        if normalize == "off":  # the z-scoring above is numpy's, not necessarily the module's rounding
            np.testing.assert_array_equal(ours, to_out(earlier))


def test_rbtransformer_preset_equals_reference():
    rng = np.random.default_rng(3)
    x = 15.0 * pink_noise(rng, 2 * 6, 2000).reshape(2, 6, -1) + 5.0
    p = FeatureParams.preset("rbtransformer")
    assert (p.window, p.stride, p.mode, p.log_base, p.normalize) == (512, 117, "window-lfilter", "2", "window")
    ours = compute_band_de(x, FS, p)
    ref = torcheeg_reference(x, FS, 512, 117, list(p.bands.values()), log2=True, normalize=True)
    assert ours.shape == ref.shape == (2, (2000 - 512) // 117 + 1, 6, 4)
    # z-scored windows put DE near 0 bits, where a relative tolerance means nothing: the
    # variances agree to rtol 1e-6 and the DE values to rtol 1e-6 or 1e-7 bits.
    np.testing.assert_allclose(2 ** (2 * ours), 2 ** (2 * ref), rtol=1e-6)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7)


def test_reference_baseline_is_de_of_samplewise_mean():
    """TorchEEG / RBTransformer: the 3 baseline seconds are averaged sample by sample, that
    1-s segment is z-scored and its band DE is subtracted."""
    rng = np.random.default_rng(4)
    base = 10.0 * pink_noise(rng, 2 * 4, 384).reshape(2, 4, -1)
    p = FeatureParams.preset("rbtransformer")
    ours = variance_to_de(compute_baseline_variance(base, FS, p), p.log_base)
    avg = base.reshape(2, 4, 3, 128).mean(axis=2)
    ref = torcheeg_reference(avg, FS, 128, 128, list(p.bands.values()), log2=True, normalize=True)[:, 0]
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------------------------
# filter vs fft; the two filter implementations
# --------------------------------------------------------------------------------------------
def test_filter_and_fft_agree_on_long_stationary_noise():
    """10 min of pink noise, default 1-s windows and bands. Stated tolerance: per band the
    mean difference is below 0.08 nats (the Butterworth's roll-off inside the band edges
    passes a few per cent less power than the half-weighted edge bins) and the per-window
    estimates correlate above 0.6."""
    rng = np.random.default_rng(5)
    x = 10.0 * pink_noise(rng, 4, 128 * 600)[None]
    a = compute_band_de(x, FS, dict(mode="filter"))
    b = compute_band_de(x, FS, dict(mode="fft"))
    for k in range(len(BANDS)):
        diff = a[..., k] - b[..., k]
        assert abs(diff.mean()) < 0.08
        assert np.corrcoef(a[..., k].ravel(), b[..., k].ravel())[0, 1] > 0.6
    # and a real difference is detected: fft on data scaled by 1.5 is 0.41 nats away
    c = compute_band_de(1.5 * x, FS, dict(mode="fft"))
    assert abs((a - c).mean()) > 0.3


def test_filter_impls_agree_away_from_trial_edges():
    rng = np.random.default_rng(6)
    x = pink_noise(rng, 6, 128 * 30).reshape(2, 3, -1)
    a = compute_band_de(x, FS, dict(mode="filter", filter_impl="fft"))
    b = compute_band_de(x, FS, dict(mode="filter", filter_impl="sosfiltfilt"))
    np.testing.assert_allclose(a[:, 3:-3], b[:, 3:-3], atol=1e-3)


def test_float32_and_float64_inputs_agree():
    rng = np.random.default_rng(7)
    x = 1e-5 * pink_noise(rng, 4, 128 * 10).reshape(1, 4, -1)
    for mode in ("filter", "fft", "window-lfilter"):
        a = compute_band_de(x, FS, dict(mode=mode), scale=1e6)
        b = compute_band_de(x.astype(np.float32), FS, dict(mode=mode), scale=1e6)
        np.testing.assert_allclose(a, b, atol=1e-4)


# --------------------------------------------------------------------------------------------
# windows and strides
# --------------------------------------------------------------------------------------------
def test_window_counts_and_presets():
    assert n_windows(7680, 128, 128) == 60
    assert n_windows(7680, 512, 117) == 62  # RBTransformer on DEAP's 60-s stimulus
    assert n_windows(127, 128, 128) == 0
    assert n_windows(128, 128, 128) == 1
    np.testing.assert_array_equal(window_starts(1000, 512, 117), [0, 117, 234, 351, 468])
    p = FeatureParams(window="rbtransformer")
    assert (p.window, p.stride) == (512, 117)
    assert FeatureParams(window="rbtransformer", stride=64).stride == 64
    r = FeatureParams().resolve(200.0)
    assert (r.window, r.stride, r.baseline_segment) == (200, 200, 200)  # 1 s at SEED's rate
    x = np.zeros((2, 3, 7680))
    x[...] = np.random.default_rng(0).standard_normal(x.shape)
    for mode in ("filter", "fft", "window-lfilter"):
        assert compute_band_variance(x, FS, dict(mode=mode, window=512, stride=117)).shape == (2, 62, 3, 4)


def test_windows_view_matches_slicing():
    x = np.arange(2 * 1000, dtype=float).reshape(2, 1000)
    v = _windows_view(x, 512, 117)
    assert v.shape == (2, 5, 512)
    for i, s in enumerate(window_starts(1000, 512, 117)):
        np.testing.assert_array_equal(v[:, i], x[:, s:s + 512])


def test_every_window_is_its_own():
    """A burst confined to one window raises that window's DE only (fft / window-lfilter)."""
    x = np.random.default_rng(8).standard_normal((1, 2, 128 * 10)) * 0.01
    t = np.arange(128) / FS
    x[0, 1, 128 * 4:128 * 5] += np.sin(2 * np.pi * 10 * t)
    for mode in ("fft", "window-lfilter"):
        de = compute_band_de(x, FS, dict(mode=mode))[0, :, :, 1]  # alpha
        assert np.argmax(de[:, 1]) == 4
        assert de[4, 1] - np.delete(de[:, 1], 4).max() > 2.0
        assert np.ptp(de[:, 0]) < 1.0


# --------------------------------------------------------------------------------------------
# baseline
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["filter", "fft", "window-lfilter"])
def test_baseline_average_semantics(mode):
    rng = np.random.default_rng(9)
    base = pink_noise(rng, 2 * 3, 128 * 3 + 50).reshape(2, 3, -1)  # 3 whole seconds + 50 samples
    seg = base[..., :384].reshape(2, 3, 3, 128)
    p_power = FeatureParams(mode=mode, baseline_average="power")
    p_samples = FeatureParams(mode=mode, baseline_average="samples")
    one_s = dict(mode=mode, window=128, stride=128)
    # power: mean of the band variances of the whole seconds
    per_second = compute_band_variance(base[..., :384], FS, one_s)
    np.testing.assert_allclose(compute_baseline_variance(base, FS, p_power), per_second.mean(axis=1))
    # samples: band variance of the sample-wise mean second
    np.testing.assert_allclose(
        compute_baseline_variance(base, FS, p_samples),
        compute_band_variance(seg.mean(axis=2), FS, one_s)[:, 0],
    )
    # averaging 3 independent seconds sample-wise divides the variance by ~3
    rng = np.random.default_rng(10)
    long_base = pink_noise(rng, 40, 128 * 61).reshape(40, 1, -1)  # DREAMER-long baseline
    ratio = (compute_baseline_variance(long_base, FS, p_power)
             / compute_baseline_variance(long_base, FS, p_samples)).mean()
    assert 40 < ratio < 90  # 61 segments


def test_baseline_too_short_is_refused():
    with pytest.raises(ValueError, match="at least one 128-sample segment, got 100 samples"):
        compute_baseline_variance(np.zeros((1, 2, 100)), FS, {})


def test_bad_arguments():
    with pytest.raises(ValueError, match="Invalid value for the 'mode' parameter"):
        FeatureParams(mode="wavelet")
    with pytest.raises(ValueError, match="Nyquist"):
        FeatureParams(bands={"g": (31, 70)}).resolve(128)
    with pytest.raises(ValueError, match="0 < lo < hi"):
        FeatureParams(bands={"g": (8, 4)})
    with pytest.raises(TypeError, match="window must be a positive integer"):
        FeatureParams(window=1.5)
    with pytest.raises(ValueError, match="Unknown feature parameter"):
        FeatureParams.from_dict({"widow": 128})
    with pytest.raises(ValueError, match=r"shape \(n_trials, n_chans, n_times\)"):
        compute_band_de(np.zeros((3, 100)), FS)


def test_params_round_trip_and_hash():
    p = FeatureParams.preset("rbtransformer", topo=False)
    q = FeatureParams.from_dict(p.to_dict())
    assert q == p and q.hash() == p.hash() and hash(q) == hash(p)
    assert list(q.bands) == ["theta", "alpha", "beta", "gamma"]
    assert p.to_dict()["bands"][3] == ["gamma", 31.0, 49.0]
    with pytest.raises(TypeError):
        p.bands["delta"] = (1, 4)
    with pytest.raises(Exception):
        p.mode = "fft"
    # band order is part of the key
    swapped = dict(reversed(list(BANDS.items())))
    assert FeatureParams(bands=swapped).hash() != FeatureParams().hash()
