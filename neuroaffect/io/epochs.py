"""MNE conversions of a :class:`~neuroaffect.io.base.Recording`.

:func:`recording_to_epochs` (``Recording.to_epochs``) gives ``mne.EpochsArray`` with the baseline as
the ``t < 0`` part, peripheral signals at the EEG rate in MNE's types and units, and labels in
``metadata``; :func:`epochs_fields` reads any ``mne.BaseEpochs`` into the fields of a Recording, which
:func:`neuroaffect.io.from_epochs` (``Recording.from_epochs``) builds. This module never imports
:mod:`neuroaffect.io.base`, so the two do not import each other.
"""

from __future__ import annotations

import logging
import warnings
from fractions import Fraction

import numpy as np

from .._utils import DatasetFormatError, check_finite, check_option
from ..channels import get_positions
from ..labels import LABEL_NAMES, RATING_RANGE, SEED_CLASS_NAMES, SEED_IV_CLASS_NAMES

__all__ = ["epochs_fields", "recording_to_epochs"]

logger = logging.getLogger(__name__)

#: MNE channel type of each peripheral ``kind`` (see :meth:`Recording.to_epochs`).
MNE_CHANNEL_TYPES = {
    "ecg": "ecg", "eog": "eog", "emg": "emg", "gsr": "gsr", "resp": "resp",
    "temp": "temperature", "ppg": "bio",
}
_VOLTS = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "\u00b5V": 1e-6, "\u03bcV": 1e-6, "nV": 1e-9}
_SIEMENS = {"S": 1.0, "mS": 1e-3, "uS": 1e-6, "\u00b5S": 1e-6, "\u03bcS": 1e-6, "nS": 1e-9}
_OHMS = {"Ohm": 1.0, "ohm": 1.0, "kOhm": 1e3, "kohm": 1e3, "MOhm": 1e6, "Mohm": 1e6}
_CELSIUS = ("degC", "deg C", "\u00b0C", "C", "Celsius", "celsius")
# MNE channel type -> (peripheral kind, factor from MNE's unit, unit) for from_epochs.
_FROM_MNE = {
    "ecg": ("ecg", 1e6, "uV"), "eog": ("eog", 1e6, "uV"), "emg": ("emg", 1e6, "uV"),
    "gsr": ("gsr", 1e6, "uS"), "resp": ("resp", 1.0, "a.u."), "temperature": ("temp", 1.0, "degC"),
}
# Names of bio / misc channels taken for a plethysmograph by from_epochs.
_PPG_NAMES = ("pleth", "ppg", "bvp", "pulse")


