"""Helpers shared by the simulator tests (``tests/test_simulate_*.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch
from threadpoolctl import threadpool_limits

from neuroaffect.labels import normalise_ratings
from neuroaffect.simulate.effects import draw_ratings, draw_subject_effects

FS = 128.0
BANDS = ((4.0, 8.0), (8.0, 14.0), (14.0, 31.0), (31.0, 45.0))


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Small matrices: one BLAS thread avoids oversubscription on shared machines."""
    with threadpool_limits(limits=1):
        yield


def draw_subjects(seed, n_subjects, snr=None, n_trials=40, kind="deap"):
    """Effects and normalised (v, a, d) of a few subjects, drawn from one seed."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(n_subjects):
        eff = draw_subject_effects(rng, s + 1, snr)
        ratings = draw_ratings(rng, n_trials, kind)
        out.append((eff, normalise_ratings(ratings[:, :3], kind)))
    return rng, out


def log_band_power(x, sfreq):
    """ln of the Welch band power, shape (n_trials, n_chans, n_bands)."""
    f, p = welch(x, fs=sfreq, nperseg=int(2 * sfreq), axis=-1)
    return np.log(np.stack([p[..., (f >= lo) & (f < hi)].mean(-1) for lo, hi in BANDS], axis=-1))


def idx(ch_names, names):
    """Positions of ``names`` in ``ch_names`` (case-insensitive; absent names are skipped)."""
    up = [c.upper() for c in ch_names]
    return [up.index(n) for n in names if n in up]
