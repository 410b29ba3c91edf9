"""Feature datasets -> :class:`WindowSet`: the bridge from the feature layer to training.

Takes the per-subject feature datasets written by :func:`neuroaffect.features.write_features`
(files, or the in-memory ``xarray.Dataset`` that :func:`neuroaffect.features.extract_features`
returns), keeps the valid windows, and maps the chosen label to targets with
:func:`~neuroaffect.labels.make_labels`. Unlabeled trials (NaN label, e.g. MAHNOB sessions without
ratings) are dropped. Every continuous label (normalised to [-1, 1]) rides along in
``WindowSet.ratings`` whatever the task.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_option
from ..labels import LABEL_DATASETS, check_target, custom_n_classes, make_custom_labels, make_labels, n_label_classes
from .data import KINDS, WindowSet

__all__ = ["windows_from_features"]

#: Variable of a feature dataset holding each kind of input.
VARIABLES = {"tokens": "bde", "maps": "topo", "raw": "raw"}


def _name(src) -> str:
    return str(src) if isinstance(src, (str, Path)) else f"<in-memory dataset of subject {src.attrs.get('subject')}>"


def windows_from_features(sources, target: str, task: str, dataset: str | None = None,
                          kind: str = "tokens") -> WindowSet:
    """Load the windows of one or more subjects' feature datasets for one task.

    Parameters
    ----------
    sources : path-like | xarray.Dataset | sequence of them
        Feature files or datasets (one per subject) of one dataset.
    target : str
        Label name: ``valence``, ``arousal``, ``dominance`` (``liking`` for DEAP), or ``emotion``
        for SEED; for any other dataset (a user's own, ``"custom"``) any label of the features,
        turned into targets by its own scale or classes (:func:`~neuroaffect.labels.make_custom_labels`).
    task : {'binary', 'multiclass', 'regression'}
        Label rule (:data:`neuroaffect.labels.LABEL_RULES`).
    dataset : str | None
        Checked against the datasets' ``dataset`` attribute (None: taken from the first).
    kind : {'tokens', 'maps', 'raw'}
        Band-DE tokens ``(n_chans, n_bands)`` (variable ``bde``), topographic maps
        ``(n_bands, H, W)`` (``topo``) or raw windows ``(n_chans, n_times)`` in µV (``raw``).

    Returns
    -------
    windows : WindowSet
        ``X`` float32; ``trial`` unique across sources; ``start`` in samples from the stimulus
        onset; ``ch_pos`` from the first source; ``ratings`` every rated label normalised.
    """
    import xarray as xr

    from ..features.store import check_feature_dataset, label_spec, read_features, valid_mask

    check_option("kind", kind, KINDS)
    if isinstance(sources, (str, bytes, Path, xr.Dataset)) or not hasattr(sources, "__iter__"):
        sources = [sources]
    sources = list(sources)
    if not sources:
        raise ValueError("windows_from_features needs at least one feature dataset, got none")
    parts, ch_pos, ref, offset, rating_names = [], None, None, 0, None
    for src in sources:
        ds = src if isinstance(src, xr.Dataset) else read_features(src)
        where = _name(src)
        check_feature_dataset(ds, where, VARIABLES[kind])
        ds_name = str(ds.attrs.get("dataset"))
        dataset = dataset or ds_name
        if ds_name != dataset:
            raise DatasetFormatError(where, f"features of dataset {dataset!r}", f"dataset {ds_name!r}")
        spec = None if dataset in LABEL_DATASETS else label_spec(ds, target)  # a user's own labels
        if spec is None:
            check_target(dataset, target, task)
            n_classes = n_label_classes(dataset, task)  # the (dataset, task) pair is defined
        if target not in ds.coords:
            raise DatasetFormatError(where, f"a {target!r} label coordinate",
                                     f"labels {json.loads(ds.attrs.get('label_names', '[]'))}")
        if spec is not None:
            n_classes = custom_n_classes(task, name=target, **spec)
        var = VARIABLES[kind]
        if var not in ds:
            raise DatasetFormatError(where, f"a {var!r} variable ({kind} inputs)", f"variables {sorted(ds.data_vars)}")
        layout = (list(ds["channel"].values), list(ds["band"].values), int(ds.attrs["window"]), ds[var].shape[2:])
        if ref is None:
            ref, ch_pos = layout, np.asarray(ds["ch_pos"].values, dtype=np.float64)
        elif layout != ref:
            raise DatasetFormatError(where, f"channels, bands, window and input shape {ref}", f"{layout}")
        trial, window = np.nonzero(valid_mask(ds))
        rating = np.asarray(ds.coords[target].values, dtype=np.float64)[trial]
        keep = ~np.isnan(rating)
        if not keep.any():
            continue
        trial, window = trial[keep], window[keep]
        names = [n for n in json.loads(ds.attrs.get("label_names", "[]")) if f"{n}_norm" in ds.coords
                 and json.loads(ds.attrs.get("label_scaling", "{}")).get(n) is not None]
        rating_names = names if rating_names is None else [n for n in rating_names if n in names]
        parts.append(dict(
            X=np.ascontiguousarray(ds[var].values[trial, window], dtype=np.float32),
            y=(make_labels(rating[keep], dataset, task) if spec is None
               else make_custom_labels(rating[keep], task, name=target, **spec)),
            trial=trial + offset,
            subject=np.full(trial.size, int(ds.attrs["subject"])),
            session=np.asarray(ds.coords["session"].values)[trial],
            start=np.asarray(ds["win_start"].values)[window],
            trial_number=np.asarray(ds.coords["trial_id"].values)[trial],
            ratings={n: np.asarray(ds.coords[f"{n}_norm"].values, dtype=np.float32)[trial] for n in names},
        ))
        offset += int(ds.sizes["trial"])
    if not parts:
        raise ValueError(f"no labeled {target!r} windows in {[_name(s) for s in sources]}")
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "ratings"}
    rating_names = tuple(rating_names or ())
    ratings = (np.stack([np.concatenate([p["ratings"][n] for p in parts]) for n in rating_names], axis=1)
               if rating_names else None)
    n_classes = None if task == "regression" else n_classes
    return WindowSet(win_len=ref[2], ch_pos=ch_pos, n_classes=n_classes, ratings=ratings,
                     rating_names=rating_names, kind=kind, **cat)
