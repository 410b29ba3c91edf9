"""Predicting expressions (and valence/arousal through the grid) for the faces in images.

:func:`predict_faces` finds the faces in each image first (``detect=True``, the default): MTCNN's
boxes and eye landmarks (:mod:`neuroaffect.distill.detect`), each face rotated so that its eyes
are level, cut out square around its box and resized to the student's input; one row per face,
with its box in pixels of the original image, and the images with no face listed. With
``detect=False`` each image is taken as a **pre-cropped face** (as the datasets ship them): the
shorter side resized to the student's ``in_size`` and the centre square kept (``crop=True``), or
the whole image resized to a square (``crop=False``). Either way the student reads grey pixels
(colour converted with ITU-R BT.601 luma, as in training), resized with area averaging (OpenCV
``INTER_AREA``).

The student runs with PyTorch (an :class:`~neuroaffect.distill.FERStudent`) or, through
:func:`load_predictor`, with ONNX Runtime on the export's ``model.onnx`` when the export's
checksums hold (``config.json`` records the ONNX file's): no torch is imported then, which is what
makes ``predict-faces`` start in about a second.
Design and limits: ``docs/distillation.md``, "Predicting faces".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_option, check_positive_int, check_real, config_hash, \
    load_json_bounded, sha256_file
from ..io.faces import read_face_image
from ..prototypes.io import PrototypeGrid, load_grid
from .detect import face_inputs

__all__ = ["TEMPERATURE_RANGE", "FacePrediction", "OnnxStudent", "as_images", "load_predictor", "predict_faces",
           "read_photo"]

#: Accepted soft-assignment temperatures (cosine units): below 1e-3 the softmax of cosines in [-1, 1]
#: is a hard arg-max that underflows to NaN near 1e-308; above 100 every bin weighs the same.
TEMPERATURE_RANGE = (1e-3, 100.0)


@dataclass
class FacePrediction:
    """What :func:`predict_faces` returns: one row per face.

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
    image : ndarray of int64, shape (n,)
        Index of the input image each face was found in (rows in image order, then left to right).
    boxes : ndarray of int64, shape (n, 4)
        ``(x, y, w, h)`` of each face in pixels of its image; the whole image for pre-cropped faces.
    scores : ndarray of float64, shape (n,)
        The detector's confidence; NaN for pre-cropped faces.
    n_images : int
        Number of input images.
    no_face : tuple of int
        Indices of the images in which no face was found (always empty with ``detect=False``).
    """

    proba: np.ndarray
    labels: np.ndarray
    class_names: tuple
    valence_arousal: np.ndarray | None
    bin_weights: np.ndarray | None
    embedding: np.ndarray
    image: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    n_images: int
    no_face: tuple


def _as_uint8(img, where: str) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] != 3) or a.size == 0:
        raise ValueError(f"{where}: expected an image of shape (H, W) or (H, W, 3), but got shape {a.shape} instead.")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or a.min() < 0.0 or a.max() > 1.0:
            raise ValueError(f"{where}: expected float pixels in [0, 1] (or uint8), but got values in "
                             f"[{np.nanmin(a)}, {np.nanmax(a)}] instead.")
        return np.round(a * 255.0).astype(np.uint8)
    raise ValueError(f"{where}: expected uint8 pixels or floats in [0, 1], but got dtype {a.dtype} instead.")


#: EXIF orientation (tag 0x0112) -> the operation that shows the stored pixels upright, as Pillow's
#: ``ImageOps.exif_transpose`` does (2: mirrored, 3: upside down, 6 and 8: a camera held sideways, ...).
_EXIF_UPRIGHT = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1], 5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 2).swapaxes(0, 1), 8: lambda a: np.rot90(a, 1),
}


def read_photo(fname) -> np.ndarray:
    """A photograph as a viewer shows it: :func:`~neuroaffect.io.faces.read_face_image`, then its EXIF
    orientation applied (phones store a portrait sideways and say so in EXIF; the detector finds upright
    faces only). Boxes are then in pixels of the upright image. A missing or unreadable EXIF block
    leaves the pixels as stored.

    Returns
    -------
    image : ndarray of uint8, shape (H, W) or (H, W, 3)
    """
    from PIL import Image

    from ..io.faces._files import IMAGE_FORMATS, open_regular

    img = read_face_image(fname)
    try:
        with open_regular(fname, "an image file") as f, Image.open(f, formats=IMAGE_FORMATS) as im:
            orientation = im.getexif().get(0x0112, 1)
    except (OSError, ValueError, SyntaxError, EOFError):  # EXIF is optional: the pixels were read above
        return img
    op = _EXIF_UPRIGHT.get(orientation)
    return img if op is None else np.ascontiguousarray(op(img))


def as_images(images) -> list:
    """Images given as paths, arrays or a stacked array -> list of uint8 arrays (H, W) or (H, W, 3).

    ``images`` is a path, an array, or a list mixing paths and arrays. A 2-d array is one grey
    image; a 3-d array ending in 3 is one colour image, any other 3-d array a stack of grey images
    ``(n, H, W)``; a 4-d array a stack of colour images ``(n, H, W, 3)``. Arrays are uint8 or floats
    in [0, 1]. Files are read by :func:`read_photo`: regular files only (a FIFO is refused without
    being read), at most :data:`~neuroaffect.io.faces.MAX_FACE_PIXELS` pixels (checked before
    decoding), turned upright by their EXIF orientation.
    """
    if isinstance(images, (str, Path)):
        return [_as_uint8(read_photo(images), str(images))]
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
    return [_as_uint8(read_photo(a) if isinstance(a, (str, Path)) else a, f"image {i}")
            for i, a in enumerate(items)]


class OnnxStudent:
    """An exported student run by ONNX Runtime: what :func:`predict_faces` needs of a model, without torch.

    Built by :func:`load_predictor` from an export folder whose ``model.onnx`` it has checked.

    Attributes
    ----------
    in_size, proj_dim : int
    class_names : tuple of str
    grid_sha256 : str | None
        The prototype grid the student was trained against (from ``config.json``).
    export_config : dict
        The export's ``config.json``.
    """

    def __init__(self, session, config: dict):
        self.session = session
        self.export_config = config
        kw = config["kwargs"]
        self.in_size = int(kw["in_size"])
        self.proj_dim = int(kw["proj_dim"])
        self.class_names = tuple(config["class_names"])
        self.grid_sha256 = config.get("grid_sha256")
        self.backend_note = None
        shapes = {a.name: list(a.shape) for a in (*session.get_inputs(), *session.get_outputs())}
        want = {"pixels": [1, self.in_size, self.in_size], "logits": [len(self.class_names)],
                "embedding": [self.proj_dim]}
        if any(shapes.get(k, [None])[-len(v):] != v for k, v in want.items()):
            raise ValueError(f"the ONNX file's inputs and outputs {shapes} do not fit the config ({want})")

    def __call__(self, x: np.ndarray):
        """Pixels float32 ``(B, 1, in_size, in_size)`` in [0, 1] -> (logits ``(B, 8)``, embedding ``(B, D)``)."""
        logits, emb = self.session.run(["logits", "embedding"], {"pixels": np.ascontiguousarray(x, np.float32)})
        return logits, emb


def _onnx_student(folder: Path):
    """An :class:`OnnxStudent` for the export in ``folder``, or the reason why its ONNX file is not run.

    The file is run only when the export is whole: ``config.json`` matches its ``config_sha256``, and
    ``model.onnx``, ``model.safetensors`` and ``README.md`` are the files it records (``onnx_sha256``,
    ``weights_sha256``, ``card_sha256``; ``export_onnx`` records the ONNX file's only when it holds the
    export's weights). Anything else goes to :func:`~neuroaffect.distill.load_student`, which refuses
    or loads it.
    """
    import hashlib

    onnx_path, cfg_path = folder / "model.onnx", folder / "config.json"
    if not onnx_path.is_file():
        return None, "the export has no model.onnx"
    try:
        import onnxruntime as ort
    except ImportError as err:
        return None, f"{err.name} is not installed (pip install 'neuroaffect[onnx]')"
    try:
        config = load_json_bounded(cfg_path, "a JSON config", max_bytes=16 << 20)
    except DatasetFormatError as err:
        return None, str(err)
    if not isinstance(config, dict) or config.get("config_sha256") != config_hash(
            {k: v for k, v in config.items() if k != "config_sha256"}):
        return None, f"{cfg_path} does not match its config_sha256"
    blob = onnx_path.read_bytes()  # checked and run from the same bytes
    if hashlib.sha256(blob).hexdigest() != config.get("onnx_sha256"):
        return None, f"{onnx_path} is not the file {cfg_path.name} records (onnx_sha256)"
    for name, key in (("model.safetensors", "weights_sha256"), ("README.md", "card_sha256")):
        if not (folder / name).is_file() or sha256_file(folder / name) != config.get(key):
            return None, f"{folder / name} is not the file {cfg_path.name} records ({key})"
    try:
        return OnnxStudent(ort.InferenceSession(blob, providers=["CPUExecutionProvider"]), config), None
    except Exception as err:  # onnxruntime's own types for a file it cannot run; a malformed config's fields
        return None, f"{onnx_path} could not be loaded ({type(err).__name__}: {str(err)[:200]})"


def load_predictor(path, *, backend: str = "auto"):
    """The student of an export folder, ready for :func:`predict_faces`.

    Parameters
    ----------
    path : path-like
        The export folder of ``export-student`` (or its ``config.json``).
    backend : {'auto', 'onnx', 'torch'}
        ``'onnx'``: ONNX Runtime on ``model.onnx`` (no torch), once the export's checksums hold
        (``config.json``'s own, and those it records of ``model.onnx``, the weights and the card);
        ``'torch'``: :func:`~neuroaffect.distill.load_student`; ``'auto'``: ONNX when it can be used,
        else torch.

    Returns
    -------
    model : OnnxStudent | FERStudent
        ``model.backend_note`` says why ``'auto'`` fell back to torch (None otherwise).

    Raises
    ------
    DatasetFormatError
        ``backend='onnx'`` and the ONNX file cannot be used (the reason named), or any refusal of
        :func:`~neuroaffect.distill.load_student`.
    """
    check_option("backend", backend, ("auto", "onnx", "torch"))
    path = Path(path)
    folder = path.parent if path.name == "config.json" else path
    note = "backend='torch' was asked for"
    if backend != "torch":
        model, note = _onnx_student(folder)
        if model is not None:
            return model
        if backend == "onnx":
            raise DatasetFormatError(folder / "model.onnx", "the export's own ONNX file, usable by ONNX Runtime", note)
    from .export import load_student

    model = load_student(path)
    model.backend_note = note
    return model


def _check_grid(model, grid):
    if grid is not None and not isinstance(grid, PrototypeGrid):
        grid = load_grid(grid)
    if grid is None:
        return None
    if grid.dim != model.proj_dim:
        raise ValueError(f"Invalid value for the 'grid' parameter: the student's embedding is {model.proj_dim}-d, "
                         f"but the grid's prototypes are {grid.dim}-d.")
    known = hasattr(model, "grid_sha256")  # set by train_student, load_student and load_predictor
    want = getattr(model, "grid_sha256", None)
    if known and want is None:
        raise ValueError("Invalid value for the 'grid' parameter: the student was trained without a prototype grid "
                         "(an arm without Proto-KD), so its embedding says nothing about valence and arousal; "
                         "pass grid=None.")
    if known and grid.sha256 != want:
        raise ValueError(f"Invalid value for the 'grid' parameter: the student was trained against the grid with "
                         f"prototypes sha256 {want}, but got a grid with sha256 {grid.sha256} instead.")
    return grid


def _forward(model, x: np.ndarray, batch_size: int, device):
    """Logits and embeddings (float32 numpy) of pixels ``x`` (n, 1, S, S) in [0, 1], in batches."""
    if isinstance(model, OnnxStudent):
        outs = [model(x[s:s + batch_size]) for s in range(0, len(x), batch_size)]
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])
    import torch

    from ..training import predict, resolve_device
    from .student import StudentOutputs

    dev = device if isinstance(device, torch.device) else resolve_device(device)
    out = predict(StudentOutputs(model), np.ascontiguousarray(x, dtype=np.float32), device=dev,
                  batch_size=batch_size, amp=False)[0]
    return out["logits"], out["embedding"]


def predict_faces(model, images, grid=None, temperature: float = 0.1, *, detect: bool = True, crop: bool = True,
                  min_score: float = 0.9, batch_size: int = 256, device: str = "cpu") -> FacePrediction:
    """Expression probabilities, and valence/arousal through the prototype grid, for the faces in images.

    Parameters
    ----------
    model : FERStudent | OnnxStudent
        A trained student (:func:`~neuroaffect.distill.load_student` or :func:`load_predictor`).
    images : path-like | ndarray | list
        Photographs (``detect=True``) or pre-cropped faces, grey or colour, any size (see
        :func:`as_images`).
    grid : PrototypeGrid | path-like | None
        The grid the student was trained against. When the student records its grid
        (``model.grid_sha256``, set by ``train_student``, ``load_student`` and ``load_predictor``), a
        grid with another checksum is refused, and so is any grid for a student trained without one.
    temperature : float
        Temperature of the soft assignment (cosine units), in :data:`TEMPERATURE_RANGE`.
    detect : bool
        Find, level and crop the faces first (one row per face), or take each image as one
        pre-cropped face (one row per image).
    crop : bool
        Pre-cropped faces only: keep the centre square (``True``) or squash the whole image.
    min_score : float
        The detector's smallest confidence kept, in [0, 1].
    batch_size : int
    device : str
        Where a PyTorch student runs (the model is moved there); ignored by an ONNX student.

    Returns
    -------
    prediction : FacePrediction
        ``prediction.no_face`` lists the images in which no face was found (no row for them).

    Notes
    -----
    Valence/arousal: with ``e`` the student's unit-norm embedding of a face, ``p_k`` the unit-norm
    prototypes and ``c_k`` the bin centres (``grid.bin_centres()``, (valence, arousal)),

    ``s_k = cos(e, p_k)``, ``w = softmax(s / temperature)`` over the bins, ``(v, a) = sum_k w_k c_k``:

    the bin centres weighted by the soft assignment of the embedding to the prototypes, in the grid's
    normalised units. It is a weighted mean of centres, so it lies inside their convex hull, and a
    higher ``temperature`` pulls it toward the grid's centre.
    """
    temperature = check_real("temperature", temperature, *TEMPERATURE_RANGE)
    min_score = check_real("min_score", min_score, 0.0, 1.0)
    batch_size = check_positive_int("batch_size", batch_size)
    imgs = as_images(images)
    grid = _check_grid(model, grid)
    pixels, image, boxes, scores, no_face = face_inputs(imgs, model.in_size, detect=detect, crop=crop,
                                                        min_score=min_score)
    x = (pixels[:, None].astype(np.float32) / np.float32(255.0))
    if len(x):
        logits, emb = _forward(model, x, batch_size, device)
    else:
        logits, emb = np.zeros((0, len(model.class_names)), np.float32), np.zeros((0, model.proj_dim), np.float32)
    if not np.all(np.isfinite(logits)):
        raise ValueError("The student's logits are not finite (NaN or infinite weights in the export?).")
    z = np.exp(logits.astype(np.float64) - logits.max(1, keepdims=True, initial=-np.inf))
    proba = (z / z.sum(1, keepdims=True)).astype(np.float32)
    va = w = None
    if grid is not None:
        protos = grid.as_array().astype(np.float64)
        protos /= np.linalg.norm(protos, axis=1, keepdims=True)
        e = emb.astype(np.float64)
        s = (e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)) @ protos.T / temperature
        w = np.exp(s - s.max(1, keepdims=True, initial=-np.inf))
        w /= w.sum(1, keepdims=True)
        va = w @ grid.bin_centres()
    return FacePrediction(proba=proba, labels=proba.argmax(1).astype(np.int64), class_names=tuple(model.class_names),
                          valence_arousal=va, bin_weights=w, embedding=emb.astype(np.float32), image=image,
                          boxes=boxes, scores=scores, n_images=len(imgs), no_face=no_face)
