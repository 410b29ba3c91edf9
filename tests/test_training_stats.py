"""Paired statistics: intervals, paired t, Holm and TOST against scipy and hand cases."""

import numpy as np
import pytest
from scipy import stats

from neuroaffect.training.stats import holm, mean_ci, paired_test, tost_paired


def test_mean_ci_uses_the_sample_sd_and_t_quantile():
    x = np.array([1.0, 2.0, 4.0])
    s = mean_ci(x)
    assert s["sd"] == pytest.approx(np.std(x, ddof=1))
    half = stats.t.ppf(0.975, 2) * np.std(x, ddof=1) / np.sqrt(3)
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    assert np.isnan(mean_ci([1.0])["sd"])


def test_paired_test_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=10), rng.normal(size=10)
    r = paired_test(a, b)
    ref = stats.ttest_rel(a, b)
    assert r["t"] == pytest.approx(ref.statistic) and r["p"] == pytest.approx(ref.pvalue)
    assert r["ci_low"] < r["mean_difference"] < r["ci_high"]
    assert paired_test([1, 2], [1, 2])["p"] == 1.0
    with pytest.raises(ValueError, match="equal length"):
        paired_test([1, 2, 3], [1, 2])


def test_holm_hand_case():
    # sorted p: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> monotone 0.06)
    adj = holm([0.03, 0.01, 0.04, 0.02])
    assert adj == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert np.isnan(holm([np.nan, 0.5])[0]) and holm([np.nan, 0.5])[1] == 0.5
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])
    # three p-values: 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_tost_detects_equivalence_only_inside_the_margin():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 0.01, 30)
    assert tost_paired(a, np.zeros(30), margin=0.05)["p"] < 0.01
    assert tost_paired(a + 0.2, np.zeros(30), margin=0.05)["p"] > 0.5
    with pytest.raises(ValueError, match="margin"):
        tost_paired(a, a, margin=0.0)
