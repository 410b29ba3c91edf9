"""Procedural faces: the expression geometry of each class, random identities, poses and lighting,
and a vectorised renderer (numpy only) that draws a batch of faces on a pixel grid.

Coordinates are in *face units*: the image spans [-1, 1] on both axes at pose scale 1 (x to the
right, y downwards); a face is an ellipse of half-width about 0.6 and half-height about 0.78. Every
shape is drawn from a distance field with an edge one pixel wide (antialiased).

The expression of a face is a vector of :data:`EXPRESSION_PARAMS` (action-unit-like controls);
each class has an anchor in :data:`CLASS_EXPRESSIONS` and a face of class ``c`` at intensity ``a``
and affect state ``(v, a)`` gets ``neutral + a * (anchor_c - neutral)`` plus per-face jitter plus
``s_G G*(v, a) M`` (:data:`GSTAR_EXPRESSION`, ``s_G`` the renderer's ``gstar_strength``).
"""

from __future__ import annotations

import numpy as np

from .gstar import gstar

__all__ = [
    "CLASS_EXPRESSIONS", "EXPRESSION_PARAMS", "GSTAR_EXPRESSION", "IDENTITY_PARAMS", "draw_expressions",
    "draw_identities", "draw_looks", "draw_poses", "gstar_offset", "landmarks68", "render_faces", "render_nonfaces",
]

#: Expression controls, each roughly in [-1, 1.6]: brow raise (up +), inner-brow raise (inner end
#: up +, down/together -), eye opening (1 = relaxed), mouth-corner curvature (corners up +), mouth
#: opening, mouth width (1 = relaxed), one-sided corner raise (right side), nose wrinkle, upper-lip
#: raise, lip press.
EXPRESSION_PARAMS = ("brow_raise", "brow_inner", "eye_open", "mouth_curve", "mouth_open", "mouth_width",
                     "mouth_asym", "nose_wrinkle", "lip_raise", "lip_press")

#: Anchor expression of each class, rows in :data:`~neuroaffect.labels.FER_CLASSES` order. Fear and
#: surprise share raised brows, wide eyes and an open mouth; they differ by the inner brows (fear
#: pulls them up) and the mouth (round and taller for surprise, wider and flatter for fear).
CLASS_EXPRESSIONS = np.array([
    # brow  inner  eye   curve  open  width  asym  nose  lip   press
    [0.00, 0.00, 1.00, 0.00, 0.00, 1.00, 0.00, 0.00, 0.00, 0.00],   # neutral
    [0.10, 0.00, 0.72, 1.00, 0.45, 1.25, 0.00, 0.00, 0.00, 0.00],   # happiness
    [1.00, 0.10, 1.55, 0.00, 1.00, 0.72, 0.00, 0.00, 0.00, 0.00],   # surprise
    [-0.10, 0.85, 0.85, -0.85, 0.00, 0.95, 0.00, 0.00, 0.00, 0.30],  # sadness
    [-0.70, -0.90, 0.68, -0.15, 0.00, 0.85, 0.00, 0.20, 0.00, 1.00],  # anger
    [-0.40, -0.35, 0.72, -0.40, 0.20, 0.95, 0.00, 1.00, 0.90, 0.00],  # disgust
    [0.90, 0.40, 1.50, -0.25, 0.70, 1.05, 0.00, 0.00, 0.00, 0.00],   # fear
    [0.00, 0.00, 0.95, -0.10, 0.00, 0.95, 1.20, 0.00, 0.00, 0.60],  # contempt
], dtype=np.float64)
_NEUTRAL = CLASS_EXPRESSIONS[0]
#: Per-face jitter (standard deviation) of each expression control.
_JITTER = np.array([0.14, 0.14, 0.12, 0.16, 0.10, 0.08, 0.10, 0.12, 0.12, 0.15])
#: M, shape (4, 10): how each component of G* (rows) moves the expression controls (columns, in
#: :data:`EXPRESSION_PARAMS` order) at ``gstar_strength`` 1. Only controls the renderer draws on both
#: sides of their rest value (no clipping at 0): G*_1 (the fear/surprise factor) raises the inner brows
#: and widens the mouth, G*_2 raises the brows and opens the eyes, G*_3 curves the mouth's corners up,
#: G*_4 lifts one corner and narrows the mouth. Each move (at most 0.25 per unit of G*) is of the
#: order of the per-face jitter and well below the gaps between the class expressions.
GSTAR_EXPRESSION = np.array([
    # brow  inner  eye   curve  open  width  asym  nose  lip   press
    [0.00, 0.25, 0.00, 0.00, 0.00, 0.12, 0.00, 0.00, 0.00, 0.00],   # G*_1
    [0.20, 0.00, 0.15, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00],   # G*_2
    [0.00, 0.00, 0.00, 0.25, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00],   # G*_3
    [0.00, 0.00, 0.00, 0.00, 0.00, -0.10, 0.22, 0.00, 0.00, 0.00],  # G*_4
], dtype=np.float64)
for _a in (CLASS_EXPRESSIONS, GSTAR_EXPRESSION):
    _a.setflags(write=False)

