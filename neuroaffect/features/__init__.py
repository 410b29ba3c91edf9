"""Features of EEG windows: band differential entropy, topographic maps, physiology.

Entry points: :func:`extract_features` (one :class:`~neuroaffect.io.Recording`, or
``mne.Epochs`` -> ``xarray.Dataset``), :func:`write_features` / :func:`read_features` (netCDF,
atomic), :func:`load_tokens` / :func:`load_maps` (numpy arrays for models), :func:`load_features` (feature
files read, or computed from a dataset root, with their provenance) and
:class:`FeatureParams` (every parameter, hashed into each output). No torch here. Feature
definitions: ``docs/features.md``.
"""

import importlib

#: Public name -> its submodule. Loaded on first use (PEP 562), so that a figure or a summary that needs
#: one function (e.g. the topomap geometry) does not import scipy.signal, xarray and the physiology code.
_MODULE = {
    **dict.fromkeys(("compute_band_de", "compute_band_variance", "compute_baseline_variance",
                     "design_window_filters", "n_windows", "variance_to_de", "window_starts"), "bde"),
    **dict.fromkeys(("SCHEMA_VERSION", "extract_features", "label_scaling", "normalise_labels"), "extract"),
    **dict.fromkeys(("LoadedFeatures", "feature_provenance", "find_sidecar", "load_features",
                     "resolve_feature_files"), "load"),
    **dict.fromkeys(("BANDS", "MODES", "PRESETS", "RBT_BANDS", "WINDOW_PRESETS", "FeatureParams"), "params"),
    **dict.fromkeys(("PHYSIO_FEATURES", "compute_physio_features"), "physio"),
    "extract_raw_windows": "raw",
    **dict.fromkeys(("Tokens", "load_maps", "load_tokens", "read_features", "valid_mask", "write_features"),
                    "store"),
    **dict.fromkeys(("HEAD_RADIUS", "TopomapGrid", "make_topomap_grid", "make_topomaps",
                     "topomap_grid_for_channels", "topomap_grid_for_positions"), "topomap"),
}


def __getattr__(name):
    if name in _MODULE:
        value = getattr(importlib.import_module(f".{_MODULE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_MODULE))


__all__ = sorted(_MODULE)
