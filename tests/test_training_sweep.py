"""Batched sweeps (torch.vmap over stacked models) against the plain loop; result tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY_MODELS

from neuroaffect.training import (
    TrainConfig, WindowSet, load_checkpoint, make_synthetic_windows, run_experiment, run_sweep, train_batched,
    vote_trials,
)
from neuroaffect.report import experiment_text, sweep_markdown
from neuroaffect.training import build_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")

CFG = TrainConfig(epochs=3, batch_size=16, lr=3e-3, device="cpu")
TINY = TINY_MODELS


def _windows(n_trials=11, seed=0, effect=0.8, n_windows=8):
    return make_synthetic_windows(n_subjects=2, n_trials=n_trials, n_windows=n_windows, n_chans=6, n_bands=4,
                                  effect=effect, seed=seed)


@pytest.mark.parametrize("name, patience", [("dgcnn", None), pytest.param("rbtransformer", 2, marks=pytest.mark.slow),
                                            ("rgnn", None), ("rgnn", 2)])
def test_batched_sweep_equals_plain_loop(name, patience):
    ws = _windows()
    cfg = CFG.replace(patience=patience, epochs=4 if patience else 3)
    kw = dict(model_kwargs=TINY[name], protocol="trial-holdout", n_folds=3, train_cfg=cfg, keep_models=True,
              baselines=())
    rb = run_sweep(ws, name, batched=True, **kw)
    rp = run_sweep(ws, name, batched=False, **kw)
    n_fit = [f["n_fit"] for f in rb.folds]
    assert len(set(n_fit)) > 1  # 11 trials in 3 folds: training sets differ, the wrap-around rule is exercised
    assert rb.config["samples_per_epoch"] == max(n_fit)
    for mb, mp in zip(rb.models, rp.models):
        for (k, a), (_, b) in zip(mb.state_dict().items(), mp.state_dict().items()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=k)
    for pb, pp in zip(rb.predictions, rp.predictions):
        np.testing.assert_allclose(pb.proba, pp.proba, atol=1e-5)
    if patience is None:  # groups of two models (and one of two) train as the whole batch does
        rg = run_sweep(ws, name, batched=True, max_models_per_batch=2, **kw)
        assert rg.config["max_models_per_batch"] == 2
        for pb, pg in zip(rb.predictions, rg.predictions):
            np.testing.assert_allclose(pb.proba, pg.proba, atol=1e-6)
    for hb, hp in zip(rb.histories, rp.histories):
        assert hb["lr"] == hp["lr"] and hb["batch_size"] == hp["batch_size"]
        np.testing.assert_allclose(hb["train_loss"], hp["train_loss"], rtol=1e-5)
        np.testing.assert_allclose(hb["val_loss"], hp["val_loss"], rtol=1e-5)
    fb, fp = rb.to_frame(), rp.to_frame()
    assert list(fb["epochs_run"].dropna()) == list(fp["epochs_run"].dropna())
    # the stacked models really differ from one another (per-model data and seeds)
    w = [m.state_dict()["final_layer.weight"] for m in rb.models]
    assert not torch.allclose(w[0], w[1])


class _Stop(Exception):
    pass


def _fixed_dropout(x, p=0.5, training=True, inplace=False):
    """Dropout whose mask is a fixed function of the element's position: the same mask in a plain
    call and inside torch.vmap, so batched and plain training can be compared with dropout on."""
    if not training or p == 0.0:
        return x
    idx = torch.arange(x.numel(), device=x.device).reshape(x.shape)
    keep = ((idx * 2654435761) % 1009).to(x.dtype) / 1009 >= p
    return x * keep.to(x.dtype) / (1.0 - p)


@pytest.mark.parametrize("name", ["dgcnn", "rgnn", "rbtransformer"])
def test_batched_sweep_equals_plain_loop_with_dropout_on(name, monkeypatch):
    """With dropout on (p = 0.3 everywhere) and masks fixed by position, the stacked models train
    and predict exactly as the plain loop does (a path that dropped out at prediction time, or not
    at all in training, would differ)."""
    monkeypatch.setattr(torch.nn.functional, "dropout", _fixed_dropout)
    ws = _windows(n_trials=8)
    kw = dict(model_kwargs={**TINY[name], "dropout": 0.3}, protocol="trial-holdout", n_folds=2,
              train_cfg=CFG.replace(epochs=2), keep_models=True, baselines=())
    rb = run_sweep(ws, name, batched=True, **kw)
    rp = run_sweep(ws, name, batched=False, **kw)
    for pb, pp in zip(rb.predictions, rp.predictions):
        np.testing.assert_allclose(pb.proba, pp.proba, atol=1e-5)
    for hb, hp in zip(rb.histories, rp.histories):
        np.testing.assert_allclose(hb["train_loss"], hp["train_loss"], rtol=1e-5)
    # the masks matter: without dropout the same models end elsewhere
    off = run_sweep(ws, name, batched=True, **{**kw, "model_kwargs": {**TINY[name], "dropout": 0.0}})
    assert not np.allclose(off.histories[0]["train_loss"], rb.histories[0]["train_loss"], rtol=1e-3)


def test_batched_training_resumes_exactly(tmp_path):
    ws = _windows()
    fits = [(ws.X[ws.subject == s], ws.y[ws.subject == s]) for s in (1, 2)]
    fits[1] = (fits[1][0][:60], fits[1][1][:60])

    def models():
        return [build_model("dgcnn", n_chans=6, n_bands=4, n_outputs=2, seed=s, model_kwargs=TINY["dgcnn"],
                            ch_pos=ws.ch_pos) for s in (7, 8)]

    cfg = CFG.replace(epochs=4)
    full = train_batched(models(), fits, cfg, [7, 8])
    ckpt = tmp_path / "group.pt"

    def stop(info):
        if info.epoch == 1:
            raise _Stop

    with pytest.raises(_Stop):
        train_batched(models(), fits, cfg, [7, 8], checkpoint=ckpt, callbacks=[stop])
    assert load_checkpoint(ckpt)["epoch"] == 2
    resumed = train_batched(models(), fits, cfg, [7, 8], checkpoint=ckpt)
    assert resumed.resumed_from == 2
    for k in full.params:
        assert torch.equal(full.params[k], resumed.params[k]), k
    for hr, hf in zip(resumed.histories, full.histories):
        for k in hf:
            np.testing.assert_array_equal(hr[k], hf[k], err_msg=k)  # NaN: no validation set


class _Killed(Exception):
    pass


@pytest.mark.parametrize("batched", [True, False])
def test_sweep_killed_mid_run_resumes_from_its_checkpoint_dir(tmp_path, batched):
    """run_sweep(checkpoint_dir=): a run killed in its second group (batched, two models per group)
    or its second fold (loop) resumes where each checkpoint left off, records where, and ends with
    the uninterrupted run's predictions and learning curves."""
    ws = _windows(n_trials=8)
    kw = dict(model_kwargs=TINY["dgcnn"], protocol="trial-holdout", n_folds=2, train_cfg=CFG, baselines=(),
              batched=batched, max_models_per_batch=2)
    ref = run_sweep(ws, "dgcnn", **kw)
    calls = []

    def kill_at_the_fifth_epoch(info):  # the checkpoint of that epoch is already written
        calls.append(info.epoch)
        if len(calls) == 5:
            raise _Killed

    with pytest.raises(_Killed):
        run_sweep(ws, "dgcnn", checkpoint_dir=tmp_path, progress=kill_at_the_fifth_epoch, **kw)
    files = sorted(p.name for p in tmp_path.iterdir())
    # 4 models, 3 epochs each: the first group / fold finished, the second stopped after 2 epochs
    first = ["group-000.pt", "group-001.pt"] if batched else ["sub-01_fold-00.pt", "sub-01_fold-01.pt"]
    assert files == first
    res = run_sweep(ws, "dgcnn", checkpoint_dir=tmp_path, **kw)
    assert [f["resumed_from"] for f in res.folds] == ([3, 3, 2, 2] if batched else [3, 2, None, None])
    assert [f["resumed_from"] for f in ref.folds] == [None] * 4
    for pr, pp in zip(res.predictions, ref.predictions):
        np.testing.assert_array_equal(pr.proba, pp.proba)
    for hr, hp in zip(res.histories, ref.histories):
        assert hr["train_loss"] == hp["train_loss"] and hr["lr"] == hp["lr"]
    # once finished, a rerun trains nothing and returns the same result
    again = run_sweep(ws, "dgcnn", checkpoint_dir=tmp_path, **kw)
    assert [f["resumed_from"] for f in again.folds] == [3] * 4
    for pa, pp in zip(again.predictions, ref.predictions):
        np.testing.assert_array_equal(pa.proba, pp.proba)


