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


def _add_training_args(p):
    p.add_argument("--dataset", required=True, choices=["deap", "dreamer", "seed", "mahnob"])
    p.add_argument("--target", default="valence",
                   help="label: valence, arousal, dominance (liking for DEAP), emotion for SEED (default: valence)")
    p.add_argument("--task", default="binary", choices=["binary", "multiclass"],
                   help="binary: DEAP/MAHNOB rating >= 5, DREAMER score >= 3; multiclass: DEAP 9, DREAMER 5, "
                   "SEED 3 classes (default: binary)")
    p.add_argument("--model", default="rbtransformer",
                   help="registered model (neuroaffect.models.list_models()): rbtransformer, dgcnn, rgnn "
                   "(default: rbtransformer)")
    p.add_argument("--protocol", default="trial-holdout",
                   choices=["trial-holdout", "seed-9-6", "loso", "rbt-pooled"],
                   help="trial-holdout: k-fold over trials per subject (leak-free, default); seed-9-6: first 9 "
                   "trials train, last 6 test per SEED session; loso: leave one subject out; rbt-pooled: the "
                   "RBTransformer paper's pooled window split (leaks; its leakage is reported)")
    p.add_argument("--folds", type=int, default=None, help="number of folds (protocol default when omitted)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: 100; rbt-pooled: 300)")
    p.add_argument("--batch-size", type=int, default=None, help="windows per step (default: 256)")
    p.add_argument("--lr", type=float, default=None, help="AdamW learning rate (default: 1e-3)")
    p.add_argument("--patience", type=int, default=None,
                   help="early stopping patience in epochs on a validation split of the training trials "
                   "(default: off)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation, shuffling and splits (default: 0)")
    p.add_argument("--features", type=Path, default=None,
                   help="feature files: a .nc file or a folder of <subject>.nc (default: "
                   "results/features/<dataset>); computed from --root when absent")
    p.add_argument("--root", type=Path, default=None,
                   help="dataset root for computing features when no feature file exists "
                   "(default: the simulated copy results/sim/<dataset>/<dataset>)")
    p.add_argument("--feature-params", default="{}",
                   help="JSON FeatureParams used when computing features from --root, e.g. "
                   "'{\"preset\": \"rbtransformer\"}' (default: rbtransformer preset for rbt-pooled, else defaults)")
    p.add_argument("--checkpoints", type=Path, default=None,
                   help="checkpoint folder: a killed run restarted with the same arguments resumes there")
    p.add_argument("--loop", action="store_true",
                   help="train fold models one after another instead of as one batched model")
    p.add_argument("--control", action="store_true",
                   help="also train each fold's model on training labels permuted across trials and score it "
                   "on the true test labels (the shuffled-label control; doubles training time)")


def _train_config(args):
    from .training import TrainConfig

    base = TrainConfig.preset("rbt-pooled") if args.protocol == "rbt-pooled" else TrainConfig()
    over = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                              "patience": args.patience}.items() if v is not None}
    return base.replace(seed=args.seed, device=args.device, **over)


def _all_subjects(args):
    """Subjects with feature files under --features, else those under the dataset root."""
    src = args.features or Path("results/features") / args.dataset
    if src.is_dir() and any(src.glob("*.nc")):
        return sorted(int(f.stem) for f in src.glob("*.nc"))
    from .io import list_subjects

    return list_subjects(args.dataset, args.root or Path("results/sim") / args.dataset / args.dataset)


def _feature_inputs(files, temporary=()):
    """Provenance of the feature files a result was trained on.

    Returns ``{"features": {path: sha256}, "feature_params_hash": [...], "raw_inputs": {path: sha256}}``:
    the feature files' own hashes (except those in ``temporary``, computed in memory for this run),
    the hashes of their extraction parameters, and the raw recordings they were computed from (from
    their attributes).
    """
    import xarray as xr

    from ._utils import DatasetFormatError, sha256_file

    out = {"features": {}, "feature_params_hash": [], "raw_inputs": {}}
    for f in files:
        if f not in temporary:
            out["features"][str(f)] = sha256_file(f)
        with xr.open_dataset(f) as ds:  # attributes only; the arrays are not read
            attrs = dict(ds.attrs)
        ph = attrs.get("params_hash")
        if ph and ph not in out["feature_params_hash"]:
            out["feature_params_hash"].append(ph)
        try:
            raw = json.loads(attrs.get("input_sha256", "{}"))
        except json.JSONDecodeError:
            raw = None
        if not isinstance(raw, dict):
            raise DatasetFormatError(f, "an 'input_sha256' attribute holding a JSON object {path: sha256}",
                                     f"{str(attrs.get('input_sha256'))[:80]!r}")
        out["raw_inputs"].update(raw)
    return out


