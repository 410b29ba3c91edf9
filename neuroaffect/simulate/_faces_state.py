"""The continuous affect state of every simulated face: its class's region of the valence/arousal plane,
the votes that follow it, and the ground-truth file written beside the data.

Every face carries a state ``(v, a)`` (normalised valence and arousal, 3 decimals) drawn *within* its
class's region, not at the anchor (``docs/simulator.md``, "Faces"):

- an emotional class ``k`` at circumplex angle ``theta_k`` (:data:`~neuroaffect.labels.FER_CIRCUMPLEX_DEG`)
  owns the sector from the midpoint to its lower neighbour to the midpoint to its upper neighbour
  (each side at most :data:`MAX_HALF_WIDTH_DEG` wide: happiness and sadness, whose outer neighbours are
  far, stop there); the state's angle is uniform over the inner :data:`REGION_FILL` of that sector;
  its radius follows intensity, ``0.8 (0.35 + 0.65 intensity) + N(0, 0.04^2)``, clipped to
  [:data:`MIN_RADIUS`, 0.95];
- neutral owns a disc of radius :data:`NEUTRAL_RADIUS` around the origin (uniform over it).

The regions do not overlap (every emotional radius exceeds the neutral disc's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..labels import FER_CIRCUMPLEX_DEG, FER_CLASSES, fer_va_anchors
from .gstar import GSTAR_DIM, gstar

__all__ = [
    "CLASS_REGIONS_DEG", "MAX_HALF_WIDTH_DEG", "MIN_RADIUS", "NEUTRAL_RADIUS", "REGION_FILL", "TRUTH_NAME",
    "VOTE_BOUNDARY_SCALE", "FaceTruth", "boundary_votes", "draw_states", "in_class_region", "load_face_truth",
    "truth_arrays",
]

#: Radius of the neutral disc (normalised units).
NEUTRAL_RADIUS = 0.2
#: Smallest radius of an emotional state (above :data:`NEUTRAL_RADIUS`: the regions are disjoint).
MIN_RADIUS = 0.25
#: Largest half-width of a class's sector on either side of its angle, degrees.
MAX_HALF_WIDTH_DEG = 30.0
#: Share of each half-sector that states are drawn from (0.9: up to 90 % of the way to the boundary).
REGION_FILL = 0.9
#: Width s (normalised units) of the vote softmax over the emotional anchors, exp(-||va - anchor||^2 / s^2).
VOTE_BOUNDARY_SCALE = 0.1
#: The ground-truth file :func:`write_face_truth` writes in a simulated face dataset's root.
TRUTH_NAME = "simulation_truth.npz"

_NEUTRAL = FER_CLASSES.index("neutral")
_K = len(FER_CLASSES)


def _regions() -> MappingProxyType:
    """(lower, upper) angle of each emotional class's sector, degrees: midpoints to the neighbours, capped."""
    names = sorted(FER_CIRCUMPLEX_DEG, key=FER_CIRCUMPLEX_DEG.get)
    deg = np.array([FER_CIRCUMPLEX_DEG[c] for c in names])
    lower_gap = deg - np.roll(deg, 1) + np.where(np.arange(len(deg)) == 0, 360.0, 0.0)
    upper_gap = np.roll(deg, -1) - deg + np.where(np.arange(len(deg)) == len(deg) - 1, 360.0, 0.0)
    lo = deg - np.minimum(lower_gap / 2, MAX_HALF_WIDTH_DEG)
    hi = deg + np.minimum(upper_gap / 2, MAX_HALF_WIDTH_DEG)
    return MappingProxyType({c: (float(a), float(b)) for c, a, b in zip(names, lo, hi)})


#: Sector (lower, upper angle in degrees; angles as on the circumplex, 0 = pleasure, 90 = arousal) of
#: every emotional class: happiness (-10, 45), surprise (45, 90), fear (90, 117.5), anger (117.5, 137.5),
#: disgust (137.5, 160), contempt (160, 187.5), sadness (187.5, 235).
CLASS_REGIONS_DEG = _regions()
_LO = np.array([CLASS_REGIONS_DEG.get(c, (0.0, 0.0))[0] for c in FER_CLASSES])
_HI = np.array([CLASS_REGIONS_DEG.get(c, (0.0, 0.0))[1] for c in FER_CLASSES])
_THETA = np.array([FER_CIRCUMPLEX_DEG.get(c, 0.0) for c in FER_CLASSES])


