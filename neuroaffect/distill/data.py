"""Face sets as a torch ``Dataset``, the student's transforms, and seeded loaders.

Every image, grey or colour and of any size, becomes what the student reads: a float tensor of
grey pixels in [0, 1], shape ``(1, in_size, in_size)``. The student is trained on FERPlus's grey
faces, so **colour images are converted to grey** (ITU-R BT.601 luma, as PIL's ``"L"`` mode)
rather than fed as colour: a cross-dataset colour face (AffectNet, CK+) then reaches the student
in the form it was trained on. Faces are expected pre-cropped (as the datasets ship them); an
image that is not square is resized so that its shorter side is ``in_size`` and its centre square
is kept.

Training augmentation (``torchvision.transforms.v2``): random resized crop (scale 0.8-1, aspect
0.9-1.1), horizontal flip, rotation by up to +-10 degrees, and, for colour images only, colour
jitter (brightness, contrast, saturation 0.2) before the grey conversion. The random draws come
from the torch RNG (the global one with ``num_workers=0``, which the training engine seeds and
checkpoints; worker RNGs otherwise, seeded from the loader's generator), so a seeded run is
reproducible and resumes exactly.

Image-mode Proto-KD (``docs/distillation.md``) reads each image's own (valence, arousal):
:func:`face_va` gives it (the set's V/A labels where it has them, else the vote-weighted class
anchors), and ``make_loader(..., va=True)`` adds it to every batch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .._utils import check_int, check_positive_int
from ..io.faces import FaceSet
from ..labels import FER_CLASSES
from .proto_kd import votes_va
from .student import DEFAULT_IN_SIZE

__all__ = ["FaceDataset", "eval_transform", "face_va", "make_loader", "soft_targets", "train_transform"]


def _v2():
    from torchvision.transforms import v2

    return v2


def train_transform(in_size: int = DEFAULT_IN_SIZE, colour: bool = False, *, scale=(0.8, 1.0), rotation: float = 10.0,
                    jitter: float = 0.2):
    """Augmentation of one uint8 image (ndarray (H, W) or (H, W, 3)) into a (1, in_size, in_size) float tensor.

    Parameters
    ----------
    in_size : int
        Output side, pixels.
    colour : bool
        The image is RGB: colour jitter, then grey conversion.
    scale : (float, float)
        Area fraction of the random resized crop.
    rotation : float
        Largest rotation, degrees (either way).
    jitter : float
        Brightness, contrast and saturation jitter of colour images.
    """
    v2 = _v2()
    in_size = check_positive_int("in_size", in_size)
    t = [v2.ToImage()]
    if colour:
        t += [v2.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter), v2.Grayscale(1)]
    t += [v2.Resize(in_size, antialias=True), v2.CenterCrop(in_size),
          v2.RandomResizedCrop(in_size, scale=tuple(scale), ratio=(0.9, 1.1), antialias=True),
          v2.RandomHorizontalFlip(), v2.RandomRotation(float(rotation)),
          v2.ToDtype(torch.float32, scale=True)]
    return v2.Compose(t)


def eval_transform(in_size: int = DEFAULT_IN_SIZE, colour: bool = False, *, crop: bool = True):
    """Deterministic transform of one uint8 image into a (1, in_size, in_size) float tensor in [0, 1].

    Colour is converted to grey; ``crop=True`` resizes the shorter side to ``in_size`` and keeps the
    centre square, ``crop=False`` resizes the whole image to ``in_size x in_size`` (distorting a
    non-square one).
    """
    v2 = _v2()
    in_size = check_positive_int("in_size", in_size)
    t = [v2.ToImage()]
    if colour:
        t.append(v2.Grayscale(1))
    t += ([v2.Resize(in_size, antialias=True), v2.CenterCrop(in_size)] if crop
          else [v2.Resize((in_size, in_size), antialias=True)])
    t.append(v2.ToDtype(torch.float32, scale=True))
    return v2.Compose(t)


def soft_targets(faceset: FaceSet) -> np.ndarray:
    """The set's vote distributions, rows renormalised to sum 1, shape (n, 8) float32.

    A set without ``soft_labels`` (and any all-zero row) gets the one-hot of its label.
    """
    n, C = len(faceset), len(FER_CLASSES)
    onehot = np.zeros((n, C), np.float32)
    onehot[np.arange(n), faceset.labels] = 1.0
    if faceset.soft_labels is None:
        return onehot
    s = faceset.soft_labels.astype(np.float64)
    tot = s.sum(1, keepdims=True)
    return np.where(tot > 0, s / np.where(tot > 0, tot, 1.0), onehot).astype(np.float32)


def face_va(faceset: FaceSet) -> np.ndarray:
    """Each image's (valence, arousal), the point of its image-mode Proto-KD target, shape (n, 2) float32.

    Where the set has V/A labels (``faceset.valence`` and ``.arousal`` not None, e.g. AffectNet) and
    both are finite, those; otherwise (FERPlus, CK+, or a missing value) the vote-weighted class
    anchors ``soft_targets(faceset)_i @ fer_va_anchors()`` (:func:`~neuroaffect.distill.proto_kd.votes_va`;
    a set without votes gets its class's anchor). Normalised units, as the grid's bin centres.

    Parameters
    ----------
    faceset : FaceSet

    Returns
    -------
    va : ndarray of float32, shape (n, 2)
    """
    va = votes_va(soft_targets(faceset))
    if faceset.valence is not None and faceset.arousal is not None:
        own = np.column_stack([faceset.valence, faceset.arousal]).astype(np.float64)
        keep = np.isfinite(own).all(1)
        va[keep] = own[keep]
    return va.astype(np.float32)


def _check_image(img: np.ndarray, where: str) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[-1] == 3)):
        raise ValueError(f"{where}: expected a uint8 image of shape (H, W) or (H, W, 3), but got {img.dtype} of shape "
                         f"{img.shape} instead.")
    # torch cannot wrap a read-only array (an image file's pixels through PIL are one) without a warning
    return img if img.flags.writeable else img.copy()


class FaceDataset(Dataset):
    """A :class:`~neuroaffect.io.faces.FaceSet` as ``(image, label, votes)`` or ``(image, label, votes, va)`` samples.

    Parameters
    ----------
    faceset : FaceSet
    train : bool
        Training augmentation (:func:`train_transform`) or the evaluation transform.
    in_size : int
        Side of the student's input, pixels.
    va : bool
        Also give each image's (valence, arousal) (:func:`face_va`), for image-mode Proto-KD.

    Notes
    -----
    Sample ``i`` is ``(x, y, p)``: ``x`` float32 ``(1, in_size, in_size)`` grey pixels in [0, 1],
    ``y`` int64 class index (FER_CLASSES order), ``p`` float32 ``(8,)`` vote distribution
    (:func:`soft_targets`: one-hot when the set has no votes); with ``va=True``, ``(x, y, p, v)``
    with ``v`` float32 ``(2,)`` the image's normalised (valence, arousal).
    """

    def __init__(self, faceset: FaceSet, train: bool = False, *, in_size: int = DEFAULT_IN_SIZE, va: bool = False):
        if not isinstance(faceset, FaceSet):
            raise TypeError(f"Invalid value for the 'faceset' parameter: expected a FaceSet, but got "
                            f"{type(faceset).__name__} instead.")
        self.faceset = faceset
        self.train = bool(train)
        self.in_size = check_positive_int("in_size", in_size)
        make = train_transform if self.train else eval_transform
        self.transforms = {False: make(self.in_size, colour=False), True: make(self.in_size, colour=True)}
        self.labels = torch.as_tensor(faceset.labels, dtype=torch.int64)
        self.soft = torch.as_tensor(soft_targets(faceset))
        self.va = torch.as_tensor(face_va(faceset)) if va else None

    def __len__(self) -> int:
        return len(self.faceset)

    def __getitem__(self, i: int):
        img = _check_image(self.faceset.image(i), f"{self.faceset.dataset} image {i}")
        x = self.transforms[img.ndim == 3](img)
        x = x.as_subclass(torch.Tensor)
        if self.va is None:
            return x, self.labels[i], self.soft[i]
        return x, self.labels[i], self.soft[i], self.va[i]


def make_loader(faceset: FaceSet, train: bool, batch_size: int = 128, seed: int = 0, num_workers: int = 0, *,
                in_size: int = DEFAULT_IN_SIZE, va: bool = False) -> DataLoader:
    """A ``DataLoader`` over a face set: shuffled and augmented for training, in order otherwise.

    Parameters
    ----------
    faceset : FaceSet
    train : bool
        Shuffle (with a ``torch.Generator`` seeded with ``seed``, whose state the training engine
        checkpoints) and augment; ``False``: the set in order, evaluation transform.
    batch_size : int
    seed : int
        Seed of the loader's generator (the shuffling order; without shuffling it only keeps the
        loader from drawing on the global torch RNG).
    num_workers : int
        Worker processes (0: load in the main process).
    in_size : int
        Side of the student's input, pixels.
    va : bool
        Add each image's (valence, arousal) (:func:`face_va`) to the batches (image-mode Proto-KD).

    Returns
    -------
    loader : torch.utils.data.DataLoader
        Batches ``(x (B, 1, in_size, in_size), y (B,), votes (B, 8))``, with ``va=True``
        ``(x, y, votes, va (B, 2))``.
    """
    check_positive_int("batch_size", batch_size)
    check_int("seed", seed, minimum=0)
    check_int("num_workers", num_workers, minimum=0)
    ds = FaceDataset(faceset, train=train, in_size=in_size, va=va)
    # a generator even without shuffling: a loader's iterator draws a seed from it, which would
    # otherwise come from (and advance) the global torch RNG that drives the augmentation
    gen = torch.Generator().manual_seed(int(seed))
    return DataLoader(ds, batch_size=batch_size, shuffle=bool(train), generator=gen, num_workers=num_workers,
                      drop_last=False, persistent_workers=False)
