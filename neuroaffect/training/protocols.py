"""Evaluation protocols: which windows train and which test, and how much the split leaks.

=================  ===========================================================================
protocol           folds
=================  ===========================================================================
``trial-holdout``  per subject, k-fold over **trials** stratified by class (default k = 10,
                   fewer when the smallest class has fewer trials): no window of a test trial
                   is trained on, every test fold holds every class.
``seed-9-6``       per subject and SEED session: trials 1-9 train, trials 10-15 test
                   (``trial_number``), one fold per session.
``loso``           leave one subject out: one fold per subject.
``cross-session``  per subject: every session but the last trains, the last session tests
                   (SEED / SEED-IV / SEED-V: sessions 1-2 train, 3 tests); one fold per subject.
``cross-dataset``  one dataset's windows train, another's test (:mod:`~neuroaffect.training.transfer`
                   builds the joint WindowSet): one pooled fold over the target's subjects.
``rbt-pooled``     the RBTransformer paper's protocol: windows of all subjects pooled, 10 % of
                   windows dropped at random (seed 23), ``KFold(5, shuffle=True,
                   random_state=23)`` over **windows**, SMOTE on the training fold. Windows of
                   one trial fall on both sides of the split: it leaks.
=================  ===========================================================================

Every fold records its **leakage**: the fraction of test windows that share at
least one sample with a training window of the same trial, and the (weaker)
fraction of test windows whose trial also has training windows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from .._utils import check_option
from .data import WindowSet

__all__ = [
    "PROTOCOLS",
    "RBT_DROP_FRACTION",
    "RBT_N_FOLDS",
    "RBT_SEED",
    "SEED_N_TRAIN_TRIALS",
    "Fold",
    "LeakageReport",
    "apply_smote",
    "assign_trial_folds",
    "compute_leakage",
    "make_folds",
    "overlap_mask",
    "split_validation",
]

PROTOCOLS = ("trial-holdout", "seed-9-6", "loso", "rbt-pooled", "cross-session", "cross-dataset")
DEFAULT_N_FOLDS = {"trial-holdout": 10, "rbt-pooled": 5}
RBT_SEED = 23
RBT_N_FOLDS = 5
RBT_DROP_FRACTION = 0.10
SEED_N_TRAIN_TRIALS = 9
SEED_N_CLIPS = 15
POOLED = -1  # ``Fold.subject`` of folds that pool several subjects


@dataclass(frozen=True)
class LeakageReport:
    """How much a test set overlaps its training set.

    Attributes
    ----------
    n_test : int
        Number of test windows.
    n_overlapping : int
        Test windows sharing at least one sample with a training window of the same trial.
    fraction : float
        ``n_overlapping / n_test`` (0 when there are no test windows).
    n_same_trial : int
        Test windows whose trial also has training windows (overlapping or not).
    same_trial_fraction : float
        ``n_same_trial / n_test``.
    """

    n_test: int
    n_overlapping: int
    fraction: float
    n_same_trial: int
    same_trial_fraction: float


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/test split of a :class:`~neuroaffect.training.WindowSet`.

    Attributes
    ----------
    protocol : str
        One of :data:`PROTOCOLS`.
    subject : int
        The subject tested (``-1`` for folds pooling several subjects).
    index : int
        Fold number within ``subject`` (0-based; for ``seed-9-6`` the session's rank).
    train_idx, test_idx : ndarray of int64, shape (n_train,), (n_test,)
        Sorted window indices into the WindowSet the folds were made from.
    leakage : LeakageReport
    resample : str | None
        ``"smote"`` when the protocol oversamples the training fold.
    split_rule : str
        How the fold was drawn (e.g. the scikit-learn splitter and its arguments).
    session : int | None
        The session tested (``seed-9-6``, ``cross-session``).
    """

    protocol: str
    subject: int
    index: int
    train_idx: np.ndarray = field(repr=False)
    test_idx: np.ndarray = field(repr=False)
    leakage: LeakageReport
    resample: str | None = None
    split_rule: str = ""
    session: int | None = None

    @property
    def name(self) -> str:
        """``"sub-XX_fold-YY"`` (``"pooled_fold-YY"`` for pooled folds)."""
        who = "pooled" if self.subject == POOLED else f"sub-{self.subject:02d}"
        return f"{who}_fold-{self.index:02d}"


