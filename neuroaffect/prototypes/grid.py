"""The valence/arousal prototype grid: binning embeddings, filling empty bins, and the ordering test.

A grid of ``n x n`` bins tiles the normalised valence/arousal plane ``[-1, 1]^2``
(:func:`neuroaffect.labels.grid_cells`). A bin's **prototype** is the mean of the L2-normalised
embeddings that fall in it, normalised again; an empty bin copies the prototype of its nearest
non-empty bin (distance between bin centres; ties broken by bin order) and is flagged. Every
array here is numpy: this module needs no torch.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..labels import grid_cells, grid_centres, grid_edges
from .io import ARRAYS, GridGeometry, PrototypeGrid

__all__ = ["GridBuild", "axis_ordering", "bootstrap_ordering", "build_grid", "fill_empty", "ordering_test",
           "pairwise_cosine"]


def _normalise(x: np.ndarray, axis: int = -1) -> np.ndarray:
    n = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


@dataclass
class GridBuild(GridGeometry):
    """A built grid, before export: a :class:`~neuroaffect.prototypes.io.GridGeometry` like
    :class:`~neuroaffect.prototypes.io.PrototypeGrid`, its exported view (:meth:`arrays` are what an export
    holds, :meth:`to_grid` the loader's object in memory).

    Attributes
    ----------
    prototypes : ndarray of float32, shape (n, n, D)
        Unit-norm prototype of every bin; axis 0 valence (low to high), axis 1 arousal.
    centres : ndarray of float64, shape (n,)
        Bin centres on each axis (normalised units).
    edges : ndarray of float64, shape (n + 1,)
    counts : dict of str -> ndarray of int64, shape (n, n)
        Members per bin from each source (e.g. ``"dreamer"``, ``"mahnob"``).
    filled : ndarray of bool, shape (n, n)
        Bins that were empty and copy their nearest non-empty bin.
    source_of_fill : ndarray of int64, shape (n, n, 2)
        For a filled bin, the (valence, arousal) index of the bin it copies (its own index otherwise).
    """

    prototypes: np.ndarray
    centres: np.ndarray
    edges: np.ndarray
    counts: dict
    filled: np.ndarray
    source_of_fill: np.ndarray
    extra: dict = field(default_factory=dict)

    def total_counts(self) -> np.ndarray:
        """Members per bin over all sources, shape (n, n)."""
        return sum(self.counts.values())

    def arrays(self, sources=None) -> dict:
        """The arrays of an export (:data:`~neuroaffect.prototypes.io.ARRAYS`, in their stored dtypes).

        ``counts`` stacks the sources in ``sources`` order (default: this grid's), shape (n_sources, n, n).
        """
        sources = list(self.counts) if sources is None else list(sources)
        out = {"prototypes": self.prototypes.astype(np.float32), "centres": self.centres.astype(np.float64),
               "edges": self.edges.astype(np.float64),
               "counts": np.stack([self.counts[s] for s in sources]).astype(np.int64),
               "filled": self.filled.astype(np.uint8)}
        return {k: out[k] for k in ARRAYS}

    def to_grid(self, card: dict | None = None, path=None) -> PrototypeGrid:
        """This grid as a :class:`~neuroaffect.prototypes.io.PrototypeGrid` (lookup, soft assignment) without
        writing it: the arrays of :meth:`arrays` in the sources ``card["sources"]`` names (default: this grid's;
        the card then holds only ``sources``)."""
        card = {"sources": list(self.counts)} if card is None else card
        a = self.arrays(card["sources"])
        return PrototypeGrid(prototypes=a["prototypes"], centres=a["centres"], edges=a["edges"], counts=a["counts"],
                             filled=a["filled"].astype(bool), card=card, path=path)


def fill_empty(sums: np.ndarray, counts: np.ndarray, centres: np.ndarray):
    """Prototypes from per-bin sums, empty bins copying their nearest non-empty bin.

    Parameters
    ----------
    sums : ndarray, shape (n, n, D)
        Sum of the L2-normalised members of each bin.
    counts : ndarray of int, shape (n, n)
    centres : ndarray, shape (n,)

    Returns
    -------
    prototypes : ndarray of float32, shape (n, n, D)
    filled : ndarray of bool, shape (n, n)
    source : ndarray of int64, shape (n, n, 2)
    """
    n = centres.size
    if not (counts > 0).any():
        raise ValueError("cannot build a prototype grid: every bin is empty (no embeddings with labels in [-1, 1])")
    protos = _normalise(sums.astype(np.float64))
    iv, ia = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    flat = np.c_[iv.ravel(), ia.ravel()]
    full = flat[(counts > 0).ravel()]
    cv, ca = centres[flat[:, 0]], centres[flat[:, 1]]
    d = (cv[:, None] - centres[full[:, 0]][None]) ** 2 + (ca[:, None] - centres[full[:, 1]][None]) ** 2
    nearest = full[np.argmin(np.round(d, 12), axis=1)]  # first (in bin order) among equally near bins
    source = nearest.reshape(n, n, 2)
    filled = counts == 0
    out = protos[source[..., 0], source[..., 1]]  # a non-empty bin is its own nearest
    return out.astype(np.float32), filled, source.astype(np.int64)


def build_grid(members: dict, n: int = 5) -> GridBuild:
    """Bin embeddings by valence/arousal and make one prototype per bin.

    Parameters
    ----------
    members : dict of str -> (embeddings, valence, arousal)
        Per source: embeddings ``(n_members, D)`` (any scale: each is L2-normalised first) and
        their valence and arousal ``(n_members,)`` in normalised units ([-1, 1]; true labels
        for labelled sources, the teacher's predictions for unlabelled support).
    n : int
        Bins per axis (5: side 0.4, centres -0.8 .. 0.8).

    Returns
    -------
    grid : GridBuild
    """
    centres, edges = grid_centres(n), grid_edges(n)
    sums, counts, dim = None, {}, None
    for name, (emb, v, a) in members.items():
        emb = np.asarray(emb, dtype=np.float64)
        if emb.ndim != 2 or emb.shape[0] != np.shape(v)[0] or np.shape(v) != np.shape(a):
            raise ValueError(f"members[{name!r}]: expected embeddings (n, D) with valence and arousal of shape (n,), "
                             f"but got shapes {emb.shape}, {np.shape(v)}, {np.shape(a)}")
        if dim is None:
            dim = emb.shape[1]
            sums = np.zeros((n, n, dim))
        elif emb.shape[1] != dim:
            raise ValueError(f"members[{name!r}]: expected {dim}-d embeddings like the other sources, but got "
                             f"{emb.shape[1]}-d")
        iv, ia = grid_cells(np.asarray(v, dtype=np.float64), np.asarray(a, dtype=np.float64), n)
        ok = iv >= 0
        c = np.zeros((n, n), dtype=np.int64)
        np.add.at(c, (iv[ok], ia[ok]), 1)
        np.add.at(sums, (iv[ok], ia[ok]), _normalise(emb[ok]))
        counts[name] = c
    if dim is None:
        raise ValueError("build_grid needs at least one source of members, but got none")
    total = sum(counts.values())
    protos, filled, source = fill_empty(sums, total, centres)
    return GridBuild(prototypes=protos, centres=centres, edges=edges, counts=counts, filled=filled,
                     source_of_fill=source)


def pairwise_cosine(prototypes: np.ndarray) -> np.ndarray:
    """Cosine similarity between every two bins, shape (n*n, n*n), bins in (valence, arousal) order."""
    p = _normalise(np.asarray(prototypes, dtype=np.float64).reshape(-1, prototypes.shape[-1]))
    return p @ p.T


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = np.sqrt((rx ** 2).sum() * (ry ** 2).sum())
    return float((rx * ry).sum() / den) if den > 0 else 0.0


def ordering_test(prototypes: np.ndarray, centres: np.ndarray, mask: np.ndarray | None = None,
                  n_permutations: int = 1000, seed: int = 0) -> dict:
    """Is the grid ordered? Rank correlation of plane distance and prototype distance, with a permutation p.

    For every pair of bins in ``mask`` (default: all), the Euclidean distance of their centres on
    the valence/arousal plane and the cosine distance ``1 - cos`` of their prototypes; Spearman's
    rho between the two. Under the null the prototypes carry no information about where their
    bins sit: shuffling which bin position each prototype belongs to (``n_permutations`` times,
    ``numpy.random.default_rng(seed)``) gives its distribution, and
    ``p = (1 + #{rho_perm >= rho}) / (1 + n_permutations)`` (one-sided: an ordered grid has
    nearby bins more alike).

    Parameters
    ----------
    prototypes : ndarray, shape (n, n, D)
    centres : ndarray, shape (n,)
    mask : ndarray of bool, shape (n, n) | None
        Bins to use (e.g. the non-empty ones: copies of a neighbour would flatter the test).

    Returns
    -------
    result : dict
        ``rho``, ``p_value``, ``n_bins``, ``n_pairs``, ``n_permutations``, ``seed``.
    """
    n = centres.size
    mask = np.ones((n, n), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    iv, ia = np.nonzero(mask)
    k = iv.size
    if k < 3:
        return {"rho": float("nan"), "p_value": float("nan"), "n_bins": int(k), "n_pairs": 0,
                "n_permutations": int(n_permutations), "seed": int(seed)}
    pos = np.c_[centres[iv], centres[ia]]
    p = _normalise(np.asarray(prototypes, dtype=np.float64)[iv, ia])
    iu = np.triu_indices(k, 1)
    d_proto = (1.0 - p @ p.T)[iu]

    def plane(order):
        q = pos[order]
        return np.sqrt(((q[:, None] - q[None]) ** 2).sum(-1))[iu]

    rho = _spearman(plane(np.arange(k)), d_proto)
    rng = np.random.default_rng(seed)
    null = np.array([_spearman(plane(rng.permutation(k)), d_proto) for _ in range(int(n_permutations))])
    return {"rho": rho, "p_value": float((1 + np.sum(null >= rho - 1e-12)) / (1 + null.size)), "n_bins": int(k),
            "n_pairs": int(iu[0].size), "n_permutations": int(n_permutations), "seed": int(seed)}


#: The two per-axis statistics of :func:`axis_ordering`: (name, axis held fixed, axis compared).
AXES = (("valence_given_arousal", 1, 0), ("arousal_given_valence", 0, 1))


def axis_ordering(prototypes: np.ndarray, centres: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """Per-axis ordering: is the grid ordered along valence at fixed arousal, and along arousal at fixed valence?

    ``valence_given_arousal``: over every pair of bins in ``mask`` that share an arousal row, Spearman's
    rho between the valence distance of their centres ``|v_i - v_j|`` and the cosine distance of their
    prototypes ``1 - cos``, the pairs of all rows pooled. ``arousal_given_valence`` likewise over the
    pairs that share a valence column. A grid ordered along valence only has a positive first and a
    zero second; the pooled statistic of :func:`ordering_test` mixes the two. Distances are rounded to
    12 decimals before ranking, so that pairs equally far apart tie.

    Parameters
    ----------
    prototypes : ndarray, shape (n, n, D)
        Axis 0 valence, axis 1 arousal.
    centres : ndarray, shape (n,)
        Bin centres on each axis (normalised units).
    mask : ndarray of bool, shape (n, n) | None
        Bins to use (default: all; e.g. the non-empty ones).

    Returns
    -------
    result : dict
        Per statistic (``valence_given_arousal``, ``arousal_given_valence``) a dict with ``rho``
        (NaN with fewer than 3 pairs; 0 when either distance is constant) and ``n_pairs``.
    """
    centres = np.asarray(centres, dtype=np.float64)
    n = centres.size
    mask = np.ones((n, n), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    p = _normalise(np.asarray(prototypes, dtype=np.float64))
    out = {}
    for name, fixed, along in AXES:
        d_plane, d_proto = [], []
        for k in range(n):
            sel = [(i, k) if fixed == 1 else (k, i) for i in range(n)]
            sel = [b for b in sel if mask[b]]
            for x in range(len(sel)):
                for y in range(x + 1, len(sel)):
                    d_plane.append(abs(centres[sel[x][along]] - centres[sel[y][along]]))
                    d_proto.append(1.0 - float(p[sel[x]] @ p[sel[y]]))
        # rounded so that distances equal up to floating-point noise tie, as they do by construction
        rho = (_spearman(np.round(d_plane, 12), np.round(d_proto, 12)) if len(d_plane) >= 3 else float("nan"))
        out[name] = {"rho": float(rho), "n_pairs": len(d_plane)}
    return out


def _ordering_statistics(sums: np.ndarray, counts: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(pooled rho, valence-given-arousal rho, arousal-given-valence rho) over the non-empty bins of the grid of
    per-bin sums ``sums`` (n, n, D) and member counts ``counts`` (n, n); NaN with fewer than 3 such bins."""
    mask = counts > 0
    if mask.sum() < 3:
        return np.full(3, np.nan)
    iv, ia = np.nonzero(mask)
    pos = np.c_[centres[iv], centres[ia]]
    q = _normalise(sums[iv, ia])
    iu = np.triu_indices(iv.size, 1)
    pooled = _spearman(np.sqrt(((pos[:, None] - pos[None]) ** 2).sum(-1))[iu], (1.0 - q @ q.T)[iu])
    axes = axis_ordering(_normalise(sums), centres, mask)
    return np.array([pooled] + [axes[name]["rho"] for name, _, _ in AXES])


def _bin_sums(emb: np.ndarray, v: np.ndarray, a: np.ndarray, n: int, keys: np.ndarray, n_keys: int):
    """Per key (e.g. group), the sum of the L2-normalised members in each bin and their count: shapes
    (n_keys, n, n, D) and (n_keys, n, n); members outside the grid are left out."""
    iv, ia = grid_cells(v, a, n)
    ok = iv >= 0
    sums = np.zeros((n_keys, n, n, emb.shape[1]))
    counts = np.zeros((n_keys, n, n), dtype=np.int64)
    np.add.at(sums, (keys[ok], iv[ok], ia[ok]), _normalise(emb[ok]))
    np.add.at(counts, (keys[ok], iv[ok], ia[ok]), 1)
    return sums, counts


def bootstrap_ordering(embeddings, valence, arousal, groups, *, strata=None, fixed: dict | None = None,
                       n: int = 5, n_resamples: int = 200, level: float = 0.95,
                       seed: int = 0) -> dict:
    """Percentile bootstrap intervals of the ordering statistics, resampling whole groups (trials) within strata.

    Every resample draws, within each stratum (subject), as many groups as it has, with replacement
    (:func:`scipy.stats.bootstrap` with one sample of group labels per stratum, ``paired=False``; a stratum
    of one group keeps it); all members of a drawn group enter the grid (once per draw); the bins' prototypes
    are rebuilt as in :func:`build_grid` (members ``fixed`` added unchanged) and the pooled rho of
    :func:`ordering_test` and the two rhos of :func:`axis_ordering` recomputed over the non-empty bins.
    Groups, not members, are the unit: the windows of one trial share its rating and are not independent.

    Parameters
    ----------
    embeddings : ndarray, shape (n_members, D)
    valence, arousal : ndarray, shape (n_members,)
        Normalised units ([-1, 1]).
    groups : ndarray, shape (n_members,)
        Group of each member (e.g. a trial's index); any hashable values.
    strata : ndarray, shape (n_members,) | None
        Stratum of each member (e.g. its subject), constant within a group; ``None``: one stratum.
    fixed : dict | None
        Further sources ``{name: (embeddings, valence, arousal)}`` kept as they are in every resample
        (e.g. gated support windows).
    n : int
        Bins per axis.
    n_resamples : int
        Bootstrap resamples.
    level : float
        Coverage of the intervals, in (0, 1).
    seed : int
        Seed of the resampling (``numpy.random.default_rng(seed)``).

    Returns
    -------
    result : dict
        Per statistic (``pooled``, ``valence_given_arousal``, ``arousal_given_valence``) ``ci_low`` and
        ``ci_high`` (percentiles of the resamples where the statistic is defined) and ``n_valid``; and
        ``n_resamples``, ``n_groups``, ``n_strata``, ``level``, ``seed``, ``unit`` (``"group within stratum"``).
    """
    from scipy import stats

    emb = np.asarray(embeddings, dtype=np.float64)
    v, a = np.asarray(valence, dtype=np.float64), np.asarray(arousal, dtype=np.float64)
    groups = np.asarray(groups)
    strata = np.zeros(len(groups), dtype=np.int64) if strata is None else np.asarray(strata)
    if not (emb.ndim == 2 and len(emb) == len(v) == len(a) == len(groups) == len(strata)):
        raise ValueError(f"Invalid values of 'embeddings'/'valence'/'arousal'/'groups'/'strata': expected (n, D) and "
                         f"four arrays of length n, but got shapes {emb.shape}, {v.shape}, {a.shape}, {groups.shape}, "
                         f"{strata.shape}.")
    if not 0.0 < float(level) < 1.0 or int(n_resamples) < 1:
        raise ValueError(f"Invalid values of 'level'/'n_resamples': expected a level in (0, 1) and at least one "
                         f"resample, but got {level!r} and {n_resamples!r}.")
    _, gid = np.unique(groups, return_inverse=True)
    _, sid = np.unique(strata, return_inverse=True)
    n_groups = int(gid.max()) + 1 if len(gid) else 0
    if len(np.unique(np.c_[gid, sid], axis=0)) != n_groups:
        raise ValueError("Invalid value for the 'strata' parameter: expected one stratum per group (e.g. the subject "
                         "of a trial), but some group spans several strata.")
    per_stratum = [np.unique(gid[sid == s]) for s in range(int(sid.max()) + 1 if len(sid) else 0)]
    samples = tuple(g for g in per_stratum if g.size > 1)  # scipy resamples samples of two or more
    always = [g for g in per_stratum if g.size == 1]  # a stratum with one group draws that group every time
    if not samples:
        raise ValueError(f"Invalid value for the 'groups' parameter: expected a stratum with at least two groups to "
                         f"resample, but got {n_groups} group(s) in {len(per_stratum)} stratum (strata).")
    g_sums, g_counts = _bin_sums(emb, v, a, n, gid, n_groups)
    f_sums, f_counts = np.zeros(g_sums.shape[1:]), np.zeros(g_counts.shape[1:], dtype=np.int64)
    for key, (e, fv, fa) in (fixed or {}).items():
        e = np.asarray(e, dtype=np.float64)
        if e.ndim != 2 or e.shape[1] != emb.shape[1]:
            raise ValueError(f"Invalid value for the 'fixed' parameter: expected {emb.shape[1]}-d embeddings in "
                             f"fixed[{key!r}], but got shape {e.shape}.")
        s_, c_ = _bin_sums(e, np.asarray(fv, dtype=np.float64), np.asarray(fa, dtype=np.float64), n,
                           np.zeros(len(e), dtype=np.int64), 1)
        f_sums, f_counts = f_sums + s_[0], f_counts + c_[0]
    centres = grid_centres(n)

    def statistic(*drawn):
        idx = np.concatenate([*drawn, *always])
        return _ordering_statistics(g_sums[idx].sum(0) + f_sums, g_counts[idx].sum(0) + f_counts, centres)

    with warnings.catch_warnings():  # resamples where a statistic is undefined (NaN) are dropped below
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(samples, statistic, vectorized=False, paired=False, n_resamples=int(n_resamples),
                              method="percentile", rng=np.random.default_rng(seed))
    dist = np.asarray(res.bootstrap_distribution, dtype=np.float64).reshape(3, -1)
    tail = 50.0 * (1.0 - float(level))
    out = {}
    for k, key in enumerate(("pooled",) + tuple(name for name, _, _ in AXES)):
        d = dist[k][np.isfinite(dist[k])]
        lo, hi = (np.percentile(d, [tail, 100.0 - tail]) if d.size else (np.nan, np.nan))
        out[key] = {"ci_low": float(lo), "ci_high": float(hi), "n_valid": int(d.size)}
    return {**out, "n_resamples": int(n_resamples), "n_groups": n_groups, "n_strata": len(per_stratum),
            "level": float(level), "seed": int(seed), "unit": "group within stratum"}