def _load_windows(args, subjects):
    """Feature files of ``subjects`` (computed in memory from --root where missing) -> (WindowSet, inputs).

    ``inputs`` is the provenance of those files (:func:`_feature_inputs`).
    """
    import tempfile

    from .features import FeatureParams, extract_features, write_features
    from .io import read_dataset
    from .training.inputs import windows_from_features

    src = args.features or Path("results/features") / args.dataset
    if src.is_file():
        files = [src]
    else:
        files, todo = [], []
        for s in subjects:
            f = src / f"{s}.nc"
            (files if f.is_file() else todo).append(f if f.is_file() else s)
        if todo:
            root = args.root or Path("results/sim") / args.dataset / args.dataset
            if not root.exists():
                raise FileNotFoundError(
                    f"{src}: expected feature files for subjects {todo} or a dataset root to compute them "
                    f"from, but found neither (no {root}); run `make run`, or pass --features / --root")
            cfg = json.loads(args.feature_params)
            if args.protocol == "rbt-pooled" and not cfg:
                cfg = {"preset": "rbtransformer"}
            params = FeatureParams.from_dict(cfg)
            with tempfile.TemporaryDirectory(prefix="neuroaffect-features-") as tmp:
                for s in todo:
                    (rec,) = read_dataset(args.dataset, root, subjects=[s])
                    files.append(write_features(extract_features(rec, params, progress=True), Path(tmp) / f"{s}.nc"))
                    print(f"computed features of {args.dataset} subject {s} from {root}", file=sys.stderr)
                windows = windows_from_features(files, args.target, args.task, dataset=args.dataset)
                return windows, _feature_inputs(files, temporary=[f for f in files if Path(tmp) in f.parents])
    windows = windows_from_features(files, args.target, args.task, dataset=args.dataset)
    return windows, _feature_inputs(files)


def _add_experiment(sub):
    p = sub.add_parser(
        "experiment", help="one subject-dependent experiment: per-fold table with baselines, JSON result",
        description="Train and evaluate one model on one subject under a protocol; print a per-fold table "
        "(model, majority class, logistic regression on tokens, chance) with mean +- std and each fold's "
        "leakage figure, and write the result as JSON.",
    )
    p.add_argument("--subject", required=True,
                   help="1-based subject number ('all' pools every subject: rbt-pooled only)")
    _add_training_args(p)
    p.add_argument("--out", type=Path, default=None,
                   help="JSON result (default: results/experiments/<dataset>_<subject>_<target>_<task>_"
                   "<model>_<protocol>.json)")
    p.set_defaults(func=_cmd_experiment)


def _cmd_experiment(args):
    from ._utils import atomic_write_json, code_version, config_hash
    from .training import run_experiment

    pooled = str(args.subject).lower() == "all"
    if pooled and args.protocol != "rbt-pooled":
        raise ValueError("--subject all pools every subject and needs --protocol rbt-pooled")
    if args.protocol in ("loso", "rbt-pooled") or pooled:
        subjects = _all_subjects(args)
    else:
        subjects = [int(args.subject)]
    windows, inputs = _load_windows(args, subjects)
    cfg = _train_config(args)
    subject = None if pooled else int(args.subject)
    meta = {"dataset": args.dataset, "target": args.target, "task": args.task, "model": args.model,
            "protocol": args.protocol, "control": args.control, "code_version": code_version(),
            "train_config": cfg.to_dict(), "inputs": inputs}
    meta["config_hash"] = config_hash(meta)
    result = run_experiment(windows, subject, args.model, args.protocol, args.folds, cfg,
                            batched=not args.loop, checkpoint_dir=args.checkpoints, control=args.control,
                            metadata=meta)
    print(result.format_table())
    out = args.out or Path("results/experiments") / (
        f"{args.dataset}_{args.subject}_{args.target}_{args.task}_{args.model}_{args.protocol}.json")
    atomic_write_json(out, result.to_dict())
    print(f"wrote {out}")
    return 0


