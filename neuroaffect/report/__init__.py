"""Every table, caption, card and page of the project, written by one Markdown table writer.

- :func:`table` / :func:`table_lines` / :func:`table_row` (``markdown``): the pipe-table writer every
  report uses.
- :func:`results_table` / :func:`results_markdown` / :func:`tabulate` (``results``): one table over many
  sweeps, with the protocol comparison.
- :func:`sweep_markdown` / :func:`experiment_text` / :func:`result_markdown` (``sweeps``): one sweep or
  experiment.
- :func:`teacher_cv_markdown` / :func:`write_prototype_report` (``grid``): the teacher's error and the
  prototype grid's figures and summary.
- :func:`ablation_markdown` / :func:`write_ablation` and :data:`PUBLISHED` (``ablation``): the face
  student's ablation beside the published figures.
- :func:`summary_markdown` (``datasets``): a dataset's summary.
- :func:`transfer_markdown` (``transfer``): a cross-dataset run (one dataset trains, another tests).
- :func:`student_card` (``student``): the model card of an exported face student.
- :func:`machine_calibration` / :func:`machine_line` / :func:`tabulate_benchmarks` (``performance``):
  the cost of every workflow rule and the machine it ran on.
- :func:`markdown_to_html` / :func:`render_markdown` / :func:`compose_readme` (``pages``): HTML pages
  of the reports and the page of headline tables.

The layer sits below :mod:`neuroaffect.pipeline` and above ``distill``, ``prototypes`` and
``training``: those return data, the pipeline calls this package to write files.
Names load on first use, so that rendering a page imports no scientific package.
"""

from __future__ import annotations

import importlib

_LAZY = {
    **dict.fromkeys(["demote_headings", "format_cell", "table", "table_lines", "table_row"], "markdown"),
    **dict.fromkeys(["comparison_markdown", "results_markdown", "results_table", "tabulate"], "results"),
    **dict.fromkeys(["METRIC_TITLES", "experiment_text", "leakage_sentence", "result_markdown", "sweep_markdown"],
                   "sweeps"),
    **dict.fromkeys(["grid_summary_markdown", "teacher_cv_markdown", "write_prototype_report"], "grid"),
    **dict.fromkeys(["PUBLISHED", "ablation_markdown", "write_ablation"], "ablation"),
    "summary_markdown": "datasets",
    "transfer_markdown": "transfer",
    **dict.fromkeys(["FACE_SOURCE_NOTES", "student_card"], "student"),
    **dict.fromkeys(["benchmark_table", "benchmarks_markdown", "machine_calibration", "machine_line",
                     "tabulate_benchmarks"], "performance"),
    **dict.fromkeys(["compose_readme", "markdown_to_html", "render_markdown"], "pages"),
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