# --- leakage ---------------------------------------------------------------------------------

def overlap_mask(trial_train, start_train, trial_test, start_test, win_len: int) -> np.ndarray:
    """Which test windows share a sample with a training window of the same trial.

    Windows cover ``[start, start + win_len)``; two windows of one trial overlap
    iff ``|start_a - start_b| < win_len``. Training windows are sorted once by
    (trial, start) into one integer key per window with a gap larger than
    ``win_len`` between trials; each test window's nearest training neighbours
    come from ``np.searchsorted``: O((n_train + n_test) log n_train).

    Parameters
    ----------
    trial_train, start_train : array-like of int, shape (n_train,)
        Trial and first sample of each training window.
    trial_test, start_test : array-like of int, shape (n_test,)
    win_len : int
        Window length (samples).

    Returns
    -------
    mask : ndarray of bool, shape (n_test,)
    """
    trial_train = np.asarray(trial_train, dtype=np.int64)
    start_train = np.asarray(start_train, dtype=np.int64)
    trial_test = np.asarray(trial_test, dtype=np.int64)
    start_test = np.asarray(start_test, dtype=np.int64)
    if trial_test.size == 0 or trial_train.size == 0:
        return np.zeros(trial_test.shape, dtype=bool)
    trials, inv = np.unique(np.concatenate([trial_train, trial_test]), return_inverse=True)
    rank_tr, rank_te = inv[: trial_train.size], inv[trial_train.size:]
    span = int(max(start_train.max(), start_test.max())) + int(win_len) + 1
    if trials.size * span >= np.iinfo(np.int64).max // 2:
        raise ValueError(f"Cannot compute leakage: {trials.size} trials x {span} samples overflow int64.")
    key_tr = np.sort(rank_tr * span + start_train)
    key_te = rank_te * span + start_test
    pos = np.searchsorted(key_tr, key_te)
    left = key_tr[np.clip(pos - 1, 0, key_tr.size - 1)]
    right = key_tr[np.clip(pos, 0, key_tr.size - 1)]
    near_left = (pos > 0) & (key_te - left < win_len)
    near_right = (pos < key_tr.size) & (right - key_te < win_len)
    return near_left | near_right


def compute_leakage(windows: WindowSet, train_idx, test_idx) -> LeakageReport:
    """Leakage figures of a split (see :class:`LeakageReport` and :func:`overlap_mask`).

    Parameters
    ----------
    windows : WindowSet
    train_idx, test_idx : array-like of int
        Window indices into ``windows``.

    Returns
    -------
    report : LeakageReport
    """
    train_idx = np.asarray(train_idx, dtype=np.int64)
    test_idx = np.asarray(test_idx, dtype=np.int64)
    mask = overlap_mask(windows.trial[train_idx], windows.start[train_idx],
                        windows.trial[test_idx], windows.start[test_idx], windows.win_len)
    same = np.isin(windows.trial[test_idx], windows.trial[train_idx])
    n = int(test_idx.size)
    return LeakageReport(
        n_test=n,
        n_overlapping=int(mask.sum()),
        fraction=float(mask.mean()) if n else 0.0,
        n_same_trial=int(same.sum()),
        same_trial_fraction=float(same.mean()) if n else 0.0,
    )


# --- trial-level splits ----------------------------------------------------------------------

