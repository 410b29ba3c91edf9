"""Topographic maps as one matrix product.

``mne.viz.plot_topomap`` interpolates channel values onto an image grid by a Clough-Tocher
(``cubic``, its default) or piecewise-linear interpolant over a Delaunay triangulation of
the 2-D sensor layout plus extra points on a circle outside the head (``extrapolate='head'``,
its default for EEG), whose values are the mean of their neighbouring channels
(``border='mean'``). Every step is linear in the channel values, so for a fixed montage and
grid the whole map is ``W @ values`` with ``W`` of shape (H * W, n_chans): we obtain ``W``
once by interpolating the identity matrix (each channel's unit vector). The grid, the head
circle (radius 0.095 m scaled to hold every sensor), the extra points and the border rule
follow MNE's; :func:`make_topomap_grid` documents the details, and the tests compare the
maps with ``mne.viz.plot_topomap``'s image.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CloughTocher2DInterpolator, LinearNDInterpolator
from scipy.spatial import Delaunay

from .._utils import check_option
from ..channels import make_montage

__all__ = [
    "HEAD_RADIUS", "TopomapGrid", "make_topomap_grid", "topomap_grid_for_channels",
    "topomap_grid_for_positions", "make_topomaps",
]

#: Radius (m) of MNE's default head sphere, the head circle of its 2-D layouts.
HEAD_RADIUS = 0.095


@dataclass(frozen=True)
class TopomapGrid:
    """A precomputed interpolation from channels to an H x W image.

    Attributes
    ----------
    matrix : ndarray, shape (H * W, n_chans), float64
        Interpolation weights; rows of pixels outside the head are 0 (or NaN).
    inside : ndarray of bool, shape (H, W)
        Pixels inside the head circle.
    x : ndarray, shape (W,)
        Pixel x coordinates in metres (left to right ear axis, MNE's layout frame).
    y : ndarray, shape (H,)
        Pixel y coordinates in metres, increasing towards the nose (row 0 = back of head,
        as ``imshow(..., origin='lower')`` draws it).
    radius : float
        Head-circle radius in metres.
    """

    matrix: np.ndarray
    inside: np.ndarray
    x: np.ndarray
    y: np.ndarray
    radius: float

    @property
    def shape(self) -> tuple:
        return (self.y.size, self.x.size)


def _extra_points(pos: np.ndarray, radius: float):
    """MNE's ``extrapolate='head'`` points and the triangulation including them."""
    tri = Delaunay(pos, incremental=True)
    i1, i2, i3 = tri.simplices.T
    # median length of two of each triangle's edges, as MNE measures the electrode spacing
    dist = np.median(np.concatenate([
        np.linalg.norm(pos[i1] - pos[i2], axis=1), np.linalg.norm(pos[i2] - pos[i3], axis=1),
    ]))
    angle = np.arcsin(min(dist / radius, 1.0))
    n_pts = max(12, int(np.round(2 * np.pi / angle)))
    phi = np.linspace(0, 2 * np.pi, n_pts, endpoint=False)
    r = radius * 1.1 + dist
    extra = np.stack([np.cos(phi) * r, np.sin(phi) * r], axis=1)
    tri.add_points(extra)
    tri.close()
    return extra, tri


def _border_mean_matrix(tri, n_chans: int, n_extra: int) -> np.ndarray:
    """(n_extra, n_chans): each extra point's value = mean of its neighbouring channels."""
    indptr, indices = tri.vertex_neighbor_vertices
    out = np.zeros((n_extra, n_chans))
    used = np.zeros(n_extra, bool)
    for k in range(n_extra):
        ngb = indices[indptr[n_chans + k]:indptr[n_chans + k + 1]]
        ngb = ngb[ngb < n_chans]
        if ngb.size:
            out[k, ngb] = 1.0 / ngb.size
            used[k] = True
    if used.any() and not used.all():
        out[~used] = out[used].mean(axis=0)
    return out


def make_topomap_grid(pos2d, size=32, *, interp: str = "cubic", outside: str = "zero",
                      radius: float = HEAD_RADIUS) -> TopomapGrid:
    """Precompute the channel -> image interpolation matrix for a 2-D sensor layout.

    Parameters
    ----------
    pos2d : ndarray, shape (n_chans, 2)
        Sensor positions in metres as ``mne.viz.plot_topomap`` takes them (see
        :func:`neuroaffect.channels.get_layout_2d`).
    size : int | (int, int)
        Image height and width in pixels.
    interp : {'cubic', 'linear'}
        Clough-Tocher (MNE's default ``image_interp``) or piecewise-linear interpolant.
    outside : {'zero', 'nan'}
        Weight rows of pixels outside the head.
    radius : float
        Head radius (m) of the layout (MNE's default sphere: 0.095).

    Returns
    -------
    grid : TopomapGrid
        The pixels span [-R, R] on both axes, where R = ``radius`` enlarged to 1.01 x the
        farthest sensor when one lies outside the circle (MNE's ``clip_radius``); a pixel
        is inside when its centre lies within R of the origin.
    """
    check_option("interp", interp, ("cubic", "linear"))
    check_option("outside", outside, ("zero", "nan"))
    pos = np.asarray(pos2d, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2 or pos.shape[0] < 4:
        raise ValueError(f"pos2d must have shape (n_chans >= 4, 2), got shape {pos.shape}")
    if not np.isfinite(pos).all():
        raise ValueError("pos2d must hold finite positions")
    h, w = (size, size) if np.isscalar(size) else tuple(size)
    h, w = int(h), int(w)
    n = pos.shape[0]
    clip = radius * max(1.0, np.linalg.norm(pos, axis=1).max() * 1.01 / radius)
    x = np.linspace(-clip, clip, w)
    y = np.linspace(-clip, clip, h)
    xx, yy = np.meshgrid(x, y)
    extra, tri = _extra_points(pos, clip)
    values = np.concatenate([np.eye(n), _border_mean_matrix(tri, n, len(extra))])
    cls = CloughTocher2DInterpolator if interp == "cubic" else LinearNDInterpolator
    mat = cls(tri, values)(xx.ravel(), yy.ravel())  # (h * w, n)
    inside = (xx**2 + yy**2 <= clip**2)
    mat[~inside.ravel()] = np.nan if outside == "nan" else 0.0
    for arr in (mat, inside, x, y):
        arr.setflags(write=False)
    return TopomapGrid(matrix=mat, inside=inside, x=x, y=y, radius=float(clip))


def topomap_grid_for_channels(ch_names, size=32, interp: str = "cubic",
                              outside: str = "zero") -> TopomapGrid:
    """:func:`make_topomap_grid` for named channels, their layout computed as MNE computes it
    (:func:`neuroaffect.channels.get_layout_2d`); cached per (channels, size, interp, outside)."""
    size = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
    return _grid_for_channels(tuple(ch_names), size, interp, outside)


@functools.lru_cache(maxsize=32)
def _grid_for_channels(ch_names: tuple, size: tuple, interp: str, outside: str) -> TopomapGrid:
    from ..channels import get_layout_2d

    return make_topomap_grid(get_layout_2d(list(ch_names)), size, interp=interp, outside=outside)


def topomap_grid_for_positions(ch_names, pos, size=32, interp: str = "cubic",
                               outside: str = "zero") -> TopomapGrid:
    """:func:`make_topomap_grid` for channels at given 3-D positions (e.g. a montage's).

    Parameters
    ----------
    ch_names : sequence of str, length n_chans
    pos : ndarray, shape (n_chans, 3)
        Electrode positions in metres (MNE head frame), laid out in 2-D as MNE lays out a
        montage (as :func:`topomap_grid_for_channels` does for template positions).
    size, interp, outside
        As for :func:`make_topomap_grid`.

    Returns
    -------
    grid : TopomapGrid
        Cached per (channels, positions, size, interp, outside).
    """
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    if pos.shape != (len(ch_names), 3) or not np.isfinite(pos).all():
        raise ValueError(
            f"Invalid value for the 'pos' parameter. Expected finite positions of shape "
            f"({len(ch_names)}, 3), but got shape {pos.shape} instead."
        )
    size = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
    return _grid_for_positions(tuple(ch_names), pos.tobytes(), size, interp, outside)


@functools.lru_cache(maxsize=32)
def _grid_for_positions(ch_names: tuple, pos: bytes, size: tuple, interp: str,
                        outside: str) -> TopomapGrid:
    import mne
    from mne.channels.layout import _find_topomap_coords

    info = mne.create_info(list(ch_names), 128.0, "eeg")
    info.set_montage(make_montage(ch_names, pos=np.frombuffer(pos).reshape(-1, 3)))
    pos2d = np.asarray(_find_topomap_coords(info, picks=list(range(len(ch_names)))), dtype=np.float64)
    return make_topomap_grid(pos2d, size, interp=interp, outside=outside)


def make_topomaps(values, grid: TopomapGrid, dtype=np.float32) -> np.ndarray:
    """Interpolate channel values onto the grid: one matrix product.

    Parameters
    ----------
    values : ndarray, shape (..., n_chans)
        Channel values (NaN propagates to the whole map).
    grid : TopomapGrid
    dtype : numpy dtype
        Output dtype (float32 by default).

    Returns
    -------
    maps : ndarray, shape (..., H, W)
    """
    values = np.asarray(values)
    n = grid.matrix.shape[1]
    if values.shape[-1] != n:
        raise ValueError(f"values must end with the {n} channels of the grid, got shape {values.shape}")
    lead = values.shape[:-1]
    flat = np.ascontiguousarray(values.reshape(-1, n), dtype=dtype)
    out = flat @ grid.matrix.T.astype(dtype)
    return out.reshape(lead + grid.shape)
