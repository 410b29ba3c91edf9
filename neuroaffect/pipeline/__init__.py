"""The pipeline in a few calls: read -> features -> windows -> experiment / sweep -> written results.

- :func:`load_windows`: a dataset root (or feature files) to a :class:`~neuroaffect.training.WindowSet`
  and its :class:`DataSource` (real or simulated, snr, feature parameters, sha256 of every input).
- :func:`experiment` / :func:`sweep`: one subject, or all subjects x folds, with provenance.
- :func:`cross_dataset`: train on one dataset, test on another, on the channels they share.
- :func:`write_result`: JSON + CSV + Markdown of a result (the tables: :mod:`neuroaffect.report`).
- :func:`train_teacher` / :func:`export_prototypes`: the EEG teacher and the exported prototype grid.
- :func:`train_arm` / :func:`evaluate_students` / :func:`export_student`: the face student's ablation,
  its one evaluation and the deployable export.

The command line and the workflow call these; they hold no science of their own.
"""

from .data import DataSource, feature_provenance, find_sidecar, load_windows, resolve_feature_files
from .faces import evaluate_students, export_student, train_arm
from .prototypes import export_prototypes, feature_datasets, train_teacher
from .run import experiment, sweep, write_result
from .transfer import cross_dataset, load_cross_windows

__all__ = [
    "DataSource",
    "cross_dataset",
    "evaluate_students",
    "experiment",
    "export_prototypes",
    "export_student",
    "feature_datasets",
    "feature_provenance",
    "find_sidecar",
    "load_cross_windows",
    "load_windows",
    "resolve_feature_files",
    "sweep",
    "train_arm",
    "train_teacher",
    "write_result",
]
