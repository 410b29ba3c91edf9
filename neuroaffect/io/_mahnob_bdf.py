"""One MAHNOB-HCI session's BDF: checked header, MNE read, Status events, clip and plausibility checks.

Layout and the reader's choices: ``docs/formats.md`` (MAHNOB-HCI section) and
:mod:`neuroaffect.io.mahnob`.
"""

from __future__ import annotations

import numpy as np

from .._utils import DatasetFormatError, check_sfreq
from ..channels import MAHNOB_EEG_CH_NAMES, MAHNOB_SFREQ
from ._bdf import read_bdf_header
from ._plausible import EEG_LIMIT_UV, check_plausible, unit_limit

__all__ = ["BASELINE_S", "CUT_LEN_TOL_S", "MIN_CLIP_S", "STATUS_MASK", "read_session_bdf"]

BASELINE_S = 30.0
STATUS_MASK = 0xFFFF
# (key, kind, channel names) of the peripheral signals read.
_PERIPHERAL = (
    ("ecg", "ecg", ("EXG1", "EXG2", "EXG3")),
    ("gsr", "gsr", ("GSR1",)),
    ("resp", "resp", ("Resp",)),
    ("temp", "temp", ("Temp",)),
)
_MICRO = ("uV", "\u00b5V", "\u03bcV")
_VOLTS = (*_MICRO, "mV", "V")
#: Shortest clip accepted between the onset and offset events, in seconds (real clips: 35-117 s).
MIN_CLIP_S = 1.0
#: Largest difference accepted between the clip the Status events delimit and ``cutLenSec``, in seconds.
CUT_LEN_TOL_S = 1.0


def read_session_bdf(s: dict) -> dict:
    """Read one session's BDF: stimulus and baseline segments (EEG in V, peripheral in file units).

    Parameters
    ----------
    s : dict
        A session as :func:`neuroaffect.io.mahnob.read_session_xml` parses it, plus ``bdf`` and
        ``xml`` (paths) and ``trial`` (the ``Trial<k>`` number).

    Returns
    -------
    session : dict
        ``eeg`` (ndarray, shape (32, n_clip), V), ``eeg_base`` (shape (32, n_base), V), ``onset`` and
        ``offset`` (samples), ``periph`` (dict key -> (clip, baseline, unit), file units).
    """
    import mne

    bdf = s["bdf"]
    hdr = read_bdf_header(bdf)
    needed = list(MAHNOB_EEG_CH_NAMES) + [c for _, _, chs in _PERIPHERAL for c in chs]
    missing = [c for c in needed + ["Status"] if c not in hdr["labels"]]
    if missing:
        raise DatasetFormatError(
            bdf, f"channels named {needed + ['Status']}",
            f"missing channel(s) {missing}; the file has {hdr['labels']}",
        )
    twice = sorted({c for c in needed + ["Status"] if hdr["labels"].count(c) > 1})
    if twice:
        raise DatasetFormatError(bdf, "each channel name once in the BDF header",
                                 f"channel(s) {twice} more than once")
    for ch in needed + ["Status"]:
        check_sfreq(hdr["sfreq"][ch], MAHNOB_SFREQ, f"MAHNOB-HCI channel {ch!r}", bdf)
    _check_units(bdf, hdr)
    try:
        raw = mne.io.read_raw_bdf(bdf, stim_channel="Status", preload=False, verbose="error")
        check_sfreq(raw.info["sfreq"], MAHNOB_SFREQ, "MAHNOB-HCI", bdf)
        events = mne.find_events(raw, stim_channel="Status", mask=STATUS_MASK, mask_type="and",
                                 shortest_event=1, verbose="error")
        data = raw.get_data(picks=needed)
    except DatasetFormatError:
        raise
    except (ValueError, RuntimeError, OSError, UnicodeError) as err:  # left after the header checks
        raise DatasetFormatError(bdf, "a BDF file MNE can read", f"{type(err).__name__}: {err}") from err
    if len(events) < 2:
        raise DatasetFormatError(
            bdf, "at least two Status events (clip onset and offset, mask 0xFFFF)",
            f"{len(events)} event(s)" + (f" at samples {events[:, 0].tolist()}" if len(events) else ""),
        )
    onset, offset = int(events[0, 0] - raw.first_samp), int(events[1, 0] - raw.first_samp)
    _check_clip(s, events[:, 0] - raw.first_samp)
    n_base = min(int(round(BASELINE_S * MAHNOB_SFREQ)), onset)
    bad = ~np.isfinite(data)
    if bad.any():
        ch, t = (int(i) for i in np.argwhere(bad)[0])
        raise DatasetFormatError(bdf, "finite samples",
                                 f"{int(bad.sum())} NaN/Inf (first: {needed[ch]} sample {t})")
    _check_signals(s, hdr, data, needed, onset, offset, n_base)
    scale = np.array([1e-6 if hdr["units"][c] in _MICRO else 1e-3 if hdr["units"][c] == "mV"
                      else 1.0 for c in needed])
    n_eeg = len(MAHNOB_EEG_CH_NAMES)
    out = {"eeg": data[:n_eeg, onset:offset], "eeg_base": data[:n_eeg, :n_base],
           "onset": onset, "offset": offset, "periph": {}}
    row = n_eeg
    for key, _, chs in _PERIPHERAL:
        seg = data[row:row + len(chs)] / scale[row:row + len(chs), None]
        unit = hdr["units"][chs[0]]
        unit = "uV" if unit in _MICRO else (unit or "a.u.")
        out["periph"][key] = (seg[:, onset:offset], seg[:, :n_base], unit)
        row += len(chs)
    return out


