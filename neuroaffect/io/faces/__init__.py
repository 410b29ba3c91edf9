"""Readers of facial-expression datasets; each returns one :class:`FaceSet`. No torch here.

==============  ===========================  ==================================================  ===========
dataset         reader                       root                                                images
==============  ===========================  ==================================================  ===========
ferplus         :func:`read_ferplus`         folder with ``fer2013.csv`` and ``fer2013new.csv``  in memory
affectnet-mini  :func:`read_affectnet_mini`  the manifest CSV, or its folder (``labels.csv``)    paths
affectnet       :func:`read_affectnet`       folder with ``Manually_Annotated_file_lists/``      paths
ckplus          :func:`read_ckplus`          folder with ``cohn-kanade-images/``, ``Emotion/``   paths
==============  ===========================  ==================================================  ===========

Labels are always indices into :data:`neuroaffect.labels.FER_CLASSES`. Layouts and label rules:
``docs/formats.md``.
"""

from __future__ import annotations

from types import MappingProxyType

from ..._utils import check_option
from . import affectnet, ckplus, ferplus
from .affectnet import read_affectnet, read_affectnet_mini
from ._files import MAX_FACE_PIXELS, read_face_image
from .base import SPLITS, FaceSet, read_image
from .ckplus import read_ckplus
from .ferplus import read_ferplus

__all__ = [
    "FACE_DATASETS", "FACE_READERS", "FACE_ROOT_CHECKS", "MAX_FACE_PIXELS", "SPLITS", "FaceSet", "check_face_root",
    "read_affectnet", "read_affectnet_mini", "read_ckplus", "read_face_image", "read_faces", "read_ferplus",
    "read_image",
]

#: The facial-expression datasets the package reads.
FACE_DATASETS = ("ferplus", "affectnet-mini", "affectnet", "ckplus")
#: Dataset -> reader.
FACE_READERS = MappingProxyType({"ferplus": read_ferplus, "affectnet-mini": read_affectnet_mini,
                                 "affectnet": read_affectnet, "ckplus": read_ckplus})
#: Dataset -> the check of its root beside its reader (file and folder names only).
FACE_ROOT_CHECKS = MappingProxyType({"ferplus": ferplus.check_root, "affectnet-mini": affectnet.check_mini_root,
                                     "affectnet": affectnet.check_root, "ckplus": ckplus.check_root})


def read_faces(dataset: str, root, **kwargs) -> FaceSet:
    """Read a facial-expression dataset with its reader.

    Parameters
    ----------
    dataset : {'ferplus', 'affectnet-mini', 'affectnet', 'ckplus'}
    root : path-like
        What the dataset's reader takes (see the table above).
    **kwargs
        Passed to the reader (``ties=`` for FERPlus, ``check_files=`` for AffectNet).

    Returns
    -------
    faces : FaceSet
    """
    check_option("dataset", dataset, FACE_DATASETS)
    return FACE_READERS[dataset](root, **kwargs)


def check_face_root(dataset: str, root) -> None:
    """Raise ``FileNotFoundError`` unless ``root`` holds what ``dataset``'s reader opens first (names only).

    Cheap (file and folder names only, nothing is read), so that the workflow can say before any job
    starts which face dataset it cannot find and where it looked; each reader checks the rest
    (``docs/formats.md``, "Face datasets"). Each reader's module has its ``check_root``.

    Parameters
    ----------
    dataset : {'ferplus', 'affectnet-mini', 'affectnet', 'ckplus'}
    root : path-like
        What the dataset's reader takes (see the table above).

    Raises
    ------
    FileNotFoundError
        Naming the path looked at, what the reader expects there and what was found.
    ValueError
        For a dataset not in :data:`FACE_DATASETS`.
    """
    check_option("dataset", dataset, FACE_DATASETS)
    FACE_ROOT_CHECKS[dataset](root)
