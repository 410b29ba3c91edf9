"""The student's predictions on a face set, its metrics, and the two reference rows.

Metrics (``docs/distillation.md``), all from scikit-learn, predictions always 8-way:

==========================  ===============================================================
``accuracy``                fraction of correct predictions
``macro_f1``                F1 averaged over the **8** classes (a class that is neither in
                            the targets nor predicted scores 0)
``balanced_accuracy``       recall averaged over the classes present in the targets
``present_macro_f1``        F1 averaged over the classes present in the targets only (the
                            cross-dataset figure: a class the set lacks does not enter)
``confusion``               8 x 8 counts, rows true class, columns predicted class
``per_class``               precision, recall, F1 and support of each of the 8 classes
                            (``precision_recall_fscore_support``, an undefined ratio is 0)
``ece``, ``nll``            from the class probabilities (:func:`calibration_metrics`):
                            expected calibration error of the top-class confidence over 15
                            equal-width bins, and the mean negative log-likelihood (nats)
``pred``                    the predicted class of every image, in order (for the bootstrap
                            over test images of :mod:`neuroaffect.distill.ablation`)
==========================  ===============================================================

Reference rows computed with the same metrics: the **majority class** of the training set, a
**pixel-logistic** model (scikit-learn ``LogisticRegression`` on standardised, downsampled grey
pixels, fitted on the FERPlus training split), and, when a training budget is given, the
**small CNN** (:data:`SMALL_CNN_ARCH`: a plain 3-block CNN, ``docs/distillation.md``) trained by
:func:`train_small_cnn` with the students' data, input size, epochs and optimiser and the B0
objective (the cross-entropy term alone), its epoch selected on FERPlus validation like theirs: the
reference a student must beat to show that its recipe, not only its loss, learns.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .._utils import check_int, check_positive_int
from ..io.faces import FaceSet
from ..labels import FER_CLASSES
from ..training import TrainConfig, classification_metrics, predict, resolve_device
from .data import make_loader
from .student import DEFAULT_IN_SIZE, StudentOutputs

__all__ = ["ECE_BINS", "SMALL_CNN", "SMALL_CNN_ARCH", "baseline_rows", "calibration_metrics", "evaluate_student",
           "fer_metrics", "fit_pixel_logistic", "majority_metrics", "pixel_features", "predict_outputs",
           "small_cnn_budget", "train_small_cnn"]

_C = len(FER_CLASSES)
#: The small-CNN reference: its :class:`~neuroaffect.distill.FERStudent` backbone and its rows' method name.
SMALL_CNN_ARCH = "cnn3"
SMALL_CNN = "small-cnn"
#: Equal-width confidence bins of the expected calibration error (Guo et al., 2017, used 15).
ECE_BINS = 15
#: A prediction counts as over-confident above this top-class probability (``overconfident``).
OVERCONFIDENT = 0.99


def fer_metrics(y_true, y_pred) -> dict:
    """8-way metrics of class predictions (see the module docstring).

    :func:`neuroaffect.training.classification_metrics` with ``n_classes=8`` and ``present=True``.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        Class indices in FER_CLASSES order.

    Returns
    -------
    metrics : dict
        ``accuracy``, ``macro_f1``, ``balanced_accuracy``, ``present_macro_f1`` (floats in [0, 1]),
        ``confusion`` (list of 8 lists of int), ``present_classes`` (list of int), ``n`` (int),
        ``per_class`` (``{"precision", "recall", "f1": lists of 8 floats in [0, 1], "support": list of
        8 int}``, scikit-learn's ``precision_recall_fscore_support`` with ``zero_division=0``).
    """
    from sklearn.metrics import precision_recall_fscore_support

    m = classification_metrics(y_true, y_pred, n_classes=_C, present=True)
    prec, rec, f1, sup = precision_recall_fscore_support(np.asarray(y_true), np.asarray(y_pred), labels=np.arange(_C),
                                                         zero_division=0)
    m["per_class"] = {"precision": prec.tolist(), "recall": rec.tolist(), "f1": f1.tolist(),
                      "support": sup.astype(int).tolist()}
    return m


def calibration_metrics(y_true, proba, *, n_bins: int = ECE_BINS) -> dict:
    """Calibration of class probabilities: expected calibration error, NLL, and the reliability bins.

    With ``conf_i = max_k proba_ik`` and ``correct_i`` whether its arg-max is ``y_i``, the
    confidences fall into ``n_bins`` equal-width bins ``((m - 1) / M, m / M]`` (a confidence of 0 in
    the first) and ``ECE = sum_m (n_m / n) |acc_m - conf_m|``, ``acc_m`` and ``conf_m`` the mean
    correctness and confidence of bin ``m`` (Guo et al., 2017, "On calibration of modern neural
    networks", with M = 15). NLL is scikit-learn's ``log_loss`` (natural log, probabilities clipped
    away from 0) over the columns' classes.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        Class indices, ``0 .. K - 1``.
    proba : array-like of float, shape (n, K)
        Class probabilities (rows are renormalised to sum to 1).
    n_bins : int

    Returns
    -------
    calibration : dict
        ``ece``, ``nll`` (nats per image), ``overconfident`` (fraction of top-class probabilities
        above :data:`OVERCONFIDENT`), ``mean_confidence``, and ``reliability``: ``{"edges": n_bins + 1
        floats, "count": n_bins int, "confidence_sum": n_bins floats, "correct": n_bins int}``
        (sums, so that runs pool by adding).
    """
    from sklearn.metrics import log_loss

    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or y.shape != (p.shape[0],) or p.shape[0] == 0 or y.dtype.kind not in "iu" \
            or y.min() < 0 or y.max() >= p.shape[1] or not np.isfinite(p).all() or (p < 0).any():
        raise ValueError(f"Invalid values of 'y_true' and 'proba': expected n class indices below K and an (n, K) "
                         f"array of finite probabilities, but got {y.dtype} of shape {y.shape} and shape {p.shape}.")
    n_bins = check_positive_int("n_bins", n_bins)
    p = p / p.sum(1, keepdims=True)
    conf, correct = p.max(1), p.argmax(1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    hits = np.bincount(idx, weights=correct.astype(np.float64), minlength=n_bins)
    ece = float(np.abs(hits - conf_sum).sum() / len(y))
    return {"ece": ece, "nll": float(log_loss(y, p, labels=np.arange(p.shape[1]))),
            "overconfident": float(np.mean(conf > OVERCONFIDENT)), "mean_confidence": float(conf.mean()),
            "reliability": {"edges": edges.tolist(), "count": count.tolist(), "confidence_sum": conf_sum.tolist(),
                            "correct": hits.astype(int).tolist()}}


def predict_outputs(model, data, *, batch_size: int = 512, device: str = "auto", amp: bool = True,
                    num_workers: int = 0) -> dict:
    """The student's outputs on every image of a face set, in order.

    Runs :func:`neuroaffect.training.predict` (eval mode, no gradients, bfloat16 autocast on CUDA
    with ``amp``) on :class:`~neuroaffect.distill.student.StudentOutputs` (logits and embedding
    of one pass).

    Parameters
    ----------
    model : FERStudent
    data : FaceSet | torch.utils.data.DataLoader
        A face set (read with the evaluation transform at ``model.in_size``) or a loader of
        ``(x, ...)`` batches in order.
    batch_size, num_workers : int
        Of the loader built for a face set.
    device : str | torch.device
        ``"auto"``, ``"cpu"``, ``"cuda"`` ...; the model is moved there.
    amp : bool

    Returns
    -------
    outputs : dict
        ``logits`` (n, 8), ``embedding`` (n, D), ``proba`` (n, 8) (softmax of the logits), all
        float32 ndarrays.
    """
    if isinstance(data, FaceSet):
        data = make_loader(data, False, check_positive_int("batch_size", batch_size), num_workers=num_workers,
                           in_size=model.in_size)
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    out = predict(StudentOutputs(model), data, device=dev, batch_size=batch_size, amp=amp)[0]
    logits, emb = out["logits"], out["embedding"]
    z = logits - logits.max(1, keepdims=True)
    proba = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return {"logits": np.ascontiguousarray(logits), "embedding": np.ascontiguousarray(emb),
            "proba": proba.astype(np.float32)}


def _scored(y_true, pred, proba) -> dict:
    """:func:`fer_metrics` of ``pred``, :func:`calibration_metrics` of ``proba`` (when given), ``pred``."""
    m = fer_metrics(y_true, pred)
    if proba is not None:
        m.update(calibration_metrics(y_true, proba))
    m["pred"] = np.asarray(pred).astype(int).tolist()
    return m


def evaluate_student(model, faceset: FaceSet, *, batch_size: int = 512, device: str = "auto", amp: bool = True,
                     loader=None) -> dict:
    """:func:`fer_metrics` of the student's argmax predictions on a face set, with
    :func:`calibration_metrics` of its softmax probabilities and the predictions (``pred``).

    ``loader``: the face set's evaluation loader at ``model.in_size`` (``make_loader(faceset, False, ...)``),
    built once when several students are evaluated on the same set; ``None`` builds one here.
    """
    out = predict_outputs(model, faceset if loader is None else loader, batch_size=batch_size, device=device,
                          amp=amp)
    return _scored(faceset.labels, out["logits"].argmax(1), out["proba"])


def majority_metrics(train_labels, faceset: FaceSet) -> dict:
    """:func:`fer_metrics` of always predicting the most frequent training class (ties: lowest index), and
    ``pred`` (no calibration: it gives no probabilities)."""
    k = int(np.argmax(np.bincount(np.asarray(train_labels), minlength=_C)))
    return _scored(faceset.labels, np.full(len(faceset), k, dtype=np.int64), None)


def pixel_features(faceset: FaceSet, size: int = 24, *, batch_size: int = 1024) -> np.ndarray:
    """Grey pixels of every image at ``size x size`` (evaluation transform), flattened: (n, size**2) float32."""
    loader = make_loader(faceset, False, batch_size, in_size=check_positive_int("size", size))
    return torch.cat([x.reshape(x.shape[0], -1) for x, _, _ in loader]).numpy()


def fit_pixel_logistic(train_set: FaceSet, *, size: int = 24, C: float = 1.0, max_iter: int = 300):
    """Fit the pixel-logistic reference on a (FERPlus training) face set.

    ``StandardScaler`` then multinomial ``LogisticRegression(C=C, max_iter=max_iter)`` (lbfgs) on
    :func:`pixel_features` at ``size``. Returns the fitted scikit-learn pipeline, with attributes
    ``pixel_size_`` and ``converged_`` (False when lbfgs stopped at ``max_iter``) added.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = pixel_features(train_set, size)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=float(C), max_iter=int(max_iter)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(X, train_set.labels)
    clf.pixel_size_ = int(size)
    clf.converged_ = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return clf


def _proba_8way(clf, X) -> np.ndarray:
    """Class probabilities of a fitted classifier in the 8 FER columns (classes it never saw: 0), (n, 8)."""
    proba = np.zeros((len(X), _C))
    proba[:, np.asarray(clf.classes_, dtype=np.int64)] = clf.predict_proba(X)
    return proba


def train_small_cnn(train_set: FaceSet, val_set: FaceSet, cfg: TrainConfig, *, in_size: int = DEFAULT_IN_SIZE,
                    seed: int = 0, checkpoint=None, augment: bool = True):
    """Train the small-CNN reference with a student's budget, selected on FERPlus validation.

    :func:`~neuroaffect.distill.train_student` with ``arch=`` :data:`SMALL_CNN_ARCH` and arm ``"B0"``
    (the cross-entropy term alone: class weights and label smoothing as the students'), so the data,
    loader and augmentation, optimiser, schedule, epochs and selection are the students' own and
    only the backbone differs.

    Parameters
    ----------
    train_set, val_set : FaceSet
        FERPlus training and validation splits.
    cfg : TrainConfig
        The students' training configuration (``patience`` None).
    in_size : int
        The students' input side, pixels.
    seed : int
        Initialisation, shuffling and augmentation seed.
    checkpoint : path-like | None
        The engine's checkpoint (exact resume).
    augment : bool
        Augment the training batches, as the students did (their record's ``augment``).

    Returns
    -------
    result : StudentResult
        ``model`` the selected epoch's small CNN (eval mode), ``val_macro_f1``, ``selected_epoch``,
        ``fit.seconds``.
    """
    from .train import train_student  # train imports this module (the selection metric)

    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"Invalid value for the 'cfg' parameter: expected a TrainConfig, but got {type(cfg).__name__} "
                        "instead.")
    return train_student(train_set, val_set, None, "B0", cfg, arch=SMALL_CNN_ARCH,
                         in_size=check_positive_int("in_size", in_size), seed=check_int("seed", seed, minimum=0),
                         checkpoint=checkpoint, augment=augment)


