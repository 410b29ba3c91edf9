"""Physiological features per EEG window, from a recording's peripheral signals.

=============  ============  =================================================================
feature        unit          how (neurokit2 detects the events once per trial)
=============  ============  =================================================================
``hr``         beats/min     mean over the window of the instantaneous heart rate
                             (``signal_rate`` of the R peaks / pulse peaks, interpolated)
``hrv_rmssd``  ms            RMSSD of the beat-to-beat intervals that end within the context
                             span (``physio_context`` s centred on the window); needs >= 3
``gsr_tonic``  uS            mean over the window of the tonic skin conductance
                             (``eda_phasic``, high-pass method); resistance in Ohm is
                             converted to conductance first
``scr_count``  count         skin-conductance responses (``eda_peaks`` on the phasic part)
                             peaking within the context span; in a conductance unit, only
                             those that rise by at least :data:`MIN_SCR_AMPLITUDE`
``resp_rate``  breaths/min   mean over the window of the instantaneous breathing rate
                             (troughs closer than one breath at :data:`FASTEST_BREATHING`
                             merged)
=============  ============  =================================================================

Heart rate comes from the ECG (DREAMER, MAHNOB: first lead) when present, else from the
plethysmograph (DEAP). A modality the recording lacks is absent from the feature axis (never
zero-filled). The context span (our choice) exists because a 1-s window holds at most one
heartbeat or no skin-conductance response at all; it is clipped to the trial.

Events are detected once per trial, and a rate needs several of them: neurokit2's
``signal_rate`` needs more than 3, so ``hr`` and ``hrv_rmssd`` need 4 beats and
``resp_rate`` 4 breaths (respiration troughs) in the trial (:data:`MIN_EVENTS`). A trial
shorter than that many events at the slowest rate accepted (:data:`SLOWEST_RATE`: 4 beats at
40 beats/min = 6 s, 4 breaths at 6 breaths/min = 40 s) in which fewer events are found gets
NaN for that modality **by design**: no warning, one ``logging`` INFO message per call. The
respiration detector (neurokit2's ``khodadad2018``) takes its extrema between zero crossings
of the cleaned trace and fails on a trace with too few breathing cycles, so such a trace is
recognised by its zero crossings and not given to it. Every other failure (too few events in
a trial long enough to hold them, a detector error, a non-positive skin resistance) is a
genuine one: the features are NaN too, and one ``RuntimeWarning`` per call names how many
(signal, trial) pairs failed and the first error.
A skin-conductance response counts when neurokit2's detector finds its peak and, for a signal
in a conductance (or resistance) unit, the phasic part rises by at least
:data:`MIN_SCR_AMPLITUDE` over the :data:`SCR_RISE_TIME` before the peak (since the previous
peak). neurokit2 keeps every peak higher than a tenth of the trial's highest, so on a real
recording without a large response it counted the ADC noise of a steady decline (0.006 uS steps
at 12 bits) as responses; its own amplitudes are measured from onsets that it sometimes places
at the peak itself, hence the rise measured here.
See ``docs/features.md``.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from scipy import signal

__all__ = [
    "FASTEST_BREATHING", "MIN_EVENTS", "MIN_SCR_AMPLITUDE", "PHYSIO_FEATURES", "SCR_RISE_TIME", "SLOWEST_RATE",
    "physio_feature_names", "compute_physio_features",
]

logger = logging.getLogger(__name__)

#: feature -> unit
PHYSIO_FEATURES = {
    "hr": "bpm", "hrv_rmssd": "ms", "gsr_tonic": "uS", "scr_count": "count", "resp_rate": "bpm",
}
_TO_MICROSIEMENS = {"uS": 1.0, "\u00b5S": 1.0, "\u03bcS": 1.0, "S": 1e6, "mS": 1e3, "nS": 1e-3}
_RESISTANCE = {"Ohm": 1e6, "ohm": 1e6, "kOhm": 1e3, "kohm": 1e3, "MOhm": 1.0, "Mohm": 1.0}
#: Events a trial must hold for a rate: beats (``hr``, ``hrv_rmssd``) and breaths (``resp_rate``).
MIN_EVENTS = {"cardio": 4, "resp": 4}
#: Slowest rate accepted, in events per minute: a trial shorter than ``MIN_EVENTS`` events at
#: this rate may hold too few of them, and then gets NaN without a warning.
SLOWEST_RATE = {"cardio": 40.0, "resp": 6.0}
#: Fastest breathing accepted (breaths/min): two respiration troughs closer than one breath at
#: this rate are one trough split by noise (the deeper is kept).
FASTEST_BREATHING = 60.0
#: Smallest rise (uS) of a skin-conductance response, within the usual 0.01-0.05 uS minimum
#: amplitude criteria (Boucsein et al. 2012, Psychophysiology 49(8)); applied to conductance only.
MIN_SCR_AMPLITUDE = 0.05
#: Span (s) before a response's peak in which its rise is measured (rise times are 1-3 s).
SCR_RISE_TIME = 5.0


class _TooFewEvents(ValueError):
    """Fewer beats or breaths were found than a rate needs."""


def _min_span(modality: str) -> float:
    """Shortest trial (s) certain to hold ``MIN_EVENTS`` events at ``SLOWEST_RATE``."""
    return MIN_EVENTS[modality] * 60.0 / SLOWEST_RATE[modality]


def _cardio_key(peripheral) -> str | None:
    for key in ("ecg", "ppg"):
        for name, p in peripheral.items():
            if p.kind == key:
                return name
    return None


def _key_of_kind(peripheral, kind) -> str | None:
    return next((name for name, p in peripheral.items() if p.kind == kind), None)


def physio_feature_names(peripheral) -> tuple:
    """Names of the features :func:`compute_physio_features` returns for these signals."""
    names = []
    if _cardio_key(peripheral):
        names += ["hr", "hrv_rmssd"]
    if _key_of_kind(peripheral, "gsr"):
        names += ["gsr_tonic", "scr_count"]
    if _key_of_kind(peripheral, "resp"):
        names += ["resp_rate"]
    return tuple(names)


def _trial(p, i) -> np.ndarray:
    return np.asarray(p.data[i], dtype=np.float64)[0]


def _span_mean(sig: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of ``sig`` over [a, b) (sample indices, clipped), NaN for empty spans."""
    c = np.concatenate([[0.0], np.cumsum(sig)])
    a = np.clip(a, 0, sig.size)
    b = np.clip(b, 0, sig.size)
    n = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (c[b] - c[a]) / np.maximum(n, 1), np.nan)