def recording_to_epochs(rec, crop: bool = False, *, baseline: bool = True, peripheral: bool = True,
                    event_label: str | None = None, verbose=False):
    """Convert to ``mne.EpochsArray``: baseline, peripheral channels, labels in ``metadata``.

    Parameters
    ----------
    crop : bool
        When trial (or baseline) lengths differ, crop every trial to the shortest one
        (the stimulus keeps its first samples, the baseline its last ones, those next to
        the stimulus); how much was dropped is logged at INFO. Without it, unequal
        lengths raise ``ValueError`` (convert trial by trial instead with
        ``rec.select([i]).to_epochs()``). SEED, DREAMER and MAHNOB clips differ in length.
    baseline : bool
        Put the recording's pre-stimulus baseline (``Recording.baseline``) before the
        stimulus, as the ``t < 0`` part of each epoch (``tmin = -n_base / sfreq``;
        ``t >= 0`` is the stimulus). For DREAMER (a separate neutral clip) and MAHNOB (the
        first 30 s of the file) the baseline was not recorded right before the stimulus;
        it is still placed at ``t < 0``. Without a baseline, or with ``baseline=False``,
        epochs start at ``t = 0``.
    peripheral : bool
        Add the peripheral signals as channels at the EEG rate (resampled with
        ``scipy.signal.resample_poly``, ``padtype="line"``, where their rate differs;
        aligned at the segment start and cropped or edge-padded to the EEG segment's
        length, as DREAMER's ECG is only about twice as long), in MNE's units: ``ecg``,
        ``eog``, ``emg`` in V (type ``ecg``/``eog``/``emg``); ``gsr`` in S (type ``gsr``;
        a resistance is converted to its conductance); ``resp`` (type ``resp``, in V when
        stored in volts, else as stored); ``temp`` in degC (type ``temperature``); ``ppg``
        (type ``bio``, as stored). A signal whose unit does not fit its type (e.g. an
        ``"a.u."`` ECG, a non-positive skin resistance) becomes a ``misc`` channel holding
        the stored values. A signal without a baseline is left out (with a warning) when
        the epochs hold one.
    event_label : str | None
        Label whose values name the events: ``"<label>/<value>"`` (``"valence/3"``;
        SEED / SEED-IV class names, e.g. ``"emotion/positive"``; ``"<label>/unlabeled"``
        for NaN), codes 1..K in increasing value. None: ``"emotion"`` for SEED / SEED-IV,
        else every event is named ``"trial"``. Either way ``epochs.metadata`` holds
        every label, so ``epochs["valence > 5"]`` selects by rating.
    verbose : bool | str | None
        MNE verbosity.

    Returns
    -------
    epochs : mne.EpochsArray
        ``n_trials`` epochs of the EEG (V, montage set) then the peripheral channels;
        ``metadata`` (pandas.DataFrame, one row per trial): ``subject``, ``session``,
        ``trial`` (``session_ids`` / ``trial_ids``) and every label, raw (class labels,
        ``Recording.label_classes``, as categories named by their classes).

    Raises
    ------
    ValueError
        Unequal trial or baseline lengths without ``crop``; an unknown ``event_label``.
    """
    import mne
    import pandas as pd

    n, n_base, base_len = _epoch_lengths(rec, crop, baseline)
    blocks = [np.stack([_join(rec.eeg[i], None if not n_base else rec.baseline[i], n, n_base)
                        for i in range(rec.n_trials)])]
    names, types = list(rec.ch_names), ["eeg"] * rec.n_chans
    if peripheral:
        _add_peripheral(rec, n, n_base, base_len, blocks, names, types)
    data = np.concatenate(blocks, axis=1)

    info = mne.create_info(names, rec.sfreq, types)
    info.set_montage(rec.get_montage())
    events, event_id = _events(rec, event_label, n, n_base)
    return mne.EpochsArray(
        data, info, events=events, tmin=-n_base / rec.sfreq, event_id=event_id,
        metadata=pd.DataFrame(_epochs_metadata(rec)), verbose=verbose,
    )


def _epoch_lengths(rec, crop: bool, baseline: bool) -> tuple:
    """Stimulus samples ``n``, baseline samples ``n_base`` and the baselines' own lengths (or None) of the epochs.

    Unequal lengths are cropped to the shortest (logged at INFO) with ``crop``, else refused with ``ValueError``.
    """
    n_times = rec.n_times
    where = f"{rec.dataset} subject {rec.subject}"
    if len(set(n_times.tolist())) > 1 and not crop:
        raise ValueError(
            f"{where}: trials have different lengths ({n_times.min()}..{n_times.max()} "
            "samples), which one EpochsArray cannot hold. Pass crop=True to crop every trial "
            "to the shortest one, or convert trial by trial with rec.select([i]).to_epochs()."
        )
    n = int(n_times.min())
    n_base, base_len = 0, None
    if baseline and rec.baseline is not None:
        base_len = np.array([np.shape(b)[-1] for b in rec.baseline], dtype=int)
        if len(set(base_len.tolist())) > 1 and not crop:
            raise ValueError(
                f"{where}: baselines have different lengths ({base_len.min()}.."
                f"{base_len.max()} samples). Pass crop=True to keep the last "
                f"{base_len.min()} samples of each, or baseline=False to leave them out."
            )
        n_base = int(base_len.min())
    if crop and (n_times.max() > n or (base_len is not None and base_len.max() > n_base)):
        logger.info("%s: trials cropped to %d samples (from up to %d)%s", where, n,
                    n_times.max(), "" if base_len is None else
                    f", baselines to {n_base} (from up to {base_len.max()})")
    return n, n_base, base_len


def _join(stim, base, n: int, n_base: int) -> np.ndarray:
    """(n_chans, n_base + n) of one trial: the last ``n_base`` baseline samples, the first ``n`` stimulus ones."""
    stim = np.asarray(stim)[:, :n]
    return stim if not n_base else np.concatenate([np.asarray(base)[:, -n_base:], stim], 1)


