"""Simulated datasets written in the exact on-disk layouts of the real ones.

``simulate(dataset, scale, out, seed)`` writes one dataset below ``out`` and returns the
root a reader takes (the same path a user would point the config at for real data).
A JSON sidecar ``out/simulation.json`` records the planted effects per subject.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from .._utils import atomic_write_json, check_option, code_version

__all__ = ["DATASETS", "SCALES", "simulate", "dataset_root", "subjects", "write_sidecar"]

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


def write_sidecar(out, dataset: str, scale: str, seed: int, subjects: list, **extra) -> Path:
    """Write ``out/simulation.json``: the planted ground truth of a simulated dataset.

    ``subjects`` holds one dict per subject (``SubjectEffects.to_dict()`` plus anything
    dataset-specific, such as the normalised ratings that drove each trial).
    """
    card = {
        "dataset": dataset, "scale": scale, "seed": int(seed),
        "code_version": code_version(), "subjects": subjects, **extra,
    }
    return atomic_write_json(Path(out) / "simulation.json", card)
