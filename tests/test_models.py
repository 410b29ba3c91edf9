"""Models: one contract for every registered model, exact parameter counts, graph layers
against torch-geometric, batched (vmap) execution, baselines, and import hygiene."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from neuroaffect.models import (
    DGCNN, RGNN, LogisticTokens, MajorityClassifier, RBTransformer, create_model,
    find_homologous_pairs, gaussian_knn_adjacency, inverse_square_adjacency, list_models,
    model_entrypoint, stack_models,
)

# Every registered name must appear here (see test_every_registered_model_is_covered).
TOKEN_MODELS = ["rbtransformer", "dgcnn", "rgnn"]
RAW_MODELS = ["eegnet", "shallowfbcspnet"]  # braindecode's, part of the pinned environment
MAP_MODELS = ["topoteacher"]  # band-wise scalp maps
ALL_MODELS = TOKEN_MODELS + RAW_MODELS + MAP_MODELS
MAP_SIZE = 16
N_CHANS, N_BANDS, N_OUT = 14, 4, 3
N_TIMES = 128  # raw models: 1-s windows at 128 Hz


def _positions(n_chans: int, seed: int = 0) -> np.ndarray:
    """Points on the upper half of a unit sphere, left/right mirrored where possible."""
    rng = np.random.default_rng(seed)
    half = n_chans // 2
    theta = rng.uniform(0.2, 1.3, half)
    phi = rng.uniform(0.2, np.pi - 0.2, half)
    left = np.c_[-np.sin(theta) * np.sin(phi), np.sin(theta) * np.cos(phi), np.cos(theta)]
    right = left * [-1, 1, 1]
    mid = np.c_[np.zeros(n_chans - 2 * half), rng.uniform(-0.5, 0.5, n_chans - 2 * half),
                np.ones(n_chans - 2 * half) * 0.8]
    return np.concatenate([left, right, mid])


def _build(name: str, n_chans: int = N_CHANS, n_outputs: int = N_OUT, seed: int = 0, **kwargs):
    if model_entrypoint(name).requires_ch_pos:
        kwargs.setdefault("ch_pos", _positions(n_chans))
    if model_entrypoint(name).input_kind == "raw":
        kwargs.setdefault("n_times", N_TIMES)
    if model_entrypoint(name).input_kind == "maps":
        kwargs.setdefault("size", MAP_SIZE)
    torch.manual_seed(seed)
    return create_model(name, n_chans=n_chans, n_bands=N_BANDS, n_outputs=n_outputs, **kwargs)


def _input(name: str, *batch: int) -> torch.Tensor:
    """Random input of shape (*batch, n_chans, n_bands), (*batch, n_chans, n_times) for raw models, or
    (*batch, n_bands, size, size) for map models."""
    if model_entrypoint(name).input_kind == "maps":
        return torch.randn(*batch, N_BANDS, MAP_SIZE, MAP_SIZE)
    width = N_TIMES if model_entrypoint(name).input_kind == "raw" else N_BANDS
    return torch.randn(*batch, N_CHANS, width)


def _logits_from_embedding(model, emb):
    """``final_layer`` applied to ``forward_head(..., pre_logits=True)``."""
    if model.input_kind == "raw":  # braindecode's convolutional classifier reads the unflattened map
        emb = emb.unflatten(1, model.feature_shape)
    return model.final_layer(emb)


# --- registry and the shared contract --------------------------------------------------

def test_every_registered_model_is_covered():
    registered = set(list_models())
    assert set(ALL_MODELS) <= registered
    uncovered = registered - set(ALL_MODELS)
    assert not uncovered, f"registered but not tested: {sorted(uncovered)}"
    for name in ALL_MODELS:
        assert model_entrypoint(name).input_kind == ("raw" if name in RAW_MODELS else
                                                     "maps" if name in MAP_MODELS else "tokens")


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_model_builds_runs_and_backpropagates(name):
    model = _build(name).train()
    x = _input(name, 8)
    out = model(x)
    assert out.shape == (8, N_OUT)
    torch.nn.functional.cross_entropy(out, torch.arange(8) % N_OUT).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}.{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}.{pname} has non-finite gradient"
    if name in RAW_MODELS:  # braindecode's head: a convolution over the whole feature map
        assert model.final_layer.conv_classifier.out_channels == N_OUT
    else:
        assert isinstance(model.final_layer, torch.nn.Linear)
        assert model.final_layer.out_features == N_OUT


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_features_and_head(name):
    model = _build(name).eval()
    x = _input(name, 5)
    feats = model.forward_features(x)
    assert feats.shape == (5, model.num_features)
    emb = model.forward_head(feats, pre_logits=True)
    assert emb.shape == (5, model.head_hidden_size)
    torch.testing.assert_close(model.forward_head(feats), model(x))
    torch.testing.assert_close(_logits_from_embedding(model, emb), model(x))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_initialisation_follows_the_seed_and_reset_parameters(name):
    a, b, c = _build(name, seed=1), _build(name, seed=1), _build(name, seed=2)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    with torch.no_grad():
        for p in a.parameters():
            p.add_(1.0)
    torch.manual_seed(1)
    a.reset_parameters()
    assert all(torch.equal(a.state_dict()[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    "n_chans, n_outputs, expected",
    [(32, 2, 664_834), (14, 2, 662_530), (62, 3, 668_803)],
)
def test_rbtransformer_parameter_count(n_chans, n_outputs, expected):
    model = RBTransformer(n_chans, 4, n_outputs)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == expected == 660_480 + 128 * n_chans + 129 * n_outputs


def test_rbtransformer_layout():
    model = RBTransformer(32, 4, 2)
    assert len(model.blocks) == 4
    attn = model.blocks[0].attn
    assert attn.qkv.weight.shape == (3 * 192, 128) and attn.qkv.bias is None
    assert attn.proj.weight.shape == (128, 192) and attn.proj.bias is not None
    assert attn.n_heads == 6 and attn.head_dim == 32
    assert model.electrode_embedding.shape == (1, 32, 128)
    widths = [m.out_features for m in model.head if isinstance(m, torch.nn.Linear)]
    assert widths == [256, 256, 128]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_chans=0), "'n_chans'.*positive int.*got 0"),
        (dict(n_bands=2.5), "'n_bands'.*positive int.*got 2.5"),
        (dict(n_outputs=True), "'n_outputs'.*positive int"),
        (dict(dropout=1.0), "'dropout'.*probability"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    args = dict(n_chans=8, n_bands=4, n_outputs=2) | kwargs
    with pytest.raises(ValueError, match=match):
        RBTransformer(**args)


@pytest.mark.parametrize("cls", [DGCNN, RGNN])
def test_graph_models_check_positions(cls):
    with pytest.raises(ValueError, match=r"'ch_pos'.*\(8, 3\).*None"):
        cls(8, 4, 2)
    with pytest.raises(ValueError, match=r"'ch_pos'.*expected shape \(8, 3\) to match n_chans=8.*\(7, 3\)"):
        cls(8, 4, 2, ch_pos=np.zeros((7, 3)))
    pos = _positions(8)
    pos[3, 1] = np.nan
    with pytest.raises(ValueError, match="'ch_pos'.*finite.*1 NaN"):
        cls(8, 4, 2, ch_pos=pos)
    cls(8, 4, 2, ch_pos=torch.as_tensor(_positions(8)))  # tensors are accepted


def test_registry_errors_and_input_shape_check():
    with pytest.raises(ValueError, match="Allowed values are .*'rbtransformer'.*but got 'nope'"):
        create_model("nope", n_chans=4, n_bands=4, n_outputs=2)
    with pytest.raises(ValueError, match="'k'.*at most n_chans - 1 = 7.*got 9"):
        DGCNN(8, 4, 2, ch_pos=_positions(8), k=9)
    model = _build("rbtransformer")
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 14, 4\).*\(2, 4, 14\)"):
        model(torch.randn(2, 4, 14))


# --- graph models ----------------------------------------------------------------------

def test_gaussian_knn_adjacency():
    pos = _positions(12)
    adj = gaussian_knn_adjacency(pos, k=3)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert np.allclose(adj, adj.T) and np.all(np.diag(adj) == 0) and np.all(adj >= 0)
    for i in range(12):
        nearest = np.argsort(d[i])[:3]
        assert np.all(adj[i, nearest] > 0)
    assert ((adj > 0).sum(1) >= 3).all() and (adj > 0).sum() < 12 * 11
    # closer neighbours weigh more
    i, j = np.nonzero(adj)
    assert np.all(np.diff(adj[i, j][np.argsort(d[i, j])]) <= 1e-12)


def test_dgcnn_adjacency_stays_non_negative_after_an_optimiser_step():
    model = _build("dgcnn")
    opt = torch.optim.SGD(model.parameters(), lr=10.0)
    x = torch.randn(6, N_CHANS, N_BANDS)
    loss = torch.nn.functional.cross_entropy(model(x), torch.arange(6) % N_OUT) + model.adjacency.sum()
    loss.backward()
    opt.step()
    assert (model.adjacency_weight < 0).any()  # the raw weights did cross zero ...
    assert (model.adjacency >= 0).all()  # ... the adjacency did not
    assert torch.isfinite(model(x)).all()


def test_rgnn_adjacency_is_symmetric_and_has_negative_homologous_edges():
    model = _build("rgnn")
    adj0 = model.adjacency.detach()
    pairs = find_homologous_pairs(_positions(N_CHANS))
    assert len(pairs) == N_CHANS // 2
    assert (adj0[pairs[:, 0], pairs[:, 1]] < 0).all()
    torch.testing.assert_close(torch.diagonal(adj0), torch.ones(N_CHANS))
    assert model.adjacency_weight.numel() == N_CHANS * (N_CHANS + 1) // 2
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    x = torch.randn(6, N_CHANS, N_BANDS)
    torch.nn.functional.cross_entropy(model(x), torch.arange(6) % N_OUT).backward()
    opt.step()
    adj = model.adjacency.detach()
    assert not torch.equal(adj, adj0)
    assert torch.equal(adj, adj.T)


def test_inverse_square_adjacency_calibration():
    pos = _positions(20, seed=3)
    adj = inverse_square_adjacency(pos, pairs=np.zeros((0, 2), dtype=int))
    off = ~np.eye(20, dtype=bool)
    frac = (adj[off] > 0.1).mean()
    assert 0.15 <= frac <= 0.25
    d2 = np.sum((pos[:, None] - pos[None]) ** 2, axis=-1)
    np.testing.assert_allclose(inverse_square_adjacency(pos, delta=0.05, pairs=np.zeros((0, 2), int)),
                               np.minimum(1, 0.05 / np.where(off, d2, 1e-300)))


@pytest.mark.parametrize(
    "dataset, n_pairs", [("deap", 14), ("dreamer", 7), ("seed", 27)],
)
def test_homologous_pairs_on_dataset_montages(dataset, n_pairs):
    from neuroaffect.channels import EEG_CH_NAMES, get_positions

    names = EEG_CH_NAMES[dataset]
    pairs = find_homologous_pairs(get_positions(names))
    assert len(pairs) == n_pairs
    for left, right in pairs:
        a, b = names[left], names[right]
        assert a[:-1] == b[:-1] and int(a[-1]) % 2 == 1 and int(b[-1]) == int(a[-1]) + 1, (a, b)


def _perturb(model, scale=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.adjacency_weight.add_(scale * torch.randn(model.adjacency_weight.shape, generator=g))


@pytest.mark.parametrize("K", [1, 2, 3])
def test_dgcnn_dense_path_equals_torch_geometric_chebconv(K):
    model = _build("dgcnn", K=K, k=4)
    _perturb(model)
    assert (model.adjacency_weight < 0).any()
    x = torch.randn(5, N_CHANS, N_BANDS)
    torch.testing.assert_close(model.graph_conv(x), model.graph_conv_pyg(x), atol=1e-5, rtol=1e-5)
    # ChebConv's default lambda_max estimate gives the same operator for a non-negative graph
    from torch_geometric.utils import dense_to_sparse

    ei, ew = dense_to_sparse(model.adjacency.detach())
    ref = torch.stack([model.conv(xb, ei, ew) for xb in x])
    torch.testing.assert_close(model.graph_conv(x), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("K", [1, 2, 3])
def test_rgnn_dense_path_equals_torch_geometric_sgconv(K):
    model = _build("rgnn", K=K)
    _perturb(model, scale=0.1)
    x = torch.randn(5, N_CHANS, N_BANDS)
    torch.testing.assert_close(model.graph_conv(x), model.graph_conv_pyg(x), atol=1e-5, rtol=1e-5)
    # with a non-negative adjacency the normalisation is SGConv's own gcn_norm: compare with SGConv itself
    with torch.no_grad():
        model.adjacency_weight.abs_()
    from torch_geometric.utils import dense_to_sparse

    ei, ew = dense_to_sparse(model.adjacency.detach())
    ref = torch.stack([model.conv(xb, ei, ew) for xb in x])
    torch.testing.assert_close(model.graph_conv(x), ref, atol=1e-5, rtol=1e-5)


# --- batched execution ------------------------------------------------------------------

def batched_forward(base, params, buffers, x, *, shared_input=False, randomness="different"):
    """``n_models`` stacked copies of ``base`` at once with ``torch.vmap`` (as the training engine runs them)."""

    def call(p, b, xx):
        return torch.func.functional_call(base, (p, b), (xx,))

    return torch.vmap(call, in_dims=(0, 0, None if shared_input else 0), randomness=randomness)(params, buffers, x)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_vmap_over_stacked_copies_equals_separate_calls(name):
    models = [_build(name, seed=s).eval() for s in range(3)]
    params, buffers, base = stack_models(models)
    x = _input(name, 3, 7)
    out = batched_forward(base, params, buffers, x)
    ref = torch.stack([m(xb) for m, xb in zip(models, x)])
    assert out.shape == (3, 7, N_OUT)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    shared = batched_forward(base, params, buffers, x[0], shared_input=True)
    torch.testing.assert_close(shared, torch.stack([m(x[0]) for m in models]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_vmap_training_step_with_dropout(name):
    model = _build(name)
    params, buffers, base = stack_models([model] * 3)  # identical copies
    base.train()
    x = _input(name, 8)
    y = torch.arange(8) % N_OUT

    def loss(p, b, xx):
        logits = torch.func.functional_call(base, (p, b), (xx,))
        return torch.nn.functional.cross_entropy(logits, y)

    grads = torch.vmap(torch.func.grad(loss), in_dims=(0, 0, None), randomness="different")(params, buffers, x)
    assert all(torch.isfinite(g).all() for g in grads.values())
    assert set(grads) == set(params)
    # independent dropout masks per copy with "different", one mask with "same"
    diff = batched_forward(base, params, buffers, x, shared_input=True, randomness="different")
    same = batched_forward(base, params, buffers, x, shared_input=True, randomness="same")
    assert not torch.allclose(diff[0], diff[1])
    torch.testing.assert_close(same[0], same[1])
    with pytest.raises(RuntimeError, match="randomness"):
        batched_forward(base, params, buffers, x, shared_input=True, randomness="error")


def test_stack_models_refuses_mixed_classes():
    with pytest.raises(ValueError, match="one class"):
        stack_models([_build("rbtransformer"), _build("rgnn")])


# --- baselines --------------------------------------------------------------------------

def _toy_tokens(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.7).astype(int)  # 70 % class 1
    X = rng.normal(size=(n, 8, 4))
    X[:, 2, 1] += 2.0 * (2 * y - 1)  # one informative token feature
    return X, y


def test_majority_classifier():
    X, y = _toy_tokens()
    clf = MajorityClassifier().fit(X, y)
    assert clf.majority_ == 1
    assert np.all(clf.predict(X[:10]) == 1)
    proba = clf.predict_proba(X[:4])
    np.testing.assert_allclose(proba, np.tile([np.mean(y == 0), np.mean(y == 1)], (4, 1)))
    assert clf.score(X, y) == pytest.approx(np.mean(y == 1))
    with pytest.raises(ValueError, match=r"'y'.*shape \(240,\)"):
        MajorityClassifier().fit(X, y[:-1])


def test_logistic_tokens_beats_chance_and_majority_and_is_deterministic():
    X, y = _toy_tokens()
    Xte, yte = _toy_tokens(seed=1)
    clf = LogisticTokens().fit(X, y)
    acc = clf.score(Xte, yte)
    assert acc > 0.9 > MajorityClassifier().fit(X, y).score(Xte, yte)
    proba = clf.predict_proba(Xte)
    assert proba.shape == (len(yte), 2)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    again = LogisticTokens().fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(Xte), proba)
    # the informative feature dominates the learnt weights
    coef = np.abs(clf.pipeline_[-1].coef_.reshape(8, 4))
    assert np.unravel_index(coef.argmax(), coef.shape) == (2, 1)


# --- import hygiene ---------------------------------------------------------------------

@pytest.mark.slow
def test_models_import_and_run_without_mne():
    code = (
        "import sys; sys.modules['mne'] = None; sys.modules['snakemake'] = None\n"
        "import numpy as np, torch\n"
        "import neuroaffect.models as m\n"
        "pos = np.random.default_rng(0).normal(size=(6, 3))\n"
        "assert {'eegnet', 'shallowfbcspnet'} <= set(m.list_models())  # listed without importing them\n"
        "assert 'braindecode' not in sys.modules\n"
        "for name in m.list_models():\n"
        "    if m.model_entrypoint(name).input_kind == 'raw':\n"
        "        continue  # braindecode's models need braindecode, which imports mne\n"
        "    kw = {'ch_pos': pos} if m.model_entrypoint(name).requires_ch_pos else {}\n"
        "    maps = m.model_entrypoint(name).input_kind == 'maps'\n"
        "    x = torch.randn(2, 4, 16, 16) if maps else torch.randn(2, 6, 4)\n"
        "    out = m.create_model(name, n_chans=6, n_bands=4, n_outputs=2, **kw, **({'size': 16} if maps else {}))(x)\n"
        "    assert out.shape == (2, 2)\n"
        "assert 'mne' not in {k.split('.')[0] for k, v in sys.modules.items() if v is not None}\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
