"""One subject's recording (or ``mne.Epochs``) -> one labelled feature dataset (:func:`extract_features`).

Feature definitions: ``docs/features.md``.
"""

from __future__ import annotations

import functools
import json
import logging

import numpy as np
import xarray as xr

from .._utils import code_version, sha256_file
from ..labels import LABEL_NAMES, RATING_RANGE, rating_scale
from .bde import compute_band_variance, compute_baseline_variance, n_windows, trials_by_length, variance_to_de
from .params import FeatureParams

__all__ = ["SCHEMA_VERSION", "extract_features", "normalise_labels", "label_scaling"]

logger = logging.getLogger(__name__)
_code_version = functools.lru_cache(maxsize=1)(code_version)  # one git call per process

#: Version of the stored layout (bumped when variables or attributes change meaning).
SCHEMA_VERSION = 1


def label_scaling(dataset: str, name: str, label_range=None, label_classes=None) -> tuple | None:
    """(centre, half-width) mapping the label ``name`` onto [-1, 1], or None to keep it as it is.

    Rated labels (DEAP and MAHNOB 1-9: ``(s - 5) / 4``; DREAMER 1-5: ``(s - 3) / 2``) are scaled
    with :func:`neuroaffect.labels.rating_scale`; SEED / SEED-IV class codes stay as they are. A
    label of any other dataset (a user's own, ``"custom"``) is scaled by its own finite
    ``label_range[name]`` unless it is a class label (in ``label_classes``).
    """
    if dataset in LABEL_NAMES:
        if dataset not in RATING_RANGE or name not in LABEL_NAMES[dataset]:
            return None
        return rating_scale(dataset)
    if name in (label_classes or {}) or name not in (label_range or {}):
        return None
    lo, hi = (float(v) for v in label_range[name])
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        return None
    return (lo + hi) / 2.0, (hi - lo) / 2.0


def normalise_labels(dataset: str, labels: dict, label_range=None, label_classes=None) -> dict:
    """``{name: normalised ratings}`` for every label (see :func:`label_scaling`)."""
    out = {}
    for name, v in labels.items():
        sc = label_scaling(dataset, name, label_range, label_classes)
        v = np.asarray(v, dtype=np.float64)
        out[name] = v.copy() if sc is None else (v - sc[0]) / sc[1]
    return out


def _band_variance_ragged(trials, sfreq, p, scale, nw_max, n_chans):
    """Band variance of possibly unequal-length trials, NaN-padded on the window axis."""
    if isinstance(trials, np.ndarray):
        return compute_band_variance(trials, sfreq, p, scale=scale)
    out = np.full((len(trials), nw_max, n_chans, len(p.bands)), np.nan)
    for length, idx in trials_by_length(trials).items():
        nw = n_windows(length, p.window, p.stride)
        if nw:
            x = np.stack([np.asarray(trials[i]) for i in idx])
            out[idx, :nw] = compute_band_variance(x, sfreq, p, scale=scale)
    return out


def _baseline_variance(baseline, sfreq, p, scale):
    if isinstance(baseline, np.ndarray):
        return compute_baseline_variance(baseline, sfreq, p, scale=scale)
    out = np.empty((len(baseline), np.shape(baseline[0])[0], len(p.bands)))
    for _, idx in trials_by_length(baseline).items():
        x = np.stack([np.asarray(baseline[i]) for i in idx])
        out[idx] = compute_baseline_variance(x, sfreq, p, scale=scale)
    return out


@functools.lru_cache(maxsize=32)
def _positions(ch_names: tuple) -> np.ndarray:
    """Read-only (n_chans, 3) electrode positions in metres, cached per channel list."""
    from ..channels import get_positions

    pos = get_positions(list(ch_names))
    pos.setflags(write=False)
    return pos


def _input_digests(rec) -> dict:
    """``{str(path): hex sha256}`` of every file in ``rec.fnames``.

    A digest the reader computed while reading the file (``rec.info["sha256"]``, keyed by
    ``str(path)``) is used as it is; any other file is hashed now
    (:func:`neuroaffect._utils.sha256_file`).
    """
    known = rec.info.get("sha256") if isinstance(rec.info, dict) else None
    known = known if isinstance(known, dict) else {}
    out = {}
    for f in rec.fnames:
        digest = known.get(str(f))
        out[str(f)] = digest if isinstance(digest, str) and len(digest) == 64 else sha256_file(f)
    return out


