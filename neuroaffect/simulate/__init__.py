"""Simulated datasets written in the exact on-disk layouts of the real ones.

``simulate(dataset, scale, out, seed)`` writes one dataset below ``out`` and returns the
root a reader takes (the same path a user would point the config at for real data).
A JSON sidecar ``out/simulation.json`` records the planted effects per subject.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from .._utils import atomic_write_json, check_option, code_version

__all__ = ["DATASETS", "SCALES", "simulate", "dataset_root", "subjects", "write_sidecar", "oracle_accuracies"]

DATASETS = ("deap", "dreamer", "seed", "mahnob")
SCALES = ("tiny", "demo", "full")


def _module(dataset):
    return importlib.import_module(f"{__name__}.{dataset}")


def dataset_root(dataset: str, out) -> Path:
    """The path below ``out`` that the dataset's reader takes (without writing anything)."""
    check_option("dataset", dataset, DATASETS)
    return Path(out) / _module(dataset).ROOT_NAME


def subjects(dataset: str, scale: str) -> list[int]:
    """Subject numbers ``simulate(dataset, scale, ...)`` writes (known before writing)."""
    check_option("dataset", dataset, DATASETS)
    check_option("scale", scale, SCALES)
    return list(range(1, _module(dataset).SCALES[scale].n_subjects + 1))


def simulate(dataset: str, scale: str = "demo", out="data/sim", seed: int = 0, snr: float | None = None) -> Path:
    """Write a simulated copy of ``dataset`` in its real on-disk layout.

    Parameters
    ----------
    dataset : {'deap', 'dreamer', 'seed', 'mahnob'}
    scale : {'tiny', 'demo', 'full'}
        ``full`` = the real dataset's sizes; ``demo`` = the default workflow; ``tiny`` = tests.
    out : path-like
        Output folder (created).
    seed : int
        Seed; the same seed writes byte-identical arrays.
    snr : float | None
        Signal-to-noise knob of the planted label effects (None = realistic default).

    Returns
    -------
    root : Path
        What to pass to the dataset's reader (``read_deap(root)``, ...).
    """
    check_option("dataset", dataset, DATASETS)
    check_option("scale", scale, SCALES)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return Path(_module(dataset).write(out, scale=scale, seed=int(seed), snr=snr))


def write_sidecar(out, dataset: str, scale: str, seed: int, subjects: list, *, snr: float | None,
                  **extra) -> Path:
    """Write ``out/simulation.json``: the planted ground truth of a simulated dataset.

    ``subjects`` holds one dict per subject (``SubjectEffects.to_dict()`` plus anything
    dataset-specific, such as the normalised ratings that drove each trial). ``snr`` is the
    value asked for (``None``: the default, :data:`~neuroaffect.simulate.signal.DEFAULT_SNR`).
    """
    card = {
        "dataset": dataset, "scale": scale, "seed": int(seed), "snr": snr,
        "code_version": code_version(), "subjects": subjects, **extra,
    }
    return atomic_write_json(Path(out) / "simulation.json", card)


def oracle_accuracies(sidecar, target: str, ch_names=None, baseline: bool | None = None) -> dict:
    """Oracle accuracy per subject of a simulated dataset, from its ground-truth sidecar.

    The Bayes-optimal binary rule (``target`` normalised rating >= 0) on the exact planted
    band powers (:func:`neuroaffect.simulate.signal.oracle_accuracy`): an upper bound, in
    expectation, for classifiers trained on the simulated signals.

    Parameters
    ----------
    sidecar : path-like
        ``simulation.json`` written by :func:`simulate`.
    target : {'valence', 'arousal', 'dominance'}
    ch_names : sequence of str | None
        EEG channels the classifier sees; None = the dataset's own.
    baseline : bool | None
        Whether the classifier's features are corrected by each trial's own baseline (see
        :func:`~neuroaffect.simulate.signal.oracle_accuracy`); None = whether the dataset
        records one (DEAP, DREAMER, MAHNOB; not SEED).

    Returns
    -------
    acc : dict of int -> float
        Subject number -> oracle accuracy in [0, 1]. Empty for datasets whose labels are not
        ratings (SEED).
    """
    import dataclasses
    import json

    import numpy as np

    from ..channels import EEG_CH_NAMES
    from .signal import SubjectEffects, oracle_accuracy

    card = json.loads(Path(sidecar).read_text())
    names = {f.name for f in dataclasses.fields(SubjectEffects)}
    dims = {"valence": 0, "arousal": 1, "dominance": 2}
    check_option("target", target, dims)
    if baseline is None:
        baseline = card["dataset"] in ("deap", "dreamer", "mahnob")
    out = {}
    for sub in card["subjects"]:
        vad = sub.get("vad", sub.get("ratings_normalised"))
        if vad is None:
            continue
        vad = np.asarray(vad, dtype=float)[:, :3]
        vad = vad[~np.isnan(vad).any(axis=1)]
        effects = SubjectEffects(**{k: v for k, v in sub.items() if k in names})
        out[int(sub["subject"])] = float(oracle_accuracy(
            effects, vad, target, ch_names or EEG_CH_NAMES[card["dataset"]], baseline=bool(baseline)))
    return out
