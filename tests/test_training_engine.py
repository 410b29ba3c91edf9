"""The one training engine: batch sources, objectives, clipping, composite losses, load_model, regression."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_MODELS
from torch import nn

from neuroaffect.models import list_models, model_entrypoint
from neuroaffect.report import experiment_text, sweep_markdown
from neuroaffect.training import (
    ArraySource, CCCLoss, CrossEntropy, MSELoss, SoftTargetKD, TrainConfig, build_model, ccc, fit,
    load_checkpoint, load_model, make_synthetic_windows, predict, regression_metrics, run_experiment, run_sweep,
    train_model,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


CFG = TrainConfig(epochs=3, batch_size=16, lr=3e-3, device="cpu")
TINY = TINY_MODELS


class _Dataset(torch.utils.data.Dataset):
    def __init__(self, X, y):
        self.X, self.y = torch.as_tensor(X), torch.as_tensor(y)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def _mlp(seed=0, n_in=24, n_out=2):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, 16), nn.ReLU(), nn.Linear(16, n_out))


def test_dataloader_source_matches_in_memory_arrays():
    """A DataLoader that yields the same batches in the same order trains to the same weights."""
    ws = make_synthetic_windows(n_subjects=1, n_trials=10, n_windows=8, n_chans=6, n_bands=4, seed=0)
    cfg = CFG.replace(epochs=2)
    a = fit(_mlp(), ArraySource([ws.X], [ws.y], [5], device="cpu"), CrossEntropy(0.1), cfg)
    # replay ArraySource's order through a DataLoader with a sampler drawing the same permutations
    gen = torch.Generator().manual_seed(5)
    order = [torch.randperm(ws.n_windows, generator=gen) for _ in range(2)]

    class Replay(torch.utils.data.Sampler):
        def __init__(self):
            self.epoch = 0

        def __iter__(self):
            idx = order[self.epoch]
            self.epoch += 1
            return iter(idx.tolist())

        def __len__(self):
            return ws.n_windows

    loader = torch.utils.data.DataLoader(_Dataset(ws.X, ws.y), batch_size=16, sampler=Replay())
    b = fit(_mlp(), loader, CrossEntropy(0.1), cfg)
    for (k, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6, msg=k)
    np.testing.assert_allclose(a.histories[0]["train_loss"], b.histories[0]["train_loss"], rtol=1e-5)


def test_soft_targets_composite_loss_and_clipping():
    ws = make_synthetic_windows(n_subjects=1, n_trials=10, n_windows=8, n_chans=6, n_bands=4, seed=1)
    soft = np.eye(2, dtype=np.float32)[ws.y] * 0.8 + 0.1
    ce, st = CrossEntropy(), SoftTargetKD(temperature=2.0)

    def loss(out, target, mask=None):
        y, q = target
        a, b = ce(out, y, mask), st(out, q, mask)
        return {"loss": a + 0.5 * b, "ce": a, "kd": b}

    loss.score = lambda out, target, mask=None: ce.score(out, target[0], mask)
    src = ArraySource([ws.X], [(ws.y, soft)], [0], device="cpu")
    res = fit(_mlp(), src, loss, CFG.replace(grad_clip=0.01))
    h = res.histories[0]
    assert set(h) >= {"train_loss", "train_ce", "train_kd", "train_score"}
    np.testing.assert_allclose(h["train_loss"], np.add(h["train_ce"], 0.5 * np.asarray(h["train_kd"])), rtol=1e-5)
    # every step the optimiser takes sees a gradient of global norm <= grad_clip (and not without it)
    norms = []

    def record(opt, args, kwargs):
        g = [p.grad for grp in opt.param_groups for p in grp["params"] if p.grad is not None]
        norms.append(torch.sqrt(sum((x.float() ** 2).sum() for x in g)).item())

    from torch.optim.optimizer import register_optimizer_step_pre_hook

    handle = register_optimizer_step_pre_hook(record)
    try:
        fit(_mlp(), ArraySource([ws.X], [(ws.y, soft)], [0], device="cpu"), loss, CFG.replace(grad_clip=0.01))
        clipped, norms[:] = list(norms), []
        fit(_mlp(), ArraySource([ws.X], [(ws.y, soft)], [0], device="cpu"), loss, CFG)
    finally:
        handle.remove()
    assert len(clipped) == len(norms) > 0
    assert max(clipped) <= 0.01 * (1 + 1e-4) and min(norms) > 0.01


def test_stacked_clipping_is_per_model():
    """One model's huge gradient does not shrink another model's step."""
    from neuroaffect.training.engine import StackedModels

    st = StackedModels([_mlp(0), _mlp(1)], "cpu")
    for p in st.params.values():
        p.grad = torch.zeros_like(p)
        p.grad[0] = 100.0
        p.grad[1] = 1e-4
    st.clip_grad_(1.0)
    sq = sum(p.grad.pow(2).reshape(2, -1).sum(1) for p in st.params.values()).sqrt()
    assert sq[0].item() == pytest.approx(1.0, rel=1e-4)
    assert sq[1].item() < 1e-2  # untouched (below the cap)


def test_objectives_by_hand():
    out = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])
    y = torch.tensor([[0, 0]])
    per = -torch.log_softmax(out[0], dim=1)[[0, 1], [0, 0]]
    torch.testing.assert_close(CrossEntropy()(out, y), per.mean().reshape(1))
    torch.testing.assert_close(CrossEntropy()(out, y, torch.tensor([[True, False]])), per[:1])
    assert CrossEntropy().score(out, y).tolist() == [1.0]
    pred = torch.tensor([[[0.5], [-0.5]]])
    t = torch.tensor([[1.0, -1.0]])
    torch.testing.assert_close(MSELoss()(pred, t), torch.tensor([0.25]))
    # CCC of a perfect prediction is 1, of its negation -1; the loss is 1 - CCC
    torch.testing.assert_close(CCCLoss()(t[..., None], t), torch.tensor([0.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(CCCLoss()(-t[..., None], t), torch.tensor([2.0]), atol=1e-6, rtol=0)
    assert ccc([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0) and ccc([1, 2, 3], [2, 2, 2]) == 0.0
    # a shifted prediction keeps Pearson's r at 1 but loses CCC
    m = regression_metrics([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    assert m["pearson_r"] == pytest.approx(1.0) and m["rmse"] == pytest.approx(1.0) and m["ccc"] < 0.6


@pytest.mark.parametrize("name", sorted(list_models()))
def test_load_model_rebuilds_every_registered_model(tmp_path, name):
    kind = getattr(model_entrypoint(name), "input_kind", "tokens")
    ws = make_synthetic_windows(n_subjects=1, n_trials=6, n_windows=4, n_chans=8, n_bands=4, seed=2)
    rng = np.random.default_rng(0)
    X = {"raw": lambda: rng.standard_normal((ws.n_windows, 8, 128)).astype(np.float32),
         "maps": lambda: rng.standard_normal((ws.n_windows, 4, 16, 16)).astype(np.float32),
         "tokens": lambda: ws.X}[kind]()
    kw = {**TINY.get(name, {}), **({"size": 16, "width": 4} if kind == "maps" else {})}
    model = build_model(name, n_chans=8, n_bands=4, n_outputs=2, seed=3, model_kwargs=kw,
                        ch_pos=ws.ch_pos, n_times=128 if kind == "raw" else None)
    if kind == "maps":  # buffers travel with the checkpoint too
        model.set_input_stats(X.mean(0), X.std(0))
    ckpt = tmp_path / f"{name}.pt"
    r = train_model(model, X, ws.y, CFG.replace(epochs=1), checkpoint=ckpt)
    back = load_model(ckpt)
    assert type(back) is type(r.model) and not back.training
    for (k, a), (_, b) in zip(r.model.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), k
    (p1,) = predict(r.model, X, device="cpu")
    (p2,) = predict(back, X, device="cpu")
    np.testing.assert_array_equal(p1, p2)
    assert load_checkpoint(ckpt)["specs"][0]["name"] == name


def test_load_model_from_a_stacked_sweep_checkpoint(tmp_path):
    ws = make_synthetic_windows(n_subjects=2, n_trials=6, n_windows=4, n_chans=6, n_bands=4, seed=2)
    res = run_sweep(ws, "dgcnn", TINY["dgcnn"], n_folds=2, train_cfg=CFG.replace(epochs=1), keep_models=True,
                    checkpoint_dir=tmp_path, baselines=())
    (ckpt,) = tmp_path.glob("group-*.pt")
    for m, kept in enumerate(res.models):
        back = load_model(ckpt, index=m)
        for (k, a), (_, b) in zip(kept.state_dict().items(), back.state_dict().items()):
            assert torch.equal(a, b), k
    with pytest.raises(ValueError, match=r"group-000.pt: expected a model index in \[0, 4\)"):
        load_model(ckpt, index=4)
    # a model built outside the registry has no spec: refused with the reason
    plain = tmp_path / "plain.pt"
    train_model(_mlp(n_in=24), ws.X, ws.y, CFG.replace(epochs=1), checkpoint=plain)
    with pytest.raises(ValueError, match="plain.pt: expected a model spec"):
        load_model(plain)


def test_regression_sweep_beats_the_mean_baseline():
    ws = make_synthetic_windows(n_subjects=2, n_trials=16, n_windows=8, n_chans=6, n_bands=4, effect=1.0,
                                regression=True, seed=4)
    res = run_sweep(ws, "dgcnn", TINY["dgcnn"], n_folds=4, train_cfg=CFG.replace(epochs=15, lr=1e-2),
                    control=True)
    s = res.summary("trial")
    assert list(res.metrics) == ["rmse", "pearson_r", "ccc"]
    assert set(s.index) == {"dgcnn", "mean", "ridge", "dgcnn (shuffled labels)"}
    assert s.loc["mean", "ccc_mean"] == 0.0 and s.loc["mean", "pearson_r_mean"] == 0.0
    assert s.loc["dgcnn", "ccc_mean"] > 0.5 and s.loc["dgcnn", "rmse_mean"] < s.loc["mean", "rmse_mean"]
    # the control carries no information: no agreement, and no better than the training mean (with so few
    # trials per fold its r is even negative: held-out targets pull the training mean the other way)
    ctrl = s.loc["dgcnn (shuffled labels)"]
    assert ctrl["ccc_mean"] < 0.1 and ctrl["rmse_mean"] > 0.95 * s.loc["mean", "rmse_mean"]
    d = res.to_dict()
    assert d["task"] == "regression" and d["confusion"] is None
    md = sweep_markdown(res)
    assert "| model | RMSE | Pearson r | CCC |" in md and "| mean |" in md
    exp = run_experiment(ws, 1, "dgcnn", "trial-holdout", 4, CFG.replace(epochs=2), model_kwargs=TINY["dgcnn"],
                         loss="ccc")
    text = experiment_text(exp)
    assert "RMSE" in text and "CCC" in text and "mean" in text and exp.sweep.config["loss"] == "ccc"


def test_checkpoint_records_inputs_and_amp_is_not_claimed_on_cpu(tmp_path):
    ws = make_synthetic_windows(n_subjects=1, n_trials=6, n_windows=4, n_chans=6, n_bands=4, seed=2)
    ckpt = tmp_path / "c.pt"
    fit(_mlp(), (ws.X, ws.y), CrossEntropy(), CFG.replace(epochs=1), checkpoint=ckpt, inputs={"f.nc": "abc"})
    assert '"f.nc": "abc"' in load_checkpoint(ckpt)["inputs"]
    res = run_sweep(ws, "dgcnn", TINY["dgcnn"], n_folds=2, train_cfg=CFG.replace(epochs=1, device="auto"),
                    baselines=())
    assert res.config["train"]["amp"] is (torch.cuda.is_available())
    assert res.config["train"]["device"] in ("cpu", "cuda")


def test_a_diverged_sweep_fails_naming_its_folds():
    from neuroaffect.training.engine import TrainingDivergedError

    ws = make_synthetic_windows(n_subjects=1, n_trials=6, n_windows=4, n_chans=6, n_bands=4, seed=2)
    with pytest.raises(TrainingDivergedError, match=r"dgcnn, classification on folds \['sub-01_fold-0\d'.*not finite"):
        run_sweep(ws, "dgcnn", TINY["dgcnn"], n_folds=2, train_cfg=CFG.replace(epochs=3, lr=1e12), baselines=())


def test_seed_9_6_refuses_datasets_without_seed_clips():
    from neuroaffect.training import make_folds

    ws = make_synthetic_windows(n_subjects=1, n_trials=40, n_windows=2, n_chans=3, n_bands=2, seed=0)
    with pytest.raises(ValueError, match="expected SEED's trial numbers 1-15.*40 trials numbered 1-40"):
        make_folds(ws, "seed-9-6")


def test_resume_without_early_stopping_keeps_the_last_weights(tmp_path):
    """A finished checkpoint of a run without patience reloads (its empty 'best' state is not restored)."""
    ws = make_synthetic_windows(n_subjects=1, n_trials=6, n_windows=4, n_chans=6, n_bands=4, seed=2)
    ckpt = tmp_path / "c.pt"
    a = fit(_mlp(), (ws.X, ws.y), CrossEntropy(), CFG.replace(epochs=2), checkpoint=ckpt)

    class Stop(Exception):
        pass

    def stop(info):
        raise Stop

    ckpt2 = tmp_path / "d.pt"
    with pytest.raises(Stop):
        fit(_mlp(), (ws.X, ws.y), CrossEntropy(), CFG.replace(epochs=2), checkpoint=ckpt2, callbacks=[stop])
    b = fit(_mlp(), (ws.X, ws.y), CrossEntropy(), CFG.replace(epochs=2), checkpoint=ckpt2)
    again = fit(_mlp(), (ws.X, ws.y), CrossEntropy(), CFG.replace(epochs=2), checkpoint=ckpt)
    assert b.resumed_from == 1 and again.resumed_from == 2
    for x, y, z in zip(a.model.state_dict().values(), b.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(x, y) and torch.equal(x, z)


@pytest.mark.slow
def test_monitored_selection_callback_state_and_the_epoch_for_the_loss(tmp_path):
    """Selection by any history key (max, over all epochs), callback state in the checkpoint and the epoch told to
    the loss: a run killed in a callback resumes to the same history, selection, weights and callback state."""
    ws = make_synthetic_windows(n_subjects=1, n_trials=6, n_windows=4, n_chans=6, n_bands=4, seed=2)

    class Loss(CrossEntropy):
        def __init__(self):
            super().__init__()
            self.told = []

        def set_epoch(self, epoch, n_epochs):
            self.told.append((epoch, n_epochs))

        def __repr__(self):
            return "Loss()"

    class Seen:
        def __init__(self, stop_at=None):
            self.seen, self.stop_at = [], stop_at

        def __call__(self, info):
            if info.epoch == self.stop_at:
                raise KeyboardInterrupt
            self.seen.append(info.epoch)

        def state_dict(self):
            return {"seen": list(self.seen)}

        def load_state_dict(self, state):
            self.seen = list(state["seen"])

    def metric(model):
        return {"val_score": float(model[1].weight.detach().sum())}

    cfg = CFG.replace(epochs=4)
    kw = {"val_metrics": metric, "monitor": "val_score", "mode": "max", "select": True}
    loss, cb = Loss(), Seen()
    a = fit(_mlp(), (ws.X, ws.y), loss, cfg, callbacks=[cb], **kw)
    scores = a.histories[0]["val_score"]
    assert loss.told == [(e, 4) for e in range(4)] and cb.seen == [0, 1, 2, 3]
    assert len(scores) == 4 and a.best_epochs == [int(np.argmax(scores))] and a.stopped_early == [False]
    ckpt = tmp_path / "c.pt"
    with pytest.raises(KeyboardInterrupt):
        fit(_mlp(), (ws.X, ws.y), Loss(), cfg, callbacks=[Seen(stop_at=2)], checkpoint=ckpt, **kw)
    state = load_checkpoint(ckpt)
    assert state["epoch"] == 2 and state["callbacks"] == [{"seen": [0, 1]}]  # written after the callbacks ran
    loss, cb = Loss(), Seen()
    b = fit(_mlp(), (ws.X, ws.y), loss, cfg, callbacks=[cb], checkpoint=ckpt, **kw)
    assert b.resumed_from == 2 and cb.seen == [0, 1, 2, 3] and loss.told == [(2, 4), (3, 4)]
    np.testing.assert_equal(b.histories, a.histories)  # NaN validation losses (no val set) included
    assert b.best_epochs == a.best_epochs
    for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()):
        assert torch.equal(x, y)
    with pytest.raises(ValueError, match="'mode' parameter"):
        fit(_mlp(), (ws.X, ws.y), Loss(), cfg, val_metrics=metric, monitor="val_score", mode="best")
