"""Training the student: a thin adapter of :func:`neuroaffect.training.fit`.

:func:`train_student` builds the student, its loss (:class:`~neuroaffect.distill.DistillLoss`) and
a seeded loader, and hands them to the training engine, which runs every epoch (AdamW, cosine
schedule, gradient clipping, checkpoints, exact resume), tells the loss its epoch (D-Geo's ramp)
and keeps the weights of the epoch of best 8-way macro-F1 on the FERPlus validation split
(``monitor="val_macro_f1"``, ``mode="max"``): the checkpoint the student is selected by
(``docs/distillation.md``: selection on FERPlus validation only). :class:`ValMacroF1` is that
metric, computed by the engine after each epoch.

:func:`shuffled_grid` builds the control arm's grid (:func:`neuroaffect.prototypes.grid_arm`'s shuffled arm).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from .._utils import check_int
from ..io.faces import FaceSet
from ..labels import FER_CLASSES
from ..prototypes.arms import grid_arm
from ..prototypes.io import PrototypeGrid, load_grid
from ..training import LoaderSource, TrainConfig, fingerprint, fit, predict, resolve_device
from .data import face_va, make_loader
from .evaluate import fer_metrics
from .losses import ARMS, DistillLoss, class_weights
from .student import DEFAULT_ARCH, DEFAULT_IN_SIZE, FERStudent, StudentOutputs

__all__ = ["PAPER_CONFIG", "StudentResult", "ValMacroF1", "faceset_fingerprint", "shuffled_grid", "train_student"]

logger = logging.getLogger("neuroaffect.distill")

#: The published training (``docs/distillation.md``): AdamW lr 2e-4, weight decay 0.05, batch 128,
#: gradient clipping at norm 1.0, 100 epochs, CE label smoothing 0.055; cosine schedule (the engine's).
PAPER_CONFIG = TrainConfig(epochs=100, batch_size=128, lr=2e-4, weight_decay=0.05, grad_clip=1.0,
                           label_smoothing=0.055, standardize=False, eval_batch_size=512)


# --- the control grid ------------------------------------------------------------------------

def shuffled_grid(grid: PrototypeGrid, seed: int = 0) -> PrototypeGrid:
    """The shuffled-grid control: :func:`neuroaffect.prototypes.grid_arm` ``(grid, "shuffled", seed)``.

    Prototypes, ``filled`` flags and member counts permuted together over the bins, no bin keeping
    its own vector; the card records ``arm = {"kind": "shuffled", "seed", "source_sha256",
    "permutation"}`` (bin ``k`` of the flattened (valence, arousal) order holds the source's bin
    ``perm[k]``) and the arm's own checksums, so :attr:`PrototypeGrid.sha256` names it.
    """
    return grid_arm(grid, "shuffled", seed)


# --- the selection metric --------------------------------------------------------------------

class ValMacroF1:
    """The engine's ``val_metrics``: 8-way macro-F1 of the student on the validation loader.

    Parameters
    ----------
    val_loader : torch.utils.data.DataLoader
        The validation split in order (``make_loader(val_set, train=False, ...)``).
    device : str | torch.device
    amp : bool
        bfloat16 autocast on CUDA for the evaluation.

    Calling it with the student returns ``{"val_macro_f1": score}`` (a float in [0, 1]), which
    the engine records in the history and monitors (``mode="max"``) to keep the best epoch's
    weights. It holds no state: a resumed run finds every earlier score in the history.
    """

    key = "val_macro_f1"

    def __init__(self, val_loader, *, device="cpu", amp: bool = True):
        self.loader = val_loader
        self.device = torch.device(device) if not isinstance(device, torch.device) else device
        self.amp = bool(amp)

    def evaluate(self, model) -> float:
        """8-way macro-F1 of the student ``model`` on the validation loader (its train/eval mode is kept)."""
        logits = predict(model, self.loader, device=self.device, amp=self.amp)[0]
        return fer_metrics(self.loader.dataset.labels.numpy(), logits.argmax(1))["macro_f1"]

    def __call__(self, model) -> dict:
        """``{"val_macro_f1": score}`` of a student, or of the :class:`StudentOutputs` the engine trains."""
        return {self.key: float(self.evaluate(model.student if isinstance(model, StudentOutputs) else model))}

    def __repr__(self) -> str:
        return f"ValMacroF1(amp={self.amp})"


# --- the adapter -----------------------------------------------------------------------------

def faceset_fingerprint(faceset: FaceSet) -> str:
    """sha256 of a face set's labels, votes, splits and pixels (or file paths)."""
    pix = faceset.images if faceset.images is not None else np.array(faceset.paths)
    return fingerprint(faceset.labels, faceset.soft_labels, np.asarray(faceset.split), pix,
                       extra={"dataset": faceset.dataset})


