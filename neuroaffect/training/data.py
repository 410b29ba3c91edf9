"""The container the training layer consumes: windows with their targets and provenance.

Label rules live in :mod:`neuroaffect.labels` (``docs/protocols.md``).

A :class:`WindowSet` holds one token matrix per window (``(n_chans, n_bands)``
band-DE values) plus, per window, the class of its trial and where it comes
from (trial, subject, session, first sample). Everything the protocols need to
split without leakage and to measure leakage is in it; nothing here reads files.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, fields

import numpy as np
import torch

from .._utils import check_int, check_option
from ..labels import LABEL_RULES, make_labels, n_label_classes

#: What a WindowSet's inputs can be.
KINDS = ("tokens", "raw", "maps")

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
class WindowSet(torch.utils.data.Dataset):
    """Inputs of windows, with their targets and provenance; a map-style ``torch.utils.data.Dataset``.

    ``windows[i]`` is ``(x, y)``: ``x`` a float32 tensor of one window's inputs and ``y`` its target
    (int64 class or float32 rating), so ``torch.utils.data.DataLoader(windows, batch_size=64)``
    batches it directly.

    Parameters
    ----------
    X : ndarray of float32, shape (n_windows, ...)
        One input per window: band-DE tokens ``(n_chans, n_bands)`` (``kind="tokens"``), raw
        signal ``(n_chans, n_times)`` in µV (``kind="raw"``), or topographic maps
        ``(n_bands, height, width)`` (``kind="maps"``).
    y : ndarray, shape (n_windows,) or (n_windows, n_targets)
        The window's trial's target: int64 class index ``0 .. n_classes - 1`` (classification,
        see :func:`~neuroaffect.labels.make_labels`) or float32 normalised rating in [-1, 1]
        (regression).
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
        class may be absent from the data (e.g. DEAP 9-class). ``None`` for regression.
    ratings : ndarray of float32, shape (n_windows, n_ratings) | None
        Every continuous label of the window's trial, normalised to [-1, 1] (NaN where the
        trial has none), kept whatever the task, e.g. for binning trials on the valence/arousal
        grid.
    rating_names : tuple of str
        Names of the columns of ``ratings`` (e.g. ``("valence", "arousal", "dominance")``).
    kind : {"tokens", "raw", "maps"}
        What ``X`` holds.

    Notes
    -----
    Construction converts dtypes and checks shapes, finiteness, and that every
    trial has one target, one subject and one session; a violation raises
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
    ratings: np.ndarray | None = None
    rating_names: tuple = ()
    kind: str = "tokens"

    def __post_init__(self):
        X = np.asarray(self.X)
        check_option("kind", self.kind, KINDS)
        ndim = 4 if self.kind == "maps" else 3
        if X.ndim != ndim or X.shape[0] == 0:
            shape = {"tokens": "(n_windows, n_chans, n_bands)", "raw": "(n_windows, n_chans, n_times)",
                     "maps": "(n_windows, n_bands, height, width)"}[self.kind]
            raise ValueError(
                f"Invalid value for the WindowSet field 'X': expected a non-empty array of shape {shape}, "
                f"but got shape {X.shape} instead."
            )
        X = X.astype(np.float32, copy=False)
        if not np.all(np.isfinite(X)):
            bad = ~np.isfinite(X)
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                "Invalid value for the WindowSet field 'X': expected finite inputs, but found "
                f"{int(bad.sum())} NaN/Inf values (first at index {first})."
            )
        self.X = X
        n = X.shape[0]
        y = np.asarray(self.y)
        if y.dtype.kind == "f" and self.n_classes is None:
            if y.shape[:1] != (n,) or y.ndim > 2 or not np.all(np.isfinite(y)):
                raise ValueError("Invalid value for the WindowSet field 'y': expected finite float targets of shape "
                                 f"({n},) or ({n}, n_targets), but got shape {y.shape}.")
            self.y = y.astype(np.float32, copy=False)
        else:
            self.y = _as_int_array("y", y, n)
        for name in ("trial", "subject", "session", "start"):
            setattr(self, name, _as_int_array(name, getattr(self, name), n))
        if self.trial_number is not None:
            self.trial_number = _as_int_array("trial_number", self.trial_number, n)
        if self.ratings is not None:
            r = np.asarray(self.ratings, dtype=np.float32)
            if r.ndim == 1:
                r = r[:, None]
            if r.shape != (n, len(self.rating_names)):
                raise ValueError(f"Invalid value for the WindowSet field 'ratings': expected shape ({n}, "
                                 f"{len(self.rating_names)}) to match X and rating_names, but got shape {r.shape}.")
            self.ratings = r
        self.rating_names = tuple(self.rating_names)
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
        if not self.is_regression:
            if np.any(self.y < 0):
                raise ValueError("Invalid value for the WindowSet field 'y': expected class indices >= 0, "
                                 f"but got minimum {int(self.y.min())}.")
            if self.n_classes is not None:
                try:
                    self.n_classes = check_int("n_classes", self.n_classes, minimum=2)
                except ValueError:
                    raise ValueError("Invalid value for the WindowSet field 'n_classes': expected an int >= 2, "
                                     f"but got {self.n_classes!r} instead.") from None
                if int(self.y.max()) >= self.n_classes:
                    raise ValueError(
                        f"Invalid value for the WindowSet field 'y': expected classes below n_classes="
                        f"{self.n_classes}, but got class {int(self.y.max())}."
                    )
        if self.ch_pos is not None:
            pos = np.asarray(self.ch_pos, dtype=np.float64)
            n_pos = pos.shape[0] if self.kind == "maps" and pos.ndim == 2 else self.n_chans
            if pos.shape != (n_pos, 3) or not np.all(np.isfinite(pos)):
                raise ValueError(
                    "Invalid value for the WindowSet field 'ch_pos': expected finite positions of "
                    f"shape ({n_pos}, 3), but got shape {pos.shape}."
                )
            self.ch_pos = pos
        # one target / subject / session (/ trial number) per trial
        order = np.argsort(self.trial, kind="stable")
        t = self.trial[order]
        same = t[1:] == t[:-1]
        per_trial = [("y", self.y.reshape(n, -1)), ("subject", self.subject), ("session", self.session)]
        if self.trial_number is not None:
            per_trial.append(("trial_number", self.trial_number))
        for name, arr in per_trial:
            a = arr[order]
            diff = a[1:] != a[:-1]
            clash = same & (diff.any(axis=1) if diff.ndim > 1 else diff)
            if clash.any():
                i = int(np.flatnonzero(clash)[0])
                raise ValueError(
                    f"Invalid value for the WindowSet field {name!r}: expected one value per trial, "
                    f"but trial {int(t[i])} has {name} {a[i].tolist()} and {a[i + 1].tolist()}."
                )

    # --- sizes ------------------------------------------------------------------------------
    @property
    def n_windows(self) -> int:
        """Number of windows."""
        return int(self.X.shape[0])

    @property
    def n_chans(self) -> int:
        """Number of electrodes (``X.shape[1]``; maps: those they were interpolated from, ``len(ch_pos)``)."""
        if self.kind == "maps":
            return 0 if self.ch_pos is None else int(np.shape(self.ch_pos)[0])
        return int(self.X.shape[1])

    @property
    def n_bands(self) -> int:
        """Number of bands (tokens: ``X.shape[2]``; maps: ``X.shape[1]``; raw: 0)."""
        return {"tokens": int(self.X.shape[-1]), "maps": int(self.X.shape[1]), "raw": 0}[self.kind]

    @property
    def n_times(self) -> int:
        """Samples per raw window (``kind="raw"``), else 0."""
        return int(self.X.shape[2]) if self.kind == "raw" else 0

    @property
    def is_regression(self) -> bool:
        """Whether ``y`` holds continuous targets."""
        return self.y.dtype.kind == "f"

    @property
    def task(self) -> str:
        """``"regression"`` or ``"classification"``."""
        return "regression" if self.is_regression else "classification"

    @property
    def n_outputs(self) -> int:
        """Outputs a model must produce: classes (``n_classes`` or ``y.max() + 1``), or targets."""
        if self.is_regression:
            return 1 if self.y.ndim == 1 else int(self.y.shape[1])
        return self.n_classes if self.n_classes is not None else max(2, int(self.y.max()) + 1)

    @property
    def strata(self) -> np.ndarray:
        """Per window, the class used to stratify splits: ``y``, or for regression whether the
        (first) target is >= 0 (int64, shape (n_windows,))."""
        if not self.is_regression:
            return self.y
        return (self.y.reshape(self.n_windows, -1)[:, 0] >= 0).astype(np.int64)

    @property
    def subjects(self) -> np.ndarray:
        """Sorted unique subjects, shape (n_subjects,)."""
        return np.unique(self.subject)

    def __len__(self) -> int:
        return self.n_windows

    def __getitem__(self, i):
        """``(x, y)`` of window ``i`` as tensors (see the class docstring)."""
        return torch.from_numpy(self.X[i]), torch.as_tensor(self.y[i])

    def __repr__(self) -> str:
        what = "targets" if self.is_regression else "classes"
        return (
            f"<WindowSet | {self.n_windows} windows of {self.kind} {tuple(self.X.shape[1:])}, "
            f"{np.unique(self.trial).size} trials, {self.subjects.size} subjects, "
            f"{self.n_outputs} {what}, win_len={self.win_len}>"
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
            if f.name in ("win_len", "ch_pos", "n_classes", "rating_names", "kind") or v is None:
                kw[f.name] = v
            else:
                kw[f.name] = v[idx]
        if kw["n_classes"] is None and not self.is_regression:
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
        """One row per trial (sorted by trial): ``trial, y, strata, subject, session[, trial_number], n_windows``.

        Returns
        -------
        table : dict of str -> ndarray of int64, each shape (n_trials,)
        """
        trials, first, counts = np.unique(self.trial, return_index=True, return_counts=True)
        out = {
            "trial": trials,
            "y": self.y[first],
            "strata": self.strata[first],
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
    regression: bool = False,
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
    regression : bool
        Continuous targets instead: each trial draws a rating ``r`` uniform in [-1, 1] and its
        windows carry ``effect * r * m`` (one pattern ``m``); ``y`` is ``r`` (float32) and
        ``ratings`` holds it as ``"valence"``.

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
    extra = {}
    if regression:
        r = rng.uniform(-1.0, 1.0, n_tr_total)
        X = effect * r[trial][:, None, None] * means[0] + trial_off[trial] \
            + noise * rng.standard_normal((trial.size, n_chans, n_bands))
        y = r[trial].astype(np.float32)
        n_classes = None
        extra = {"ratings": y[:, None], "rating_names": ("valence",)}
    subject = np.repeat(np.arange(n_subjects), n_sessions * n_trials * n_windows) + 1
    session = np.tile(np.repeat(np.arange(n_sessions), n_trials * n_windows), n_subjects)
    trial_number = np.tile(np.repeat(np.arange(1, n_trials + 1), n_windows), n_subjects * n_sessions)
    start = np.tile(np.arange(n_windows) * stride, n_tr_total)
    angle = np.linspace(0, 2 * np.pi, n_chans, endpoint=False)
    ch_pos = 0.09 * np.c_[np.cos(angle), np.sin(angle), np.full(n_chans, 0.3)]
    return WindowSet(
        X=X.astype(np.float32), y=y, trial=trial, subject=subject, session=session, start=start,
        win_len=win_len, ch_pos=ch_pos, trial_number=trial_number, n_classes=n_classes, **extra,
    )