def test_majority_row_comes_from_the_training_fold():
    # subject 1 mostly class 0, subject 2 mostly class 1: under LOSO the training majority is the
    # other subject's class, so the majority row scores the test subject's minority share
    y_trials = [0, 0, 0, 0, 1, 1] + [1, 1, 1, 1, 0, 0]
    n_win = 3
    rng = np.random.default_rng(0)
    ws = WindowSet(X=rng.standard_normal((12 * n_win, 6, 4)), y=np.repeat(y_trials, n_win),
                   trial=np.repeat(np.arange(12), n_win), subject=np.repeat([1, 2], 6 * n_win),
                   session=np.zeros(12 * n_win), start=np.tile(np.arange(n_win) * 10, 12), win_len=10,
                   ch_pos=None)
    res = run_sweep(ws, "rbtransformer", TINY["rbtransformer"], "loso", train_cfg=CFG.replace(epochs=1))
    df = res.to_frame("window").set_index(["subject", "model"])
    assert df.loc[(1, "majority"), "accuracy"] == pytest.approx(2 / 6)
    assert df.loc[(2, "majority"), "accuracy"] == pytest.approx(2 / 6)
    assert df.loc[(1, "chance"), "accuracy"] == 0.5 and df.loc[(1, "chance"), "balanced_accuracy"] == 0.5
    # chance macro-F1 of a uniform guess with test prevalences (2/3, 1/3): mean of 2p / (2p + 1)
    p = np.array([2 / 3, 1 / 3])
    assert df.loc[(1, "chance"), "macro_f1"] == pytest.approx(np.mean(2 * p / (2 * p + 1)))
    assert set(res.to_frame()["model"]) == {"rbtransformer", "majority", "logistic", "chance"}


