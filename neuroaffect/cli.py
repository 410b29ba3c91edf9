"""Command-line interface: ``neuroaffect <command> ...``.

Argument parsing and wiring only; the science lives in the library layers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["main", "build_parser"]


def _add_simulate(sub):
    p = sub.add_parser(
        "simulate",
        help="write a simulated dataset in its real on-disk layout",
        description="Write a simulated copy of a dataset in exactly its real on-disk layout, "
        "with label-dependent EEG and peripheral signals and a simulation.json ground-truth sidecar.",
    )
    p.add_argument("--dataset", required=True, choices=["deap", "dreamer", "seed", "mahnob"])
    p.add_argument("--scale", default="demo", choices=["tiny", "demo", "full"],
                   help="tiny: tests; demo: the default workflow; full: the real dataset's sizes (default: demo)")
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--snr", type=float, default=None,
                   help="signal-to-noise knob of the planted label effects (default: realistic)")
    p.set_defaults(func=_cmd_simulate)


def _cmd_simulate(args):
    from .simulate import simulate

    t0 = time.perf_counter()
    root = simulate(args.dataset, scale=args.scale, out=args.out, seed=args.seed, snr=args.snr)
    size = sum(f.stat().st_size for f in Path(args.out).rglob("*") if f.is_file())
    print(f"wrote {args.dataset} ({args.scale}) to {root}: {size / 2**20:.1f} MiB in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def _add_summarize(sub):
    p = sub.add_parser("summarize", help="read every subject of a dataset and summarise it",
                       description="Read every subject of a dataset (checking the format) and write "
                       "a JSON and Markdown summary: subjects, trials, channels, rates, label histograms.")
    p.add_argument("--dataset", required=True, choices=["deap", "dreamer", "seed", "mahnob"])
    p.add_argument("--root", required=True, type=Path, help="what the dataset's reader takes")
    p.add_argument("--out", required=True, type=Path, help="output stem: writes OUT.json and OUT.md")
    p.set_defaults(func=_cmd_summarize)


def _cmd_summarize(args):
    from .io.summary import summarize_dataset, summary_markdown
    from ._utils import atomic_write_json, atomic_write_text

    summary = summarize_dataset(args.dataset, args.root)
    out = Path(args.out)
    atomic_write_json(out.with_suffix(".json"), summary)
    atomic_write_text(out.with_suffix(".md"), summary_markdown(summary))
    print(summary_markdown(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuroaffect", description="Reproducible EEG emotion pipeline.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"neuroaffect {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


_COMMANDS = [_add_simulate, _add_summarize]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"neuroaffect {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
