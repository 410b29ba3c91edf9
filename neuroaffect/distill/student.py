"""The face-expression student: a ResNet trained from scratch, with two heads.

Design: ``docs/distillation.md``. The student reads **grey** faces. Its input is a float tensor
of pixels in [0, 1], shape ``(B, 1, H, W)`` (grey) or ``(B, 3, H, W)``; three channels are first
reduced to grey with the ITU-R BT.601 luma weights (0.299, 0.587, 0.114), the weights PIL's ``"L"``
conversion and ``torchvision.transforms.v2.Grayscale`` use, so a grey image repeated to three
channels is left unchanged. The model then normalises the grey pixels with the constants it stores
(``(x - mean) / std``, ``mean = 0.5``, ``std = 0.25`` by default: a fixed map of [0, 1] onto about
[-2, 2], not dataset statistics) and repeats them to the three channels the ResNet stem expects.
Callers therefore feed **un-normalised** pixels in [0, 1] (what
``torchvision.transforms.v2.ToDtype(torch.float32, scale=True)`` gives); the exported ONNX graph
takes the same input.

Backbones (``arch``, :data:`ARCHS`):

- ``"resnet18"``, ``"resnet50"``: torchvision's, for the full configuration (GPU);
- ``"resnet8"``: a narrow CIFAR-style ResNet for CPU work (``backbones.ResNet8``): a 3 x 3 stem, three
  stages of one torchvision ``BasicBlock`` each (widths 32, 64, 128; strides 1, 2, 2), global average
  pooling; about 0.3 M parameters. A 48 x 48 face reaches its last stage at 12 x 12 (6 x 6 with the
  stride-2 stem the demo uses);
- ``"cnn3"``: the plain 3-block CNN of the small-CNN reference row (``backbones.SmallCNN``):
  (3 x 3 convolution, batch norm, ReLU, 2 x 2 max-pool) x 3 with widths 32, 64, 128, global average
  pooling; no residual connections, no stem.

Both small backbones first **standardise each image** (``backbones.ImageStandardize``: zero mean and unit
standard deviation over its own pixels), the contrast normalisation FER pipelines apply: the simulated
faces vary widely in brightness and contrast, and without it neither small network left chance within
the demo's budget (``docs/distillation.md``, "The demo's student"). The torchvision ResNets keep the
fixed normalisation alone.

Heads on the pooled features (128-d for ResNet-8 and the small CNN, 512-d for ResNet-18, 2048-d for
ResNet-50):

- ``final_layer``: ``Linear(features -> n_outputs)``, the 8 FERPlus logits;
- ``projector``: ``Linear(features -> proj_dim)`` followed by L2 normalisation: the embedding that
  is compared with the prototypes of the valence/arousal grid (cosine similarity).

Small inputs: FERPlus faces are 48 x 48. ImageNet's stem (7 x 7 convolution with stride 2 and a
max-pool) would shrink them to 12 x 12 before the first residual stage and to 2 x 2 at the last;
with ``small_input=True`` (the default for ``in_size <= 64``) the stem is a 3 x 3 convolution with
stride 1 and no max-pool, as in CIFAR-style ResNets, so a 48 x 48 face reaches the last stage at
6 x 6. Weights of an ImageNet-stem ResNet do not fit this stem. ResNet-8's stem is always a 3 x 3
convolution, with stride 1 when ``small_input`` and stride 2 otherwise; the small CNN has no stem and
ignores ``small_input``.

Memory layout: the convolutions run on channels-last (NHWC) tensors, weights and activations
alike (:meth:`FERStudent.set_memory_format`). It is the layout oneDNN's CPU convolutions work in;
on contiguous (NCHW) tensors every convolution's input, output and gradients are reordered to it
and back, which costs most where the feature maps are large (the small-input stem: ``layer1`` at
48 x 48). The layout changes only the order in which numbers sit in memory: the same model
computes the same outputs and gradients to float32 rounding. PyTorch's channels-last batch-norm
kernel rounds more than its NCHW one (about 4 times the relative error on one layer), and
training-mode gradients, which batch statistics of few images make ill-conditioned, amplify it:
with 4 images of 48 x 48 they lie about 0.3 % (in norm) from a float64 computation, against
0.04 % for NCHW. ``benchmarks/bench_student.py`` times both
layouts (about 1.1 to 1.4 times the images/s of NCHW on CPU).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .._utils import check_option, check_positive_int, check_real
from ..labels import FER_CLASSES
from .backbones import ResNet8, SmallCNN

__all__ = ["ARCHS", "DEFAULT_ARCH", "DEFAULT_IN_SIZE", "LUMA", "FERStudent", "StudentOutputs", "build_student"]

#: Backbones and the width of their pooled features.
ARCHS = {"resnet8": 128, "cnn3": 128, "resnet18": 512, "resnet50": 2048}
#: The backbones torchvision builds (``torchvision.models.<arch>``); the others are in :mod:`.backbones`.
TORCHVISION_ARCHS = ("resnet18", "resnet50")
#: The student's default backbone and input side in pixels (FERPlus faces are 48 x 48): the one place they
#: are spelled; the trainer, the loaders and the command line take them from here.
DEFAULT_ARCH = "resnet18"
DEFAULT_IN_SIZE = 48
#: ITU-R BT.601 luma weights (R, G, B): colour input is reduced to grey with these.
LUMA = (0.299, 0.587, 0.114)


def _backbone(arch: str, small_input: bool) -> nn.Module:
    """The backbone of ``arch`` (pooled features out), with the stem ``small_input`` asks for."""
    if arch == "resnet8":
        return ResNet8(stem_stride=1 if small_input else 2)
    if arch == "cnn3":
        return SmallCNN()
    from torchvision import models as tvm

    backbone = getattr(tvm, arch)(weights=None)
    if small_input:
        backbone.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(backbone.conv1.weight, mode="fan_out", nonlinearity="relu")
        backbone.maxpool = nn.Identity()
    backbone.fc = nn.Identity()
    return backbone


class FERStudent(nn.Module):
    """Face-expression student (ResNet-8/18/50 or the small CNN) with a class head and a prototype projection.

    Parameters
    ----------
    n_outputs : int
        Number of logits (8: :data:`neuroaffect.labels.FER_CLASSES`).
    arch : {"resnet8", "cnn3", "resnet18", "resnet50"}
        Backbone (see the module docstring), randomly initialised following the global torch seed
        (torchvision's with ``weights=None``).
    proj_dim : int
        Width D of the embedding (the prototype grid's dimension).
    in_size : int
        Side of the square input the student is trained on, pixels (48 for FERPlus). Other sizes
        run (the pooling is adaptive) but are outside what it was trained on.
    small_input : bool | None
        3 x 3 stride-1 stem without max-pool (ResNet-8: stride 1 rather than 2; the small CNN: no
        effect; see the module docstring); ``None``: ``in_size <= 64``.
    mean, std : float
        Normalisation of the grey pixels inside the model, ``(x - mean) / std``.
    weights : path-like | None
        Optional ``state_dict`` file (``torch.save``; loaded with ``weights_only=True``): either a
        whole :class:`FERStudent`'s (keys ``backbone.*``, ``final_layer.*``, ``projector.*``) or a
        backbone's (a torchvision ResNet's of the same architecture and stem, whose ``fc.*`` is
        ignored). ``None``:
        trained from scratch.

    Attributes
    ----------
    config : dict
        The constructor arguments (without ``weights``): what rebuilds the model
        (``FERStudent(**config)``); the export records it.
    num_features : int
        Width of :meth:`forward_features`.
    class_names : tuple of str
        The FERPlus classes (when ``n_outputs == 8``).

    Notes
    -----
    ``forward(x)`` returns the logits (B, n_outputs), as timm models do; the pooled features come
    from :meth:`forward_features`, the embedding (B, proj_dim) from :meth:`project` of them, and
    both outputs of one pass from :meth:`forward_outputs`. :class:`StudentOutputs` is the module
    whose forward is that dict: :func:`neuroaffect.training.fit` trains it (the loss gets each
    entry with a leading model axis) and :func:`neuroaffect.distill.predict_outputs` runs it through
    :func:`neuroaffect.training.predict`.
    """

    def __init__(self, n_outputs: int = len(FER_CLASSES), *, arch: str = DEFAULT_ARCH, proj_dim: int = 128,
                 in_size: int = DEFAULT_IN_SIZE, small_input: bool | None = None, mean: float = 0.5, std: float = 0.25,
                 weights=None):
        super().__init__()
        self.n_outputs = check_positive_int("n_outputs", n_outputs)
        check_option("arch", arch, tuple(ARCHS))
        self.proj_dim = check_positive_int("proj_dim", proj_dim)
        self.in_size = check_positive_int("in_size", in_size)
        if small_input is None:
            small_input = self.in_size <= 64
        if not isinstance(small_input, bool):
            raise ValueError(f"Invalid value for the 'small_input' parameter: expected a bool or None, but got "
                             f"{small_input!r} instead.")
        mean = check_real("mean", mean)
        std = check_real("std", std, 0.0, None, low_open=True)
        self.arch = arch
        self.small_input = small_input
        self.config = {"n_outputs": self.n_outputs, "arch": arch, "proj_dim": self.proj_dim, "in_size": self.in_size,
                       "small_input": small_input, "mean": mean, "std": std}
        self.class_names = FER_CLASSES if self.n_outputs == len(FER_CLASSES) else tuple(
            f"class_{k}" for k in range(self.n_outputs))

        self.backbone = _backbone(arch, small_input)
        self.num_features = ARCHS[arch]
        self.final_layer = nn.Linear(self.num_features, self.n_outputs)
        self.projector = nn.Linear(self.num_features, self.proj_dim)
        self.register_buffer("luma", torch.tensor(LUMA).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_mean", torch.tensor(mean), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std), persistent=False)
        self.memory_format = torch.contiguous_format
        self.set_memory_format(torch.channels_last)
        if weights is not None:
            self.load_weights(weights)

    def set_memory_format(self, memory_format: torch.memory_format) -> FERStudent:
        """Hold the convolution weights, and run the backbone, in ``memory_format``; returns ``self``.

        ``torch.channels_last`` (the default, the faster on CPU) or ``torch.contiguous_format``
        (the plain layout). Outputs and gradients do not depend on it beyond float rounding.
        """
        if memory_format not in (torch.channels_last, torch.contiguous_format):
            raise ValueError(f"Invalid value for the 'memory_format' parameter: expected torch.channels_last or "
                             f"torch.contiguous_format, but got {memory_format!r} instead.")
        self.memory_format = memory_format
        self.backbone.to(memory_format=memory_format)
        return self

    # --- input ----------------------------------------------------------------------------

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1], ``(B, 1 or 3, H, W)`` -> normalised grey repeated to ``(B, 3, H, W)``."""
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"{type(self).__name__} expected pixels of shape (B, 1, H, W) or (B, 3, H, W), but got "
                             f"shape {tuple(x.shape)} instead.")
        if not torch.is_floating_point(x):
            raise ValueError(f"{type(self).__name__} expected float pixels in [0, 1], but got dtype {x.dtype} "
                             "instead (convert uint8 images with "
                             "torchvision.transforms.v2.ToDtype(torch.float32, scale=True)).")
        if x.shape[1] == 3:
            x = (x * self.luma.to(x.dtype)).sum(1, keepdim=True)
        x = (x - self.pixel_mean.to(x.dtype)) / self.pixel_std.to(x.dtype)
        x = x.expand(-1, 3, -1, -1)
        return x.contiguous(memory_format=torch.channels_last) if self.memory_format == torch.channels_last else x

    # --- the forward pass in parts ----------------------------------------------------------

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features, shape (B, num_features), from pixels ``(B, 1 or 3, H, W)`` in [0, 1]."""
        return self.backbone(self.prepare(x))

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits (B, n_outputs) from pooled features; ``pre_logits=True`` returns the features unchanged."""
        return feats if pre_logits else self.final_layer(feats)

    def project(self, feats: torch.Tensor) -> torch.Tensor:
        """Unit-norm embedding (B, proj_dim) of pooled features, compared with the prototypes by cosine."""
        return F.normalize(self.projector(feats), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_outputs) from pixels ``(B, 1 or 3, H, W)`` in [0, 1]."""
        return self.forward_head(self.forward_features(x))

    def forward_outputs(self, x: torch.Tensor) -> dict:
        """``{"logits": (B, n_outputs), "embedding": (B, proj_dim)}`` from one pass of the backbone over pixels
        ``(B, 1 or 3, H, W)`` in [0, 1]: what the distillation loss needs."""
        f = self.forward_features(x)
        return {"logits": self.forward_head(f), "embedding": self.project(f)}

    # --- weights ----------------------------------------------------------------------------

    def load_weights(self, fname) -> None:
        """Load a ``state_dict`` file (see the ``weights`` parameter); ``ValueError`` naming what does not fit."""
        fname = Path(fname)
        try:
            sd = torch.load(fname, map_location="cpu", weights_only=True)
        except Exception as err:  # missing, truncated, or holding objects other than tensors
            raise ValueError(f"Invalid value for the 'weights' parameter: {fname} could not be loaded as a state_dict "
                             f"file ({type(err).__name__}: {err}).") from None
        if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
            raise ValueError(f"Invalid value for the 'weights' parameter: expected {fname} to hold a state_dict "
                             f"(a dict of tensors), but got {type(sd).__name__} instead.")
        own = any(k.startswith(("backbone.", "final_layer.", "projector.")) for k in sd)
        target = self if own else self.backbone
        if not own:  # a backbone's state_dict (a torchvision ResNet's ImageNet classifier is not ours)
            sd = {k: v for k, v in sd.items() if not k.startswith("fc.")}
        expected = target.state_dict()
        missing = sorted(set(expected) - set(sd))
        unexpected = sorted(set(sd) - set(expected))
        shapes = [f"{k} {tuple(sd[k].shape)} (expected {tuple(expected[k].shape)})"
                  for k in expected if k in sd and sd[k].shape != expected[k].shape]
        if missing or unexpected or shapes:
            what = ("an FERStudent" if own else f"a torchvision {self.arch}" if self.arch in TORCHVISION_ARCHS
                    else f"a {self.arch} backbone")
            parts = [f"{len(missing)} missing key(s) (first: {missing[:3]})" if missing else "",
                     f"{len(unexpected)} unexpected key(s) (first: {unexpected[:3]})" if unexpected else "",
                     f"shape mismatches: {'; '.join(shapes[:3])}" if shapes else ""]
            hint = (" A 7 x 7 'conv1' belongs to the ImageNet stem: build the student with small_input=False."
                    if self.arch in TORCHVISION_ARCHS
                    and any(s.startswith(("conv1.", "backbone.conv1.")) for s in shapes) else "")
            raise ValueError(f"Invalid value for the 'weights' parameter: {fname} does not fit {what} built with "
                             f"{self.config}: " + ", ".join(p for p in parts if p) + "." + hint)
        target.load_state_dict(sd)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())


class StudentOutputs(nn.Module):
    """The student seen through :meth:`FERStudent.forward_outputs`: its forward returns the dict of
    logits and embedding. What :func:`neuroaffect.training.fit` trains (the loss needs both) and
    :func:`neuroaffect.training.predict` runs for both outputs; it holds the student's parameters
    themselves (``.student``), in the student's train/eval mode when built.
    """

    def __init__(self, student: FERStudent):
        super().__init__()
        self.student = student
        self.train(student.training)

    def forward(self, x: torch.Tensor) -> dict:
        return self.student.forward_outputs(x)


def build_student(config: dict, weights=None) -> FERStudent:
    """An :class:`FERStudent` from its ``config`` dict (``FERStudent(**config)``), checked."""
    if not isinstance(config, dict):
        raise ValueError(f"Invalid value for the 'config' parameter: expected a dict of FERStudent arguments, but got "
                         f"{type(config).__name__} instead.")
    allowed = {"n_outputs", "arch", "proj_dim", "in_size", "small_input", "mean", "std"}
    extra = sorted(set(config) - allowed)
    if extra:
        raise ValueError(f"Invalid value for the 'config' parameter: unknown FERStudent argument(s) {extra} (allowed: "
                         f"{sorted(allowed)}).")
    return FERStudent(**config, weights=weights)
