"""Grid arms of the transfer experiment: grids of the exported format derived from a real grid.

Every arm keeps the source grid's bins (``centres``, ``edges``), its width D and the exported
format, so a student loads it like the EEG grid (``docs/distillation.md``, "Grid arms"):

==============  ===================================================================================
kind            prototypes
==============  ===================================================================================
``eeg``         the source grid itself (returned unchanged)
``shuffled``    the source's prototypes, ``filled`` flags and member counts permuted together over
                the bins (seeded; no bin keeps its own vector)
``coordinate``  :func:`~neuroaffect.simulate.gstar.coordinate_prototypes` at the bin centres: a
                smooth fixed function of (valence, arousal), no EEG
``oracle``      :func:`~neuroaffect.simulate.gstar.gstar_prototypes` at the bin centres: the
                simulators' shared structure G*, the best grid the experiment can hold
==============  ===================================================================================

A derived arm's card is the source's bins and width with its own provenance:
``card["arm"] = {"kind", "seed", "source_sha256", ...}`` and the sha256 of its own arrays, so
:attr:`PrototypeGrid.sha256 <neuroaffect.prototypes.io.PrototypeGrid.sha256>` names the arm. The
coordinate and oracle grids have no members: each bin holds the function at its centre, recorded as
one member of the source named after the kind, and no bin is flagged as copied.

The snr-0 grid (the teacher pipeline on EEG without a planted effect) and the labelled-only grid
(without the unlabelled support) are products of the teacher pipeline on other inputs
(:func:`~neuroaffect.prototypes.export_prototype_grid`), not arms derived here.

Everything here is numpy: no torch.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from .._utils import check_int, check_option, code_version
from ..simulate.gstar import coordinate_prototypes, gstar_prototypes
from .io import ARRAYS, SCHEMA_VERSION, PrototypeGrid, array_sha256, card_sha256, load_grid, write_grid_files

__all__ = ["ARM_KINDS", "grid_arm", "grid_arrays", "save_grid_arm", "shuffle_grid"]

#: Kinds of grid arm :func:`grid_arm` gives, the real grid first.
ARM_KINDS = ("eeg", "shuffled", "coordinate", "oracle")
#: How many permutations :func:`shuffle_grid` draws before it gives up finding one that moves every vector.
MAX_DRAWS = 10_000
#: Card fields a fixed arm (no EEG in it) keeps from its source: the bins and the width.
_GEOMETRY_FIELDS = ("dim", "grid_size", "axes", "bin_edges", "bin_centres")
_NO_EEG_LICENCE = ("A fixed function of the bin centres: it derives from no dataset and carries no licence "
                   "restriction.")


def grid_arrays(grid: PrototypeGrid) -> dict:
    """The arrays of a grid as an export holds them (:data:`~neuroaffect.prototypes.io.ARRAYS`, stored dtypes).

    Returns
    -------
    arrays : dict
        ``prototypes`` (n, n, D) float32, ``centres`` (n,) and ``edges`` (n + 1,) float64,
        ``counts`` (n_sources, n, n) int64, ``filled`` (n, n) uint8.
    """
    out = {"prototypes": grid.prototypes.astype(np.float32), "centres": grid.centres.astype(np.float64),
           "edges": grid.edges.astype(np.float64), "counts": grid.counts.astype(np.int64),
           "filled": grid.filled.astype(np.uint8)}
    return {k: np.ascontiguousarray(out[k]) for k in ARRAYS}


def _finished(arrays: dict, card: dict) -> PrototypeGrid:
    """A grid of ``arrays`` with the card :func:`~neuroaffect.prototypes.io.write_grid_files` would write
    (schema version, the sha256 of every array, the card's own checksum), not yet on disk."""
    card = {k: v for k, v in card.items() if k not in ("arrays_sha256", "card_sha256", "schema_version")}
    card = {**card, "schema_version": SCHEMA_VERSION,
            "arrays_sha256": {k: array_sha256(arrays[k]) for k in ARRAYS}}
    card["card_sha256"] = card_sha256(card)
    return PrototypeGrid(prototypes=arrays["prototypes"], centres=arrays["centres"], edges=arrays["edges"],
                         counts=arrays["counts"], filled=arrays["filled"].astype(bool), card=card, path=None)


def _derangement(flat: np.ndarray, seed: int) -> np.ndarray:
    """A seeded permutation of the rows of ``flat`` (K, D) under which no row keeps its own vector."""
    K = flat.shape[0]
    rng = np.random.default_rng(seed)
    for _ in range(MAX_DRAWS):
        perm = rng.permutation(K)
        if not np.any(np.all(flat[perm] == flat, axis=1)):
            return perm
    raise ValueError(f"Invalid value for the 'grid' parameter: expected prototypes that a permutation can move off "
                     f"every bin, but got {K} bins of which {K - len(np.unique(flat, axis=0))} repeat another's "
                     f"vector ({MAX_DRAWS} permutations drawn, none moved them all).")


def shuffle_grid(grid: PrototypeGrid, seed: int = 0) -> PrototypeGrid:
    """The shuffled arm: prototypes, ``filled`` flags and member counts permuted together over the bins.

    Bin ``k`` of the flattened (valence, arousal) order holds what the source's bin ``perm[k]`` held
    (its vector, its flag, its counts from every source), so the grid stays one the loader accepts
    (flags set exactly on the bins without members) and only the link between a bin's position and
    its contents is broken. The permutation is drawn from ``numpy.random.default_rng(seed)`` and
    redrawn until no bin keeps its own vector (a copied bin's vector repeats its neighbour's: moving
    its index alone is not enough).

    Parameters
    ----------
    grid : PrototypeGrid
        The source (the EEG grid).
    seed : int
        Seed of the permutation (>= 0).

    Returns
    -------
    shuffled : PrototypeGrid
        ``card["arm"] = {"kind": "shuffled", "seed", "source_sha256", "permutation"}``; the card's
        ``counts`` and ``filled`` permuted like the arrays; the source's ``ordering`` figures dropped
        (they describe the source's arrangement).
    """
    grid = _check_grid(grid)
    seed = check_int("seed", seed, minimum=0)
    K = grid.n * grid.n
    if K < 2:
        raise ValueError(f"Invalid value for the 'grid' parameter: a grid of {K} bin cannot be shuffled.")
    arrays = grid_arrays(grid)
    perm = _derangement(grid.as_array(), seed)
    n = grid.n
    arrays["prototypes"] = np.ascontiguousarray(grid.as_array()[perm].reshape(grid.prototypes.shape))
    arrays["filled"] = np.ascontiguousarray(arrays["filled"].reshape(K)[perm].reshape(n, n))
    arrays["counts"] = np.ascontiguousarray(arrays["counts"].reshape(-1, K)[:, perm].reshape(-1, n, n))
    card = copy.deepcopy(grid.card)
    card.pop("ordering", None)  # the source's figures: they describe its own arrangement
    sources = list(card.get("sources", []))
    if "counts" in card:
        card["counts"] = {s: arrays["counts"][i].tolist() for i, s in enumerate(sources)}
    if "filled" in card:
        card["filled"] = arrays["filled"].astype(int).tolist()
    card["arm"] = {"kind": "shuffled", "seed": seed, "source_sha256": grid.sha256, "permutation": perm.tolist()}
    return _finished(arrays, card)


def _fixed_arm(grid: PrototypeGrid, kind: str, seed: int) -> PrototypeGrid:
    """The coordinate or oracle arm: a fixed function of the source's bin centres, every bin its own."""
    make = {"coordinate": coordinate_prototypes, "oracle": gstar_prototypes}[kind]
    n, dim = grid.n, grid.dim
    protos = make(grid.bin_centres(), dim, seed).reshape(n, n, dim)
    arrays = {**grid_arrays(grid), "prototypes": np.ascontiguousarray(protos.astype(np.float32)),
              "counts": np.ones((1, n, n), np.int64), "filled": np.zeros((n, n), np.uint8)}
    card = {k: copy.deepcopy(grid.card[k]) for k in _GEOMETRY_FIELDS if k in grid.card}
    card.update({"dim": dim, "grid_size": n, "bin_edges": arrays["edges"].tolist(),
                 "bin_centres": arrays["centres"].tolist(), "sources": [kind],
                 "counts": {kind: arrays["counts"][0].tolist()}, "filled": arrays["filled"].astype(int).tolist(),
                 "licence": _NO_EEG_LICENCE, "code_version": code_version(),
                 "arm": {"kind": kind, "seed": seed, "source_sha256": grid.sha256,
                         "function": f"neuroaffect.simulate.gstar.{make.__name__}",
                         "members": "none: each bin holds the function at its centre (counted as one member)"}})
    return _finished(arrays, card)


def _check_grid(grid) -> PrototypeGrid:
    """``grid`` as a :class:`PrototypeGrid` (a path is loaded and verified); a source that is itself an
    arm is refused (an arm derives from a real grid)."""
    if isinstance(grid, (str, Path)):
        grid = load_grid(grid)
    if not isinstance(grid, PrototypeGrid):
        raise TypeError(f"Invalid value for the 'grid' parameter: expected a PrototypeGrid or the path of an "
                        f"exported grid, but got {type(grid).__name__} instead.")
    arm = grid.card.get("arm")
    if isinstance(arm, dict) and arm.get("kind") not in (None, "eeg"):
        raise ValueError(f"Invalid value for the 'grid' parameter: expected a real grid to derive an arm from, but "
                         f"got the {arm.get('kind')!r} arm of grid {str(arm.get('source_sha256'))[:12]}.")
    return grid


def grid_arm(grid, kind: str, seed: int = 0) -> PrototypeGrid:
    """One grid arm of the transfer experiment, derived from a real grid.

    Parameters
    ----------
    grid : PrototypeGrid | path-like
        The source grid (the exported EEG grid; a path is read with
        :func:`~neuroaffect.prototypes.load_grid`).
    kind : {"eeg", "shuffled", "coordinate", "oracle"}
        ``"eeg"``: the source unchanged; ``"shuffled"``: :func:`shuffle_grid`; ``"coordinate"`` /
        ``"oracle"``: :func:`~neuroaffect.simulate.gstar.coordinate_prototypes` /
        :func:`~neuroaffect.simulate.gstar.gstar_prototypes` of the bin centres.
    seed : int
        The permutation's seed (shuffled) or the isometry's (coordinate, oracle; the prototypes
        depend on it and on the bins only, never on the source's prototypes). Unused for ``"eeg"``.

    Returns
    -------
    arm : PrototypeGrid
        Same bins, centres, edges and width D as the source, unit-norm prototypes, ``card["arm"]``
        ``{"kind", "seed", "source_sha256", ...}`` and the arm's own ``arrays_sha256`` (its
        :attr:`~neuroaffect.prototypes.io.PrototypeGrid.sha256` differs from the source's);
        ``path`` is ``None`` until :func:`save_grid_arm` writes it.
    """
    kind = check_option("kind", kind, ARM_KINDS)
    seed = check_int("seed", seed, minimum=0)
    grid = _check_grid(grid)
    if kind == "eeg":
        return grid
    if kind == "shuffled":
        return shuffle_grid(grid, seed)
    return _fixed_arm(grid, kind, seed)


def save_grid_arm(grid: PrototypeGrid, out) -> dict:
    """Write a grid (an arm of :func:`grid_arm`, or any loaded grid) as an export folder, atomically.

    Parameters
    ----------
    grid : PrototypeGrid
    out : path-like
        The folder: ``grid.safetensors``, ``grid.npz`` and ``card.json``
        (:func:`~neuroaffect.prototypes.io.write_grid_files`); :func:`~neuroaffect.prototypes.load_grid`
        reads it back with the same :attr:`~neuroaffect.prototypes.io.PrototypeGrid.sha256`.

    Returns
    -------
    paths : dict
        ``safetensors``, ``npz`` and ``card`` paths.
    """
    if not isinstance(grid, PrototypeGrid):
        raise TypeError(f"Invalid value for the 'grid' parameter: expected a PrototypeGrid, but got "
                        f"{type(grid).__name__} instead.")
    card = {k: v for k, v in grid.card.items() if k not in ("arrays_sha256", "card_sha256", "schema_version")}
    return write_grid_files(out, grid_arrays(grid), card)