def assign_trial_folds(trial_y, n_folds: int, seed: int) -> tuple[np.ndarray, str]:
    """Assign trials to ``k`` folds, stratified by class, every class in every test fold.

    Rule: ``k = min(n_folds, smallest class's trial count)`` (more folds than trials is refused);
    scikit-learn's ``StratifiedKFold(k, shuffle=True, random_state=seed)`` assigns the trials, so
    every test fold holds every class and a majority-class row cannot score on a one-class test
    fold. When the smallest class makes ``k`` smaller than ``n_folds`` a ``UserWarning`` says so
    and ``Fold.split_rule`` records it. A class with a single trial cannot be both trained on and
    tested: refused (``ValueError``), as are fewer than two trials.

    Parameters
    ----------
    trial_y : array-like of int, shape (n_trials,)
        Class of each trial.
    n_folds : int
        Requested number of folds (>= 2).
    seed : int

    Returns
    -------
    fold_of_trial : ndarray of int64, shape (n_trials,)
        Test fold of each trial, ``0 .. k - 1``.
    rule : str
        Description of the rule applied.
    """
    trial_y = np.asarray(trial_y, dtype=np.int64)
    n = trial_y.size
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ValueError(f"Invalid value for the 'n_folds' parameter: expected an int >= 2, but got {n_folds!r}.")
    if n < 2:
        raise ValueError(f"Cannot split {n} trial(s) into folds: expected at least 2 trials.")
    if n_folds > n:
        raise ValueError(f"Invalid value for the 'n_folds' parameter: expected at most one fold per trial ({n} "
                         f"trials), but got {n_folds} instead.")
    classes, counts = np.unique(trial_y, return_counts=True)
    sizes = dict(zip(classes.tolist(), counts.tolist()))
    if classes.size > 1 and counts.min() < 2:
        rare = [c for c, m in sizes.items() if m < 2]
        raise ValueError(
            f"Cannot split trials into folds that each test every class: expected at least 2 trials per class "
            f"(one to train on, one to test), but class(es) {rare} have 1 (class sizes {sizes}). Leave those "
            "trials out, merge the class, or choose a task with fewer classes.")
    k = int(min(n_folds, counts.min())) if classes.size > 1 else int(n_folds)
    fold = np.empty(n, dtype=np.int64)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for i, (_, te) in enumerate(skf.split(np.zeros(n), trial_y)):
        fold[te] = i
    rule = f"StratifiedKFold(n_splits={k}, shuffle=True, random_state={seed}) over trials"
    if k < n_folds:
        rule += f" ({n_folds} folds requested; the smallest class has {k} trials, class sizes {sizes})"
        warnings.warn(f"{k} folds instead of {n_folds}: the smallest class has {k} trials (class sizes {sizes}), "
                      "so that every test fold holds every class.", UserWarning, stacklevel=3)
    return fold, rule


