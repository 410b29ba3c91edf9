"""braindecode's EEGNet and ShallowFBCSPNet behind the model registry: same networks as
braindecode's own, batched (vmap) training with batch norm, and learning a planted rhythm
from raw windows cut by :func:`neuroaffect.features.raw.extract_raw_windows`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.func import functional_call

from neuroaffect.channels import EEG_CH_NAMES
from neuroaffect.features.raw import extract_raw_windows
from neuroaffect.io import Recording
from neuroaffect.models import (
    EEGNetBaseline, RawBaseline, ShallowFBCSPNetBaseline, create_model, model_entrypoint, stack_models,
)
from neuroaffect.models.baselines import _MaxNorm

RAW = {"eegnet": ("EEGNet", EEGNetBaseline), "shallowfbcspnet": ("ShallowFBCSPNet", ShallowFBCSPNetBaseline)}
SFREQ, N_TIMES = 128.0, 128  # 1-s windows


def _braindecode(cls_name: str, **kwargs):
    import braindecode.models

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # braindecode's own import and head-argument warnings
        return getattr(braindecode.models, cls_name)(**kwargs)


@pytest.mark.parametrize("name", RAW)
@pytest.mark.parametrize("n_chans, n_outputs", [(14, 2), (32, 3)])
def test_same_network_as_braindecode(name, n_chans, n_outputs):
    cls_name, cls = RAW[name]
    torch.manual_seed(3)
    model = create_model(name, n_chans=n_chans, n_bands=4, n_outputs=n_outputs, n_times=N_TIMES)
    assert type(model) is cls and isinstance(model, RawBaseline) and model.input_kind == "raw"
    assert model_entrypoint(name) is cls
    torch.manual_seed(3)
    ref = _braindecode(cls_name, n_chans=n_chans, n_outputs=n_outputs, n_times=N_TIMES)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == sum(p.numel() for p in ref.parameters())
    # same layers, names, initial weights and buffers
    sd, rd = model.state_dict(), ref.state_dict()
    assert list(sd) == list(rd)
    for k in sd:
        torch.testing.assert_close(sd[k], rd[k], rtol=0, atol=0, msg=k)
    assert isinstance(model.final_layer, torch.nn.Sequential)
    assert model.final_layer.conv_classifier.out_channels == n_outputs
    x = torch.randn(6, n_chans, N_TIMES)
    torch.testing.assert_close(model.eval()(x), ref.eval()(x), rtol=1e-5, atol=1e-6)
    torch.manual_seed(0)
    out = model.train()(x)
    torch.manual_seed(0)
    torch.testing.assert_close(out, ref.train()(x), rtol=1e-5, atol=1e-6)  # same dropout draws
    # braindecode's constructor signature also works directly; n_bands is optional and ignored
    direct = cls(n_chans, n_outputs, N_TIMES)
    assert sum(p.numel() for p in direct.parameters()) == n_params


def test_parameter_counts():
    # EEGNet (F1=8, D=2, F2=16, kernel 64) and ShallowFBCSPNet (40 + 40 filters) at 32 channels, 1 s, 2 classes
    counts = {name: sum(p.numel() for p in create_model(name, n_chans=32, n_bands=4, n_outputs=2,
                                                          n_times=N_TIMES).parameters()) for name in RAW}
    assert counts == {
        "eegnet": 8 * 64 + 2 * 8 + 16 * 32 + 2 * 16 + 16 * 16 + 16 * 16 + 2 * 16 + (16 * 4 + 1) * 2,
        "shallowfbcspnet": 40 * 25 + 40 + 40 * 40 * 32 + 2 * 40 + (40 * 2 + 1) * 2,
    }


@pytest.mark.parametrize("name", RAW)
def test_arguments_and_input_checks(name):
    with pytest.raises(ValueError, match="'n_times'.*length in samples.*got None"):
        create_model(name, n_chans=8, n_bands=4, n_outputs=2)
    with pytest.raises(ValueError, match="'n_times'.*positive int.*got 12.5"):
        create_model(name, n_chans=8, n_bands=4, n_outputs=2, n_times=12.5)
    with pytest.raises(ValueError, match="'n_chans'.*positive int.*got 0"):
        create_model(name, n_chans=0, n_bands=4, n_outputs=2, n_times=N_TIMES)
    model = create_model(name, n_chans=8, n_bands=99, n_outputs=2, n_times=N_TIMES)  # n_bands ignored
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 8, 128\).*\(2, 128, 8\)"):
        model(torch.randn(2, N_TIMES, 8))
    # other keywords reach braindecode
    model = create_model(name, n_chans=8, n_bands=4, n_outputs=2, n_times=N_TIMES, drop_prob=0.125)
    assert getattr(model, "drop_2" if name == "eegnet" else "drop").p == 0.125


def test_max_norm_equals_renorm_and_constrains_the_spatial_filters():
    torch.manual_seed(0)
    w = (3 * torch.randn(16, 1, 8, 1, dtype=torch.float64)).requires_grad_()
    g = torch.randn(16, 1, 8, 1, dtype=torch.float64)
    (w.renorm(2, 0, 1.0) * g).sum().backward()
    ref_grad, w.grad = w.grad.clone(), None
    out = _MaxNorm(1.0)(w)
    (out * g).sum().backward()
    torch.testing.assert_close(out, w.renorm(2, 0, 1.0), rtol=0, atol=0)
    torch.testing.assert_close(w.grad, ref_grad)
    model = create_model("eegnet", n_chans=8, n_bands=4, n_outputs=2, n_times=N_TIMES)
    with torch.no_grad():
        model.conv_spatial.parametrizations.weight.original.mul_(10.0)
    norms = torch.linalg.vector_norm(model.conv_spatial.weight.flatten(1), dim=1)
    assert (norms <= 1.0 + 1e-6).all()


@pytest.mark.parametrize("name", RAW)
def test_vmap_training_with_batch_norm_equals_separate_steps(name):
    """Stacked buffers: each model's running statistics get exactly its own update."""
    models = [create_model(name, n_chans=8, n_bands=4, n_outputs=2, n_times=N_TIMES, drop_prob=0.0)
              for _ in range(3)]
    params, buffers, base = stack_models(models)
    before = {k: v.clone() for k, v in buffers.items()}
    base.train()
    x = torch.randn(3, 10, 8, N_TIMES)
    y = torch.arange(10) % 2

    def loss(p, b, xx):
        return torch.nn.functional.cross_entropy(functional_call(base, (p, b), (xx,)), y)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. vmap's "performance drop" fallback warning
        grads = torch.vmap(torch.func.grad(loss), in_dims=(0, 0, 0), randomness="different")(params, buffers, x)
    for m, (model, xb) in enumerate(zip(models, x)):
        model.train()
        torch.nn.functional.cross_entropy(model(xb), y).backward()
        for k, p in model.named_parameters():
            torch.testing.assert_close(grads[k][m], p.grad, rtol=1e-4, atol=1e-6, msg=k)
        for k, b in model.named_buffers():
            torch.testing.assert_close(buffers[k][m], b, msg=k)
    assert all(not torch.equal(before[k], buffers[k]) for k in buffers if k.endswith("running_mean"))
    # unstacked buffers cannot take the in-place update: torch refuses
    flat = {k: v[0] for k, v in buffers.items()}
    with pytest.raises(RuntimeError, match="running_mean or running_var"):
        torch.vmap(lambda p, b, xx: functional_call(base, (p, b), (xx,)), in_dims=(0, None, 0),
                   randomness="different")(params, flat, x)


