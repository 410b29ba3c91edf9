"""What real EEG carries besides brain rhythms: waxing and waning, muscle, pops, a device's notch.

Used by :func:`neuroaffect.simulate.eeg.simulate_eeg`; ``docs/simulator.md`` describes each
artefact for users and the real recordings they were calibrated on. Every function consumes the
generator it is given in an order that does not depend on the ratings, so that trials with
different ratings but the same generator state get the same artefacts.
"""

from __future__ import annotations

import numpy as np

from ._core import passband_gain

# Rate of the coarse grid the amplitude envelope is drawn on (Hz) and its correlation time (s).
_ENVELOPE_RATE = 8.0
_ENVELOPE_TAU = 0.4
# Muscle bursts: duration range (s) and the high-pass corner of their spectrum (Hz).
_BURST_S = (0.3, 1.2)
_BURST_HIGHPASS = 20.0
# Electrode pops: decay time range (s).
_POP_TAU = (0.05, 0.3)
# Notches of the Emotiv EPOC's built-in digital filter: centres (Hz), width (Hz) and depth.
EMOTIV_NOTCH = (50.0, 60.0)
_NOTCH_WIDTH, _NOTCH_DEPTH = 1.0, 0.6


def notch_gain(freqs, notch) -> np.ndarray:
    """Magnitude response of narrow notches at the frequencies in ``notch`` (Hz), shape of ``freqs``."""
    gain = np.ones_like(freqs)
    for f0 in notch or ():
        gain = gain * (1.0 - _NOTCH_DEPTH * np.exp(-0.5 * ((freqs - float(f0)) / _NOTCH_WIDTH) ** 2))
    return gain


def amplitude_envelope(rng, chol, n_trials, n_times, sfreq, sd) -> np.ndarray:
    """Slow, spatially smooth multiplicative envelope with mean square 1, shape (n_trials, n_chans, n_times).

    ``exp(sd * z - sd**2)`` with ``z`` a unit-variance Gaussian process (correlation time about
    0.4 s, spatial coherence ``chol @ chol.T``): real EEG waxes and wanes (alpha spindles, bursts
    of beta), which gives its amplitude distribution heavier tails than a Gaussian
    (excess kurtosis about ``3 (exp(4 sd**2) - 1)`` for the part of the variation faster than a
    segment). Its mean square is 1, so the expected power of every band is unchanged.
    """
    n_chans = chol.shape[0]
    n_coarse = int(np.ceil(n_times / sfreq * _ENVELOPE_RATE)) + 2
    white = rng.standard_normal((n_trials, n_chans, n_coarse))
    # Smooth along time with a Gaussian kernel (unit variance kept), then mix across channels.
    width = _ENVELOPE_TAU * _ENVELOPE_RATE
    lags = np.arange(-int(3 * width), int(3 * width) + 1)
    kernel = np.exp(-0.5 * (lags / width) ** 2)
    kernel /= np.sqrt((kernel**2).sum())
    z = np.apply_along_axis(np.convolve, -1, white, kernel, mode="same")
    z = np.matmul(chol, z)
    pos = np.arange(n_times) / sfreq * _ENVELOPE_RATE
    i0 = np.minimum(pos.astype(np.int64), n_coarse - 2)
    w = pos - i0
    z = z[..., i0] * (1.0 - w) + z[..., i0 + 1] * w
    return np.exp(sd * z - sd**2)


def _events(rng, n_trials, duration, per_min):
    """Poisson events: trial index and time (s) of each, for ``per_min`` events per minute."""
    counts = rng.poisson(per_min * duration / 60.0, n_trials)
    trials = np.repeat(np.arange(n_trials), counts)
    return trials, rng.uniform(0.0, duration, trials.size)


def muscle_bursts(rng, temporal, x, n_trials, n_times, sfreq, per_min, uv, band_gain) -> np.ndarray:
    """Bursts of broadband (> 20 Hz) muscle activity on temporal channels, µV, shape (n_trials, n_chans, n_times).

    Jaw clenching and swallowing show on the temporal channels as 0.3-1.2-s bursts of
    high-frequency noise. Each burst falls on one side (left, right or both), weighted per
    channel by ``temporal`` (1 at T7/T8; ``x`` < 0 is the left side), with RMS ``uv`` µV at full
    weight, band-limited by ``band_gain`` (the recording's filters, on the rfft grid of ``n_times``).
    """
    n_chans = temporal.shape[0]
    trials, centre = _events(rng, n_trials, n_times / sfreq, per_min)
    length = rng.uniform(*_BURST_S, trials.size)
    side = rng.integers(0, 3, trials.size)  # 0 left, 1 right, 2 both
    level = uv * np.exp(rng.normal(0.0, 0.3, trials.size))
    rows = np.flatnonzero(temporal > 0.05)
    out = np.zeros((n_trials, n_chans, n_times))
    if trials.size == 0 or rows.size == 0:
        return out
    t = np.arange(n_times) / sfreq
    env = np.zeros((n_trials, 2, n_times))
    for k, c, d, s, a in zip(trials, centre, length, side, level):
        hann = np.where(np.abs(t - c) < d / 2, np.cos(np.pi * (t - c) / d) ** 2, 0.0) * a
        if s in (0, 2):
            env[k, 0] += hann
        if s in (1, 2):
            env[k, 1] += hann
    noise = rng.standard_normal((n_trials, rows.size, n_times))
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    gain = passband_gain(freqs, (_BURST_HIGHPASS, None)) * band_gain
    # White noise high-passed at 20 Hz keeps (1 - 20 / Nyquist) of its variance: restore RMS uv.
    norm = 1.0 / np.sqrt(max(np.mean(gain**2), 1e-12))
    noise = np.fft.irfft(np.fft.rfft(noise, axis=-1) * gain * norm, n=n_times, axis=-1)
    side_env = env[:, np.where(x[rows] < 0, 0, 1)]  # (n_trials, n_rows, n_times)
    out[:, rows] = noise * side_env * temporal[rows][None, :, None]
    return out


def electrode_pops(rng, n_trials, n_chans, n_times, sfreq, per_min, uv, band_gain) -> np.ndarray:
    """Electrode pops on single channels, µV, shape (n_trials, n_chans, n_times).

    A pop is a sudden step of ``uv`` µV (times a factor exp(N(0, 0.4²)), random sign) on one
    channel, decaying exponentially over 0.05-0.3 s, as an electrode's contact briefly changes;
    ``per_min`` pops per minute per recording, filtered by ``band_gain``.
    """
    out = np.zeros((n_trials * n_chans, n_times))
    trials, t0 = _events(rng, n_trials, n_times / sfreq, per_min)
    chans = rng.integers(0, n_chans, trials.size)
    tau = rng.uniform(*_POP_TAU, trials.size)
    amp = uv * np.exp(rng.normal(0.0, 0.4, trials.size)) * rng.choice([-1.0, 1.0], trials.size)
    t = np.arange(n_times) / sfreq
    for row, a, start, decay in zip(trials * n_chans + chans, amp, t0, tau):
        out[row] += (t >= start) * a * np.exp(-np.maximum(t - start, 0.0) / decay)
    out = out.reshape(n_trials, n_chans, n_times)
    if trials.size and not np.all(band_gain == 1.0):
        out = np.fft.irfft(np.fft.rfft(out, axis=-1) * band_gain, n=n_times, axis=-1)
    return out
