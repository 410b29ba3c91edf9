"""Prototype-grid commands: train-teacher, export-prototypes."""

from __future__ import annotations

import argparse
from pathlib import Path

from .data import parse_params

_FMT = argparse.ArgumentDefaultsHelpFormatter


def _add_data(p, support: bool):
    p.add_argument("--dataset", default="dreamer", choices=["dreamer", "deap", "mahnob"],
                   help="the labelled dataset the teacher learns valence/arousal from")
    p.add_argument("--root", type=Path, default=None, help="its root (features computed in memory)")
    p.add_argument("--features", type=Path, default=None, help="or its feature files (a folder of <subject>.nc)")
    p.add_argument("--feature-params", default="{}", help="JSON FeatureParams used with --root")
    if support:
        p.add_argument("--support-root", type=Path, default=None,
                       help="root of the unlabelled support dataset (MAHNOB-HCI), optional")
        p.add_argument("--support-features", type=Path, default=None, help="or its feature files")
        p.add_argument("--support-params", default='{"window": 256, "stride": 256}',
                       help="JSON FeatureParams of the support features computed from --support-root "
                       "(MAHNOB-HCI: 1-s windows at 256 Hz)")
    p.add_argument("--config", default="{}",
                   help="JSON of PrototypeConfig fields: grid_size, ablation_sizes, holdout, cv_folds, mc_samples, "
                   "gate_quantile, n_permutations, seed, model_kwargs (the defaults otherwise)")


def add_train_teacher(sub):
    from ..training import TrainConfig

    d = TrainConfig()
    p = sub.add_parser(
        "train-teacher", help="cross-validate the topomap teacher; train the final teacher and its control",
        formatter_class=_FMT,
        description="Cross-validate the topomap teacher (valence/arousal regression, k-fold over trials: RMSE, "
        "Pearson r and CCC from each subject's pooled out-of-fold predictions, beside ridge, the mean predictor "
        "and, without --cv-only, a shuffled-label teacher on the same folds), then train the one final teacher on "
        "part of the trials (scored on the rest beside the mean predictor and ridge) and its shuffled-label "
        "control. Writes OUT/teacher.pt, OUT/control.pt and OUT/teacher.json. "
        "Example: neuroaffect train-teacher --root data/sim/dreamer/dreamer --out results/prototypes/teacher",
    )
    _add_data(p, support=False)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="maps per step")
    p.add_argument("--lr", type=float, default=d.lr, help="AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay")
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:N")
    p.add_argument("--cv-only", action="store_true", help="only the cross-validated error (a second source)")
    p.add_argument("--no-progress", action="store_true", help="no per-epoch progress on stderr")
    p.set_defaults(func=_train_teacher)


def _train_teacher(args):
    from ..pipeline import train_teacher
    from ..training import TrainConfig

    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                      device=args.device)
    summary = train_teacher(args.out, args.dataset, root=args.root, features=args.features,
                            feature_params=parse_params(args.feature_params, "--feature-params"),
                            config=parse_params(args.config, "--config"), train_cfg=cfg,
                            progress=not args.no_progress, final=not args.cv_only)
    if "cv_markdown" in summary:
        print(summary["cv_markdown"])
    print(f"wrote {args.out}/teacher.json" + ("" if args.cv_only else ", teacher.pt, control.pt"))
    return 0


def add_export_prototypes(sub):
    p = sub.add_parser(
        "export-prototypes", help="build the valence/arousal prototype grid and export it for vision students",
        formatter_class=_FMT,
        description="Fill the grid's bins with the final teacher's embeddings of trials it never trained on (and "
        "confidence-gated unlabelled support windows), measure its ordering against the shuffled-label control, "
        "and write OUT/grid.safetensors, OUT/grid.npz and OUT/card.json (read them with "
        "neuroaffect.prototypes.load_grid). Without --teacher, the teacher is trained first into OUT/teacher. "
        "Example: neuroaffect export-prototypes --root data/sim/dreamer/dreamer --support-root "
        "data/sim/mahnob/mahnob --out grid",
    )
    _add_data(p, support=True)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--teacher", type=Path, default=None,
                   help="folder of a trained teacher (teacher.pt, teacher.json; train-teacher writes it)")
    p.add_argument("--report", type=Path, default=None, help="folder for the grid's figures and summary.md")
    p.add_argument("--deap-cv", type=Path, default=None, help="teacher.json of a second source's CV, for the report")
    p.add_argument("--labelled-out", type=Path, default=None,
                   help="also export the same teacher's labelled-only grid (no support windows) to this folder")
    p.set_defaults(func=_export_prototypes)


def _export_prototypes(args):
    from ..pipeline import export_prototypes, train_teacher
    from ..prototypes import load_grid

    config = parse_params(args.config, "--config")
    teacher = args.teacher
    if teacher is None:
        teacher = args.out / "teacher"
        train_teacher(teacher, args.dataset, root=args.root, features=args.features,
                      feature_params=parse_params(args.feature_params, "--feature-params"), config=config)
    res = export_prototypes(args.out, teacher, args.dataset, root=args.root, features=args.features,
                            support_root=args.support_root, support_features=args.support_features,
                            feature_params=parse_params(args.feature_params, "--feature-params"),
                            support_params=parse_params(args.support_params, "--support-params"),
                            config=config, report=args.report, deap_cv=args.deap_cv, labelled_out=args.labelled_out)
    grid = load_grid(args.out)  # read back: the export is checked before the command succeeds
    if args.labelled_out is not None:
        load_grid(args.labelled_out)
    o = res.ordering
    print(f"{grid.n} x {grid.n} grid, D = {grid.dim}, prototypes sha256 {grid.sha256[:12]}; occupied bins "
          f"{int((~grid.filled).sum())}; ordering rho {o['grid']['rho']:.3f} (p {o['grid']['p_value']:.4f}); "
          f"labelled only {o['labelled_only']['rho']:.3f} (p {o['labelled_only']['p_value']:.4f})"
          + (f"; shuffled-label control {o['control']['rho']:.3f} (p {o['control']['p_value']:.4f})"
             if "control" in o else ""))
    print(f"wrote {args.out}/grid.safetensors, grid.npz, card.json" + (f"; report in {args.report}" if args.report
                                                                      else "")
          + (f"; the labelled-only grid in {args.labelled_out}" if args.labelled_out else ""))
    return 0