#: Identity controls (face units unless stated): face half-width and half-height, eye half-spacing,
#: eye height (from the face centre, negative = up), eye half-width and half-height, brow gap above
#: the eye, brow thickness, nose-tip height, nose half-width, mouth height, mouth half-width, hair
#: line (negative = up), skin tone, hair tone (0 dark - 1 light), iris tone.
IDENTITY_PARAMS = ("face_w", "face_h", "eye_dx", "eye_y", "eye_w", "eye_h", "brow_gap", "brow_t", "nose_y",
                   "nose_w", "mouth_y", "mouth_w", "hair_y", "skin", "hair", "iris")
_IDENTITY_RANGE = np.array([
    (0.54, 0.66), (0.72, 0.84), (0.20, 0.26), (-0.20, -0.10), (0.085, 0.11), (0.040, 0.054), (0.10, 0.14),
    (0.028, 0.045), (0.12, 0.20), (0.06, 0.085), (0.36, 0.45), (0.16, 0.22), (-0.66, -0.46), (0.0, 1.0),
    (0.0, 1.0), (0.0, 1.0),
])


def draw_expressions(rng, classes, intensity, va=None, gstar_strength: float = 0.0) -> np.ndarray:
    """Expression controls of faces of the given classes, intensities and affect states, shape (n, 10).

    ``neutral + intensity (anchor_c - neutral) + jitter + gstar_strength G*(va) M``; the random draws
    (the jitter) are the same whatever ``va`` and ``gstar_strength``.

    Parameters
    ----------
    rng : numpy.random.Generator
    classes : ndarray of int, shape (n,)
        FERPlus class indices.
    intensity : ndarray of float, shape (n,)
        0 = neutral face, 1 = the class's anchor.
    va : ndarray, shape (n, 2) | None
        Each face's (valence, arousal) state, normalised units; needed when ``gstar_strength`` is not 0.
    gstar_strength : float
        s_G, the weight of G* in the expression (:data:`GSTAR_EXPRESSION`); 0 = none.
    """
    classes = np.asarray(classes, dtype=np.int64)
    a = np.asarray(intensity, dtype=np.float64)[:, None]
    e = _NEUTRAL + a * (CLASS_EXPRESSIONS[classes] - _NEUTRAL)
    e = e + rng.normal(size=e.shape) * _JITTER
    return e + gstar_offset(va, gstar_strength, len(classes))


def gstar_offset(va, gstar_strength: float, n: int) -> np.ndarray:
    """``gstar_strength G*(va) M``, the expression move G* makes, shape (n, 10) (zeros at strength 0)."""
    if not np.isfinite(gstar_strength) or gstar_strength < 0:
        raise ValueError(f"Invalid value for the 'gstar_strength' parameter: expected a finite number >= 0, but got "
                         f"{gstar_strength!r} instead.")
    if gstar_strength == 0:
        return np.zeros((n, len(EXPRESSION_PARAMS)))
    if va is None or np.shape(va) != (n, 2):
        raise ValueError(f"Invalid value for the 'va' parameter: expected the faces' (valence, arousal) states of "
                         f"shape ({n}, 2) with gstar_strength {gstar_strength}, but got "
                         f"{None if va is None else np.shape(va)} instead.")
    return gstar_strength * gstar(va) @ GSTAR_EXPRESSION