def test_trial_level_votes_and_experiment_report(tmp_path):
    ws = _windows(n_trials=8, effect=1.0, n_windows=16)
    exp = run_experiment(ws, 2, "dgcnn", "trial-holdout", 4, CFG.replace(epochs=10, lr=1e-2), model_kwargs=TINY["dgcnn"],
                         metadata={"dataset": "synthetic"})
    assert exp.n_folds == 4 and exp.subject == 2
    sweep = exp.sweep
    assert {f["subject"] for f in sweep.folds} == {2}
    # trial-level rows are the majority vote of the window predictions
    trial_rows = sweep.to_frame("trial").set_index(["fold", "model"])
    for pred in sweep.predictions:
        _, yt, yp = vote_trials(ws.trial[pred.test_idx], pred.y_true, pred.y_pred["dgcnn"], 2)
        assert trial_rows.loc[(pred.fold, "dgcnn"), "accuracy"] == pytest.approx((yt == yp).mean())
        assert yt.size == 2  # 8 trials in 4 folds
    d = exp.to_dict()
    text = json.dumps(d)
    assert json.loads(text)["metadata"] == {"dataset": "synthetic"}
    assert set(d["summary"]["window"]) == {"dgcnn", "majority", "logistic", "chance"}
    assert d["summary"]["window"]["chance"]["accuracy_mean"] == 0.5
    table = experiment_text(exp)
    for word in ("dgcnn", "majority", "logistic", "chance", "leakage", "mean ± std"):
        assert word in table
    assert len(exp.leakage()) == 4 and max(exp.leakage()) == 0.0
    assert "trial ovl" in table and "sample ovl" in table and "trial level" in table
    # the model learns this problem: well above chance and the majority row
    s = exp.summary()
    assert s.loc["dgcnn", "accuracy_mean"] > 0.75 > s.loc["majority", "accuracy_mean"]
    out = sweep.to_csv(tmp_path / "res.csv")
    assert out.read_text().startswith("subject,fold,n_test")
    md = sweep_markdown(sweep, per_subject=True)
    assert md.startswith("| model | accuracy") and "| dgcnn |" in md
    assert "| subject | dgcnn | majority | logistic | chance |" in md and "\n| 2 | " in md