def _check_units(bdf, hdr: dict) -> None:
    """EEG channels in a voltage unit; each peripheral signal's leads in one unit."""
    for ch in MAHNOB_EEG_CH_NAMES:
        if hdr["units"][ch] not in _VOLTS:
            raise DatasetFormatError(bdf, f"EEG channel {ch!r} in a voltage unit (uV, mV or V)",
                                     f"physical dimension {hdr['units'][ch]!r}")
    for _, _, chs in _PERIPHERAL:
        units = {hdr["units"][c] for c in chs}
        if len(units) > 1:
            raise DatasetFormatError(bdf, f"one physical dimension for the leads {list(chs)}",
                                     f"{[hdr['units'][c] for c in chs]}")


def _check_clip(s: dict, events: np.ndarray) -> None:
    """The first two Status events delimit a clip of at least MIN_CLIP_S, of ``cutLenSec`` when given."""
    onset, offset = int(events[0]), int(events[1])
    n_clip = offset - onset
    shown = events[:6].tolist()
    if n_clip < MIN_CLIP_S * MAHNOB_SFREQ:
        raise DatasetFormatError(
            s["bdf"], f"a clip of at least {MIN_CLIP_S:g} s ({int(MIN_CLIP_S * MAHNOB_SFREQ)} samples) between "
            "the first two Status events (onset, offset)", f"{n_clip} samples between events at samples {shown}",
        )
    cut = s.get("cut_len_s", np.nan)
    if np.isfinite(cut) and abs(n_clip / MAHNOB_SFREQ - cut) > CUT_LEN_TOL_S:
        raise DatasetFormatError(
            s["bdf"], f"a clip of cutLenSec = {cut:g} s (from {s['xml'].name}, within {CUT_LEN_TOL_S:g} s) "
            "between the first two Status events (a spurious or missing event?)",
            f"{n_clip / MAHNOB_SFREQ:g} s between events at samples {shown}",
        )


def _check_signals(s: dict, hdr: dict, data: np.ndarray, needed: list, onset: int, offset: int,
                   n_base: int) -> None:
    """Amplitude bounds and no flat EEG channel (docs/formats.md, Plausibility); ``data`` as MNE returns it."""
    bdf, n_eeg = s["bdf"], len(MAHNOB_EEG_CH_NAMES)
    trial = [f"trial {s['trial']}"]
    limit_v = EEG_LIMIT_UV["mahnob"] * 1e-6  # MNE returns volts for every voltage unit
    for seg, what in ((data[:n_eeg, onset:offset], "EEG"), (data[:n_eeg, :n_base], "EEG baseline")):
        check_plausible(seg, limit_v, "V", what, MAHNOB_EEG_CH_NAMES, bdf, trial)
    for i, ch in enumerate(needed[n_eeg:], start=n_eeg):
        unit = hdr["units"][ch]
        if unit in _VOLTS:
            limit, unit = unit_limit("V"), "V"
        else:  # MNE leaves other units as stored
            limit = unit_limit(unit)
        check_plausible(data[i:i + 1], limit, unit or "a.u.", ch, [ch], bdf, trial, flat=False)