def draw_identities(rng, n: int) -> np.ndarray:
    """Random identities, shape (n, 16) in :data:`IDENTITY_PARAMS` order (uniform in plausible ranges)."""
    lo, hi = _IDENTITY_RANGE[:, 0], _IDENTITY_RANGE[:, 1]
    return lo + (hi - lo) * rng.random((n, len(IDENTITY_PARAMS)))


def draw_poses(rng, n: int, rot_deg: float = 8.0, shift: float = 0.06, scale=(0.9, 1.1)) -> np.ndarray:
    """Random head poses, shape (n, 4): rotation (degrees), x and y shift (face units), scale."""
    rot = np.clip(rng.normal(0.0, rot_deg, n), -2.5 * rot_deg, 2.5 * rot_deg)
    sh = np.clip(rng.normal(0.0, shift, (n, 2)), -2.5 * shift, 2.5 * shift)
    sc = rng.uniform(scale[0], scale[1], n)
    return np.column_stack([rot, sh, sc])


def draw_looks(rng, n: int, *, colour: bool, noise=(0.02, 0.06), occlusion: float = 0.12,
               light: float = 0.35) -> dict:
    """Per-image lighting, background, occlusion and noise settings (a dict of arrays of length n)."""
    looks = {
        "bg": rng.random((n, 3)) if colour else np.repeat(rng.random((n, 1)), 3, axis=1),
        "light_angle": rng.uniform(0, 2 * np.pi, n),
        "light": rng.uniform(0.0, light, n),
        "contrast": rng.uniform(0.75, 1.2, n),
        "brightness": rng.normal(0.0, 0.06, n),
        "gamma": np.exp(rng.normal(0.0, 0.15, n)),
        "noise": rng.uniform(noise[0], noise[1], n),
        "tint": (1.0 + rng.normal(0.0, 0.08, (n, 3))) if colour else np.ones((n, 3)),
        "gaze": rng.normal(0.0, 0.015, (n, 2)),
    }
    occ = rng.random(n) < occlusion
    box = np.column_stack([rng.uniform(-0.7, 0.7, n), rng.uniform(-0.6, 0.8, n),
                           rng.uniform(0.15, 0.45, n), rng.uniform(0.12, 0.35, n)])
    looks["occluded"] = occ
    looks["occ_box"] = box  # centre x, centre y, half-width, half-height (image units)
    looks["occ_col"] = rng.random((n, 3)) if colour else np.repeat(rng.random((n, 1)), 3, axis=1)
    return looks


def _palette(t, stops) -> np.ndarray:
    """Piecewise-linear colour of ``t`` in [0, 1] along ``stops`` (k, 3) -> (n, 3)."""
    stops = np.asarray(stops, dtype=np.float64)
    pos = np.clip(t, 0, 1) * (len(stops) - 1)
    i = np.minimum(pos.astype(int), len(stops) - 2)
    f = (pos - i)[:, None]
    return stops[i] * (1 - f) + stops[i + 1] * f


_SKIN = ((0.96, 0.84, 0.74), (0.86, 0.68, 0.55), (0.66, 0.47, 0.34), (0.42, 0.28, 0.19))
_HAIR = ((0.06, 0.05, 0.05), (0.30, 0.19, 0.10), (0.62, 0.48, 0.28), (0.72, 0.70, 0.66))
_IRIS = ((0.08, 0.06, 0.05), (0.30, 0.20, 0.10), (0.25, 0.35, 0.45))


