"""Commands on datasets and features: simulate, summarize, features, plot-features."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..labels import DATASETS

#: Face datasets the simulator writes (AffectNet's full layout is read, not simulated, by default).
FACE_SIMULATED = ("ferplus", "affectnet-mini", "ckplus")

_FMT = argparse.ArgumentDefaultsHelpFormatter


def add_simulate(sub):
    p = sub.add_parser(
        "simulate", help="write a simulated dataset in its real on-disk layout", formatter_class=_FMT,
        description="Write a simulated copy of a dataset in exactly its real on-disk layout, with label-dependent "
        "EEG and peripheral signals and a simulation.json ground-truth sidecar. "
        "Example: neuroaffect simulate --dataset deap --scale demo --out data/sim/deap",
    )
    p.add_argument("--dataset", required=True, choices=DATASETS + FACE_SIMULATED,
                   help="an EEG dataset, or a face dataset (drawn faces in the real layout)")
    p.add_argument("--scale", default="demo", choices=["tiny", "demo", "full"],
                   help="tiny: tests; demo: the default workflow; full: the real dataset's sizes")
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--snr", type=float, default=None,
                   help="planted effect size (unitless; 1 = the realistic default, used when omitted)")
    p.add_argument("--no-progress", action="store_true",
                   help="no per-subject progress on stderr (a bar on a terminal, else one line per subject)")
    p.set_defaults(func=_simulate)


def _simulate(args):
    from ..simulate import simulate

    t0 = time.perf_counter()
    root = simulate(args.dataset, scale=args.scale, out=args.out, seed=args.seed, snr=args.snr,
                    progress=not args.no_progress)
    size = sum(f.stat().st_size for f in Path(args.out).rglob("*") if f.is_file())
    print(f"wrote {args.dataset} ({args.scale}) to {root}: {size / 2**20:.1f} MiB in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def add_summarize(sub):
    p = sub.add_parser("summarize", help="read every subject of a dataset and summarise it", formatter_class=_FMT,
                       description="Read every subject of a dataset (checking the format) and write a JSON and "
                       "Markdown summary: subjects, trials, channels, rates, label histograms. "
                       "Example: neuroaffect summarize --dataset deap --root data/sim/deap/deap --out summary")
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--root", required=True, type=Path,
                   help="what the dataset's reader takes (a folder, or one subject's file)")
    p.add_argument("--out", required=True, type=Path, help="output stem: writes OUT.json and OUT.md")
    p.set_defaults(func=_summarize)


def _summarize(args):
    from .._utils import atomic_write_json, atomic_write_text
    from ..io.summary import summarize_dataset, summary_markdown

    summary = summarize_dataset(args.dataset, args.root)
    out = Path(args.out)
    atomic_write_json(out.with_suffix(".json"), summary)
    atomic_write_text(out.with_suffix(".md"), summary_markdown(summary))
    print(summary_markdown(summary))
    return 0


def add_features(sub):
    p = sub.add_parser(
        "features", help="band-DE tokens, topographic maps and physiological features of one subject",
        formatter_class=_FMT,
        description="Read one subject, compute band differential entropy (nats of uV^2) per window, channel and "
        "band, topographic maps and physiological features, and write them to a netCDF file (atomically) with "
        "every parameter and the sha256 of each input file in its attributes. Example: neuroaffect features "
        "--dataset deap --root data/sim/deap/deap --subject 1 --out features/1.nc",
    )
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--root", required=True, type=Path, help="what the dataset's reader takes")
    p.add_argument("--subject", required=True, type=int, help="1-based subject number")
    p.add_argument("--out", required=True, type=Path, help="output .nc file")
    p.add_argument("--params", default="{}",
                   help="JSON mapping of feature parameters (see neuroaffect.features.FeatureParams; window and "
                   "stride in samples, bands in Hz), e.g. '{\"mode\": \"fft\", \"window\": 128}'")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_features)


def parse_params(text: str, what: str = "--params") -> dict:
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what}: expected a JSON mapping, but found {text!r} ({err})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{what}: expected a JSON mapping, but found {text!r}")
    return cfg


def _features(args):
    from ..features import FeatureParams, extract_features, write_features
    from ..io import read_dataset

    params = FeatureParams.from_dict(parse_params(args.params))
    t0 = time.perf_counter()
    (rec,) = read_dataset(args.dataset, args.root, subjects=[args.subject])
    t1 = time.perf_counter()
    ds = extract_features(rec, params, progress=not args.no_progress)
    write_features(ds, args.out)
    print(f"{args.dataset} subject {args.subject}: bde {dict(ds['bde'].sizes)} -> {args.out} "
          f"(read {t1 - t0:.2f} s, features {time.perf_counter() - t1:.2f} s, params {ds.attrs['params_hash'][:12]})")
    return 0


def add_plot_features(sub):
    p = sub.add_parser(
        "plot-features", help="figures of one subject's feature file", formatter_class=_FMT,
        description="Per-band scalp maps of mean band DE for high vs low labels, and our interpolation beside "
        "mne.viz.plot_topomap for the same values (correlation printed). Example: neuroaffect plot-features "
        "--features features/1.nc --contrast contrast.png",
    )
    p.add_argument("--features", required=True, type=Path, help="a feature file (.nc)")
    p.add_argument("--contrast", type=Path, help="PNG of the high vs low label maps")
    p.add_argument("--comparison", type=Path, help="PNG of our maps beside MNE's")
    p.set_defaults(func=_plot_features)


def _plot_features(args):
    from ..features import read_features
    from ..viz import plot_feature_figures

    out = plot_feature_figures(read_features(args.features), contrast=args.contrast, comparison=args.comparison)
    for line in out:
        print(line)
    return 0
