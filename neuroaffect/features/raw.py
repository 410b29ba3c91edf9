"""Raw EEG windows for models that read the signal itself (EEGNet, ShallowFBCSPNet).

:func:`extract_raw_windows` cuts every trial of a :class:`~neuroaffect.io.Recording`
into windows of ``window`` samples, ``stride`` apart, the same windows as the band-DE
features (:func:`~neuroaffect.features.window_starts`). Trials of equal length are
processed together (one filter call and one strided view per group of equal length);
no Python loop runs over windows. No torch here.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from .._utils import check_int
from .bde import n_windows, trials_by_length

__all__ = ["extract_raw_windows"]

_VOLTS_TO_UV = 1e6


def _check_int(name: str, value, minimum: int = 1) -> int:
    return check_int(name, value, minimum=minimum)


def _check_freq(name: str, value, nyquist: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < value < nyquist:
        raise ValueError(
            f"Invalid value for the {name!r} parameter: expected a frequency in Hz strictly between 0 and "
            f"the Nyquist frequency {nyquist:g} Hz, or None, but got {value!r} instead."
        )
    return float(value)


def _design(sfreq: float, l_freq: float | None, h_freq: float | None, order: int) -> np.ndarray | None:
    """Butterworth second-order sections: band-, high- or low-pass, or None for no filter."""
    if l_freq is None and h_freq is None:
        return None
    if l_freq is not None and h_freq is not None:
        return signal.butter(order, [l_freq, h_freq], btype="bandpass", fs=sfreq, output="sos")
    if l_freq is not None:
        return signal.butter(order, l_freq, btype="highpass", fs=sfreq, output="sos")
    return signal.butter(order, h_freq, btype="lowpass", fs=sfreq, output="sos")


def _sos_padlen(sos: np.ndarray) -> int:
    """``scipy.signal.sosfiltfilt``'s default edge padding, in samples."""
    n_zeros = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * (2 * len(sos) + 1 - n_zeros)


def _as_trials(data, name: str, n_chans: int | None = None):
    """``data`` as an ndarray (n_trials, n_chans, n_times) or a list of (n_chans, n_times_i) arrays."""
    trials = data if isinstance(data, np.ndarray) else [np.asarray(t) for t in data]
    if isinstance(trials, np.ndarray):
        shapes = [trials.shape[1:]] if trials.ndim == 3 else None
        found = f"shape {trials.shape}"
    else:
        shapes = [t.shape for t in trials] if all(t.ndim == 2 for t in trials) else None
        found = f"a list of arrays of shapes {sorted({t.shape for t in trials})}"
    chans = None if shapes is None else {s[0] for s in shapes}
    if chans is None or len(chans) > 1 or (n_chans is not None and chans and chans != {n_chans}):
        c = "n_chans" if n_chans is None else n_chans
        raise ValueError(
            f"Invalid value for the {name!r} parameter: expected an array of shape (n_trials, {c}, n_times) "
            f"or a list of ({c}, n_times_i) arrays, but got {found} instead."
        )
    return trials


