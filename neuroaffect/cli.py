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


def _add_features(sub):
    p = sub.add_parser(
        "features", help="band-DE tokens, topographic maps and physiological features of one subject",
        description="Read one subject, compute band differential entropy per window, channel and band, "
        "topographic maps and physiological features, and write them to a netCDF file (atomically) "
        "with every parameter and the sha256 of each input file in its attributes.",
    )
    p.add_argument("--dataset", required=True, choices=["deap", "dreamer", "seed", "mahnob"])
    p.add_argument("--root", required=True, type=Path, help="what the dataset's reader takes")
    p.add_argument("--subject", required=True, type=int, help="1-based subject number")
    p.add_argument("--out", required=True, type=Path, help="output .nc file")
    p.add_argument("--params", default="{}",
                   help="JSON mapping of feature parameters (see neuroaffect.features.FeatureParams), "
                   "e.g. '{\"mode\": \"fft\", \"window\": 128}' (default: the defaults)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_cmd_features)


def _cmd_features(args):
    from .features import FeatureParams, extract_features, write_features
    from .io import read_dataset

    try:
        cfg = json.loads(args.params)
    except json.JSONDecodeError as err:
        raise ValueError(f"--params: expected a JSON mapping, but found {args.params!r} ({err})") from None
    params = FeatureParams.from_dict(cfg)
    t0 = time.perf_counter()
    (rec,) = read_dataset(args.dataset, args.root, subjects=[args.subject])
    t1 = time.perf_counter()
    ds = extract_features(rec, params, progress=not args.no_progress)
    write_features(ds, args.out)
    print(f"{args.dataset} subject {args.subject}: bde {dict(ds['bde'].sizes)} -> {args.out} "
          f"(read {t1 - t0:.2f} s, features {time.perf_counter() - t1:.2f} s, params {ds.attrs['params_hash'][:12]})")
    return 0


def _add_plot_features(sub):
    p = sub.add_parser(
        "plot-features", help="figures of one subject's feature file",
        description="Per-band scalp maps of mean band DE for high vs low labels, and our "
        "interpolation beside mne.viz.plot_topomap for the same values (correlation printed).",
    )
    p.add_argument("--features", required=True, type=Path, help="a feature file (.nc)")
    p.add_argument("--contrast", type=Path, help="PNG of the high vs low label maps")
    p.add_argument("--comparison", type=Path, help="PNG of our maps beside MNE's")
    p.set_defaults(func=_cmd_plot_features)


def _cmd_plot_features(args):
    import numpy as np

    from .features import read_features
    from .viz import plot_label_contrast, plot_topomap_comparison

    ds = read_features(args.features)
    if args.contrast:
        if "valence" in ds.coords:
            labels, split = ("valence", "arousal"), 0.0
        else:  # SEED: positive (1) vs the rest
            labels, split = ("emotion",), 0.5
        plot_label_contrast(ds, args.contrast, labels=labels, split=split)
        print(f"wrote {args.contrast}")
    if args.comparison:
        bde = ds["bde"].values
        values = np.nanmean(bde, axis=(0, 1)).T  # (n_bands, n_chans)
        out = plot_topomap_comparison(values, list(ds["channel"].values), args.comparison,
                                      titles=list(ds["band"].values))
        print(f"wrote {args.comparison}; correlation with mne.viz.plot_topomap per band: {out}")
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


_COMMANDS = [_add_simulate, _add_summarize, _add_features, _add_plot_features]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"neuroaffect {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
