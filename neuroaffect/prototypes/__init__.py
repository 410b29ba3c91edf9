"""The frozen valence/arousal prototype grid: the contract between the EEG side and vision students.

- :func:`load_grid` / :class:`PrototypeGrid` (``io``): read and verify an exported grid with numpy
  alone; lookup and soft assignment of (valence, arousal) points.
- :func:`build_grid`, :func:`ordering_test` (``grid``): binning, empty-bin filling, the ordering figure;
  :func:`axis_ordering` and :func:`bootstrap_ordering`: the per-axis figures and trial-bootstrap intervals.
- :func:`grid_arm`, :func:`save_grid_arm` (``arms``): the transfer experiment's grid arms (shuffled,
  coordinate-only, oracle) derived from a real grid, in the exported format.
- :func:`make_teacher`, :func:`make_grid`, :func:`export_prototype_grid` (``build``, needs torch):
  the EEG teacher and the export; :func:`load_teacher` and :func:`read_teacher_summary`
  (``teacher``) read the teacher's folder back, checking roles and checksums.

``import neuroaffect.prototypes`` and :func:`load_grid` need no torch: the teacher-side names load
on first use. Design: ``docs/prototypes.md``.
"""

from __future__ import annotations

import importlib

from .arms import ARM_KINDS, grid_arm, save_grid_arm
from .grid import GridBuild, axis_ordering, bootstrap_ordering, build_grid, ordering_test, pairwise_cosine
from .io import ARRAYS, SCHEMA_VERSION, GridFormatError, PrototypeGrid, array_sha256, check_grid_content, load_grid

_LAZY = {
    "PrototypeConfig": "build", "GridResult": "build", "export_prototype_grid": "build", "make_teacher": "build",
    "make_grid": "build", "TEACHER": "teacher", "cross_validate_teacher": "teacher", "embed": "teacher",
    "mc_dropout_predict": "teacher", "teacher_windows": "teacher", "fit_topo_teacher": "teacher",
    "load_teacher": "teacher", "read_teacher_summary": "teacher",
}

__all__ = ["ARM_KINDS", "ARRAYS", "SCHEMA_VERSION", "GridBuild", "GridFormatError", "PrototypeGrid", "array_sha256",
           "axis_ordering", "bootstrap_ordering", "build_grid", "check_grid_content", "grid_arm", "load_grid",
           "ordering_test", "pairwise_cosine", "save_grid_arm", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
