"""Figures of the features (PNG, written atomically, Agg canvas). Never imports models."""

from ._io import new_figure, save_figure
from .calibration import plot_reliability
from .prototypes import plot_grid_occupancy, plot_prototype_geometry, plot_teacher_fit
from .results import plot_confusions, plot_sweep
from .topomaps import plot_feature_figures, plot_label_contrast, plot_topomap_comparison, region_masks

__all__ = ["new_figure", "plot_confusions", "plot_feature_figures", "plot_grid_occupancy", "plot_prototype_geometry", "plot_reliability", "plot_sweep",
           "plot_teacher_fit", "plot_label_contrast", "plot_topomap_comparison", "region_masks", "save_figure"]