def small_cnn_budget(records, *, device: str | None = None) -> dict:
    """The small CNN's training budget from the records of trained students: :func:`baseline_rows` arguments.

    Parameters
    ----------
    records : list of dict
        :func:`neuroaffect.pipeline.train_arm` records (``record["record"]["train"]``: the training
        configuration as run; ``record["record"]["student"]["in_size"]``). The first B0 record's
        budget is taken (else the first record's), with the smallest seed of the records.
    device : str | None
        Replaces the recorded device (the evaluation's); ``None`` keeps it.

    Returns
    -------
    budget : dict
        ``{"small_cnn": TrainConfig, "in_size": int, "seed": int, "augment": bool}`` (``augment``: the
        record's, ``True`` for a record written before students could train without); ``{}`` when no record holds
        its training configuration (then no small-CNN row is trained).
    """
    recs = [r for r in records if isinstance(r.get("record"), dict) and "train" in r["record"]]
    if not recs:
        return {}
    rec = next((r for r in recs if r.get("arm") == "B0"), recs[0])
    try:
        cfg = TrainConfig.from_dict(rec["record"]["train"])
        in_size = int(rec["record"]["student"]["in_size"])
        augment = rec["record"].get("augment", True)
        if not isinstance(augment, bool):
            raise TypeError(f"'augment' is {augment!r}, expected true or false")
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"Invalid value for the 'records' parameter: the {rec.get('arm')!r} record's training "
                         f"configuration and student input size could not be read ({type(err).__name__}: {err}).") \
            from None
    if device is not None:
        cfg = cfg.replace(device=device)
    return {"small_cnn": cfg, "in_size": in_size, "seed": min(int(r.get("seed", 0)) for r in recs),
            "augment": augment}


