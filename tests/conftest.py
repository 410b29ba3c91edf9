"""Shared fixtures: simulated datasets at the ``tiny`` scale, written once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

#: Under pytest-xdist (`make test` runs `pytest -n 2`) every worker gets one thread: two workers then fill two
#: cores without oversubscribing them (subprocesses inherit the setting unless a test sets its own).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if XDIST_WORKER:
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_var] = "1"


def pytest_configure(config):
    if XDIST_WORKER:
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Long tests first (stable order otherwise): with `pytest -n 2 --dist loadfile` their files are then
    handed out first and run beside the many short ones, instead of last and alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def sim_root(tmp_path_factory):
    """Return a function ``sim_root(dataset) -> root`` that simulates ``tiny`` data once per dataset."""
    from neuroaffect.simulate import simulate

    cache = {}

    def get(dataset: str, seed: int = 0):
        key = (dataset, seed)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"sim_{dataset}_{seed}")
            cache[key] = simulate(dataset, scale="tiny", out=out, seed=seed)
        return cache[key]

    return get


#: Small constructor arguments of the token models, for fast training tests.
TINY_MODELS = {
    "dgcnn": dict(K=2, n_filters=4, hidden=8, dropout=0.0, k=3),
    "rgnn": dict(K=2, hidden=8, dropout=0.0),
    "rbtransformer": dict(embed_dim=8, depth=1, n_heads=2, head_dim=4, mlp_dim=8, dropout=0.0),
}


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models: one intra-op thread is faster and immune to oversubscription on shared CPUs."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
