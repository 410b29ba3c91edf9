"""The container the training layer consumes, and the label rules of SPEC section 3.

A :class:`WindowSet` holds one token matrix per window (``(n_chans, n_bands)``
band-DE values) plus, per window, the class of its trial and where it comes
from (trial, subject, session, first sample). Everything the protocols need to
split without leakage and to measure leakage is in it; nothing here reads files.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, fields

import numpy as np

from ..labels import LABEL_RULES, make_labels, n_label_classes

__all__ = [
    "LABEL_RULES",
    "WindowSet",
    "make_labels",
    "make_synthetic_windows",
    "n_label_classes",
]

def _as_int_array(name: str, value, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != (n,):
        raise ValueError(
            f"Invalid value for the WindowSet field {name!r}: expected shape ({n},) to match X, "
            f"but got shape {arr.shape} instead."
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(
                f"Invalid value for the WindowSet field {name!r}: expected integers, "
                "but got non-integer or non-finite floats."
            )
    elif arr.dtype.kind not in "iub":
        raise ValueError(
            f"Invalid value for the WindowSet field {name!r}: expected integers, "
            f"but got dtype {arr.dtype} instead."
        )
    return arr.astype(np.int64, copy=False)


@dataclass(eq=False)
class WindowSet:
    """Band-DE tokens of windows, with their labels and provenance.

    Parameters
    ----------
    X : ndarray of float32, shape (n_windows, n_chans, n_bands)
        One token per electrode and window (band differential entropy, nats or
        bits as produced by the feature layer).
    y : ndarray of int64, shape (n_windows,)
        Class index of the window's trial, ``0 .. n_classes - 1`` (see :func:`make_labels`).
    trial : ndarray of int64, shape (n_windows,)
        Globally unique trial index (unique across subjects and sessions).
    subject : ndarray of int64, shape (n_windows,)
        Subject of the window.
    session : ndarray of int64, shape (n_windows,)
        Session of the window (0 where a dataset has one session per subject).
    start : ndarray of int64, shape (n_windows,)
        First sample of the window within its trial (samples).
    win_len : int
        Window length (samples); window ``i`` covers samples
        ``[start[i], start[i] + win_len)`` of its trial.
    ch_pos : ndarray, shape (n_chans, 3) | None
        Electrode positions (metres, MNE head frame) for graph models.
    trial_number : ndarray of int64, shape (n_windows,) | None
        The dataset's own trial id (SEED: 1..15 within a session); needed by ``seed-9-6``.
    n_classes : int | None
        Number of classes of the task (``None``: ``y.max() + 1``). Set it when a
        class may be absent from the data (e.g. DEAP 9-class).

    Notes
    -----
    Construction converts dtypes and checks shapes, finiteness, and that every
    trial has one label, one subject and one session; a violation raises
    ``ValueError`` naming the field.
    """

    X: np.ndarray
    y: np.ndarray
    trial: np.ndarray
    subject: np.ndarray
    session: np.ndarray
    start: np.ndarray
    win_len: int
    ch_pos: np.ndarray | None
    trial_number: np.ndarray | None = None
    n_classes: int | None = None

    def __post_init__(self):
        X = np.asarray(self.X)
        if X.ndim != 3 or X.shape[0] == 0:
            raise ValueError(
                "Invalid value for the WindowSet field 'X': expected a non-empty array of shape "
                f"(n_windows, n_chans, n_bands), but got shape {X.shape} instead."
            )
        X = X.astype(np.float32, copy=False)
        if not np.all(np.isfinite(X)):
            bad = ~np.isfinite(X)
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                "Invalid value for the WindowSet field 'X': expected finite tokens, but found "
                f"{int(bad.sum())} NaN/Inf values (first at index {first})."
            )
        self.X = X
        n = X.shape[0]
        for name in ("y", "trial", "subject", "session", "start"):
            setattr(self, name, _as_int_array(name, getattr(self, name), n))
        if self.trial_number is not None:
            self.trial_number = _as_int_array("trial_number", self.trial_number, n)
        if isinstance(self.win_len, (bool, np.bool_)) or not isinstance(self.win_len, numbers.Integral) \
                or self.win_len < 1:
            raise ValueError(
                "Invalid value for the WindowSet field 'win_len': expected a positive int (samples), "
                f"but got {self.win_len!r} instead."
            )
        self.win_len = int(self.win_len)
        if np.any(self.start < 0):
            raise ValueError("Invalid value for the WindowSet field 'start': expected samples >= 0, "
                             f"but got minimum {int(self.start.min())}.")
        if np.any(self.y < 0):
            raise ValueError("Invalid value for the WindowSet field 'y': expected class indices >= 0, "
                             f"but got minimum {int(self.y.min())}.")
        if self.n_classes is not None:
            if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, numbers.Integral) \
                    or self.n_classes < 2:
                raise ValueError("Invalid value for the WindowSet field 'n_classes': expected an int >= 2, "
                                 f"but got {self.n_classes!r} instead.")
            self.n_classes = int(self.n_classes)
            if int(self.y.max()) >= self.n_classes:
                raise ValueError(
                    f"Invalid value for the WindowSet field 'y': expected classes below n_classes="
                    f"{self.n_classes}, but got class {int(self.y.max())}."
                )
        if self.ch_pos is not None:
            pos = np.asarray(self.ch_pos, dtype=np.float64)
            if pos.shape != (X.shape[1], 3) or not np.all(np.isfinite(pos)):
                raise ValueError(
                    "Invalid value for the WindowSet field 'ch_pos': expected finite positions of "
                    f"shape ({X.shape[1]}, 3), but got shape {pos.shape}."
                )
            self.ch_pos = pos
        # one label / subject / session (/ trial number) per trial
        order = np.argsort(self.trial, kind="stable")
        t = self.trial[order]
        same = t[1:] == t[:-1]
        per_trial = [("y", self.y), ("subject", self.subject), ("session", self.session)]
        if self.trial_number is not None:
            per_trial.append(("trial_number", self.trial_number))
        for name, arr in per_trial:
            a = arr[order]
            clash = same & (a[1:] != a[:-1])
            if clash.any():
                i = int(np.flatnonzero(clash)[0])
                raise ValueError(
                    f"Invalid value for the WindowSet field {name!r}: expected one value per trial, "
                    f"but trial {int(t[i])} has {name} {int(a[i])} and {int(a[i + 1])}."
                )

    # --- sizes ------------------------------------------------------------------------------
    @property
    def n_windows(self) -> int:
        """Number of windows."""
        return int(self.X.shape[0])

    @property
    def n_chans(self) -> int:
        """Number of electrodes (tokens per window)."""
        return int(self.X.shape[1])

    @property
    def n_bands(self) -> int:
        """Number of bands (features per token)."""
        return int(self.X.shape[2])

    @property
    def n_outputs(self) -> int:
        """Number of classes a model must output: ``n_classes`` or ``y.max() + 1``."""
        return self.n_classes if self.n_classes is not None else max(2, int(self.y.max()) + 1)

    @property
    def subjects(self) -> np.ndarray:
        """Sorted unique subjects, shape (n_subjects,)."""
        return np.unique(self.subject)

    def __len__(self) -> int:
        return self.n_windows

    def __repr__(self) -> str:
        return (
            f"<WindowSet | {self.n_windows} windows x {self.n_chans} chans x {self.n_bands} bands, "
            f"{np.unique(self.trial).size} trials, {self.subjects.size} subjects, "
            f"{self.n_outputs} classes, win_len={self.win_len}>"
        )

    # --- selection --------------------------------------------------------------------------
    def subset(self, idx) -> "WindowSet":
        """A new WindowSet with the windows ``idx`` (int indices or boolean mask, shape (n_windows,))."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (self.n_windows,):
                raise ValueError(
                    f"Invalid value for the 'idx' parameter: expected a mask of shape ({self.n_windows},), "
                    f"but got shape {idx.shape} instead."
                )
            idx = np.flatnonzero(idx)
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("win_len", "ch_pos", "n_classes") or v is None:
                kw[f.name] = v
            else:
                kw[f.name] = v[idx]
        if kw["n_classes"] is None:
            kw["n_classes"] = self.n_outputs
        return WindowSet(**kw)

    def select_subjects(self, subjects) -> "WindowSet":
        """Windows of the given subjects (iterable of ints)."""
        subjects = np.atleast_1d(np.asarray(subjects, dtype=np.int64))
        missing = np.setdiff1d(subjects, self.subjects)
        if missing.size:
            raise ValueError(
                f"Invalid value for the 'subjects' parameter: expected subjects among "
                f"{self.subjects.tolist()}, but got {missing.tolist()} which are absent."
            )
        return self.subset(np.isin(self.subject, subjects))

    def trial_table(self) -> dict:
        """One row per trial (sorted by trial): ``trial, y, subject, session[, trial_number], n_windows``.

        Returns
        -------
        table : dict of str -> ndarray of int64, each shape (n_trials,)
        """
        trials, first, counts = np.unique(self.trial, return_index=True, return_counts=True)
        out = {
            "trial": trials,
            "y": self.y[first],
            "subject": self.subject[first],
            "session": self.session[first],
            "n_windows": counts.astype(np.int64),
        }
        if self.trial_number is not None:
            out["trial_number"] = self.trial_number[first]
        return out


