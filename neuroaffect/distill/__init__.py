"""Distilling the frozen EEG prototype grid into an image-only face-expression student.

Design: ``docs/distillation.md``.

- :class:`FERStudent` (``student``): ResNet-8 (:class:`ResNet8`, the CPU demo's), the small CNN
  (:class:`SmallCNN`; both in ``backbones``) or torchvision ResNet-18/50, from scratch, grey input; its
  forward gives the 8 logits, ``forward_outputs`` the logits and a unit-norm embedding compared
  with the prototypes (:class:`StudentOutputs`: the module of that dict, trained and predicted).
- Losses (``losses``): :func:`weighted_cross_entropy`, :func:`kd_loss`, :class:`ProtoKD`,
  :func:`dgeo_loss` with its :func:`cosine_ramp`, and their sum per ablation arm,
  :class:`DistillLoss` (B0 CE, B1 + KD, B2 + Proto-KD, B3 + D-Geo).
- Data (``data``): :class:`FaceDataset` and :func:`make_loader` over a
  :class:`~neuroaffect.io.faces.FaceSet`, with the training augmentation.
- Training (``train``): :func:`train_student`, a thin adapter of
  :func:`neuroaffect.training.fit`, which selects the epoch of best FERPlus-validation macro-F1
  (:class:`ValMacroF1`);
  :func:`shuffled_grid` for the control arm.
- Evaluation (``evaluate``): :func:`evaluate_student`, :func:`fer_metrics` (incl. present-only
  macro-F1), the majority, pixel-logistic and small-CNN rows (:func:`baseline_rows`,
  :func:`train_small_cnn`).
- Deployment (``export``, ``predict``): :func:`save_student` / :func:`load_student`,
  :func:`export_onnx` / :func:`check_onnx`, :func:`predict_faces` with its face detector
  (``detect``: :func:`detect_faces`, :func:`align_face`) and :func:`load_predictor`.

Every name loads its module on first use, so that ``import neuroaffect.distill`` costs nothing and
``predict-faces`` runs without importing torch when the export has its ONNX file.
"""

import importlib

#: Name -> the module defining it, imported on first use: ``predict-faces`` loads the detector and, with
#: an ONNX export, the student without torch.
_LAZY = {
    **dict.fromkeys(["FaceDataset", "eval_transform", "make_loader", "soft_targets", "train_transform"], "data"),
    **dict.fromkeys(["baseline_rows", "evaluate_student", "fer_metrics", "fit_pixel_logistic", "majority_metrics",
                     "pixel_features", "predict_outputs", "small_cnn_budget", "train_small_cnn"], "evaluate"),
    **dict.fromkeys(["EXPORT_FORMAT", "check_onnx", "export_onnx", "load_student", "save_student"], "export"),
    **dict.fromkeys(["ARMS", "DEFAULT_WEIGHTS", "HIGH_VALENCE", "DistillLoss", "ProtoKD", "class_weights",
                     "cosine_ramp", "dgeo_loss", "kd_loss", "weighted_cross_entropy"], "losses"),
    **dict.fromkeys(["FacePrediction", "as_images", "load_predictor", "predict_faces"], "predict"),
    **dict.fromkeys(["Face", "align_face", "detect_faces"], "detect"),
    **dict.fromkeys(["GSTAR_PAIR", "gstar_readout_ccc", "pair_accuracy", "readout_ccc", "rsa_score",
                     "va_readout_ccc"], "endpoints"),
    **dict.fromkeys(["ARCHS", "FERStudent", "StudentOutputs", "build_student"], "student"),
    **dict.fromkeys(["ImageStandardize", "ResNet8", "SmallCNN"], "backbones"),
    **dict.fromkeys(["PAPER_CONFIG", "StudentResult", "ValMacroF1", "faceset_fingerprint", "shuffled_grid",
                     "train_student"], "train"),
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