def extract_raw_windows(rec, window: int, stride: int | None = None, *, l_freq: float | None = None,
                        h_freq: float | None = None, filter_order: int = 4, baseline: bool = False):
    r"""Cut a recording's EEG into windows, in µV, optionally filtered and baseline-corrected.

    Each trial, taken whole, is

    1. baseline-corrected if ``baseline``: every channel minus the mean of that
       channel over the trial's pre-stimulus segment (``rec.baseline``);
    2. filtered if ``l_freq`` and/or ``h_freq`` is given: a Butterworth filter of
       order ``filter_order`` (band-pass with both, high-pass with ``l_freq``
       only, low-pass with ``h_freq`` only) run forward and backward
       (``scipy.signal.sosfiltfilt``: zero phase, squared magnitude response,
       odd extension at the edges), once per trial and not per window;
    3. converted from volts to µV and cut into windows ``[s, s + window)``
       for ``s = 0, stride, 2 stride, ...`` while the window fits in the trial
       (the windows of :func:`~neuroaffect.features.window_starts`).

    Baseline correction comes first: filtering is linear, so correcting the
    filtered trial would subtract the filter's response to the constant instead
    (zero for a band-pass, the constant itself for a low-pass).

    Parameters
    ----------
    rec : neuroaffect.io.Recording
        The recording. Read: ``rec.eeg`` (volts; ndarray of shape
        ``(n_trials, n_chans, n_times)`` or a list of ``(n_chans, n_times_i)``
        arrays), ``rec.sfreq`` (Hz) and, with ``baseline=True``,
        ``rec.baseline`` (volts; ``(n_trials, n_chans, n_base)`` or a list of
        ``(n_chans, n_base_i)`` arrays).
    window : int
        Window length in samples.
    stride : int | None
        Samples between the starts of consecutive windows; ``None``: ``window``
        (adjacent windows, no overlap).
    l_freq, h_freq : float | None
        Cut-off frequencies in Hz of the Butterworth design (-3 dB for one
        pass, -6 dB after the forward-backward pair), each strictly between 0
        and ``rec.sfreq / 2``, ``l_freq < h_freq``; ``None`` leaves that side
        open. Both ``None``: no filtering.
    filter_order : int
        Order of the Butterworth design (of each pass: forward-backward doubles
        the attenuation). Trials must be longer than ``sosfiltfilt``'s edge
        padding, ``3 * (2 * n_sections + 1)`` samples at most.
    baseline : bool
        Subtract each channel's mean over the trial's baseline segment.

    Returns
    -------
    windows : ndarray of float32, shape (n_trials, n_windows_max, n_chans, window)
        EEG in µV. ``windows[i, j]`` is window ``j`` of trial ``i``; windows
        beyond a shorter trial's end (``j >= n_windows[i]``) are NaN.
    n_windows : ndarray of int64, shape (n_trials,)
        Number of windows of each trial, ``(n_times_i - window) // stride + 1``
        (0 for a trial shorter than ``window``).
    win_start : ndarray of int64, shape (n_windows_max,)
        First sample of each window, from the trial's start (the same for every
        trial); ``win_start / rec.sfreq`` gives seconds.

    Notes
    -----
    The result holds ``n_trials * n_windows_max * n_chans * window`` float32
    numbers: overlapping windows copy the overlap (e.g. DEAP, 40 trials of
    60 s at 128 Hz, 1-s windows: 39 MB with ``stride=128``, 310 MB with
    ``stride=16``).
    """
    sfreq = float(rec.sfreq)
    window, stride, l_freq, h_freq, filter_order = _check_window_args(
        sfreq, window, stride, l_freq, h_freq, filter_order, baseline)
    trials = _as_trials(rec.eeg, "rec.eeg")
    n_trials = len(trials)
    n_chans = trials.shape[1] if isinstance(trials, np.ndarray) else (trials[0].shape[0] if n_trials else 0)
    offsets = _baseline_offsets(rec, n_trials, n_chans) if baseline else None  # (n_trials, n_chans, 1), volts

    lengths = np.array([t.shape[-1] for t in trials], dtype=np.int64)
    nw = np.where(lengths >= window, (lengths - window) // stride + 1, 0).astype(np.int64)
    nw_max = int(nw.max()) if n_trials else 0
    sos = _design(sfreq, l_freq, h_freq, filter_order)
    short = np.flatnonzero((nw > 0) & (lengths <= (0 if sos is None else _sos_padlen(sos))))
    if short.size:
        raise ValueError(
            f"Invalid value for the 'rec.eeg' parameter: filtering needs trials longer than the filter's "
            f"edge padding of {_sos_padlen(sos)} samples, but got a trial of {int(lengths[short[0]])} samples "
            f"(trial {int(short[0])}) instead."
        )
    out = np.full((n_trials, nw_max, n_chans, window), np.nan, dtype=np.float32)
    _cut_windows(trials, offsets, sos, window, stride, out)
    return out, nw, np.arange(nw_max, dtype=np.int64) * stride


def _check_window_args(sfreq: float, window, stride, l_freq, h_freq, filter_order, baseline) -> tuple:
    """Validated ``(window, stride, l_freq, h_freq, filter_order)`` of :func:`extract_raw_windows` (samples, Hz)."""
    window = _check_int("window", window)
    stride = window if stride is None else _check_int("stride", stride)
    filter_order = _check_int("filter_order", filter_order)
    l_freq = _check_freq("l_freq", l_freq, sfreq / 2.0)
    h_freq = _check_freq("h_freq", h_freq, sfreq / 2.0)
    if l_freq is not None and h_freq is not None and not l_freq < h_freq:
        raise ValueError(
            f"Invalid value for the 'h_freq' parameter: expected a frequency above l_freq={l_freq:g} Hz, "
            f"but got {h_freq:g} Hz instead."
        )
    if not isinstance(baseline, (bool, np.bool_)):
        raise ValueError(
            f"Invalid value for the 'baseline' parameter: expected True or False, but got {baseline!r} instead."
        )
    return window, stride, l_freq, h_freq, filter_order


def _baseline_offsets(rec, n_trials: int, n_chans: int) -> np.ndarray:
    """Each trial's per-channel baseline mean, shape (n_trials, n_chans, 1), float64 volts."""
    if rec.baseline is None:
        raise ValueError(
            "Invalid value for the 'baseline' parameter: baseline correction needs the recording's "
            "pre-stimulus EEG (rec.baseline), but got a recording without one (rec.baseline is None)."
        )
    base = _as_trials(rec.baseline, "rec.baseline", n_chans)
    if len(base) != n_trials:
        raise ValueError(
            f"Invalid value for the 'rec.baseline' parameter: expected one baseline segment per trial "
            f"({n_trials}), but got {len(base)} instead."
        )
    if isinstance(base, np.ndarray):
        return base.mean(axis=-1, keepdims=True, dtype=np.float64)
    # one mean per trial and channel
    return np.array([b.mean(axis=-1, keepdims=True, dtype=np.float64) for b in base]).reshape(n_trials, n_chans, 1)


def _cut_windows(trials, offsets, sos, window: int, stride: int, out: np.ndarray) -> None:
    """Fill ``out`` (n_trials, n_windows_max, n_chans, window) with the corrected, filtered windows in µV.

    Trials of one length are processed together; ``offsets`` (n_trials, n_chans, 1) or None, ``sos`` or None.
    """
    for length, idx in trials_by_length(trials).items():
        n_win = n_windows(length, window, stride)
        if n_win == 0:
            continue
        # fancy indexing and np.stack copy: the in-place steps below never touch rec.eeg
        x = trials[idx] if isinstance(trials, np.ndarray) else np.stack([trials[i] for i in idx])
        x = x.astype(np.float64, copy=False)
        if offsets is not None:
            x -= offsets[idx]
        if sos is not None:
            x = signal.sosfiltfilt(sos, x, axis=-1)
        x *= _VOLTS_TO_UV
        # (n_group, n_chans, n_times) -> (n_group, n_chans, n_win, window) view -> (n_group, n_win, n_chans, window)
        view = sliding_window_view(x, window, axis=-1)[:, :, : (n_win - 1) * stride + 1 : stride]
        out[idx, :n_win] = view.transpose(0, 2, 1, 3)
