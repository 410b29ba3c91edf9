"""What real EEG carries besides brain rhythms: waxing and waning, muscle, pops, drift, a device's notch.

Used by :func:`neuroaffect.simulate.eeg.simulate_eeg`; ``docs/simulator.md`` describes each
artefact for users and the real recordings they were calibrated on. Every function consumes the
generator it is given in an order that does not depend on the ratings, so that trials with
different ratings but the same generator state get the same artefacts.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve1d

from ._core import passband_gain

# Rate of the coarse grid the amplitude envelope is drawn on (Hz) and its correlation time (s).
_ENVELOPE_RATE = 16.0
_ENVELOPE_TAU = 0.15
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
    0.4 s, spatial coherence ``chol @ chol.T``), drawn on a grid of 8 points per second and
    interpolated linearly: real EEG waxes and wanes (alpha spindles, bursts of beta), which gives
    its amplitude distribution heavier tails than a Gaussian (excess kurtosis about
    ``3 (exp(4 sd**2) - 1)`` for the part of the variation faster than a segment). Its mean square
    is 1, so the expected power of every band is unchanged. float32.
    """
    n_chans = chol.shape[0]
    step = max(1, int(round(sfreq / _ENVELOPE_RATE)))
    n_coarse = -(-n_times // step) + 1
    white = rng.standard_normal((n_trials, n_chans, n_coarse))
    # Smooth along time with a Gaussian kernel (unit variance kept), then mix across channels.
    width = _ENVELOPE_TAU * sfreq / step
    lags = np.arange(-int(3 * width), int(3 * width) + 1)
    kernel = np.exp(-0.5 * (lags / width) ** 2)
    kernel /= np.sqrt((kernel**2).sum())
    z = np.matmul(chol, convolve1d(white, kernel, axis=-1, mode="wrap"))
    a = np.exp(sd * z - sd**2).astype(np.float32)
    w = (np.arange(step, dtype=np.float32) / step)[None, None, None, :]
    env = a[..., :-1, None] * (1.0 - w) + a[..., 1:, None] * w
    return env.reshape(n_trials, n_chans, -1)[..., :n_times]


def slow_drift(rng, n_chans, n_times, sfreq, uv=(5.0, 25.0)) -> np.ndarray:
    """Slow electrode drift per channel, µV, shape (n_chans, n_times).

    Sum of three sines of 0.005-0.08 Hz with amplitudes drawn in ``uv`` µV and random phases
    (skin potentials and electrode polarisation of an unfiltered recording).
    """
    freqs = rng.uniform(0.005, 0.08, size=(n_chans, 3, 1))
    amps = rng.uniform(*uv, size=(n_chans, 3, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n_chans, 3, 1))
    t = np.arange(n_times) / sfreq
    return (amps * np.sin(2 * np.pi * freqs * t + phase)).sum(axis=1)


def _events(rng, n_trials, duration, per_min):
    """Poisson events: trial index and time (s) of each, for ``per_min`` events per minute."""
    counts = rng.poisson(per_min * duration / 60.0, n_trials)
    trials = np.repeat(np.arange(n_trials), counts)
    return trials, rng.uniform(0.0, duration, trials.size)


def _filtered(x, sfreq, band):
    """``x`` (..., n) filtered by the magnitude ``band(freqs)`` (zero phase, circular)."""
    n = x.shape[-1]
    return np.fft.irfft(np.fft.rfft(x, axis=-1) * band(np.fft.rfftfreq(n, 1.0 / sfreq)), n=n, axis=-1)


def add_muscle_bursts(eeg, rng, temporal, x, sfreq, per_min, uv, band) -> None:
    """Add bursts of broadband (> 20 Hz) muscle activity on temporal channels to ``eeg`` in place.

    Jaw clenching and swallowing show on the temporal channels as 0.3-1.2-s bursts of
    high-frequency noise. Each burst falls on one side (left, right or both), weighted per
    channel by ``temporal`` (1 at T7/T8; ``x`` < 0 is the left side), with RMS ``uv`` µV at full
    weight (times exp(N(0, 0.3²))), band-limited by ``band(freqs)`` (the recording's filters;
    None: unfiltered).

    Parameters
    ----------
    eeg : ndarray, shape (n_trials, n_chans, n_times)
        EEG in µV (modified).
    """
    n_trials, _, n_times = eeg.shape
    trials, centre = _events(rng, n_trials, n_times / sfreq, per_min)
    length = rng.uniform(*_BURST_S, trials.size)
    side = rng.integers(0, 3, trials.size)  # 0 left, 1 right, 2 both
    level = uv * np.exp(rng.normal(0.0, 0.3, trials.size))
    rows = np.flatnonzero(temporal > 0.05)
    if rows.size == 0:
        return
    left = x[rows] < 0
    def gain(f):
        g = passband_gain(f, (_BURST_HIGHPASS, None))
        return g if band is None else g * band(f)

    for k, c, d, s, a in zip(trials, centre, length, side, level):
        i0, i1 = max(0, int((c - d / 2) * sfreq)), min(n_times, int(np.ceil((c + d / 2) * sfreq)) + 1)
        if i1 - i0 < 4:
            continue
        t = np.arange(i0, i1) / sfreq
        hann = np.cos(np.pi * np.clip((t - c) / d, -0.5, 0.5)) ** 2
        noise = rng.standard_normal((rows.size, i1 - i0))
        # White noise high-passed at 20 Hz keeps part of its variance: restore RMS a.
        f = np.fft.rfftfreq(i1 - i0, 1.0 / sfreq)
        noise = _filtered(noise, sfreq, gain) / np.sqrt(max(np.mean(gain(f) ** 2), 1e-12))
        on = np.where(left, s != 1, s != 0) * temporal[rows]
        eeg[k, rows, i0:i1] += a * noise * hann * on[:, None]


def add_electrode_pops(eeg, rng, sfreq, per_min, uv, band) -> None:
    """Add electrode pops on single channels to ``eeg`` (n_trials, n_chans, n_times, µV) in place.

    A pop is a sudden step of ``uv`` µV (times exp(N(0, 0.4²)), random sign) on one channel,
    decaying exponentially over 0.05-0.3 s, as an electrode's contact briefly changes;
    ``per_min`` pops per minute per recording, filtered by ``band(freqs)`` (the recording's
    filters; None: unfiltered) over a window around each pop.
    """
    n_trials, n_chans, n_times = eeg.shape
    trials, t0 = _events(rng, n_trials, n_times / sfreq, per_min)
    chans = rng.integers(0, n_chans, trials.size)
    tau = rng.uniform(*_POP_TAU, trials.size)
    amp = uv * np.exp(rng.normal(0.0, 0.4, trials.size)) * rng.choice([-1.0, 1.0], trials.size)
    pad = int(sfreq)  # 1 s on each side for the filter's response
    for k, c, a, start, decay in zip(trials, chans, amp, t0, tau):
        i0 = max(0, int(start * sfreq) - pad)
        i1 = min(n_times, int((start + 8 * decay) * sfreq) + pad)
        t = np.arange(i0, i1) / sfreq
        pop = (t >= start) * a * np.exp(-np.maximum(t - start, 0.0) / decay)
        eeg[k, c, i0:i1] += pop if band is None else _filtered(pop, sfreq, band)