def draw_states(rng, classes, intensity) -> np.ndarray:
    """Continuous (valence, arousal) state of each face, within its class's region, shape (n, 2).

    Parameters
    ----------
    rng : numpy.random.Generator
        Three draws of n each (angle, radius noise, neutral radius), in that order, whatever the classes.
    classes : ndarray of int, shape (n,)
        FERPlus class indices.
    intensity : ndarray of float, shape (n,)
        Expression intensity in [0, 1]; the emotional states' radius grows with it.

    Returns
    -------
    va : ndarray of float64, shape (n, 2)
        Normalised valence and arousal, rounded to 3 decimals (what the AffectNet files print).
    """
    classes = np.asarray(classes, dtype=np.int64)
    a = np.asarray(intensity, dtype=np.float64)
    n = len(classes)
    u, noise, disc = rng.random(n), rng.normal(0.0, 0.04, n), rng.random(n)
    theta = _THETA[classes]
    lo = theta - REGION_FILL * (theta - _LO[classes])
    hi = theta + REGION_FILL * (_HI[classes] - theta)
    angle = np.deg2rad(lo + u * (hi - lo))
    radius = np.clip(0.8 * (0.35 + 0.65 * a) + noise, MIN_RADIUS, 0.95)
    neutral = classes == _NEUTRAL
    angle[neutral] = 2.0 * np.pi * u[neutral]
    radius[neutral] = NEUTRAL_RADIUS * np.sqrt(disc[neutral])
    va = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return np.round(va, 3)


def in_class_region(classes, va) -> np.ndarray:
    """Whether each state lies in its class's region (sector and radius, or the neutral disc), bool (n,).

    Parameters
    ----------
    classes : ndarray of int, shape (n,)
    va : ndarray, shape (n, 2)
        Normalised (valence, arousal).
    """
    classes = np.asarray(classes, dtype=np.int64)
    va = np.asarray(va, dtype=np.float64)
    r = np.hypot(va[:, 0], va[:, 1])
    deg = np.rad2deg(np.arctan2(va[:, 1], va[:, 0]))
    deg = np.where(deg < _LO[classes], deg + 360.0, deg)  # sadness's sector runs past 180
    tol = 1e-3  # the 3-decimal rounding of the states
    emotional = (r >= MIN_RADIUS - tol) & (r <= 0.95 + tol) & (deg >= _LO[classes] - 0.5) & (deg <= _HI[classes] + 0.5)
    return np.where(classes == _NEUTRAL, r <= NEUTRAL_RADIUS + tol, emotional)


def boundary_votes(classes, va, scale: float = VOTE_BOUNDARY_SCALE) -> np.ndarray:
    """How a correct reading of each face spreads over the classes, shape (n, 8), rows sum to 1.

    For an emotional face, ``softmax_k(-||va - anchor_k||^2 / scale^2)`` over the seven emotional
    anchors (:func:`~neuroaffect.labels.fer_va_anchors`): near its anchor almost all of it goes to its
    class, at the boundary with a neighbour it is shared about equally. A neutral face keeps all of
    it on neutral (its misreads are :data:`~neuroaffect.simulate.faces.MISREAD`'s).

    Parameters
    ----------
    classes : ndarray of int, shape (n,)
    va : ndarray, shape (n, 2)
        The faces' states, normalised units.
    scale : float
        The softmax's width s, normalised units.
    """
    classes = np.asarray(classes, dtype=np.int64)
    va = np.asarray(va, dtype=np.float64)
    d2 = ((va[:, None, :] - fer_va_anchors()[None]) ** 2).sum(-1)
    logits = -d2 / scale ** 2
    logits[:, _NEUTRAL] = -np.inf
    logits -= logits.max(axis=1, keepdims=True)
    q = np.exp(logits)
    q /= q.sum(axis=1, keepdims=True)
    return np.where((classes == _NEUTRAL)[:, None], np.eye(_K)[_NEUTRAL], q)


@dataclass(frozen=True)
class FaceTruth:
    """The planted state of the images of a simulated face dataset (:func:`load_face_truth`).

    Attributes
    ----------
    dataset : str
        ``'ferplus'``, ``'affectnet-mini'``, ``'affectnet'`` or ``'ckplus'``.
    key : ndarray, shape (n,)
        What identifies each image: for FERPlus the 0-based data row of both CSVs (int64, the reader's
        ``meta["row"]``), else the image's path relative to the root (str, ``/``-separated).
    va : ndarray of float64, shape (n, 2)
        The state (valence, arousal), normalised units; AffectNet's and AffectNet-mini's V/A labels.
    gstar : ndarray of float64, shape (n, 4)
        G*(va) (:func:`~neuroaffect.simulate.gstar.gstar`).
    true_class : ndarray of int64, shape (n,)
        The generator's class (FERPlus order).
    intensity : ndarray of float64, shape (n,)
        Expression intensity (CK+: the frame's).
    gstar_strength : float
        The renderer's G* strength (0: no G* in the pixels).
    """

    dataset: str
    key: np.ndarray
    va: np.ndarray
    gstar: np.ndarray
    true_class: np.ndarray
    intensity: np.ndarray
    gstar_strength: float

    def take(self, idx) -> "FaceTruth":
        """The truth of images ``idx`` (int indices or a boolean mask), in that order."""
        return FaceTruth(self.dataset, self.key[idx], self.va[idx], self.gstar[idx], self.true_class[idx],
                         self.intensity[idx], self.gstar_strength)


