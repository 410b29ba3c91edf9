"""One feature loader: read feature files, or compute the features of a dataset root in memory.

:func:`load_features` returns the per-subject feature datasets (:func:`~.extract.extract_features`)
with their provenance (:class:`LoadedFeatures`): the files read, the root, whether the recordings
are the simulator's and its planted effect size, and the sha256 of every feature file and raw
recording (:func:`feature_provenance`). The pipeline's windows (``pipeline.load_windows``) and
the prototype grid's inputs (``pipeline.feature_datasets``) both go through it. Feature files and
their attributes: ``docs/features.md``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from .._progress import Progress, progress_enabled
from .._utils import DatasetFormatError, find_sidecar, sha256_file

__all__ = ["LoadedFeatures", "feature_provenance", "find_sidecar", "load_features", "resolve_feature_files",
           "simulation_of"]


@dataclass
class LoadedFeatures:
    """Feature datasets and where they came from (:func:`load_features`).

    Attributes
    ----------
    datasets : list of xarray.Dataset
        One per subject, in subject order.
    files : list of pathlib.Path
        The feature files read (empty when computed in memory).
    root : str | None
        The dataset root (``None`` when the files were read without it).
    simulated : bool | None
        Whether the recordings are the simulator's (a ``simulation.json`` beside the root or the
        first raw input); ``None`` when unknown.
    snr : float | None
        The planted effect size the simulation was asked for; ``None`` with ``simulated`` means
        the simulator's default (``neuroaffect.simulate.DEFAULT_SNR``; features do not import the
        simulator).
    inputs : dict
        ``{"features": {path: sha256}, "feature_params_hash": [...], "raw_inputs": {path: sha256}}``.
    """

    datasets: list
    files: list = field(default_factory=list)
    root: str | None = None
    simulated: bool | None = None
    snr: float | None = None
    inputs: dict = field(default_factory=dict)


def simulation_of(root) -> tuple[bool, float | None]:
    """``(simulated, snr)`` of a dataset root: the sidecar's ``snr`` (None: the simulator's default)."""
    side = find_sidecar(root)
    if side is None:
        return False, None
    card = json.loads(side.read_text())
    return True, None if card.get("snr") is None else float(card["snr"])


def feature_provenance(sources, files=()) -> dict:
    """Provenance of feature datasets a result was trained on.

    Parameters
    ----------
    sources : sequence of xarray.Dataset
        The feature datasets (their attributes hold parameters and raw-input hashes).
    files : sequence of path-like
        Those of them read from files (hashed here).

    Returns
    -------
    inputs : dict
        ``{"features": {path: sha256}, "feature_params_hash": [...], "raw_inputs": {path: sha256}}``.
    """
    out = {"features": {str(f): sha256_file(f) for f in files}, "feature_params_hash": [], "raw_inputs": {}}
    names = [str(f) for f in files] or [f"<subject {ds.attrs.get('subject')}>" for ds in sources]
    for name, ds in zip(names, sources):
        ph = ds.attrs.get("params_hash")
        if ph and ph not in out["feature_params_hash"]:
            out["feature_params_hash"].append(ph)
        text = ds.attrs.get("input_sha256", "{}")
        try:
            raw = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            raw = None
        if not isinstance(raw, dict):
            raise DatasetFormatError(name, "an 'input_sha256' attribute holding a JSON object {path: sha256}",
                                     f"{str(text)[:80]!r}")
        out["raw_inputs"].update(raw)
    return out


def resolve_feature_files(features, subjects=None) -> list[Path]:
    """Feature files: ``features`` is one ``.nc`` file or a folder of ``<subject>.nc``.

    Raises ``FileNotFoundError`` naming what is missing.
    """
    src = Path(features)
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: expected a feature file or a folder of <subject>.nc files, but found "
                                "no such path")
    have = {int(f.stem): f for f in src.glob("*.nc") if f.stem.isdigit()}
    if subjects is None:
        if not have:
            raise FileNotFoundError(f"{src}: expected <subject>.nc feature files, but found none")
        return [have[s] for s in sorted(have)]
    missing = [s for s in subjects if s not in have]
    if missing:
        raise FileNotFoundError(f"{src}: expected feature files of subjects {missing}, but found only "
                                f"{sorted(have) or 'none'}")
    return [have[s] for s in subjects]


def load_features(dataset: str, *, root=None, features=None, subjects=None, params=None, raw: bool = False,
                  progress: bool = False, read_kwargs: dict | None = None) -> LoadedFeatures:
    """Feature datasets of ``subjects``: read from feature files, or computed in memory from ``root``.

    Parameters
    ----------
    dataset : str
        The dataset's name (its reader, :func:`neuroaffect.io.iter_recordings`).
    root : path-like | None
        Dataset root (any form its reader takes). With ``features`` it only says whether the
        recordings were simulated.
    features : path-like | None
        A feature file or a folder of ``<subject>.nc`` (takes precedence over ``root``).
    subjects : sequence of int | None
        Subjects to load (default: all there are).
    params : FeatureParams | dict | None
        Feature parameters when computing from ``root`` (default: the defaults); ignored for
        feature files, whose own parameters are in their attributes.
    raw : bool
        Compute raw-signal windows (``params`` with ``raw=True``, no maps, no physiology) unless
        ``params`` asks for them already.
    progress : bool
        Report each subject computed from ``root`` on stderr (a bar on a terminal, else one line
        per subject).
    read_kwargs : dict | None
        Keyword arguments of the reader.

    Returns
    -------
    loaded : LoadedFeatures
        With ``simulated`` from the root, else from the first raw input the features record.

    Raises
    ------
    ValueError
        Neither ``root`` nor ``features``, or no recording found below ``root``.
    FileNotFoundError
        Missing feature files (:func:`resolve_feature_files`).
    """
    if features is None and root is None:
        raise ValueError(f"{dataset}: expected a dataset root (root=) or feature files (features=), but got neither")
    if features is not None:
        from .store import read_features

        files = resolve_feature_files(features, subjects)
        dsets = [read_features(f) for f in files]
        simulated, snr = (None, None) if root is None else simulation_of(root)
    else:
        files, dsets = [], _compute(dataset, root, subjects, params, raw, progress, read_kwargs)
        simulated, snr = simulation_of(root)
    inputs = feature_provenance(dsets, files)
    if simulated is None and inputs["raw_inputs"]:
        simulated, snr = simulation_of(next(iter(inputs["raw_inputs"])))
    return LoadedFeatures(datasets=dsets, files=files, root=None if root is None else str(root),
                          simulated=simulated, snr=snr, inputs=inputs)


def _compute(dataset: str, root, subjects, params, raw: bool, progress: bool, read_kwargs) -> list:
    """Every subject's features computed in memory from ``root``, one progress step per subject."""
    from ..io import iter_recordings
    from .extract import extract_features
    from .params import FeatureParams

    p = FeatureParams.coerce(params or {})
    if raw and not p.raw:  # raw-signal models: the same windows, as signal
        p = dataclasses.replace(p, raw=True, topo=False, physio=False)
    with progress_enabled(progress):  # one bar (a terminal) or one line per subject (a log)
        bar = Progress(None if subjects is None else len(subjects), f"features {dataset}")
        dsets = []
        for rec in iter_recordings(dataset, root, subjects, **(read_kwargs or {})):
            dsets.append(extract_features(rec, p))
            bar.update()
        bar.close()
    if not dsets:
        raise ValueError(f"{root}: expected recordings of {dataset} subjects {subjects}, but found none")
    return dsets
