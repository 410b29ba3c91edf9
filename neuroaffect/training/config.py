"""Hyper-parameters of a training run, the device rule, and the one source of training defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .._utils import check_int, check_positive_int, check_real

__all__ = ["RBT_POOLED", "TrainConfig", "resolve_device"]


def resolve_device(device: str, check_available: bool = True) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; other strings are checked.

    Raises ``ValueError`` for an unknown device string or (with
    ``check_available``) for CUDA requested on a machine without it.
    """
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise ValueError(f"Invalid value for the 'device' parameter. Allowed values are 'auto', 'cpu', 'cuda', "
                         f"'cuda:N', but got {device!r} instead.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if check_available and dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Invalid value for the 'device' parameter: {device!r} requested, but CUDA is not available.")
    return dev


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (hashable, JSON-serialisable).

    These field defaults are the package's only training defaults: the CLI shows them in
    ``--help`` and the workflow schema (``workflow/schemas/config.schema.yaml``) repeats them,
    which a test checks.

    Parameters
    ----------
    epochs : int
        Number of epochs.
    batch_size : int
        Samples per optimiser step (see also ``batch_size_schedule``).
    lr : float
        Initial AdamW learning rate.
    weight_decay : float
        AdamW (decoupled) weight decay.
    label_smoothing : float
        Cross-entropy label smoothing, in [0, 1) (classification losses only).
    min_lr : float
        Final learning rate of the cosine schedule (``CosineAnnealingLR``,
        ``T_max = epochs``, stepped once per epoch).
    patience : int | None
        Early stopping: stop after this many epochs without a lower validation
        loss and restore the best epoch's weights. ``None``: no early stopping
        (and no validation split unless ``validate``).
    validate : bool
        Carve a validation split out of the training trials and record its loss and
        score every epoch (the validation curve of the history) without early stopping;
        implied by ``patience``. The model then trains on the remaining trials.
    val_fraction : float
        Fraction of training **trials** carved out for validation when
        ``patience`` or ``validate`` is set (see :func:`~neuroaffect.training.split_validation`).
    seed : int
        Seeds the shuffling generator and the global torch RNG (dropout).
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    amp : bool
        Mixed precision (bfloat16 autocast) on CUDA; never used on CPU (see :meth:`amp_on`).
    batch_size_schedule : tuple of (int, int)
        ``(from_epoch, batch_size)`` pairs (0-based epochs) overriding
        ``batch_size`` from that epoch on, e.g. ``((150, 64),)``.
    standardize : bool
        Z-score each input feature with the training fold's mean and standard
        deviation (applied when a fold is prepared; the engine takes arrays as given).
    eval_batch_size : int
        Samples per forward pass when evaluating.
    grad_clip : float | None
        Clip each model's gradient to this global L2 norm before the step (``None``: off).
    """

    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-3
    label_smoothing: float = 0.1
    min_lr: float = 1e-6
    patience: int | None = None
    validate: bool = False
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    batch_size_schedule: tuple = ()
    standardize: bool = True
    eval_batch_size: int = 1024
    grad_clip: float | None = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_batch_size"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("patience", self.patience, allow_none=True)
        check_int("seed", self.seed, minimum=0)
        check_real("lr", self.lr, 0.0, None, low_open=True)
        check_real("min_lr", self.min_lr, 0.0)
        check_real("weight_decay", self.weight_decay, 0.0)
        if self.min_lr > self.lr:
            raise ValueError(f"Invalid values of 'lr' and 'min_lr': expected 0 < min_lr <= lr, but got lr={self.lr!r}, "
                             f"min_lr={self.min_lr!r}.")
        check_real("label_smoothing", self.label_smoothing, 0.0, 1.0, high_open=True)
        check_real("val_fraction", self.val_fraction, 0.0, 1.0, low_open=True, high_open=True)
        if self.grad_clip is not None:
            check_real("grad_clip", self.grad_clip, 0.0, None, low_open=True)
        if not isinstance(self.amp, bool) or not isinstance(self.standardize, bool):
            raise ValueError(f"Invalid value for the 'amp'/'standardize' parameters: expected bools, but got "
                             f"{self.amp!r} and {self.standardize!r}.")
        if not isinstance(self.validate, bool):
            raise ValueError(f"Invalid value for the 'validate' parameter: expected a bool, but got {self.validate!r}.")
        resolve_device(self.device, check_available=False)
        try:
            sched = tuple((int(e), int(b)) for e, b in self.batch_size_schedule)
        except (TypeError, ValueError):
            raise ValueError(
                "Invalid value for the 'batch_size_schedule' parameter: expected (from_epoch, batch_size) pairs, "
                f"but got {self.batch_size_schedule!r}."
            ) from None
        if any(e < 0 or b < 1 for e, b in sched) or list(sched) != sorted(sched):
            raise ValueError(
                "Invalid value for the 'batch_size_schedule' parameter: expected sorted pairs with epoch >= 0 "
                f"and batch_size >= 1, but got {self.batch_size_schedule!r}."
            )
        object.__setattr__(self, "batch_size_schedule", sched)

    def batch_size_at(self, epoch: int) -> int:
        """Batch size used in ``epoch`` (0-based)."""
        size = self.batch_size
        for start, b in self.batch_size_schedule:
            if epoch >= start:
                size = b
        return size

    def largest_batch_size(self) -> int:
        """The largest batch size of the schedule."""
        return max([self.batch_size] + [b for _, b in self.batch_size_schedule])

    def amp_on(self, device: torch.device) -> bool:
        """Whether autocast is actually used on ``device`` (CUDA and ``amp``)."""
        return bool(self.amp and device.type == "cuda")

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dict of all fields (the schedule as a list of lists)."""
        d = dataclasses.asdict(self)
        d["batch_size_schedule"] = [list(p) for p in self.batch_size_schedule]
        return d

    def resolved(self) -> dict:
        """:meth:`to_dict` as it runs here: ``device`` resolved, ``amp`` as used on that device.

        This is what results record, so that a run on CPU never claims mixed precision and
        never records ``auto``.
        """
        dev = resolve_device(self.device)
        return {**self.to_dict(), "device": str(dev), "amp": self.amp_on(dev)}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Inverse of :meth:`to_dict` (unknown keys raise ``TypeError``)."""
        return cls(**d)

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset(cls, name: str, **changes) -> "TrainConfig":
        """A named configuration.

        ``"rbt-pooled"``: the RBTransformer paper's training (``docs/protocols.md``): AdamW
        lr 1e-3, weight decay 1e-3, label smoothing 0.12, cosine to 1e-6 over
        300 epochs, batch 256 then 64 from epoch 150, seed 23, no early
        stopping, no standardisation (the authors feed band DE as is).
        ``"default"``: the field defaults.
        """
        presets = {"default": cls(), "rbt-pooled": RBT_POOLED}
        if name not in presets:
            raise ValueError(f"Invalid value for the 'name' parameter. Allowed values are "
                             f"{', '.join(map(repr, presets))}, but got {name!r} instead.")
        return presets[name].replace(**changes) if changes else presets[name]

    @classmethod
    def for_protocol(cls, protocol: str, **changes) -> "TrainConfig":
        """The preset a protocol trains with by default (``rbt-pooled`` has its own), with ``changes``."""
        return cls.preset("rbt-pooled" if protocol == "rbt-pooled" else "default", **changes)


#: The RBTransformer paper's training (see ``TrainConfig.preset("rbt-pooled")``).
RBT_POOLED = TrainConfig(
    epochs=300, batch_size=256, batch_size_schedule=((150, 64),), lr=1e-3, weight_decay=1e-3,
    label_smoothing=0.12, min_lr=1e-6, patience=None, seed=23, standardize=False,
)