def _add_sweep(sub):
    p = sub.add_parser(
        "sweep", help="all subjects x folds of one (dataset, target, task, model, protocol), batched",
        description="Train one model per subject x fold as one batched model (torch.vmap), evaluate with "
        "baselines, and write per-fold CSV, a Markdown table and a JSON result.",
    )
    _add_training_args(p)
    p.add_argument("--subjects", default=None, help="comma-separated subject numbers (default: all)")
    p.add_argument("--out", type=Path, required=True, help="output stem: writes OUT.csv, OUT.md, OUT.json")
    p.set_defaults(func=_cmd_sweep)


def _cmd_sweep(args):
    import numpy as np

    from ._utils import atomic_write_json, atomic_write_text, code_version, config_hash
    from .training import run_sweep

    subjects = [int(s) for s in args.subjects.split(",")] if args.subjects else _all_subjects(args)
    windows, inputs = _load_windows(args, subjects)
    cfg = _train_config(args)
    t0 = time.perf_counter()
    result = run_sweep(windows, args.model, None, args.protocol, args.folds, cfg, batched=not args.loop,
                       checkpoint_dir=args.checkpoints, control=args.control)
    seconds = time.perf_counter() - t0
    meta = {"dataset": args.dataset, "target": args.target, "task": args.task, "model": args.model,
            "protocol": args.protocol, "control": args.control, "subjects": subjects, "code_version": code_version(),
            "train_config": cfg.to_dict(), "inputs": inputs, "train_seconds": seconds}
    meta["config_hash"] = config_hash({k: v for k, v in meta.items() if k != "train_seconds"})
    out = Path(args.out)
    from sklearn.metrics import confusion_matrix

    y_true = np.concatenate([p.y_true for p in result.predictions])
    y_pred = np.concatenate([p.y_pred[args.model] for p in result.predictions])
    extra = {
        "confusion": confusion_matrix(y_true, y_pred, labels=range(result.n_classes)).tolist(),
        # null where a fold had no validation split (JSON has no NaN)
        "histories": [{k: [float(x) if np.isfinite(x) else None for x in v]
                       for k, v in h.items() if k in ("train_loss", "val_loss")} for h in result.histories],
    }
    result.to_csv(out.with_suffix(".csv"))
    md = f"# {args.dataset} {args.target} ({args.task}), {args.model}, {args.protocol}\n\n" + result.to_markdown()
    atomic_write_text(out.with_suffix(".md"), md)
    atomic_write_json(out.with_suffix(".json"), {"metadata": meta, **result.to_dict(), **extra})
    print(md)
    print(f"trained {len(result.folds)} fold models in {seconds:.1f} s; wrote {out}.csv/.md/.json")
    return 0


def _add_plot_sweep(sub):
    p = sub.add_parser("plot-sweep", help="learning curves and confusion matrix of a sweep",
                       description="Learning curves of every fold model and the pooled test confusion matrix "
                       "of a sweep's JSON result (written by `neuroaffect sweep`).")
    p.add_argument("--sweep", required=True, type=Path, help="sweep JSON")
    p.add_argument("--out", required=True, type=Path, help="PNG to write")
    p.set_defaults(func=_cmd_plot_sweep)


def _cmd_plot_sweep(args):
    from .viz import plot_sweep

    res = json.loads(Path(args.sweep).read_text())
    meta = res.get("metadata", {})
    title = " ".join(str(meta.get(k, "")) for k in ("dataset", "target", "task", "model", "protocol"))
    plot_sweep(res.get("histories", []), res["confusion"], args.out, title=title)
    print(f"wrote {args.out}")
    return 0


