"""Imports of third-party packages that warn about their own internals when imported.

Importing torch-geometric (directly, or through a package that imports it when it
is installed, such as skorch under braindecode) or braindecode emits warnings
that concern those packages' code, not ours, and that callers cannot act on.
:func:`upstream_import_warnings_ignored` silences exactly those warnings, and
only while the import runs.
"""

from __future__ import annotations

import contextlib
import warnings

__all__ = ["upstream_import_warnings_ignored"]

#: (message regex, category) of each warning silenced during the imports, with its cause.
UPSTREAM_IMPORT_WARNINGS = (
    # torch-geometric 2.8 applies torch.jit.script to two classes at import time
    # (torch_geometric/nn/pool/select/base.py and nn/pool/connect/base.py, reached
    # from torch_geometric/__init__.py), and torch 2.14 deprecates torch.jit.script.
    (r"`torch\.jit\.script` is deprecated", FutureWarning),
    # braindecode 1.8.1 builds an MNE montage named "standard_1020" at import time
    # (braindecode/models/eegpt.py); MNE 1.13 deprecates that name.
    (r"Montage name 'standard_1020' is deprecated", FutureWarning),
)


@contextlib.contextmanager
def upstream_import_warnings_ignored():
    """Context manager ignoring :data:`UPSTREAM_IMPORT_WARNINGS` (and no other warning).

    Python caches imported modules, so the warnings would appear only on the first
    import in a process anyway; every other warning still follows the caller's filters.
    """
    with warnings.catch_warnings():
        for message, category in UPSTREAM_IMPORT_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield
