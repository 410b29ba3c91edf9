"""Electrode graphs for the graph models: initial adjacencies from positions, and dense graph maths.

Positions are always passed in (``ch_pos``, shape ``(n_chans, 3)``, MNE head
coordinates with +x towards the right ear); nothing here reads files. The dense
operators at the bottom are written with plain tensor algebra (no scatter or
index ops on data), so they run under ``torch.vmap``; each one states the
torch-geometric operator it equals, and the tests check the equality.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.distance import cdist

from ._base import _check_positive_int

__all__ = [
    "dense_to_edge_index",
    "find_homologous_pairs",
    "gaussian_knn_adjacency",
    "inverse_square_adjacency",
    "sym_norm_dense",
]


def _distances(ch_pos: np.ndarray) -> np.ndarray:
    return cdist(ch_pos, ch_pos)


def gaussian_knn_adjacency(ch_pos: np.ndarray, k: int = 5, sigma: float | None = None) -> np.ndarray:
    r"""Gaussian-kernel adjacency over each electrode's ``k`` nearest neighbours.

    .. math::
        A_{ij} = \exp\!\left(-\frac{d_{ij}^2}{2\sigma^2}\right)
        \quad \text{if } j \in \mathcal{N}_k(i) \text{ or } i \in \mathcal{N}_k(j),
        \qquad A_{ij} = 0 \text{ otherwise (and on the diagonal)},

    so the graph is symmetric. By default :math:`\sigma` is the mean distance
    from an electrode to its ``k`` nearest neighbours, which makes the kernel
    independent of the positions' unit.

    Parameters
    ----------
    ch_pos : ndarray, shape (n_chans, 3)
        Electrode positions (any unit).
    k : int
        Number of nearest neighbours, ``1 <= k <= n_chans - 1``.
    sigma : float | None
        Kernel width in the unit of ``ch_pos``; ``None`` for the default above.

    Returns
    -------
    adj : ndarray, shape (n_chans, n_chans)
        Symmetric, non-negative, zero diagonal, values in [0, 1].
    """
    ch_pos = np.asarray(ch_pos, dtype=np.float64)
    n = ch_pos.shape[0]
    k = _check_positive_int("k", k)
    if k > n - 1:
        raise ValueError(
            f"Invalid value for the 'k' parameter: expected at most n_chans - 1 = {n - 1} "
            f"nearest neighbours, but got {k} instead."
        )
    d = _distances(ch_pos)
    np.fill_diagonal(d, np.inf)
    nn_idx = np.argsort(d, axis=1, kind="stable")[:, :k]  # (n, k)
    mask = np.zeros((n, n), dtype=bool)
    mask[np.arange(n)[:, None], nn_idx] = True
    mask |= mask.T
    if sigma is None:
        sigma = float(np.take_along_axis(d, nn_idx, axis=1).mean())
    if not np.isfinite(sigma) or sigma <= 0:
        # all positions coincide: every neighbour gets full weight
        return mask.astype(np.float64)
    adj = np.where(mask, np.exp(-(np.where(mask, d, 0.0) ** 2) / (2.0 * sigma ** 2)), 0.0)
    return adj


def find_homologous_pairs(ch_pos: np.ndarray, tol: float | None = None) -> np.ndarray:
    """Left/right homologous electrode pairs, found by mirroring the x coordinate.

    An electrode ``i`` left of the midline (``x < 0``) pairs with the right-hand
    electrode ``j`` nearest to its mirror image ``(-x, y, z)`` when the two are
    each other's nearest mirror match and lie within ``tol`` of it. Electrodes
    within ``tol / 2`` of the midline plane have no partner.

    Parameters
    ----------
    ch_pos : ndarray, shape (n_chans, 3)
        Positions with x across the head (left negative).
    tol : float | None
        Largest mirror mismatch accepted, in the unit of ``ch_pos``. ``None``:
        half the median distance from an electrode to its nearest neighbour.

    Returns
    -------
    pairs : ndarray of int, shape (n_pairs, 2)
        ``(left, right)`` index pairs, sorted by the left index.
    """
    ch_pos = np.asarray(ch_pos, dtype=np.float64)
    n = ch_pos.shape[0]
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if tol is None:
        d = _distances(ch_pos)
        np.fill_diagonal(d, np.inf)
        tol = 0.5 * float(np.median(d.min(axis=1)))
    x = ch_pos[:, 0]
    left = np.flatnonzero(x < -tol / 2)
    right = np.flatnonzero(x > tol / 2)
    if left.size == 0 or right.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    mirrored = ch_pos[left] * np.array([-1.0, 1.0, 1.0])
    dm = cdist(mirrored, ch_pos[right])  # (n_left, n_right)
    best_r = dm.argmin(axis=1)
    best_l = dm.argmin(axis=0)
    pairs = [
        (left[a], right[b])
        for a, b in enumerate(best_r)
        if best_l[b] == a and dm[a, b] <= tol
    ]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def inverse_square_adjacency(
    ch_pos: np.ndarray,
    delta: float | None = None,
    pairs: np.ndarray | None = None,
    sparsity: float = 0.2,
) -> np.ndarray:
    r"""RGNN's initial adjacency: local inverse-square links plus negative homologous links.

    .. math::
        A_{ij} = \min\!\left(1, \frac{\delta}{d_{ij}^2}\right)
        - \mathbb{1}[(i, j) \text{ homologous}],

    so the diagonal is 1 and each left/right homologous pair gets an extra
    :math:`-1` (global inter-hemispheric relations). RGNN calibrates
    :math:`\delta` so that about 20 % of the connections are non-negligible
    (larger than 0.1); by default :math:`\delta` is set from the positions to
    do exactly that: ``0.1 * quantile(d_ij^2, sparsity)`` over electrode pairs.

    Parameters
    ----------
    ch_pos : ndarray, shape (n_chans, 3)
        Electrode positions.
    delta : float | None
        Calibration constant in squared units of ``ch_pos``; ``None``: see above.
    pairs : ndarray of int, shape (n_pairs, 2) | None
        Homologous pairs; ``None`` finds them with :func:`find_homologous_pairs`.
    sparsity : float
        Fraction of off-diagonal entries above 0.1 when ``delta`` is ``None``.

    Returns
    -------
    adj : ndarray, shape (n_chans, n_chans)
        Symmetric, values in [-1, 1], unit diagonal.
    """
    ch_pos = np.asarray(ch_pos, dtype=np.float64)
    n = ch_pos.shape[0]
    d2 = _distances(ch_pos) ** 2
    off = ~np.eye(n, dtype=bool)
    if delta is None:
        delta = 0.1 * float(np.quantile(d2[off], sparsity)) if n > 1 else 1.0
    if not np.isfinite(delta) or delta <= 0:
        raise ValueError(
            f"Invalid value for the 'delta' parameter: expected a positive finite number, "
            f"but got {delta!r} instead."
        )
    with np.errstate(divide="ignore"):
        adj = np.minimum(1.0, delta / d2)  # d = 0 (diagonal, coincident electrodes) -> 1
    if pairs is None:
        pairs = find_homologous_pairs(ch_pos)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    adj[pairs[:, 0], pairs[:, 1]] -= 1.0
    adj[pairs[:, 1], pairs[:, 0]] -= 1.0
    return adj


# --- dense graph maths (vmap-safe) ----------------------------------------------------------

def sym_norm_dense(adj: torch.Tensor, degree: str = "signed") -> torch.Tensor:
    r"""Symmetrically normalised adjacency :math:`D^{-1/2} A D^{-1/2}`.

    .. math::
        N_{ij} = d_i^{-1/2} A_{ij} d_j^{-1/2}, \qquad d_i = \sum_j A_{ij}
        \ (\text{or } \textstyle\sum_j |A_{ij}| \text{ with } ``degree="abs"``),

    with :math:`d_i^{-1/2} := 0` where :math:`d_i = 0`, as in torch-geometric's
    ``get_laplacian`` / ``gcn_norm``. For a non-negative ``adj`` the two degree
    choices coincide; ``"abs"`` keeps the degree positive when edges are negative.

    Parameters
    ----------
    adj : Tensor, shape (..., n, n)
        Dense adjacency (source index first).
    degree : {"signed", "abs"}
        How the degree is summed.

    Returns
    -------
    norm : Tensor, shape (..., n, n)
    """
    deg = (adj.abs() if degree == "abs" else adj).sum(dim=-1)
    pos = deg > 0
    inv_sqrt = torch.where(pos, deg.clamp_min(torch.finfo(adj.dtype).tiny).rsqrt(), torch.zeros_like(deg))
    return inv_sqrt.unsqueeze(-1) * adj * inv_sqrt.unsqueeze(-2)


def dense_to_edge_index(adj: torch.Tensor, batch_size: int = 1, self_loops: bool = True):
    """Fully connected ``edge_index`` and weights of a dense adjacency, repeated over a batch.

    Parameters
    ----------
    adj : Tensor, shape (n, n)
        ``adj[i, j]`` weights the edge from source ``i`` to target ``j``.
    batch_size : int
        Number of graph copies; copy ``b`` has nodes ``b * n ... b * n + n - 1``.
    self_loops : bool
        Whether to include the ``(i, i)`` edges.

    Returns
    -------
    edge_index : LongTensor, shape (2, batch_size * n_edges)
    edge_weight : Tensor, shape (batch_size * n_edges,)
    """
    n = adj.shape[0]
    src, dst = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = torch.ones(n, n, dtype=torch.bool) if self_loops else ~torch.eye(n, dtype=torch.bool)
    src, dst = src[keep], dst[keep]
    weight = adj[src, dst]
    offsets = (torch.arange(batch_size) * n).repeat_interleave(src.numel())
    edge_index = torch.stack([src.repeat(batch_size), dst.repeat(batch_size)]) + offsets
    return edge_index.to(adj.device), weight.repeat(batch_size)
