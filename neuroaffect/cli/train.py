"""Training commands: experiment, sweep, cross-dataset, plot-sweep, tabulate."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..labels import CUSTOM, DATASETS, TASKS
from .data import add_custom_args, custom_read_kwargs, parse_params

_FMT = argparse.ArgumentDefaultsHelpFormatter
#: Where the workflow writes each dataset's features (used when neither --root nor --features is given).
WORKFLOW_FEATURES = "results/features/{dataset}"


def _add_training_args(p):
    from ..training import PROTOCOLS, TrainConfig
    from ..training.protocols import DEFAULT_N_FOLDS

    d = TrainConfig()
    p.add_argument("--dataset", required=True, choices=DATASETS + (CUSTOM,),
                   help="custom: your own recordings (any format MNE reads) under --root with a labels table "
                   "(docs/formats.md, 'Your own recordings')")
    p.add_argument("--target", default="valence",
                   help="label: valence, arousal, dominance (liking for DEAP), emotion for SEED, SEED-V; FACED: emotion "
                   "(multiclass), valence, arousal; custom: any label column of the labels table")
    p.add_argument("--task", default="binary", choices=TASKS,
                   help="binary: DEAP/MAHNOB/AMIGOS rating >= 5, DREAMER score >= 3, FACED rating >= 3.5; multiclass: "
                   "DEAP 9, DREAMER 5, SEED 3, SEED-V 5, FACED 9 classes; regression: the rating normalised to [-1, 1]")
    p.add_argument("--model", default="rbtransformer",
                   help="registered model (neuroaffect.models.list_models()): rbtransformer, dgcnn, rgnn; raw-signal "
                   "baselines eegnet, shallowfbcspnet")
    p.add_argument("--protocol", default="trial-holdout", choices=[x for x in PROTOCOLS if x != "cross-dataset"],
                   help="trial-holdout: k-fold over trials per subject (leak-free); seed-9-6: first 9 trials train, "
                   "last 6 test per SEED session; loso: leave one subject out; rbt-pooled: the RBTransformer paper's "
                   "pooled window split (leaks; both leakage figures are reported); cross-session: per subject, "
                   "every session but the last trains and the last tests (SEED: sessions 1-2 train, 3 tests); "
                   "training on one dataset and testing on another: `neuroaffect cross-dataset`")
    p.add_argument("--folds", type=int, default=None,
                   help=f"number of folds (trial-holdout {DEFAULT_N_FOLDS['trial-holdout']}, rbt-pooled "
                   f"{DEFAULT_N_FOLDS['rbt-pooled']}; seed-9-6 and loso fix their own)")
    p.add_argument("--epochs", type=int, default=None, help=f"training epochs ({d.epochs}; rbt-pooled 300)")
    p.add_argument("--batch-size", type=int, default=None, help=f"windows per step ({d.batch_size}; rbt-pooled "
                   "256 then 64 from epoch 150)")
    p.add_argument("--lr", type=float, default=None, help=f"AdamW learning rate ({d.lr:g})")
    p.add_argument("--patience", type=int, default=None,
                   help="early stopping patience in epochs on a validation split of the training trials (off)")
    p.add_argument("--validate", action="store_true",
                   help="hold out 10 %% of the training trials (whole trials, stratified by class) as a validation "
                   "split and record its loss and accuracy every epoch, without early stopping (the learning curves' "
                   "validation curve; the model trains on the other trials)")
    p.add_argument("--loss", default=None, choices=["mse", "ccc"], help="regression loss (mse)")
    p.add_argument("--device", default=d.device, help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of initialisation, shuffling and splits")
    p.add_argument("--root", type=Path, default=None,
                   help="dataset root (any form its reader takes, e.g. data/sim/deap/deap or one sNN.dat): "
                   "features are computed from it in memory")
    p.add_argument("--features", type=Path, default=None,
                   help="feature files instead: a .nc file or a folder of <subject>.nc (when neither --root nor "
                   f"--features is given: the workflow's {WORKFLOW_FEATURES.format(dataset='<dataset>')})")
    p.add_argument("--feature-params", default="{}",
                   help="JSON FeatureParams used with --root, e.g. '{\"preset\": \"rbtransformer\"}' (the defaults; "
                   "rbt-pooled: the rbtransformer preset)")
    p.add_argument("--checkpoints", type=Path, default=None,
                   help="checkpoint folder: a killed run restarted with the same arguments resumes there")
    p.add_argument("--loop", action="store_true",
                   help="train fold models one after another instead of as one batched model")
    p.add_argument("--control", action="store_true",
                   help="also train each fold's model on training labels permuted across trials and score it on the "
                   "true test labels (the shuffled-label control; doubles training time)")
    p.add_argument("--drift-control", action="store_true",
                   help="also classify the first against the second half of each condition's trials (time order) "
                   "with the same features, protocol and logistic row: far above chance, the conditions' accuracy "
                   "may reward drift within the session (docs/protocols.md)")
    p.add_argument("--no-progress", action="store_true", help="no per-epoch progress on stderr")
    add_custom_args(p)


def _train_config(args):
    from ..training import TrainConfig

    over = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                              "patience": args.patience}.items() if v is not None}
    if args.validate:
        over["validate"] = True
    return TrainConfig.for_protocol(args.protocol, seed=args.seed, device=args.device, **over)


def _data_args(args) -> dict:
    """``root`` / ``features`` / ``feature_params`` for the pipeline, saying where the data come from."""
    params = parse_params(args.feature_params, "--feature-params")
    if args.protocol == "rbt-pooled" and not params:
        params = {"preset": "rbtransformer"}
    read_kwargs = custom_read_kwargs(args)
    if args.features is None and args.root is None:
        default = Path(WORKFLOW_FEATURES.format(dataset=args.dataset))
        if not default.is_dir() or not any(default.glob("*.nc")):
            raise FileNotFoundError(
                f"{default}: expected the workflow's feature files of {args.dataset}, but found none; run `make run`, "
                "or pass --root DATASET_ROOT (e.g. a folder written by `neuroaffect simulate`) or --features")
        args.features = default
    if args.features is not None and args.protocol == "rbt-pooled" and args.feature_params == "{}":
        print(f"note: rbt-pooled usually trains on the rbtransformer feature preset, but the features read from "
              f"{args.features} keep the parameters they were computed with (see the data line); pass --root to "
              "compute them with the preset", file=sys.stderr)
    if args.features is not None and args.feature_params != "{}":
        print(f"note: --feature-params is ignored: the features are read from {args.features} with the parameters "
              "they were computed with (see the data line)", file=sys.stderr)
    return {"root": args.root, "features": args.features, "feature_params": params, "read_kwargs": read_kwargs}


def add_experiment(sub):
    p = sub.add_parser(
        "experiment", help="one subject-dependent experiment: per-fold table with baselines, JSON result",
        formatter_class=_FMT,
        description="Train and evaluate one model on one subject under a protocol; print the data source, then "
        "window- and trial-level per-fold tables (model, majority class, logistic regression on tokens, chance; "
        "regression: the training mean and ridge) with both leakage figures, and write JSON, CSV and Markdown. "
        "Example: neuroaffect experiment --dataset deap --subject 1 --model dgcnn --root data/sim/deap/deap",
    )
    p.add_argument("--subject", required=True,
                   help="1-based subject number ('all' pools every subject: rbt-pooled only)")
    _add_training_args(p)
    p.add_argument("--out", type=Path, default=None,
                   help="output stem (default: results/experiments/<dataset>_<subject>_<target>_<task>_<model>_"
                   "<protocol>): writes .json, .csv, .md")
    p.set_defaults(func=_experiment)


def _experiment(args):
    from ..pipeline import experiment, write_result
    from ..report import experiment_text

    pooled = str(args.subject).lower() == "all"
    if pooled and args.protocol != "rbt-pooled":
        raise ValueError("--subject all pools every subject and needs --protocol rbt-pooled")
    result = experiment(args.dataset, None if pooled else int(args.subject), args.target, args.task, args.model,
                        args.protocol, n_folds=args.folds, train_cfg=_train_config(args), control=args.control,
                        drift_control=args.drift_control,
                        batched=not args.loop, checkpoint_dir=args.checkpoints, loss=args.loss,
                        progress=not args.no_progress, **_data_args(args))
    print(experiment_text(result))
    if args.drift_control:
        from ..training.results import drift_sentence

        print(drift_sentence(result.sweep.records) + "\n")
    out = args.out or Path("results/experiments") / (
        f"{args.dataset}_{args.subject}_{args.target}_{args.task}_{args.model}_{args.protocol}")
    out = out.with_suffix("") if out.suffix == ".json" else out
    write_result(result, out)
    print(f"wrote {out}.json/.csv/.md")
    return 0


def add_sweep(sub):
    p = sub.add_parser(
        "sweep", help="all subjects x folds of one (dataset, target, task, model, protocol), batched",
        formatter_class=_FMT,
        description="Train one model per subject x fold as one batched model (torch.vmap), evaluate with "
        "baselines, and write per-fold CSV, a Markdown table and a JSON result. Example: neuroaffect sweep "
        "--dataset deap --target valence --model dgcnn --root data/sim/deap/deap --out results/sweep",
    )
    _add_training_args(p)
    p.add_argument("--subjects", default=None, help="comma-separated subject numbers (all)")
    p.add_argument("--out", type=Path, required=True, help="output stem: writes OUT.csv, OUT.md, OUT.json")
    p.add_argument("--md", type=Path, default=None, help="also write the Markdown table here (e.g. a report folder)")
    p.set_defaults(func=_sweep)


def _sweep(args):
    from ..pipeline import sweep, write_result
    from ..report import sweep_markdown

    subjects = [int(s) for s in args.subjects.split(",")] if args.subjects else None
    result = sweep(args.dataset, args.target, args.task, args.model, args.protocol, subjects=subjects,
                   n_folds=args.folds, train_cfg=_train_config(args), control=args.control,
                   drift_control=args.drift_control, batched=not args.loop,
                   checkpoint_dir=args.checkpoints, loss=args.loss, progress=not args.no_progress,
                   **_data_args(args))
    write_result(result, args.out, md=args.md)
    print(f"data: {result.metadata['source']}")
    for level in ("window", "trial"):
        print(f"\n{level} level\n" + sweep_markdown(result, level))
    print(f"trained {len(result.folds)} fold models in {result.metadata['train_seconds']:.1f} s; "
          f"wrote {args.out}.csv/.md/.json")
    return 0


def add_cross_dataset(sub):
    from ..training import TrainConfig

    d = TrainConfig()
    p = sub.add_parser(
        "cross-dataset", help="train on one dataset, test on another, on the channels they share",
        formatter_class=_FMT,
        description="Train one model on every window of a source dataset and test it on every window of a target "
        "dataset (pooled over the target's subjects), on the electrodes both have in the source's order, with "
        "features of the same parameters (refused otherwise), beside majority, logistic and chance rows "
        "(--control: shuffled labels). Example: neuroaffect cross-dataset --source deap --target dreamer "
        "--label valence --model dgcnn --out results/transfer/deap-dreamer/valence_binary_dgcnn",
    )
    p.add_argument("--source", required=True, choices=DATASETS, help="dataset trained on")
    p.add_argument("--target", required=True, choices=DATASETS, help="dataset tested on")
    p.add_argument("--label", default="valence", help="label both datasets rate: valence, arousal, dominance")
    p.add_argument("--task", default="binary", choices=TASKS, help="label rule, each dataset's own (binary: "
                   "DEAP rating >= 5, DREAMER score >= 3)")
    p.add_argument("--model", default="dgcnn", help="registered token model: dgcnn, rgnn, rbtransformer")
    for side in ("source", "target"):
        p.add_argument(f"--{side}-root", type=Path, default=None,
                       help=f"{side} dataset root: features computed in memory with --feature-params")
        p.add_argument(f"--{side}-features", type=Path, default=None,
                       help=f"{side} feature files (default, without a root: the workflow's "
                       f"{WORKFLOW_FEATURES.format(dataset='<' + side + '>')})")
    p.add_argument("--feature-params", default="{}", help="JSON FeatureParams for both roots (the defaults)")
    p.add_argument("--subjects", default=None, help="comma-separated target subjects to test (all)")
    p.add_argument("--epochs", type=int, default=None, help=f"training epochs ({d.epochs})")
    p.add_argument("--batch-size", type=int, default=None, help=f"windows per step ({d.batch_size})")
    p.add_argument("--lr", type=float, default=None, help=f"AdamW learning rate ({d.lr:g})")
    p.add_argument("--validate", action="store_true", help="hold out 10 %% of the source's training trials as a "
                   "validation split for the learning curves")
    p.add_argument("--device", default=d.device, help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of initialisation and shuffling")
    p.add_argument("--control", action="store_true", help="also train on trial-permuted source labels")
    p.add_argument("--checkpoints", type=Path, default=None, help="checkpoint folder (resume)")
    p.add_argument("--no-progress", action="store_true", help="no per-epoch progress on stderr")
    p.add_argument("--out", type=Path, required=True, help="output stem: writes OUT.csv, OUT.md, OUT.json")
    p.add_argument("--md", type=Path, default=None, help="also write the Markdown table here (e.g. reports/)")
    p.set_defaults(func=_cross_dataset, protocol="cross-dataset", patience=None)


def _side_data(args, side: str) -> dict:
    """``<side>_root`` / ``<side>_features`` of a cross-dataset run (the workflow's features by default)."""
    root, feats = getattr(args, f"{side}_root"), getattr(args, f"{side}_features")
    dataset = getattr(args, side)
    if root is None and feats is None:
        feats = Path(WORKFLOW_FEATURES.format(dataset=dataset))
        if not feats.is_dir() or not any(feats.glob("*.nc")):
            raise FileNotFoundError(f"{feats}: expected the workflow's feature files of {dataset}, but found none; "
                                    f"run `make run`, or pass --{side}-root or --{side}-features")
    return {f"{side}_root": root, f"{side}_features": feats}


def _cross_dataset(args):
    from ..pipeline import cross_dataset, write_result
    from ..report import sweep_markdown

    subjects = [int(s) for s in args.subjects.split(",")] if args.subjects else None
    result = cross_dataset(args.source, args.target, args.label, args.task, args.model, subjects=subjects,
                           train_cfg=_train_config(args), control=args.control,
                           feature_params=parse_params(args.feature_params, "--feature-params"),
                           checkpoint_dir=args.checkpoints, progress=not args.no_progress,
                           **_side_data(args, "source"), **_side_data(args, "target"))
    write_result(result, args.out, md=args.md)
    print(f"data: {result.metadata['source']}\nshared channels: {', '.join(result.metadata['ch_names'])}")
    for level in ("window", "trial"):
        print(f"\n{level} level\n" + sweep_markdown(result, level))
    print(f"wrote {args.out}.csv/.md/.json")
    return 0


def add_plot_sweep(sub):
    p = sub.add_parser("plot-sweep", help="learning curves and confusion matrix of a sweep", formatter_class=_FMT,
                       description="Learning curves of every fold model and the pooled test confusion matrix of a "
                       "sweep's JSON result (written by `neuroaffect sweep`). Example: neuroaffect plot-sweep "
                       "--sweep results/sweep.json --out sweep.png")
    p.add_argument("--sweep", required=True, type=Path, help="sweep JSON")
    p.add_argument("--out", required=True, type=Path, help="PNG to write")
    p.set_defaults(func=_plot_sweep)


def _plot_sweep(args):
    from ..labels import LABEL_DATASETS, class_names
    from ..viz import plot_sweep

    res = json.loads(Path(args.sweep).read_text())
    meta = res.get("metadata", {})
    title = " ".join(str(meta.get(k, "")) for k in ("dataset", "target", "task", "model", "protocol"))
    s = res.get("summary", {}).get("window", {})
    ref, lin = ("mean", "ridge") if res.get("task") == "regression" else ("majority", "logistic")
    metric = (res.get("metrics") or ["accuracy"])[-1 if res.get("task") == "regression" else 0]
    if res.get("model") in s and ref in s:
        scale, unit = (100, " %") if metric == "accuracy" else (1, "")

        def val(row):
            return f"{scale * s[row][f'{metric}_mean']:.{1 if unit else 3}f}{unit}"

        # every reference row beside the model, the linear one too (it may beat the model)
        title += (f"\nwindow-level {metric}: {res['model']} {val(res['model'])} against {ref} {val(ref)}"
                  + (f", {lin} {val(lin)}" if lin in s else ""))
    names = meta.get("class_names") or None  # a user's own classes (custom datasets)
    if names is None and meta.get("dataset") in LABEL_DATASETS and meta.get("task") and res.get("confusion") is not None:
        names = class_names(meta["dataset"], meta["task"])
    plot_sweep(res.get("histories", []), res.get("confusion"), args.out, title=title, class_names=names)
    print(f"wrote {args.out}")
    return 0


def add_tabulate(sub):
    p = sub.add_parser("tabulate", help="one table of all sweeps, with the simulator's oracle accuracy",
                       formatter_class=_FMT,
                       description="Collect sweep JSON results into one Markdown/CSV table (mean +- std over subjects "
                       "of model, majority, logistic and chance, with both leakage figures), with the oracle "
                       "accuracy of the simulator's planted effects where the data are simulated. Example: "
                       "neuroaffect tabulate --sweeps results/sweeps/*/*.json --out reports/results")
    p.add_argument("--sweeps", nargs="+", required=True, type=Path, help="sweep JSON files")
    p.add_argument("--sidecars", nargs="*", default=[], type=Path,
                   help="simulation.json files of simulated datasets (for the oracle row)")
    p.add_argument("--out", required=True, type=Path, help="output stem: writes OUT.md and OUT.csv")
    p.set_defaults(func=_tabulate)


def _tabulate(args):
    from ..report import tabulate

    print(tabulate(args.sweeps, args.out, args.sidecars))
    return 0
