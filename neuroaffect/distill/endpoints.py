"""Endpoints of the transfer experiment: what a face student is scored on beside its macro-F1.

Fixed in ``docs/distillation.md`` ("The transfer experiment") before any run:

(a) FERPlus test macro-F1 (the primary endpoint; :func:`neuroaffect.distill.fer_metrics`);
(b) :func:`va_readout_ccc`: concordance of a linear valence/arousal read-out of the student's
    embedding with the ground-truth V/A of a held-out face set;
(c) :func:`rsa_score`: representational similarity of the student's embedding and the planted G*;
(d) :func:`pair_accuracy`: accuracy on the class pair that G* separates (fear vs surprise);

and, added by the amendment after the first run (``docs/distillation.md``, "Amendment"), the primary one:

(e) :func:`gstar_readout_ccc`: concordance of a linear read-out of G* from the student's embedding with
    G* of the planted states of held-out faces.
"""

from __future__ import annotations

import numpy as np

from ..labels import FER_CLASSES
from ..training import ccc

__all__ = ["GSTAR_PAIR", "gstar_readout_ccc", "pair_accuracy", "readout_ccc", "rsa_score", "va_readout_ccc"]

#: The class pair G* separates at equal arousal: fear and surprise (``docs/simulator.md``).
GSTAR_PAIR = (FER_CLASSES.index("fear"), FER_CLASSES.index("surprise"))


def readout_ccc(train_embedding, train_y, test_embedding, test_y, *, alpha: float = 1.0) -> np.ndarray:
    """CCC of each column of a ridge read-out of ``y`` from embeddings, fitted on one part, scored on another.

    Parameters
    ----------
    train_embedding, test_embedding : array-like, shape (n, D)
        The student's embeddings of the read-out's training and test images.
    train_y, test_y : array-like, shape (n, k)
        Ground-truth targets of those images.
    alpha : float
        Ridge penalty (``sklearn.linear_model.Ridge``), fixed in advance.

    Returns
    -------
    ccc : ndarray, shape (k,)
        Lin's concordance of each column's prediction with its truth on the test part.
    """
    from sklearn.linear_model import Ridge

    Xtr, Xte = np.asarray(train_embedding, np.float64), np.asarray(test_embedding, np.float64)
    ytr, yte = np.asarray(train_y, np.float64), np.asarray(test_y, np.float64)
    if (Xtr.ndim != 2 or Xte.ndim != 2 or ytr.ndim != 2 or yte.ndim != 2 or len(ytr) != len(Xtr)
            or len(yte) != len(Xte) or ytr.shape[1] != yte.shape[1] or Xtr.shape[1] != Xte.shape[1]):
        raise ValueError(f"Invalid read-out inputs: expected embeddings (n, D) and targets (n, k) with matching n, "
                         f"D and k, but got {Xtr.shape}, {ytr.shape}, {Xte.shape}, {yte.shape}.")
    pred = Ridge(alpha=alpha).fit(Xtr, ytr).predict(Xte).reshape(len(Xte), -1)
    return np.array([ccc(pred[:, j], yte[:, j]) for j in range(yte.shape[1])])


def va_readout_ccc(train_embedding, train_va, test_embedding, test_va, *, alpha: float = 1.0) -> dict:
    """CCC of a ridge read-out of valence and arousal (:func:`readout_ccc`, targets of shape (n, 2),
    normalised units).

    Returns
    -------
    scores : dict
        ``ccc_valence``, ``ccc_arousal`` and their mean ``ccc``.
    """
    if np.shape(train_va)[-1:] != (2,) or np.shape(test_va)[-1:] != (2,):
        raise ValueError(f"Invalid read-out inputs: expected V/A of shape (n, 2), but got {np.shape(train_va)} and "
                         f"{np.shape(test_va)}.")
    cv, ca = readout_ccc(train_embedding, train_va, test_embedding, test_va, alpha=alpha)
    return {"ccc_valence": float(cv), "ccc_arousal": float(ca), "ccc": float(0.5 * (cv + ca))}


def gstar_readout_ccc(train_embedding, train_gstar, test_embedding, test_gstar, *, alpha: float = 1.0) -> float:
    """Mean over G*'s components of the CCC of a ridge read-out of G* from embeddings (:func:`readout_ccc`).

    Parameters
    ----------
    train_embedding, test_embedding : array-like, shape (n, D)
    train_gstar, test_gstar : array-like, shape (n, 4)
        G* of each image's planted state (:func:`neuroaffect.simulate.gstar.gstar`).
    alpha : float

    Returns
    -------
    ccc : float
    """
    return float(readout_ccc(train_embedding, train_gstar, test_embedding, test_gstar, alpha=alpha).mean())


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