def truth_arrays(dataset: str, key, va, classes, intensity, gstar_strength: float) -> dict:
    """The arrays of :data:`TRUTH_NAME`, by name (the writer saves them with fixed zip timestamps).

    Parameters
    ----------
    dataset : str
    key : ndarray, shape (n,)
        Rows (int) or relative paths (str), see :class:`FaceTruth`.
    va : ndarray, shape (n, 2)
        The states, normalised units.
    classes, intensity : ndarray, shape (n,)
    gstar_strength : float
    """
    va = np.asarray(va, dtype=np.float64)
    return {"dataset": np.array([dataset]), "key": np.asarray(key), "valence": va[:, 0], "arousal": va[:, 1],
            "gstar": gstar(va), "true_class": np.asarray(classes, dtype=np.int64),
            "intensity": np.asarray(intensity, dtype=np.float64), "gstar_strength": np.array([gstar_strength], float)}


_TRUTH_ARRAYS = ("dataset", "key", "valence", "arousal", "gstar", "true_class", "intensity", "gstar_strength")


def load_face_truth(root, faces=None) -> FaceTruth:
    """The planted state of every image of a simulated face dataset, optionally aligned with a reader's output.

    Parameters
    ----------
    root : path-like
        The dataset's root, as :func:`~neuroaffect.simulate.simulate_faces` returns it and its reader
        takes; the truth is ``root / simulation_truth.npz`` (the readers ignore it).
    faces : FaceSet | None
        What the dataset's reader returned for ``root`` (the whole read, before any ``subset``).
        None: every image the simulator wrote, in its order (FERPlus: data row order; the others:
        the order of their lists and frames), non-faces and dropped rows included.

    Returns
    -------
    truth : FaceTruth
        With ``faces``, row ``i`` belongs to ``faces``' image ``i``: FERPlus by the reader's
        ``meta["row"]`` (the data row), the others by image path relative to ``root``. A subset of
        ``faces`` is aligned by the same index: ``truth.take(idx)`` beside ``faces.subset(idx)``.

    Raises
    ------
    FileNotFoundError
        ``root`` holds no truth file (not a simulated dataset, or one written before the states).
    ValueError
        The file lacks an array; ``faces`` is of another dataset, is not the whole read (FERPlus:
        ``meta["row"]`` of another length), or holds an image the simulator did not write.
    """
    root = Path(root)
    fname = root / TRUTH_NAME
    if not fname.is_file():
        raise FileNotFoundError(f"{fname}: expected the ground truth that neuroaffect.simulate.simulate_faces "
                                f"writes in a simulated face dataset's root, but found no such file")
    with np.load(fname, allow_pickle=False) as z:
        missing = sorted(set(_TRUTH_ARRAYS) - set(z.files))
        if missing:
            raise ValueError(f"{fname}: expected the arrays {', '.join(_TRUTH_ARRAYS)}, but found no {missing}")
        truth = FaceTruth(str(z["dataset"].item()), z["key"], np.column_stack([z["valence"], z["arousal"]]),
                          z["gstar"], z["true_class"].astype(np.int64), z["intensity"],
                          float(z["gstar_strength"].item()))
    if truth.gstar.shape != (len(truth.key), GSTAR_DIM):
        raise ValueError(f"{fname}: expected 'gstar' of shape ({len(truth.key)}, {GSTAR_DIM}), but found "
                         f"{truth.gstar.shape}")
    return truth if faces is None else truth.take(_align(truth, faces, root, fname))


def _align(truth: FaceTruth, faces, root: Path, fname: Path) -> np.ndarray:
    """Index into ``truth`` of each image of ``faces``, int64 (n,)."""
    if faces.dataset != truth.dataset:
        raise ValueError(f"Invalid value for the 'faces' parameter: expected a FaceSet of {truth.dataset!r} (as "
                         f"{fname} records), but got one of {faces.dataset!r} instead.")
    if truth.dataset == "ferplus":
        rows = np.asarray(faces.meta.get("row", ()), dtype=np.int64)
        if rows.shape != (len(faces),):
            raise ValueError(f"Invalid value for the 'faces' parameter: expected the FaceSet read_ferplus returns "
                             f"(meta['row'] with one data row per image, {len(faces)}), but got meta['row'] of "
                             f"shape {rows.shape}: align the whole read, then take the subset's index.")
        if len(rows) and (rows.min() < 0 or rows.max() >= len(truth.key)):
            raise ValueError(f"Invalid value for the 'faces' parameter: expected data rows 0-{len(truth.key) - 1} "
                             f"(those of {fname}), but got rows up to {rows.max()}.")
        return rows
    if faces.paths is None:
        raise ValueError(f"Invalid value for the 'faces' parameter: expected a FaceSet with image paths (as the "
                         f"{truth.dataset} reader returns), but got one holding images in memory.")
    base = os.path.abspath(root)
    rel = [os.path.relpath(os.path.abspath(p), base).replace(os.sep, "/") for p in faces.paths]
    lookup = {k: i for i, k in enumerate(truth.key.tolist())}
    unknown = [r for r in rel if r not in lookup]
    if unknown:
        raise ValueError(f"Invalid value for the 'faces' parameter: expected images of {root} that {fname} lists, "
                         f"but got {len(unknown)} it does not list (first: {unknown[0]!r}).")
    return np.array([lookup[r] for r in rel], dtype=np.int64)
