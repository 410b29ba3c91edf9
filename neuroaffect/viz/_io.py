"""Figures without pyplot: an Agg-backed :class:`~matplotlib.figure.Figure`, saved atomically."""

from __future__ import annotations

from pathlib import Path

from .._utils import atomic_path

__all__ = ["new_figure", "save_figure"]


def new_figure(figsize=(6.4, 4.8)):
    """A matplotlib Figure on an Agg canvas (no global backend or pyplot state involved)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, fname, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG to ``fname`` atomically (temporary file, then rename)."""
    fname = Path(fname)
    with atomic_path(fname) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return fname
