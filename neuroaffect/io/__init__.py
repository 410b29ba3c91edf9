"""Readers for the datasets' real on-disk formats; each returns a list of :class:`Recording`.

==========  ======================  ==================================  ============================
dataset     reader                  what the root is                    single-subject root
==========  ======================  ==================================  ============================
deap        :func:`read_deap`       ``data_preprocessed_python/``       one ``sNN.dat``
dreamer     :func:`read_dreamer`    ``DREAMER.mat`` (every subject)
seed        :func:`read_seed`       folder with ``Preprocessed_EEG/``   one ``<subject>_<date>.mat``
mahnob      :func:`read_mahnob`     folder with ``Sessions/``           one ``Sessions/<n>/`` or its BDF
faced       :func:`read_faced`      folder with ``Processed_data/``     one ``subNNN.pkl``
amigos      :func:`read_amigos`     ``Data_preprocessed_matlab/``       one ``Data_Preprocessed_PNN.mat``
seed-v      :func:`read_seedv`      folder with ``EEG_raw/`` (or        one ``<s>_<session>_<date>.cnt``
                                    ``EEG_DE_features/``, ``source=``)  (or ``<s>_123.npz``)
custom      :func:`read_custom`     folder with ``labels.csv`` and      (``subjects=``)
                                    recordings in any format MNE reads
==========  ======================  ==================================  ============================

Every reader returns a list of :class:`Recording`, one per subject, sorted by subject, for
every form of root (a single-subject root gives a list of one). :func:`read_dataset`,
:func:`iter_recordings`, :func:`list_subjects` and
:func:`neuroaffect.io.summary.summarize_dataset` accept every root form above.
:func:`from_epochs` turns ``mne.Epochs`` into a :class:`Recording` (the inverse of
:meth:`Recording.to_epochs`). :func:`read_custom` reads a user's own recordings (EDF, BDF, FIF,
BrainVision, EEGLAB, ...) with a labels table; its keyword arguments (``labels``, ``ratings``,
``classes``, ``montage``, ...) pass through :func:`read_dataset` and :func:`iter_recordings`.
File layouts: ``docs/formats.md``.
"""

from __future__ import annotations

import importlib

from .._utils import check_option
from .base import Peripheral, Recording, from_epochs

__all__ = [
    "Peripheral", "Recording", "READERS", "ALL_READERS", "from_epochs", "read_dataset", "iter_recordings",
    "read_deap", "read_dreamer", "read_seed", "read_mahnob", "read_custom", "raw_from_samples",
]
__all__.append("read_faced")
__all__.append("read_amigos")
__all__.append("read_seedv")

#: Readers of the datasets the pipeline knows (and simulates).
READERS = {"deap": "read_deap", "dreamer": "read_dreamer", "seed": "read_seed", "mahnob": "read_mahnob"}
READERS["faced"] = "read_faced"
READERS["amigos"] = "read_amigos"
READERS["seed-v"] = "read_seedv"
#: ... and of a user's own recordings (no simulator: a labels table and files in any MNE format).
ALL_READERS = {**READERS, "custom": "read_custom"}
_MODULE = {"read_deap": "deap", "read_dreamer": "dreamer", "read_seed": "seed", "read_mahnob": "mahnob",
           "read_custom": "custom", "raw_from_samples": "custom"}
_MODULE["read_faced"] = "faced"
_MODULE["read_amigos"] = "amigos"
_MODULE["read_seedv"] = "seedv"


def __getattr__(name):  # lazy: a reader's dependencies load only when it is used
    if name in _MODULE:
        return getattr(importlib.import_module(f".{_MODULE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def read_dataset(dataset: str, root, subjects=None, **kwargs) -> list[Recording]:
    """Read ``subjects`` (1-based; None = all) of ``dataset`` from ``root``.

    ``kwargs`` go to the reader (``custom``: ``labels``, ``ratings``, ``classes``, ``montage``, ...;
    see :func:`read_custom`).

    Returns
    -------
    recordings : list of Recording
        One per subject, sorted by subject (the dataset's reader's result).
    """
    check_option("dataset", dataset, ALL_READERS)
    return list(__getattr__(ALL_READERS[dataset])(root, subjects=subjects, **kwargs))


def iter_recordings(dataset: str, root, subjects=None, **kwargs):
    """Yield one :class:`Recording` per subject, holding at most one subject in memory.

    ``root`` takes every form the dataset's reader takes, single-subject roots included
    (see the table above). DREAMER keeps all subjects in one file, which is loaded once.
    AMIGOS: with ``subjects=None`` a participant none of whose chosen ``videos`` holds signals
    (the long videos of those who did not watch them) is skipped with a log note.
    """
    check_option("dataset", dataset, ALL_READERS)
    if dataset == "dreamer":
        yield from read_dataset(dataset, root, subjects, **kwargs)
        return
    if dataset == "amigos":  # a participant without the chosen videos is skipped when all are read
        from .amigos import iter_amigos

        yield from iter_amigos(root, subjects, **kwargs)
        return
    if subjects is None:
        # the keywords that say where the subjects are: custom's labels table, SEED-V's source
        subjects = list_subjects(dataset, root, **{k: kwargs[k] for k in ("labels", "source") if kwargs.get(k)})
    for s in subjects:
        yield from read_dataset(dataset, root, [s], **kwargs)


def list_subjects(dataset: str, root, **kwargs) -> list[int]:
    """Subject numbers present under ``root`` (cheap: file names / XML only, no signals).

    A single-subject root (one ``sNN.dat``, SEED session file or MAHNOB session) gives its
    one subject.
    """
    check_option("dataset", dataset, ALL_READERS)
    mod = importlib.import_module(f".{_MODULE[ALL_READERS[dataset]]}", __name__)  # "seed-v" -> .seedv
    return sorted(int(s) for s in mod.list_subjects(root, **kwargs))


__all__.append("list_subjects")
