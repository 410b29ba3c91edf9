"""The small backbones of the face student, for CPU work: ResNet-8 and the plain 3-block CNN.

Design: ``docs/distillation.md`` ("Student", "The demo's student"). Both take 3-channel images
(:class:`~neuroaffect.distill.FERStudent` repeats its normalised grey input), standardise each image
first (:class:`ImageStandardize`) and return pooled features; :class:`~neuroaffect.distill.FERStudent`
adds its two heads. torchvision's ResNet-18/50 are the full configuration's backbones.
"""

from __future__ import annotations

import torch
from torch import nn

from .._utils import check_option, check_positive_int, check_real

__all__ = ["ImageStandardize", "ResNet8", "SmallCNN"]


class ImageStandardize(nn.Module):
    """Per-image standardisation: ``(x - mean) / (std + eps)``, mean and std over each image's channels and pixels.

    Parameter-free; the same in training and evaluation. Shapes: (B, C, H, W) -> (B, C, H, W).

    Parameters
    ----------
    eps : float
        Added to the standard deviation (a flat image becomes zeros).
    """

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = check_real("eps", eps, 0.0, None, low_open=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(dim=(1, 2, 3), keepdim=True)
        return centred / (centred.square().mean(dim=(1, 2, 3), keepdim=True).sqrt() + self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"


def _init_conv_bn(module: nn.Module) -> None:
    """torchvision's ResNet initialisation: Kaiming-normal convolutions (fan out, ReLU), batch norm 1 and 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ResNet8(nn.Module):
    """A narrow CIFAR-style ResNet-8 backbone: pooled features of 3-channel images.

    ``standardize`` (:class:`ImageStandardize`), ``conv1`` (3 x 3, ``stem_stride``) -> batch norm -> ReLU, then
    ``layer1``, ``layer2``, ``layer3``:
    one torchvision ``BasicBlock`` each (two 3 x 3 convolutions with batch norm and a residual
    connection; a 1 x 1 convolution with batch norm on the shortcut where the width or stride
    changes), strides 1, 2, 2; then global average pooling. Eight weighted layers along the
    longest path (stem, 3 x 2 convolutions, the head). Initialised as torchvision's ResNets.

    Parameters
    ----------
    widths : tuple of 3 int
        Channels of the three stages.
    stem_stride : {1, 2}
        Stride of the stem convolution.

    Shapes: input (B, 3, H, W); output (B, widths[-1]); the last stage's maps are H / 4 x W / 4
    (stem stride 1).
    """

    def __init__(self, widths: tuple = (32, 64, 128), stem_stride: int = 1):
        super().__init__()
        from torchvision.models.resnet import BasicBlock, conv1x1

        widths = tuple(check_positive_int("widths", w) for w in widths)
        if len(widths) != 3:
            raise ValueError(f"Invalid value for the 'widths' parameter: expected 3 stage widths, but got {widths!r}.")
        check_option("stem_stride", stem_stride, (1, 2))
        self.standardize = ImageStandardize()
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, stride=stem_stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        stages, c_in = [], widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            down = (nn.Sequential(conv1x1(c_in, w, stride), nn.BatchNorm2d(w)) if stride != 1 or c_in != w
                    else None)
            stages.append(nn.Sequential(BasicBlock(c_in, w, stride, down)))
            c_in = w
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.num_features = widths[-1]
        _init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, widths[-1]) of images (B, 3, H, W)."""
        x = self.relu(self.bn1(self.conv1(self.standardize(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return torch.flatten(self.avgpool(x), 1)


class SmallCNN(nn.Module):
    """The plain 3-block CNN of the small-CNN reference row: pooled features of 3-channel images.

    ``standardize`` (:class:`ImageStandardize`), then ``features``: (3 x 3 convolution without bias ->
    batch norm -> ReLU -> 2 x 2 max-pool) x 3, then global average pooling. No residual connections.
    Initialised as torchvision's ResNets.

    Parameters
    ----------
    widths : tuple of int
        Channels of the blocks (one block each).

    Shapes: input (B, 3, H, W); output (B, widths[-1]); the last block's maps are H / 8 x W / 8.
    """

    def __init__(self, widths: tuple = (32, 64, 128)):
        super().__init__()
        widths = tuple(check_positive_int("widths", w) for w in widths)
        if not widths:
            raise ValueError("Invalid value for the 'widths' parameter: expected at least one block width, but got ().")
        layers, c_in = [], 3
        for w in widths:
            layers += [nn.Conv2d(c_in, w, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(w),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c_in = w
        self.standardize = ImageStandardize()
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.num_features = widths[-1]
        _init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, widths[-1]) of images (B, 3, H, W)."""
        return torch.flatten(self.avgpool(self.features(self.standardize(x))), 1)
