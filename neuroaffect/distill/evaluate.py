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
==========================  ===============================================================

Reference rows computed with the same metrics: the **majority class** of the training set, and a
**pixel-logistic** model (scikit-learn ``LogisticRegression`` on standardised, downsampled grey
pixels, fitted on the FERPlus training split).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .._utils import check_positive_int
from ..io.faces import FaceSet
from ..labels import FER_CLASSES
from ..training import classification_metrics, predict, resolve_device
from .data import make_loader
from .student import StudentOutputs

__all__ = ["baseline_rows", "evaluate_student", "fer_metrics", "fit_pixel_logistic", "majority_metrics",
           "pixel_features", "predict_outputs"]

_C = len(FER_CLASSES)


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
        ``confusion`` (list of 8 lists of int), ``present_classes`` (list of int), ``n`` (int).
    """
    return classification_metrics(y_true, y_pred, n_classes=_C, present=True)


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


def evaluate_student(model, faceset: FaceSet, *, batch_size: int = 512, device: str = "auto", amp: bool = True) -> dict:
    """:func:`fer_metrics` of the student's argmax predictions on a face set."""
    out = predict_outputs(model, faceset, batch_size=batch_size, device=device, amp=amp)
    return fer_metrics(faceset.labels, out["logits"].argmax(1))


def majority_metrics(train_labels, faceset: FaceSet) -> dict:
    """:func:`fer_metrics` of always predicting the most frequent training class (ties: lowest index)."""
    k = int(np.argmax(np.bincount(np.asarray(train_labels), minlength=_C)))
    return fer_metrics(faceset.labels, np.full(len(faceset), k, dtype=np.int64))


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


def _predict_8way(clf, X) -> np.ndarray:
    """Class predictions of a fitted classifier, mapped back to FER class indices."""
    return np.asarray(clf.classes_)[clf.predict_proba(X).argmax(1)].astype(np.int64)


def baseline_rows(train_set: FaceSet, eval_sets: dict, *, size: int = 24, C: float = 1.0, max_iter: int = 300,
                  model=None, device: str = "auto") -> list:
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
        For the student's predictions.

    Returns
    -------
    rows : list of dict
        ``{"method": "majority" | "pixel-logistic" | "student", "set": name, **fer_metrics}``;
        pixel-logistic rows also carry ``converged``.
    """
    clf = fit_pixel_logistic(train_set, size=size, C=C, max_iter=max_iter)
    rows = []
    for name, fs in eval_sets.items():
        rows.append({"method": "majority", "set": name, **majority_metrics(train_set.labels, fs)})
        pred = _predict_8way(clf, pixel_features(fs, size))
        rows.append({"method": "pixel-logistic", "set": name, **fer_metrics(fs.labels, pred),
                     "converged": clf.converged_})
        if model is not None:
            rows.append({"method": "student", "set": name, **evaluate_student(model, fs, device=device)})
    return rows
