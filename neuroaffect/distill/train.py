"""Training the student: a thin adapter of :func:`neuroaffect.training.fit`, with honest selection.

:func:`train_student` builds the student, its loss (:class:`~neuroaffect.distill.DistillLoss`) and
a seeded loader, and hands them to the training engine, which runs every epoch (AdamW, cosine
schedule, gradient clipping, checkpoints, exact resume). Two small pieces plug into it:

- :class:`EpochSource`, the engine's :class:`~neuroaffect.training.LoaderSource` that also tells
  the loss which epoch it trains (D-Geo's ramp needs it) and checkpoints that count with the
  loader's generator, so a resumed run continues the ramp where it stopped;
- :class:`BestMacroF1`, an engine callback that evaluates the FERPlus validation split after each
  epoch and keeps the weights of the epoch with the best 8-way macro-F1: the checkpoint the
  student is selected by (``docs/distillation.md``: selection on FERPlus validation only). Its
  state is saved beside the engine's checkpoint (``<checkpoint>.select.pt``) so that a resumed
  run selects over all epochs.

:func:`shuffled_grid` builds the control arm's grid: the same prototypes permuted over the bins.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._utils import ArtifactIntegrityError, DatasetFormatError, check_int, config_hash
from ..io.faces import FaceSet
from ..labels import FER_CLASSES
from ..prototypes.io import PrototypeGrid, array_sha256, load_grid
from ..training import LoaderSource, TrainConfig, fit
from ..training.checkpoint import config_json, load_checkpoint, read_checkpoint, save_checkpoint
from ..training.config import resolve_device
from ..training.engine import SingleModel, fingerprint
from .data import make_loader
from .evaluate import fer_metrics, predict_outputs
from .losses import ARMS, DistillLoss, class_weights
from .student import FERStudent

__all__ = ["PAPER_CONFIG", "BestMacroF1", "EpochSource", "StudentResult", "faceset_fingerprint", "shuffled_grid",
           "train_student"]

logger = logging.getLogger("neuroaffect.distill")

#: The published training (``docs/distillation.md``): AdamW lr 2e-4, weight decay 0.05, batch 128,
#: gradient clipping at norm 1.0, 100 epochs, CE label smoothing 0.055; cosine schedule (the engine's).
PAPER_CONFIG = TrainConfig(epochs=100, batch_size=128, lr=2e-4, weight_decay=0.05, grad_clip=1.0,
                           label_smoothing=0.055, standardize=False, eval_batch_size=512)


# --- the control grid ------------------------------------------------------------------------

def shuffled_grid(grid: PrototypeGrid, seed: int = 0) -> PrototypeGrid:
    """The same prototypes permuted over the bins, every prototype moved (the shuffled-grid control).

    Parameters
    ----------
    grid : PrototypeGrid
    seed : int
        Seed of the permutation (``numpy.random.default_rng``; redrawn until no bin keeps its own).

    Returns
    -------
    shuffled : PrototypeGrid
        ``prototypes`` permuted (bin ``k`` of the flattened (valence, arousal) order holds the
        original bin ``perm[k]``'s vector); centres, edges, counts and filled flags unchanged. Its
        card records ``shuffled = {"seed", "permutation", "source_sha256"}`` and the new array's
        sha256, so :attr:`PrototypeGrid.sha256` names the shuffled grid.
    """
    if not isinstance(grid, PrototypeGrid):
        raise TypeError(f"Invalid value for the 'grid' parameter: expected a PrototypeGrid, but got "
                        f"{type(grid).__name__} instead.")
    seed = check_int("seed", seed, minimum=0)
    K = grid.n * grid.n
    if K < 2:
        raise ValueError(f"Invalid value for the 'grid' parameter: a grid of {K} bin cannot be shuffled.")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(K)
    while np.any(perm == np.arange(K)):
        perm = rng.permutation(K)
    flat = grid.as_array()[perm]
    protos = np.ascontiguousarray(flat.reshape(grid.prototypes.shape))
    card = copy.deepcopy(grid.card)
    card["shuffled"] = {"seed": seed, "permutation": perm.tolist(), "source_sha256": grid.sha256}
    card.setdefault("arrays_sha256", {})["prototypes"] = array_sha256(protos)
    return PrototypeGrid(prototypes=protos, centres=grid.centres, edges=grid.edges, counts=grid.counts,
                         filled=grid.filled, card=card, path=grid.path)


# --- engine plug-ins -------------------------------------------------------------------------

class EpochSource(LoaderSource):
    """A :class:`~neuroaffect.training.LoaderSource` that sets ``loss.epoch`` at the start of each epoch.

    The count of epochs started is part of the source's state, which the engine checkpoints at the
    end of every epoch and restores on resume.
    """

    def __init__(self, loader, loss, *, device="cpu"):
        super().__init__(loader, device=device)
        self.loss = loss
        self.epoch = 0

    def batches(self, batch_size=None):
        self.loss.epoch = self.epoch
        yield from super().batches(batch_size)
        self.epoch += 1

    def state_dict(self) -> dict:
        return {**super().state_dict(), "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.epoch = int(state.get("epoch", 0))
        self.loss.epoch = self.epoch


class _Student(SingleModel):
    """The engine's single-model wrapper; a checkpoint's empty best state (no early stopping) means none."""

    def load_best_state(self, s) -> None:
        self._best = s or None


class BestMacroF1:
    """Engine callback: after each epoch, macro-F1 on the validation loader; keeps the best epoch's weights.

    Parameters
    ----------
    val_loader : torch.utils.data.DataLoader
        The validation split in order (``make_loader(val_set, train=False, ...)``).
    device : str | torch.device
    amp : bool
        bfloat16 autocast on CUDA for the evaluation.
    path : path-like | None
        File keeping the selection state (scores, best epoch, best weights) after every epoch; read
        back at construction when its ``key`` matches.
    key : str | None
        Identifies the run the saved state belongs to.

    Attributes
    ----------
    scores : list of float
        Validation macro-F1 of every epoch so far (0-based epochs).
    best_epoch : int | None
        The selected epoch (the first of equal best scores).
    best_state : dict | None
        Its weights (state_dict, on CPU).

    Notes
    -----
    The engine writes its checkpoint before it calls the callbacks, so a run killed during this
    evaluation resumes from weights whose score is missing here; :meth:`catch_up` scores those
    weights from the engine's checkpoint before training resumes (:func:`train_student` calls it).
    """

    def __init__(self, val_loader, *, device="cpu", amp: bool = True, path=None, key: str | None = None):
        self.loader = val_loader
        self.device = torch.device(device) if not isinstance(device, torch.device) else device
        self.amp = bool(amp)
        self.path = None if path is None else Path(path)
        self.key = key
        self._reset()
        if self.path is not None and self.path.exists():
            self._load()

    def _reset(self) -> None:
        self.scores: list = []
        self.best_epoch = None
        self.best_score = -math.inf
        self.best_state = None

    def _load(self) -> None:
        try:
            s = read_checkpoint(self.path, what="a student's selection state")
        except ArtifactIntegrityError:
            raise  # changed after it was written: never select from it
        except DatasetFormatError as err:  # unreadable, or of an earlier version: start afresh
            logger.warning("%s: unreadable selection state (%s); ignoring it", self.path, err)
            return
        if not isinstance(s, dict) or s.get("key") != self.key:
            logger.warning("%s: selection state of another run; ignoring it", self.path)
            return
        self.scores = [float(v) for v in s["scores"].tolist()]
        self.best_epoch = None if int(s["best_epoch"]) < 0 else int(s["best_epoch"])
        self.best_score = float(s["best_score"])
        self.best_state = s["best_state"] or None

    def save(self) -> None:
        if self.path is None:
            return
        save_checkpoint(self.path, {
            "key": self.key, "scores": torch.tensor(self.scores, dtype=torch.float64),
            "best_epoch": -1 if self.best_epoch is None else self.best_epoch,
            "best_score": self.best_score, "best_state": self.best_state or {},
        })

    def evaluate(self, model) -> float:
        """8-way macro-F1 of ``model`` on the validation loader (the model's train/eval mode is kept)."""
        out = predict_outputs(model, self.loader, device=self.device, amp=self.amp)
        return fer_metrics(self.loader.dataset.labels.numpy(), out["logits"].argmax(1))["macro_f1"]

    def record(self, epoch: int, score: float, model) -> None:
        """Add epoch ``epoch``'s score; keep ``model``'s weights when it beats every earlier epoch."""
        if epoch != len(self.scores):
            raise RuntimeError(f"selection: expected the score of epoch {len(self.scores)}, but got epoch {epoch}")
        self.scores.append(float(score))
        if score > self.best_score:
            self.best_score, self.best_epoch = float(score), int(epoch)
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    def __call__(self, info) -> None:
        if info.epoch == info.start_epoch:  # first epoch of this call of fit
            if info.start_epoch == 0:
                self._reset()
            elif len(self.scores) != info.start_epoch:
                raise RuntimeError(
                    f"the training checkpoint resumes after epoch {info.start_epoch} but the selection state"
                    f"{'' if self.path is None else f' ({self.path})'} scores {len(self.scores)} epoch(s): the best "
                    "epoch cannot be chosen over all epochs. Delete the checkpoint to train afresh.")
        self.record(info.epoch, self.evaluate(info.model), info.model)
        info.history["val_macro_f1"] = list(self.scores)
        self.save()

    def catch_up(self, checkpoint, model, *, config: dict, inputs: dict) -> bool:
        """Score the weights of an engine checkpoint one epoch ahead of this state (a run killed mid-evaluation).

        Only a checkpoint written with ``config`` and ``inputs`` (those the engine will compare) is
        used; ``model`` itself is left untouched (a copy gets the weights). Returns whether a score
        was added.
        """
        ckpt = Path(checkpoint)
        if not ckpt.exists():
            return False
        try:
            state = load_checkpoint(ckpt)
        except ArtifactIntegrityError:
            raise
        except ValueError:  # unreadable or of another version: the engine discards it
            return False
        if state["config"] != config_json(config) or json.loads(state["inputs"]) != json.loads(
                json.dumps(inputs, sort_keys=True, default=str)):
            return False
        done = int(state["epoch"])
        if done != len(self.scores) + 1 or state["weights"].get("kind") != "single":
            return False
        twin = copy.deepcopy(model)
        twin.load_state_dict(state["weights"]["state"])
        self.record(done - 1, self.evaluate(twin), twin)
        self.save()
        return True


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
        Mean normalised entropy of the Proto-KD class targets (1 = uniform).
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


def train_student(train_set: FaceSet, val_set: FaceSet, grid=None, arm: str = "B3", cfg: TrainConfig | None = None, *,
                  arch: str = "resnet18", in_size: int = 48, proj_dim: int | None = None, weights=None,
                  small_input: bool | None = None,
                  checkpoint=None, seed: int | None = None, callbacks=(), shuffle_grid: bool = False,
                  shuffle_seed: int = 0, loss_options: dict | None = None, num_workers: int = 0) -> StudentResult:
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
        The engine's checkpoint (resume); the selection state goes beside it (``.select.pt``).
    seed : int | None
        Replaces ``cfg.seed``: the student's initialisation, the shuffling generator and the engine's
        torch RNG (augmentation) all follow it.
    callbacks : iterable of callable
        More engine callbacks (after the selection callback).
    shuffle_grid : bool
        Train against :func:`shuffled_grid` (``shuffle_seed``): the control arm.
    loss_options : dict | None
        More :class:`DistillLoss` arguments (``weights``, ``target_temperature``, ``geo_cap``, ...).
    num_workers : int
        Loader workers.

    Returns
    -------
    result : StudentResult
    """
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
    train_loader = make_loader(train_set, True, cfg.batch_size, cfg.seed, num_workers, in_size=in_size)
    val_loader = make_loader(val_set, False, cfg.eval_batch_size, 0, num_workers, in_size=in_size)
    source = EpochSource(train_loader, loss, device=device)
    inputs = {"train": faceset_fingerprint(train_set), "val": faceset_fingerprint(val_set), "arm": arm,
              "grid": loss.grid_sha256, "shuffle_grid": bool(shuffle_grid), "student": model.config,
              "weights": None if weights is None else str(weights), "num_workers": num_workers}
    select_path = None if checkpoint is None else Path(str(checkpoint) + ".select.pt")
    selector = BestMacroF1(val_loader, device=device, amp=cfg.amp, path=select_path,
                           key=config_hash({"config": cfg.to_dict(), "inputs": inputs, "loss": repr(loss)}))
    if checkpoint is not None:
        selector.catch_up(checkpoint, model, config=cfg.to_dict(), inputs=inputs)

    res = fit(_Student(model, device), source, loss, cfg, checkpoint=checkpoint, inputs=inputs,
              callbacks=[selector, *callbacks])
    if selector.best_state is None or len(selector.scores) != len(res.histories[0]["train_loss"]):
        raise RuntimeError(f"selection state missing: {len(selector.scores)} epoch(s) scored for "
                           f"{len(res.histories[0]['train_loss'])} trained"
                           + ("" if select_path is None else f" ({select_path} lost?)")
                           + "; delete the checkpoint to train afresh")
    model.load_state_dict(selector.best_state)
    model.eval()
    model.grid_sha256 = loss.grid_sha256  # what predict_faces checks a grid against (None: trained without one)
    history = res.histories[0]
    history["val_macro_f1"] = list(selector.scores)
    entropy = None if loss.proto is None else float(loss.proto.target_entropy().mean())
    record = {"student": model.config, "arm": arm, "loss": repr(loss), "train": cfg.resolved(), "inputs": inputs,
              "selected_epoch": selector.best_epoch, "val_macro_f1": selector.best_score,
              "proto_target_entropy": entropy, "resumed_from_epoch": res.resumed_from}
    return StudentResult(model=model, history=history, selected_epoch=int(selector.best_epoch),
                         val_macro_f1=float(selector.best_score), fit=res, arm=arm, grid_sha256=loss.grid_sha256,
                         proto_target_entropy=entropy, record=record)
