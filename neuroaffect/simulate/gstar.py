"""G*: the latent affect structure the simulator plants in both modalities, and its oracle.

Every simulated EEG trial and every simulated face carries a continuous affect state ``(v, a)``
(normalised valence and arousal in [-1, 1]). Besides the effects that are linear in ``(v, a)`` (the
EEG's frontal asymmetry and arousal patterns, the faces' class expressions), both simulators write
a second, shared structure into their signals: ``G*(v, a)``, a fixed non-linear map of the plane
into :data:`GSTAR_DIM` numbers (``docs/simulator.md``, "G* in the EEG" and "Faces: affect state, G* and
votes"):

.. math::

    G^*_j(v, a) = \\cos(2\\pi (f_{j,v} v + f_{j,a} a) + \\phi_j), \\quad j = 1 .. 4

with the frequencies (cycles per normalised unit) and phases of :data:`GSTAR_FREQUENCIES` and
:data:`GSTAR_PHASES`. Its wavelengths (0.67 to 0.74 normalised units) are shorter than the width
of a class's region on the circumplex, so G* varies *within* every class and is neither a linear
function of ``(v, a)`` nor recoverable from the class anchors. Its first component separates fear
from surprise at equal arousal (``G*_1`` is +0.53 at fear's anchor and -0.53 at surprise's); the
others separate the inner and the outer part of each class's sector.

The EEG simulator adds ``g_G G*(v, a) U`` to each trial's ln rhythm powers (``U`` fixed spatial
patterns, ``g_G`` following the subject's ``snr``); the face simulator moves each face's expression
controls by ``s_G G*(v, a) M`` (its own strength knob). The oracle grid of the transfer experiment
holds G* at the bin centres (:func:`gstar_prototypes`).

Everything here is numpy: the simulators, the grid arms and the benchmarks share it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GSTAR_DIM", "GSTAR_FREQUENCIES", "GSTAR_PHASES", "coordinate_prototypes", "gstar", "gstar_prototypes",
           "lift"]

#: Number of components of G*.
GSTAR_DIM = 4
#: Spatial frequency of each component along (valence, arousal), cycles per normalised unit.
GSTAR_FREQUENCIES = np.array([[1.5, 0.0], [0.0, 1.35], [0.95, 0.95], [0.95, -0.95]])
#: Phase of each component, radians (chosen so no component is symmetric about the origin).
GSTAR_PHASES = np.array([np.pi / 2, 0.6, -0.9, 1.7])
for _a in (GSTAR_FREQUENCIES, GSTAR_PHASES):
    _a.setflags(write=False)


def _va(va) -> np.ndarray:
    va = np.asarray(va, dtype=np.float64)
    if va.ndim < 1 or va.shape[-1] != 2:
        raise ValueError(f"Invalid value for the 'va' parameter: expected (valence, arousal) pairs, shape (..., 2), "
                         f"but got shape {va.shape} instead.")
    if not np.isfinite(va).all():
        raise ValueError("Invalid value for the 'va' parameter: expected finite (valence, arousal) values, but got "
                         f"{int((~np.isfinite(va)).any(-1).sum())} pair(s) with NaN or infinity.")
    return va


def gstar(va) -> np.ndarray:
    """G* of (valence, arousal) pairs, shape (..., 2) -> (..., :data:`GSTAR_DIM`), each in [-1, 1].

    Parameters
    ----------
    va : array-like, shape (..., 2)
        Normalised (valence, arousal), nominally in [-1, 1] (any finite value is accepted).

    Returns
    -------
    g : ndarray of float64, shape (..., 4)
    """
    va = _va(va)
    return np.cos(2.0 * np.pi * (va @ GSTAR_FREQUENCIES.T) + GSTAR_PHASES)


def lift(features, dim: int, seed: int) -> np.ndarray:
    """Unit vectors in ``dim`` dimensions whose cosines are those of ``features`` (rows), shape (n, dim).

    ``normalize(features) @ Q`` with ``Q`` (n_features, dim) a fixed random matrix with orthonormal
    rows (QR of a Gaussian draw from ``seed``): an isometry, so the prototypes' cosine geometry is
    exactly that of the features, in the width of the exported grid.
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[1] > dim:
        raise ValueError(f"Invalid value for the 'features' parameter: expected shape (n, k) with k <= dim={dim}, "
                         f"but got shape {f.shape} instead.")
    norm = np.linalg.norm(f, axis=1, keepdims=True)
    if (norm <= 0).any():
        raise ValueError("Invalid value for the 'features' parameter: a row is all zeros and has no direction.")
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, f.shape[1])))
    return (f / norm) @ q.T


def gstar_prototypes(centres, dim: int = 128, seed: int = 0) -> np.ndarray:
    """The oracle grid's prototypes: G* at the bin centres, lifted to ``dim``, shape (K, dim), unit norm.

    Each prototype is ``lift([G*(c_k), 1])``: G* plus a constant component (so no prototype is the
    zero vector), mapped isometrically into ``dim`` dimensions.

    Parameters
    ----------
    centres : array-like, shape (K, 2)
        (valence, arousal) of each bin, normalised units.
    dim : int
        Width of the prototypes (the grid's).
    seed : int
        Seed of the isometry.
    """
    g = gstar(centres)
    return lift(np.concatenate([g, np.ones(g.shape[:-1] + (1,))], axis=-1).reshape(-1, GSTAR_DIM + 1), dim, seed)


def coordinate_prototypes(centres, dim: int = 128, seed: int = 0) -> np.ndarray:
    """The coordinate-only grid's prototypes: ``lift([v, a, 1])`` at the bin centres, shape (K, dim), unit norm.

    A smooth fixed function of the bin centres that holds no EEG and no G*: the control that any
    grid ordered by valence and arousal would give.
    """
    c = _va(centres).reshape(-1, 2)
    return lift(np.column_stack([c, np.ones(len(c))]), dim, seed)