def _add_peripheral(rec, n: int, n_base: int, base_len, blocks: list, names: list, types: list) -> None:
    """Append each peripheral signal's epochs (EEG rate, MNE units) to ``blocks``, its leads to ``names``/``types``."""
    n_times = rec.n_times
    for key, p in rec.peripheral.items():
        if n_base and p.baseline is None:
            warnings.warn(f"{rec.dataset} subject {rec.subject}: peripheral signal {key!r} has no baseline; it is "
                          "left out of the epochs, which start with the EEG baseline",
                          RuntimeWarning, stacklevel=4)
            continue
        trials = []
        for i in range(rec.n_trials):
            stim = _resample_to(p.data[i], p.sfreq, rec.sfreq, int(n_times[i]))
            base = None if not n_base else _resample_to(
                p.baseline[i], p.sfreq, rec.sfreq, int(base_len[i]))
            trials.append(_join(stim, base, n, n_base))
        ch_type, values = _to_mne_units(p, np.stack(trials))
        blocks.append(values)
        for lead in p.ch_names or [f"{key}{j + 1}" for j in range(blocks[-1].shape[1])]:
            names.append(lead if lead not in names else f"{key} {lead}")
            types.append(ch_type)


def _epochs_metadata(rec) -> dict:
    """Columns of ``epochs.metadata``: subject, session, trial and every label (class labels as categories)."""
    import pandas as pd

    meta = {"subject": np.full(rec.n_trials, int(rec.subject)),
            "session": rec.session_ids, "trial": rec.trial_ids}
    meta.update({k: np.asarray(v, dtype=np.float64) for k, v in rec.labels.items()})
    for k, names in rec.label_classes.items():  # class labels by name, so that from_epochs keeps them
        meta[k] = pd.Categorical([None if np.isnan(c) else names[int(c)] for c in meta[k]], categories=names)
    return meta


def _events(rec, event_label, n: int, n_base: int) -> tuple[np.ndarray, dict]:
    """MNE events (n_trials, 3) at each stimulus onset and their ``event_id`` (codes 1..K in increasing value)."""
    label = _event_label(rec, event_label)
    event_names = _event_names(rec, label)
    value = {}  # event name -> label value, to number the events in increasing value
    for name, v in zip(event_names, rec.labels[label] if label else np.zeros(rec.n_trials)):
        value.setdefault(name, float(v))
    order = sorted(value, key=lambda e: (np.isnan(value[e]), np.nan_to_num(value[e])))
    event_id = {e: code for code, e in enumerate(order, start=1)}
    events = np.column_stack([
        np.arange(rec.n_trials) * (n_base + n) + n_base, np.zeros(rec.n_trials, int),
        [event_id[e] for e in event_names],
    ]).astype(int)
    return events, event_id


def _event_label(rec, event_label) -> str | None:
    """The label naming the events (see :meth:`to_epochs`), or None for ``"trial"``."""
    if event_label is None:
        return "emotion" if rec.dataset in ("seed", "seed-iv") and "emotion" in rec.labels else None
    return check_option("event_label", event_label, list(rec.labels))

def _event_names(rec, label: str | None) -> list[str]:
    """Event name of every trial, from the values of ``label``."""
    if label is None:
        return ["trial"] * rec.n_trials
    classes = {"seed": SEED_CLASS_NAMES, "seed-iv": SEED_IV_CLASS_NAMES}.get(rec.dataset)
    lo = -1 if rec.dataset == "seed" else 0
    out = []
    for v in np.asarray(rec.labels[label], dtype=np.float64):
        if np.isnan(v):
            out.append(f"{label}/unlabeled")
        elif label == "emotion" and classes is not None and v == int(v) and 0 <= v - lo < len(classes):
            out.append(f"{label}/{classes[int(v) - lo]}")
        else:
            out.append(f"{label}/{v:g}")
    return out


# --------------------------------------------------------------------------------------------
# MNE conversions
# --------------------------------------------------------------------------------------------
def _resample_to(x, sfreq_from: float, sfreq_to: float, n: int) -> np.ndarray:
    """``x`` (..., n_times) at ``sfreq_to`` Hz, cropped or edge-padded to ``n`` samples."""
    from scipy.signal import resample_poly

    x = np.asarray(x, dtype=np.float64)
    if sfreq_from != sfreq_to:
        ratio = Fraction(sfreq_to / sfreq_from).limit_denominator(1000)
        x = resample_poly(x, ratio.numerator, ratio.denominator, axis=-1, padtype="line")
    if x.shape[-1] >= n:
        return x[..., :n]
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])], mode="edge")


