"""Face sets as a torch ``Dataset``, the student's transforms, and seeded loaders.

Every image, grey or colour and of any size, becomes what the student reads: a float tensor of
grey pixels in [0, 1], shape ``(1, in_size, in_size)``. The student is trained on FERPlus's grey
faces, so **colour images are converted to grey** (ITU-R BT.601 luma, as PIL's ``"L"`` mode)
rather than fed as colour: a cross-dataset colour face (AffectNet, CK+) then reaches the student
in the form it was trained on. Faces are expected pre-cropped (as the datasets ship them); an
image that is not square is resized so that its shorter side is ``in_size`` and its centre square
is kept.

Training augmentation: random resized crop (scale 0.8-1, aspect 0.9-1.1), horizontal flip, rotation
by up to +-10 degrees (corners outside the rotated crop are 0), and, for colour images only,
brightness and contrast jitter (0.2). :func:`train_transform` does it one image at a time with
``torchvision.transforms.v2`` (colour jitter before the grey conversion); the loaders of
:func:`make_loader` do it to a whole batch at once (:class:`FaceBatches`): every image is decoded,
grey-converted and resized once, and each batch's crop, flip and rotation are one affine resampling
(``torch.nn.functional.grid_sample``, bilinear), the jitter one multiply-add, on the grey pixels
(a saturation jitter leaves the grey image unchanged, so it is not drawn). The random draws come
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

__all__ = ["FaceBatches", "FaceDataset", "eval_transform", "face_va", "make_loader", "soft_targets", "train_transform"]


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


class _FaceSetData(Dataset):
    """What both face datasets hold: the checked set, its labels, votes and (with ``va``) V/A, and its size."""

    def __init__(self, faceset: FaceSet, train: bool, in_size: int, va: bool):
        if not isinstance(faceset, FaceSet):
            raise TypeError(f"Invalid value for the 'faceset' parameter: expected a FaceSet, but got "
                            f"{type(faceset).__name__} instead.")
        self.faceset = faceset
        self.train = bool(train)
        self.in_size = check_positive_int("in_size", in_size)
        self.labels = torch.as_tensor(faceset.labels, dtype=torch.int64)
        self.soft = torch.as_tensor(soft_targets(faceset))
        self.va = torch.as_tensor(face_va(faceset)) if va else None

    def __len__(self) -> int:
        return len(self.faceset)


class FaceDataset(_FaceSetData):
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
        super().__init__(faceset, train, in_size, va)
        make = train_transform if self.train else eval_transform
        self.transforms = {False: make(self.in_size, colour=False), True: make(self.in_size, colour=True)}

    def __getitem__(self, i: int):
        img = _check_image(self.faceset.image(i), f"{self.faceset.dataset} image {i}")
        x = self.transforms[img.ndim == 3](img)
        x = x.as_subclass(torch.Tensor)
        if self.va is None:
            return x, self.labels[i], self.soft[i]
        return x, self.labels[i], self.soft[i], self.va[i]


class FaceBatches(_FaceSetData):
    """A :class:`~neuroaffect.io.faces.FaceSet` as whole batches: index it with a sequence of image indices.

    Every image is decoded and checked once, converted to grey, resized so that its shorter side is
    ``in_size`` and centre-cropped (:func:`eval_transform`), and kept as uint8 ``(n, 1, in_size,
    in_size)``. Training batches are augmented together (the module's notes): per image a random
    resized crop, flip and rotation as one affine map, and for colour images a brightness and contrast
    jitter.

    Parameters
    ----------
    faceset : FaceSet
    train : bool
        Augment (the random draws come from the torch RNG) or give the images as they are.
    in_size : int
        Side of the student's input, pixels.
    va : bool
        Also give each image's (valence, arousal) (:func:`face_va`), for image-mode Proto-KD.
    scale, ratio : (float, float)
        Area fraction and aspect ratio (width / height) of the random resized crop.
    rotation : float
        Largest rotation, degrees (either way).
    jitter : float
        Brightness and contrast jitter of colour images (factors drawn from ``[1 - jitter, 1 + jitter]``).

    Notes
    -----
    ``batches[idx]`` for a sequence ``idx`` of ``b`` indices is ``(x, y, p)``: ``x`` float32
    ``(b, 1, in_size, in_size)`` grey pixels in [0, 1], ``y`` int64 ``(b,)``, ``p`` float32 ``(b, 8)``
    (:func:`soft_targets`); with ``va=True`` also ``v`` float32 ``(b, 2)``. ``len()`` is the number of images.
    """

    def __init__(self, faceset: FaceSet, train: bool = False, *, in_size: int = DEFAULT_IN_SIZE, va: bool = False,
                 scale=(0.8, 1.0), ratio=(0.9, 1.1), rotation: float = 10.0, jitter: float = 0.2):
        super().__init__(faceset, train, in_size, va)
        lo, hi = (float(v) for v in scale)
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"Invalid value for the 'scale' parameter: expected 0 < low <= high <= 1, but got {scale!r}.")
        rlo, rhi = (float(v) for v in ratio)
        if not 0 < rlo <= rhi:
            raise ValueError(f"Invalid value for the 'ratio' parameter: expected 0 < low <= high, but got {ratio!r}.")
        self.scale, self.ratio = (lo, hi), (rlo, rhi)
        self.rotation, self.jitter = float(rotation), float(jitter)
        grey, colour = eval_transform(self.in_size, colour=False), eval_transform(self.in_size, colour=True)
        n = len(faceset)
        pixels = torch.empty((n, 1, self.in_size, self.in_size), dtype=torch.uint8)
        is_colour = torch.zeros(n, dtype=torch.bool)
        for i in range(n):
            img = _check_image(faceset.image(i), f"{faceset.dataset} image {i}")
            is_colour[i] = img.ndim == 3
            if img.shape == (self.in_size, self.in_size):  # grey at the input size already: the transform is a copy
                pixels[i, 0] = torch.from_numpy(img)
                continue
            x = (colour if img.ndim == 3 else grey)(img).as_subclass(torch.Tensor)
            pixels[i] = (x * 255.0).round_().to(torch.uint8)
        self.pixels, self.colour = pixels, is_colour

    def __getitem__(self, idx):
        idx = torch.as_tensor(idx, dtype=torch.int64).reshape(-1)
        x = self.pixels[idx].to(torch.float32).mul_(1.0 / 255.0)  # as v2.ToDtype(..., scale=True)
        if self.train and len(idx):
            x = self._augment(x, self.colour[idx])
        out = (x, self.labels[idx], self.soft[idx])
        return out if self.va is None else out + (self.va[idx],)

    def _augment(self, x: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
        """Crop, flip and rotate ``x`` (b, 1, S, S) in one resampling; jitter the colour images."""
        import torch.nn.functional as F

        b, S = x.shape[0], self.in_size
        u = torch.rand(b, 7)
        area = self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 0]
        log_r = np.log(self.ratio[0]) + (np.log(self.ratio[1]) - np.log(self.ratio[0])) * u[:, 1]
        w = torch.sqrt(area * torch.exp(log_r)).clamp(max=1.0)  # crop width and height, fractions of S
        h = torch.sqrt(area / torch.exp(log_r)).clamp(max=1.0)
        cx = (1.0 - w) * (2.0 * u[:, 2] - 1.0)  # crop centre, normalised coordinates ([-1, 1])
        cy = (1.0 - h) * (2.0 * u[:, 3] - 1.0)
        flip = torch.where(u[:, 4] < 0.5, -1.0, 1.0)
        theta = torch.deg2rad(self.rotation * (2.0 * u[:, 5] - 1.0))
        cos, sin = torch.cos(theta), torch.sin(theta)
        # output point p -> unrotated crop point q = R(-theta) p -> unflipped -> input point c + diag(w, h) q
        A = torch.zeros(b, 2, 3)
        A[:, 0, 0], A[:, 0, 1], A[:, 0, 2] = w * flip * cos, w * flip * sin, cx
        A[:, 1, 0], A[:, 1, 1], A[:, 1, 2] = -h * sin, h * cos, cy
        grid = F.affine_grid(A, (b, 1, S, S), align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        # the rotation's corners: output points whose unrotated crop point falls outside the crop are 0
        base = F.affine_grid(torch.eye(2, 3).expand(b, 2, 3), (b, 1, S, S), align_corners=False)
        qx = base[..., 0] * cos[:, None, None] + base[..., 1] * sin[:, None, None]
        qy = -base[..., 0] * sin[:, None, None] + base[..., 1] * cos[:, None, None]
        out = out * ((qx.abs() <= 1.0) & (qy.abs() <= 1.0)).unsqueeze(1)
        if self.jitter > 0 and bool(colour.any()):
            j = self.jitter
            bright = torch.where(colour, 1.0 + j * (2.0 * u[:, 6] - 1.0), 1.0)[:, None, None, None]
            out = (out * bright).clamp_(0.0, 1.0)
            contrast = torch.where(colour, 1.0 + j * (2.0 * torch.rand(b) - 1.0), 1.0)[:, None, None, None]
            mean = out.mean(dim=(1, 2, 3), keepdim=True)
            out = (mean + contrast * (out - mean)).clamp_(0.0, 1.0)
        return out


def make_loader(faceset: FaceSet, train: bool, batch_size: int = 128, seed: int = 0, num_workers: int = 0, *,
                in_size: int = DEFAULT_IN_SIZE, va: bool = False, augment: bool | None = None) -> DataLoader:
    """A ``DataLoader`` over a face set: shuffled and augmented for training, in order otherwise.

    Batches come whole from :class:`FaceBatches` (every image decoded once; a batch's augmentation in
    a few tensor operations), not image by image.

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
    augment : bool | None
        Augment the batches (:class:`FaceBatches`); ``None``: when ``train``. ``train=True,
        augment=False`` shuffles without augmenting (the demo's short training, ``docs/distillation.md``).

    Returns
    -------
    loader : torch.utils.data.DataLoader
        Batches ``(x (B, 1, in_size, in_size), y (B,), votes (B, 8))``, with ``va=True``
        ``(x, y, votes, va (B, 2))``.
    """
    from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

    check_positive_int("batch_size", batch_size)
    check_int("seed", seed, minimum=0)
    check_int("num_workers", num_workers, minimum=0)
    if augment is not None and not isinstance(augment, bool):
        raise TypeError(f"Invalid value for the 'augment' parameter: expected a bool or None, but got "
                        f"{type(augment).__name__} instead.")
    ds = FaceBatches(faceset, train=train if augment is None else augment, in_size=in_size, va=va)
    # a generator even without shuffling: a loader's iterator draws a seed from it, which would
    # otherwise come from (and advance) the global torch RNG that drives the augmentation
    gen = torch.Generator().manual_seed(int(seed))
    order = RandomSampler(ds, generator=gen) if train else SequentialSampler(ds)
    return DataLoader(ds, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None,
                      generator=gen, num_workers=num_workers, persistent_workers=False)
