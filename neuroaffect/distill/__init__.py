"""Distilling the frozen EEG prototype grid into an image-only face-expression student.

Design: ``docs/distillation.md``.

- :class:`FERStudent` (``student``): torchvision ResNet-18/50 from scratch, grey input, 8 logits
  and a unit-norm embedding compared with the prototypes.
- Losses (``losses``): :func:`weighted_cross_entropy`, :func:`kd_loss`, :class:`ProtoKD`,
  :func:`dgeo_loss` with its :func:`cosine_ramp`, and their sum per ablation arm,
  :class:`DistillLoss` (B0 CE, B1 + KD, B2 + Proto-KD, B3 + D-Geo).
- Data (``data``): :class:`FaceDataset` and :func:`make_loader` over a
  :class:`~neuroaffect.io.faces.FaceSet`, with the training augmentation.
- Training (``train``): :func:`train_student`, a thin adapter of
  :func:`neuroaffect.training.fit` selecting the epoch of best FERPlus-validation macro-F1;
  :func:`shuffled_grid` for the control arm.
- Evaluation (``evaluate``): :func:`evaluate_student`, :func:`fer_metrics` (incl. present-only
  macro-F1), the majority and pixel-logistic rows (:func:`baseline_rows`).
- Deployment (``export``, ``predict``): :func:`export_student` / :func:`load_student`,
  :func:`export_onnx` / :func:`check_onnx`, :func:`predict_faces`.
"""

from .data import FaceDataset, eval_transform, make_loader, soft_targets, train_transform
from .evaluate import (
    baseline_rows, evaluate_student, fer_metrics, fit_pixel_logistic, majority_metrics, pixel_features, predict_outputs,
)
from .export import EXPORT_FORMAT, check_onnx, export_onnx, export_student, load_student
from .losses import (
    ARMS, DEFAULT_WEIGHTS, HIGH_VALENCE, DistillLoss, ProtoKD, class_weights, cosine_ramp, dgeo_loss, kd_loss,
    weighted_cross_entropy,
)
from .predict import FacePrediction, as_images, predict_faces
from .student import ARCHS, FERStudent, build_student
from .train import (
    PAPER_CONFIG, BestMacroF1, EpochSource, StudentResult, faceset_fingerprint, shuffled_grid, train_student,
)

__all__ = [
    "ARCHS",
    "ARMS",
    "DEFAULT_WEIGHTS",
    "EXPORT_FORMAT",
    "HIGH_VALENCE",
    "PAPER_CONFIG",
    "BestMacroF1",
    "DistillLoss",
    "EpochSource",
    "FERStudent",
    "FaceDataset",
    "FacePrediction",
    "ProtoKD",
    "StudentResult",
    "as_images",
    "baseline_rows",
    "build_student",
    "check_onnx",
    "class_weights",
    "cosine_ramp",
    "dgeo_loss",
    "eval_transform",
    "evaluate_student",
    "export_onnx",
    "export_student",
    "faceset_fingerprint",
    "fer_metrics",
    "fit_pixel_logistic",
    "kd_loss",
    "load_student",
    "majority_metrics",
    "make_loader",
    "pixel_features",
    "predict_faces",
    "predict_outputs",
    "shuffled_grid",
    "soft_targets",
    "train_student",
    "train_transform",
    "weighted_cross_entropy",
]
