"""Tests of the simulator's subject effects and ratings (``neuroaffect.simulate.effects``), its
writer helpers (``neuroaffect.simulate._write``) and its public API."""

from __future__ import annotations

import json

import numpy as np
import pytest
from simulate_helpers import one_blas_thread  # noqa: F401  (autouse fixture)

import neuroaffect.simulate as simulate_pkg
from neuroaffect.labels import DATASETS, RATING_RANGE, normalise_ratings
from neuroaffect.simulate._write import SCALE_NAMES, Scale, crossfade_join, subject_rng
from neuroaffect.simulate.effects import (
    DEFAULT_SNR, RATING_KINDS, SubjectEffects, draw_ratings, draw_subject_effects,
)


def test_subject_effects_json_and_snr():
    eff = draw_subject_effects(np.random.default_rng(0), 3)
    assert isinstance(eff, SubjectEffects)
    d = json.loads(json.dumps(eff.to_dict()))
    assert d["subject"] == 3 and d["snr"] == DEFAULT_SNR
    assert 8.0 <= d["alpha_peak"] <= 12.5
    zero = draw_subject_effects(np.random.default_rng(0), 3, snr=0.0)
    assert zero.valence_gain == zero.arousal_gain == zero.dominance_gain == 0.0
    # The gains scale linearly with the knob (same draws otherwise).
    double = draw_subject_effects(np.random.default_rng(0), 3, snr=2 * DEFAULT_SNR)
    assert double.valence_gain == pytest.approx(2 * eff.valence_gain)
    assert double.alpha_peak == eff.alpha_peak
    with pytest.raises(ValueError, match="snr"):
        draw_subject_effects(np.random.default_rng(0), 1, snr=-1.0)



def test_ratings_shapes_ranges_and_split():
    rng = np.random.default_rng(0)
    deap = draw_ratings(rng, 40, "deap")
    assert deap.shape == (40, 4) and deap.dtype == np.float64
    assert deap.min() >= 1 and deap.max() <= 9
    assert len(np.unique(deap[:, 0])) > 30  # continuous slider values
    dreamer = draw_ratings(rng, 18, "dreamer")
    assert dreamer.shape == (18, 3) and dreamer.dtype == np.float64
    np.testing.assert_array_equal(dreamer, np.round(dreamer))
    assert set(np.unique(dreamer)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    mahnob = draw_ratings(rng, 20, "mahnob")
    assert mahnob.shape == (20, 4) and mahnob.dtype.kind == "i"
    assert mahnob.min() >= 1 and mahnob.max() <= 9
    for seed in range(20):  # both halves of the binary split, even for few trials
        g = np.random.default_rng(seed)
        for kind, n, mid in (("deap", 4, 5), ("dreamer", 3, 3), ("mahnob", 2, 5)):
            r = draw_ratings(g, n, kind)
            for col in (0, 1):
                assert (r[:, col] >= mid).any() and (r[:, col] < mid).any(), (kind, seed, col)
    # Realistic spread: over many trials neither half dominates.
    big = draw_ratings(np.random.default_rng(1), 400, "deap")
    assert 0.35 < np.mean(big[:, 0] >= 5) < 0.65
    assert 0.35 < np.mean(big[:, 1] >= 5) < 0.65
    with pytest.raises(ValueError, match="kind"):
        draw_ratings(rng, 4, "seed")


def test_normalise_ratings():
    """The simulator normalises with :func:`neuroaffect.labels.normalise_ratings`."""
    np.testing.assert_allclose(normalise_ratings([1, 5, 9], "deap"), [-1, 0, 1])
    np.testing.assert_allclose(normalise_ratings([1, 3, 5], "dreamer"), [-1, 0, 1])
    np.testing.assert_allclose(normalise_ratings(7.0, "mahnob"), 0.5)
    assert np.isnan(normalise_ratings([np.nan], "deap")[0])
    with pytest.raises(ValueError, match="class codes"):
        normalise_ratings([1], "seed")



def test_normalise_ratings_covers_every_rating_kind():
    """Every rating the simulator draws maps into [-1, 1] on its dataset's scale."""
    assert RATING_KINDS == tuple(RATING_RANGE)
    rng = np.random.default_rng(0)
    for kind in RATING_KINDS:
        r = draw_ratings(rng, 40, kind)
        lo, hi = RATING_RANGE[kind]
        assert r.min() >= lo and r.max() <= hi, kind
        v = normalise_ratings(r, kind)
        assert v.min() >= -1.0 and v.max() <= 1.0, kind


def test_public_api():
    for name in simulate_pkg.__all__:
        assert hasattr(simulate_pkg, name), name
    assert simulate_pkg.DATASETS == DATASETS
    assert simulate_pkg.SCALES == SCALE_NAMES == ("tiny", "demo", "full")
    assert simulate_pkg.DEFAULT_SNR == DEFAULT_SNR
    for dataset in DATASETS:
        assert simulate_pkg.subjects(dataset, "tiny") == [1, 2]


def test_scale_tables_and_subject_streams():
    for dataset in DATASETS:
        table = getattr(simulate_pkg, dataset.replace("-", "")).SCALES  # "seed-v" -> simulate.seedv
        assert tuple(table) == SCALE_NAMES
        assert all(isinstance(sc, Scale) and sc.n_subjects >= 1 for sc in table.values())
    with pytest.raises(ValueError, match="scales"):
        Scale.table(tiny=Scale(1), full=Scale(2))
    with pytest.raises(TypeError, match="Scale"):
        Scale.table(tiny=Scale(1), demo=Scale(2), full=3)
    a = subject_rng(0, "deap", 1).random(3)
    np.testing.assert_array_equal(a, subject_rng(0, "deap", 1).random(3))
    assert not np.allclose(a, subject_rng(0, "dreamer", 1).random(3))
    assert not np.allclose(a, subject_rng(0, "deap", 2).random(3))


def test_crossfade_join():
    a, b = np.ones((2, 10)), np.full((2, 8), 2.0)
    j = crossfade_join(a, b, 4)
    assert j.shape == (2, 14)
    np.testing.assert_array_equal(j[:, :6], 1.0)
    np.testing.assert_array_equal(j[:, 10:], 2.0)
    # Equal power: the cos/sin weights of the overlap have unit sum of squares.
    u = (np.arange(4) + 0.5) / 4
    np.testing.assert_allclose(j[0, 6:10], np.cos(0.5 * np.pi * u) + 2.0 * np.sin(0.5 * np.pi * u))
    np.testing.assert_array_equal(crossfade_join(a, b, 0), np.concatenate([a, b], axis=-1))
    with pytest.raises(ValueError, match="n_fade"):
        crossfade_join(a, b, 9)
