"""Command-line interface: ``neuroaffect <command> ...``.

Argument parsing and wiring only: every command calls the library (mostly
:mod:`neuroaffect.pipeline`), which holds the science.
"""

from __future__ import annotations

import argparse
import sys

from . import data, distill, prototypes, report, train

__all__ = ["build_parser", "main"]

_COMMANDS = [data.add_simulate, data.add_summarize, data.add_features, data.add_plot_features,
             train.add_experiment, train.add_sweep, train.add_plot_sweep, train.add_tabulate,
             prototypes.add_train_teacher, prototypes.add_export_prototypes,
             distill.add_train_student, distill.add_evaluate_students, distill.add_export_student,
             distill.add_predict_faces,
             report.add_render_html, report.add_tabulate_benchmarks, report.add_compose_readme]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="neuroaffect", description="Reproducible EEG emotion pipeline.")
    parser.add_argument("--version", action="version", version=f"neuroaffect {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"neuroaffect {args.command}: error: {err}", file=sys.stderr)
        return 2
