"""Command-line interface: ``neuroaffect <command> ...``.

Argument parsing and wiring only: every command calls the library (mostly
:mod:`neuroaffect.pipeline`), which holds the science.
"""

from __future__ import annotations

import argparse
import sys

from . import data, distill, prototypes, report, train

__all__ = ["build_parser", "main"]

#: Command -> the function adding its subparser. A command's parser is built alone when it is the one run, so
#: that a command without training never pays for building the training commands' parsers (which import torch).
_COMMANDS = {
    "simulate": data.add_simulate, "summarize": data.add_summarize, "features": data.add_features,
    "plot-features": data.add_plot_features,
    "experiment": train.add_experiment, "sweep": train.add_sweep, "plot-sweep": train.add_plot_sweep,
    "cross-dataset": train.add_cross_dataset,
    "tabulate": train.add_tabulate,
    "train-teacher": prototypes.add_train_teacher, "export-prototypes": prototypes.add_export_prototypes,
    "train-student": distill.add_train_student, "evaluate-students": distill.add_evaluate_students,
    "export-student": distill.add_export_student, "predict-faces": distill.add_predict_faces,
    "render-html": report.add_render_html, "tabulate-benchmarks": report.add_tabulate_benchmarks,
    "compose-readme": report.add_compose_readme,
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser: every command, or only ``command`` (when it is one) for running it."""
    from .. import __version__

    parser = argparse.ArgumentParser(prog="neuroaffect", description="Reproducible EEG emotion pipeline.")
    parser.add_argument("--version", action="version", version=f"neuroaffect {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in [_COMMANDS[command]] if command in _COMMANDS else _COMMANDS.values():
        add(sub)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"neuroaffect {args.command}: error: {err}", file=sys.stderr)
        return 2