def _colours(idn: np.ndarray, colour: bool) -> dict:
    skin = _palette(idn[:, 13], _SKIN)
    hair = _palette(idn[:, 14], _HAIR)
    iris = _palette(idn[:, 15], _IRIS)
    if not colour:  # luminance, with a wider spread of grey skin tones (FER2013 has all sorts)
        lum = lambda c: (c @ np.array([0.299, 0.587, 0.114]))[:, None].repeat(3, axis=1)  # noqa: E731
        skin, hair, iris = lum(skin), lum(hair), lum(iris)
    lip = skin * np.array([0.86, 0.62, 0.62]) if colour else skin * 0.78
    return {"skin": skin, "hair": hair, "iris": iris, "lip": lip}


def _soft(d, edge):
    """Coverage of a shape whose signed distance is ``d`` (negative inside), edge ``edge`` wide."""
    return np.clip(0.5 - d / edge, 0.0, 1.0)


def _ellipse(u, v, cx, cy, a, b):
    """Approximate signed distance to an ellipse (centre cx, cy; half-axes a, b)."""
    r = np.sqrt(((u - cx) / a) ** 2 + ((v - cy) / b) ** 2)
    return (r - 1.0) * np.minimum(a, b)


def _segment(u, v, ax, ay, bx, by):
    """Distance to the segment (ax, ay)-(bx, by)."""
    dx, dy = bx - ax, by - ay
    t = np.clip(((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy + 1e-12), 0.0, 1.0)
    return np.hypot(u - ax - t * dx, v - ay - t * dy)


def _over(img, alpha, col):
    """Alpha-composite colour ``col`` (n, 3) with coverage ``alpha`` (n, H, W) onto ``img`` (n, H, W, 3)."""
    a = alpha[..., None]
    img *= 1.0 - a
    img += a * col[:, None, None, :]


def _geometry(idn: np.ndarray, expr: np.ndarray) -> dict:
    """Face-unit positions of every feature, each an array of shape (n,)."""
    P = {k: idn[:, i] for i, k in enumerate(IDENTITY_PARAMS)}
    E = {k: expr[:, i] for i, k in enumerate(EXPRESSION_PARAMS)}
    g = {}
    g["face_cy"] = 0.06 + 0 * P["face_w"]
    g["eye_y"] = g["face_cy"] + P["eye_y"]
    g["eye_h"] = P["eye_h"] * np.clip(E["eye_open"], 0.15, 2.2)
    brow_base = g["eye_y"] - P["brow_gap"] - 0.075 * E["brow_raise"]
    g["brow_in_x"] = P["eye_dx"] - 0.9 * P["eye_w"] + 0.03 * np.minimum(E["brow_inner"], 0.0)
    g["brow_out_x"] = P["eye_dx"] + 1.25 * P["eye_w"]
    g["brow_in_y"] = brow_base - 0.055 * E["brow_inner"]
    g["brow_out_y"] = brow_base + 0.01 + 0.012 * E["brow_inner"]
    g["nose_y"] = g["face_cy"] + P["nose_y"]
    g["mouth_y"] = g["face_cy"] + P["mouth_y"]
    g["mouth_w"] = P["mouth_w"] * np.clip(E["mouth_width"], 0.4, 1.8)
    g["curve"] = 0.075 * E["mouth_curve"]
    g["open"] = 0.11 * np.clip(E["mouth_open"], 0.0, 2.0)
    g["asym"] = 0.095 * E["mouth_asym"]
    g["lip_raise"] = 0.045 * np.clip(E["lip_raise"], 0.0, 2.0)
    g["press"] = np.clip(E["lip_press"], 0.0, 2.0)
    g["wrinkle"] = np.clip(E["nose_wrinkle"], 0.0, 2.0)
    g["brow_raise"] = E["brow_raise"]
    return {**P, **g}


def _mouth_lines(g, t):
    """Centre line, upper lip and lower lip heights of the mouth at relative abscissa ``t`` in [-1, 1]."""
    t2 = np.clip(t, -1.0, 1.0) ** 2
    centre = g["mouth_y"] - g["curve"] * t2 - g["asym"] * np.clip(t, 0.0, 1.0) ** 2
    h = g["open"] * np.sqrt(np.clip(1.0 - t2, 0.0, 1.0))
    upper = centre - 0.38 * h - g["lip_raise"] * (1.0 - t2)
    lower = centre + 0.62 * h
    return centre, upper, lower


def render_faces(rng, identity, expression, pose, looks, size, colour: bool = False) -> np.ndarray:
    """Draw a batch of faces.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the pixel noise.
    identity : ndarray, shape (n, 16)
        :func:`draw_identities`.
    expression : ndarray, shape (n, 10)
        :func:`draw_expressions`.
    pose : ndarray, shape (n, 4)
        :func:`draw_poses`.
    looks : dict
        :func:`draw_looks`.
    size : int | (int, int)
        Image height and width in pixels.
    colour : bool
        RGB output (else grey).

    Returns
    -------
    images : ndarray of uint8, shape (n, H, W) or (n, H, W, 3)
    """
    fr = _frame(identity, expression, pose, size)
    cl = _colours(identity, colour)
    img = np.empty((fr["n"], fr["H"], fr["W"], 3), dtype=np.float32)
    img[:] = looks["bg"][:, None, None, :].astype(np.float32)
    # background: a soft vertical gradient
    img *= (1.0 + 0.15 * fr["Y"])[..., None]
    face = _draw_head(img, fr, cl)
    _draw_brows_and_eyes(img, fr, cl, face, looks)
    _draw_nose(img, fr)
    _draw_mouth(img, fr, cl)
    img = _light_and_occlude(img, fr, looks)
    return _finish(img, looks["noise"], colour, rng)


def _col(k) -> np.ndarray:
    """Per-image scalars (n,) -> float32 (n, 1, 1), to broadcast over the pixels."""
    return k[:, None, None].astype(np.float32)


def _frame(identity, expression, pose, size) -> dict:
    """The drawing frame of a batch: pixel grids ``X`` (1, 1, W), ``Y`` (1, H, 1) in [-1, 1], face coordinates
    ``u, v`` and ``au = |u|`` (n, H, W) after the pose, the anti-aliasing ``edge`` (n, 1, 1) and the geometry ``g``."""
    H, W = (size, size) if np.isscalar(size) else size
    f32 = np.float32
    ys = ((np.arange(H) + 0.5) / H * 2 - 1).astype(f32)
    xs = ((np.arange(W) + 0.5) / W * 2 - 1).astype(f32) * (W / H)
    X, Y = xs[None, None, :], ys[None, :, None]
    th = np.deg2rad(pose[:, 0])
    c, s, sc = _col(np.cos(th)), _col(np.sin(th)), _col(pose[:, 3])
    Xs, Ys = X - _col(pose[:, 1]), Y - _col(pose[:, 2])
    u = (c * Xs + s * Ys) / sc
    v = (-s * Xs + c * Ys) / sc
    edge = _col(2.0 / H / pose[:, 3]) * 1.1
    g = {k: _col(val) for k, val in _geometry(identity, expression).items()}
    return {"H": H, "W": W, "n": len(identity), "X": X, "Y": Y, "u": u, "v": v, "au": np.abs(u), "edge": edge,
            "g": g}


def _draw_head(img, fr: dict, cl: dict) -> np.ndarray:
    """Hair behind the head, the face and neck with their shading, the fringe; returns the face mask (n, H, W)."""
    u, v, au, edge, g = fr["u"], fr["v"], fr["au"], fr["edge"], fr["g"]
    hair_back = _soft(_ellipse(u, v, 0.0, g["face_cy"] - 0.1, g["face_w"] + 0.07, g["face_h"] + 0.06), edge)
    _over(img, hair_back * _soft(v - (g["face_cy"] + 0.15), edge * 4), cl["hair"])
    face_d = _ellipse(u, v, 0.0, g["face_cy"], g["face_w"], g["face_h"])
    face = _soft(face_d, edge)
    neck = _soft(np.maximum(au - 0.6 * g["face_w"], g["face_cy"] + 0.5 - v), edge)
    _over(img, np.maximum(face, neck), cl["skin"] * 0.92)
    _over(img, face, cl["skin"])
    # shading: darker towards the face's rim
    rim = np.clip(((u / g["face_w"]) ** 2 + ((v - g["face_cy"]) / g["face_h"]) ** 2), 0, 1)
    img *= (1.0 - 0.18 * face * rim ** 2)[..., None]
    fringe = face * _soft(v - g["hair_y"] - g["face_cy"] + 0.06 * np.cos(3.0 * u), edge * 2)
    _over(img, fringe, cl["hair"])
    return face


def _draw_brows_and_eyes(img, fr: dict, cl: dict, face, looks: dict) -> None:
    """Forehead wrinkles (raised brows), the brows (mirrored), and the eyes: sclera, iris (gaze), lid line."""
    u, v, au, edge, g, n = fr["u"], fr["v"], fr["au"], fr["edge"], fr["g"], fr["n"]
    dark = np.zeros((n, 3), dtype=np.float32)
    wr = np.clip(g["brow_raise"], 0, 1.5) * 0.35
    for k in (1, 2):
        yy = g["brow_in_y"] - 0.06 * k
        line = _soft(np.maximum(np.abs(v - yy) - 0.006, au - 0.22), edge) * face
        _over(img, line * wr, dark)
    brow = _soft(_segment(au, v, g["brow_in_x"], g["brow_in_y"], g["brow_out_x"], g["brow_out_y"]) - 0.5 * g["brow_t"],
                 edge)
    _over(img, brow * 0.9, cl["hair"] * 0.7)
    ex, ey = g["eye_dx"], g["eye_y"]
    sclera_d = _ellipse(au, v, ex, ey, g["eye_w"], g["eye_h"])
    sclera = _soft(sclera_d, edge)
    _over(img, sclera, np.full((n, 3), 0.9, dtype=np.float32))
    gx = _col(looks["gaze"][:, 0]) * np.sign(u)
    iris = _soft(np.maximum(np.hypot(au - ex - gx, v - ey - _col(looks["gaze"][:, 1])) - 0.05, sclera_d), edge)
    _over(img, iris, cl["iris"])
    lid = _soft(np.abs(sclera_d) - 0.007, edge) * _soft(v - ey - 0.3 * g["eye_h"], edge)
    _over(img, lid * 0.8, dark)


def _draw_nose(img, fr: dict) -> None:
    """Nose (bridge shadow, nostrils, wrinkle lines) and the nasolabial folds, deeper with smiles and disgust and
    on the raised side of a one-sided smile."""
    u, v, au, edge, g = fr["u"], fr["v"], fr["au"], fr["edge"], fr["g"]
    dark = np.zeros((fr["n"], 3), dtype=np.float32)
    ey, ny = g["eye_y"], g["nose_y"]
    bridge = _soft(_segment(u, v, 0.02, ey + 0.06, 0.035, ny - 0.02) - 0.01, edge)
    _over(img, bridge * 0.35, dark)
    nostril = _soft(_ellipse(au, v, 0.6 * g["nose_w"], ny, 0.028, 0.016), edge)
    _over(img, nostril * 0.75, dark)
    for k in range(3):
        yy = ey + 0.035 + 0.03 * k
        line = _soft(np.maximum(np.abs(v - yy) - 0.005, au - 0.075), edge)
        _over(img, line * np.clip(g["wrinkle"], 0, 1.5) * 0.55, dark)
    right = u > 0
    cy_corner = g["mouth_y"] - g["curve"] - g["asym"] * right
    fold = _soft(_segment(au, v, 1.15 * g["nose_w"], ny - 0.01, g["mouth_w"] + 0.035, cy_corner - 0.01) - 0.006, edge)
    depth = 0.15 + 0.45 * np.maximum(g["curve"] / 0.075, 0) + 0.5 * g["wrinkle"] \
        + 0.5 * right * np.clip(g["asym"] / 0.095, 0, 1.5)
    _over(img, fold * np.clip(depth, 0, 0.9), dark)


def _draw_mouth(img, fr: dict, cl: dict) -> None:
    """Mouth: lips, cavity, teeth, the line between closed lips."""
    u, v, au, edge, g, n = fr["u"], fr["v"], fr["au"], fr["edge"], fr["g"], fr["n"]
    mw = g["mouth_w"]
    t = u / mw
    centre, upper, lower = _mouth_lines(g, t)
    inside_x = _soft((au - mw), edge)
    lip_t = 0.028 * (1.0 - 0.45 * np.clip(g["press"], 0, 1))
    lips = inside_x * _soft(np.maximum(upper - lip_t - v, v - lower - lip_t), edge)
    _over(img, lips * 0.8, cl["lip"])
    cavity = inside_x * _soft(np.maximum(upper - v, v - lower), edge) * np.clip((lower - upper) / 0.02, 0, 1)
    _over(img, cavity, np.full((n, 3), 0.1, dtype=np.float32))
    teeth_amt = np.clip(np.maximum(g["curve"] / 0.075, 0) + g["lip_raise"] / 0.045, 0, 1)
    teeth = cavity * _soft(v - (upper + 0.45 * (lower - upper)), edge) * teeth_amt
    _over(img, teeth * 0.85, np.full((n, 3), 0.92, dtype=np.float32))
    line_t = 0.006 + 0.006 * np.clip(g["press"], 0, 1.5)
    line = inside_x * _soft(np.abs(v - centre) - line_t, edge)
    _over(img, line * 0.85, np.zeros((n, 3), dtype=np.float32))


def _light_and_occlude(img, fr: dict, looks: dict) -> np.ndarray:
    """Lighting (directional gradient, tint, contrast, brightness, gamma), then the occluders in image
    coordinates (a hand, a cup, a caption); returns the new image (n, H, W, 3) float32."""
    X, Y = fr["X"], fr["Y"]
    la = looks["light_angle"]
    grad = 1.0 + _col(looks["light"]) * (_col(np.cos(la)) * X + _col(np.sin(la)) * Y)
    img *= grad[..., None]
    img *= looks["tint"][:, None, None, :].astype(np.float32)
    m = img.mean(axis=(1, 2, 3), keepdims=True)
    img = (img - m) * _col(looks["contrast"])[..., None] + m + _col(looks["brightness"])[..., None]
    np.clip(img, 0.0, 1.0, out=img)
    img **= _col(looks["gamma"])[..., None]
    if looks["occluded"].any():
        b = looks["occ_box"]
        occ = _soft(np.maximum(np.abs(X - _col(b[:, 0])) - _col(b[:, 2]), np.abs(Y - _col(b[:, 1])) - _col(b[:, 3])),
                    2.0 / fr["H"]) * _col(looks["occluded"].astype(float))
        _over(img, occ, looks["occ_col"].astype(np.float32))
    return img


def _finish(img, noise, colour, rng):
    if not colour:
        img = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        img += rng.standard_normal(img.shape, dtype=np.float32) * noise[:, None, None].astype(np.float32)
    else:
        img += rng.standard_normal(img.shape, dtype=np.float32) * noise[:, None, None, None].astype(np.float32)
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def render_nonfaces(rng, n: int, size, colour: bool = False) -> np.ndarray:
    """Images without a face (smooth random textures and blobs), uint8 (n, H, W) or (n, H, W, 3)."""
    H, W = (size, size) if np.isscalar(size) else size
    y = np.linspace(-1, 1, H, dtype=np.float32)[None, :, None]
    x = np.linspace(-1, 1, W, dtype=np.float32)[None, None, :]
    img = np.zeros((n, H, W, 3), dtype=np.float32)
    img += rng.random((n, 1, 1, 3)).astype(np.float32) if colour else rng.random((n, 1, 1, 1)).astype(np.float32)
    for _ in range(4):
        fx, fy = (rng.normal(0, 3, (n, 1, 1)).astype(np.float32) for _ in range(2))
        ph = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
        amp = rng.uniform(0.05, 0.25, (n, 1, 1, 3 if colour else 1)).astype(np.float32)
        img += amp * np.sin(fx * x + fy * y + ph)[..., None]
    np.clip(img, 0, 1, out=img)
    return _finish(img, rng.uniform(0.02, 0.06, n), colour, rng)


def landmarks68(identity, expression, pose) -> np.ndarray:
    """The 68 facial landmarks (iBUG order) of faces drawn by :func:`render_faces`, shape (n, 68, 2).

    In image units ([-1, 1] across the image): jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67.
    """
    g = _geometry(identity, expression)
    n = len(identity)
    pts = np.zeros((n, 68, 2))
    ang = np.linspace(np.pi * 0.95, np.pi * 0.05, 17)  # jaw from the right ear of the image's left side
    pts[:, 0:17, 0] = -np.cos(ang)[None] * g["face_w"][:, None]
    pts[:, 0:17, 1] = g["face_cy"][:, None] + np.sin(ang)[None] * g["face_h"][:, None] * 0.95 - 0.05
    for k, side in ((17, -1), (22, 1)):
        w = np.linspace(0, 1, 5)[None] if side > 0 else np.linspace(1, 0, 5)[None]
        xin, xout = g["brow_in_x"][:, None], g["brow_out_x"][:, None]
        pts[:, k:k + 5, 0] = side * (xin + (xout - xin) * w)
        pts[:, k:k + 5, 1] = g["brow_in_y"][:, None] + (g["brow_out_y"] - g["brow_in_y"])[:, None] * w
    pts[:, 27:31, 0] = 0.0
    pts[:, 27:31, 1] = np.linspace(0, 1, 4)[None] * (g["nose_y"] - g["eye_y"])[:, None] + g["eye_y"][:, None]
    pts[:, 31:36, 0] = np.linspace(-1, 1, 5)[None] * g["nose_w"][:, None]
    pts[:, 31:36, 1] = g["nose_y"][:, None]
    eye_ang = np.array([np.pi, 2 * np.pi / 3, np.pi / 3, 0.0, -np.pi / 3, -2 * np.pi / 3])
    for k, side in ((36, -1), (42, 1)):
        pts[:, k:k + 6, 0] = side * g["eye_dx"][:, None] + np.cos(eye_ang)[None] * g["eye_w"][:, None] * side
        pts[:, k:k + 6, 1] = g["eye_y"][:, None] - np.sin(eye_ang)[None] * g["eye_h"][:, None]
    t_out = np.linspace(-1, 1, 7)
    c, up, lo = _mouth_lines({k: val[:, None] for k, val in g.items()}, t_out[None])
    pts[:, 48:55, 0] = t_out[None] * g["mouth_w"][:, None]
    pts[:, 48:55, 1] = up
    pts[:, 55:60, 0] = t_out[5:0:-1][None] * g["mouth_w"][:, None]
    pts[:, 55:60, 1] = lo[:, 5:0:-1]
    t_in = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    c2, up2, lo2 = _mouth_lines({k: val[:, None] for k, val in g.items()}, t_in[None])
    pts[:, 60:65, 0] = t_in[None] * g["mouth_w"][:, None]
    pts[:, 60:65, 1] = up2
    pts[:, 65:68, 0] = t_in[None, [3, 2, 1]] * g["mouth_w"][:, None]
    pts[:, 65:68, 1] = lo2[:, [3, 2, 1]]
    # pose: face units -> image units (inverse of the renderer's sampling transform)
    th = np.deg2rad(pose[:, 0])[:, None]
    sc = pose[:, 3][:, None]
    fu, fv = pts[..., 0] * sc, pts[..., 1] * sc
    x = np.cos(th) * fu - np.sin(th) * fv + pose[:, 1][:, None]
    y = np.sin(th) * fu + np.cos(th) * fv + pose[:, 2][:, None]
    return np.stack([x, y], axis=-1)