def _as_recording(rec, dataset, subject, baseline, ratings=None, classes=None):
    """``rec`` itself, or the :class:`~neuroaffect.io.Recording` of ``mne.Epochs``."""
    from ..io.base import Recording
    from ..io import from_epochs

    if isinstance(rec, Recording):
        for name, value in (("dataset", dataset), ("subject", subject), ("baseline", baseline),
                            ("ratings", ratings), ("classes", classes)):
            if value is not None:
                raise ValueError(
                    f"Invalid value for the {name!r} parameter. Expected None when rec is a "
                    f"Recording (it applies to mne.Epochs input only), but got "
                    f"{value if np.isscalar(value) else type(value).__name__!r} instead."
                )
        return rec
    import mne

    if isinstance(rec, mne.BaseEpochs):
        return from_epochs(rec, dataset="unknown" if dataset is None else dataset,
                           subject=subject, baseline=baseline, ratings=ratings, classes=classes)
    raise ValueError(
        "Invalid value for the 'rec' parameter. Expected a neuroaffect.io.Recording or an "
        f"mne.BaseEpochs (e.g. mne.EpochsArray), but got an instance of {type(rec).__name__} "
        "instead."
    )


def _attr_value(v):
    if isinstance(v, bool):
        return int(v)
    if v is None or isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return v


def extract_features(rec, params=None, *, progress: bool = False, dataset: str | None = None,
                     subject: int | None = None, baseline=None, ratings=None, classes=None) -> xr.Dataset:
    """Band DE tokens, topographic maps and physiological features of one recording.

    Parameters
    ----------
    rec : neuroaffect.io.Recording | mne.BaseEpochs
        One subject; EEG in volts, ``(n_trials, n_chans, n_times)`` or a list of
        ``(n_chans, n_times_i)`` trials. Epochs (e.g. ``mne.EpochsArray``, one epoch per
        trial) are converted with :func:`neuroaffect.io.from_epochs`: EEG channels picked by
        type, ``sfreq`` from ``epochs.info``, the stimulus is ``t >= 0`` and the baseline
        ``t < 0`` (unless ``baseline`` says otherwise), labels from ``epochs.metadata``,
        positions from the montage (else from the channel names).
    params : FeatureParams | dict | None
        Feature parameters (a plain config mapping is accepted; see
        :meth:`FeatureParams.from_dict`).
    progress : bool
        Show a progress bar over the stages (for command-line use).
    dataset : str | None
        Epochs only: the dataset name (labels and their normalisation); None = ``"unknown"``
        (labels are kept raw).
    subject : int | None
        Epochs only: the subject number; None = the ``subject`` metadata column, else 1.
    baseline : None | False | (float | None, float | None) | ndarray
        Epochs only: the baseline (see :func:`neuroaffect.io.from_epochs`); None = the
        ``t < 0`` part when ``epochs.tmin < 0``.
    ratings, classes : dict | sequence | None
        Epochs only: metadata columns that are ratings on a scale or classes (see
        :func:`neuroaffect.io.from_epochs`); every other metadata column is kept as well.

    Returns
    -------
    ds : xarray.Dataset
        Dimensions ``trial, window, channel, band`` (+ ``y, x`` for maps, ``feature`` for
        physiology, ``xyz`` for positions). Variables:

        - ``bde`` (trial, window, channel, band), float32: band DE (minus the baseline's
          when ``baseline_applied``); NaN for windows beyond a shorter trial's end.
        - ``baseline_bde`` (trial, channel, band), float32: the baseline's band DE (when the
          recording has a baseline).
        - ``n_windows`` (trial), int32: valid windows per trial.
        - ``ch_pos`` (channel, xyz), float64: electrode positions in metres (MNE head frame).
        - ``topo`` (trial, window, band, y, x), float32 and ``topo_inside`` (y, x), int8:
          maps of ``bde`` (with ``params.topo``).
        - ``physio`` (trial, window, feature), float32 (with ``params.physio`` and at least
          one usable peripheral signal; absent modalities are absent from ``feature``).

        Coordinates: ``channel`` names, ``band`` names with ``band_lo``/``band_hi`` (Hz),
        ``win_start`` (window) in samples from the stimulus onset, ``trial_id`` and
        ``session`` (trial), every label raw (e.g. ``valence``) and normalised
        (``valence_norm``). Attributes: every resolved parameter (``param_*`` and
        ``params_json``), ``params_hash``, ``code_version``, ``input_sha256`` (JSON
        file -> sha256; a digest the reader left in ``rec.info["sha256"]`` is used, any
        other file is hashed), ``dataset``, ``subject``, ``sfreq``, ``window``, ``stride``
        (samples), ``baseline_applied``, ``schema_version``, ``label_names``, ``label_scaling``,
        ``label_classes`` (JSON name -> class names) and ``label_range`` (JSON name -> [lo, hi]).
    """
    from tqdm.auto import tqdm

    rec = _as_recording(rec, dataset, subject, baseline, ratings, classes)
    p = FeatureParams.coerce(params).resolve(rec.sfreq)
    nws, nw_max = _window_counts(rec, p)
    stages = (["band DE", "baseline"] + (["maps"] if p.topo else []) + (["raw windows"] if p.raw else [])
              + (["physiology"] if p.physio else []))
    bar = tqdm(total=len(stages) + 1, disable=not progress, unit="stage",
               desc=f"{rec.dataset} s{rec.subject:02d}")
    de, base_de, applied = _band_de(rec, p, nws, nw_max, bar)
    data, coords = _de_variables(rec, p, de, base_de, nws, nw_max)
    if p.topo:
        bar.set_postfix_str("maps")
        _add_topomaps(rec, p, data, coords)
        bar.update()
    if p.raw:
        bar.set_postfix_str("raw windows")
        _add_raw_windows(rec, p, nws, data, coords)
    if p.physio:
        bar.set_postfix_str("physiology")
        _add_physio(rec, p, data, coords)
        bar.update()
    bar.set_postfix_str("provenance")
    ds = _feature_dataset(data, coords, _provenance_attrs(rec, p, applied), p)
    bar.update()
    bar.close()
    return ds


