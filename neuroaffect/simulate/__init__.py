"""Simulated datasets written in the exact on-disk layouts of the real ones.

``simulate(dataset, scale, out, seed)`` writes one dataset below ``out`` and returns the
root a reader takes (the same path a user would point the config at for real data).
A JSON sidecar ``out/simulation.json`` records the planted effects per subject.

============  =========================================================================
module        what it holds
============  =========================================================================
effects       :class:`SubjectEffects`, :func:`draw_subject_effects`, ratings, the snr
eeg           :func:`simulate_eeg`: spectrum, planted rhythms, blinks, line noise
peripheral    :func:`simulate_peripheral`: ECG, PPG, GSR, respiration, temperature, ...
oracle        :func:`oracle_accuracy`, :func:`oracle_accuracies`: the Bayes bound
states        :func:`load_states`: each trial's continuous (valence, arousal), from the sidecar
deap, ...     one writer per dataset (``seed`` also writes SEED-IV); their helpers in
              ``_write`` (scale tables, atomic MATLAB files, cross-fades, the sidecar)
faces         :func:`simulate_faces`: FERPlus, AffectNet-mini, AffectNet and CK+ (drawn
              faces, :data:`FACE_DATASETS`); the drawing in ``_faces_draw``
============  =========================================================================

The model is described in ``docs/simulator.md``.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from .._progress import progress_enabled
from .._utils import check_option
from ..labels import DATASETS
from . import amigos as _amigos
from . import deap as _deap
from . import dreamer as _dreamer
from . import faced as _faced
from . import faces as _faces
from . import mahnob as _mahnob
from . import seed as _seed
from . import seedv as _seedv
from ._write import SCALE_NAMES, write_sidecar
from .eeg import simulate_eeg
from .effects import DEFAULT_SNR, SubjectEffects, draw_subject_effects
from .faces import FACE_DATASETS, simulate_faces
from .oracle import oracle_accuracies, oracle_accuracy
from .peripheral import simulate_peripheral
from .states import load_states

__all__ = [
    "DATASETS", "FACE_DATASETS", "SCALES", "simulate", "simulate_faces", "dataset_root", "subjects",
    "write_sidecar", "oracle_accuracies",
    "DEFAULT_SNR", "SubjectEffects", "draw_subject_effects", "simulate_eeg", "simulate_peripheral",
    "oracle_accuracy", "load_states",
]

#: Sizes every dataset can be simulated at: ``tiny`` (tests), ``demo`` (the default workflow),
#: ``full`` (the real dataset's sizes).
SCALES = SCALE_NAMES

_WRITERS = MappingProxyType({"deap": _deap, "dreamer": _dreamer, "seed": _seed, "mahnob": _mahnob})
_WRITERS = MappingProxyType({**_WRITERS, "faced": _faced})
_WRITERS = MappingProxyType({**_WRITERS, "amigos": _amigos})
_WRITERS = MappingProxyType({**_WRITERS, "seed-v": _seedv})
#: EEG datasets written here: :data:`DATASETS` and those read but not (yet) in the pipeline (FACED, AMIGOS).
_SIMULATED = tuple(_WRITERS)


def dataset_root(dataset: str, out) -> Path:
    """The path below ``out`` that the dataset's reader takes (without writing anything).

    ``dataset`` is one of :data:`DATASETS` (EEG) or :data:`FACE_DATASETS` (faces).
    """
    check_option("dataset", dataset, _SIMULATED + FACE_DATASETS)
    if dataset in FACE_DATASETS:
        return _faces.face_root(dataset, out)
    return Path(out) / _WRITERS[dataset].ROOT_NAME


def subjects(dataset: str, scale: str) -> list[int]:
    """Subject numbers ``simulate(dataset, scale, ...)`` writes (known before writing)."""
    check_option("dataset", dataset, _SIMULATED)
    check_option("scale", scale, SCALES)
    return list(range(1, _WRITERS[dataset].SCALES[scale].n_subjects + 1))


def simulate(dataset: str, scale: str = "demo", out="data/sim", seed: int = 0, snr: float | None = None, *,
             gstar_strength: float | None = None, progress: bool = False) -> Path:
    """Write a simulated copy of ``dataset`` in its real on-disk layout.

    Parameters
    ----------
    dataset : {'deap', 'dreamer', 'seed', 'mahnob', 'ferplus', 'affectnet-mini', 'affectnet', 'ckplus'}
        An EEG dataset (:data:`DATASETS`) or a facial-expression one (:data:`FACE_DATASETS`,
        written by :func:`simulate_faces`).
    scale : {'tiny', 'demo', 'full'}
        ``full`` = the real dataset's sizes; ``demo`` = the default workflow; ``tiny`` = tests.
    out : path-like
        Output folder (created).
    seed : int
        Seed; the same seed writes byte-identical arrays.
    snr : float | None
        Signal-to-noise knob of the planted label effects (None = realistic default,
        :data:`DEFAULT_SNR`). EEG datasets only: must be None for a face dataset.
    gstar_strength : float | None
        s_G, the weight of G* in a simulated face's expression (None = the default, 1; 0 = none;
        ``docs/simulator.md``). Face datasets only: must be None for an EEG dataset, whose G* follows ``snr``.
    progress : bool
        Report each subject written (faces: each chunk of images drawn) on stderr: a tqdm bar on a
        terminal, else one line per step.

    Returns
    -------
    root : Path
        What to pass to the dataset's reader (``read_deap(root)``, ...).
    """
    check_option("dataset", dataset, _SIMULATED + FACE_DATASETS)
    check_option("scale", scale, SCALES)
    if dataset in FACE_DATASETS:
        if snr is not None:
            raise ValueError(f"Invalid value for the 'snr' parameter: it applies to the EEG datasets only, but got "
                             f"snr={snr!r} for {dataset!r}.")
        kw = {} if gstar_strength is None else {"gstar_strength": gstar_strength}
        with progress_enabled(progress):
            return simulate_faces(dataset, scale=scale, out=out, seed=seed, **kw)
    if gstar_strength is not None:
        raise ValueError(f"Invalid value for the 'gstar_strength' parameter: it applies to the face datasets only "
                         f"(an EEG dataset's G* follows snr), but got gstar_strength={gstar_strength!r} for "
                         f"{dataset!r}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with progress_enabled(progress):
        return Path(_WRITERS[dataset].write(out, scale=scale, seed=int(seed), snr=snr))
