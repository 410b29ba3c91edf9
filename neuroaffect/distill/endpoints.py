"""Endpoints of the transfer experiment: what a face student is scored on beside its macro-F1.

Fixed in ``docs/distillation.md`` ("The transfer experiment") before any run:

(a) FERPlus test macro-F1 (the primary endpoint; :func:`neuroaffect.distill.fer_metrics`);
(b) :func:`va_readout_ccc`: concordance of a linear valence/arousal read-out of the student's
    embedding with the ground-truth V/A of a held-out face set;
(c) :func:`rsa_score`: representational similarity of the student's embedding and the planted G*;
(d) :func:`pair_accuracy`: accuracy on the class pair that G* separates (fear vs surprise).
"""

from __future__ import annotations

import numpy as np

from ..labels import FER_CLASSES
from ..training import ccc

__all__ = ["GSTAR_PAIR", "pair_accuracy", "rsa_score", "va_readout_ccc"]

#: The class pair G* separates at equal arousal: fear and surprise (``docs/simulator.md``).
GSTAR_PAIR = (FER_CLASSES.index("fear"), FER_CLASSES.index("surprise"))


def va_readout_ccc(train_embedding, train_va, test_embedding, test_va, *, alpha: float = 1.0) -> dict:
    """CCC of a ridge read-out of valence and arousal from embeddings, fitted on one part, scored on another.

    Parameters
    ----------
    train_embedding, test_embedding : array-like, shape (n, D)
        The student's embeddings of the read-out's training and test images.
    train_va, test_va : array-like, shape (n, 2)
        Ground-truth (valence, arousal) of those images, normalised units.
    alpha : float
        Ridge penalty (``sklearn.linear_model.Ridge``), fixed in advance.

    Returns
    -------
    scores : dict
        ``ccc_valence``, ``ccc_arousal`` and their mean ``ccc``.
    """
    from sklearn.linear_model import Ridge

    Xtr, Xte = np.asarray(train_embedding, np.float64), np.asarray(test_embedding, np.float64)
    ytr, yte = np.asarray(train_va, np.float64), np.asarray(test_va, np.float64)
    if Xtr.ndim != 2 or Xte.ndim != 2 or ytr.shape != (len(Xtr), 2) or yte.shape != (len(Xte), 2):
        raise ValueError(f"Invalid read-out inputs: expected embeddings (n, D) and V/A (n, 2), but got "
                         f"{Xtr.shape}, {ytr.shape}, {Xte.shape}, {yte.shape}.")
    pred = Ridge(alpha=alpha).fit(Xtr, ytr).predict(Xte)
    cv, ca = ccc(pred[:, 0], yte[:, 0]), ccc(pred[:, 1], yte[:, 1])
    return {"ccc_valence": cv, "ccc_arousal": ca, "ccc": 0.5 * (cv + ca)}


def rsa_score(embedding, gstar_values, *, max_items: int = 600, seed: int = 0) -> float:
    """Spearman correlation of the embedding's cosine distances with G*'s Euclidean distances, over image pairs.

    Parameters
    ----------
    embedding : array-like, shape (n, D)
    gstar_values : array-like, shape (n, k)
        G* of each image's planted state (:func:`neuroaffect.simulate.gstar.gstar`).
    max_items : int
        At most this many images (a fixed random subset, ``seed``) enter the ``m (m - 1) / 2`` pairs.
    seed : int

    Returns
    -------
    rho : float
    """
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    E, G = np.asarray(embedding, np.float64), np.asarray(gstar_values, np.float64)
    if E.ndim != 2 or G.ndim != 2 or len(E) != len(G) or len(E) < 3:
        raise ValueError(f"Invalid RSA inputs: expected (n, D) and (n, k) with n >= 3, but got {E.shape} and "
                         f"{G.shape}.")
    idx = np.arange(len(E))
    if len(E) > max_items:
        idx = np.sort(np.random.default_rng(seed).choice(len(E), max_items, replace=False))
    return float(spearmanr(pdist(E[idx], "cosine"), pdist(G[idx], "euclidean"))[0])


def pair_accuracy(logits, labels, pair=GSTAR_PAIR) -> float:
    """Accuracy on the images of the two classes of ``pair``, deciding between those two classes only.

    Parameters
    ----------
    logits : array-like, shape (n, C)
    labels : array-like of int, shape (n,)
    pair : (int, int)
        Class indices.

    Returns
    -------
    accuracy : float
        NaN when no image belongs to the pair.
    """
    z, y = np.asarray(logits), np.asarray(labels)
    if z.ndim != 2 or y.shape != (len(z),):
        raise ValueError(f"Invalid inputs: expected logits (n, C) and labels (n,), but got {z.shape} and {y.shape}.")
    a, b = pair
    keep = (y == a) | (y == b)
    if not keep.any():
        return float("nan")
    pred = np.where(z[keep, a] >= z[keep, b], a, b)
    return float((pred == y[keep]).mean())