def test_rbt_pooled_sweep_reports_its_leakage():
    n_win = 12
    ws = make_synthetic_windows(n_subjects=2, n_trials=4, n_windows=n_win, n_chans=6, n_bands=4, win_len=512,
                                stride=117, seed=1)
    ws.y[ws.trial == 0] = 1  # imbalance (3 of 8 trials class 0), so SMOTE has work to do
    res = run_sweep(ws, "rbtransformer", TINY["rbtransformer"], "rbt-pooled",
                    train_cfg=TrainConfig.preset("rbt-pooled", epochs=1, device="cpu"), baselines=("majority",))
    assert len(res.folds) == 5 and res.pooled
    for f in res.folds:
        assert f["sample_overlap"] > 0.5 and f["trial_overlap"] == 1.0 and f["resample"] == "smote"
        assert f["n_fit"] > f["n_train"]  # SMOTE added minority windows
    md = sweep_markdown(res)
    assert "trial overlap (test windows whose trial also has training windows) 100.0 %" in md
    assert "sample overlap" in md
    assert res.summary().loc["rbtransformer", "n_units"] == 5  # spread across folds


def test_batched_sweep_is_deterministic_for_a_seed():
    ws = _windows(n_trials=6)
    kw = dict(model_kwargs={**TINY["rbtransformer"], "dropout": 0.1}, n_folds=3, train_cfg=CFG.replace(epochs=2),
              baselines=())
    a, b = run_sweep(ws, "rbtransformer", **kw), run_sweep(ws, "rbtransformer", **kw)
    for pa, pb in zip(a.predictions, b.predictions):
        np.testing.assert_array_equal(pa.proba, pb.proba)
    c = run_sweep(ws, "rbtransformer", **{**kw, "train_cfg": CFG.replace(epochs=2, seed=1)})
    assert not np.array_equal(a.predictions[0].proba, c.predictions[0].proba)


def test_shuffle_trial_labels_permutes_whole_trials():
    from neuroaffect.training.sweep import shuffle_trial_labels

    trial = np.repeat([3, 1, 7, 4, 9, 2], 5)
    y = np.repeat([0, 0, 1, 1, 1, 0], 5)
    out = shuffle_trial_labels(y, trial, seed=4)
    # every trial keeps one label, and the trials' labels are a permutation of the original ones
    per_trial = {t: set(out[trial == t]) for t in np.unique(trial)}
    assert all(len(v) == 1 for v in per_trial.values())
    assert sorted(out[::5]) == sorted(y[::5])
    np.testing.assert_array_equal(out, shuffle_trial_labels(y, trial, seed=4))
    seeds = [shuffle_trial_labels(y, trial, seed=s) for s in range(20)]
    assert any(not np.array_equal(s, y) for s in seeds)
    with pytest.raises(ValueError, match="one length"):
        shuffle_trial_labels(y[:-1], trial, seed=0)


