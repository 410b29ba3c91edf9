"""One face-set type for every facial-expression dataset (FERPlus, AffectNet, CK+); no torch here."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ...labels import FER_CLASSES
from ._files import read_face_image

__all__ = ["SPLITS", "FaceSet", "read_image"]

SPLITS = ("train", "val", "test")


def read_image(fname, grey: bool = False) -> np.ndarray:
    """An image file as uint8, shape (H, W) (grey) or (H, W, 3) (RGB); ``grey`` converts colour.

    :func:`~neuroaffect.io.faces._files.read_face_image` with its default size limit: a regular
    file only, converted by bit depth and value range. Raises
    :class:`~neuroaffect._utils.DatasetFormatError` naming the file when it is missing, not a
    regular file, too large, or not a readable image.
    """
    return read_face_image(fname, grey=grey)


@dataclass(eq=False)
class FaceSet:
    """Face images with their expression labels, from any reader.

    Exactly one of ``images`` (held in memory) and ``paths`` (read on demand) is set.

    Parameters
    ----------
    dataset : str
        ``"ferplus"``, ``"affectnet-mini"``, ``"affectnet"`` or ``"ckplus"``.
    labels : ndarray of int64, shape (n,)
        Class index in :data:`neuroaffect.labels.FER_CLASSES` order (neutral, happiness, surprise,
        sadness, anger, disgust, fear, contempt).
    split : ndarray of str, shape (n,)
        ``"train"``, ``"val"`` or ``"test"``.
    images : ndarray of uint8, shape (n, H, W) or (n, H, W, 3) | None
        Pixels (grey or RGB).
    paths : list of str, length n | None
        Image files.
    soft_labels : ndarray of float32, shape (n, 8) | None
        Per-image class distribution (FERPlus: the annotators' votes over the 8 classes, normalised).
    valence, arousal : ndarray of float32, shape (n,) | None
        Continuous annotations in [-1, 1] where the dataset has them (AffectNet).
    subject : ndarray of int64, shape (n,) | None
        Who is pictured, where known (CK+), to keep a person on one side of a split.
    meta : dict
        Reader-specific facts (files read, rows dropped and why).
    """

    dataset: str
    labels: np.ndarray
    split: np.ndarray
    images: np.ndarray | None = None
    paths: list | None = None
    soft_labels: np.ndarray | None = None
    valence: np.ndarray | None = None
    arousal: np.ndarray | None = None
    subject: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    class_names = FER_CLASSES

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64)
        n = self.labels.shape[0]
        if self.labels.ndim != 1 or (n and (self.labels.min() < 0 or self.labels.max() >= len(FER_CLASSES))):
            raise ValueError(f"Invalid value for the FaceSet field 'labels': expected class indices 0-"
                             f"{len(FER_CLASSES) - 1} of shape (n,), but got shape {self.labels.shape}"
                             + (f" and range [{self.labels.min()}, {self.labels.max()}]" if n else ""))
        self.split = np.asarray(self.split, dtype=str)
        bad = sorted(set(self.split.tolist()) - set(SPLITS))
        if self.split.shape != (n,) or bad:
            raise ValueError(f"Invalid value for the FaceSet field 'split': expected one of {SPLITS} per image "
                             f"(shape ({n},)), but got shape {self.split.shape}" + (f" and values {bad}" if bad else ""))
        if (self.images is None) == (self.paths is None):
            raise ValueError("Invalid FaceSet: expected exactly one of 'images' and 'paths'.")
        if self.images is not None:
            im = np.asarray(self.images)
            if im.dtype != np.uint8 or im.shape[:1] != (n,) or im.ndim not in (3, 4) or \
                    (im.ndim == 4 and im.shape[-1] != 3):
                raise ValueError(f"Invalid value for the FaceSet field 'images': expected uint8 of shape (n, H, W) or "
                                 f"(n, H, W, 3) with n={n}, but got {im.dtype} of shape {im.shape}")
            self.images = im
        else:
            self.paths = [str(p) for p in self.paths]
            if len(self.paths) != n:
                raise ValueError(f"Invalid value for the FaceSet field 'paths': expected {n} paths, but got "
                                 f"{len(self.paths)}")
        if self.soft_labels is not None:
            sl = np.asarray(self.soft_labels, dtype=np.float32)
            if sl.shape != (n, len(FER_CLASSES)) or not np.all(np.isfinite(sl)) or np.any(sl < 0):
                raise ValueError(f"Invalid value for the FaceSet field 'soft_labels': expected finite non-negative "
                                 f"values of shape ({n}, {len(FER_CLASSES)}), but got shape {sl.shape}")
            self.soft_labels = sl
        for name in ("valence", "arousal"):
            v = getattr(self, name)
            if v is not None:
                v = np.asarray(v, dtype=np.float32)
                if v.shape != (n,):
                    raise ValueError(f"Invalid value for the FaceSet field {name!r}: expected shape ({n},), but got "
                                     f"{v.shape}")
                setattr(self, name, v)
        if self.subject is not None:
            self.subject = np.asarray(self.subject, dtype=np.int64)
            if self.subject.shape != (n,):
                raise ValueError(f"Invalid value for the FaceSet field 'subject': expected shape ({n},), but got "
                                 f"{self.subject.shape}")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=len(FER_CLASSES))
        present = ", ".join(f"{c} {k}" for c, k in zip(FER_CLASSES, counts) if k)
        splits = ", ".join(f"{s} {int((self.split == s).sum())}" for s in SPLITS if (self.split == s).any())
        where = "in memory" if self.images is not None else "on disk"
        return f"<FaceSet {self.dataset} | {len(self)} images {where} ({splits}) | {present}>"

    @property
    def present_classes(self) -> np.ndarray:
        """Class indices that occur, sorted (int64)."""
        return np.unique(self.labels)

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` as uint8, shape (H, W) or (H, W, 3)."""
        if self.images is not None:
            return self.images[i]
        return read_image(self.paths[i])

    def subset(self, idx) -> "FaceSet":
        """A new FaceSet of the images ``idx`` (int indices or a boolean mask of shape (n,))."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("dataset", "meta") or v is None:
                kw[f.name] = v
            elif f.name == "paths":
                kw[f.name] = [v[i] for i in idx]
            else:
                kw[f.name] = v[idx]
        return FaceSet(**kw)

    def select_split(self, split: str) -> "FaceSet":
        """The images of one split."""
        if split not in SPLITS:
            raise ValueError(f"Invalid value for the 'split' parameter. Allowed values are {SPLITS}, but got "
                             f"{split!r} instead.")
        return self.subset(self.split == split)