def _conductance(sig: np.ndarray, unit: str) -> np.ndarray:
    if unit in _RESISTANCE:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sig > 0, _RESISTANCE[unit] / sig, np.nan)
    return sig * _TO_MICROSIEMENS.get(unit, 1.0)


def _cardio(nk, sig, fs, kind):
    if kind == "ecg":
        _, info = nk.ecg_peaks(nk.ecg_clean(sig, sampling_rate=fs), sampling_rate=fs)
        peaks = np.asarray(info["ECG_R_Peaks"])
    else:
        info = nk.ppg_findpeaks(nk.ppg_clean(sig, sampling_rate=fs), sampling_rate=fs)
        peaks = np.asarray(info["PPG_Peaks"])
    if peaks.size < MIN_EVENTS["cardio"]:
        raise _TooFewEvents(f"only {peaks.size} beats detected")
    rate = nk.signal_rate(peaks, sampling_rate=fs, desired_length=sig.size)
    return peaks / fs, np.asarray(rate, dtype=np.float64)


def _scr_rises(phasic: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """Rise (signal units) of each response: its peak minus the lowest phasic value in the
    ``SCR_RISE_TIME`` before it, not reaching back past the previous peak."""
    start = np.maximum(np.concatenate([[0], peaks[:-1]]), peaks - int(round(SCR_RISE_TIME * fs)))
    return np.array([phasic[p] - phasic[a:p + 1].min() for a, p in zip(start, peaks)], dtype=np.float64)


def _zero_crossings(x: np.ndarray) -> int:
    """Sign changes between consecutive samples, as neurokit2's respiration detector counts them."""
    above, below = x > 0, x < 0
    return int(np.count_nonzero(below[:-1] & above[1:]) + np.count_nonzero(above[:-1] & below[1:]))


def _merge_close(troughs: np.ndarray, clean: np.ndarray, min_gap: float) -> np.ndarray:
    """Troughs (samples) at least ``min_gap`` samples apart: of two closer ones, the deeper stays."""
    kept = []
    for t in troughs:
        if kept and t - kept[-1] < min_gap:
            if clean[t] < clean[kept[-1]]:
                kept[-1] = t
        else:
            kept.append(t)
    return np.asarray(kept, dtype=int)


def _resp_rate(nk, sig, fs):
    """Instantaneous breathing rate (breaths/min), shape (n_times,), from the troughs."""
    clean = np.asarray(nk.rsp_clean(sig, sampling_rate=fs), dtype=np.float64)
    # n breaths (n troughs, each followed by a peak) need at least 2 n + 1 zero crossings of
    # the cleaned trace; with too few, neurokit2's extrema search fails with an IndexError.
    n_cross = _zero_crossings(clean)
    if n_cross < 2 * MIN_EVENTS["resp"] + 1:
        raise _TooFewEvents(f"only {n_cross} zero crossings of the cleaned respiration "
                            f"(fewer than {MIN_EVENTS['resp']} breathing cycles)")
    _, info = nk.rsp_peaks(clean, sampling_rate=fs)
    troughs = _merge_close(np.asarray(info["RSP_Troughs"], dtype=int), clean, 60.0 / FASTEST_BREATHING * fs)
    if troughs.size < MIN_EVENTS["resp"]:
        raise _TooFewEvents(f"only {troughs.size} breaths detected")
    return np.asarray(nk.signal_rate(troughs, sampling_rate=fs, desired_length=sig.size), float)


def compute_physio_features(peripheral, eeg_sfreq: float, n_times, window: int, stride: int,
                            context: float = 10.0):
    """Physiological features of every EEG window.

    Parameters
    ----------
    peripheral : dict of str -> Peripheral
        The recording's peripheral signals (``Recording.peripheral``).
    eeg_sfreq : float
        EEG sampling rate in Hz (windows are given in EEG samples).
    n_times : ndarray of int, shape (n_trials,)
        EEG samples per trial.
    window, stride : int
        Window length and step in EEG samples.
    context : float
        Length in seconds of the span, centred on each window, for ``hrv_rmssd`` and
        ``scr_count`` (never shorter than the window itself).

    Returns
    -------
    values : ndarray, shape (n_trials, max_n_windows, n_features), float32
        NaN for windows beyond a trial's end, for trials too short to hold the events a
        modality's rate needs (logged at INFO) and for trials whose detection failed (one
        ``RuntimeWarning`` per call); see the module's documentation.
    names : tuple of str, length n_features
    units : tuple of str, length n_features
    """
    names = physio_feature_names(peripheral)
    n_times = np.asarray(n_times, dtype=int)
    nws = np.where(n_times >= window, (n_times - window) // stride + 1, 0)
    values = np.full((n_times.size, int(nws.max(initial=0)), len(names)), np.nan, np.float32)
    units = [PHYSIO_FEATURES[n] for n in names]
    if not names:
        return values, names, tuple(units)
    import neurokit2 as nk

    col = {n: i for i, n in enumerate(names)}
    ck, gk, rk = _cardio_key(peripheral), _key_of_kind(peripheral, "gsr"), _key_of_kind(peripheral, "resp")
    if gk and peripheral[gk].unit not in _RESISTANCE and peripheral[gk].unit not in _TO_MICROSIEMENS:
        units[col["gsr_tonic"]] = peripheral[gk].unit
    failed, short = [], []
    for i, nw in enumerate(nws):
        if nw == 0:
            continue
        spans = _window_spans(nw, n_times[i], eeg_sfreq, window, stride, context)
        row = values[i, :nw]  # a view: the steps below write into values
        for key, step, modality in ((ck, _cardio_windows, "cardio"), (gk, _gsr_windows, None),
                                    (rk, _resp_windows, "resp")):
            if not key:
                continue
            p = peripheral[key]
            try:
                step(nk, p, i, spans, row, col)
            except Exception as err:  # noqa: BLE001  (a detector failing on one trial)
                # too few events in a trial too short to hold them is expected
                too_short = modality is not None and np.shape(p.data[i])[-1] / p.sfreq < _min_span(modality)
                (short if isinstance(err, _TooFewEvents) and too_short else failed).append((key, i, err))
    _report_failures(short, failed)
    return values, names, tuple(units)


def _window_spans(nw: int, n_times: int, eeg_sfreq: float, window: int, stride: int, context: float) -> tuple:
    """``(t0, t1, c0, c1)``, each (nw,) seconds: every window's start and end, and its context span (``context``
    seconds centred on the window, at least the window, clipped to the trial's ``n_times`` EEG samples)."""
    t0 = np.arange(nw) * stride / eeg_sfreq
    t1 = t0 + window / eeg_sfreq
    half = max(context, window / eeg_sfreq) / 2
    dur = n_times / eeg_sfreq
    c0 = np.clip((t0 + t1) / 2 - half, 0, dur)
    c1 = np.clip((t0 + t1) / 2 + half, 0, dur)
    return t0, t1, c0, c1


def _samples(t0: np.ndarray, t1: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and ends in samples at ``fs`` Hz."""
    return np.round(t0 * fs).astype(int), np.round(t1 * fs).astype(int)


def _cardio_windows(nk, p, i: int, spans: tuple, row: np.ndarray, col: dict) -> None:
    """``hr`` (window mean) and ``hrv_rmssd`` (context span, ms) of trial ``i`` into ``row`` (nw, n_features)."""
    t0, t1, c0, c1 = spans
    beats, rate = _cardio(nk, _trial(p, i), p.sfreq, p.kind)
    row[:, col["hr"]] = _span_mean(rate, *_samples(t0, t1, p.sfreq))
    rr = np.diff(beats)
    d2 = np.diff(rr) ** 2  # successive differences, at the time of beats[2:]
    cs = np.concatenate([[0.0], np.cumsum(d2)])
    a = np.searchsorted(beats[2:], c0, side="left")
    b = np.searchsorted(beats[2:], c1, side="right")
    with np.errstate(invalid="ignore", divide="ignore"):
        rmssd = np.sqrt((cs[b] - cs[a]) / np.maximum(b - a, 1)) * 1e3
    row[:, col["hrv_rmssd"]] = np.where(b - a >= 2, rmssd, np.nan)


def _gsr_windows(nk, p, i: int, spans: tuple, row: np.ndarray, col: dict) -> None:
    """``gsr_tonic`` (window mean) and ``scr_count`` (responses in the context span) of trial ``i`` into ``row``."""
    t0, t1, c0, c1 = spans
    sig = _conductance(_trial(p, i), p.unit)
    if not np.isfinite(sig).all():
        raise ValueError("non-positive skin resistance")
    clean = nk.eda_clean(sig, sampling_rate=p.sfreq)
    parts = nk.eda_phasic(clean, sampling_rate=p.sfreq, method="highpass")
    tonic = np.asarray(parts["EDA_Tonic"], dtype=np.float64)
    row[:, col["gsr_tonic"]] = _span_mean(tonic, *_samples(t0, t1, p.sfreq))
    phasic = np.asarray(parts["EDA_Phasic"], dtype=np.float64)
    peaks = np.empty(0)
    if signal.find_peaks(phasic)[0].size:  # neurokit2 fails on a peakless trace
        with warnings.catch_warnings():
            # eda_peaks takes nanmin over the onsets, all NaN when every
            # response began before the trial; its peaks are still right.
            warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
            _, info = nk.eda_peaks(phasic, sampling_rate=p.sfreq)
        peaks = np.sort(np.asarray(info["SCR_Peaks"], dtype=int))
        if p.unit in _RESISTANCE or p.unit in _TO_MICROSIEMENS:
            peaks = peaks[_scr_rises(phasic, peaks, p.sfreq) >= MIN_SCR_AMPLITUDE]
        peaks = peaks / p.sfreq
    row[:, col["scr_count"]] = np.searchsorted(peaks, c1, side="right") - np.searchsorted(peaks, c0, side="left")


def _resp_windows(nk, p, i: int, spans: tuple, row: np.ndarray, col: dict) -> None:
    """``resp_rate`` (window mean, breaths per minute) of trial ``i`` into ``row``."""
    t0, t1, _, _ = spans
    rate = _resp_rate(nk, _trial(p, i), p.sfreq)
    row[:, col["resp_rate"]] = _span_mean(rate, *_samples(t0, t1, p.sfreq))


def _report_failures(short: list, failed: list) -> None:
    """Log (INFO) the trials too short for a rate; warn once about detections that failed."""
    if short:
        key, i, err = short[0]
        logger.info(
            "%d (signal, trial) pairs are too short for a rate (fewer than %s beats at %g /min "
            "or %s breaths at %g /min); their features are NaN (first: %r trial %d: %s)",
            len(short), MIN_EVENTS["cardio"], SLOWEST_RATE["cardio"], MIN_EVENTS["resp"],
            SLOWEST_RATE["resp"], key, i, err,
        )
    if failed:
        key, i, err = failed[0]
        warnings.warn(
            f"physiological feature detection failed for {len(failed)} (signal, trial) pairs; "
            f"their features are NaN (first: {key!r} trial {i}: {err})", RuntimeWarning, stacklevel=3,
        )
