"""Helpers shared by the EEG, peripheral and oracle modules of the simulator.

Argument checks, the random streams of a subject's own seed, the rendering of events
(blinks, heart beats, bursts) onto a ``(n_trials, n_times)`` grid, the blink train shared by
the EEG and the EOG, and a zero-phase Butterworth-like magnitude response.
"""

from __future__ import annotations

import zlib

import numpy as np

from .effects import SubjectEffects

# Streams of the subject's own seed (subject-constant quantities and shared event timings).
STREAM_TOPO, STREAM_BLINK, STREAM_CARDIAC, STREAM_LINE, STREAM_STATE = 11, 12, 13, 14, 15


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------
def check_vad(vad) -> np.ndarray:
    """``vad`` as float64, shape (n_trials, 3), finite values in [-1, 1] or NaN (no stimulus)."""
    vad = np.asarray(vad, dtype=np.float64)
    if vad.ndim != 2 or vad.shape[1] != 3:
        raise ValueError(
            "vad must have shape (n_trials, 3) (normalised valence, arousal, dominance), "
            f"but got shape {vad.shape}"
        )
    if vad.shape[0] < 1:
        raise ValueError("vad must hold at least one trial, but got shape (0, 3)")
    if np.isinf(vad).any():
        raise ValueError("vad must be finite or NaN (NaN = no stimulus), but it holds Inf")
    finite = vad[np.isfinite(vad)]
    if finite.size and (finite.min() < -1.0 - 1e-9 or finite.max() > 1.0 + 1e-9):
        raise ValueError(
            "vad must be normalised to [-1, 1] (see neuroaffect.labels.normalise_ratings), but it "
            f"spans [{finite.min():.3g}, {finite.max():.3g}]"
        )
    return vad


def check_signal_args(sfreq, n_times) -> tuple[float, int]:
    """``sfreq`` (Hz) as a positive float and ``n_times`` (samples) as an int >= 2."""
    try:
        sfreq = float(sfreq)
    except (TypeError, ValueError):
        raise TypeError(f"sfreq must be a number in Hz, but got {sfreq!r}") from None
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise ValueError(f"sfreq must be a positive number of Hz, but got {sfreq!r}")
    if isinstance(n_times, bool) or not isinstance(n_times, (int, np.integer)) or n_times < 2:
        raise ValueError(f"n_times must be an integer >= 2, but got {n_times!r}")
    return sfreq, int(n_times)


def check_effects(effects) -> SubjectEffects:
    """Raise ``TypeError`` unless ``effects`` is a :class:`SubjectEffects`."""
    if not isinstance(effects, SubjectEffects):
        raise TypeError(f"effects must be a SubjectEffects, but got {type(effects).__name__}")
    return effects


def names_key(ch_names) -> tuple:
    """Channel names as a non-empty tuple of str (hashable: the key of the geometry cache)."""
    if isinstance(ch_names, str):
        raise TypeError("ch_names must be a sequence of channel names, not a single string")
    names = tuple(str(c) for c in ch_names)
    if not names:
        raise ValueError("ch_names must hold at least one channel name, but got none")
    return names


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------
def passband_gain(freqs, passband, order=4):
    """Zero-phase Butterworth-like magnitude response on ``freqs`` (Hz); ones when None.

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
        Frequencies in Hz.
    passband : (float | None, float | None) | None
        Low and high corner in Hz; None (either end) leaves that side open.
    order : int
        Butterworth order of each side.

    Returns
    -------
    gain : ndarray, shape (n_freqs,)
        Magnitude in [0, 1].
    """
    gain = np.ones_like(freqs)
    if passband is None:
        return gain
    try:
        lo, hi = passband
    except (TypeError, ValueError):
        raise ValueError(f"passband must be None or a (low, high) pair in Hz, but got {passband!r}") from None
    with np.errstate(divide="ignore"):
        if lo is not None and lo > 0:
            gain = gain / np.sqrt(1.0 + (float(lo) / freqs) ** (2 * order))
        if hi is not None:
            gain = gain / np.sqrt(1.0 + (freqs / float(hi)) ** (2 * order))
    return np.nan_to_num(gain)


# --------------------------------------------------------------------------------------------
# Events rendered onto a (n_trials, n_times) grid
# --------------------------------------------------------------------------------------------
def trial_rng(effects: SubjectEffects, stream: int, k: int, row: np.ndarray) -> np.random.Generator:
    """Generator of trial ``k``'s shared event timings (blinks, beats): same trial, same events."""
    key = zlib.crc32(np.nan_to_num(row, nan=9.0).astype("<f8").tobytes())
    return np.random.default_rng([effects.seed, stream, int(k), key])


def render(n_trials, n_times, sfreq, trial, centre, support, shape):
    """Sum of events on a grid, shape (n_trials, n_times).

    ``trial``, ``centre`` (s) have shape (n_events,); ``support`` = (t0, t1) in seconds around
    each centre; ``shape(tau)`` takes tau of shape (n_events, n_offsets) (seconds relative to the
    centre) and returns the event values there (already scaled).
    """
    out = np.zeros(n_trials * n_times)
    if len(centre) == 0:
        return out.reshape(n_trials, n_times)
    offs = np.arange(int(np.floor(support[0] * sfreq)), int(np.ceil(support[1] * sfreq)) + 1)
    idx = np.rint(np.asarray(centre) * sfreq).astype(np.int64)[:, None] + offs[None, :]
    tau = idx / sfreq - np.asarray(centre)[:, None]
    val = shape(tau)
    ok = (idx >= 0) & (idx < n_times)
    flat = (np.asarray(trial, dtype=np.int64)[:, None] * n_times + idx)[ok]
    out += np.bincount(flat, weights=val[ok], minlength=n_trials * n_times)
    return out.reshape(n_trials, n_times)


def _blink_shape(tau, tp=0.12):
    """Blink waveform, peak 1 at ``tp`` s: fast rise, slower fall (~0.4 s wide)."""
    t = np.clip(tau, 0.0, None) / tp
    return np.where(tau > 0, t**2 * np.exp(2.0 * (1.0 - t)), 0.0)


def _blink_events(effects: SubjectEffects, vad: np.ndarray, duration: float):
    """Blink trial indices, times (s) and relative amplitudes, shared by EEG and EOG."""
    trials, times, amps = [], [], []
    mean_gap = 60.0 / max(effects.blink_rate, 1e-3)
    for k, row in enumerate(vad):
        g = trial_rng(effects, STREAM_BLINK, k, row)
        n_max = int(duration / 0.4) + 2
        gaps = 0.4 + g.exponential(max(mean_gap - 0.4, 0.1), n_max)
        t = g.uniform(-mean_gap, 0.0) + np.cumsum(gaps)
        a = np.exp(g.normal(0.0, 0.25, n_max))
        keep = (t > -1.0) & (t < duration)
        trials.append(np.full(keep.sum(), k))
        times.append(t[keep])
        amps.append(a[keep])
    return np.concatenate(trials), np.concatenate(times), np.concatenate(amps)


def blink_train(effects, vad, sfreq, n_times):
    """Blink waveform per trial in units of ``blink_uv`` at Fp1/Fp2, shape (n_trials, n_times).

    Blink times are a deterministic function of the subject's ``seed``, the trial index and the
    trial's ratings, so the EEG and the EOG simulated for the same trials show the same blinks.
    """
    trial, t, a = _blink_events(effects, vad, n_times / sfreq)
    return render(vad.shape[0], n_times, sfreq, trial, t, (0.0, 1.0),
                  lambda tau: a[:, None] * _blink_shape(tau))
