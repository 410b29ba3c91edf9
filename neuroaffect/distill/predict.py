"""Predicting expressions (and valence/arousal through the grid) for face images.

:func:`predict_faces` takes **pre-cropped faces** (a face filling the image, as the datasets ship
them); it runs no face detector. Each image is turned into the student's input by the evaluation
transform of :mod:`neuroaffect.distill.data`: colour converted to grey (BT.601 luma), the shorter
side resized to the student's ``in_size`` and the centre square kept (``crop=True``; a simple
centre crop to square), or the whole image resized to a square (``crop=False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._utils import check_positive_int, check_real
from ..io.faces import read_image
from ..prototypes.io import PrototypeGrid, load_grid
from ..training.config import resolve_device
from .data import eval_transform

__all__ = ["FacePrediction", "as_images", "predict_faces"]


@dataclass
class FacePrediction:
    """What :func:`predict_faces` returns.

    Attributes
    ----------
    proba : ndarray of float32, shape (n, 8)
        Class probabilities (softmax of the logits), FER_CLASSES order.
    labels : ndarray of int64, shape (n,)
        Most probable class.
    class_names : tuple of str
    valence_arousal : ndarray of float64, shape (n, 2) | None
        Predicted (valence, arousal) in the grid's normalised units ([-1, 1]), with a grid.
    bin_weights : ndarray of float64, shape (n, n_bins) | None
        The soft assignment to the grid's bins (rows sum to 1), bins in (valence, arousal) order.
    embedding : ndarray of float32, shape (n, D)
        The student's unit-norm embeddings.
    """

    proba: np.ndarray
    labels: np.ndarray
    class_names: tuple
    valence_arousal: np.ndarray | None
    bin_weights: np.ndarray | None
    embedding: np.ndarray


def _as_uint8(img, where: str) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] != 3) or a.size == 0:
        raise ValueError(f"{where}: expected an image of shape (H, W) or (H, W, 3), but got shape {a.shape} instead.")
    if a.dtype == np.uint8:
        return a if a.flags.writeable else a.copy()  # torch warns on read-only arrays (PIL's pixels)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or a.min() < 0.0 or a.max() > 1.0:
            raise ValueError(f"{where}: expected float pixels in [0, 1] (or uint8), but got values in "
                             f"[{np.nanmin(a)}, {np.nanmax(a)}] instead.")
        return np.round(a * 255.0).astype(np.uint8)
    raise ValueError(f"{where}: expected uint8 pixels or floats in [0, 1], but got dtype {a.dtype} instead.")


def as_images(images) -> list:
    """Images given as paths, arrays or a stacked array -> list of uint8 arrays (H, W) or (H, W, 3).

    ``images`` is a path, an array, or a list mixing paths and arrays. A 2-d array is one grey
    image; a 3-d array ending in 3 is one colour image, any other 3-d array a stack of grey images
    ``(n, H, W)``; a 4-d array a stack of colour images ``(n, H, W, 3)``. Arrays are uint8 or floats
    in [0, 1].
    """
    if isinstance(images, (str, Path)):
        return [_as_uint8(read_image(images), str(images))]
    if isinstance(images, np.ndarray):
        if images.ndim == 2 or (images.ndim == 3 and images.shape[-1] == 3):
            return [_as_uint8(images, "image 0")]
        if images.ndim in (3, 4):
            return [_as_uint8(a, f"image {i}") for i, a in enumerate(images)]
        raise ValueError(f"Invalid value for the 'images' parameter: expected an array of 2 to 4 dimensions, but got "
                         f"shape {images.shape} instead.")
    try:
        items = list(images)
    except TypeError:
        raise ValueError(f"Invalid value for the 'images' parameter: expected paths or arrays, but got "
                         f"{type(images).__name__} instead.") from None
    if not items:
        raise ValueError("Invalid value for the 'images' parameter: expected at least one image, but got none.")
    return [_as_uint8(read_image(a) if isinstance(a, (str, Path)) else a, f"image {i}") for i, a in enumerate(items)]


@torch.no_grad()
def predict_faces(model, images, grid=None, temperature: float = 0.1, *, crop: bool = True, batch_size: int = 256,
                  device: str = "cpu") -> FacePrediction:
    """Expression probabilities, and valence/arousal through the prototype grid, for face images.

    Parameters
    ----------
    model : FERStudent
        A trained student (e.g. :func:`~neuroaffect.distill.load_student`).
    images : path-like | ndarray | list
        Pre-cropped faces, grey or colour, any size (see :func:`as_images`).
    grid : PrototypeGrid | path-like | None
        The grid the student was trained against. When the student records its grid
        (``model.grid_sha256``, set by ``train_student`` and ``load_student``), a grid with another
        checksum is refused, and so is any grid for a student trained without one.
    temperature : float
        Temperature of the soft assignment (cosine units).
    crop : bool
        Keep the centre square (``True``) or squash the whole image to a square.
    batch_size : int
    device : str
        Where the forward pass runs (the model is moved there).

    Returns
    -------
    prediction : FacePrediction

    Notes
    -----
    Valence/arousal: with ``e`` the student's unit-norm embedding of a face, ``p_k`` the unit-norm
    prototypes and ``c_k`` the bin centres (``grid.bin_centres()``, (valence, arousal)),

    ``s_k = cos(e, p_k)``, ``w = softmax(s / temperature)`` over the bins, ``(v, a) = sum_k w_k c_k``:

    the bin centres weighted by the soft assignment of the embedding to the prototypes, in the grid's
    normalised units. It is a weighted mean of centres, so it lies inside their convex hull, and a
    higher ``temperature`` pulls it toward the grid's centre.
    """
    temperature = check_real("temperature", temperature, 0.0, None, low_open=True)
    batch_size = check_positive_int("batch_size", batch_size)
    imgs = as_images(images)
    if grid is not None and not isinstance(grid, PrototypeGrid):
        grid = load_grid(grid)
    if grid is not None:
        if grid.dim != model.proj_dim:
            raise ValueError(f"Invalid value for the 'grid' parameter: the student's embedding is {model.proj_dim}-d, "
                             f"but the grid's prototypes are {grid.dim}-d.")
        known = hasattr(model, "grid_sha256")  # set by train_student and load_student
        want = getattr(model, "grid_sha256", None)
        if known and want is None:
            raise ValueError("Invalid value for the 'grid' parameter: the student was trained without a prototype grid "
                             "(an arm without Proto-KD), so its embedding says nothing about valence and arousal; "
                             "pass grid=None.")
        if known and grid.sha256 != want:
            raise ValueError(f"Invalid value for the 'grid' parameter: the student was trained against the grid with "
                             f"prototypes sha256 {want}, but got a grid with sha256 {grid.sha256} instead.")
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    tf = {c: eval_transform(model.in_size, colour=c, crop=crop) for c in (False, True)}
    was = model.training
    model.to(dev).eval()
    logits, emb = [], []
    try:
        for s in range(0, len(imgs), batch_size):
            x = torch.stack([tf[im.ndim == 3](im).as_subclass(torch.Tensor) for im in imgs[s:s + batch_size]])
            out = model(x.to(dev))
            logits.append(out["logits"].float().cpu())
            emb.append(out["embedding"].float().cpu())
    finally:
        model.train(was)
    logits, emb = torch.cat(logits), torch.cat(emb)
    proba = torch.softmax(logits, dim=-1).numpy()
    va = w = None
    if grid is not None:
        protos = torch.nn.functional.normalize(torch.as_tensor(grid.as_array(), dtype=torch.float64), dim=-1)
        sim = torch.nn.functional.normalize(emb.double(), dim=-1) @ protos.T
        w = torch.softmax(sim / temperature, dim=-1).numpy()
        va = w @ grid.bin_centres()
    return FacePrediction(proba=proba, labels=proba.argmax(1).astype(np.int64), class_names=tuple(model.class_names),
                          valence_arousal=va, bin_weights=w, embedding=emb.numpy())