def _window_counts(rec, p: FeatureParams) -> tuple[np.ndarray, int]:
    """Windows per trial (n_trials,) int32 and their maximum; ``ValueError`` when no trial holds one window."""
    n_times = rec.n_times
    nws = np.array([n_windows(t, p.window, p.stride) for t in n_times], dtype=np.int32)
    nw_max = int(nws.max(initial=0))
    if nw_max == 0:
        raise ValueError(
            f"{rec.dataset} subject {rec.subject}: no trial holds one {p.window}-sample window "
            f"(longest trial: {int(n_times.max(initial=0))} samples)"
        )
    return nws, nw_max


def _band_de(rec, p: FeatureParams, nws: np.ndarray, nw_max: int, bar) -> tuple:
    """Band DE (n_trials, nw_max, n_chans, n_bands), NaN past a trial's end, minus the baseline's when applied;
    the baseline's band DE (n_trials, n_chans, n_bands) or None; whether it was subtracted."""
    sfreq = float(rec.sfreq)
    scale = 1e6 if p.scale_uv else 1.0
    bar.set_postfix_str("band DE")
    de = variance_to_de(_band_variance_ragged(rec.eeg, sfreq, p, scale, nw_max, rec.n_chans), p.log_base)
    de[np.arange(nw_max)[None, :] >= nws[:, None]] = np.nan
    bar.update()

    bar.set_postfix_str("baseline")
    base_de, applied = None, False
    if rec.baseline is not None:
        base_de = variance_to_de(_baseline_variance(rec.baseline, sfreq, p, scale), p.log_base)
        if p.baseline == "subtract":
            de -= base_de[:, None]
            applied = True
    elif p.baseline == "subtract":
        logger.info("%s subject %s has no baseline: band DE is not baseline-corrected",
                    rec.dataset, rec.subject)
    bar.update()
    return de, base_de, applied


def _de_variables(rec, p: FeatureParams, de, base_de, nws, nw_max: int) -> tuple[dict, dict]:
    """``(data, coords)`` of the dataset: band DE, windows per trial, positions, baseline DE; labels raw and
    normalised as trial coordinates (see :func:`extract_features`)."""
    coords = {
        "trial": np.arange(rec.n_trials), "trial_id": ("trial", rec.trial_ids),
        "session": ("trial", rec.session_ids),
        "window": np.arange(nw_max),
        "win_start": ("window", np.arange(nw_max, dtype=np.int64) * p.stride),
        "channel": list(rec.ch_names), "band": list(p.bands),
        "band_lo": ("band", np.array([lo for lo, _ in p.bands.values()])),
        "band_hi": ("band", np.array([hi for _, hi in p.bands.values()])),
        "xyz": ["x", "y", "z"],
    }
    norm = normalise_labels(rec.dataset, rec.labels, rec.label_range, rec.label_classes)
    for name, v in rec.labels.items():
        coords[name] = ("trial", np.asarray(v, dtype=np.float64))
        coords[f"{name}_norm"] = ("trial", norm[name])
    data = {
        "bde": (("trial", "window", "channel", "band"), de.astype(np.float32)),
        "n_windows": ("trial", nws),
        "ch_pos": (("channel", "xyz"), _positions(tuple(rec.ch_names)).copy()
                   if rec.ch_pos is None else np.array(rec.ch_pos, dtype=np.float64)),
    }
    if base_de is not None:
        data["baseline_bde"] = (("trial", "channel", "band"), base_de.astype(np.float32))
    return data, coords