@dataclass
class StudentResult:
    """Outcome of :func:`train_student`.

    Attributes
    ----------
    model : FERStudent
        The selected epoch's weights, in eval mode.
    history : dict
        The engine's per-epoch history (``train_loss``, ``train_acc``, ``train_ce``, ``train_kd``,
        ``train_proto``, ``train_geo``, ``train_geo_weight``, ``lr``, ...) plus ``val_macro_f1``.
    selected_epoch : int
        0-based epoch of the best validation macro-F1.
    val_macro_f1 : float
        Its score.
    fit : FitResult
        What :func:`neuroaffect.training.fit` returned.
    arm : str
    grid_sha256 : str | None
        The grid trained against (the shuffled one's for the control; ``None`` for arms B0 and B1,
        which do not use one). Also set as ``model.grid_sha256``.
    proto_target_entropy : float | None
        Mean normalised entropy of the Proto-KD targets (1 = uniform): over the class targets in anchor
        mode, over the training images' targets in image mode.
    record : dict
        JSON-able summary: student config, arm, loss, training config as run, data fingerprints,
        ``resumed_from_epoch`` (epochs done when a checkpoint was resumed; ``None`` for a run from
        scratch).
    """

    model: FERStudent
    history: dict
    selected_epoch: int
    val_macro_f1: float
    fit: object
    arm: str
    grid_sha256: str | None = None
    proto_target_entropy: float | None = None
    record: dict = field(default_factory=dict)


def _checked_config(train_set, val_set, arm: str, cfg, seed) -> TrainConfig:
    """:func:`train_student`'s arguments checked; its training configuration, with ``seed`` in place."""
    if not isinstance(train_set, FaceSet) or not isinstance(val_set, FaceSet):
        raise TypeError(f"Invalid value for the 'train_set'/'val_set' parameters: expected FaceSets, but got "
                        f"{type(train_set).__name__} and {type(val_set).__name__} instead.")
    if arm not in ARMS:
        raise ValueError(f"Invalid value for the 'arm' parameter. Allowed values are {', '.join(map(repr, ARMS))}, but "
                         f"got {arm!r} instead.")
    cfg = PAPER_CONFIG if cfg is None else cfg
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"Invalid value for the 'cfg' parameter: expected a TrainConfig, but got {type(cfg).__name__}.")
    if cfg.patience is not None:
        raise ValueError(f"Invalid value for the 'cfg' parameter: train_student selects the epoch of best validation "
                         f"macro-F1 and needs patience=None, but got patience={cfg.patience!r} instead.")
    if seed is not None:
        cfg = cfg.replace(seed=check_int("seed", seed, minimum=0))
    return cfg


