"""Feature files -> :class:`WindowSet`: the bridge from the feature layer to training.

Reads the per-subject netCDF files written by :func:`neuroaffect.features.write_features`
(xarray only: no MNE), keeps the valid windows, and maps the chosen label to classes with
:func:`make_labels`. Unlabeled trials (NaN label, e.g. MAHNOB sessions without ratings) are
dropped.
"""

from __future__ import annotations

import json

import numpy as np

from ..labels import TARGETS, check_target, make_labels, n_label_classes
from .data import WindowSet

__all__ = ["TARGETS", "windows_from_features"]

def windows_from_features(fnames, target: str, task: str, dataset: str | None = None) -> WindowSet:
    """Load the windows of one or more subjects' feature files for one classification task.

    Parameters
    ----------
    fnames : path-like | sequence of path-like
        Feature files (one per subject) of one dataset.
    target : str
        Label name: ``valence``, ``arousal``, ``dominance`` (``liking`` for DEAP), or ``emotion``
        for SEED.
    task : {'binary', 'multiclass'}
        Label rule of SPEC section 3 (see :data:`neuroaffect.training.LABEL_RULES`).
    dataset : str | None
        Checked against the files' ``dataset`` attribute (None: taken from the first file).

    Returns
    -------
    windows : WindowSet
        ``X`` (n_windows, n_chans, n_bands) float32 band DE; ``trial`` unique across files;
        ``start`` in samples from the stimulus onset; ``ch_pos`` from the first file.
    """
    from ..features.store import load_tokens, read_features
    from .._utils import DatasetFormatError

    if isinstance(fnames, (str, bytes)) or not hasattr(fnames, "__iter__"):
        fnames = [fnames]
    fnames = list(fnames)
    if not fnames:
        raise ValueError("windows_from_features needs at least one feature file, got none")
    parts, ch_pos, ref, offset = [], None, None, 0
    for fname in fnames:
        ds = read_features(fname)
        ds_name = str(ds.attrs.get("dataset"))
        dataset = dataset or ds_name
        if ds_name != dataset:
            raise DatasetFormatError(fname, f"features of dataset {dataset!r}", f"dataset {ds_name!r}")
        if target not in TARGETS.get(dataset, ()):
            raise ValueError(
                f"Invalid value for the 'target' parameter. Allowed values for {dataset} are "
                f"{', '.join(map(repr, TARGETS.get(dataset, ())))}, but got {target!r} instead."
            )
        if target not in ds.coords:
            raise DatasetFormatError(fname, f"a {target!r} label coordinate", f"labels {json.loads(ds.attrs.get('label_names', '[]'))}")
        layout = (list(ds["channel"].values), list(ds["band"].values), int(ds.attrs["window"]))
        if ref is None:
            ref, ch_pos = layout, np.asarray(ds["ch_pos"].values, dtype=np.float64)
        elif layout != ref:
            raise DatasetFormatError(fname, f"channels, bands and window {ref}", f"{layout}")
        tok = load_tokens(ds)
        rating = np.asarray(ds.coords[target].values, dtype=np.float64)[tok.trial]
        keep = ~np.isnan(rating)
        if not keep.any():
            continue
        trial = tok.trial[keep]
        parts.append(dict(
            X=tok.X[keep],
            y=make_labels(rating[keep], dataset, task),
            trial=trial + offset,
            subject=np.full(trial.size, int(ds.attrs["subject"])),
            session=np.asarray(ds.coords["session"].values)[trial],
            start=np.asarray(ds["win_start"].values)[tok.window[keep]],
            trial_number=np.asarray(ds.coords["trial_id"].values)[trial],
        ))
        offset += int(ds.sizes["trial"])
    if not parts:
        raise ValueError(f"no labeled {target!r} windows in {[str(f) for f in fnames]}")
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return WindowSet(win_len=ref[2], ch_pos=ch_pos, n_classes=n_label_classes(dataset, task), **cat)
