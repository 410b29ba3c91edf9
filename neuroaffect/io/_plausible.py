"""Plausibility checks the EEG readers run on every signal they return.

A finite sample can still be garbage: a corrupted value (1e300), a wrong gain or unit in a header
(channels of hundreds of volts), or a dead, all-zero channel. Each would pass into the features as
NaN or as an all-zero file without a word, so the readers refuse them here, naming the file, the
trial and the channel. The bounds are far outside anything the amplifiers can record, so that
real recordings with artifacts pass; they and their reasons are listed in ``docs/formats.md``
("Plausibility").
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Sequence

import numpy as np

from .._utils import DatasetFormatError

__all__ = ["BAD_SAMPLES", "CUSTOM_EEG_LIMIT_UV", "EEG_LIMIT_UV", "OTHER_UNIT_LIMIT", "UNIT_LIMIT", "check_plausible",
           "find_implausible", "repair_implausible", "unit_limit"]

#: Largest plausible |EEG sample| per dataset, in microvolts, as the file stores it.
#: DEAP is band-passed (4-45 Hz) and DREAMER's Emotiv spans 8.4 mV with its DC level: 10 mV.
#: SEED and SEED-IV are low-passed only (0-75 Hz), so they may keep electrode offsets: 100 mV.
#: MAHNOB-HCI is BioSemi's raw, DC-coupled output, whose input range is +-262 mV: 300 mV.
EEG_LIMIT_UV = MappingProxyType({
    "deap": 1e4, "dreamer": 1e4, "seed": 1e5, "seed-iv": 1e5, "mahnob": 3e5,
})
#: Largest plausible |sample| of a peripheral channel per unit. Voltages: 1 V, beyond every
#: biosignal amplifier's input range. Other units (Ohm, degC, a.u.) differ by device, so their bound
#: only catches corrupted values and broken gains.
#: A user's own recording (:func:`neuroaffect.io.read_custom`): any amplifier, DC-coupled ones
#: included, so the widest bound of the datasets above that still catches corrupted values: 300 mV.
CUSTOM_EEG_LIMIT_UV = 3e5
#: What a reader may do with samples beyond the plausible range: refuse the recording, repair
#: (interpolate) the samples, or drop the trials holding them.
BAD_SAMPLES = ("refuse", "repair", "drop")
UNIT_LIMIT = MappingProxyType({"uV": 1e6, "mV": 1e3, "V": 1.0})
OTHER_UNIT_LIMIT = 1e9


def unit_limit(unit: str) -> float:
    """Largest plausible |sample| of a peripheral channel stored in ``unit``."""
    return UNIT_LIMIT.get(unit, OTHER_UNIT_LIMIT)


def _label(trial_labels, i: int) -> str:
    return str(trial_labels[i]) if trial_labels is not None else f"trial {i + 1}"


def check_plausible(x: np.ndarray, limit: float, unit: str, what: str, ch_names: Sequence[str], fname,
                    trial_labels: Sequence[str] | None = None, *, flat: bool = True) -> None:
    """Refuse a sample beyond ``limit`` and (``flat=True``) a channel constant throughout a trial.

    Parameters
    ----------
    x : ndarray, shape (n_trials, n_chans, n_times) | (n_chans, n_times)
        Finite samples in ``unit`` (one trial when 2-D).
    limit : float
        Largest plausible |sample|, in ``unit``.
    unit : str
        Unit of ``x`` and ``limit`` (for the message).
    what : str
        What ``x`` holds (e.g. ``"EEG"``).
    ch_names : sequence of str, length n_chans
    fname : path-like
        The file ``x`` was read from.
    trial_labels : sequence of str | None
        Name of each trial in messages (default ``"trial <i + 1>"``; a 2-D ``x`` without labels is
        "the recording").
    flat : bool
        Also refuse a channel holding one value throughout a trial (a dead or zeroed channel);
        a trial of fewer than two samples is never flat.

    Raises
    ------
    DatasetFormatError
        Naming the file, the trial, the channel and the value.
    """
    x = np.asarray(x)
    x3 = x[None] if x.ndim == 2 else x
    if x3.shape[-1] == 0:
        return
    hi, lo = x3.max(axis=-1), x3.min(axis=-1)  # (n_trials, n_chans)

    def where(t):
        return _label(trial_labels, t) if x.ndim == 3 or trial_labels is not None else "the recording"

    peak = np.maximum(hi, -lo)
    bad = peak > limit
    if bad.any():
        t, c = (int(i) for i in np.argwhere(bad)[0])
        raise DatasetFormatError(
            fname, f"{what} samples within +-{limit:g} {unit} (the plausible range, docs/formats.md)",
            f"{peak[t, c]:.4g} {unit} in channel {ch_names[c]!r}, {where(t)} "
            f"({int(bad.sum())} channel-trial(s) beyond the range)",
        )
    if flat and x3.shape[-1] > 1:
        const = hi == lo
        if const.any():
            t, c = (int(i) for i in np.argwhere(const)[0])
            raise DatasetFormatError(
                fname, f"{what} channels that vary within each trial",
                f"channel {ch_names[c]!r} constant at {float(hi[t, c]):g} {unit} throughout {where(t)} "
                f"({int(const.sum())} flat channel-trial(s))",
            )


def find_implausible(x: np.ndarray, limit: float) -> np.ndarray:
    """Indices of the samples beyond ``limit``: ndarray of int, shape (n_bad, x.ndim)."""
    return np.argwhere(np.abs(np.asarray(x)) > limit)


def repair_implausible(x: np.ndarray, limit: float, ch_names: Sequence[str], fname,
                       max_fraction: float = 0.01) -> tuple[np.ndarray, list[dict]]:
    """Replace isolated samples beyond ``limit`` by linear interpolation between their neighbours.

    Each channel's implausible samples are replaced by ``numpy.interp`` over that channel's
    plausible samples (the nearest plausible sample at an edge). Meant for isolated spikes
    (a corrupted sample, a transmission glitch): a channel with more than ``max_fraction`` of its
    samples beyond the range is refused, as interpolation would invent the signal.

    Parameters
    ----------
    x : ndarray, shape (n_chans, n_times)
        Finite samples of one continuous recording (any unit, that of ``limit``).
    limit : float
        Largest plausible |sample|.
    ch_names : sequence of str, length n_chans
    fname : path-like
        The file ``x`` was read from (messages and the record).
    max_fraction : float
        Largest fraction of a channel's samples that may be repaired.

    Returns
    -------
    repaired : ndarray, shape (n_chans, n_times)
        A copy of ``x`` with the samples replaced.
    changes : list of dict
        One per replaced sample: ``file``, ``channel``, ``sample`` (0-based index), ``value``
        (as recorded) and ``replacement``.

    Raises
    ------
    DatasetFormatError
        A channel has too many implausible samples (or none plausible) to repair.
    """
    x = np.array(x, dtype=np.float64)
    changes = []
    n_times = x.shape[-1]
    for c in range(x.shape[0]):
        bad = np.abs(x[c]) > limit
        n_bad = int(bad.sum())
        if not n_bad:
            continue
        if n_bad > max_fraction * n_times:
            raise DatasetFormatError(
                fname, f"isolated samples beyond +-{limit:g} to repair (at most {max_fraction:.0%} of a channel)",
                f"{n_bad} of {n_times} samples of channel {ch_names[c]!r} beyond the range: not spikes but a "
                "broken channel (drop it, or mark it bad)")
        good = np.flatnonzero(~bad)
        idx = np.flatnonzero(bad)
        old = x[c, idx].copy()
        x[c, idx] = np.interp(idx, good, x[c, good])
        changes += [{"file": str(fname), "channel": str(ch_names[c]), "sample": int(i), "value": float(v),
                     "replacement": float(r)} for i, v, r in zip(idx, old, x[c, idx])]
    return x, changes
