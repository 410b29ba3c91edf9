"""Tests of the simulator's peripheral signals (``neuroaffect.simulate.peripheral``).

The statistical checks use fixed seeds, so they are deterministic; their thresholds were
chosen with several standard errors of margin (stated at each test) so that they do not
depend on one lucky draw, while still failing if an effect is missing or reversed.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks
from simulate_helpers import FS, draw_subjects
from simulate_helpers import one_blas_thread  # noqa: F401  (autouse fixture)

from neuroaffect.simulate.effects import draw_subject_effects
from neuroaffect.simulate.peripheral import PERIPHERAL_KINDS, simulate_peripheral


# ------------------------------------------------------------------------------------------
# Peripheral signals
# ------------------------------------------------------------------------------------------
def _arousal_sweep(seed, n_trials=30, col=1):
    rng = np.random.default_rng(seed)
    eff = draw_subject_effects(rng, 1)
    vad = np.zeros((n_trials, 3))
    vad[:, col] = np.linspace(-1, 1, n_trials)
    return rng, eff, vad


def test_peripheral_shapes_units():
    rng, [(eff, vad)] = draw_subjects(40, 1, n_trials=3)
    n = 20 * 128
    sig = {k: simulate_peripheral(rng, vad, k, FS, n, eff) for k in PERIPHERAL_KINDS}
    for k, x in sig.items():
        assert x.shape == (3, n) and x.dtype == np.float64 and np.isfinite(x).all(), k
    assert 500 < sig["ecg"].max() < 3000  # R wave ~1 mV, in µV
    assert 1e4 < sig["gsr"].min() and sig["gsr"].max() < 5e6  # skin resistance in Ohm
    assert 25 < sig["temp"].min() and sig["temp"].max() < 40  # degC
    assert sig["temp"].std(axis=1).max() < 1.0
    assert 0.3 < sig["resp"].std() < 3 and 0.1 < sig["ppg"].std() < 3  # arbitrary units ~1
    assert 50 < np.abs(sig["eog"]).max() < 2000 and np.abs(sig["emg"]).max() < 500  # µV
    with pytest.raises(ValueError, match="kind"):
        simulate_peripheral(rng, vad, "eda", FS, n, eff)


def test_heart_rate_rises_with_arousal_and_ppg_follows_ecg():
    rng, eff, vad = _arousal_sweep(41)
    fs_ecg = 256.0
    ecg = simulate_peripheral(rng, vad, "ecg", fs_ecg, int(30 * fs_ecg), eff)
    ppg = simulate_peripheral(rng, vad, "ppg", fs_ecg, int(30 * fs_ecg), eff)
    hr, lag = [], []
    for k in range(len(vad)):
        r_peaks, _ = find_peaks(ecg[k], height=500, distance=int(0.33 * fs_ecg))
        p_peaks, _ = find_peaks(ppg[k], prominence=0.3, distance=int(0.33 * fs_ecg))
        rr = np.diff(r_peaks) / fs_ecg
        assert 0.4 < rr.min() and rr.max() < 1.6
        assert rr.std() > 0.005  # heart-rate variability present
        hr.append(60.0 / rr.mean())
        after = np.searchsorted(p_peaks, r_peaks[:-2], side="right")
        ok = after < len(p_peaks)
        lag.append(np.median((p_peaks[after[ok]] - r_peaks[:-2][ok]) / fs_ecg))
    hr = np.array(hr)
    # Over 30 seeds: r >= 0.44 (median 0.81), high-minus-low >= 3.0 bpm (median 8.6).
    assert np.corrcoef(hr, vad[:, 1])[0, 1] > 0.35
    assert hr[vad[:, 1] > 0.5].mean() > hr[vad[:, 1] < -0.5].mean() + 2
    # PPG pulses peak one pulse-transit time (~0.35 s) after each R wave.
    assert np.all((np.array(lag) > 0.25) & (np.array(lag) < 0.45))


def test_gsr_responses_respiration_and_temperature_follow_arousal():
    rng, eff, vad = _arousal_sweep(42)
    n = int(60 * FS)
    conductance = 1e6 / simulate_peripheral(rng, vad, "gsr", FS, n, eff)  # µS
    scr = np.array([len(find_peaks(c, prominence=0.05)[0]) for c in conductance])
    # Over 30 seeds the high/low ratio of response counts was >= 1.7 (median 3.0), r >= 0.56 (median 0.74).
    assert scr[vad[:, 1] > 0.3].mean() > 1.4 * scr[vad[:, 1] < -0.3].mean()
    assert np.corrcoef(scr, vad[:, 1])[0, 1] > 0.4
    resp = simulate_peripheral(rng, vad, "resp", FS, n, eff)
    f = np.fft.rfftfreq(n, 1 / FS)
    rate = f[np.abs(np.fft.rfft(resp - resp.mean(1, keepdims=True), axis=-1)).argmax(-1)]
    assert np.all((rate > 0.1) & (rate < 0.5))
    assert np.corrcoef(rate, vad[:, 1])[0, 1] > 0.35  # 30 seeds: >= 0.48, median 0.81
    assert rate[vad[:, 1] > 0.5].mean() > rate[vad[:, 1] < -0.5].mean() + 0.02
    temp = simulate_peripheral(rng, vad, "temp", FS, n, eff)
    assert temp[vad[:, 1] > 0.5, -128:].mean() < temp[vad[:, 1] < -0.5, -128:].mean()


def test_emg_follows_valence_and_arousal():
    rng, eff, vad = _arousal_sweep(43, n_trials=40, col=0)
    zyg = simulate_peripheral(rng, vad, "emg", FS, 60 * 128, eff)
    power = (zyg**2).mean(1)
    # Over 30 seeds the high/low valence power ratio was >= 1.85 (median 2.8).
    assert power[vad[:, 0] > 0.3].mean() > 1.4 * power[vad[:, 0] < -0.3].mean()
    vad_a = vad[:, [1, 0, 2]]
    trap = simulate_peripheral(rng, vad_a, "emg", FS, 60 * 128, eff, muscle="trapezius")
    power = (trap**2).mean(1)
    assert power[vad_a[:, 1] > 0.3].mean() > power[vad_a[:, 1] < -0.3].mean()
