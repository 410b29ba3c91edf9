"""Report commands: render-html, tabulate-benchmarks, compose-readme."""

from __future__ import annotations

import argparse
from pathlib import Path

_FMT = argparse.ArgumentDefaultsHelpFormatter


def add_render_html(sub):
    p = sub.add_parser("render-html", help="a Markdown report as a self-contained HTML page", formatter_class=_FMT,
                       description="Render a Markdown report (headings, text, pipe tables) as one HTML page with its "
                       "own style sheet that loads nothing, so that a Snakemake report shows the table in the page. "
                       "Example: neuroaffect render-html --md reports/results.md --out reports/results.html")
    p.add_argument("--md", required=True, type=Path, help="Markdown file to render")
    p.add_argument("--out", required=True, type=Path, help="HTML file to write")
    p.add_argument("--title", default="", help="page title (default: the Markdown's first heading)")
    p.set_defaults(func=_render_html)


def _render_html(args):
    from ..report.pages import render_markdown

    print(f"wrote {render_markdown(args.md, args.out, args.title)}")
    return 0


def add_tabulate_benchmarks(sub):
    p = sub.add_parser("tabulate-benchmarks", help="wall time and peak memory per workflow rule",
                       formatter_class=_FMT,
                       description="Summarise Snakemake benchmark files (wall seconds, max RSS in MB, CPU seconds) "
                       "into one row per rule, written as OUT.md and OUT.csv. Example: neuroaffect "
                       "tabulate-benchmarks --rule run_sweep results/benchmarks/sweeps/deap/*.tsv "
                       "--rule extract_features results/benchmarks/features/deap/*.tsv --out reports/performance")
    p.add_argument("--rule", nargs="+", action="append", required=True, metavar=("NAME", "FILE"),
                   help="a rule's name followed by the benchmark files of its jobs (repeat for every rule)")
    p.add_argument("--out", required=True, type=Path, help="output stem: writes OUT.md and OUT.csv")
    p.set_defaults(func=_tabulate_benchmarks)


def _tabulate_benchmarks(args):
    from ..report.performance import tabulate_benchmarks

    groups = {}
    for name, *files in args.rule:
        groups.setdefault(name, []).extend(files)
    print(tabulate_benchmarks(groups, args.out))
    return 0


def add_compose_readme(sub):
    p = sub.add_parser("compose-readme", help="headline tables gathered into one Markdown page", formatter_class=_FMT,
                       description="Gather Markdown reports into one page under a title and an introduction (each "
                       "report's headings one level down), e.g. reports/README.md for readers of the repository. "
                       "Example: neuroaffect compose-readme --sections reports/results.md reports/distill/ablation.md "
                       "--intro 'Demo run on simulated data.' --out reports/README.md")
    p.add_argument("--sections", nargs="+", required=True, type=Path, help="Markdown files, in page order")
    p.add_argument("--intro", default="", help="Markdown under the page title")
    p.add_argument("--out", required=True, type=Path, help="Markdown file to write")
    p.set_defaults(func=_compose_readme)


def _compose_readme(args):
    from ..report.pages import compose_readme

    compose_readme(args.sections, args.out, args.intro)
    print(f"wrote {args.out}")
    return 0
