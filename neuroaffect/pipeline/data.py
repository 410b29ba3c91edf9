"""Read -> features -> windows, with the provenance of every input.

:func:`load_windows` is the hand-off the command line, the workflow and Python users share:

>>> from neuroaffect import pipeline
>>> windows, source = pipeline.load_windows("deap", "valence", "binary", root="data/sim/deap/deap",
...                                         subjects=[1])                     # doctest: +SKIP
>>> print(source.describe())                                                     # doctest: +SKIP
deap from data/sim/deap/deap (simulated, snr 1), features computed in memory (params 6f567f8d895d)

Features come from feature files when given (``features=``), else they are computed in
memory from the dataset ``root`` (no temporary files). The :class:`DataSource` says which,
and carries the sha256 of every feature file and raw recording.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from .._progress import Progress, progress_enabled
from .._utils import DatasetFormatError, check_option, sha256_file
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


def find_sidecar(root) -> Path | None:
    """The simulator's ``simulation.json`` for a dataset root, if the root was simulated."""
    root = Path(root)
    for folder in (root, *root.parents[:3]):
        f = folder / "simulation.json"
        if f.is_file():
            return f
    return None


def _simulation(root):
    side = find_sidecar(root)
    if side is None:
        return False, None
    from ..simulate import DEFAULT_SNR

    card = json.loads(side.read_text())
    return True, DEFAULT_SNR if card.get("snr") is None else float(card["snr"])


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

    from ..features import FeatureParams, extract_features, read_features
    from ..io import iter_recordings
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
    check_option("dataset", dataset, ROOT_DATASETS)
    if dataset != CUSTOM and read_kwargs:
        raise ValueError(f"Invalid value for the 'read_kwargs' parameter: only the custom reader takes options, "
                         f"but got {sorted(read_kwargs)} for {dataset!r}")
    if features is None and root is None:
        raise ValueError("load_windows needs a dataset root (root=) or feature files (features=), but got neither")
    if features is not None:
        files = resolve_feature_files(features, subjects)
        dsets = [read_features(f) for f in files]
        simulated, snr = (None, None) if root is None else _simulation(root)
        source = DataSource(dataset=dataset, root=None if root is None else str(root),
                            features=[str(f) for f in files], simulated=simulated, snr=snr)
    else:
        p = FeatureParams.coerce(params or {})
        if kind == "raw" and not p.raw:  # raw-signal models: the same windows, as signal
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
        files = []
        simulated, snr = _simulation(root)
        source = DataSource(dataset=dataset, root=str(root), simulated=simulated, snr=snr)
    source.inputs = feature_provenance(dsets, files)
    source.params_hash = list(source.inputs["feature_params_hash"])
    if source.simulated is None and source.inputs["raw_inputs"]:
        source.simulated, source.snr = _simulation(next(iter(source.inputs["raw_inputs"])))
    windows = windows_from_features(dsets, target, task, dataset=dataset, kind=kind)
    source.class_names = _class_names(dsets, target, task)
    return windows, source


def _class_names(dsets, target: str, task: str) -> list:
    """Names of a user's own classes of ``target`` (from the features' ``label_classes``), else []."""
    classes = json.loads(dsets[0].attrs.get("label_classes", "{}") or "{}") if dsets else {}
    return list(classes.get(target, [])) if task != "regression" else []
