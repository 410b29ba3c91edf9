"""Commands on datasets and features: simulate, summarize, features, plot-features."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..labels import CUSTOM, DATASETS

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
    p.add_argument("--gstar-strength", type=float, default=None,
                   help="face datasets: weight of the planted G* in the expression (unitless; 1 when omitted; 0 = none)")
    p.add_argument("--no-progress", action="store_true",
                   help="no per-subject progress on stderr (a bar on a terminal, else one line per subject)")
    p.set_defaults(func=_simulate)


def _simulate(args):
    from ..simulate import simulate

    t0 = time.perf_counter()
    root = simulate(args.dataset, scale=args.scale, out=args.out, seed=args.seed, snr=args.snr,
                    gstar_strength=args.gstar_strength, progress=not args.no_progress)
    size = sum(f.stat().st_size for f in Path(args.out).rglob("*") if f.is_file())
    print(f"wrote {args.dataset} ({args.scale}) to {root}: {size / 2**20:.1f} MiB in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def add_summarize(sub):
    p = sub.add_parser("summarize", help="read every subject of a dataset and summarise it", formatter_class=_FMT,
                       description="Read every subject of a dataset (checking the format) and write a JSON and "
                       "Markdown summary: subjects, trials, channels, rates, label histograms. "
                       "Example: neuroaffect summarize --dataset deap --root data/sim/deap/deap --out summary")
    p.add_argument("--dataset", required=True, choices=DATASETS + (CUSTOM,))
    p.add_argument("--root", required=True, type=Path,
                   help="what the dataset's reader takes (a folder, or one subject's file)")
    p.add_argument("--out", required=True, type=Path, help="output stem: writes OUT.json and OUT.md")
    add_custom_args(p)
    p.set_defaults(func=_summarize)


def _summarize(args):
    from .._utils import atomic_write_json, atomic_write_text
    from ..io.summary import summarize_dataset
    from ..report.datasets import summary_markdown

    summary = summarize_dataset(args.dataset, args.root, **custom_read_kwargs(args))
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
    p.add_argument("--dataset", required=True, choices=DATASETS + (CUSTOM,),
                   help="custom: your own recordings under --root with a labels table (docs/formats.md)")
    p.add_argument("--root", required=True, type=Path, help="what the dataset's reader takes")
    p.add_argument("--subject", required=True, type=int, help="1-based subject number")
    p.add_argument("--out", required=True, type=Path, help="output .nc file")
    p.add_argument("--params", default="{}",
                   help="JSON mapping of feature parameters (see neuroaffect.features.FeatureParams; window and "
                   "stride in samples, bands in Hz), e.g. '{\"mode\": \"fft\", \"window\": 128}'")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_custom_args(p)
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
    (rec,) = read_dataset(args.dataset, args.root, subjects=[args.subject], **custom_read_kwargs(args))
    t1 = time.perf_counter()
    ds = extract_features(rec, params, progress=not args.no_progress)
    write_features(ds, args.out)
    print(f"{args.dataset} subject {args.subject}: bde {dict(ds['bde'].sizes)} -> {args.out} "
          f"(read {t1 - t0:.2f} s, features {time.perf_counter() - t1:.2f} s, params {ds.attrs['params_hash'][:12]})")
    return 0


def add_custom_args(p):
    """The options of ``--dataset custom`` (:func:`neuroaffect.io.read_custom`)."""
    g = p.add_argument_group("--dataset custom (your own recordings)")
    g.add_argument("--labels", type=Path, default=None, help="labels table (CSV, one row per trial; default "
                   "ROOT/labels.csv)")
    g.add_argument("--rating", action="append", default=[], metavar="NAME=LO:HI",
                   help="a rated label column and its scale, e.g. valence=1:9 (repeatable)")
    g.add_argument("--classes", action="append", default=[], metavar="NAME[=A,B,...]",
                   help="a class label column, optionally with its classes in order, e.g. eyes=open,closed "
                   "(repeatable; without --rating or --classes every other column is a class label)")
    g.add_argument("--montage", default=None, help="mne.channels.make_standard_montage name giving positions and "
                   "names (default: the file's locations, else the 10-05 template)")
    g.add_argument("--channel", action="append", default=[], metavar="OLD=NEW",
                   help="rename a channel to its standard name (repeatable)")
    g.add_argument("--exclude", action="append", default=[], metavar="CHANNEL",
                   help="leave a channel out, e.g. a dead electrode (recorded or standard name; repeatable)")
    g.add_argument("--duration", type=float, default=None,
                   help="trial length in seconds where the table and annotations give none")
    g.add_argument("--bad-samples", default="refuse", choices=["refuse", "repair", "drop"],
                   help="EEG samples beyond --eeg-limit-uv: refuse the recording, interpolate them, or drop their "
                   "trials (each change recorded)")
    g.add_argument("--eeg-limit-uv", type=float, default=None,
                   help="largest plausible |EEG sample| in uV (300000; e.g. 10000 for an Emotiv EPOC)")


def custom_read_kwargs(args) -> dict:
    """``read_kwargs`` of :func:`neuroaffect.pipeline.load_windows` from the ``--dataset custom`` options."""
    def pair(text, flag):
        if "=" not in text:
            raise ValueError(f"{flag}: expected NAME=VALUE, but got {text!r}")
        k, v = text.split("=", 1)
        return k.strip(), v.strip()

    out = {}
    given = [f for f, v in (("--labels", args.labels), ("--rating", args.rating), ("--classes", args.classes),
                            ("--montage", args.montage), ("--channel", args.channel), ("--exclude", args.exclude),
                            ("--duration", args.duration),
                            ("--eeg-limit-uv", args.eeg_limit_uv)) if v] + (
        ["--bad-samples"] if args.bad_samples != "refuse" else [])
    if args.dataset != CUSTOM:
        if given:
            raise ValueError(f"{', '.join(given)} apply to --dataset custom only, but got --dataset {args.dataset}")
        return out
    if args.root is None and getattr(args, "features", None) is None:
        raise ValueError("--dataset custom needs --root: the folder of your recordings")
    if args.labels is not None:
        out["labels"] = args.labels
    if args.rating:
        ratings = {}
        for text in args.rating:
            name, scale = pair(text, "--rating")
            try:
                lo, hi = (float(x) for x in scale.split(":"))
            except ValueError:
                raise ValueError(f"--rating: expected NAME=LO:HI (e.g. valence=1:9), but got {text!r}") from None
            ratings[name] = (lo, hi)
        out["ratings"] = ratings
    if args.classes:
        classes = {}
        for text in args.classes:
            name, _, order = text.partition("=")
            classes[name.strip()] = [c.strip() for c in order.split(",")] if order else None
        out["classes"] = classes
    if args.channel:
        out["ch_names"] = dict(pair(t, "--channel") for t in args.channel)
    if args.exclude:
        out["exclude"] = list(args.exclude)
    for key in ("montage", "duration", "eeg_limit_uv"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    if args.bad_samples != "refuse":
        out["bad_samples"] = args.bad_samples
    return out


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