def _to_mne_units(p, x: np.ndarray) -> tuple[str, np.ndarray]:
    """(MNE channel type, ``x`` in that type's unit) for values of ``p`` (see ``to_epochs``)."""
    ch_type = MNE_CHANNEL_TYPES.get(p.kind, "misc")
    if ch_type in ("ecg", "eog", "emg"):
        return (ch_type, x * _VOLTS[p.unit]) if p.unit in _VOLTS else ("misc", x)
    if ch_type == "gsr":
        if p.unit in _SIEMENS:
            return "gsr", x * _SIEMENS[p.unit]
        if p.unit in _OHMS and (x > 0).all():
            return "gsr", 1.0 / (x * _OHMS[p.unit])
        return "misc", x
    if ch_type in ("resp", "bio"):
        return ch_type, x * _VOLTS[p.unit] if p.unit in _VOLTS else x
    if ch_type == "temperature":
        return ("temperature", x) if p.unit in _CELSIUS else ("misc", x)
    return "misc", x


def _bad_param(name: str, expected: str, got) -> ValueError:
    return ValueError(
        f"Invalid value for the {name!r} parameter. Expected {expected}, but got {got} instead."
    )


def _baseline_mask(baseline, times: np.ndarray, sfreq: float) -> np.ndarray | None:
    """Samples of the baseline interval ``(a, b)`` in seconds (inclusive; None = epoch edge)."""
    half = 0.5 / sfreq
    try:
        a, b = baseline
        a = times[0] if a is None else float(a)
        b = times[-1] if b is None else float(b)
    except (TypeError, ValueError):
        raise _bad_param("baseline", "None, False, (tmin, tmax) in seconds or an array of "
                         "shape (n_epochs, n_eeg, n_times)", repr(baseline)) from None
    if not (times[0] - half <= a <= b <= times[-1] + half):
        raise _bad_param(
            "baseline", f"an interval (tmin, tmax) with tmin <= tmax inside the epochs' "
            f"[{times[0]:g}, {times[-1]:g}] s", repr(baseline),
        )
    return (times >= a - half) & (times <= b + half)


def _metadata_ids(md, column: str, n: int) -> np.ndarray | None:
    """Integer ids from a numeric metadata column, or None when it is absent or not integral."""
    import pandas as pd

    if md is None or column not in md.columns or not pd.api.types.is_numeric_dtype(md[column]):
        return None
    v = md[column].to_numpy(dtype=np.float64)
    if v.shape != (n,) or not np.isfinite(v).all() or (v != np.round(v)).any():
        return None
    return v.astype(int)


def epochs_fields(epochs, dataset: str = "unknown", subject: int | None = None,
                  baseline=None, *, ratings=None, classes=None) -> dict:
    """The fields of a :class:`~neuroaffect.io.Recording` read from ``mne.Epochs``
    (:func:`neuroaffect.io.from_epochs` builds the recording; every parameter is described there).

    ``peripheral`` maps each kind to the fields of a :class:`~neuroaffect.io.Peripheral`.
    """
    import mne

    if not isinstance(epochs, mne.BaseEpochs):
        raise _bad_param("epochs", "an instance of mne.BaseEpochs (e.g. mne.EpochsArray)",
                         f"an instance of {type(epochs).__name__}")
    if not isinstance(dataset, str) or not dataset:
        raise _bad_param("dataset", "a non-empty dataset name", repr(dataset))
    info = epochs.info
    sfreq = float(info["sfreq"])
    eeg_picks = mne.pick_types(info, eeg=True, exclude="bads")
    if not eeg_picks.size:
        raise _bad_param("epochs", "epochs holding at least one EEG channel not marked bad",
                         f"channel types {sorted(set(epochs.get_channel_types()))}")
    ch_names, eeg_picks, notes = _standard_eeg_names(info, eeg_picks)
    times = np.asarray(epochs.times)
    stim = times >= -0.5 / sfreq
    if not stim.any():
        raise _bad_param("epochs", "epochs with samples at t >= 0 (the stimulus part)",
                         f"epochs ending at tmax = {times[-1]:g} s")
    n_epochs = len(epochs)
    base_mask, base_array = _baseline_source(baseline, stim, times, sfreq, n_epochs, len(ch_names))
    subject = _subject_of(subject, epochs.metadata, n_epochs)

    data = epochs.get_data()  # (n_epochs, n_channels, n_times), MNE's units
    eeg = data[:, eeg_picks]
    eeg_base = base_array if base_array is not None else (
        None if base_mask is None else eeg[:, :, base_mask])
    ch_pos = _epochs_positions(info, eeg_picks, ch_names)
    md = epochs.metadata
    labels, label_range, label_classes = _metadata_labels(md, dataset, ratings, classes)
    return dict(
        dataset=dataset, subject=int(subject), eeg=np.ascontiguousarray(eeg[:, :, stim]),
        sfreq=sfreq, ch_names=tuple(ch_names), labels=labels, label_range=label_range,
        label_classes=label_classes,
        baseline=None if eeg_base is None else np.ascontiguousarray(eeg_base),
        peripheral=_epochs_peripheral(epochs, data, stim, base_mask),
        trial_ids=_metadata_ids(md, "trial", n_epochs),
        session_ids=_metadata_ids(md, "session", n_epochs),
        ch_pos=ch_pos, info={"channel_notes": notes} if notes else {},
    )


