"""The plain training loop: determinism, exact resume, checkpoints, early stopping, learning."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from neuroaffect.training import (
    TrainConfig, load_checkpoint, make_folds, make_synthetic_windows, predict_proba, split_validation, train_model,
)
from neuroaffect.training import CHECKPOINT_FORMAT, ArraySource
from neuroaffect.training.loop import RBT_POOLED



pytestmark = pytest.mark.usefixtures("one_torch_thread")

class TinyMLP(nn.Module):
    """Flatten -> Linear -> ReLU -> Dropout -> Linear (vmap-safe, fast)."""

    def __init__(self, n_chans, n_bands, n_outputs, hidden=16, dropout=0.2):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(n_chans * n_bands, hidden), nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, n_outputs))

    def forward(self, x):
        return self.net(x)


def _data(seed=0, effect=0.8, n_trials=12):
    ws = make_synthetic_windows(n_subjects=1, n_trials=n_trials, n_windows=20, n_chans=6, n_bands=4,
                                effect=effect, seed=seed)
    return ws


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return TinyMLP(6, 4, 2, **kw)


CFG = TrainConfig(epochs=6, batch_size=32, lr=3e-3, device="cpu", label_smoothing=0.1)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _assert_same_history(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)  # NaN (no validation set) equals NaN


@pytest.mark.slow
def test_same_seed_same_weights_and_history():
    ws = _data()
    r1 = train_model(_model(), ws.X, ws.y, CFG)
    r2 = train_model(_model(), ws.X, ws.y, CFG)
    _assert_same_state(_state(r1.model), _state(r2.model))
    _assert_same_history(r1.history, r2.history)
    np.testing.assert_array_equal(predict_proba(r1.model, ws.X, device="cpu"),
                                  predict_proba(r2.model, ws.X, device="cpu"))
    # another seed shuffles (and drops out) differently
    r3 = train_model(_model(), ws.X, ws.y, CFG.replace(seed=1))
    assert not torch.equal(r3.model.net[1].weight, r1.model.net[1].weight)
    # the history records the schedule: cosine from lr towards min_lr, one value per epoch
    lr = r1.history["lr"]
    assert lr[0] == CFG.lr and all(a > b for a, b in zip(lr, lr[1:])) and len(lr) == CFG.epochs


class _Kill(Exception):
    pass


@pytest.mark.parametrize("where", ["end-of-epoch", "mid-epoch"])
def test_resume_after_a_kill_equals_an_uninterrupted_run(tmp_path, where):
    ws = _data()
    cfg = CFG.replace(patience=3)  # early-stopping state must survive too
    full = train_model(_model(), ws.X, ws.y, cfg, groups=ws.trial)

    ckpt = tmp_path / "fold.pt"
    model = _model()
    if where == "end-of-epoch":
        def stop_after_epoch_2(info):
            if info.epoch == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            train_model(model, ws.X, ws.y, cfg, groups=ws.trial, checkpoint=ckpt, callbacks=[stop_after_epoch_2])
        expected_resume = 3
    else:
        calls = {"n": 0}
        n_fit = split_validation(ws.y, ws.trial, cfg.val_fraction, cfg.seed)[0].sum()
        steps = math.ceil(n_fit / cfg.batch_size)

        def die_in_epoch_4(module, inp, out):
            calls["n"] += module.training
            if calls["n"] == 3 * steps + 2:  # second training step of the fourth epoch
                raise _Kill

        h = model.register_forward_hook(die_in_epoch_4)
        with pytest.raises(_Kill):
            train_model(model, ws.X, ws.y, cfg, groups=ws.trial, checkpoint=ckpt)
        h.remove()
        expected_resume = 3
    assert ckpt.exists() and load_checkpoint(ckpt)["epoch"] == expected_resume
    assert [p.name for p in tmp_path.iterdir()] == ["fold.pt"]  # no temporary file left behind

    # restart with the same arguments (a fresh, differently initialised model object)
    resumed = train_model(_model(seed=99), ws.X, ws.y, cfg, groups=ws.trial, checkpoint=ckpt)
    assert resumed.resumed_from == expected_resume
    _assert_same_state(_state(full.model), _state(resumed.model))
    _assert_same_history(resumed.history, full.history)
    assert (resumed.best_epoch, resumed.stopped_early) == (full.best_epoch, full.stopped_early)
    # a finished checkpoint is loaded, not retrained
    again = train_model(_model(seed=5), ws.X, ws.y, cfg, groups=ws.trial, checkpoint=ckpt)
    assert again.resumed_from == full.epochs_run
    _assert_same_state(_state(full.model), _state(again.model))


def test_checkpoint_is_loaded_with_weights_only_and_checked(tmp_path, caplog):
    ws = _data()
    ckpt = tmp_path / "c.pt"
    first = train_model(_model(), ws.X, ws.y, CFG.replace(epochs=1), checkpoint=ckpt)
    original = ckpt.read_bytes()
    state = load_checkpoint(ckpt)
    assert state["finished"] and set(state) >= {"weights", "optimizer", "scheduler", "torch_rng", "source",
                                                  "history", "epoch", "config", "fingerprint", "specs"}
    # other arguments or data: the checkpoint is discarded with a one-line notice, and the run
    # equals a fresh one (never a silent mix of two configurations)
    for cfg, X, y, why in [(CFG.replace(epochs=1, lr=1e-2), ws.X, ws.y, "differs in lr"),
                           (CFG.replace(epochs=1), ws.X[:100], ws.y[:100], "other data")]:
        caplog.clear()
        ckpt.write_bytes(original)
        with caplog.at_level("WARNING", logger="neuroaffect.training"):
            r = train_model(_model(), X, y, cfg, checkpoint=ckpt)
        assert r.resumed_from is None
        assert any("c.pt" in m and why in m and "discarding" in m for m in caplog.messages), caplog.messages
        fresh = train_model(_model(), X, y, cfg)
        _assert_same_state(_state(fresh.model), _state(r.model))
    # the last run's checkpoint now resumes as finished
    again = train_model(_model(seed=3), ws.X[:100], ws.y[:100], CFG.replace(epochs=1), checkpoint=ckpt)
    assert again.resumed_from == 1
    assert not torch.equal(_state(first.model)["net.1.weight"], _state(again.model)["net.1.weight"])
    # a pickle that references an arbitrary global is refused by weights_only loading

    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    bad = tmp_path / "evil.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "x": Evil()}, bad)
    with pytest.raises(ValueError, match="evil.pt: expected a training checkpoint"):
        load_checkpoint(bad)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: expected a training checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_early_stopping_uses_training_trials_and_restores_the_best_epoch():
    ws = _data(effect=0.3)
    cfg = CFG.replace(epochs=40, patience=2, lr=3e-2)
    r = train_model(_model(), ws.X, ws.y, cfg, groups=ws.trial)
    vl = r.history["val_loss"]
    assert r.n_val > 0 and r.n_train + r.n_val == ws.n_windows
    assert r.n_val % 20 == 0  # whole trials (20 windows each)
    assert r.best_epoch == int(np.argmin(vl))
    with pytest.raises(ValueError, match="needs a validation set"):
        train_model(_model(), ws.X, ws.y, cfg)


def test_early_stopping_surely_stops_and_restores_the_best_epochs_weights():
    """lr 1e-2 on this problem: validation loss falls for 9 epochs and then rises (deterministic on
    CPU), so patience 2 stops after epoch 11. The returned weights are the ones the model had
    after its best epoch (snapshotted by a callback), not the last ones, and score that epoch's
    validation loss when evaluated here by hand."""
    ws = _data(effect=0.3)
    cfg = CFG.replace(epochs=40, patience=2, lr=1e-2)
    states = {}

    def snapshot(info):  # after each epoch (the last one sees the restored weights)
        states[info.epoch] = _state(info.model)

    r = train_model(_model(), ws.X, ws.y, cfg, groups=ws.trial, callbacks=[snapshot])
    vl = r.history["val_loss"]
    assert r.stopped_early and r.epochs_run < cfg.epochs
    assert r.epochs_run == r.best_epoch + 1 + cfg.patience and r.best_epoch == int(np.argmin(vl)) > 0
    last = r.epochs_run - 2  # the last snapshot taken before the restore
    assert not torch.equal(states[r.best_epoch]["net.1.weight"], states[last]["net.1.weight"])
    _assert_same_state(_state(r.model), states[r.best_epoch])
    # the restored model's validation cross-entropy, computed here, is the best epoch's
    _, val_mask = split_validation(ws.y, ws.trial, cfg.val_fraction, cfg.seed)
    val_idx = np.flatnonzero(val_mask)
    p = predict_proba(r.model, ws.X[val_idx], device="cpu", amp=False)
    ce = -np.mean(np.log(p[np.arange(val_idx.size), ws.y[val_idx]]))
    assert ce == pytest.approx(min(vl), rel=1e-5)
    assert ce < vl[-1] - 1e-3


def test_batched_early_stopping_restores_each_models_best_epoch():
    """Three stacked models with their own validation sets stop at different epochs; each keeps
    the weights of its own best epoch."""
    from neuroaffect.training import train_batched

    ws = _data(effect=0.3)
    cfg = CFG.replace(epochs=40, patience=2, lr=1e-2)
    fits, vals = [], []
    for m in range(3):
        fit_mask, val_mask = split_validation(ws.y, ws.trial, cfg.val_fraction, seed=m)
        fits.append((ws.X[fit_mask], ws.y[fit_mask]))
        vals.append((ws.X[val_mask], ws.y[val_mask]))
    states = {}

    def snapshot(info):
        states[info.epoch] = {k: v.detach().clone() for k, v in info.trainable.params.items()}

    res = train_batched([_model(seed=m, dropout=0.0) for m in range(3)], fits, cfg, [0, 1, 2], vals=vals,
                        callbacks=[snapshot])
    assert all(res.stopped_early) and len(set(res.best_epochs)) > 1
    last = max(len(h["train_loss"]) for h in res.histories) - 2
    for m, best in enumerate(res.best_epochs):
        assert best == int(np.argmin(res.histories[m]["val_loss"]))
        assert best < last
        for k, v in res.params.items():
            assert torch.equal(v[m], states[best][k][m]), (m, k)
        assert not torch.equal(states[best]["net.1.weight"][m], states[last]["net.1.weight"][m])


def test_dropout_draws_come_from_the_config_seed():
    """Training seeds the global torch RNG (dropout) from cfg.seed: whatever the RNG did between
    building the model and training it, the same config gives the same weights."""
    ws = _data()
    cfg = CFG.replace(epochs=2)
    a = train_model(_model(), ws.X, ws.y, cfg)
    model = _model()
    torch.rand(1000)  # the global generator moves on before training
    b = train_model(model, ws.X, ws.y, cfg)
    _assert_same_state(_state(a.model), _state(b.model))
    # and the draws matter: the same model and data without dropout end elsewhere
    c = train_model(_model(dropout=0.0), ws.X, ws.y, cfg)
    assert not torch.equal(_state(a.model)["net.1.weight"], _state(c.model)["net.1.weight"])


def test_batch_size_schedule_and_wrap_around():
    cfg = TrainConfig(epochs=4, batch_size=40, batch_size_schedule=((2, 16),), device="cpu")
    assert [cfg.batch_size_at(e) for e in range(4)] == [40, 40, 16, 16]
    ws = _data()
    r = train_model(_model(), ws.X, ws.y, cfg)
    assert r.history["batch_size"] == [40, 40, 16, 16]
    # the epoch rule: 7 positions of a 3-sample permutation, wrapping around, in batches of 3
    src = ArraySource([np.arange(3, dtype=np.float32)[:, None] * np.ones((1, 2))], [np.arange(3)], [0],
                      samples_per_epoch=7)
    batches = [t[0].tolist() for _, t, _ in src.batches(3)]
    assert [len(b) for b in batches] == [3, 3, 1]
    flat = sum(batches, [])
    assert sorted(flat[:3]) == [0, 1, 2] and flat[3:6] == flat[:3] and flat[6] == flat[0]


def test_train_config_validation_and_presets():
    cfg = TrainConfig(batch_size_schedule=[(150, 64)])
    d = cfg.to_dict()
    assert json.loads(json.dumps(d)) == d and TrainConfig.from_dict(d) == cfg
    rbt = TrainConfig.preset("rbt-pooled")
    assert rbt is RBT_POOLED
    assert (rbt.epochs, rbt.lr, rbt.weight_decay, rbt.min_lr, rbt.label_smoothing, rbt.seed) == \
        (300, 1e-3, 1e-3, 1e-6, 0.12, 23)
    assert rbt.batch_size_at(149) == 256 and rbt.batch_size_at(150) == 64
    for bad, match in [(dict(epochs=0), "'epochs'"), (dict(lr=-1.0), "'lr'"), (dict(min_lr=1.0), "min_lr"),
                       (dict(label_smoothing=1.0), "label_smoothing"), (dict(device="tpu"), "'device'"),
                       (dict(batch_size_schedule=((5, 0),)), "batch_size_schedule"), (dict(patience=0), "patience")]:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**bad)
    with pytest.raises(ValueError, match="Allowed values are 'default', 'rbt-pooled'"):
        TrainConfig.preset("paper")


def test_learns_a_learnable_problem_and_not_shuffled_labels():
    ws = _data(effect=0.6, n_trials=24, seed=4)
    fold = make_folds(ws, "trial-holdout", n_folds=4, seed=0)[0]
    tr, te = fold.train_idx, fold.test_idx
    cfg = CFG.replace(epochs=15)
    r = train_model(_model(dropout=0.0), ws.X[tr], ws.y[tr], cfg)
    acc = (predict_proba(r.model, ws.X[te], device="cpu").argmax(1) == ws.y[te]).mean()
    assert acc > 0.85
    # shuffle labels across trials (windows keep their trial's label): nothing to learn
    rng = np.random.default_rng(0)
    trials = np.unique(ws.trial)
    perm_label = dict(zip(trials, rng.permutation(ws.trial_table()["y"])))
    y_shuf = np.array([perm_label[t] for t in ws.trial])
    accs = []
    for f in make_folds(ws, "trial-holdout", n_folds=4, seed=0):
        r = train_model(_model(dropout=0.0), ws.X[f.train_idx], y_shuf[f.train_idx], cfg)
        accs.append((predict_proba(r.model, ws.X[f.test_idx], device="cpu").argmax(1) == y_shuf[f.test_idx]).mean())
    assert abs(np.mean(accs) - 0.5) < 0.2
