"""Readers of facial-expression datasets; each returns one :class:`FaceSet`. No torch here.

Layouts: ``docs/formats.md``.
"""

from .base import SPLITS, FaceSet, read_image

__all__ = ["SPLITS", "FaceSet", "read_image"]
