"""Mixed precision follows its flag: autocast only on CUDA with ``amp`` on, never when it is off, and
results record what was used (``amp`` false on CPU whatever was asked)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from torch import nn

import neuroaffect.training.engine as engine
from neuroaffect.training import ArraySource, CrossEntropy, TrainConfig, fit, predict

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CUDA, CPU = torch.device("cuda"), torch.device("cpu")


@pytest.mark.parametrize("amp, device, used", [(True, CUDA, True), (False, CUDA, False), (True, CPU, False),
                                               (False, CPU, False)])
def test_amp_is_used_only_on_cuda_and_only_when_asked(amp, device, used):
    assert TrainConfig(amp=amp).amp_on(device) is used


def test_autocast_context_follows_enabled(monkeypatch):
    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return contextlib.nullcontext()

    monkeypatch.setattr(torch, "autocast", fake)
    for device, enabled in ((CUDA, False), (CPU, True), (CPU, False)):
        with engine.autocast(device, enabled):
            pass
    assert calls == []  # no autocast when off, and none on CPU
    with engine.autocast(CUDA, True):
        pass
    assert calls == [{"device_type": "cuda", "dtype": torch.bfloat16}]


def test_cpu_records_amp_off_whatever_was_asked():
    for amp in (True, False):
        rec = TrainConfig(amp=amp, device="cpu").resolved()
        assert rec["amp"] is False and rec["device"] == "cpu"
    assert TrainConfig(amp=True, device="cpu").to_dict()["amp"] is True  # the request itself is kept


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 6)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


@pytest.mark.parametrize("used", [True, False])
def test_fit_and_predict_pass_the_flag_as_used_on_the_device(monkeypatch, used):
    seen = []

    def spy(device, enabled):
        seen.append(bool(enabled))
        return contextlib.nullcontext()

    monkeypatch.setattr(engine, "autocast", spy)
    monkeypatch.setattr(TrainConfig, "amp_on", lambda self, device: used)  # what the device allows
    X, y = _data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 2))
    fit(model, ArraySource([X], [y], [0], device="cpu"), CrossEntropy(), TrainConfig(epochs=1, batch_size=16,
                                                                                   device="cpu", amp=True))
    assert seen and set(seen) == {used}
    seen.clear()
    predict(model, X, device="cpu", amp=False)
    assert seen and set(seen) == {False}  # predict's own flag, off
