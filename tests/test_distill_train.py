"""Training the student through the engine: selection by validation macro-F1, the shuffled grid, resume."""

import copy

import numpy as np
import pytest
import torch

import neuroaffect.distill.train as dtrain
from neuroaffect.distill import ValMacroF1, evaluate_student, shuffled_grid, train_student
from neuroaffect.io.faces import FaceSet
from neuroaffect.training import TrainConfig

CFG = TrainConfig(epochs=2, batch_size=16, lr=1e-3, weight_decay=0.05, grad_clip=1.0, label_smoothing=0.055,
                  device="cpu", eval_batch_size=64)
OPTS = {"ramp": (0.0, 0.5)}  # D-Geo off in epoch 0, fully on in epoch 1


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small inputs: one thread is fastest on shared CPUs


def _faces(n, split, seed, size=10):
    """Faces whose mean brightness tells the class, with crowd votes peaked on it."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 8
    img = np.clip(y[:, None, None] * 28 + rng.normal(20, 12, (n, size, size)), 0, 255).astype(np.uint8)
    votes = rng.random((n, 8)).astype(np.float32)
    votes[np.arange(n), y] += 4
    return FaceSet("ferplus", labels=y, split=[split] * n, images=img, soft_labels=votes)


@pytest.fixture(scope="module")
def data(random_grid):
    return _faces(16, "train", 0), _faces(8, "val", 1), random_grid(dim=8)  # 3 x 3 grid (tests/conftest.py)


def _same(a, b):
    return all(torch.equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values()))


def test_shuffled_grid_moves_every_prototype(data):
    g = data[2]
    s = shuffled_grid(g, seed=3)
    perm = np.asarray(s.card["arm"]["permutation"])
    assert sorted(perm) == list(range(9)) and np.all(perm != np.arange(9))
    np.testing.assert_array_equal(s.as_array(), g.as_array()[perm])  # the same vectors, bins permuted
    assert not np.any(np.all(s.as_array() == g.as_array(), axis=1))
    np.testing.assert_array_equal(s.bin_centres(), g.bin_centres())
    assert s.sha256 != g.sha256 and s.card["arm"]["source_sha256"] == g.sha256
    np.testing.assert_array_equal(shuffled_grid(g, seed=3).prototypes, s.prototypes)  # seeded
    assert not np.array_equal(shuffled_grid(g, seed=4).prototypes, s.prototypes)
    assert g.card.get("arm") is None  # the original grid is untouched


@pytest.mark.slow
def test_train_student_runs_the_engine_and_selects_best_val_macro_f1(data, monkeypatch):
    train, val, grid = data
    calls, snapshots = [], []
    real_fit = dtrain.fit

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_fit(*args, **kwargs)

    scripted = iter([0.60, 0.30])  # the best epoch (0) is not the last (1)
    monkeypatch.setattr(dtrain, "fit", spy)
    monkeypatch.setattr(ValMacroF1, "evaluate", lambda self, model: next(scripted))

    def snap(info):
        snapshots.append(copy.deepcopy(info.model).eval())

    res = train_student(train, val, grid, "B3", CFG, in_size=8, callbacks=[snap], loss_options=OPTS)
    assert len(calls) == 1 and calls[0]["callbacks"][-1] is snap  # one call of the engine's loop
    h = res.history
    assert {"train_loss", "train_acc", "lr", "batch_size", "train_ce", "train_kd", "train_proto", "train_geo",
            "train_geo_weight"} <= set(h)  # the engine's history, with the loss's parts
    assert len(h["train_loss"]) == 2 and h["val_macro_f1"] == [0.60, 0.30]
    assert h["train_geo_weight"] == pytest.approx([0.0, 1.0])
    assert res.selected_epoch == 0 and res.val_macro_f1 == 0.60
    assert _same(res.model, snapshots[0]) and not _same(res.model, snapshots[1])
    assert not res.model.training and res.grid_sha256 == grid.sha256
    assert 0 < res.proto_target_entropy <= 1 and res.record["selected_epoch"] == 0


def test_control_arm_and_selection_scores_are_the_evaluation_of_the_kept_weights(data):
    train, val, grid = data
    res = train_student(train, val, grid, "B3", CFG.replace(epochs=1), in_size=8, shuffle_grid=True, shuffle_seed=2)
    assert res.grid_sha256 == shuffled_grid(grid, 2).sha256 != grid.sha256
    assert res.record["inputs"]["shuffle_grid"] is True
    assert len(res.history["val_macro_f1"]) == 1 and res.val_macro_f1 == res.history["val_macro_f1"][0]
    assert evaluate_student(res.model, val, device="cpu")["macro_f1"] == pytest.approx(res.val_macro_f1)
    with pytest.raises(ValueError, match="patience=None"):
        train_student(train, val, grid, "B3", CFG.replace(patience=2), in_size=8)
    with pytest.raises(ValueError, match="proj_dim"):
        train_student(train, val, grid, "B3", CFG, in_size=8, proj_dim=16)
    with pytest.raises(ValueError, match="'arm' parameter"):
        train_student(train, val, grid, "B5", CFG, in_size=8)
    with pytest.raises(ValueError, match="needs a grid"):
        train_student(train, val, None, "B1", CFG, in_size=8, shuffle_grid=True)


@pytest.mark.slow
def test_resume_continues_bit_identically(data, tmp_path, monkeypatch):
    """Killed while scoring epoch 1 (the checkpoint holds epoch 0, its score and selection): resumed, identical."""
    train, val, grid = data
    full = train_student(train, val, grid, "B3", CFG, in_size=8, loss_options=OPTS)

    class Stop(Exception):
        pass

    real = ValMacroF1.evaluate
    scored = []

    def killed(self, model):
        if scored:
            raise Stop
        scored.append(1)
        return real(self, model)

    ckpt = tmp_path / "ckpt.pt"
    monkeypatch.setattr(ValMacroF1, "evaluate", killed)
    with pytest.raises(Stop):
        train_student(train, val, grid, "B3", CFG, in_size=8, loss_options=OPTS, checkpoint=ckpt)
    monkeypatch.setattr(ValMacroF1, "evaluate", real)
    res = train_student(train, val, grid, "B3", CFG, in_size=8, loss_options=OPTS, checkpoint=ckpt)
    assert res.fit.resumed_from == 1
    assert res.history["train_loss"] == full.history["train_loss"]
    assert res.history["train_geo_weight"] == full.history["train_geo_weight"]  # the ramp resumed where it was
    assert res.history["val_macro_f1"] == full.history["val_macro_f1"]
    assert res.selected_epoch == full.selected_epoch and _same(res.model, full.model)
    # a finished checkpoint is loaded, not trained again, and gives the same selected student
    again = train_student(train, val, grid, "B3", CFG, in_size=8, loss_options=OPTS, checkpoint=ckpt)
    assert again.fit.resumed_from == 2 and _same(again.model, full.model)
