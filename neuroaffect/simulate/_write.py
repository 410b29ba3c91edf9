"""Helpers shared by the dataset writers (``deap.py``, ``dreamer.py``, ``seed.py``, ``mahnob.py``).

Scale tables (:class:`Scale`), each subject's random stream (:func:`subject_rng`), the
equal-power cross-fade that joins label-free and stimulus segments (:func:`crossfade_join`),
atomic MATLAB v5 files (:func:`savemat_atomic`) and the ground-truth sidecar
(:func:`write_sidecar`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .._utils import atomic_path, atomic_write_json, code_version

__all__ = [
    "FADE_S", "SCALE_NAMES", "Scale", "crossfade_join", "savemat_atomic", "subject_rng", "write_sidecar",
]

#: Sizes every writer offers: ``tiny`` (tests), ``demo`` (the default workflow), ``full`` (the
#: real dataset's sizes).
SCALE_NAMES = ("tiny", "demo", "full")

#: Length in seconds of the equal-power cross-fade between a label-free segment and a stimulus.
FADE_S = 0.5

# Mixed into every subject's seed so that the datasets draw from their own random streams.
# SEED-IV and MAHNOB-HCI share 4: for the same seed their subject k draws the same effects.
_DATASET_IDS = MappingProxyType({"deap": 1, "dreamer": 2, "seed": 3, "seed-iv": 4, "mahnob": 4})


@dataclass(frozen=True)
class Scale:
    """Size of a simulated copy; each writer subclasses it with the dimensions of its dataset.

    Attributes
    ----------
    n_subjects : int
        Subjects (participants) written, numbered ``1 .. n_subjects``.
    """

    n_subjects: int

    @classmethod
    def table(cls, **scales: Scale) -> Mapping[str, Scale]:
        """The read-only scale table of a writer: one ``cls`` instance per name of :data:`SCALE_NAMES`.

        Parameters
        ----------
        **scales : Scale
            ``tiny=..., demo=..., full=...``, each an instance of ``cls``.

        Returns
        -------
        table : mappingproxy of str -> Scale
        """
        if tuple(scales) != SCALE_NAMES:
            raise ValueError(f"a scale table needs exactly the scales {SCALE_NAMES}, in that order, "
                             f"but got {tuple(scales)}")
        for name, sc in scales.items():
            if not isinstance(sc, cls):
                raise TypeError(f"scale {name!r} must be a {cls.__name__}, but got {type(sc).__name__}")
        return MappingProxyType(dict(scales))


def subject_rng(seed: int, dataset: str, subject: int) -> np.random.Generator:
    """The random stream of one simulated subject: a function of (seed, dataset, subject) only.

    Parameters
    ----------
    seed : int
        The seed passed to :func:`neuroaffect.simulate.simulate`.
    dataset : {'deap', 'dreamer', 'seed', 'seed-iv', 'mahnob'}
    subject : int
        Subject number (1-based).

    Returns
    -------
    rng : numpy.random.Generator
    """
    return np.random.default_rng([int(seed), _DATASET_IDS[dataset], int(subject)])


def crossfade_join(a: np.ndarray, b: np.ndarray, n_fade: int) -> np.ndarray:
    """Join two independent segments with an equal-power cross-fade.

    The last ``n_fade`` samples of ``a`` overlap the first ``n_fade`` of ``b``, weighted by
    cos and sin of a quarter period, which keeps the variance of uncorrelated signals constant.

    Parameters
    ----------
    a : ndarray, shape (..., n_a)
    b : ndarray, shape (..., n_b)
    n_fade : int
        Overlap in samples, at most ``min(n_a, n_b)``.

    Returns
    -------
    joined : ndarray, shape (..., n_a + n_b - n_fade)
    """
    if not 0 <= n_fade <= min(a.shape[-1], b.shape[-1]):
        raise ValueError(f"n_fade must be in [0, {min(a.shape[-1], b.shape[-1])}], got {n_fade}")
    u = (np.arange(n_fade) + 0.5) / max(n_fade, 1)
    mid = a[..., a.shape[-1] - n_fade:] * np.cos(0.5 * np.pi * u) + b[..., :n_fade] * np.sin(0.5 * np.pi * u)
    return np.concatenate([a[..., :a.shape[-1] - n_fade], mid, b[..., n_fade:]], axis=-1)


def savemat_atomic(fname, mdict: dict, do_compression: bool = True) -> Path:
    """``scipy.io.savemat`` (MATLAB v5) into ``fname`` through a temporary file and a rename.

    Parameters
    ----------
    fname : path-like
        Target file (its folder is created).
    mdict : dict of str -> array-like or dict
        Variables; dicts become MATLAB structs, object arrays cell arrays, 1-D arrays columns.
    do_compression : bool
        Compress the variables (zlib).

    Returns
    -------
    fname : Path
    """
    import scipy.io

    with atomic_path(fname) as tmp:
        with open(tmp, "wb") as f:
            scipy.io.savemat(f, mdict, format="5", do_compression=do_compression, oned_as="column")
            # scipy stamps the 116-byte description with the time of writing; a fixed one keeps the same seed's
            # files byte-identical (their sha256 is recorded downstream: features, teacher, grid card)
            f.seek(0)
            f.write(MAT_DESCRIPTION)
    return Path(fname)


#: The 116-byte description field of every MATLAB v5 file the simulator writes (scipy's names the time).
MAT_DESCRIPTION = b"MATLAB 5.0 MAT-file, Platform: posix, written by neuroaffect.simulate".ljust(116, b" ")


def write_sidecar(out, dataset: str, scale: str, seed: int, subjects: list, *, snr: float | None,
                  **extra) -> Path:
    """Write ``out/simulation.json``: the planted ground truth of a simulated dataset.

    ``subjects`` holds one dict per subject (``SubjectEffects.to_dict()`` plus anything
    dataset-specific, such as the normalised ratings that drove each trial). ``snr`` is the
    value asked for (``None``: the default, :data:`~neuroaffect.simulate.effects.DEFAULT_SNR`).
    ``extra`` holds dataset-level facts (sampling rate, lengths, column names).
    """
    card = {
        "dataset": dataset, "scale": scale, "seed": int(seed), "snr": snr,
        "code_version": code_version(), "subjects": subjects, **extra,
    }
    return atomic_write_json(Path(out) / "simulation.json", card)
