"""Shared fixtures: simulated datasets at the ``tiny`` scale, written once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

#: Under pytest-xdist (`make test` and `make test-all` run `pytest -n 2`) every worker gets one thread: two
#: workers then fill two cores without oversubscribing them (subprocesses inherit the setting unless a test sets
#: its own).
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


@pytest.fixture(scope="session")
def random_grid(tmp_path_factory):
    """Return a function ``random_grid(dim, n=3, seed=0) -> PrototypeGrid``: random unit prototypes.

    Each call writes a fresh export folder (``write_grid_files``: one source ``"sim"``, one member per
    bin, no filled bin) and loads it back through the checked loader, so tests that change a grid
    never share one. ``prototypes`` has shape (n, n, dim), float32, unit norm.
    """
    import numpy as np

    from neuroaffect.labels import grid_centres, grid_edges
    from neuroaffect.prototypes.io import load_grid, write_grid_files

    def make(dim: int, n: int = 3, seed: int = 0):
        out = tmp_path_factory.mktemp("grid")
        p = np.random.default_rng(seed).standard_normal((n, n, dim))
        p /= np.linalg.norm(p, axis=-1, keepdims=True)
        write_grid_files(out, {"prototypes": p.astype(np.float32), "centres": grid_centres(n), "edges": grid_edges(n),
                               "counts": np.ones((1, n, n), np.int64), "filled": np.zeros((n, n), np.uint8)},
                         {"dim": dim, "sources": ["sim"]})
        return load_grid(out)

    return make


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
