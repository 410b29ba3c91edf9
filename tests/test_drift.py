"""The drift control: halves of one condition told apart when the recording drifts, not otherwise."""

import numpy as np
import pytest

from neuroaffect.training import WindowSet
from neuroaffect.training.drift import (
    DRIFT_MARGIN, DRIFT_TAG, drift_records, drift_sentence, drift_verdicts, drift_windows,
)

N_TRIALS, N_WIN, N_CH, N_BANDS = 24, 6, 8, 4


def recording(drift: float, seed: int = 0, blocked: bool = True) -> WindowSet:
    """One subject, 24 trials (two conditions with no effect at all), 6 windows each; every
    feature carries ``drift`` SD times the trial's time in the session (0 .. 1)."""
    rng = np.random.default_rng(seed)
    y_trial = np.repeat([0, 1], N_TRIALS // 2) if blocked else np.tile([0, 1], N_TRIALS // 2)
    trial = np.repeat(np.arange(N_TRIALS), N_WIN)
    time = trial / (N_TRIALS - 1)
    X = rng.standard_normal((trial.size, N_CH, N_BANDS)) + drift * time[:, None, None]
    return WindowSet(X=X.astype(np.float32), y=y_trial[trial], trial=trial, subject=np.ones_like(trial),
                     session=np.zeros_like(trial), start=np.tile(np.arange(N_WIN) * 128, N_TRIALS), win_len=128,
                     ch_pos=None, trial_number=trial + 1, n_classes=2)


def test_halves_follow_the_trial_ids():
    """Trials read out of order are put in time order by their ids before halving; an odd count
    leaves the middle trial out."""
    w = recording(0.0, blocked=False)  # condition 0: trials 0, 2, ..., 22 (12 trials)
    order = np.random.default_rng(1).permutation(w.n_windows)
    shuffled = WindowSet(X=w.X[order], y=w.y[order], trial=w.trial[order], subject=w.subject[order],
                         session=w.session[order], start=w.start[order], win_len=w.win_len, ch_pos=None,
                         trial_number=w.trial_number[order], n_classes=2)
    h = drift_windows(shuffled, 0)
    first = {int(t) for t in h.trial[h.y == 0]}
    second = {int(t) for t in h.trial[h.y == 1]}
    assert first == {0, 2, 4, 6, 8, 10} and second == {12, 14, 16, 18, 20, 22}
    assert np.all(h.X == shuffled.X[np.isin(shuffled.trial, list(first | second))])
    # 11 trials of the condition: 5 + 5, the 6th (trial 10) left out
    keep = w.trial != 22
    odd = WindowSet(X=w.X[keep], y=w.y[keep], trial=w.trial[keep], subject=w.subject[keep],
                    session=w.session[keep], start=w.start[keep], win_len=w.win_len, ch_pos=None,
                    trial_number=w.trial_number[keep], n_classes=2)
    h = drift_windows(odd, 0)
    assert set(h.trial[h.y == 0].tolist()) == {0, 2, 4, 6, 8}
    assert set(h.trial[h.y == 1].tolist()) == {12, 14, 16, 18, 20}
    # too few trials of the condition: no halves
    few = recording(0.0)
    few_keep = (few.y == 1) | (few.trial < 3)
    tiny = WindowSet(X=few.X[few_keep], y=few.y[few_keep], trial=few.trial[few_keep], subject=few.subject[few_keep],
                     session=few.session[few_keep], start=few.start[few_keep], win_len=128, ch_pos=None,
                     trial_number=few.trial_number[few_keep], n_classes=2)
    assert drift_windows(tiny, 0) is None and drift_windows(tiny, 1) is not None


def _balanced(records, model):
    rows = [r for r in records if r["model"] == model and r["level"] == "window"]
    return float(np.mean([r["balanced_accuracy"] for r in rows]))


def test_planted_drift_is_found_far_above_chance():
    w = recording(drift=3.0)
    rec = drift_records(w, "trial-holdout", n_folds=4, class_names=("open", "closed"))
    names = {r["model"] for r in rec}
    assert names == {f"logistic{DRIFT_TAG}open)", f"logistic{DRIFT_TAG}closed)"}
    assert {r["level"] for r in rec} == {"window", "trial"}
    for name in names:
        assert _balanced(rec, name) > 0.5 + DRIFT_MARGIN + 0.1
    v = drift_verdicts(rec)
    assert len(v) == 2 and all(d["confounded"] for d in v)
    assert "confounded by drift" in drift_sentence(rec)
    # every test fold is trials of the other folds' halves only: no window of a test trial trains
    assert all(r["trial_overlap"] == 0 for r in rec)


def test_no_drift_sits_near_chance():
    scores = []
    for seed in range(3):
        rec = drift_records(recording(drift=0.0, seed=seed), "trial-holdout", n_folds=4)
        scores += [_balanced(rec, m) for m in dict.fromkeys(r["model"] for r in rec)]
    assert abs(np.mean(scores) - 0.5) < 0.1
    assert max(scores) < 0.5 + DRIFT_MARGIN + 0.1
    rec = drift_records(recording(drift=0.0, seed=0), "trial-holdout", n_folds=4)
    if not any(d["confounded"] for d in drift_verdicts(rec)):
        assert "not told apart" in drift_sentence(rec)


def test_verdict_threshold_by_hand():
    rows = [{"model": f"logistic{DRIFT_TAG}a)", "level": "window", "balanced_accuracy": b} for b in (0.6, 0.7, 0.8)]
    rows += [{"model": f"logistic{DRIFT_TAG}b)", "level": "window", "balanced_accuracy": b} for b in (0.5, 0.6)]
    rows += [{"model": "logistic", "level": "window", "balanced_accuracy": 1.0}]
    v = {d["model"]: d for d in drift_verdicts(rows)}
    assert set(v) == {f"logistic{DRIFT_TAG}a)", f"logistic{DRIFT_TAG}b)"}
    assert v[f"logistic{DRIFT_TAG}a)"]["balanced_accuracy"] == pytest.approx(0.7)
    assert v[f"logistic{DRIFT_TAG}a)"]["confounded"] and not v[f"logistic{DRIFT_TAG}b)"]["confounded"]
    assert drift_sentence([]) == ""


def test_refusals():
    w = recording(0.0)
    with pytest.raises(ValueError, match="loso"):
        drift_records(w, "loso")
    with pytest.raises(ValueError, match="baselines"):
        drift_records(w, baselines=("ridge",))
    reg = WindowSet(X=w.X, y=w.y.astype(np.float32) - 0.5, trial=w.trial, subject=w.subject, session=w.session,
                    start=w.start, win_len=128, ch_pos=None)
    with pytest.raises(ValueError, match="class targets"):
        drift_windows(reg, 0)


@pytest.mark.slow
def test_fold_count_follows_the_smallest_half():
    """12 trials per condition give halves of 6 trials: 10 folds asked, 6 made (one trial of each
    half per test fold); 4 asked, 4 made."""
    w = recording(1.0)
    for asked, made in ((10, 6), (4, 4), (None, 6)):
        rec = drift_records(w, "trial-holdout", asked)
        for name in dict.fromkeys(r["model"] for r in rec):
            assert len({r["fold"] for r in rec if r["model"] == name}) == made
            assert all(r["n_test"] == 12 * N_WIN // made for r in rec if r["model"] == name)


def test_rows_added_to_a_result_take_its_class_names():
    from types import SimpleNamespace

    from neuroaffect.training.drift import add_drift_rows

    sweep = SimpleNamespace(records=[{"level": "window"}], config={})
    res = SimpleNamespace(sweep=sweep, metadata={"class_names": ["calm", "tense"]})
    add_drift_rows(res, recording(0.0), "trial-holdout", 4)
    assert sweep.config["drift_control"]["rows"] == [f"logistic{DRIFT_TAG}calm)", f"logistic{DRIFT_TAG}tense)"]
    assert {r["level"] for r in sweep.records[1:]} == {"window"}  # the result's levels only
    add_drift_rows(res, recording(0.0), "trial-holdout", 4, class_names=("a", "b"))
    assert sweep.config["drift_control"]["rows"] == [f"logistic{DRIFT_TAG}a)", f"logistic{DRIFT_TAG}b)"]
