"""The student's statistics against hand-computed cases: the detectable difference, the bootstrap
over test images, calibration (ECE, NLL) and the seed standard deviation of the ablation tables."""

import numpy as np
import pytest
from scipy import stats

from neuroaffect.training.stats import bootstrap_ci, detectable_difference


def test_detectable_difference_by_hand():
    # n = 10 pairs, two-sided 5 %, 80 % power: d_z = 0.996 (the textbook value, e.g. G*Power's)
    assert detectable_difference(1.0, 10) == pytest.approx(0.996, abs=5e-4)
    # it scales with the spread, and it has the stated power (noncentral t)
    d = detectable_difference(2.5, 5)
    crit = stats.t.ppf(0.975, 4)
    nc = d * np.sqrt(5) / 2.5
    assert stats.nct.sf(crit, 4, nc) + stats.nct.cdf(-crit, 4, nc) == pytest.approx(0.8, abs=1e-8)
    # large n: (z_0.975 + z_0.8) sd / sqrt(n) = (1.95996 + 0.84162) / 100
    assert detectable_difference(1.0, 10_000) == pytest.approx(0.0280158, rel=2e-3)
    assert np.isnan(detectable_difference(1.0, 1)) and detectable_difference(0.0, 3) == 0.0
    with pytest.raises(ValueError, match="alpha"):
        detectable_difference(1.0, 3, power=0.01)


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def test_bootstrap_ci_by_hand():
    # two items 0 and 1: resampled means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so the 2.5 % and
    # 97.5 % quantiles are 0 and 1
    r = bootstrap_ci(_mean, [np.array([0.0, 1.0])])
    assert (r["estimate"], r["ci_low"], r["ci_high"]) == (0.5, 0.0, 1.0)
    # constant data: a degenerate interval; reproducible by seed
    c = bootstrap_ci(_mean, [np.full(5, 3.0)])
    assert (c["ci_low"], c["ci_high"]) == (3.0, 3.0)
    x = np.random.default_rng(0).normal(size=50)
    assert bootstrap_ci(_mean, [x], seed=3) == bootstrap_ci(_mean, [x], seed=3)
    # paired: both arrays resampled with the same indices (a - b is constant 1 here)
    d = bootstrap_ci(lambda a, b, axis=-1: np.mean(a - b, axis=axis), [x + 1.0, x])
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((1.0, 1.0))
    assert np.isnan(bootstrap_ci(_mean, [np.array([1.0])])["ci_low"])
    with pytest.raises(ValueError, match="equal length"):
        bootstrap_ci(_mean, [np.zeros(3), np.zeros(4)])
