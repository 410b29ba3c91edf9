"""Reliability diagrams of class probabilities (from the pooled bins of
:func:`neuroaffect.distill.calibration_metrics`)."""

from __future__ import annotations

import numpy as np

from ._io import new_figure, save_figure

__all__ = ["plot_reliability"]


def plot_reliability(curves: dict, fname, *, title: str = "") -> None:
    """Reliability diagram: accuracy against mean confidence per confidence bin, one line per arm.

    Parameters
    ----------
    curves : dict of str -> dict
        ``{label: {"edges": (M + 1,), "count": (M,), "confidence_sum": (M,), "correct": (M,), "ece": float}}``:
        per bin the number of predictions, the sum of their top-class probabilities and the number
        correct (runs pooled by adding); ``ece`` is written in the legend when given. Empty bins are
        not drawn.
    fname : path-like
        PNG to write (atomically).
    title : str
    """
    fig = new_figure((10.0, 4.4))
    ax, hist = fig.subplots(1, 2, width_ratios=(1.3, 1.0))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    for label, c in curves.items():
        count = np.asarray(c["count"], dtype=float)
        ok = count > 0
        conf = np.asarray(c["confidence_sum"], dtype=float)[ok] / count[ok]
        acc = np.asarray(c["correct"], dtype=float)[ok] / count[ok]
        ece = c.get("ece")
        line = ax.plot(conf, acc, marker="o", ms=3, lw=1.2,
                       label=label if ece is None else f"{label} (ECE {ece:.3f})")[0]
        edges = np.asarray(c["edges"], dtype=float)
        hist.stairs(count / max(count.sum(), 1.0), edges, color=line.get_color(), lw=1.2)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean top-class probability in the bin", ylabel="accuracy in the bin",
           title="reliability (15 equal-width bins)")
    ax.legend(fontsize=7, loc="upper left")
    hist.set(xlim=(0, 1), xlabel="top-class probability", ylabel="fraction of predictions",
             title="where the confidences fall")
    if title:
        fig.suptitle(title)
    save_figure(fig, fname)
