"""Readers for the datasets' real on-disk formats; each returns :class:`Recording` objects."""

from .base import Peripheral, Recording

__all__ = ["Peripheral", "Recording"]