def baseline_rows(train_set: FaceSet, eval_sets: dict, *, size: int = 24, C: float = 1.0, max_iter: int = 300,
                  model=None, device: str = "auto", small_cnn: TrainConfig | None = None,
                  val_set: FaceSet | None = None, in_size: int = DEFAULT_IN_SIZE, seed: int = 0,
                  augment: bool = True) -> list:
    """Rows of metrics for the reference methods (and the student) on each evaluation set.

    Parameters
    ----------
    train_set : FaceSet
        The FERPlus training split (the majority class and the pixel-logistic fit come from it).
    eval_sets : dict of str -> FaceSet
        Named evaluation sets (FERPlus validation and test, cross-dataset sets).
    size, C, max_iter
        Of :func:`fit_pixel_logistic`.
    model : FERStudent | None
        When given, a ``"student"`` row per set too.
    device : str
        For the student's and the small CNN's predictions.
    small_cnn : TrainConfig | None
        The students' training budget: when given, the small CNN is trained with it
        (:func:`train_small_cnn`, selected on ``val_set``; :func:`small_cnn_budget` reads it from the
        students' records) and gets a row per set too.
    val_set : FaceSet | None
        FERPlus validation split (required with ``small_cnn``).
    in_size, seed : int
        The small CNN's input side (the students') and seed.
    augment : bool
        Whether the small CNN's training batches are augmented (the students').

    Returns
    -------
    rows : list of dict
        ``{"method": "majority" | "pixel-logistic" | "small-cnn" | "student", "set": name, **fer_metrics,
        "pred": predictions}``; the rows with class probabilities (all but majority) also carry
        :func:`calibration_metrics`; pixel-logistic rows also carry ``converged``; small-CNN rows ``val``
        (its FERPlus validation metrics), ``selected_epoch``, ``epochs``, ``seconds`` (training) and
        ``augment``.
    """
    cnn = None
    if small_cnn is not None:
        if not isinstance(val_set, FaceSet):
            raise ValueError(f"Invalid value for the 'val_set' parameter: the small CNN is selected on FERPlus "
                             f"validation and needs its FaceSet, but got {type(val_set).__name__} instead.")
        res = train_small_cnn(train_set, val_set, small_cnn, in_size=in_size, seed=seed, augment=augment)
        cnn = {"model": res.model, "val": evaluate_student(res.model, val_set, device=device),
               "selected_epoch": res.selected_epoch, "epochs": small_cnn.epochs, "seconds": float(res.fit.seconds),
               "augment": res.record["augment"]}  # as trained (the record), not as asked
    clf = fit_pixel_logistic(train_set, size=size, C=C, max_iter=max_iter)
    rows = []
    for name, fs in eval_sets.items():
        rows.append({"method": "majority", "set": name, **majority_metrics(train_set.labels, fs)})
        proba = _proba_8way(clf, pixel_features(fs, size))
        rows.append({"method": "pixel-logistic", "set": name, **_scored(fs.labels, proba.argmax(1), proba),
                     "converged": clf.converged_})
        if cnn is not None:
            rows.append({"method": SMALL_CNN, "set": name, **evaluate_student(cnn["model"], fs, device=device),
                         **{k: v for k, v in cnn.items() if k != "model"}})
        if model is not None:
            rows.append({"method": "student", "set": name, **evaluate_student(model, fs, device=device)})
    return rows