def _add_tabulate(sub):
    p = sub.add_parser("tabulate", help="one table of all sweeps, with the simulator's oracle accuracy",
                       description="Collect sweep JSON results into one Markdown/CSV table (mean +- std over "
                       "subjects of model, majority, logistic and chance), with the oracle accuracy of the "
                       "simulator's planted effects where the data are simulated.")
    p.add_argument("--sweeps", nargs="+", required=True, type=Path, help="sweep JSON files")
    p.add_argument("--sidecars", nargs="*", default=[], type=Path,
                   help="simulation.json files of simulated datasets (for the oracle row)")
    p.add_argument("--out", required=True, type=Path, help="output stem: writes OUT.md and OUT.csv")
    p.set_defaults(func=_cmd_tabulate)


def _cmd_tabulate(args):
    import numpy as np
    import pandas as pd

    from ._utils import atomic_write_text
    from .simulate import oracle_accuracies

    from .simulate.signal import DEFAULT_SNR

    cards, snrs = {}, {}
    for f in args.sidecars:
        card = json.loads(Path(f).read_text())
        cards[card["dataset"]] = f
        snrs[card["dataset"]] = DEFAULT_SNR if card.get("snr") is None else float(card["snr"])
    rows = []
    for f in args.sweeps:
        res = json.loads(Path(f).read_text())
        meta = res["metadata"]
        key = {k: meta[k] for k in ("dataset", "target", "task", "model", "protocol")}
        leakage = float(np.mean([fo["leakage"] for fo in res["folds"]]))
        for level in ("window", "trial"):
            summary = res["summary"].get(level, {})
            majority = summary.get("majority", {}).get("accuracy_mean", np.nan)
            for model, m in summary.items():
                rows.append({**key, "level": level, "row": model, "accuracy": m["accuracy_mean"],
                             "accuracy_std": m["accuracy_std"], "vs_majority": m["accuracy_mean"] - majority,
                             "macro_f1": m["macro_f1_mean"], "balanced_accuracy": m["balanced_accuracy_mean"],
                             "leakage": leakage})
        if meta["dataset"] in cards and meta["task"] == "binary" and meta["target"] in ("valence", "arousal", "dominance"):
            acc = np.array(list(oracle_accuracies(cards[meta["dataset"]], meta["target"]).values()))
            rows.append({**key, "level": "trial", "row": "oracle (simulator ground truth)", "accuracy": acc.mean(),
                         "accuracy_std": acc.std(), "vs_majority": np.nan, "macro_f1": np.nan,
                         "balanced_accuracy": np.nan, "leakage": np.nan})
    df = pd.DataFrame(rows)
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".csv"), df.to_csv(index=False))
    lines = ["# Results (mean +- std over subjects)", "",
             "Window level: every test window scored on its own; trial level: the majority vote of a test "
             "trial's windows. `vs majority`: accuracy minus the majority-class row's, in points. The oracle "
             "is the Bayes rule on the simulator's planted band powers (an upper bound).", ""]
    if snrs:
        lines += ["Simulated data, planted effect size (snr; " + f"{DEFAULT_SNR:g} = the realistic default, "
                  "calibrated to honest DEAP accuracies): "
                  + ", ".join(f"{d} {v:g}" for d, v in sorted(snrs.items())) + ".", ""]
    lines += ["| dataset | target | task | model | protocol | level | row | accuracy % | vs majority | macro-F1 % "
              "| balanced acc. % | leakage % |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    pct = lambda v: "" if pd.isna(v) else f"{100 * v:.1f}"  # noqa: E731
    pts = lambda v: "" if pd.isna(v) else f"{100 * v:+.1f}"  # noqa: E731
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['target']} | {r['task']} | {r['model']} | {r['protocol']} | {r['level']} | "
                     f"{r['row']} | {pct(r['accuracy'])} +- {pct(r['accuracy_std'])} | {pts(r['vs_majority'])} | "
                     f"{pct(r['macro_f1'])} | {pct(r['balanced_accuracy'])} | {pct(r['leakage'])} |")
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
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


_COMMANDS = [_add_simulate, _add_summarize, _add_features, _add_plot_features, _add_experiment, _add_sweep, _add_plot_sweep, _add_tabulate]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"neuroaffect {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
