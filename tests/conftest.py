"""Shared fixtures: simulated datasets at the ``tiny`` scale, written once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


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