def _baseline_source(baseline, stim: np.ndarray, times: np.ndarray, sfreq: float, n_epochs: int,
                     n_eeg: int) -> tuple:
    """``(base_mask, base_array)`` of :func:`neuroaffect.io.from_epochs`'s ``baseline``: a mask over the epochs'
    times, or the baseline EEG given as an array (n_epochs, n_eeg, n_base) in volts; both None without a baseline."""
    base_mask = base_array = None
    if baseline is None:
        base_mask = ~stim if (~stim).any() else None
    elif baseline is False:
        pass
    elif isinstance(baseline, np.ndarray):
        base_array = np.asarray(baseline, dtype=np.float64)
        if base_array.ndim == 2:
            base_array = np.broadcast_to(base_array, (n_epochs,) + base_array.shape).copy()
        if base_array.ndim != 3 or base_array.shape[:2] != (n_epochs, n_eeg) or \
                base_array.shape[2] < 1:
            raise _bad_param("baseline", f"an array of shape ({n_epochs}, {n_eeg}, n_base) "
                             f"or ({n_eeg}, n_base)", f"shape {np.shape(baseline)}")
        check_finite(base_array, "the baseline array")
    else:
        base_mask = _baseline_mask(baseline, times, sfreq)
    return base_mask, base_array


def _subject_of(subject, md, n_epochs: int) -> int:
    """The 1-based subject number: ``subject``, else a ``subject`` metadata column holding one integer, else 1."""
    if subject is None:
        ids = _metadata_ids(md, "subject", n_epochs)
        subject = int(ids[0]) if ids is not None and len(set(ids.tolist())) == 1 else 1
    if isinstance(subject, bool) or not isinstance(subject, (int, np.integer)) or subject < 1:
        raise _bad_param("subject", "a 1-based integer subject number", repr(subject))
    return subject


def _epochs_peripheral(epochs, data: np.ndarray, stim: np.ndarray, base_mask) -> dict:
    """Peripheral signals of the epochs, one per MNE channel type (see :func:`neuroaffect.io.from_epochs`), in
    this package's units, as the fields of each :class:`~neuroaffect.io.Peripheral`.

    ``data`` is ``epochs.get_data()`` (n_epochs, n_channels, n_times); ``stim`` and ``base_mask`` select the
    stimulus and baseline samples (boolean, n_times).
    """
    info = epochs.info
    sfreq = float(info["sfreq"])
    peripheral = {}
    types = epochs.get_channel_types()
    bads = set(info["bads"])
    for ch_type, (kind, factor, unit) in {**_FROM_MNE, "ppg": ("ppg", 1.0, "a.u.")}.items():
        if ch_type == "ppg":
            picks = [k for k, t in enumerate(types) if t in ("bio", "misc") and any(
                w in info["ch_names"][k].lower() for w in _PPG_NAMES)]
        else:
            picks = [k for k, t in enumerate(types) if t == ch_type]
        picks = [k for k in picks if info["ch_names"][k] not in bads]
        if not picks:
            continue
        x = data[:, picks] * factor
        peripheral[kind] = dict(
            data=np.ascontiguousarray(x[:, :, stim]), sfreq=sfreq, unit=unit, kind=kind,
            ch_names=tuple(info["ch_names"][k] for k in picks),
            baseline=None if base_mask is None else np.ascontiguousarray(x[:, :, base_mask]),
        )
    return peripheral