@pytest.mark.slow
def test_shuffled_label_control_sits_at_chance():
    """On a problem the model learns, the same model trained on trial-permuted labels and scored on
    the true ones sits at chance, within a bound that follows from the data rather than a fixed
    window. 48 subjects are 48 independent replicates (own folds, own permutation, own seed). Each
    test fold holds as many trials of each class, so whatever the control predicts, its expected
    accuracy under the null (test labels permuted) is exactly 0.5. The control's mean over subjects
    must lie within 3.5 standard errors of 0.5 (Student's t, 47 df: two-sided p = 0.001), and that
    standard error must be below 0.02: a window of at most 0.5 +- 0.07 (measured here: 0.499,
    standard error 0.016). A control's accuracy varies far more than a binomial draw over its test
    trials would: on a separable problem it maps each true class to whichever permuted label that
    class happens to hold more of in training, so single folds swing well away from 0.5; only the
    mean over independent replicates is tight."""
    ws = make_synthetic_windows(n_subjects=48, n_trials=24, n_windows=2, n_chans=6, n_bands=4, effect=1.0, seed=3)
    cfg = CFG.replace(epochs=8, lr=1e-2, batch_size=32)
    res = run_sweep(ws, "dgcnn", TINY["dgcnn"], "trial-holdout", 4, cfg, control=True, baselines=())
    df = res.to_frame("trial")
    assert set(df["model"]) == {"dgcnn", "dgcnn (shuffled labels)", "chance"}
    for pred in res.predictions:  # balanced test folds: the null expectation is exactly 0.5
        yt = ws.y[pred.test_idx]
        assert (yt == 0).sum() == (yt == 1).sum()
    per_subject = df.groupby(["model", "subject"])["accuracy"].mean()
    control, model = per_subject["dgcnn (shuffled labels)"], per_subject["dgcnn"]
    assert control.size == model.size == 48
    se = control.std(ddof=1) / np.sqrt(control.size)
    assert se < 0.02, se
    assert abs(control.mean() - 0.5) < 3.5 * se, (control.mean(), se)
    # the model itself is far from chance by the same yardstick
    assert model.mean() > 0.8 and (model.mean() - 0.5) / (model.std(ddof=1) / np.sqrt(model.size)) > 10


@pytest.mark.slow
def test_shuffled_label_control_rows_and_isolation():
    """The control trains beside the main models, adds its own rows (no second chance row), and
    leaves the main models' results unchanged."""
    ws = make_synthetic_windows(n_subjects=2, n_trials=8, n_windows=4, n_chans=6, n_bands=4, effect=1.0, seed=3)
    cfg = CFG.replace(epochs=3, lr=1e-2)
    res = run_sweep(ws, "dgcnn", TINY["dgcnn"], "trial-holdout", 4, cfg, control=True)
    assert len(res.folds) == len(res.predictions) == len(res.histories) == 8  # controls kept apart
    assert res.config["control"] is True
    df = res.to_frame()
    assert (df["model"] == "dgcnn (shuffled labels)").sum() == 16 and (df["model"] == "chance").sum() == 16
    plain = run_sweep(ws, "dgcnn", TINY["dgcnn"], "trial-holdout", 4, cfg)
    for pa, pb in zip(res.predictions, plain.predictions):
        np.testing.assert_allclose(pa.proba, pb.proba, atol=1e-5)


def test_validate_records_a_validation_curve_without_early_stopping():
    """validate=True holds whole training trials out and records their loss and score every epoch; every
    epoch still runs (no early stopping); without it the validation entries stay NaN."""
    ws = _windows()
    kw = dict(model_kwargs=TINY["dgcnn"], protocol="trial-holdout", n_folds=3, baselines=())
    on = run_sweep(ws, "dgcnn", train_cfg=CFG.replace(validate=True), **kw)
    off = run_sweep(ws, "dgcnn", train_cfg=CFG, **kw)
    for h in on.histories:
        assert len(h["val_loss"]) == len(h["train_loss"]) == CFG.epochs
        assert np.isfinite(h["val_loss"]).all() and np.isfinite(h["val_acc"]).all()
    for h in off.histories:
        assert np.isnan(h["val_loss"]).all()
    assert all(f["n_val"] > 0 for f in on.folds) and all(f["n_val"] == 0 for f in off.folds)
    # the validation windows come out of the training set, never out of the test fold
    assert [f["n_fit"] + f["n_val"] for f in on.folds] == [f["n_fit"] for f in off.folds]
    assert [f["n_test"] for f in on.folds] == [f["n_test"] for f in off.folds]
    with pytest.raises(ValueError, match="'validate'"):
        TrainConfig(validate="yes")
