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

__all__ = ["EEG_LIMIT_UV", "OTHER_UNIT_LIMIT", "UNIT_LIMIT", "check_plausible", "unit_limit"]

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
