"""The one result type every reader returns: :class:`Recording`.

Its MNE conversions (:meth:`Recording.to_epochs`, :meth:`Recording.from_epochs`) live in
:mod:`neuroaffect.io.epochs`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .._utils import DatasetFormatError, check_finite
from ..channels import get_positions

__all__ = ["Peripheral", "Recording", "from_epochs"]

logger = logging.getLogger(__name__)

@dataclass
class Peripheral:
    """One peripheral signal of a recording, at its own sampling rate.

    Attributes
    ----------
    data : ndarray, shape (n_trials, n_leads, n_times) | list of ndarray, shape (n_leads, n_times_i)
        Signal per trial (a list when trial lengths differ).
    sfreq : float
        Sampling rate in Hz.
    unit : str
        Physical unit of ``data`` (e.g. ``"uV"``, ``"Ohm"``, ``"degC"``, ``"a.u."``).
    kind : str
        One of ``"ecg"``, ``"ppg"``, ``"gsr"``, ``"resp"``, ``"temp"``, ``"eog"``, ``"emg"``.
    ch_names : tuple of str
        Lead names, length n_leads.
    baseline : ndarray | list | None
        Pre-stimulus segment per trial, same layout as ``data``.
    """

    data: np.ndarray | list
    sfreq: float
    unit: str
    kind: str
    ch_names: tuple = ()
    baseline: np.ndarray | list | None = None


@dataclass
class Recording:
    """EEG (and peripheral signals) of one subject, as read from a dataset's files.

    Attributes
    ----------
    dataset : str
        ``"deap"``, ``"dreamer"``, ``"seed"``, ``"seed-iv"``, ``"mahnob"``, or ``"custom"`` (a
        user's own recording, :func:`neuroaffect.io.read_custom`) or any other name.
    subject : int
        1-based subject number.
    eeg : ndarray, shape (n_trials, n_chans, n_times) | list of ndarray, shape (n_chans, n_times_i)
        Stimulus-period EEG in volts. A list when trial lengths differ.
    sfreq : float
        EEG sampling rate in Hz, checked against the dataset's documented rate.
    ch_names : tuple of str, length n_chans
        EEG channel names as the dataset spells them.
    labels : dict of str -> ndarray, shape (n_trials,)
        Ratings or class codes per trial, in the dataset's own scale (float; NaN = unlabeled).
    label_range : dict of str -> (float, float)
        Inclusive range of each entry of ``labels`` (for classes: min and max code).
    baseline : ndarray, shape (n_trials, n_chans, n_base) | list | None
        Pre-stimulus EEG in volts (DEAP 3 s, DREAMER 61 s, MAHNOB first 30 s), or None.
    peripheral : dict of str -> Peripheral
        Peripheral signals keyed by name (``"gsr"``, ``"ecg"``, ...); absent ones are absent.
    trial_ids : ndarray of int, shape (n_trials,)
        Trial number within its session as the dataset numbers it (1-based).
    session_ids : ndarray of int, shape (n_trials,)
        Session number (1-based) of each trial.
    fnames : list of Path
        Every file the recording was read from (for provenance hashes).
    info : dict
        Dataset-specific metadata (age, gender, experiment ids, ...).
    ch_pos : ndarray, shape (n_chans, 3) | None
        Electrode positions in metres (MNE head frame) when they do not come from the channel
        names (e.g. a montage of :func:`from_epochs`); None = the 10-05 template position of
        each name (:func:`neuroaffect.channels.get_positions`).
    label_classes : dict of str -> tuple of str
        Class labels: ``{name: class names}``; ``labels[name]`` then holds codes ``0 .. K - 1``
        into the names (a user's own labels; the datasets' labels have fixed rules instead,
        :mod:`neuroaffect.labels`). A label not named here is a rating on ``label_range``.
    """

    dataset: str
    subject: int
    eeg: np.ndarray | list
    sfreq: float
    ch_names: tuple
    labels: dict = field(default_factory=dict)
    label_range: dict = field(default_factory=dict)
    baseline: np.ndarray | list | None = None
    peripheral: dict = field(default_factory=dict)
    trial_ids: np.ndarray | None = None
    session_ids: np.ndarray | None = None
    fnames: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
    ch_pos: np.ndarray | None = None
    label_classes: dict = field(default_factory=dict)

    def __post_init__(self):
        self.ch_names = tuple(self.ch_names)
        n = self.n_trials
        if self.trial_ids is None:
            self.trial_ids = np.arange(1, n + 1)
        if self.session_ids is None:
            self.session_ids = np.ones(n, dtype=int)
        self.trial_ids = np.asarray(self.trial_ids, dtype=int)
        self.session_ids = np.asarray(self.session_ids, dtype=int)
        self.fnames = [Path(f) for f in self.fnames]
        if self.ch_pos is not None:
            self.ch_pos = np.array(self.ch_pos, dtype=np.float64)
        self.label_classes = {str(k): tuple(str(c) for c in v) for k, v in self.label_classes.items()}
        for name, classes in self.label_classes.items():
            self.label_range.setdefault(name, (0.0, float(len(classes) - 1)))
        self.validate()

    # -- shape helpers ----------------------------------------------------------------------
    @property
    def n_trials(self) -> int:
        return len(self.eeg)

    @property
    def n_chans(self) -> int:
        return len(self.ch_names)

    @property
    def equal_length(self) -> bool:
        return isinstance(self.eeg, np.ndarray)

    @property
    def n_times(self) -> np.ndarray:
        """Samples per trial, shape (n_trials,)."""
        return np.array([t.shape[-1] for t in self.eeg], dtype=int)

    def trials(self):
        """Iterate over trials as arrays of shape (n_chans, n_times_i)."""
        return iter(self.eeg)

    # -- validation -------------------------------------------------------------------------
    def validate(self) -> "Recording":
        """Check shapes, finiteness, label ranges and channel positions; raise on failure."""
        where = self.fnames[0] if len(self.fnames) == 1 else (
            f"{self.dataset} subject {self.subject}" if not self.fnames else self.fnames[0].parent
        )
        n = self.n_trials
        for i, trial in enumerate(self.eeg):
            trial = np.asarray(trial)
            if trial.ndim != 2 or trial.shape[0] != self.n_chans:
                raise DatasetFormatError(
                    where, f"trial {i} EEG of shape ({self.n_chans}, n_times)", f"shape {trial.shape}"
                )
            check_finite(trial, f"EEG trial {i}", where)
        for name, arr in self.labels.items():
            arr = np.asarray(arr, dtype=float)
            if arr.shape != (n,):
                raise DatasetFormatError(where, f"{name} labels of shape ({n},)", f"shape {arr.shape}")
            if name in self.label_classes:
                known = arr[~np.isnan(arr)]
                if (known != np.round(known)).any():
                    raise DatasetFormatError(where, f"{name} class codes 0..{len(self.label_classes[name]) - 1} "
                                             f"(classes {list(self.label_classes[name])})",
                                             f"non-integer values such as {known[known != np.round(known)][0]}")
            lo, hi = self.label_range.get(name, (-np.inf, np.inf))
            known = arr[~np.isnan(arr)]
            if known.size and (known.min() < lo or known.max() > hi):
                raise DatasetFormatError(
                    where, f"{name} labels in [{lo}, {hi}]",
                    f"values from {known.min()} to {known.max()}",
                )
            self.labels[name] = arr
        for ids, what in ((self.trial_ids, "trial_ids"), (self.session_ids, "session_ids")):
            if ids.shape != (n,):
                raise DatasetFormatError(where, f"{what} of shape ({n},)", f"shape {ids.shape}")
        if self.ch_pos is None:
            get_positions(self.ch_names, fname=where)
        elif self.ch_pos.shape != (self.n_chans, 3) or not np.isfinite(self.ch_pos).all():
            raise DatasetFormatError(
                where, f"ch_pos of shape ({self.n_chans}, 3) holding finite positions",
                f"shape {self.ch_pos.shape}" + ("" if self.ch_pos.shape != (self.n_chans, 3)
                                                else " with NaN/Inf"),
            )
        return self

    @property
    def positions(self) -> np.ndarray:
        """Electrode positions, shape (n_chans, 3), metres (MNE head frame)."""
        return self.ch_pos.copy() if self.ch_pos is not None else get_positions(self.ch_names)

    # -- conversions ------------------------------------------------------------------------
    def get_montage(self):
        """The ``mne.channels.DigMontage`` of the EEG channels (``ch_pos`` when set)."""
        from ..channels import make_montage

        return make_montage(self.ch_names, pos=self.ch_pos)

    def create_info(self):
        """``mne.Info`` for the EEG channels with the montage set."""
        import mne

        info = mne.create_info(list(self.ch_names), self.sfreq, "eeg")
        info.set_montage(self.get_montage())
        return info

    def to_epochs(self, crop: bool = False, *, baseline: bool = True, peripheral: bool = True,
                  event_label: str | None = None, verbose=False):
        """Convert to ``mne.EpochsArray``: baseline, peripheral channels, labels in ``metadata``.

        See :func:`neuroaffect.io.epochs.recording_to_epochs` for every parameter.
        """
        from .epochs import recording_to_epochs

        return recording_to_epochs(self, crop, baseline=baseline, peripheral=peripheral, event_label=event_label,
                                   verbose=verbose)

    @classmethod
    def from_epochs(cls, epochs, dataset: str = "unknown", subject: int | None = None,
                    baseline=None) -> "Recording":
        """Same as :func:`neuroaffect.io.from_epochs`."""
        return from_epochs(epochs, dataset=dataset, subject=subject, baseline=baseline)

    def select(self, idx: Sequence[int]) -> "Recording":
        """A new recording holding only trials ``idx`` (positions, not trial ids)."""
        idx = np.asarray(idx, dtype=int)

        def take(x):
            if x is None:
                return None
            return x[idx] if isinstance(x, np.ndarray) else [x[i] for i in idx]

        return Recording(
            dataset=self.dataset, subject=self.subject, eeg=take(self.eeg), sfreq=self.sfreq,
            ch_names=self.ch_names, labels={k: v[idx] for k, v in self.labels.items()},
            label_range=dict(self.label_range), baseline=take(self.baseline),
            peripheral={
                k: Peripheral(take(p.data), p.sfreq, p.unit, p.kind, p.ch_names, take(p.baseline))
                for k, p in self.peripheral.items()
            },
            trial_ids=self.trial_ids[idx], session_ids=self.session_ids[idx],
            fnames=list(self.fnames), info=dict(self.info), ch_pos=self.ch_pos,
            label_classes=dict(self.label_classes),
        )

    def summary(self) -> dict:
        """Counts, rates and label histograms, JSON-serialisable."""
        out = {
            "dataset": self.dataset, "subject": int(self.subject), "n_trials": self.n_trials,
            "n_chans": self.n_chans, "sfreq": self.sfreq,
            "n_times": {"min": int(self.n_times.min()), "max": int(self.n_times.max())},
            "sessions": sorted(int(s) for s in np.unique(self.session_ids)),
            "peripheral": {k: {"sfreq": p.sfreq, "unit": p.unit, "kind": p.kind} for k, p in self.peripheral.items()},
            "labels": {},
        }
        for k, v in self.labels.items():
            v = np.asarray(v)
            known = v[~np.isnan(v)]
            vals, counts = np.unique(np.round(known).astype(int), return_counts=True)
            out["labels"][k] = {
                "range": list(self.label_range.get(k, (None, None))),
                **({"classes": list(self.label_classes[k])} if k in self.label_classes else {}),
                "n_unlabeled": int(np.isnan(v).sum()),
                "histogram": {int(a): int(b) for a, b in zip(vals, counts)},
            }
        return out

    def __repr__(self) -> str:
        n_times = self.n_times
        t = f"{n_times[0]}" if self.equal_length else f"{n_times.min()}..{n_times.max()}"
        return (
            f"<Recording {self.dataset} subject {self.subject}: {self.n_trials} trials x "
            f"{self.n_chans} ch x {t} samples @ {self.sfreq:g} Hz, labels={list(self.labels)}, "
            f"peripheral={list(self.peripheral)}>"
        )


def from_epochs(epochs, dataset: str = "unknown", subject: int | None = None,
                baseline=None, *, ratings=None, classes=None) -> Recording:
    """A :class:`Recording` from ``mne.Epochs`` (the inverse of :meth:`Recording.to_epochs`).

    Parameters
    ----------
    epochs : mne.BaseEpochs
        E.g. ``mne.EpochsArray`` or ``mne.Epochs``, one epoch per trial. EEG channels are
        picked by type (channels marked bad are left out); their data are in volts.
    dataset : str
        Dataset the epochs come from (``"deap"``, ``"dreamer"``, ``"seed"``, ``"seed-iv"``,
        ``"mahnob"``) or any other name (default ``"unknown"``). It decides which metadata
        columns are labels and how labels are normalised downstream.
    subject : int | None
        1-based subject number; None takes it from a ``subject`` metadata column holding one
        integer, else 1.
    baseline : None | False | (float | None, float | None) | ndarray
        The pre-stimulus baseline. None: the samples with ``t < 0`` when ``epochs.tmin < 0``,
        else no baseline. False: no baseline. ``(tmin, tmax)``: the samples with
        ``tmin <= t <= tmax`` (seconds, inclusive, None = the epoch's edge, as
        ``mne.Epochs.apply_baseline`` reads it). An array: the baseline EEG itself in volts,
        shape (n_epochs, n_eeg, n_base), or (n_eeg, n_base) for every epoch. The stimulus is
        always the part with ``t >= 0``.
    ratings : dict of str -> (float, float) | None
        Metadata columns holding ratings, and their inclusive scale (e.g. ``{"valence": (1, 9)}``).
    classes : sequence of str | dict of str -> sequence of str | None
        Metadata columns holding classes (a dict fixes the order of the class names).

    Returns
    -------
    rec : Recording
        ``eeg`` of shape (n_epochs, n_eeg, n_stim) in volts, ``sfreq`` from
        ``epochs.info["sfreq"]``; ``baseline`` (n_epochs, n_eeg, n_base) or None;
        ``labels`` from every ``epochs.metadata`` column but ``subject``, ``session`` and
        ``trial``: the columns named like a label of ``dataset`` with the dataset's
        ``label_range``; ``ratings`` with their scale; text, boolean and ``classes``
        columns as class codes ``0 .. K - 1`` into ``label_classes`` (sorted values unless
        ``classes`` orders them); any other numeric column as it is (no range); ``trial_ids`` / ``session_ids`` from integer ``trial`` /
        ``session`` columns (else 1..n_epochs and 1); ``ch_pos`` from the channel locations
        when a montage is set (else the 10-05 template position of each name);
        EEG names without a location mapped onto their 10-05 spelling (``"EEG Fp1"`` ->
        ``Fp1``, ``"Fc5."`` -> ``FC5``; :func:`neuroaffect.channels.standardise_ch_names`) and
        unlocated bipolar or reference channels (``"A2-A1"``) left out with a warning and a note
        in ``info["channel_notes"]``;
        ``peripheral`` signals from channels of type ``ecg``, ``eog``, ``emg`` (to uV),
        ``gsr`` (S to uS), ``resp``, ``temperature`` (degC) and ``bio`` / ``misc`` channels
        named like a plethysmograph (``pleth``, ``ppg``, ``bvp``, ``pulse``: ``ppg``), one
        signal per type, with the same baseline samples as the EEG when the baseline comes
        from the epochs' times.

    Raises
    ------
    ValueError
        ``epochs`` is not an ``mne.BaseEpochs``, has no EEG channel or no sample at
        ``t >= 0``, an EEG channel has neither a location nor a 10-05 name, or ``baseline``
        or ``subject`` is invalid (messages: ``Invalid value for the 'x' parameter ...``).
    """
    from .epochs import epochs_fields

    fields = epochs_fields(epochs, dataset, subject, baseline, ratings=ratings, classes=classes)
    fields["peripheral"] = {k: Peripheral(**v) for k, v in fields["peripheral"].items()}
    return Recording(**fields)
