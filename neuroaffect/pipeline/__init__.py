"""The pipeline in a few calls: read -> features -> windows -> experiment / sweep -> tables.

- :func:`load_windows`: a dataset root (or feature files) to a :class:`~neuroaffect.training.WindowSet`
  and its :class:`DataSource` (real or simulated, snr, feature parameters, sha256 of every input).
- :func:`experiment` / :func:`sweep`: one subject, or all subjects x folds, with provenance.
- :func:`write_result`: JSON + CSV + Markdown of a result; :func:`tabulate`: one table of many.
- :func:`train_teacher` / :func:`export_prototypes`: the EEG teacher and the exported prototype grid.

The command line and the workflow call these; they hold no science of their own.
"""

from .data import DataSource, feature_provenance, find_sidecar, load_windows, resolve_feature_files
from .prototypes import export_prototypes, feature_datasets, train_teacher
from .run import experiment, sweep, write_result
from .tables import results_markdown, results_table, tabulate

__all__ = [
    "DataSource",
    "experiment",
    "export_prototypes",
    "feature_datasets",
    "feature_provenance",
    "find_sidecar",
    "load_windows",
    "resolve_feature_files",
    "results_markdown",
    "results_table",
    "sweep",
    "tabulate",
    "train_teacher",
    "write_result",
]