# --- learning a planted rhythm from raw windows ------------------------------------------------

def _planted_recording(n_trials: int, seed: int):
    """2 classes: a 10 Hz source seen on 3 of 8 channels, 12 µV (class 1) or 3 µV (class 0), in 10 µV noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_trials) % 2
    n_times = int(20 * SFREQ)
    t = np.arange(n_times) / SFREQ
    eeg = rng.normal(0.0, 10e-6, (n_trials, 8, n_times))
    amp = np.where(y == 1, 12e-6, 3e-6)[:, None, None]
    eeg[:, :3] += amp * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 2 * np.pi, (n_trials, 1, 1)))  # one phase
    rec = Recording(dataset="deap", subject=1, eeg=eeg, sfreq=SFREQ, ch_names=EEG_CH_NAMES["deap"][:8])
    return rec, y


@pytest.mark.parametrize("name", RAW)
def test_learns_a_planted_rhythm(name, one_torch_thread):
    torch.manual_seed(0)
    rec, y_trial = _planted_recording(16, seed=1)
    windows, n_win, _ = extract_raw_windows(rec, N_TIMES, l_freq=1.0, h_freq=40.0)  # (16, 20, 8, 128), µV
    assert (n_win == 20).all()
    train, test = np.arange(16) < 12, np.arange(16) >= 12  # held-out trials
    scale = windows[train].std(axis=(0, 1, 3), keepdims=True)  # per channel, training set only
    X = torch.as_tensor(windows / scale)
    Y = torch.as_tensor(np.repeat(y_trial[:, None], 20, axis=1))
    Xtr, Ytr = X[train].flatten(0, 1), Y[train].flatten(0, 1)  # 240 windows
    Xte, Yte = X[test].flatten(0, 1), Y[test].flatten(0, 1)  # 80 windows
    model = create_model(name, n_chans=8, n_bands=1, n_outputs=2, n_times=N_TIMES)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        model.train()
        for idx in torch.randperm(len(Xtr), generator=gen).split(16):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xtr[idx]), Ytr[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(Xte).argmax(1) == Yte).float().mean().item()
    assert acc > 0.8, acc


@pytest.mark.slow
def test_eegnet_through_the_sweep_learns_and_batches_like_the_loop(one_torch_thread):
    """The whole raw-window path: a recording with a planted rhythm -> extract_features(raw=True)
    -> windows_from_features(kind="raw") -> run_sweep("eegnet") learns it on held-out trials; and
    the stacked EEGNets (batch norm with per-model running statistics) train as the loop does."""
    from neuroaffect.features import extract_features
    from neuroaffect.training import TrainConfig, run_sweep, windows_from_features

    planted, y_trial = _planted_recording(16, seed=1)
    rec = Recording(dataset="deap", subject=1, eeg=planted.eeg, sfreq=SFREQ, ch_names=planted.ch_names,
                    labels={"valence": np.where(y_trial == 1, 8.0, 2.0)}, label_range={"valence": (1.0, 9.0)})
    ds = extract_features(rec, dict(raw=True, raw_band=(1.0, 40.0), topo=False, physio=False))
    ws = windows_from_features([ds], "valence", "binary", kind="raw")
    assert ws.X.shape == (16 * 20, 8, N_TIMES) and ws.kind == "raw"
    cfg = TrainConfig(epochs=4, batch_size=16, lr=1e-2, device="cpu")
    res = run_sweep(ws, "eegnet", None, "trial-holdout", 2, cfg, baselines=("majority",))
    s = res.summary("trial")
    assert s.loc["eegnet", "accuracy_mean"] > 0.8 and s.loc["majority", "accuracy_mean"] <= 0.5, s
    # Stacked and plain training agree in their losses to ~1e-7; their weights not exactly: under
    # AdamW a parameter whose gradient is near 0 moves by g / (|g| + eps), so the rounding
    # differences of vmapped convolutions move such parameters visibly, though they barely change
    # the outputs (measured: predictions within 3e-4 after two epochs at lr 1e-3).
    kw = dict(model_kwargs={"drop_prob": 0.0}, protocol="trial-holdout", n_folds=2,
              train_cfg=cfg.replace(epochs=2, lr=1e-3), baselines=())
    rb, rp = run_sweep(ws, "eegnet", batched=True, **kw), run_sweep(ws, "eegnet", batched=False, **kw)
    for hb, hp in zip(rb.histories, rp.histories):
        np.testing.assert_allclose(hb["train_loss"], hp["train_loss"], rtol=1e-5)
    for pb, pp in zip(rb.predictions, rp.predictions):
        np.testing.assert_allclose(pb.proba, pp.proba, atol=2e-3)
