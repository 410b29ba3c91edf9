"""Tests of the simulator's EEG (``neuroaffect.simulate.eeg``).

The statistical checks use fixed seeds, so they are deterministic; their thresholds were
chosen with several standard errors of margin (stated at each test) so that they do not
depend on one lucky draw, while still failing if an effect is missing or reversed.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.signal import find_peaks, welch
from simulate_helpers import FS, draw_subjects, idx, log_band_power
from simulate_helpers import one_blas_thread  # noqa: F401  (autouse fixture)

from neuroaffect.channels import DEAP_EEG_CH_NAMES, DREAMER_CH_NAMES, SEED_CH_NAMES, get_positions
from neuroaffect.labels import normalise_ratings
from neuroaffect.simulate import _planted
from neuroaffect.simulate.eeg import simulate_eeg
from neuroaffect.simulate.effects import (
    DEFAULT_SNR, STATE_SHARE, SubjectEffects, draw_ratings, draw_subject_effects,
)
from neuroaffect.simulate.oracle import oracle_accuracy
from neuroaffect.simulate.peripheral import PERIPHERAL_KINDS, simulate_peripheral


# ------------------------------------------------------------------------------------------
# API, determinism, shapes and units
# ------------------------------------------------------------------------------------------
def test_determinism():
    def run(seed):
        rng = np.random.default_rng(seed)
        eff = draw_subject_effects(rng, 1)
        vad = normalise_ratings(draw_ratings(rng, 6, "deap")[:, :3], "deap")
        eeg = simulate_eeg(rng, vad, DEAP_EEG_CH_NAMES, FS, 640, eff)
        per = [simulate_peripheral(rng, vad, k, FS, 640, eff) for k in PERIPHERAL_KINDS]
        return eeg, per

    a, pa = run(7)
    b, pb = run(7)
    c, _ = run(8)
    np.testing.assert_array_equal(a, b)
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(a, c)



@pytest.mark.parametrize("ch_names", [DEAP_EEG_CH_NAMES, DREAMER_CH_NAMES, SEED_CH_NAMES])
def test_eeg_shape_dtype_amplitude(ch_names):
    rng, [(eff, vad)] = draw_subjects(0, 1, n_trials=5)
    sfreq = 200.0 if ch_names is SEED_CH_NAMES else FS
    x = simulate_eeg(rng, vad, ch_names, sfreq, int(10 * sfreq), eff)
    assert x.shape == (5, len(ch_names), int(10 * sfreq)) and x.dtype == np.float64
    assert np.isfinite(x).all()
    rms = x.std(axis=-1)
    # Realistic scalp EEG: channel RMS of several to tens of microvolts, not volts or noise floor.
    assert 3.0 < np.median(rms) < 60.0, np.median(rms)
    assert np.abs(x).max() < 2000.0


def test_eeg_spectrum_is_pink_with_alpha_peak():
    rng, [(eff, vad)] = draw_subjects(1, 1, n_trials=10)
    x = simulate_eeg(rng, vad, DEAP_EEG_CH_NAMES, FS, 30 * 128, eff, blinks=False, line_freq=None)
    f, p = welch(x, fs=FS, nperseg=512, axis=-1)
    p = p.mean(axis=0)
    occ = idx(DEAP_EEG_CH_NAMES, ["O1", "O2", "OZ"])
    spec = p[occ].mean(0)
    # 1/f background: far more power at 2 Hz than at 30 Hz.
    assert spec[np.argmin(abs(f - 2))] > 10 * spec[np.argmin(abs(f - 30))]
    # Posterior alpha peak at the subject's individual alpha frequency.
    band = (f >= 6) & (f <= 14)
    assert abs(f[band][np.argmax(spec[band])] - eff.alpha_peak) <= 0.5
    # Alpha is stronger over posterior than frontal sites.
    fro = idx(DEAP_EEG_CH_NAMES, ["FZ", "F3", "F4"])
    alpha = (f >= 8) & (f < 14)
    assert p[occ][:, alpha].sum() > 1.5 * p[fro][:, alpha].sum()


def test_spatial_correlation_falls_with_distance():
    rng, [(eff, vad)] = draw_subjects(2, 1, n_trials=8)
    x = simulate_eeg(rng, vad, DEAP_EEG_CH_NAMES, FS, 20 * 128, eff, blinks=False, line_freq=None)
    c = np.corrcoef(x.transpose(1, 0, 2).reshape(len(DEAP_EEG_CH_NAMES), -1))
    pos = get_positions(DEAP_EEG_CH_NAMES)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    iu = np.triu_indices(len(pos), 1)
    near = d[iu] < 0.045
    far = d[iu] > 0.12
    assert c[iu][near].mean() > 0.4
    assert abs(c[iu][far].mean()) < 0.15
    assert np.corrcoef(d[iu], c[iu])[0, 1] < -0.6


def test_nan_rows_have_no_label_effect():
    """NaN rows (baselines) get neither the linear effects nor G*: they equal the neutral state (0, 0, 0)
    of a subject without G*. The neutral state itself carries G*(0, 0), which is not zero."""
    eff = draw_subject_effects(np.random.default_rng(0), 1, snr=3.0)
    no_gstar = SubjectEffects(**{**eff.to_dict(), "gstar_gain": 0.0})
    nan = np.full((4, 3), np.nan)
    zero = np.zeros((4, 3))
    kw = dict(blinks=False)
    a = simulate_eeg(np.random.default_rng(5), nan, DREAMER_CH_NAMES, FS, 256, eff, **kw)
    b = simulate_eeg(np.random.default_rng(5), zero, DREAMER_CH_NAMES, FS, 256, no_gstar, **kw)
    c = simulate_eeg(np.random.default_rng(5), zero + 1.0, DREAMER_CH_NAMES, FS, 256, no_gstar, **kw)
    d = simulate_eeg(np.random.default_rng(5), zero, DREAMER_CH_NAMES, FS, 256, eff, **kw)
    np.testing.assert_allclose(a, b)
    assert not np.allclose(b, c)
    assert not np.allclose(a, d)


def test_onset_keeps_the_baseline_label_free_and_continuous():
    """With ``onset`` the samples before the crossfade do not depend on the ratings at all, the
    samples after it do, and the equal-power crossfade keeps the variance constant."""
    eff = draw_subject_effects(np.random.default_rng(0), 1, snr=3 * DEFAULT_SNR)
    onset, n = 384, 384 + 10 * 128
    kw = dict(onset=onset, blinks=False, line_freq=None)
    lo = np.tile([[-1.0, -1.0, 0.0]], (20, 1))
    a = simulate_eeg(np.random.default_rng(3), lo, DEAP_EEG_CH_NAMES, FS, n, eff, **kw)
    b = simulate_eeg(np.random.default_rng(3), -lo, DEAP_EEG_CH_NAMES, FS, n, eff, **kw)
    half = int(0.25 * FS)  # half of the default 0.5-s fade
    np.testing.assert_array_equal(a[..., : onset - half], b[..., : onset - half])
    post = idx(DEAP_EEG_CH_NAMES, ["O1", "O2", "OZ", "PO3", "PO4"])
    alpha_a = log_band_power(a[..., onset + half:], FS)[:, post, 1].mean()
    alpha_b = log_band_power(b[..., onset + half:], FS)[:, post, 1].mean()
    assert np.sign(eff.arousal_gain) * (alpha_b - alpha_a) < -0.5  # arousal +1 lowers posterior alpha
    sd = np.concatenate([a, b]).std(axis=(0, 1))
    ratio = sd[onset - half: onset + half].mean() / np.r_[sd[: onset - half], sd[onset + half:]].mean()
    assert 0.85 < ratio < 1.15, ratio


def test_blinks_are_frontal_and_shared_with_eog():
    rng, [(eff, vad)] = draw_subjects(3, 1, n_trials=4)
    n = 30 * 128
    with_b = simulate_eeg(np.random.default_rng(9), vad, DEAP_EEG_CH_NAMES, FS, n, eff, line_freq=None)
    without = simulate_eeg(np.random.default_rng(9), vad, DEAP_EEG_CH_NAMES, FS, n, eff, line_freq=None,
                           blinks=False)
    blink = with_b - without
    amp = np.abs(blink).max(axis=(0, 2))
    fp, af, fz, oz = (idx(DEAP_EEG_CH_NAMES, [n_])[0] for n_ in ("FP1", "AF3", "FZ", "OZ"))
    assert 0.5 * eff.blink_uv < amp[fp] < 2.5 * eff.blink_uv
    assert amp[fp] > amp[af] > amp[fz] > 10 * amp[oz]
    # The vertical EOG of the same trials shows the same blinks (peaks within 50 ms).
    veog = simulate_peripheral(rng, vad, "eog", FS, n, eff)
    for k in range(vad.shape[0]):
        eeg_peaks, _ = find_peaks(blink[k, fp], height=0.4 * eff.blink_uv, distance=int(0.3 * FS))
        eog_peaks, _ = find_peaks(veog[k], height=eff.blink_uv, distance=int(0.3 * FS))
        assert len(eeg_peaks) >= 2
        assert len(eog_peaks) >= 2
    # Over 30 seeds this correlation was at least 0.71 (median 0.87).
    assert np.corrcoef(blink[:, fp].ravel(), veog.ravel())[0, 1] > 0.6


def test_line_noise_amplitude():
    rng, [(eff, vad)] = draw_subjects(4, 1, n_trials=3)
    a = simulate_eeg(np.random.default_rng(1), vad, DREAMER_CH_NAMES, FS, 1280, eff, line_noise_uv=0.0)
    b = simulate_eeg(np.random.default_rng(1), vad, DREAMER_CH_NAMES, FS, 1280, eff, line_noise_uv=4.0)
    line = b - a
    f = np.fft.rfftfreq(1280, 1 / FS)
    spec = np.abs(np.fft.rfft(line, axis=-1))
    assert np.all(f[spec.argmax(-1)] == 50.0)
    # Sinusoid of amplitude 4 µV times per-channel gains within [0.5, 1.5].
    peak = line.max(axis=-1)
    assert 0.5 * 4 - 1e-9 <= peak.min() and peak.max() <= 1.5 * 4 + 1e-9
    # With a 4-45 Hz passband (order-4 Butterworth magnitude) 50 Hz is attenuated by the closed form.
    kw = dict(passband=(4.0, 45.0))
    c = simulate_eeg(np.random.default_rng(1), vad, DREAMER_CH_NAMES, FS, 1280, eff, line_noise_uv=4.0, **kw)
    d = simulate_eeg(np.random.default_rng(1), vad, DREAMER_CH_NAMES, FS, 1280, eff, line_noise_uv=0.0, **kw)
    expected = 1.0 / np.sqrt(1.0 + (50.0 / 45.0) ** 8)
    np.testing.assert_allclose((c - d).max(axis=-1) / peak, expected, rtol=0.02)
    # ... and so is the background below 4 Hz.
    lo = (f > 0) & (f < 2)
    low_filtered = np.abs(np.fft.rfft(d, axis=-1)[..., lo]).mean()
    assert low_filtered < 0.1 * np.abs(np.fft.rfft(a, axis=-1)[..., lo]).mean()


# ------------------------------------------------------------------------------------------
# Planted effects
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ch_names", [DEAP_EEG_CH_NAMES, DREAMER_CH_NAMES])
@pytest.mark.slow
def test_frontal_alpha_asymmetry_follows_valence(ch_names):
    """ln(alpha_R) - ln(alpha_L) over F3/F4, F7/F8, AF3/AF4 rises with valence (in the direction of the
    subject's planted gain). At the default snr the per-subject correlation is ~0.55 (40 trials);
    its sampling SD is ~0.11, so > 0.3 for the mean of three subjects has a wide margin, and with
    snr = 0 the same statistic stays near zero (|mean r| < 0.25, three null SDs of the mean)."""
    left = idx(ch_names, ["F3", "F7", "AF3"])
    right = idx(ch_names, ["F4", "F8", "AF4"])
    for snr, check in ((None, lambda r: np.mean(r) > 0.3), (0.0, lambda r: abs(np.mean(r)) < 0.25)):
        rng, subjects = draw_subjects(10, 3, snr=snr)
        rs = []
        for eff, vad in subjects:
            lp = log_band_power(simulate_eeg(rng, vad, ch_names, FS, 20 * 128, eff), FS)[..., 1]
            faa = lp[:, right].mean(1) - lp[:, left].mean(1)
            sign = np.sign(eff.valence_gain) if eff.valence_gain else 1.0
            rs.append(sign * np.corrcoef(faa, vad[:, 0])[0, 1])
        assert check(rs), (snr, rs)


@pytest.mark.slow
def test_posterior_alpha_falls_and_beta_gamma_rise_with_arousal():
    """Posterior alpha anti-correlates with arousal; whole-head beta+gamma correlates with it
    (signed by the subject's planted gain). Per-subject r is ~-0.5 (alpha) at the default snr."""
    post = idx(DEAP_EEG_CH_NAMES, ["O1", "O2", "OZ", "PO3", "PO4", "P3", "P4", "P7", "P8"])
    rng, subjects = draw_subjects(11, 3)
    r_alpha, r_fast = [], []
    for eff, vad in subjects:
        lp = log_band_power(simulate_eeg(rng, vad, DEAP_EEG_CH_NAMES, FS, 20 * 128, eff), FS)
        sign = np.sign(eff.arousal_gain)
        r_alpha.append(sign * np.corrcoef(lp[:, post, 1].mean(1), vad[:, 1])[0, 1])
        # Beta/gamma relative to theta cancels the trial's overall gain.
        fast = lp[..., 2:].mean((1, 2)) - lp[..., 0].mean(1)
        r_fast.append(sign * np.corrcoef(fast, vad[:, 1])[0, 1])
    assert np.mean(r_alpha) < -0.3, r_alpha
    assert np.mean(r_fast) > 0.3, r_fast


@pytest.mark.slow
def test_lateral_temporal_beta_gamma_rise_with_valence():
    """Beta+gamma over the lateral temporal sites relative to the midline (which cancels the
    trial's shared state and gain) rises with valence, signed by the subject's planted gain; with
    snr = 0 it does not."""
    lateral = idx(DEAP_EEG_CH_NAMES, ["T7", "T8", "FC5", "FC6", "CP5", "CP6", "P7", "P8"])
    midline = idx(DEAP_EEG_CH_NAMES, ["FZ", "CZ", "PZ", "OZ"])
    for snr, check in ((None, lambda r: np.mean(r) > 0.3), (0.0, lambda r: abs(np.mean(r)) < 0.25)):
        rng, subjects = draw_subjects(12, 3, snr=snr)
        rs = []
        for eff, vad in subjects:
            lp = log_band_power(simulate_eeg(rng, vad, DEAP_EEG_CH_NAMES, FS, 20 * 128, eff), FS)
            fast = lp[:, lateral, 2:].mean((1, 2)) - lp[:, midline, 2:].mean((1, 2))
            sign = np.sign(eff.valence_gain) if eff.valence_gain else 1.0
            rs.append(sign * np.corrcoef(fast, vad[:, 0])[0, 1])
        assert check(rs), (snr, rs)


def test_baseline_shares_the_trial_state():
    """The label-free baseline of trial k carries STATE_SHARE of trial k's nuisance state: the
    planted ln powers (label effect removed) correlate ~0.7 between a trial and its own baseline,
    and ~0 with another trial's or another subject's."""
    eff = draw_subject_effects(np.random.default_rng(0), 1)
    other = SubjectEffects(**{**eff.to_dict(), "seed": eff.seed + 1})
    names = tuple(DEAP_EEG_CH_NAMES)
    geom = _planted.geometry(names)
    vad = np.random.default_rng(1).uniform(-1, 1, (400, 3))
    rng = np.random.default_rng(2)

    def noise(e, rows):
        x, _ = _planted.planted_log_power(rng, e, rows, geom, names)
        exact = SubjectEffects(**{**e.to_dict(), "trial_sd": 0.0, "shared_sd": 0.0, "gain_sd": 0.0})
        return (x - _planted.planted_log_power(rng, exact, rows, geom, names)[0]).reshape(len(rows), -1)

    stim, base = noise(eff, vad), noise(eff, np.full_like(vad, np.nan))
    r = np.mean([np.corrcoef(stim[:, j], base[:, j])[0, 1] for j in range(stim.shape[1])])
    assert abs(r - STATE_SHARE) < 0.05, r
    r_shift = np.mean([np.corrcoef(stim[1:, j], base[:-1, j])[0, 1] for j in range(stim.shape[1])])
    r_other = np.mean([np.corrcoef(stim[:, j], noise(other, vad)[:, j])[0, 1] for j in range(0, 128, 16)])
    assert abs(r_shift) < 0.05 and abs(r_other) < 0.1, (r_shift, r_other)
    # An oracle that also sees the baseline does better, never worse.
    _, [(e2, v2)] = draw_subjects(33, 1)
    assert oracle_accuracy(e2, v2, "arousal", baseline=True) > oracle_accuracy(e2, v2, "arousal") + 0.01



# ------------------------------------------------------------------------------------------
# Realism: waxing and waning, muscle bursts, pops, the Emotiv's notches
# ------------------------------------------------------------------------------------------
def test_envelope_keeps_band_power_and_adds_heavy_tails():
    """The amplitude envelope has mean square 1 (band powers keep their expectation) and gives
    the signal positive excess kurtosis (Gaussian: 0)."""
    import dataclasses

    from scipy.stats import kurtosis

    eff = dataclasses.replace(draw_subject_effects(np.random.default_rng(0), 1), burst_rate=0.0, pop_rate=0.0)
    nan = np.full((30, 3), np.nan)
    kw = dict(blinks=False, line_freq=None)
    flat = simulate_eeg(np.random.default_rng(4), nan, DEAP_EEG_CH_NAMES, FS, 20 * 128, dataclasses.replace(
        eff, envelope_sd=0.0), **kw)
    wavy = simulate_eeg(np.random.default_rng(4), nan, DEAP_EEG_CH_NAMES, FS, 20 * 128, dataclasses.replace(
        eff, envelope_sd=0.3), **kw)
    # Mean power over 30 trials x 32 channels x 20 s: the envelope's own spread averages out to ~1 %.
    assert abs((wavy**2).mean() / (flat**2).mean() - 1.0) < 0.05
    # Excess kurtosis of a Gaussian scale mixture: 3 (exp(4 sd^2) - 1) = 1.3 at sd 0.3; measured on
    # the first difference of each trial, which whitens the 1/f background and keeps the envelope.
    assert abs(np.median(kurtosis(np.diff(flat, axis=-1), axis=-1))) < 0.1
    assert 0.7 < np.median(kurtosis(np.diff(wavy, axis=-1), axis=-1)) < 2.0


def test_muscle_bursts_are_temporal_and_pops_single_channel():
    import dataclasses

    base = draw_subject_effects(np.random.default_rng(0), 1)
    vad = np.zeros((20, 3))
    kw = dict(blinks=False, line_freq=None)
    bursts = dataclasses.replace(base, burst_rate=6.0, pop_rate=0.0)
    a = simulate_eeg(np.random.default_rng(2), vad, DEAP_EEG_CH_NAMES, FS, 30 * 128, bursts, **kw)
    b = simulate_eeg(np.random.default_rng(2), vad, DEAP_EEG_CH_NAMES, FS, 30 * 128, bursts, artefacts=False, **kw)
    power = ((a - b) ** 2).mean(axis=(0, 2))
    assert power[idx(DEAP_EEG_CH_NAMES, ["T7", "T8"])].min() > 20 * power[idx(DEAP_EEG_CH_NAMES, ["FZ", "CZ", "PZ"])].max()
    f, p = welch(a - b, fs=FS, nperseg=256, axis=-1)
    t7 = p[:, idx(DEAP_EEG_CH_NAMES, ["T7"])[0]].mean(0)
    assert t7[f >= 25].sum() > 20 * t7[f <= 12].sum()  # muscle is broadband above 20 Hz
    pops = dataclasses.replace(base, burst_rate=0.0, pop_rate=6.0)
    a = simulate_eeg(np.random.default_rng(2), vad, DEAP_EEG_CH_NAMES, FS, 30 * 128, pops, **kw)
    b = simulate_eeg(np.random.default_rng(2), vad, DEAP_EEG_CH_NAMES, FS, 30 * 128, pops, artefacts=False, **kw)
    jumps = np.abs(np.diff(a - b, axis=-1)) > 10.0  # (trial, channel, sample): pop onsets
    k, c, t = np.nonzero(jumps)
    assert len(k) > 0
    # Each onset is on one channel only, and about 6 per minute per trial were drawn.
    assert all((jumps[ki, :, ti].sum() == 1) for ki, ti in zip(k, t))
    assert 20 * 0.5 * 3 < len(set(zip(k, t))) < 20 * 0.5 * 12


def test_emotiv_notches_leave_no_mains():
    from neuroaffect.simulate.dreamer import EEG_FINISH

    rng, [(eff, vad)] = draw_subjects(3, 1, n_trials=6, kind="dreamer")
    x = simulate_eeg(rng, vad, DREAMER_CH_NAMES, FS, 30 * 128, eff, **EEG_FINISH)
    f, p = welch(x, fs=FS, nperseg=512, axis=-1)
    p = p.mean(axis=(0, 1))
    for line in (50.0, 60.0):
        near = (np.abs(f - line) >= 4) & (np.abs(f - line) <= 8) & (f < 63)
        assert p[np.argmin(np.abs(f - line))] < 0.5 * np.median(p[near])


# ------------------------------------------------------------------------------------------
# Arguments and speed
# ------------------------------------------------------------------------------------------
def test_bad_arguments():
    eff = draw_subject_effects(np.random.default_rng(0), 1)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"shape \(n_trials, 3\)"):
        simulate_eeg(rng, np.zeros((4, 2)), DEAP_EEG_CH_NAMES, FS, 256, eff)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        simulate_eeg(rng, np.full((4, 3), 5.0), DEAP_EEG_CH_NAMES, FS, 256, eff)
    with pytest.raises(ValueError, match="sfreq"):
        simulate_eeg(rng, np.zeros((4, 3)), DEAP_EEG_CH_NAMES, -1.0, 256, eff)
    with pytest.raises(ValueError, match="unknown channel"):
        simulate_eeg(rng, np.zeros((4, 3)), ["Fp1", "XYZ9"], FS, 256, eff)
    with pytest.raises(TypeError, match="SubjectEffects"):
        simulate_peripheral(rng, np.zeros((4, 3)), "ecg", FS, 256, eff.to_dict())


@pytest.mark.slow
def test_full_scale_deap_subject_is_fast():
    """One DEAP subject at full scale (40 trials x 32 channels x 8064 samples) is generated in
    ~0.4 s on one core; 3 s (best of two) leaves room for a loaded machine but not for a
    per-sample Python loop."""
    rng, [(eff, vad)] = draw_subjects(50, 1)
    simulate_eeg(rng, vad[:2], DEAP_EEG_CH_NAMES, FS, 8064, eff)  # positions cached
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        x = simulate_eeg(rng, vad, DEAP_EEG_CH_NAMES, FS, 8064, eff)
        best = min(best, time.perf_counter() - t0)
    assert x.shape == (40, 32, 8064)
    assert best < 3.0, best


def test_mat_files_are_byte_identical_whenever_written(tmp_path, monkeypatch):
    """scipy stamps a MATLAB file's description with the time of writing; the simulator's must not carry it
    (the file's sha256 is recorded in the features, the teacher and the grid card)."""
    import scipy.io
    import scipy.io.matlab._mio5 as mio5

    from neuroaffect.simulate._write import savemat_atomic

    mdict = {"x": np.arange(12.0).reshape(3, 4), "s": {"a": np.ones(2)}}
    monkeypatch.setattr(mio5.time, "asctime", lambda: "Mon Jan  1 00:00:00 2024")
    a = savemat_atomic(tmp_path / "a.mat", mdict).read_bytes()
    monkeypatch.setattr(mio5.time, "asctime", lambda: "Tue Feb  2 11:11:11 2027")
    b = savemat_atomic(tmp_path / "b.mat", mdict).read_bytes()
    assert a == b and b"2024" not in a and len(a) > 128
    back = scipy.io.loadmat(tmp_path / "b.mat")
    assert back["__header__"].startswith(b"MATLAB 5.0 MAT-file") and np.array_equal(back["x"], mdict["x"])
