"""Figures of a prototype grid: occupancy, prototype similarity, a 2-D projection, the teacher's fit."""

from __future__ import annotations

import numpy as np

from ._io import new_figure, save_figure

__all__ = ["plot_grid_occupancy", "plot_prototype_geometry", "plot_teacher_fit"]


def _heat(ax, counts, centres, title, filled=None):
    im = ax.imshow(np.asarray(counts).T, origin="lower", cmap="viridis",
                   extent=(-1, 1, -1, 1), aspect="equal")
    n = len(centres)
    step = 2 / n
    for i in range(n):
        for j in range(n):
            c = int(np.asarray(counts)[i, j])
            mark = "*" if filled is not None and filled[i][j] else ""
            ax.text(-1 + step * (i + 0.5), -1 + step * (j + 0.5), f"{c}{mark}", ha="center", va="center",
                    color="white", fontsize=7 if n > 5 else 8)
    ax.set(xlabel="valence (normalised)", ylabel="arousal (normalised)", title=title)
    return im


def plot_grid_occupancy(panels, fname, *, suptitle: str = "") -> None:
    """Members per bin, one heatmap per panel.

    Parameters
    ----------
    panels : sequence of (title, counts (n, n), centres (n,), filled (n, n) | None)
        Axis 0 of ``counts`` is valence (plotted left to right), axis 1 arousal (bottom to top);
        ``*`` marks a bin that copies its nearest non-empty bin.
    fname : path-like
        PNG to write (atomically).
    """
    panels = list(panels)
    fig = new_figure((3.4 * len(panels), 3.4))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (title, counts, centres, filled) in zip(axes, panels):
        im = _heat(ax, counts, centres, title, filled)
        fig.colorbar(im, ax=ax, shrink=0.75)
    if suptitle:
        fig.suptitle(suptitle)
    save_figure(fig, fname)


def plot_prototype_geometry(prototypes, centres, fname, *, ordering=None, title: str = "") -> None:
    """Cosine similarity of the prototypes ordered by (valence, arousal), and their PCA projection.

    Parameters
    ----------
    prototypes : ndarray, shape (n, n, D)
    centres : ndarray, shape (n,)
    ordering : dict | None
        The ordering test's result, printed in the title.
    """
    n, _, d = np.shape(prototypes)
    p = np.asarray(prototypes, dtype=np.float64).reshape(-1, d)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    v, a = np.meshgrid(centres, centres, indexing="ij")
    v, a = v.ravel(), a.ravel()
    fig = new_figure((13.0, 4.0))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    im = ax1.imshow(p @ p.T, vmin=-1, vmax=1, cmap="RdBu_r")
    ticks = np.arange(0, n * n, n)
    ax1.set(xticks=ticks, yticks=ticks, xticklabels=[f"v{c:+.1f}" for c in centres],
            yticklabels=[f"v{c:+.1f}" for c in centres],
            title="prototype cosine similarity\n(bins by valence, then arousal)")
    fig.colorbar(im, ax=ax1, shrink=0.75)
    centred = p - p.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    for ax, col, name in ((ax2, v, "valence"), (ax3, a, "arousal")):
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=col, cmap="coolwarm", vmin=-1, vmax=1, s=60, edgecolors="k")
        ax.set(xlabel="PC 1", ylabel="PC 2", title=f"prototypes, PCA (colour: {name})")
        fig.colorbar(sc, ax=ax, shrink=0.75)
    if ordering is not None:
        title = (f"{title}  ordering: Spearman rho {ordering['rho']:.2f}, permutation p {ordering['p_value']:.3f} "
                 f"({ordering['n_bins']} non-empty bins)").strip()
    if title:
        fig.suptitle(title)
    save_figure(fig, fname)


def plot_teacher_fit(true, pred, fname, *, metrics=None, title: str = "") -> None:
    """The teacher's predicted against true valence and arousal on windows it never trained on.

    Parameters
    ----------
    true, pred : ndarray, shape (n, 2)
        Normalised (valence, arousal).
    metrics : sequence of dict | None
        Per target, ``{"rmse", "pearson_r", "ccc"}`` for the panel titles.
    """
    true, pred = np.asarray(true, dtype=float), np.asarray(pred, dtype=float)
    fig = new_figure((8.0, 3.8))
    for j, (ax, name) in enumerate(zip(fig.subplots(1, 2), ("valence", "arousal"))):
        jitter = np.random.default_rng(0).uniform(-0.03, 0.03, len(true))
        ax.scatter(true[:, j] + jitter, pred[:, j], s=6, alpha=0.4)
        ax.plot([-1, 1], [-1, 1], color="k", lw=0.8, ls="--")
        ax.set(xlim=(-1.1, 1.1), xlabel=f"true {name}", ylabel=f"predicted {name}",
               title=name if metrics is None else
               f"{name}: RMSE {metrics[j]['rmse']:.2f}, r {metrics[j]['pearson_r']:.2f}, CCC {metrics[j]['ccc']:.2f}")
    if title:
        fig.suptitle(title)
    save_figure(fig, fname)