def make_synthetic_windows(
    n_subjects: int = 2,
    n_trials: int = 20,
    n_windows: int = 30,
    n_chans: int = 8,
    n_bands: int = 4,
    n_classes: int = 2,
    *,
    win_len: int = 128,
    stride: int | None = None,
    effect: float = 1.0,
    noise: float = 1.0,
    n_sessions: int = 1,
    seed: int = 0,
) -> WindowSet:
    """Tokens with a known, learnable class structure, for tests and benchmarks.

    Each class ``c`` has a mean token pattern ``effect * m_c`` (``m_c`` drawn once,
    unit-variance entries); each trial adds a trial offset (``0.3 * noise``) and
    each window white noise (``noise``). Trial labels cycle ``0, 1, ...`` so
    classes are balanced; trials are numbered ``1 .. n_trials`` within each
    session (``n_trials`` per session).

    Parameters
    ----------
    n_subjects, n_trials, n_windows, n_chans, n_bands, n_classes : int
        Sizes (``n_trials`` per subject and session, ``n_windows`` per trial).
    win_len : int
        Window length (samples).
    stride : int | None
        Window stride (samples); ``None``: ``win_len`` (no overlap).
    effect, noise : float
        Class-mean amplitude and noise standard deviation.
    n_sessions : int
        Sessions per subject.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    windows : WindowSet
        ``n_subjects * n_sessions * n_trials * n_windows`` windows, ordered
        subject, session, trial, window (positions on a circle as ``ch_pos``).
    """
    rng = np.random.default_rng(seed)
    stride = win_len if stride is None else int(stride)
    n_tr_total = n_subjects * n_sessions * n_trials
    means = rng.standard_normal((n_classes, n_chans, n_bands))
    trial_y = np.tile(np.arange(n_trials) % n_classes, n_subjects * n_sessions)
    trial_off = 0.3 * noise * rng.standard_normal((n_tr_total, n_chans, n_bands))
    y = np.repeat(trial_y, n_windows)
    trial = np.repeat(np.arange(n_tr_total), n_windows)
    X = effect * means[y] + trial_off[trial] + noise * rng.standard_normal((y.size, n_chans, n_bands))
    subject = np.repeat(np.arange(n_subjects), n_sessions * n_trials * n_windows) + 1
    session = np.tile(np.repeat(np.arange(n_sessions), n_trials * n_windows), n_subjects)
    trial_number = np.tile(np.repeat(np.arange(1, n_trials + 1), n_windows), n_subjects * n_sessions)
    start = np.tile(np.arange(n_windows) * stride, n_tr_total)
    angle = np.linspace(0, 2 * np.pi, n_chans, endpoint=False)
    ch_pos = 0.09 * np.c_[np.cos(angle), np.sin(angle), np.full(n_chans, 0.3)]
    return WindowSet(
        X=X.astype(np.float32), y=y, trial=trial, subject=subject, session=session, start=start,
        win_len=win_len, ch_pos=ch_pos, trial_number=trial_number, n_classes=n_classes,
    )
