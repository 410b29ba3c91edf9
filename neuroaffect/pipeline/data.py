"""Read -> features -> windows, with the provenance of every input.

:func:`load_windows` is the hand-off the command line, the workflow and Python users share:

>>> from neuroaffect import pipeline
>>> windows, source = pipeline.load_windows("deap", "valence", "binary", root="data/sim/deap/deap",
...                                         subjects=[1])                     # doctest: +SKIP
>>> print(source.describe())                                                     # doctest: +SKIP
deap from data/sim/deap/deap (simulated, snr 1), features computed in memory (params 6f567f8d895d)

Features come from feature files when given (``features=``), else they are computed in
memory from the dataset ``root`` (no temporary files), both by the one feature loader
:func:`neuroaffect.features.load_features`. The :class:`DataSource` says which, and carries the
sha256 of every feature file and raw recording.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .._utils import check_option
from ..features.load import feature_provenance, find_sidecar, load_features, resolve_feature_files
from ..labels import CUSTOM, DATASETS

__all__ = ["DataSource", "feature_provenance", "find_sidecar", "load_windows", "resolve_feature_files"]

#: Datasets ``load_windows`` reads from a root: the pipeline's own and a user's recordings.
ROOT_DATASETS = DATASETS + (CUSTOM,)


@dataclass
class DataSource:
    """Where a WindowSet came from.

    Attributes
    ----------
    dataset : str
    root : str | None
        The dataset root features were computed from (``None`` when read from files).
    features : list of str
        Feature files read (empty when computed in memory).
    simulated : bool | None
        Whether the recordings are the simulator's (a ``simulation.json`` beside them); ``None``
        when unknown (features read from files without their root).
    snr : float | None
        The simulator's planted effect size.
    params_hash : list of str
        Feature-parameter hashes of the features used.
    inputs : dict
        ``{"features": {path: sha256}, "feature_params_hash": [...], "raw_inputs": {path: sha256}}``.
    class_names : list of str
        Names of the target's classes where the data name them (a user's own classes), else empty.
    """

    dataset: str
    root: str | None = None
    features: list = field(default_factory=list)
    simulated: bool | None = None
    snr: float | None = None
    params_hash: list = field(default_factory=list)
    inputs: dict = field(default_factory=dict)
    class_names: list = field(default_factory=list)

    def describe(self) -> str:
        """One line: dataset, where it was read from, real or simulated (snr), which features."""
        if self.simulated:
            kind = f"simulated, snr {self.snr:g}" if self.snr is not None else "simulated"
        elif self.simulated is None:
            kind = "real or simulated: unknown"
        else:
            kind = "real data"
        where = f"from {self.root}" if self.root else (
            "from feature files" if self.features else "from in-memory feature datasets")
        feats = (f"features {_common_folder(self.features)}" if self.features
                 else "features computed in memory")
        ph = ", ".join(h[:12] for h in self.params_hash)
        return f"{self.dataset} {where} ({kind}), {feats} (params {ph})"

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "root": self.root, "features": list(self.features),
                "simulated": self.simulated, "snr": self.snr, "params_hash": list(self.params_hash),
                "description": self.describe(), **self.inputs,
                **({"class_names": list(self.class_names)} if self.class_names else {})}


def _common_folder(files) -> str:
    parents = {str(Path(f).parent) for f in files}
    return parents.pop() + "/" if len(parents) == 1 else ", ".join(map(str, files))


def _with_default_snr(simulated: bool | None, snr: float | None) -> tuple[bool | None, float | None]:
    """``(simulated, snr)`` with the simulator's default snr where a simulation's sidecar left it out."""
    from ..simulate import DEFAULT_SNR

    return simulated, DEFAULT_SNR if simulated and snr is None else snr


def load_windows(dataset, target: str, task: str, *, root=None, features=None, subjects=None,
                 params=None, kind: str = "tokens", progress: bool = False, read_kwargs: dict | None = None):
    """Windows of ``subjects`` for one task, and where they came from.

    Parameters
    ----------
    dataset : {'deap', 'dreamer', 'seed', 'mahnob', 'custom'} | xarray.Dataset | sequence of xarray.Dataset
        The dataset; ``"custom"`` is a user's own recordings (:func:`neuroaffect.io.read_custom`,
        options in ``read_kwargs``). In-memory feature datasets (of
        :func:`neuroaffect.features.extract_features`) may be passed here instead of a name (the
        same as ``features=``; the name is then their ``dataset`` attribute).
    target, task : str
        As in :func:`neuroaffect.training.windows_from_features` (for ``custom``: any label of
        the labels table, with the rule of its scale or classes).
    root : path-like | None
        Dataset root (any form its reader takes, a single-subject file included): features are
        computed in memory with ``params``.
    features : path-like | xarray.Dataset | sequence of xarray.Dataset | None
        A feature file or a folder of ``<subject>.nc``, or in-memory feature datasets (takes
        precedence over ``root``).
    read_kwargs : dict | None
        Keyword arguments of the reader (``custom``: ``labels``, ``ratings``, ``classes``,
        ``montage``, ``ch_names``, ``duration``, ``bad_samples``, ``eeg_limit_uv``).
    subjects : sequence of int | None
        Subjects to load (default: all there are).
    params : FeatureParams | dict | None
        Feature parameters when computing from ``root`` (default: the defaults). Ignored for
        feature files, whose own parameters are reported in the :class:`DataSource`.
    kind : {'tokens', 'maps', 'raw'}
    progress : bool
        Report each subject's features computed from ``root`` on stderr (a bar on a terminal, else
        one line per subject).

    Returns
    -------
    windows : WindowSet
    source : DataSource
    """
    import xarray as xr

    from ..training.inputs import windows_from_features

    if isinstance(dataset, xr.Dataset) or (isinstance(dataset, (list, tuple)) and dataset
                                           and all(isinstance(d, xr.Dataset) for d in dataset)):
        if features is not None:
            raise ValueError("Invalid value for the 'features' parameter: the feature datasets were passed as "
                             "'dataset' already; pass them once")
        features, dataset = dataset, None
    in_memory = isinstance(features, xr.Dataset) or (isinstance(features, (list, tuple)) and features
                                                     and all(isinstance(d, xr.Dataset) for d in features))
    if in_memory:
        return _windows_in_memory(features, dataset, target, task, subjects, kind)
    check_option("dataset", dataset, ROOT_DATASETS)
    if dataset != CUSTOM and read_kwargs:
        raise ValueError(f"Invalid value for the 'read_kwargs' parameter: only the custom reader takes options, "
                         f"but got {sorted(read_kwargs)} for {dataset!r}")
    if features is None and root is None:
        raise ValueError("load_windows needs a dataset root (root=) or feature files (features=), but got neither")
    loaded = load_features(dataset, root=root, features=features, subjects=subjects, params=params,
                           raw=kind == "raw", progress=progress, read_kwargs=read_kwargs)
    dsets = loaded.datasets
    simulated, snr = _with_default_snr(loaded.simulated, loaded.snr)
    source = DataSource(dataset=dataset, root=loaded.root,
                        features=[str(f) for f in loaded.files], simulated=simulated, snr=snr,
                        params_hash=list(loaded.inputs["feature_params_hash"]), inputs=loaded.inputs)
    windows = windows_from_features(dsets, target, task, dataset=dataset, kind=kind)
    source.class_names = _class_names(dsets, target, task)
    return windows, source


def _windows_in_memory(features, dataset, target: str, task: str, subjects, kind: str):
    """``load_windows`` of in-memory feature datasets: their windows and a :class:`DataSource` without a root."""
    import xarray as xr

    from ..training.inputs import windows_from_features

    dsets = [features] if isinstance(features, xr.Dataset) else list(features)
    names = sorted({str(d.attrs.get("dataset")) for d in dsets})
    dataset = dataset if dataset is not None else names[0]
    if subjects is not None:
        dsets = [d for d in dsets if int(d.attrs.get("subject", -1)) in {int(s) for s in subjects}]
        if not dsets:
            raise ValueError(f"Invalid value for the 'subjects' parameter: expected subjects of the feature "
                             f"datasets, but got {list(subjects)}")
    source = DataSource(dataset=str(dataset), simulated=None)
    source.inputs = feature_provenance(dsets)
    source.params_hash = list(source.inputs["feature_params_hash"])
    source.class_names = _class_names(dsets, target, task)
    return windows_from_features(dsets, target, task, dataset=dataset, kind=kind), source


def _class_names(dsets, target: str, task: str) -> list:
    """Names of a user's own classes of ``target`` (from the features' ``label_classes``), else []."""
    classes = json.loads(dsets[0].attrs.get("label_classes", "{}") or "{}") if dsets else {}
    return list(classes.get(target, [])) if task != "regression" else []