def split_validation(y, trial, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation set out of training windows, by whole trials, stratified by class.

    Per class with ``n_c`` training trials, ``round(fraction * n_c)`` trials (at
    most ``n_c - 1``), drawn with ``numpy.random.default_rng(seed)``, go to
    validation; if that makes no validation trial at all, one trial of the
    largest class (if it has two or more) does. No trial is split.

    Parameters
    ----------
    y, trial : array-like, shape (n_windows,)
        Window classes (or continuous targets, stratified by sign of the first one) and trial
        ids of the training windows.
    fraction : float
        Target fraction of trials, in (0, 1).
    seed : int

    Returns
    -------
    fit_mask, val_mask : ndarray of bool, shape (n_windows,)
        Complementary masks.
    """
    y = np.asarray(y)
    y = (y.reshape(y.shape[0], -1)[:, 0] >= 0).astype(np.int64) if y.dtype.kind == "f" else y.astype(np.int64)
    trial = np.asarray(trial, dtype=np.int64)
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"Invalid value for the 'val_fraction' parameter: expected a value in (0, 1), but got {fraction!r}.")
    trials, first = np.unique(trial, return_index=True)
    ty = y[first]
    rng = np.random.default_rng(seed)
    val_trials = []
    classes, counts = np.unique(ty, return_counts=True)
    for c, n_c in zip(classes, counts):
        k = min(int(np.floor(fraction * n_c + 0.5)), n_c - 1)
        if k > 0:
            val_trials.append(rng.choice(trials[ty == c], size=k, replace=False))
    if not val_trials:
        c = classes[int(np.argmax(counts))]
        if counts.max() < 2:
            raise ValueError(
                f"Cannot carve a validation set from {trials.size} training trial(s): every class has a "
                "single trial, so no trial can be held out without losing its class."
            )
        val_trials.append(rng.choice(trials[ty == c], size=1, replace=False))
    val_mask = np.isin(trial, np.concatenate(val_trials))
    return ~val_mask, val_mask


# --- protocols -------------------------------------------------------------------------------

def make_folds(windows: WindowSet, protocol: str = "trial-holdout", *, n_folds: int | None = None,
               seed: int | None = None, subjects=None) -> list[Fold]:
    """Split ``windows`` into folds under one evaluation protocol.

    Parameters
    ----------
    windows : WindowSet
    protocol : {"trial-holdout", "seed-9-6", "loso", "rbt-pooled", "cross-session", "cross-dataset"}
    n_folds : int | None
        Folds per subject for ``trial-holdout`` (default 10) and for
        ``rbt-pooled`` (default 5, the paper's); ignored by ``seed-9-6`` (one
        fold per session), ``loso`` and ``cross-session`` (one fold per subject)
        and ``cross-dataset`` (one pooled fold).
    seed : int | None
        Shuffling seed of ``trial-holdout`` (default 0); ``rbt-pooled`` uses
        23 (the paper's) unless another is given.
    subjects : iterable of int | None
        Subjects to make folds for (default: all). ``loso`` still trains on
        every other subject of ``windows``; ``rbt-pooled`` pools only these.
        ``cross-dataset`` needs them: the target dataset's subjects, tested
        pooled, while every other subject of ``windows`` (the source's) trains.

    Returns
    -------
    folds : list of Fold
        Ordered by subject, then fold index.
    """
    check_option("protocol", protocol, PROTOCOLS)
    if not isinstance(windows, WindowSet):
        raise TypeError(f"Invalid value for the 'windows' parameter: expected a WindowSet, but got {type(windows).__name__}.")
    all_subjects = windows.subjects
    subjects_given = subjects is not None
    if subjects is None:
        subjects = all_subjects
    else:
        subjects = np.unique(np.atleast_1d(np.asarray(subjects, dtype=np.int64)))
        missing = np.setdiff1d(subjects, all_subjects)
        if missing.size:
            raise ValueError(
                f"Invalid value for the 'subjects' parameter: expected subjects among {all_subjects.tolist()}, "
                f"but got {missing.tolist()} which have no windows."
            )
    if n_folds is None:
        n_folds = DEFAULT_N_FOLDS.get(protocol, 0)
    if protocol == "trial-holdout":
        return _trial_holdout(windows, subjects, n_folds, 0 if seed is None else seed)
    if protocol == "seed-9-6":
        return _seed_9_6(windows, subjects)
    if protocol == "loso":
        return _loso(windows, subjects)
    if protocol == "cross-session":
        return _cross_session(windows, subjects)
    if protocol == "cross-dataset":
        return _cross_dataset(windows, subjects, given=subjects_given)
    return _rbt_pooled(windows, subjects, n_folds, RBT_SEED if seed is None else seed)


def _fold(windows, protocol, subject, index, train_idx, test_idx, **kw) -> Fold:
    train_idx = np.sort(np.asarray(train_idx, dtype=np.int64))
    test_idx = np.sort(np.asarray(test_idx, dtype=np.int64))
    return Fold(protocol=protocol, subject=int(subject), index=int(index), train_idx=train_idx,
                test_idx=test_idx, leakage=compute_leakage(windows, train_idx, test_idx), **kw)


def _trial_holdout(windows, subjects, n_folds, seed):
    folds = []
    table = windows.trial_table()
    for s in subjects:
        rows = table["subject"] == s
        trials, ty = table["trial"][rows], table["strata"][rows]
        fold_of_trial, rule = assign_trial_folds(ty, n_folds, seed)
        in_subject = np.flatnonzero(windows.subject == s)
        # fold of each window of the subject, via its trial
        wfold = fold_of_trial[np.searchsorted(trials, windows.trial[in_subject])]
        for k in range(int(fold_of_trial.max()) + 1):
            test = wfold == k
            folds.append(_fold(windows, "trial-holdout", s, k, in_subject[~test], in_subject[test],
                               split_rule=rule))
    return folds


def _seed_9_6(windows, subjects):
    if windows.trial_number is None:
        raise ValueError(
            "The 'seed-9-6' protocol needs WindowSet.trial_number (the dataset's trial id, 1..15 within "
            "each SEED session), but it is None."
        )
    folds = []
    for s in subjects:
        in_subject = windows.subject == s
        for k, sess in enumerate(np.unique(windows.session[in_subject])):
            here = in_subject & (windows.session == sess)
            tn = windows.trial_number[here]
            if np.unique(tn).tolist() != list(range(1, SEED_N_CLIPS + 1)):
                raise ValueError(
                    f"seed-9-6: subject {s}, session {sess}: expected SEED's trial numbers 1-{SEED_N_CLIPS} (the "
                    f"protocol trains on clips 1-{SEED_N_TRAIN_TRIALS} and tests on the rest), but found "
                    f"{np.unique(tn).size} trials numbered {int(tn.min())}-{int(tn.max())}; use trial-holdout"
                )
            train = here & (windows.trial_number <= SEED_N_TRAIN_TRIALS)
            test = here & (windows.trial_number > SEED_N_TRAIN_TRIALS)
            if not train.any() or not test.any():
                raise ValueError(
                    f"seed-9-6: subject {s}, session {sess}: expected trial numbers 1-{SEED_N_TRAIN_TRIALS} "
                    f"(train) and above (test), but found trial numbers {np.unique(tn).tolist()}."
                )
            folds.append(_fold(windows, "seed-9-6", s, k, np.flatnonzero(train), np.flatnonzero(test),
                               split_rule=f"trials 1-{SEED_N_TRAIN_TRIALS} train, the rest test, session {sess}",
                               session=int(sess)))
    return folds


def _loso(windows, subjects):
    if windows.subjects.size < 2:
        raise ValueError(f"The 'loso' protocol needs at least 2 subjects, but the windows have {windows.subjects.size}.")
    folds = []
    for k, s in enumerate(subjects):
        test = windows.subject == s
        folds.append(_fold(windows, "loso", s, 0, np.flatnonzero(~test), np.flatnonzero(test),
                           split_rule=f"leave subject {s} out"))
    return folds


def _cross_session(windows, subjects):
    """Per subject, sessions ``1 .. S-1`` train and the last session ``S`` tests (``S >= 2`` sessions)."""
    folds = []
    for s in subjects:
        in_subject = windows.subject == s
        sessions = np.unique(windows.session[in_subject])
        if sessions.size < 2:
            raise ValueError(
                f"cross-session: subject {s}: expected windows of at least 2 sessions (all but the last train, "
                f"the last tests), but found session(s) {sessions.tolist()}; use trial-holdout")
        last = int(sessions[-1])
        test = in_subject & (windows.session == last)
        train = in_subject & (windows.session != last)
        rule = (f"sessions {', '.join(str(int(x)) for x in sessions[:-1])} train, session {last} tests "
                "(session ids as read; the last in order is tested)")
        folds.append(_fold(windows, "cross-session", s, 0, np.flatnonzero(train), np.flatnonzero(test),
                           split_rule=rule, session=last))
    return folds


def _cross_dataset(windows, subjects, given: bool):
    """One pooled fold: the windows of ``subjects`` (the target's) test, every other window trains."""
    if not given:
        raise ValueError("The 'cross-dataset' protocol needs the 'subjects' parameter: the target dataset's "
                         "subjects in the joint WindowSet (training.transfer.merge_cross_dataset returns them), but got None.")
    test = np.isin(windows.subject, subjects)
    if test.all():
        raise ValueError(f"cross-dataset: every subject of the windows ({windows.subjects.tolist()}) is a target "
                         "subject, so none is left to train on; expected the source dataset's subjects as well.")
    rule = (f"train on the {int((~test).sum())} windows of subjects "
            f"{np.unique(windows.subject[~test]).tolist()} (source), test on the {int(test.sum())} windows of "
            f"subjects {np.asarray(subjects).tolist()} (target), pooled")
    return [_fold(windows, "cross-dataset", POOLED, 0, np.flatnonzero(~test), np.flatnonzero(test),
                  split_rule=rule)]


def _rbt_pooled(windows, subjects, n_folds, seed):
    """The published pooled protocol.

    Window order is the pooled order of ``windows`` restricted to ``subjects``
    (subject, trial, window when built subject by subject, as the authors'
    TorchEEG datasets are). The authors' script seeds NumPy's global generator
    with 23, shuffles ``arange(n)``, drops the first ``int(0.1 n)`` indices and
    runs ``KFold(5, shuffle=True, random_state=23)`` on the rest in that
    shuffled order; ``RandomState(seed).shuffle`` reproduces that draw.
    """
    pool = np.flatnonzero(np.isin(windows.subject, subjects))
    n = pool.size
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ValueError(f"Invalid value for the 'n_folds' parameter: expected an int >= 2, but got {n_folds!r}.")
    order = np.arange(n)
    np.random.RandomState(seed).shuffle(order)
    kept = pool[order[int(n * RBT_DROP_FRACTION):]]
    if kept.size < n_folds:
        raise ValueError(f"rbt-pooled: {kept.size} windows after dropping cannot make {n_folds} folds.")
    kf = KFold(n_splits=int(n_folds), shuffle=True, random_state=seed)
    rule = (f"{n} windows pooled, {int(n * RBT_DROP_FRACTION)} dropped (RandomState({seed}).shuffle), "
            f"KFold(n_splits={n_folds}, shuffle=True, random_state={seed}) over windows")
    subject = int(subjects[0]) if len(subjects) == 1 else POOLED
    return [
        _fold(windows, "rbt-pooled", subject, k, kept[tr], kept[te], resample="smote", split_rule=rule)
        for k, (tr, te) in enumerate(kf.split(kept))
    ]


# --- resampling ------------------------------------------------------------------------------

def apply_smote(X: np.ndarray, y: np.ndarray, seed: int = RBT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Oversample minority classes with SMOTE (imbalanced-learn) on flattened tokens.

    As in the published protocol, tokens are flattened to ``(n, n_chans * n_bands)``,
    resampled with ``SMOTE(random_state=seed)`` (5 neighbours, fewer when the
    smallest class is too small) and reshaped back. A single-class training set,
    or one whose smallest class has a single window, is returned unchanged.

    Parameters
    ----------
    X : ndarray, shape (n_windows, n_chans, n_bands)
    y : ndarray of int, shape (n_windows,)
    seed : int

    Returns
    -------
    X_res : ndarray of float32, shape (n_resampled, n_chans, n_bands)
        The original windows first, then the synthetic ones.
    y_res : ndarray of int64, shape (n_resampled,)
    """
    from imblearn.over_sampling import SMOTE

    X = np.asarray(X)
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y)
    counts = counts[counts > 0]
    if counts.size < 2 or counts.min() < 2 or counts.min() == counts.max():
        return X.astype(np.float32, copy=False), y
    sm = SMOTE(random_state=seed, k_neighbors=min(5, int(counts.min()) - 1))
    Xr, yr = sm.fit_resample(X.reshape(X.shape[0], -1), y)
    return Xr.reshape((-1,) + X.shape[1:]).astype(np.float32, copy=False), np.asarray(yr, dtype=np.int64)
