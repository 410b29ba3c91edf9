"""How real a recording looks: the metrics that compare the simulator with real EEG.

Every metric takes continuous pieces of EEG (a list of arrays of shape (n_chans, n_times_i), µV,
one rate and one channel list for all) and returns one number per recording: a median over
channels of a per-channel statistic, pooled over the pieces. The same functions measure the real
recordings (``benchmarks/calibrate_simulator.py``) and the simulated datasets
(``tests/test_simulate_realism.py``); :data:`REAL_RANGES` pins the real range of each metric per
device family, with the recordings it was measured on. ``docs/simulator.md`` holds the table.

=================  ==========================================================================
metric             definition
=================  ==========================================================================
exponent, offset   Welch PSD (4-s Hann segments, half overlap, median over segments), per channel a line fitted to
                   log10 PSD against log10 f over 2-40 Hz without 6-14 Hz (for data published
                   band-passed, the PSD divided by the filter's magnitude squared and the lower
                   edge raised to twice the high-pass corner); exponent = minus the slope,
                   offset = log10 PSD (µV²/Hz) at 1 Hz
alpha_peak         frequency (Hz) of the largest excess of the channel-mean log10 PSD over
                   the aperiodic line in 7-14 Hz
alpha_share        8-13 Hz power over 4-40 Hz power (the PSD summed; 4 Hz, not 1 Hz, so that
                   data published high-passed at 4 Hz (DEAP) are measured alike)
amplitude_uv       SD of the 1-40 Hz band-passed signal (median over channels of the median
                   over 4-s segments), µV
dc_uv              median of the stored signal, µV (formats that keep the DC level)
correlation        Pearson correlation between channels of the 1-40 Hz band-passed signal
                   after a common average reference, per 4-s segment (median over segments,
                   then over channel pairs)
kurtosis           excess kurtosis of the 1-40 Hz band-passed signal per 4-s segment (median
                   over segments, then channels): 0 for Gaussian noise
line_ratio         PSD at 50 or 60 Hz (the larger) over the median PSD 4-8 Hz away from it
blinks_per_min     peaks of the 0.5-8 Hz band-passed mean of the frontal-pole channels above 5
                   robust SDs, at least 0.4 s apart, on the side of its largest excursion (NaN
                   without frontal-pole channels)
bursts_per_min     runs of the 0.25-s RMS of the 20-40 Hz band-passed temporal channels above
                   3 times its median (median over temporal channels; NaN without them)
spikes_per_min     samples whose first difference exceeds 10 robust SDs of the channel's
                   differences, on any channel, merged within 0.1 s
=================  ==========================================================================
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
from scipy.signal import butter, find_peaks, periodogram, sosfiltfilt
from scipy.stats import kurtosis as _kurtosis

__all__ = ["METRICS", "PROFILES", "REAL_RANGES", "FINISH", "realism_metrics", "real_range", "in_range"]

#: Metric names, in table order.
METRICS = ("exponent", "offset", "alpha_peak", "alpha_share", "amplitude_uv", "dc_uv", "correlation",
           "kurtosis", "line_ratio", "blinks_per_min", "bursts_per_min", "spikes_per_min")

#: Real range each simulated dataset is held to: its device family, finished like its release
#: (``research-4-45``: the research amplifiers band-passed at 4-45 Hz and re-referenced to the
#: common average, as DEAP publishes its EEG).
PROFILES = MappingProxyType({"dreamer": "emotiv", "deap": "research-4-45", "seed": "research",
                             "seed-iv": "research", "mahnob": "research"})

#: Real range of each metric per profile, (low, high); a metric absent is not compared. Measured by
#: ``benchmarks/calibrate_simulator.py`` (table in ``docs/simulator.md``) on the eyes-open
#: recordings (a subject watching a video has the eyes open), the eyes-closed ones added for the
#: metrics that do not depend on the eyes (exponent, offset, amplitude, DC, correlation, artefacts):
#:
#: * ``emotiv``: UCI EEG Eye State (one raw Emotiv EPOC recording, 14 channels in DREAMER's order,
#:   128 Hz; eyes open 0.27 alpha share, 0.36 kurtosis; exponent 1.01-1.02; 9.1 µV; DC 4,268 µV;
#:   line ratio 0.15-0.21, the EPOC's own 50/60 Hz notches);
#: * ``research``: PhysioNet eegmmidb subject 1, runs R01 (eyes open) and R02 (closed) (BCI2000,
#:   64 channels, 160 Hz), and the EEGLAB tutorial recording (30 EEG channels, 128 Hz, a visual
#:   task): exponent 1.53-1.69, alpha share 0.29 / 0.63 with the eyes open, kurtosis 0.06-0.31;
#: * ``research-4-45``: the same research recordings band-passed at 4-45 Hz (order-4 Butterworth
#:   magnitude) and re-referenced to the common average before measuring (exponent 1.74-2.62,
#:   alpha share 0.29 / 0.64 with the eyes open; the band-pass steepens the fitted 1/f).
#:
#: Each range is the span of those values widened by a margin (a few recordings cannot give the
#: spread of a population): about 0.15 for the exponent, 0.3 for the offset, a third of the value
#: for amplitudes and shares; blinks from 1 per minute (eyes that are open blink, but a short
#: recording may catch few) and the other events from 0 (a recording can be free of them), up to
#: about twice the largest rate seen.
REAL_RANGES = MappingProxyType({
    "emotiv": MappingProxyType({
        "exponent": (0.85, 1.2), "offset": (0.9, 1.7), "alpha_peak": (8.0, 13.0), "alpha_share": (0.18, 0.36),
        "amplitude_uv": (6.0, 13.0), "dc_uv": (3700.0, 4800.0), "correlation": (-0.3, 0.0),
        "kurtosis": (0.1, 0.7), "line_ratio": (0.05, 0.5), "blinks_per_min": (1.0, 20.0),
        "bursts_per_min": (0.0, 6.0), "spikes_per_min": (0.0, 6.0),
    }),
    "research": MappingProxyType({
        "exponent": (1.38, 1.84), "offset": (1.8, 3.4), "alpha_peak": (8.0, 13.0), "alpha_share": (0.2, 0.7),
        "amplitude_uv": (10.0, 50.0), "correlation": (-0.2, 0.05), "kurtosis": (0.05, 0.6),
        "line_ratio": (3.0, 500.0), "blinks_per_min": (1.0, 25.0), "bursts_per_min": (0.0, 8.0),
        "spikes_per_min": (0.0, 6.0),
    }),
    "research-4-45": MappingProxyType({
        "exponent": (1.6, 2.8), "offset": (2.4, 3.9), "alpha_peak": (8.0, 13.0), "alpha_share": (0.2, 0.75),
        "amplitude_uv": (6.0, 28.0), "correlation": (-0.2, 0.1), "kurtosis": (0.05, 0.6),
        "line_ratio": (3.0, 500.0), "blinks_per_min": (1.0, 25.0), "bursts_per_min": (0.0, 8.0),
        "spikes_per_min": (0.0, 10.0),
    }),
})

#: What a dataset's release changed against its device family (filters, artefact removal): the
#: range of the metric becomes this one, and why.
FINISH = MappingProxyType({
    "deap": {"line_ratio": ((0.3, 2.0), "band-passed at 4-45 Hz: no mains line"),
             "blinks_per_min": ((0.0, 1.5), "blinks removed from the release")},
    "seed": {"line_ratio": ((0.3, 2.0), "filtered release: no mains line")},
    "seed-iv": {"line_ratio": ((0.3, 2.0), "filtered release: no mains line")},
})

_FRONTAL_POLE = frozenset({"FP1", "FP2", "FPZ", "AF3", "AF4", "AF7", "AF8", "AFZ"})
_TEMPORAL = frozenset({"T7", "T8", "T3", "T4", "T5", "T6", "FT7", "FT8", "TP7", "TP8", "FT9", "FT10",
                       "TP9", "TP10"})
_SEG_S = 4.0


def _pieces(pieces, sfreq, seg_s=_SEG_S):
    """Pieces as float64 arrays at least one segment long; raise ValueError if none is."""
    out = [np.asarray(p, dtype=np.float64) for p in pieces]
    n_seg = int(round(seg_s * sfreq))
    out = [p for p in out if p.ndim == 2 and p.shape[1] >= n_seg]
    if not out:
        raise ValueError(f"realism metrics need pieces of shape (n_chans, n_times) at least {seg_s:g} s "
                         f"long ({n_seg} samples), but got none")
    return out


def _psd(pieces, sfreq, seg_s):
    """Welch PSD, the median over every half-overlapping 4-s Hann segment of every piece.

    The median (divided by ln 2, its value for the exponential law of a periodogram bin) keeps
    rare spikes and pops from dominating the spectrum. Returns freqs (n_freqs,) and psd
    (n_chans, n_freqs) in µV²/Hz.
    """
    n_seg = int(round(seg_s * sfreq))
    segs = _segments(pieces, sfreq, seg_s, step=n_seg // 2)
    f, pxx = periodogram(segs, fs=sfreq, window="hann", detrend="constant", axis=-1)
    return f, np.median(pxx, axis=0) / np.log(2.0)


def _aperiodic(f, psd, passband=None):
    """Per-channel aperiodic fit: exponent, offset (n_chans,) each, and the fitted log10 line."""
    lo = 2.0 if not passband or not passband[0] else max(2.0, 2.0 * float(passband[0]))
    sel = (f >= lo) & (f <= 40.0) & ~((f >= 6.0) & (f <= 14.0))
    logf = np.log10(f[sel])
    coef = np.polyfit(logf, np.log10(psd[:, sel]).T, 1)  # (2, n_chans): slope, intercept
    return -coef[0], coef[1], coef


def _bandpass(pieces, sfreq, lo, hi):
    sos = butter(4, [lo, hi], btype="bandpass", fs=sfreq, output="sos")
    return [sosfiltfilt(sos, p - p.mean(axis=1, keepdims=True), axis=-1) for p in pieces]


def _segments(pieces, sfreq, seg_s, step=None):
    """Segments of ``seg_s`` s of every piece, ``step`` samples apart (default: none overlap),
    shape (n_segments, n_chans, n_seg)."""
    n = int(round(seg_s * sfreq))
    step = step or n
    segs = [p[:, i:i + n] for p in pieces for i in range(0, p.shape[1] - n + 1, step)]
    return np.stack(segs)


def _rate(count, pieces, sfreq):
    minutes = sum(p.shape[1] for p in pieces) / sfreq / 60.0
    return float(count / minutes)


def _robust_sd(x, axis=-1):
    med = np.median(x, axis=axis, keepdims=True)
    return 1.4826 * np.median(np.abs(x - med), axis=axis, keepdims=True)


def _blinks(pieces, sfreq, upper):
    rows = [i for i, c in enumerate(upper) if c in _FRONTAL_POLE]
    if not rows:
        return float("nan")
    count = 0
    for p in _bandpass([p[rows] for p in pieces], sfreq, 0.5, 8.0):
        y = p.mean(axis=0)
        y = y * np.sign(y[np.argmax(np.abs(y))])  # blinks point the way of the largest excursion
        sd = _robust_sd(y)[0]
        count += len(find_peaks(y, height=5.0 * sd, distance=max(1, int(0.4 * sfreq)))[0])
    return _rate(count, pieces, sfreq)


def _bursts(pieces, sfreq, upper):
    rows = [i for i, c in enumerate(upper) if c in _TEMPORAL]
    if not rows:
        return float("nan")
    win = max(1, int(0.25 * sfreq))
    kernel = np.ones(win) / win
    counts = np.zeros(len(rows))
    for p in _bandpass([p[rows] for p in pieces], sfreq, 20.0, 40.0):
        env = np.sqrt(np.apply_along_axis(np.convolve, -1, p**2, kernel, mode="same"))
        above = env > 3.0 * np.median(env, axis=-1, keepdims=True)
        counts += (np.diff(above.astype(np.int8), axis=-1) == 1).sum(axis=-1) + above[:, 0]
    return float(np.median([_rate(c, pieces, sfreq) for c in counts]))


def _spikes(pieces, sfreq):
    count = 0
    gap = max(1, int(0.1 * sfreq))
    for p in pieces:
        d = np.diff(p, axis=-1)
        hit = (np.abs(d - np.median(d, axis=-1, keepdims=True)) > 10.0 * _robust_sd(d)).any(axis=0)
        idx = np.flatnonzero(hit)
        count += int(len(idx) > 0) + int((np.diff(idx) > gap).sum())
    return _rate(count, pieces, sfreq)


def real_range(key, metric):
    """The pinned real range (low, high) of ``metric`` for a dataset or a profile; None if not compared.

    ``key`` is a simulated dataset (its profile's range, or its :data:`FINISH`) or a key of
    :data:`REAL_RANGES`.
    """
    if key in FINISH and metric in FINISH[key]:
        return FINISH[key][metric][0]
    return REAL_RANGES[PROFILES.get(key, key)].get(metric)


def in_range(key, metric, value):
    """Whether ``value`` lies in :func:`real_range` of ``key`` and ``metric`` (None: not compared)."""
    rng = real_range(key, metric)
    if rng is None:
        return None
    return bool(rng[0] <= value <= rng[1])


def _butter_gain(freqs, passband, order=4):
    """Magnitude of a Butterworth band-pass, ``order`` per side, on ``freqs`` (Hz), shape of ``freqs``."""
    lo, hi = passband
    with np.errstate(divide="ignore"):
        gain = np.ones_like(freqs)
        if lo:
            gain = gain / np.sqrt(1.0 + (float(lo) / freqs) ** (2 * order))
        if hi:
            gain = gain / np.sqrt(1.0 + (freqs / float(hi)) ** (2 * order))
    return np.nan_to_num(gain)


def realism_metrics(pieces, sfreq, ch_names, *, passband=None, dc=False, seg_s=_SEG_S) -> dict:
    """Every metric of :data:`METRICS` for one recording (see the module docstring).

    Parameters
    ----------
    pieces : sequence of ndarray, shape (n_chans, n_times_i)
        Continuous EEG in µV (trials, runs or segments of one state); pieces shorter than 4 s
        are skipped.
    sfreq : float
        Sampling rate in Hz (the same for every piece).
    ch_names : sequence of str, length n_chans
        Channel names (case-insensitive; they pick the frontal-pole and temporal channels).
    passband : (float | None, float | None) | None
        Band (Hz) the data were published filtered to, if any (DEAP: 4-45 Hz): the spectrum is
        divided by an order-4 Butterworth magnitude of it before the spectral metrics, and the
        aperiodic fit starts at twice the high-pass corner.
    dc : bool
        Whether the format keeps the DC level (else ``dc_uv`` is NaN).
    seg_s : float
        Segment length in seconds (4; shorter only for short test recordings).

    Returns
    -------
    metrics : dict of str -> float
        Keyed by :data:`METRICS`.

    Raises
    ------
    ValueError
        If no piece is at least ``seg_s`` long, or the channel count does not match ``ch_names``.
    """
    sfreq = float(sfreq)
    upper = [str(c).strip().rstrip(".").upper() for c in ch_names]
    pieces = _pieces(pieces, sfreq, seg_s)
    if any(p.shape[0] != len(upper) for p in pieces):
        raise ValueError(f"realism metrics: every piece must have {len(upper)} channels (ch_names), but got "
                         f"{sorted({p.shape[0] for p in pieces})}")
    f, psd = _psd(pieces, sfreq, seg_s)
    psd = np.maximum(psd, np.finfo(float).tiny)
    if passband is not None:  # undo the published filter's magnitude, where it is not tiny
        psd = psd / np.maximum(_butter_gain(f, passband) ** 2, 1e-3)
    expo, offset, coef = _aperiodic(f, psd, passband)
    band = (f >= 7.0) & (f <= 14.0)
    resid = np.log10(psd[:, band]).mean(0) - np.polyval(coef.mean(axis=1), np.log10(f[band]))
    alpha = ((f >= 8.0) & (f <= 13.0))
    broad = (f >= 4.0) & (f <= 40.0)
    share = psd[:, alpha].sum(-1) / psd[:, broad].sum(-1)
    line = []
    for lf in (50.0, 60.0):
        if lf + 2.0 < sfreq / 2:
            k = int(np.argmin(np.abs(f - lf)))
            near = (np.abs(f - lf) >= 4.0) & (np.abs(f - lf) <= 8.0) & (f < sfreq / 2 - 1.0)
            line.append(np.median(psd[:, k] / np.median(psd[:, near], axis=-1)))
    filt = _bandpass(pieces, sfreq, 1.0, 40.0)
    segs = _segments(filt, sfreq, seg_s)
    car = segs - segs.mean(axis=1, keepdims=True)
    iu = np.triu_indices(len(upper), 1)
    corr = np.median([np.corrcoef(s)[iu] for s in car], axis=0) if len(upper) > 1 else np.array([np.nan])
    return {
        "exponent": float(np.median(expo)),
        "offset": float(np.median(offset)),
        "alpha_peak": float(f[band][np.argmax(resid)]),
        "alpha_share": float(np.median(share)),
        "amplitude_uv": float(np.median(np.median(segs.std(axis=-1), axis=0))),
        "dc_uv": float(np.median([np.median(p) for p in pieces])) if dc else float("nan"),
        "correlation": float(np.median(corr)),
        "kurtosis": float(np.median(np.median(_kurtosis(segs, axis=-1), axis=0))),
        "line_ratio": float(max(line)) if line else float("nan"),
        "blinks_per_min": _blinks(pieces, sfreq, upper),
        "bursts_per_min": _bursts(pieces, sfreq, upper),
        "spikes_per_min": _spikes(pieces, sfreq),
    }
