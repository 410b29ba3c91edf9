"""TopoTeacher: a compact CNN over topographic maps that regresses valence and arousal."""

from __future__ import annotations

import torch
from torch import nn

from ._base import TokenModel, _check_positive_int, _check_probability, register_model

__all__ = ["TopoTeacher"]


def _block(c_in: int, c_out: int, groups: int, dropout: float) -> nn.Sequential:
    # dropout last, so that the convolution and GroupNorm keep their state-dict names (trunk.i.0, trunk.i.1)
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),
        nn.GroupNorm(min(groups, c_out), c_out),
        nn.GELU(),
        nn.AvgPool2d(2),
        nn.Dropout(dropout),
    )


@register_model("topoteacher")
class TopoTeacher(TokenModel):
    r"""Compact CNN over band-wise scalp maps; its penultimate layer is the EEG embedding.

    Three convolution stages (a 3 x 3 convolution, GroupNorm and GELU, 2 x 2 average pooling, then
    element-wise dropout ``block_dropout``) take the ``(n_bands, size, size)`` maps to
    ``(4 width, size / 8, size / 8)``; a linear layer and GELU make the embedding of width ``embed_dim``
    (:meth:`forward_features`), and after dropout ``dropout`` ``final_layer`` maps it to the outputs
    (two for normalised valence and arousal). GroupNorm instead of BatchNorm keeps every forward pass a
    pure function of its inputs, so many fold models train at once under ``torch.vmap`` and
    MC-dropout passes need no running statistics. Pixels outside the head are zero in the maps
    (``outside="zero"`` features) and carry no signal.

    MC dropout (``docs/prototypes.md``, "Support gate"): with ``block_dropout > 0`` every stochastic pass
    draws a different embedding, so the spread of the outputs reflects how stable the convolutional
    features of an input are. With ``block_dropout = 0`` only the head's dropout is sampled and the
    spread of output ``k`` is a deterministic function of the embedding ``z``,
    ``sqrt(p / (1 - p) * sum_j W_kj^2 z_j^2)`` (``p = dropout``, ``W`` the head's weights): a weighted
    norm of the embedding, not an uncertainty.

    Defaults: ``width=32`` (32, 64, 128 channels), ``embed_dim=128``, ``dropout=0.3``,
    ``block_dropout=0.1``, ``size=32``.

    Parameters
    ----------
    n_chans : int
        Electrodes the maps were interpolated from (recorded for provenance; the maps are images).
    n_bands : int
        Input channels: one map per frequency band.
    n_outputs : int
        Outputs (2: valence and arousal, normalised to [-1, 1]).
    size : int
        Map height and width in pixels (a multiple of 8).
    width : int
        Channels of the first stage (doubled at each stage).
    embed_dim : int
        Width ``D`` of the embedding.
    dropout : float
        Dropout before ``final_layer``.
    block_dropout : float
        Element-wise dropout at the end of each convolution stage (what makes MC-dropout passes
        differ in their embedding; 0 leaves only the head's dropout).

    Shapes:
        - **input:** ``(batch, n_bands, size, size)`` maps
        - **forward_features:** ``(batch, embed_dim)`` embedding
        - **output:** ``(batch, n_outputs)``
    """

    input_kind = "maps"
    #: Largest value of each size argument, and of the parameter count they give together; a
    #: spec outside them (e.g. read from a checkpoint) is refused before anything is allocated.
    LIMITS = {"n_chans": 1024, "n_bands": 64, "n_outputs": 64, "size": 256, "width": 512, "embed_dim": 8192}
    MAX_PARAMETERS = 64_000_000

    @classmethod
    def check_arguments(cls, n_chans, n_bands, n_outputs, *, size=32, width=32, embed_dim=128, dropout=0.3,
                        block_dropout=0.1) -> int:
        """Check constructor arguments against :attr:`LIMITS` without building anything.

        Returns
        -------
        n_parameters : int
            The parameter count a model of these arguments has.

        Raises
        ------
        ValueError
            Naming the first argument out of bounds.
        """
        args = {"n_chans": n_chans, "n_bands": n_bands, "n_outputs": n_outputs, "size": size, "width": width,
                "embed_dim": embed_dim}
        for name, value in args.items():
            _check_positive_int(name, value)
            if value > cls.LIMITS[name]:
                raise ValueError(f"Invalid value for the {name!r} parameter: expected at most {cls.LIMITS[name]}, "
                                 f"but got {value!r} instead.")
        if size % 8:
            raise ValueError(f"Invalid value for the 'size' parameter: expected a multiple of 8 (three 2 x 2 "
                             f"poolings), but got {size!r} instead.")
        _check_probability("dropout", dropout)
        _check_probability("block_dropout", block_dropout)
        w = (n_bands, width, 2 * width, 4 * width)
        n = sum(9 * a * b + 3 * b for a, b in zip(w[:-1], w[1:]))  # 3 x 3 convolutions and GroupNorm affine
        n += (4 * width * (size // 8) ** 2 + 1) * embed_dim + (embed_dim + 1) * n_outputs
        if n > cls.MAX_PARAMETERS:
            raise ValueError(f"Invalid values of the TopoTeacher arguments {args}: expected at most "
                             f"{cls.MAX_PARAMETERS} parameters, but they give {n}.")
        return int(n)

    def __init__(self, n_chans: int, n_bands: int, n_outputs: int, *, size: int = 32, width: int = 32,
                 embed_dim: int = 128, dropout: float = 0.3, block_dropout: float = 0.1):
        self.check_arguments(n_chans, n_bands, n_outputs, size=size, width=width, embed_dim=embed_dim, dropout=dropout,
                             block_dropout=block_dropout)
        super().__init__(n_chans, n_bands, n_outputs)
        self.size = _check_positive_int("size", size)
        width = _check_positive_int("width", width)
        self.embed_dim = _check_positive_int("embed_dim", embed_dim)
        self.num_features = self.embed_dim
        self.head_hidden_size = self.embed_dim
        groups = 8
        bd = self.block_dropout = _check_probability("block_dropout", block_dropout)
        self.trunk = nn.Sequential(_block(n_bands, width, groups, bd), _block(width, 2 * width, groups, bd),
                                   _block(2 * width, 4 * width, groups, bd))
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(4 * width * (self.size // 8) ** 2, self.embed_dim),
                                   nn.GELU())
        self.drop = nn.Dropout(_check_probability("dropout", dropout))
        self.final_layer = nn.Linear(self.embed_dim, n_outputs)
        # per-pixel input standardisation, part of the model so that a checkpoint embeds raw maps
        self.register_buffer("in_mean", torch.zeros(n_bands, self.size, self.size))
        self.register_buffer("in_std", torch.ones(n_bands, self.size, self.size))
        self._rewind_rng()
        self.reset_parameters()

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.n_bands, self.size, self.size):
            raise ValueError(
                f"TopoTeacher expected maps of shape (batch, {self.n_bands}, {self.size}, {self.size}) "
                f"(batch, n_bands, size, size), but got shape {tuple(x.shape)} instead."
            )

    def set_input_stats(self, mean, std) -> None:
        """Standardise inputs per pixel with these statistics (shape (n_bands, size, size); a zero or
        non-finite std, e.g. outside the head, counts as 1)."""
        mean = torch.as_tensor(mean, dtype=torch.float32)
        std = torch.as_tensor(std, dtype=torch.float32)
        shape = (self.n_bands, self.size, self.size)
        if tuple(mean.shape) != shape or tuple(std.shape) != shape:
            raise ValueError(f"Invalid values of 'mean'/'std': expected shape {shape}, but got {tuple(mean.shape)} "
                             f"and {tuple(std.shape)}.")
        std = torch.where(torch.isfinite(std) & (std > 0), std, torch.ones_like(std))
        with torch.no_grad():
            self.in_mean.copy_(torch.nan_to_num(mean))
            self.in_std.copy_(std)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding, shape (batch, embed_dim)."""
        self._check_input(x)
        return self.embed(self.trunk((x - self.in_mean) / self.in_std))

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Outputs (batch, n_outputs), or the embedding itself if ``pre_logits``."""
        return feats if pre_logits else self.final_layer(self.drop(feats))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, size={self.size}, embed_dim={self.embed_dim}"
