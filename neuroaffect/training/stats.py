"""Paired statistics across seeds: intervals, paired t-tests, Holm's correction and TOST equivalence.

Used where two arms are compared run by run (each seed trains both, so the runs pair up): a paired
t-test for "is there a difference", Holm's step-down correction across the comparisons of one table,
and two one-sided tests (TOST) for "no difference larger than a stated margin"; the smallest
difference a paired t-test over so many runs detects with a stated power
(:func:`detectable_difference`); a percentile bootstrap over test items (:func:`bootstrap_ci`) for
the part of the uncertainty that comes from a small test set. Standard deviations use ``ddof=1``
(the sample standard deviation) throughout. Definitions: ``docs/distillation.md`` ("Statistics").
"""

from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_ci", "detectable_difference", "holm", "mean_ci", "paired_test", "tost_paired"]


def _vector(name: str, x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"Invalid value for the '{name}' parameter: expected a 1-d array, but got shape {x.shape}.")
    return x


def mean_ci(x, level: float = 0.95) -> dict:
    """Mean, sample standard deviation (ddof=1) and the t interval of the mean.

    Parameters
    ----------
    x : array-like, shape (n,)
        One value per run (NaN values are dropped).
    level : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    summary : dict
        ``n``, ``mean``, ``sd``, ``ci_low``, ``ci_high`` (NaN where ``n`` is too small: ``sd`` and the
        interval need ``n >= 2``).
    """
    from scipy import stats

    x = _vector("x", x)
    x = x[np.isfinite(x)]
    n = len(x)
    mean = float(x.mean()) if n else float("nan")
    if n < 2:
        return {"n": n, "mean": mean, "sd": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * sd / np.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def _paired(a, b):
    a, b = _vector("a", a), _vector("b", b)
    if a.shape != b.shape:
        raise ValueError(f"Invalid values of 'a' and 'b': expected paired runs of equal length, but got {len(a)} and "
                         f"{len(b)}.")
    d = a - b
    return d[np.isfinite(d)]


def paired_test(a, b, level: float = 0.95) -> dict:
    """Paired t-test of ``a - b`` (two-sided), with the interval of the mean difference.

    Parameters
    ----------
    a, b : array-like, shape (n,)
        The two arms' values, run ``i`` of one paired with run ``i`` of the other (same seed).
    level : float
        Coverage of the interval.

    Returns
    -------
    result : dict
        ``n``, ``mean_difference``, ``sd``, ``ci_low``, ``ci_high``, ``t``, ``p`` (NaN when fewer
        than 2 pairs; ``p = 1`` and ``t = 0`` when every difference is 0).
    """
    from scipy import stats

    d = _paired(a, b)
    s = mean_ci(d, level)
    out = {"n": s["n"], "mean_difference": s["mean"], "sd": s["sd"], "ci_low": s["ci_low"], "ci_high": s["ci_high"]}
    if s["n"] < 2:
        return {**out, "t": float("nan"), "p": float("nan")}
    if s["sd"] == 0.0:
        return {**out, "t": 0.0 if s["mean"] == 0.0 else float(np.sign(s["mean"]) * np.inf),
                "p": 1.0 if s["mean"] == 0.0 else 0.0}
    t = s["mean"] / (s["sd"] / np.sqrt(s["n"]))
    return {**out, "t": float(t), "p": float(2.0 * stats.t.sf(abs(t), s["n"] - 1))}


def tost_paired(a, b, margin: float) -> dict:
    """Two one-sided paired t-tests of equivalence: is ``|mean(a - b)| < margin``?

    The p-value is the larger of the two one-sided tests' (H0: mean <= -margin; H0: mean >= margin);
    below the level, the difference is shown to lie within ``(-margin, margin)``.

    Parameters
    ----------
    a, b : array-like, shape (n,)
        Paired runs.
    margin : float
        The equivalence margin, > 0, in the units of ``a`` (fixed before the data are seen).

    Returns
    -------
    result : dict
        ``n``, ``mean_difference``, ``margin``, ``p`` (NaN with fewer than 2 pairs).
    """
    from scipy import stats

    if not np.isfinite(margin) or margin <= 0:
        raise ValueError(f"Invalid value for the 'margin' parameter: expected a positive number, but got {margin!r}.")
    d = _paired(a, b)
    n = len(d)
    if n < 2:
        return {"n": n, "mean_difference": float(d.mean()) if n else float("nan"), "margin": float(margin),
                "p": float("nan")}
    m, se = float(d.mean()), float(d.std(ddof=1)) / np.sqrt(n)
    if se == 0.0:
        p = 0.0 if abs(m) < margin else 1.0
    else:
        p = max(stats.t.sf((m + margin) / se, n - 1), stats.t.cdf((m - margin) / se, n - 1))
    return {"n": n, "mean_difference": m, "margin": float(margin), "p": float(p)}


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), same order as given; NaN stays NaN.

    With the ``m`` finite p-values sorted ascending, ``p_(i)`` becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``.

    Parameters
    ----------
    pvalues : array-like, shape (k,)

    Returns
    -------
    adjusted : ndarray of float64, shape (k,)
    """
    p = _vector("pvalues", pvalues)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    if (p[ok] < 0).any() or (p[ok] > 1).any():
        raise ValueError(f"Invalid value for the 'pvalues' parameter: expected values in [0, 1], but got {p[ok]}.")
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adj)
    return out


def detectable_difference(sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest mean difference a two-sided paired t-test over ``n`` pairs detects with ``power``.

    Solves ``P(|T| > t_{1 - alpha/2, n-1}) = power`` for ``delta``, with ``T`` noncentral t with
    ``n - 1`` degrees of freedom and noncentrality ``delta sqrt(n) / sd`` (``scipy.stats.nct``). For
    large ``n`` it tends to ``(z_{1 - alpha/2} + z_{power}) sd / sqrt(n)`` (2.80 sd / sqrt(n) at the
    defaults). A difference smaller than this is, at this spread and number of seeds, undetectable
    rather than shown to be absent.

    Parameters
    ----------
    sd : float
        Standard deviation of the paired differences (ddof=1), in the units of the difference.
    n : int
        Number of pairs (seeds).
    alpha : float
        Two-sided level of the test, in (0, 1).
    power : float
        Probability of detection, in (alpha, 1).

    Returns
    -------
    delta : float
        In the units of ``sd``; NaN when ``n < 2`` or ``sd`` is not finite, 0 when ``sd`` is 0.
    """
    from scipy import optimize, stats

    if not (0.0 < alpha < 1.0 and alpha < power < 1.0):
        raise ValueError(f"Invalid values of 'alpha' and 'power': expected 0 < alpha < power < 1, but got "
                         f"alpha={alpha!r}, power={power!r}.")
    if isinstance(n, bool) or int(n) != n or n < 2 or not np.isfinite(sd) or sd < 0:
        return float("nan")
    if sd == 0.0:
        return 0.0
    df, crit = int(n) - 1, float(stats.t.ppf(1.0 - alpha / 2.0, int(n) - 1))

    def gap(nc):  # the lower tail is negligible where scipy cannot evaluate it (NaN at df = 1)
        return stats.nct.sf(crit, df, nc) + np.nan_to_num(stats.nct.cdf(-crit, df, nc), nan=0.0) - power

    hi = 1.0
    while gap(hi) < 0:
        hi *= 2.0
    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-10) * sd / np.sqrt(int(n)))


