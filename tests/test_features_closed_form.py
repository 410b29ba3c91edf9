"""extract_features against closed forms computed here, never against its own stored values:
band DE in nats of uV^2 for tones of known amplitude, in the stimulus and in the baseline."""

import math

import numpy as np
import pytest

from neuroaffect.channels import DEAP_EEG_CH_NAMES
from neuroaffect.features import compute_band_de, extract_features
from neuroaffect.io.base import Recording

FS = 128.0
# One tone per default band, each at a whole number of cycles per 1-s window (bins 6, 10, 20, 38:
# a Hann taper spreads a tone over its bin and the two neighbours, all inside the band).
TONES_HZ = {"theta": 6.0, "alpha": 10.0, "beta": 20.0, "gamma": 38.0}
NAMES = DEAP_EEG_CH_NAMES[:4]


def _de_nats(var_uv2):
    """Differential entropy of a Gaussian of variance ``var_uv2`` (uV^2), in nats (docs/features.md)."""
    return 0.5 * np.log(2 * math.pi * math.e * np.asarray(var_uv2, dtype=np.float64))


def _tones(amp_uv, n_times, rng):
    """(n_trials, n_chans, n_times) in volts: one sine per band, amplitude ``amp_uv[t, c, b]`` in uV."""
    t = np.arange(n_times) / FS
    phase = rng.uniform(0, 2 * np.pi, amp_uv.shape)
    out = np.zeros(amp_uv.shape[:2] + (n_times,))
    for b, f in enumerate(TONES_HZ.values()):
        out += 1e-6 * amp_uv[..., b, None] * np.sin(2 * np.pi * f * t + phase[..., b, None])
    return out


def _recording(stim_uv, base_uv, rng):
    n = stim_uv.shape[0]
    return Recording(dataset="deap", subject=1, eeg=_tones(stim_uv, 5 * 128, rng), sfreq=FS, ch_names=NAMES,
                     labels={"valence": np.full(n, 5.0)}, label_range={"valence": (1.0, 9.0)},
                     baseline=_tones(base_uv, 3 * 128, rng))


def test_band_de_and_baseline_de_are_nats_of_microvolt_squared():
    """A tone of amplitude a uV has variance a^2 / 2 uV^2: the stored baseline DE is
    0.5 ln(2 pi e a^2 / 2), and the baseline-corrected DE is ln(a_stim / a_base), exactly
    (fft mode, whole cycles per window). Volts instead of microvolts anywhere would move
    a value by ln(1e6) = 13.8 nats."""
    rng = np.random.default_rng(0)
    stim = rng.uniform(1.0, 20.0, (3, len(NAMES), 4))
    base = rng.uniform(1.0, 20.0, (3, len(NAMES), 4))
    rec = _recording(stim, base, rng)
    params = dict(mode="fft", topo=False, physio=False)
    ds = extract_features(rec, params)
    assert ds.attrs["de_unit"] == "nats of uV^2" and ds.attrs["baseline_applied"] == 1
    np.testing.assert_allclose(ds["baseline_bde"].values, _de_nats(base**2 / 2), atol=2e-5)
    expected = np.broadcast_to(np.log(stim / base)[:, None], ds["bde"].shape)
    np.testing.assert_allclose(ds["bde"].values, expected, atol=2e-5)
    # without subtraction the windows themselves are nats of uV^2
    off = extract_features(rec, dict(params, baseline="off"))
    np.testing.assert_allclose(off["bde"].values, np.broadcast_to(_de_nats(stim**2 / 2)[:, None], off["bde"].shape),
                               atol=2e-5)
    # samples-averaged baseline (the rbtransformer recipe): a tone with whole cycles per second
    # averages to itself, so the same value
    ref = extract_features(rec, dict(params, baseline_average="samples"))
    np.testing.assert_allclose(ref["baseline_bde"].values, ds["baseline_bde"].values, atol=2e-5)


# Measured deviations from the closed form on this signal: filter 0.011 (baseline) and 0.026
# (corrected) nats; window-lfilter 0.12 (baseline: its start-up transient) and 0.013.
FILTER_TOL = {"filter": 0.05, "window-lfilter": 0.15}


@pytest.mark.parametrize("mode", list(FILTER_TOL))
def test_default_filters_give_the_same_units(mode):
    """The filter modes estimate the same band variance up to their filters' gain and start-up;
    a wrong unit is 13.8 nats away."""
    rng = np.random.default_rng(1)
    stim = np.zeros((2, len(NAMES), 4))
    base = np.zeros_like(stim)
    stim[..., 1], base[..., 1] = 12.0, 3.0  # alpha only: no other band's tone leaks in
    ds = extract_features(_recording(stim, base, rng), dict(mode=mode, topo=False, physio=False))
    alpha = list(ds["band"].values).index("alpha")
    np.testing.assert_allclose(ds["baseline_bde"].values[..., alpha], _de_nats(3.0**2 / 2), atol=FILTER_TOL[mode])
    np.testing.assert_allclose(ds["bde"].values[..., alpha], math.log(12.0 / 3.0), atol=FILTER_TOL[mode])


@pytest.mark.parametrize("mode", ["fft", "filter"])
def test_window_normalisation_gives_the_band_share_of_the_window_variance(mode):
    """normalize="window" divides each band variance by the variance of the whole window (all
    channels and samples): one alpha tone of amplitude a_c per channel gives
    0.5 ln(2 pi e a_c^2 / mean(a^2)), whatever the unit of the signal."""
    rng = np.random.default_rng(2)
    amp = np.zeros((2, len(NAMES), 4))
    amp[..., 1] = rng.uniform(1.0, 20.0, (2, len(NAMES)))
    x = _tones(amp, 4 * 128, rng)
    p = dict(mode=mode, normalize="window")
    de = compute_band_de(x, FS, p, scale=1e6)[..., 1]
    a2 = amp[..., 1] ** 2
    expected = _de_nats(a2 / a2.mean(axis=1, keepdims=True))[:, None]
    np.testing.assert_allclose(de, np.broadcast_to(expected, de.shape), atol=2e-5 if mode == "fft" else 0.05)
    np.testing.assert_allclose(compute_band_de(1e3 * x, FS, p, scale=1e6)[..., 1], de, atol=1e-6)