def _standard_eeg_names(info, picks):
    """(names, picks, notes) of the EEG channels: unlocated names mapped onto 10-05 spellings
    (``"EEG Fp1"`` -> ``Fp1``, ``"Fc5."`` -> ``FC5``), unlocated bipolar / reference channels
    (``"A2-A1"``) left out with a warning."""
    from ..channels import standardise_ch_names

    names = [info["ch_names"][k] for k in picks]
    locs = np.array([info["chs"][k]["loc"][:3] for k in picks], dtype=np.float64).reshape(-1, 3)
    has = np.isfinite(locs).all(axis=1) & (np.abs(locs).sum(axis=1) > 0)
    rename, _ = standardise_ch_names([n for n, h in zip(names, has) if not h])
    keep, out, notes = [], [], []
    for k, name, located in zip(picks, names, has):
        if not located and name not in rename and "-" in name.strip("-"):
            notes.append(f"{name!r}: a bipolar or reference channel without a position; left out of the EEG")
            continue
        keep.append(k)
        out.append(name if located else rename.get(name, name))
    if notes:
        warnings.warn("; ".join(notes), RuntimeWarning, stacklevel=3)
    return out, np.asarray(keep, dtype=int), notes


def _metadata_labels(md, dataset, ratings, classes):
    """``(labels, label_range, label_classes)`` of every label column of ``md`` (see :func:`neuroaffect.io.from_epochs`)."""
    import pandas as pd

    labels, label_range, label_classes = {}, {}, {}
    if md is None:
        return labels, label_range, label_classes
    ratings = dict(ratings or {})
    if classes is None:
        classes = {}
    elif not isinstance(classes, dict):
        classes = {c: None for c in ([classes] if isinstance(classes, str) else classes)}
    absent = [c for c in list(ratings) + list(classes) if c not in md.columns]
    if absent:
        raise _bad_param("ratings' or 'classes", f"metadata columns of the epochs ({list(md.columns)})",
                         f"{absent}")
    known = set(LABEL_NAMES.get(dataset, ()))
    ranges = dict(RATING_RANGE)
    ranges.update({"seed": (-1.0, 1.0), "seed-iv": (0.0, 3.0)})
    for name in md.columns:
        if name in ("subject", "session", "trial"):
            continue
        col = md[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if name in ratings:
            v = pd.to_numeric(col, errors="coerce")
            if (col.notna() & v.isna()).any():
                raise _bad_param("ratings", f"numeric ratings in metadata column {name!r}",
                                 f"values such as {col[col.notna() & v.isna()].iloc[0]!r}")
            labels[name] = v.to_numpy(dtype=np.float64)
            label_range[name] = tuple(float(x) for x in ratings[name])
        elif name in classes or not numeric:
            known_v = col[col.notna()]
            order = classes.get(name)
            if order is None and isinstance(col.dtype, pd.CategoricalDtype):
                order = list(col.cat.categories)
            if order is None:
                order = sorted(set(known_v.tolist()), key=lambda u: (str(type(u)), u))
            names = [f"{u:g}" if isinstance(u, (float, np.floating)) else str(u) for u in order]
            lookup = {u: k for k, u in enumerate(order)}
            lookup.update({n: k for k, n in enumerate(names)})
            codes = np.full(len(col), np.nan)
            for i, u in zip(np.flatnonzero(col.notna().to_numpy()), known_v):
                key = u if u in lookup else str(u)
                if key not in lookup:
                    raise _bad_param("classes", f"classes {names} in metadata column {name!r}", repr(u))
                codes[i] = lookup[key]
            labels[name] = codes
            label_classes[name] = tuple(names)
        else:
            labels[name] = col.to_numpy(dtype=np.float64)
            if name in known and dataset in ranges:
                label_range[name] = ranges[dataset]
    return labels, label_range, label_classes


def _epochs_positions(info, picks, ch_names) -> np.ndarray | None:
    """Head-frame positions of the picked channels from their locations (montage), or None.

    Channels without a location take the 10-05 template position of their name; None when
    no channel has a location (the names alone then give the positions).
    """
    locs = np.array([info["chs"][k]["loc"][:3] for k in picks], dtype=np.float64)
    has = np.isfinite(locs).all(axis=1) & (np.abs(locs).sum(axis=1) > 0)
    missing = [n for n, h in zip(ch_names, has) if not h]
    try:
        template = get_positions(missing) if missing else np.empty((0, 3))
    except DatasetFormatError as err:
        raise _bad_param(
            "epochs", "EEG channels with positions (a montage, e.g. "
            "epochs.set_montage('standard_1005'), or channel names of the 10-05 system)",
            f"channels without a position: {err.found}",
        ) from None
    if not has.any():
        return None
    locs[~has] = template
    return locs