def train_student(train_set: FaceSet, val_set: FaceSet, grid=None, arm: str = "B3", cfg: TrainConfig | None = None, *,
                  arch: str = DEFAULT_ARCH, in_size: int = DEFAULT_IN_SIZE, proj_dim: int | None = None, weights=None,
                  small_input: bool | None = None,
                  checkpoint=None, seed: int | None = None, callbacks=(), shuffle_grid: bool = False,
                  shuffle_seed: int = 0, loss_options: dict | None = None, num_workers: int = 0,
                  augment: bool = True) -> StudentResult:
    """Train a face-expression student on FERPlus with one arm of the distillation loss.

    Parameters
    ----------
    train_set, val_set : FaceSet
        FERPlus training split and validation split (``PublicTest``); selection uses ``val_set`` only.
    grid : PrototypeGrid | path-like | None
        The frozen prototype grid (a folder or file is read with
        :func:`~neuroaffect.prototypes.load_grid`); required for arms B2 and B3.
    arm : {"B0", "B1", "B2", "B3"}
    cfg : TrainConfig | None
        Default :data:`PAPER_CONFIG`. ``label_smoothing`` is CE's; ``batch_size`` the loader's;
        ``eval_batch_size`` the validation loader's; ``patience`` must be ``None`` (selection is by
        macro-F1 over all epochs, not early stopping on the validation loss).
    arch, in_size, proj_dim, weights, small_input
        Of :class:`FERStudent` (``proj_dim`` defaults to the grid's dimension, else 128;
        ``small_input=False`` keeps ResNet's ImageNet stem, about 13x cheaper at 48 x 48).
    checkpoint : path-like | None
        The engine's checkpoint (exact resume, the selection over all epochs included).
    seed : int | None
        Replaces ``cfg.seed``: the student's initialisation, the shuffling generator and the engine's
        torch RNG (augmentation) all follow it.
    callbacks : iterable of callable
        Engine callbacks (called after each epoch with that epoch's weights; ``info.model`` is the
        :class:`~neuroaffect.distill.student.StudentOutputs` trained, ``info.model.student`` the student).
    shuffle_grid : bool
        Train against :func:`shuffled_grid` (``shuffle_seed``): the control arm.
    loss_options : dict | None
        More :class:`DistillLoss` arguments (``proto_mode``, ``weights``, ``target_temperature``, ``geo_cap``,
        ...). With ``proto_mode="image"`` (arms B2 and B3) the training loader also gives each image's
        (valence, arousal) (:func:`~neuroaffect.distill.data.face_va`).
    num_workers : int
        Loader workers.
    augment : bool
        Augment the training batches (:class:`~neuroaffect.distill.data.FaceBatches`: random resized
        crop, flip, rotation); ``False`` shuffles them as they are (the demo's, ``docs/distillation.md``).
        Recorded with the inputs, so a checkpoint resumes only with the same choice.

    Returns
    -------
    result : StudentResult
    """
    cfg = _checked_config(train_set, val_set, arm, cfg, seed)
    if grid is not None and not isinstance(grid, PrototypeGrid):
        grid = load_grid(grid)
    if shuffle_grid:
        if grid is None:
            raise ValueError("Invalid value for the 'grid' parameter: shuffle_grid=True needs a grid, but got None.")
        grid = shuffled_grid(grid, shuffle_seed)
    if proj_dim is None:
        proj_dim = grid.dim if grid is not None else 128
    if grid is not None and proj_dim != grid.dim:
        raise ValueError(f"Invalid value for the 'proj_dim' parameter: the grid's prototypes are {grid.dim}-d, but got "
                         f"proj_dim={proj_dim!r} instead.")
    device = resolve_device(cfg.device)

    torch.manual_seed(cfg.seed)
    model = FERStudent(len(FER_CLASSES), arch=arch, proj_dim=proj_dim, in_size=in_size, weights=weights,
                       small_input=small_input)
    loss = DistillLoss(grid, arm, class_weights=class_weights(train_set.labels), label_smoothing=cfg.label_smoothing,
                       n_epochs=cfg.epochs, **(loss_options or {}))
    if not isinstance(augment, bool):
        raise TypeError(f"Invalid value for the 'augment' parameter: expected a bool, but got {type(augment).__name__} "
                        "instead.")
    train_loader = make_loader(train_set, True, cfg.batch_size, cfg.seed, num_workers, in_size=in_size,
                               va=loss.needs_va, augment=augment)
    val_loader = make_loader(val_set, False, cfg.eval_batch_size, 0, num_workers, in_size=in_size)
    inputs = {"train": faceset_fingerprint(train_set), "val": faceset_fingerprint(val_set), "arm": arm,
              "grid": loss.grid_sha256, "shuffle_grid": bool(shuffle_grid), "student": model.config,
              "weights": None if weights is None else str(weights), "num_workers": num_workers, "augment": augment}
    train_va = face_va(train_set) if loss.needs_va else None  # image-mode Proto-KD's points, (n, 2)
    if train_va is not None:
        inputs["train_va"] = fingerprint(train_va)
    res = fit(StudentOutputs(model), LoaderSource(train_loader, device=device), loss, cfg, checkpoint=checkpoint,
              inputs=inputs, callbacks=list(callbacks), val_metrics=ValMacroF1(val_loader, device=device, amp=cfg.amp),
              monitor=ValMacroF1.key, mode="max", select=True)
    history = res.histories[0]
    best = res.best_epochs[0]
    if best is None or best < 0:
        raise RuntimeError(f"no epoch of the student has a finite validation macro-F1 ({history[ValMacroF1.key]}); "
                           "expected at least one to select")
    score = history[ValMacroF1.key][best]
    model = res.model.student  # the student itself, trained in place, with the selected epoch's weights
    model.eval()
    model.grid_sha256 = loss.grid_sha256  # what predict_faces checks a grid against (None: trained without one)
    # anchor mode: mean over the class targets; image mode: over the training images' targets
    entropy = None if loss.proto is None else float(loss.proto.target_entropy(train_va).mean())
    record = {"student": model.config, "arm": arm, "loss": repr(loss), "proto_mode": loss.proto_mode,
              "train": cfg.resolved(), "augment": augment, "inputs": inputs,
              "selected_epoch": best, "val_macro_f1": score,
              "proto_target_entropy": entropy, "resumed_from_epoch": res.resumed_from}
    return StudentResult(model=model, history=history, selected_epoch=int(best), val_macro_f1=float(score), fit=res,
                         arm=arm, grid_sha256=loss.grid_sha256, proto_target_entropy=entropy, record=record)
