"""CUDA-only checks: bf16 autocast on every model, batched sweep = loop, resume and load_model on a GPU.

Every test here is marked ``gpu`` and skipped, with the reason, when ``torch.cuda.is_available()``
is false, so ``make test`` on a CPU machine passes them by. ``benchmarks/device_check.sh`` runs
them on a GPU machine (``pytest -m gpu``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_MODELS

from neuroaffect.models import list_models, model_entrypoint
from neuroaffect.training import (
    TrainConfig, build_model, load_checkpoint, load_model, make_synthetic_windows, predict, run_sweep,
    train_batched, train_model,
)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA GPU (torch.cuda.is_available() is False); "
                              "benchmarks/device_check.sh runs these on a GPU machine"),
]

N_CHANS, N_BANDS, N_TIMES, SIZE = 32, 4, 128, 32
#: Batched (torch.vmap -> batched matrix products) and plain (one model at a time) training use
#: different cuBLAS kernels, whose float32 sums are ordered differently: the two start to differ
#: at float32 rounding (~1e-7 relative) and the differences grow over the AdamW steps. Bound
#: used: 1e-3 relative and 1e-4 absolute on weights, 1e-4 on probabilities, 1e-4 relative on
#: losses (ten times the CPU test's); a wrong data rule or seed differs by ~1e-1.
CUDA_RTOL, CUDA_ATOL, PROBA_ATOL, LOSS_RTOL = 1e-3, 1e-4, 1e-4, 1e-4


@pytest.fixture
def fp32_cuda():
    """Plain float32 on CUDA: TF32 off for matrix products and convolutions (restored after)."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def _kind(name: str) -> str:
    return getattr(model_entrypoint(name), "input_kind", "tokens")


def _windows(n_trials=6, n_windows=8, seed=0, n_subjects=1):
    return make_synthetic_windows(n_subjects=n_subjects, n_trials=n_trials, n_windows=n_windows, n_chans=N_CHANS,
                                  n_bands=N_BANDS, effect=0.8, seed=seed)


def _inputs(name: str, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = {"tokens": (N_CHANS, N_BANDS), "raw": (N_CHANS, N_TIMES), "maps": (N_BANDS, SIZE, SIZE)}[_kind(name)]
    return rng.standard_normal((n,) + shape).astype(np.float32)


def _model(name: str, seed: int = 0, **kwargs):
    kw = {**({"size": SIZE} if _kind(name) == "maps" else {}), **kwargs}
    return build_model(name, n_chans=N_CHANS, n_bands=N_BANDS, n_outputs=2, seed=seed, model_kwargs=kw,
                       ch_pos=_windows().ch_pos, n_times=N_TIMES if _kind(name) == "raw" else None)


@pytest.mark.parametrize("name", list_models())
def test_bf16_autocast_forward_backward_of_every_model(name):
    """Forward under bf16 autocast, backward in float32 master weights: finite, and bf16 really used."""
    model = _model(name).cuda().train()
    x = torch.from_numpy(_inputs(name, 64)).cuda()
    y = torch.arange(64, device="cuda") % 2
    seen = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: seen.append(o.dtype) if torch.is_tensor(o) else None)
             for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d))]
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        out = model(x)
    for h in hooks:
        h.remove()
    assert out.shape == (64, 2) and out.is_cuda
    assert torch.bfloat16 in seen, f"{name}: no linear or convolution layer ran in bf16 under autocast"
    assert torch.isfinite(out.float()).all()
    F.cross_entropy(out.float(), y).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert any(g is not None for g in grads)
    for g in grads:
        assert g is None or (g.dtype == torch.float32 and torch.isfinite(g).all())
    # and through the engine: one epoch with cfg.amp (bf16 autocast on CUDA) gives a finite loss
    X = _inputs(name, 96, seed=1)
    yt = (np.arange(96) % 2).astype(np.int64)
    cfg = TrainConfig(epochs=1, batch_size=32, device="cuda")
    assert cfg.amp_on(torch.device("cuda"))
    res = train_model(_model(name, seed=1), X, yt, cfg)
    assert np.isfinite(res.history["train_loss"]).all()
    assert next(res.model.parameters()).is_cuda


@pytest.mark.parametrize("name", ["rbtransformer", "dgcnn", "rgnn"])
def test_batched_sweep_equals_loop_on_cuda(name, fp32_cuda):
    """The vmap path and the plain loop train the same weights on CUDA (float32, no dropout)."""
    ws = _windows(n_trials=11, n_subjects=2)
    cfg = TrainConfig(epochs=3, batch_size=16, lr=3e-3, device="cuda", amp=False)
    kw = dict(model_kwargs={"dropout": 0.0}, protocol="trial-holdout", n_folds=3, train_cfg=cfg, keep_models=True,
              baselines=())
    rb = run_sweep(ws, name, batched=True, **kw)
    rp = run_sweep(ws, name, batched=False, **kw)
    assert rb.config["train"]["device"].startswith("cuda") and rb.config["train"]["amp"] is False
    assert len({f["n_fit"] for f in rb.folds}) > 1  # unequal training sets: the wrap-around rule runs
    for mb, mp in zip(rb.models, rp.models):
        for (k, a), (_, b) in zip(mb.state_dict().items(), mp.state_dict().items()):
            torch.testing.assert_close(a.cpu(), b.cpu(), rtol=CUDA_RTOL, atol=CUDA_ATOL, msg=k)
    for pb, pp in zip(rb.predictions, rp.predictions):
        np.testing.assert_allclose(pb.proba, pp.proba, atol=PROBA_ATOL)
    for hb, hp in zip(rb.histories, rp.histories):
        np.testing.assert_allclose(hb["train_loss"], hp["train_loss"], rtol=LOSS_RTOL)
    w = [m.state_dict()["final_layer.weight"].cpu() for m in rb.models]
    assert not torch.allclose(w[0], w[1])  # the stacked models differ (own data and seeds)


