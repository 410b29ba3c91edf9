"""Figures of training results: learning curves and confusion matrices (from plain arrays)."""

from __future__ import annotations

import numpy as np

from ._io import new_figure, save_figure

__all__ = ["plot_confusions", "plot_sweep"]


def plot_sweep(histories, confusion, fname, *, class_names=None, title: str = "") -> None:
    """Learning curves of every fold model beside the pooled test confusion matrix.

    Parameters
    ----------
    histories : list of dict
        Per fold model: ``{"train_loss": [...], "val_loss": [...] (optional; NaN or None where no
        validation split was held out)}``, one value per epoch.
    confusion : array-like, shape (n_classes, n_classes) | None
        Counts, rows = true class, columns = predicted class (pooled over test folds); ``None``
        (regression) draws the learning curves alone.
    fname : path-like
        PNG to write (atomically).
    class_names : sequence of str | None
    title : str
    """
    fig = new_figure((10.0, 4.0) if confusion is not None else (5.5, 4.0))
    if confusion is None:
        ax1, ax2 = fig.subplots(1, 1), None
    else:
        cm = np.asarray(confusion, dtype=float)
        ax1, ax2 = fig.subplots(1, 2)
    for h in histories:
        loss = np.asarray(h.get("train_loss", []), dtype=float)
        if loss.size:
            ax1.plot(np.arange(1, loss.size + 1), loss, color="C0", alpha=0.35, lw=1)
        val = np.asarray(h.get("val_loss", []), dtype=float)
        if val.size and np.isfinite(val).any():
            ax1.plot(np.arange(1, val.size + 1), val, color="C1", alpha=0.35, lw=1)
    ax1.set(xlabel="epoch", ylabel="loss", title=f"learning curves ({len(histories)} fold models)")
    ax1.plot([], [], color="C0", label="training")
    if any(np.isfinite(np.asarray(h.get("val_loss", []), dtype=float)).any() for h in histories):
        ax1.plot([], [], color="C1", label="validation (held-out training trials)")
    else:
        ax1.text(0.5, 0.02, "no validation split (trained without --validate)", transform=ax1.transAxes,
                 ha="center", va="bottom", fontsize=8, color="0.4")
    ax1.legend(loc="upper right", fontsize=8)
    if ax2 is None:
        if title:
            fig.suptitle(title)
        save_figure(fig, fname)
        return
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    im = ax2.imshow(frac, vmin=0, vmax=1, cmap="Blues")
    n = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    ax2.set(xticks=range(n), yticks=range(n), xticklabels=names, yticklabels=names,
            xlabel="predicted", ylabel="true", title="test confusion (row-normalised)")
    for i in range(n):
        for j in range(n):
            ax2.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                     color="white" if frac[i, j] > 0.5 else "black", fontsize=8)
    fig.colorbar(im, ax=ax2, shrink=0.8)
    if title:
        fig.suptitle(title)
    save_figure(fig, fname)


def plot_confusions(confusions: dict, fname, *, class_names, title: str = "") -> None:
    """Row-normalised confusion matrices side by side, one per evaluation set.

    Parameters
    ----------
    confusions : dict of str -> array-like, shape (n_classes, n_classes)
        Counts per set (rows true, columns predicted); rows of absent classes stay empty.
    fname : path-like
        PNG to write (atomically).
    class_names : sequence of str
    """
    items = list(confusions.items())
    fig = new_figure((4.6 * len(items), 4.4))
    axes = np.atleast_1d(fig.subplots(1, len(items)))
    n = len(class_names)
    for ax, (name, cm) in zip(axes, items):
        cm = np.asarray(cm, dtype=float)
        rows = cm.sum(axis=1, keepdims=True)
        frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
        acc = np.trace(cm) / max(cm.sum(), 1)
        ax.imshow(frac, vmin=0, vmax=1, cmap="Blues")
        ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true",
               title=f"{name} (accuracy {100 * acc:.1f} %)")
        ax.set_xticklabels(class_names, rotation=60, ha="right", fontsize=7)
        ax.set_yticklabels(class_names, fontsize=7)
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=6,
                            color="white" if frac[i, j] > 0.5 else "black")
    if title:
        fig.suptitle(title)
    save_figure(fig, fname)
