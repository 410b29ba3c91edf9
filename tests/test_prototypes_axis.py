"""Per-axis ordering of the grid and its trial bootstrap: a case worked out by hand, a grid ordered along
one axis only, and the bootstrap's unit (whole groups within strata)."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaffect.labels import grid_centres
from neuroaffect.prototypes import axis_ordering, bootstrap_ordering


def _unit(deg: float, d: int = 4) -> np.ndarray:
    v = np.zeros(d)
    v[:2] = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return v


def test_axis_ordering_by_hand():
    """3 x 3 grid (centres -2/3, 0, 2/3). Arousal row 0: valence bins 0, 1, 2 at 0, 90 and 45 degrees; row 1:
    valence bins 0 and 2 at 0 and 60 degrees; row 2 masked out.

    Valence given arousal, the four within-row pairs: |dv| = 2/3, 4/3, 2/3 (row 0), 4/3 (row 1); cosine distance
    1, 1 - cos 45 = 0.293, 0.293, 1 - cos 60 = 0.5. Ranks (1.5, 3.5, 1.5, 3.5) and (4, 1.5, 1.5, 3); centred
    (-1, 1, -1, 1) and (1.5, -1, -1, 0.5); rho = -1 / sqrt(4 * 4.5) = -0.2357.
    Arousal given valence: column 0 (0 and 0 degrees) and column 2 (45 and 60 degrees) give 2 pairs: too few (NaN).
    """
    p = np.zeros((3, 3, 4))
    mask = np.zeros((3, 3), dtype=bool)
    for (iv, ia), deg in {(0, 0): 0, (1, 0): 90, (2, 0): 45, (0, 1): 0, (2, 1): 60}.items():
        p[iv, ia] = _unit(deg)
        mask[iv, ia] = True
    p[1, 1] = p[0, 2] = p[1, 2] = p[2, 2] = _unit(10)  # outside the mask: must not count
    r = axis_ordering(p, grid_centres(3), mask)
    assert r["valence_given_arousal"]["n_pairs"] == 4
    assert r["valence_given_arousal"]["rho"] == pytest.approx(-1 / np.sqrt(18), abs=1e-12)
    assert r["arousal_given_valence"]["n_pairs"] == 2 and np.isnan(r["arousal_given_valence"]["rho"])


def test_axis_ordering_separates_the_axes():
    """Prototypes that turn with valence only: valence given arousal is 1, arousal given valence 0 (every
    within-column distance is 0); transposed, the other way round. Scaling a prototype changes nothing."""
    c = grid_centres(5)
    p = np.stack([np.stack([_unit(20 * i)] * 5) for i in range(5)])  # axis 0 valence
    r = axis_ordering(p * 3.0, c)
    assert r["valence_given_arousal"]["rho"] == pytest.approx(1.0)
    assert r["arousal_given_valence"]["rho"] == 0.0
    assert r["valence_given_arousal"]["n_pairs"] == r["arousal_given_valence"]["n_pairs"] == 50
    t = axis_ordering(p.transpose(1, 0, 2), c)
    assert t["arousal_given_valence"]["rho"] == pytest.approx(1.0) and t["valence_given_arousal"]["rho"] == 0.0


def _trials(n_trials=12, per=5, n_subjects=3, d=16, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    v, a = rng.uniform(-1, 1, n_trials), rng.uniform(-1, 1, n_trials)
    basis = rng.standard_normal((3, d))
    emb = np.concatenate([v[t] * basis[0] + basis[2] + noise * rng.standard_normal((per, d)) for t in range(n_trials)])
    trial = np.repeat(np.arange(n_trials), per)
    subject = trial % n_subjects
    return emb, np.repeat(v, per), np.repeat(a, per), trial, subject


def test_bootstrap_resamples_whole_trials():
    """The unit is the trial: repeating every window of a trial three times leaves each resample's grid, hence
    the intervals, exactly as they were (a window bootstrap would narrow them)."""
    emb, v, a, trial, subject = _trials()
    r = bootstrap_ordering(emb, v, a, trial, strata=subject, n_resamples=60, seed=1)
    k = np.repeat(np.arange(len(v)), 3)
    r3 = bootstrap_ordering(emb[k], v[k], a[k], trial[k], strata=subject[k], n_resamples=60, seed=1)
    for key in ("pooled", "valence_given_arousal", "arousal_given_valence"):
        assert r[key]["ci_low"] == pytest.approx(r3[key]["ci_low"], abs=1e-9)
        assert r[key]["ci_high"] == pytest.approx(r3[key]["ci_high"], abs=1e-9)
        assert r[key]["ci_low"] <= r[key]["ci_high"]
    assert r["n_groups"] == 12 and r["n_strata"] == 3 and r["n_resamples"] == 60
    assert r["valence_given_arousal"]["ci_low"] > 0  # the planted valence order


def test_bootstrap_of_interchangeable_trials_is_a_point():
    """Nine subjects, each with two identical trials (the same windows and ratings) at one of the nine inner bins
    of a 5 x 5 grid: every resample builds the same grid, so each interval is the full sample's statistic."""
    from neuroaffect.prototypes import build_grid, ordering_test

    rng = np.random.default_rng(3)
    c = grid_centres(5)[1:4]
    v, a = (x.ravel() for x in np.meshgrid(c, c, indexing="ij"))
    one = rng.standard_normal((9, 3, 8))  # 3 windows per trial
    emb = np.concatenate([one, one]).reshape(-1, 8)
    vv, aa = np.tile(np.repeat(v, 3), 2), np.tile(np.repeat(a, 3), 2)
    trial = np.repeat(np.arange(18), 3)
    subject = trial % 9
    r = bootstrap_ordering(emb, vv, aa, trial, strata=subject, n_resamples=20)
    g = build_grid({"x": (emb, vv, aa)}, 5)
    full = {**axis_ordering(g.prototypes, g.centres, ~g.filled),
            "pooled": {"rho": ordering_test(g.prototypes, g.centres, ~g.filled, n_permutations=1)["rho"]}}
    assert full["valence_given_arousal"]["n_pairs"] == full["arousal_given_valence"]["n_pairs"] == 9
    for key in ("pooled", "valence_given_arousal", "arousal_given_valence"):
        assert np.isfinite(full[key]["rho"]) and r[key]["n_valid"] == 20
        assert r[key]["ci_low"] == pytest.approx(full[key]["rho"]) and r[key]["ci_high"] == pytest.approx(
            full[key]["rho"])


def test_bootstrap_refuses_a_trial_in_two_strata_and_too_few_trials():
    emb, v, a, trial, subject = _trials()
    subject = subject.copy()
    subject[0] = 2  # trial 0's first window in another subject
    with pytest.raises(ValueError, match="one stratum per group"):
        bootstrap_ordering(emb, v, a, trial, strata=subject, n_resamples=5)
    with pytest.raises(ValueError, match="at least two groups"):
        bootstrap_ordering(emb, v, a, trial, strata=trial, n_resamples=5)