class _Stop(Exception):
    pass


def _stop_after_two_epochs(info):
    if info.epoch == 1:
        raise _Stop


def test_checkpoint_resume_on_cuda(tmp_path):
    """A run stopped after two epochs resumes on CUDA and ends where the uninterrupted run ends.

    With dropout on, this also checks that the CUDA RNG state travels with the checkpoint.
    """
    ws = _windows(n_trials=8, n_subjects=2)
    fits = [(ws.X[ws.subject == s], ws.y[ws.subject == s]) for s in (1, 2)]
    fits[1] = (fits[1][0][:40], fits[1][1][:40])
    kw = {**TINY_MODELS["rbtransformer"], "dropout": 0.1}

    def models():
        return [build_model("rbtransformer", n_chans=N_CHANS, n_bands=N_BANDS, n_outputs=2, seed=s, model_kwargs=kw)
                for s in (7, 8)]

    cfg = TrainConfig(epochs=4, batch_size=16, lr=3e-3, device="cuda")
    full = train_batched(models(), fits, cfg, [7, 8])
    ckpt = tmp_path / "group.pt"
    with pytest.raises(_Stop):
        train_batched(models(), fits, cfg, [7, 8], checkpoint=ckpt, callbacks=[_stop_after_two_epochs])
    state = load_checkpoint(ckpt)
    assert state["epoch"] == 2 and len(state["cuda_rng"]) >= 1
    resumed = train_batched(models(), fits, cfg, [7, 8], checkpoint=ckpt)
    assert resumed.resumed_from == 2
    for k in full.params:
        assert resumed.params[k].is_cuda, k
        torch.testing.assert_close(resumed.params[k], full.params[k], rtol=1e-5, atol=1e-6, msg=k)
    for hr, hf in zip(resumed.histories, full.histories):
        np.testing.assert_allclose(hr["train_loss"], hf["train_loss"], rtol=1e-5)
    # one model through train_model (with a validation set and early-stopping bookkeeping): the same
    single = tmp_path / "single.pt"
    X, y = fits[0]
    cfg1 = cfg.replace(patience=10)
    val = dict(X_val=fits[1][0], y_val=fits[1][1])
    ref = train_model(models()[0], X, y, cfg1, **val)
    with pytest.raises(_Stop):
        train_model(models()[0], X, y, cfg1, checkpoint=single, callbacks=[_stop_after_two_epochs], **val)
    again = train_model(models()[0], X, y, cfg1, checkpoint=single, **val)
    assert again.resumed_from == 2
    for (k, a), (_, b) in zip(ref.model.state_dict().items(), again.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=k)


@pytest.mark.parametrize("name", list_models())
def test_load_model_onto_cuda(tmp_path, name):
    """A checkpoint written by CUDA training rebuilds the model on CUDA, weights and outputs equal."""
    X = _inputs(name, 48)
    y = (np.arange(48) % 2).astype(np.int64)
    model = _model(name, seed=3)
    if _kind(name) == "maps":  # buffers travel with the checkpoint too
        model.set_input_stats(X.mean(0), X.std(0))
    ckpt = tmp_path / f"{name}.pt"
    r = train_model(model, X, y, TrainConfig(epochs=1, batch_size=16, device="cuda"), checkpoint=ckpt)
    back = load_model(ckpt, map_location="cuda")
    assert type(back) is type(r.model) and not back.training
    for (k, a), (_, b) in zip(r.model.state_dict().items(), back.state_dict().items()):
        assert b.is_cuda, k
        assert torch.equal(a, b), k
    (p1,) = predict(r.model, X, device="cuda")
    (p2,) = predict(back, X, device="cuda")
    np.testing.assert_array_equal(p1, p2)


def test_load_model_from_a_stacked_cuda_checkpoint(tmp_path):
    ws = _windows(n_trials=6, n_subjects=2)
    res = run_sweep(ws, "dgcnn", TINY_MODELS["dgcnn"], n_folds=2,
                    train_cfg=TrainConfig(epochs=1, batch_size=16, device="cuda"), keep_models=True,
                    checkpoint_dir=tmp_path, baselines=())
    (ckpt,) = tmp_path.glob("group-*.pt")
    for m, kept in enumerate(res.models):
        back = load_model(ckpt, index=m, map_location="cuda")
        for (k, a), (_, b) in zip(kept.state_dict().items(), back.state_dict().items()):
            assert b.is_cuda, k
            torch.testing.assert_close(a.to(b.device), b, rtol=0, atol=0, msg=k)
