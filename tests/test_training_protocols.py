"""Protocols: trial-level splits never leak, the pooled protocol does, and leakage is exact."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.model_selection import KFold

from neuroaffect.training import (
    WindowSet, apply_smote, assign_trial_folds, compute_leakage, make_folds, make_synthetic_windows, overlap_mask,
    split_validation,
)
from neuroaffect.training.protocols import RBT_SEED


def _brute_force_overlap(trial_tr, start_tr, trial_te, start_te, win_len):
    out = np.zeros(len(trial_te), dtype=bool)
    for i, (t, s) in enumerate(zip(trial_te, start_te)):
        for t2, s2 in zip(trial_tr, start_tr):
            # window [s, s + L) and [s2, s2 + L) share a sample
            if t == t2 and max(s, s2) < min(s, s2) + win_len:
                out[i] = True
    return out


def test_leakage_on_a_hand_made_case():
    # trial 7: windows at 0, 2, 4, 6, 8 (length 4); trial 9: a window at 2
    ws = WindowSet(X=np.zeros((6, 1, 1)), y=[0] * 5 + [1], trial=[7] * 5 + [9], subject=[1] * 6,
                   session=[0] * 6, start=[0, 2, 4, 6, 8, 2], win_len=4, ch_pos=None)
    rep = compute_leakage(ws, train_idx=[0, 4], test_idx=[1, 2, 3, 5])
    # 2 overlaps 0 (samples 2-3); 4 touches neither 0 (0-3) nor 8 (8-11); 6 overlaps 8 (8-9);
    # trial 9's window shares no trial with training
    assert rep.n_test == 4 and rep.n_overlapping == 2 and rep.fraction == 0.5
    assert rep.n_same_trial == 3 and rep.same_trial_fraction == 0.75
    np.testing.assert_array_equal(
        overlap_mask([7, 7], [0, 8], [7, 7, 7, 9], [2, 4, 6, 2], 4), [True, False, True, False])
    # a test window identical to a training window overlaps
    assert overlap_mask([7], [5], [7], [5], 1).all()


def test_leakage_boundary_windows_that_touch_do_not_overlap():
    """Windows [s, s + L) one window length apart share no sample; one sample closer they do.
    Each side of the nearest-neighbour search is probed alone, and across a trial boundary."""
    L = 4
    # nearest training window on the left only: at distance L (touching) and L - 1
    np.testing.assert_array_equal(overlap_mask([1], [0], [1, 1], [L, L - 1], L), [False, True])
    # on the right only
    np.testing.assert_array_equal(overlap_mask([1], [8], [1, 1], [8 - L, 8 - L + 1], L), [False, True])
    # both neighbours touching, none overlapping
    assert not overlap_mask([1, 1], [0, 2 * L], [1], [L], L).any()
    # the last window of one trial never reaches the first of the next trial (nor the reverse)
    assert not overlap_mask([1], [10], [2], [0], L).any()
    assert not overlap_mask([2], [0], [1], [10], L).any()
    assert not overlap_mask([1], [10], [2], [10 + L - 1], L).any()
    ws = WindowSet(X=np.zeros((3, 1, 1)), y=[0, 0, 0], trial=[1, 1, 1], subject=[1] * 3, session=[0] * 3,
                   start=[0, L, 2 * L - 1], win_len=L, ch_pos=None)
    rep = compute_leakage(ws, train_idx=[0], test_idx=[1, 2])
    assert rep.n_overlapping == 0 and rep.n_same_trial == 2
    rep = compute_leakage(ws, train_idx=[1], test_idx=[0, 2])
    assert rep.n_overlapping == 1 and rep.fraction == 0.5


def test_vectorised_leakage_equals_brute_force():
    rng = np.random.default_rng(3)
    n = 300
    trial = rng.integers(0, 6, n)
    # starts on a 39-sample lattice: distances of exactly one window (117) are frequent
    start = 39 * rng.integers(0, 200, n)
    is_train = rng.random(n) < 0.6
    fast = overlap_mask(trial[is_train], start[is_train], trial[~is_train], start[~is_train], 117)
    slow = _brute_force_overlap(trial[is_train], start[is_train], trial[~is_train], start[~is_train], 117)
    np.testing.assert_array_equal(fast, slow)
    assert 0 < fast.sum() < fast.size  # the case exercises both outcomes
    # and the boundary itself: test windows exactly one window length from their nearest
    # training window of the same trial, none closer
    tr, te = np.flatnonzero(is_train), np.flatnonzero(~is_train)
    gap = np.array([min((abs(start[i] - start[j]) for j in tr if trial[j] == trial[i]), default=10**9) for i in te])
    assert (gap == 117).sum() > 10 and not fast[gap == 117].any()


def _test_trials_never_trained(ws, folds):
    for f in folds:
        assert np.intersect1d(ws.trial[f.train_idx], ws.trial[f.test_idx]).size == 0
        assert np.intersect1d(f.train_idx, f.test_idx).size == 0
        assert f.leakage.fraction == 0.0 and f.leakage.n_overlapping == 0
        assert f.leakage.same_trial_fraction == 0.0


def test_trial_holdout_is_stratified_over_trials_and_does_not_leak():
    ws = make_synthetic_windows(n_subjects=2, n_trials=20, n_windows=7, n_chans=2, stride=32, win_len=128)
    folds = make_folds(ws, "trial-holdout", n_folds=5, seed=1)
    assert len(folds) == 10 and [f.subject for f in folds] == [1] * 5 + [2] * 5
    _test_trials_never_trained(ws, folds)
    for s in (1, 2):
        sub = [f for f in folds if f.subject == s]
        tested = np.concatenate([f.test_idx for f in sub])
        # every window of the subject is tested exactly once, and only the subject's
        np.testing.assert_array_equal(np.sort(tested), np.flatnonzero(ws.subject == s))
        for f in sub:
            assert set(ws.subject[f.train_idx]) == {s}
            trials, first = np.unique(ws.trial[f.test_idx], return_index=True)
            # 20 trials, 10 per class, 5 folds: 2 trials of each class per test fold
            assert np.bincount(ws.y[f.test_idx][first], minlength=2).tolist() == [2, 2]
            assert "StratifiedKFold(n_splits=5" in f.split_rule
    # seed changes the split, same seed repeats it
    again = make_folds(ws, "trial-holdout", n_folds=5, seed=1)
    other = make_folds(ws, "trial-holdout", n_folds=5, seed=2)
    assert all(np.array_equal(a.test_idx, b.test_idx) for a, b in zip(folds, again))
    assert not all(np.array_equal(a.test_idx, b.test_idx) for a, b in zip(folds, other))


def test_rare_class_sizes_the_folds_so_every_test_fold_holds_every_class():
    y = np.array([0] * 9 + [1] * 2)
    with pytest.warns(UserWarning, match="2 folds instead of 4"):
        fold, rule = assign_trial_folds(y, 4, seed=0)
    assert "4 folds requested; the smallest class has 2 trials" in rule
    assert sorted(set(fold.tolist())) == [0, 1]
    for k in (0, 1):  # each test fold: one trial of the rare class, and some of the frequent one
        assert (y[fold == k] == 1).sum() == 1 and (y[fold == k] == 0).sum() >= 4
    # the case: 6 minority trials, 10 folds requested -> 6 folds, none one-class
    y = np.array([0] * 14 + [1] * 6)
    with pytest.warns(UserWarning, match="6 folds instead of 10"):
        fold, _ = assign_trial_folds(y, 10, seed=0)
    assert all(set(y[fold == k].tolist()) == {0, 1} for k in range(6))
    # a class of one trial cannot be trained on and tested: refused with the class sizes
    with pytest.raises(ValueError, match=r"at least 2 trials per class.*class\(es\) \[1\] have 1"):
        assign_trial_folds([0, 1, 0], 2, seed=0)
    # more folds than trials is refused, not silently capped
    with pytest.raises(ValueError, match=r"at most one fold per trial \(3 trials\), but got 10"):
        assign_trial_folds([0, 1, 0], 10, seed=0)
    with pytest.raises(ValueError, match="at least 2 trials"):
        assign_trial_folds([1], 5, seed=0)


def test_seed_9_6_and_loso_do_not_leak():
    ws = make_synthetic_windows(n_subjects=3, n_trials=15, n_windows=4, n_chans=2, n_classes=3, n_sessions=3,
                                stride=64)
    folds = make_folds(ws, "seed-9-6")
    assert len(folds) == 9 and sorted({f.session for f in folds}) == [0, 1, 2]
    _test_trials_never_trained(ws, folds)
    for f in folds:
        assert set(ws.trial_number[f.train_idx]) == set(range(1, 10))
        assert set(ws.trial_number[f.test_idx]) == set(range(10, 16))
        assert set(ws.session[f.train_idx]) == {f.session} == set(ws.session[f.test_idx])
    loso = make_folds(ws, "loso")
    assert [f.subject for f in loso] == [1, 2, 3]
    _test_trials_never_trained(ws, loso)
    for f in loso:
        assert set(ws.subject[f.test_idx]) == {f.subject} and f.subject not in set(ws.subject[f.train_idx])
        assert f.train_idx.size + f.test_idx.size == ws.n_windows
    no_numbers = WindowSet(**{**ws.__dict__, "trial_number": None})
    with pytest.raises(ValueError, match="needs WindowSet.trial_number"):
        make_folds(no_numbers, "seed-9-6")


def test_rbt_pooled_reproduces_the_published_split_and_leaks():
    # 512-sample windows with stride 117 over 60-s DEAP-like trials (7680 samples): heavy overlap
    n_win = (7680 - 512) // 117 + 1
    ws = make_synthetic_windows(n_subjects=2, n_trials=4, n_windows=n_win, n_chans=2, win_len=512, stride=117)
    folds = make_folds(ws, "rbt-pooled")
    assert len(folds) == 5 and all(f.resample == "smote" and f.subject == -1 for f in folds)
    # the authors' procedure, written out: seed NumPy's global generator, shuffle, drop, KFold
    n = ws.n_windows
    np.random.seed(RBT_SEED)
    order = np.arange(n)
    np.random.shuffle(order)
    kept = order[int(n * 0.10):]
    expected = list(KFold(5, shuffle=True, random_state=RBT_SEED).split(kept))
    for f, (tr, te) in zip(folds, expected):
        np.testing.assert_array_equal(f.train_idx, np.sort(kept[tr]))
        np.testing.assert_array_equal(f.test_idx, np.sort(kept[te]))
    dropped = np.setdiff1d(np.arange(n), np.concatenate([folds[0].train_idx, folds[0].test_idx]))
    assert dropped.size == int(n * 0.10)
    for f in folds:
        assert f.leakage.fraction > 0.9  # nearly every test window overlaps a training window
        slow = _brute_force_overlap(ws.trial[f.train_idx], ws.start[f.train_idx], ws.trial[f.test_idx],
                                    ws.start[f.test_idx], 512)
        assert f.leakage.n_overlapping == slow.sum()
    # per-subject pooling (one subject) labels the folds with that subject
    assert {f.subject for f in make_folds(ws, "rbt-pooled", subjects=[2])} == {2}


def test_split_validation_holds_out_whole_training_trials():
    ws = make_synthetic_windows(n_subjects=1, n_trials=20, n_windows=5, n_chans=2)
    fit, val = split_validation(ws.y, ws.trial, 0.2, seed=0)
    assert np.all(fit ^ val)
    assert np.intersect1d(ws.trial[fit], ws.trial[val]).size == 0
    vt, first = np.unique(ws.trial[val], return_index=True)
    assert vt.size == 4 and np.bincount(ws.y[val][first]).tolist() == [2, 2]
    with pytest.raises(ValueError, match="single trial"):
        split_validation([0, 1], [0, 1], 0.2, seed=0)


def test_smote_balances_the_training_fold():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3, 2)).astype(np.float32)
    y = np.array([0] * 30 + [1] * 10)
    Xr, yr = apply_smote(X, y, seed=23)
    assert Xr.shape == (60, 3, 2) and np.bincount(yr).tolist() == [30, 30]
    np.testing.assert_array_equal(Xr[:40], X)  # originals first, synthetic after
    Xr2, _ = apply_smote(X, y, seed=23)
    np.testing.assert_array_equal(Xr, Xr2)
    # synthetic windows lie between minority windows: inside their bounding box
    mino = X[y == 1].reshape(10, -1)
    syn = Xr[40:].reshape(20, -1)
    assert np.all(syn >= mino.min(0) - 1e-6) and np.all(syn <= mino.max(0) + 1e-6)


def test_make_folds_argument_errors():
    ws = make_synthetic_windows(n_subjects=1, n_trials=4, n_windows=2, n_chans=2)
    with pytest.raises(ValueError, match="Allowed values are 'trial-holdout'"):
        make_folds(ws, "kfold")
    with pytest.raises(ValueError, match=r"but got \[9\] which have no windows"):
        make_folds(ws, subjects=[9])
    with pytest.raises(ValueError, match="at least 2 subjects"):
        make_folds(ws, "loso")
