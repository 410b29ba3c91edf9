"""Paired statistics across seeds: intervals, paired t-tests, Holm's correction and TOST equivalence.

Used where two arms are compared run by run (each seed trains both, so the runs pair up): a paired
t-test for "is there a difference", Holm's step-down correction across the comparisons of one table,
and two one-sided tests (TOST) for "no difference larger than a stated margin". Standard deviations
use ``ddof=1`` (the sample standard deviation) throughout. Definitions: ``docs/distillation.md``
("Statistics").
"""

from __future__ import annotations

import numpy as np

__all__ = ["holm", "mean_ci", "paired_test", "tost_paired"]


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