def bootstrap_ci(statistic, data, *, n_resamples: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Percentile bootstrap interval of a statistic of paired samples (``scipy.stats.bootstrap``).

    The items (e.g. test images) are resampled with replacement, every array of ``data`` with the
    same indices (``paired=True``); the interval is the ``(1 - level) / 2`` and ``(1 + level) / 2``
    quantiles of the resampled statistic (``method="percentile"``).

    Parameters
    ----------
    statistic : callable
        ``statistic(*arrays, axis=-1) -> value``, vectorised over the leading axes (scipy's
        ``vectorized=True`` convention): each array has the items on ``axis``.
    data : sequence of array-like, each shape (n_items,)
        Paired samples (the same item at the same index).
    n_resamples : int
    level : float
        Coverage, in (0, 1).
    seed : int
        Seed of the resampling (the interval is reproducible).

    Returns
    -------
    result : dict
        ``estimate`` (the statistic on the data), ``ci_low``, ``ci_high``, ``n_items``,
        ``n_resamples``, ``method`` (``"percentile"``); NaN bounds with fewer than 2 items.
    """
    from scipy import stats

    arrays = [np.asarray(d) for d in data]
    n = len(arrays[0]) if arrays else 0
    if not arrays or any(a.ndim != 1 or len(a) != n for a in arrays):
        raise ValueError("Invalid value for the 'data' parameter: expected 1-d arrays of equal length, but got shapes "
                         f"{[a.shape for a in arrays]}.")
    est = float(statistic(*arrays, axis=-1))
    out = {"estimate": est, "ci_low": float("nan"), "ci_high": float("nan"), "n_items": n,
           "n_resamples": int(n_resamples), "method": "percentile"}
    if n < 2:
        return out
    res = stats.bootstrap(tuple(arrays), statistic, n_resamples=int(n_resamples), vectorized=True, paired=True,
                          confidence_level=float(level), method="percentile", rng=np.random.default_rng(seed),
                          batch=max(1, min(int(n_resamples), 2_000_000 // max(n, 1))))
    return {**out, "ci_low": float(res.confidence_interval.low), "ci_high": float(res.confidence_interval.high)}