def _add_topomaps(rec, p: FeatureParams, data: dict, coords: dict) -> None:
    """Add ``topo`` (trial, window, band, y, x) maps of the band DE and ``topo_inside`` (y, x) with their grid."""
    from .topomap import make_topomaps, topomap_grid_for_channels, topomap_grid_for_positions

    if rec.ch_pos is None:
        grid = topomap_grid_for_channels(rec.ch_names, p.topo_size, p.topo_interp, p.outside)
    else:
        grid = topomap_grid_for_positions(rec.ch_names, rec.ch_pos, p.topo_size,
                                          p.topo_interp, p.outside)
    maps = make_topomaps(np.ascontiguousarray(data["bde"][1].transpose(0, 1, 3, 2)), grid)
    data["topo"] = (("trial", "window", "band", "y", "x"), maps)
    data["topo_inside"] = (("y", "x"), grid.inside.astype(np.int8))
    coords["y"], coords["x"] = grid.y, grid.x


def _add_raw_windows(rec, p: FeatureParams, nws: np.ndarray, data: dict, coords: dict) -> None:
    """Add ``raw`` (trial, window, channel, time) EEG windows in µV (:func:`~.raw.extract_raw_windows`)."""
    from .raw import extract_raw_windows

    band = p.raw_band or (None, None)
    raw, raw_nw, _ = extract_raw_windows(rec, p.window, p.stride, l_freq=band[0], h_freq=band[1],
                                         baseline=rec.baseline is not None and p.baseline == "subtract")
    if not np.array_equal(raw_nw, nws):  # one window rule for both: a mismatch is a bug, not bad data
        raise RuntimeError(f"raw windows per trial {raw_nw.tolist()} differ from band-DE windows {nws.tolist()}")
    data["raw"] = (("trial", "window", "channel", "time"), raw.astype(np.float32))
    coords["time"] = np.arange(p.window)


def _add_physio(rec, p: FeatureParams, data: dict, coords: dict) -> None:
    """Add ``physio`` (trial, window, feature) when a peripheral signal is usable, with its feature names/units."""
    from .physio import compute_physio_features

    values, names, units = compute_physio_features(
        rec.peripheral, float(rec.sfreq), rec.n_times, p.window, p.stride, p.physio_context,
    )
    if names:
        data["physio"] = (("trial", "window", "feature"), values)
        coords["feature"] = list(names)
        coords["feature_unit"] = ("feature", list(units))


def _provenance_attrs(rec, p: FeatureParams, applied: bool) -> dict:
    """Dataset attributes: parameters, their hash, code version, input digests, window sizes and label scales."""
    sfreq = float(rec.sfreq)
    params_dict = p.to_dict()
    attrs = {
        "schema_version": SCHEMA_VERSION,
        "dataset": rec.dataset, "subject": int(rec.subject), "sfreq": sfreq,
        "window": int(p.window), "stride": int(p.stride),
        "window_seconds": p.window / sfreq, "baseline_segment": int(p.baseline_segment),
        "baseline_applied": int(applied),
        "de_unit": ("nats" if p.log_base == "e" else f"log{p.log_base}")
        + (" of uV^2" if p.scale_uv and p.normalize == "off" else ""),
        "params_json": json.dumps(params_dict, sort_keys=True),
        "params_hash": p.hash(),
        "code_version": _code_version(),
        "input_sha256": json.dumps(_input_digests(rec), sort_keys=True),
        "label_names": json.dumps(list(rec.labels)),
        "label_scaling": json.dumps({
            k: label_scaling(rec.dataset, k, rec.label_range, rec.label_classes) for k in rec.labels
        }),
        "label_classes": json.dumps({k: list(v) for k, v in rec.label_classes.items()}),
        "label_range": json.dumps({k: [float(a), float(b)] for k, (a, b) in rec.label_range.items()
                                   if k in rec.labels and np.isfinite([a, b]).all()}),
    }
    attrs.update({f"param_{k}": _attr_value(v) for k, v in params_dict.items()})
    attrs.setdefault("param_raw", int(p.raw))  # off: absent from the hashed dict, recorded all the same
    attrs.setdefault("param_raw_band", _attr_value(None if p.raw_band is None else list(p.raw_band)))
    return attrs


def _feature_dataset(data: dict, coords: dict, attrs: dict, p: FeatureParams) -> xr.Dataset:
    """The ``xarray.Dataset`` of the variables, with the units of ``bde``, ``win_start``, ``ch_pos`` and ``raw``."""
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    ds["bde"].attrs["units"] = attrs["de_unit"]
    ds["win_start"].attrs.update(units="samples", window=int(p.window), stride=int(p.stride))
    ds["ch_pos"].attrs["units"] = "m"
    if "raw" in ds:
        ds["raw"].attrs["units"] = "uV"
    return ds
