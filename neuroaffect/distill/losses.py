"""The student's losses: CE, KD to the crowd votes, Proto-KD to the EEG grid, D-Geo, and their sum.

Definitions and published values: ``docs/distillation.md``. KD is the training library's
:func:`neuroaffect.training.kd_loss` (targets and student tempered alike; T = 1 here, the FERPlus
soft-label cross-entropy), re-exported here; Proto-KD, with its
class-anchor (published) and per-image (ours) targets, is :class:`~neuroaffect.distill.proto_kd.ProtoKD`,
re-exported here. Every loss follows
the training engine's conventions (:mod:`neuroaffect.training.objectives`): tensors carry a leading **model
axis** ``M`` (1 for one student), an optional boolean ``mask`` of shape ``(M, batch)`` marks the
real samples, and each loss returns the per-model mean over a model's valid samples, shape
``(M,)``.

Shapes: logits ``(M, b, C)`` (C = 8 FERPlus classes), class labels ``(M, b)`` int64, vote
distributions ``(M, b, C)`` (rows summing to 1), per-image (valence, arousal) ``(M, b, 2)``,
embeddings ``(M, b, D)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .._utils import check_option, check_real
from ..labels import FER_CLASSES
from ..training import kd_loss
from .proto_kd import DEFAULT_TARGET_TEMPERATURE, PROTO_MODES, ProtoKD, votes_va

__all__ = [
    "ARMS",
    "DEFAULT_TARGET_TEMPERATURE",
    "DEFAULT_WEIGHTS",
    "HIGH_VALENCE",
    "PROTO_MODES",
    "DistillLoss",
    "ProtoKD",
    "class_weights",
    "cosine_ramp",
    "dgeo_loss",
    "kd_loss",
    "votes_va",
    "weighted_cross_entropy",
]

#: Loss terms of each ablation arm (``docs/distillation.md``): B0 CE; B1 + KD; B2 + Proto-KD; B3 + D-Geo.
ARMS = {"B0": ("ce",), "B1": ("ce", "kd"), "B2": ("ce", "kd", "proto"), "B3": ("ce", "kd", "proto", "geo")}
#: Published weights of the terms added to CE.
DEFAULT_WEIGHTS = {"kd": 0.30, "proto": 0.12, "geo": 0.012}
#: The classes D-Geo acts on (indices into FER_CLASSES): happiness and surprise.
HIGH_VALENCE = (FER_CLASSES.index("happiness"), FER_CLASSES.index("surprise"))


def class_weights(labels, n_classes: int = len(FER_CLASSES)) -> np.ndarray:
    """Inverse-frequency class weights, normalised to mean 1 over the classes present.

    ``w_k = (1 / n_k) / mean_j(1 / n_j)``, the mean taken over the classes with ``n_j > 0``; a
    class absent from ``labels`` gets weight 0 (it never is a target).

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Training labels, ``0 .. n_classes - 1``.
    n_classes : int

    Returns
    -------
    weights : ndarray of float32, shape (n_classes,)
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"Invalid value for the 'labels' parameter: expected a non-empty 1-d array of class indices "
                         f"0-{n_classes - 1}, but got {y.dtype} of shape {y.shape} instead.")
    n = np.bincount(y, minlength=n_classes).astype(np.float64)
    inv = np.where(n > 0, 1.0 / np.maximum(n, 1.0), 0.0)
    return (inv / inv[n > 0].mean()).astype(np.float32)


def weighted_cross_entropy(logits, labels, weight=None, label_smoothing: float = 0.0, mask=None) -> torch.Tensor:
    """Cross-entropy with class weights and label smoothing, per model.

    With ``p = softmax(z)``, ``eps = label_smoothing`` and class weights ``w`` (all 1 when
    ``None``), sample ``i`` contributes
    ``l_i = (1 - eps) w_{y_i} (-log p_{i, y_i}) + (eps / C) sum_k w_k (-log p_{i, k})`` and the loss
    is ``sum_i l_i / sum_i w_{y_i}`` over the valid samples: the definition of
    ``torch.nn.CrossEntropyLoss(weight=w, label_smoothing=eps)``.

    Parameters
    ----------
    logits : Tensor, shape (M, b, C)
    labels : Tensor of int64, shape (M, b)
    weight : Tensor, shape (C,) | None
    label_smoothing : float
        In [0, 1).
    mask : Tensor of bool, shape (M, b) | None

    Returns
    -------
    loss : Tensor, shape (M,)
    """
    M, b, C = logits.shape
    w = None if weight is None else weight.to(device=logits.device, dtype=torch.float32)
    per = F.cross_entropy(logits.float().reshape(-1, C), labels.reshape(-1), weight=w,
                          label_smoothing=label_smoothing, reduction="none").reshape(M, b)
    wy = torch.ones_like(per) if w is None else w[labels]
    if mask is not None:
        m = mask.to(per.dtype)
        per, wy = per * m, wy * m
    return per.sum(1) / wy.sum(1).clamp_min(1e-12)


def dgeo_loss(embedding, labels, mask=None, *, high=HIGH_VALENCE, cap: float = 0.25,
              margin: float = 0.5) -> torch.Tensor:
    """D-Geo: compact, separated high-valence classes in the (L2-normalised) embedding.

    Per model, over the valid samples of the batch, with ``e_i`` the unit-norm embeddings and
    ``mu_c`` the mean of class ``c``'s:

    - **variance cap**: for each class ``h`` of ``high`` with at least two samples,
      ``max(0, var_h - cap)`` with ``var_h = mean_{i in h} ||e_i - mu_h||^2`` (for unit vectors,
      ``1 - ||mu_h||^2``, in [0, 1]), averaged over those classes;
    - **margin**: for each pair of a class ``h`` of ``high`` and a class ``o`` not in ``high``,
      both present, ``max(0, margin - ||mu_h - mu_o||)``, averaged over the pairs.

    The loss is the sum of the two averages (an average over no class or pair is 0). The published
    method names the hinges but not their constants; ``cap`` and ``margin`` are ours, fixed
    defaults not tuned on any split (``docs/distillation.md``).

    Parameters
    ----------
    embedding : Tensor, shape (M, b, D)
    labels : Tensor of int64, shape (M, b)
    mask : Tensor of bool, shape (M, b) | None
    high : tuple of int
        Class indices of the high-valence classes (default happiness and surprise).
    cap : float
        Largest within-class variance not penalised, in [0, 1].
    margin : float
        Smallest distance between class means not penalised, in [0, 2].

    Returns
    -------
    loss : Tensor, shape (M,)
    """
    e = F.normalize(embedding.float(), dim=-1)
    C = len(FER_CLASSES)
    oh = F.one_hot(labels, C).to(e.dtype)  # (M, b, C)
    if mask is not None:
        oh = oh * mask.to(e.dtype)[..., None]
    cnt = oh.sum(1)  # (M, C)
    mu = torch.einsum("mbc,mbd->mcd", oh, e) / cnt.clamp_min(1.0)[..., None]  # (M, C, D)
    high = list(high)
    others = [c for c in range(C) if c not in high]
    # within-class variance of the high-valence classes
    dev = ((e[:, :, None, :] - mu[:, None, high, :]) ** 2).sum(-1)  # (M, b, H)
    var = (oh[..., high] * dev).sum(1) / cnt[:, high].clamp_min(1.0)  # (M, H)
    ok_v = (cnt[:, high] >= 2).to(e.dtype)
    var_term = (F.relu(var - cap) * ok_v).sum(1) / ok_v.sum(1).clamp_min(1.0)
    # margin between the high-valence means and the other classes' means
    d2 = ((mu[:, high, None, :] - mu[:, None, others, :]) ** 2).sum(-1)  # (M, H, O)
    dist = torch.sqrt(d2.clamp_min(1e-16))
    ok_m = ((cnt[:, high] >= 1)[:, :, None] & (cnt[:, others] >= 1)[:, None, :]).to(e.dtype)
    margin_term = (F.relu(margin - dist) * ok_m).sum((1, 2)) / ok_m.sum((1, 2)).clamp_min(1.0)
    return var_term + margin_term


def cosine_ramp(progress: float, start: float = 0.2, end: float = 0.6) -> float:
    """Weight ramping in with a half cosine: 0 for ``progress <= start``, 1 for ``>= end``.

    In between, ``(1 - cos(pi (progress - start) / (end - start))) / 2``. ``progress`` is the
    fraction of training done (epoch index / number of epochs): the published D-Geo ramp runs
    from epoch 20 to epoch 60 of 100, i.e. ``start=0.2``, ``end=0.6``.
    """
    if progress <= start:
        return 0.0
    if progress >= end:
        return 1.0
    return 0.5 * (1.0 - math.cos(math.pi * (progress - start) / (end - start)))


class DistillLoss:
    """The student's loss ``CE + w_kd KD + w_proto Proto-KD + ramp(epoch) w_geo D-Geo``, per arm.

    Called as ``loss(outputs, target, mask=None)`` by :func:`neuroaffect.training.fit`:

    - ``outputs``: the student's dict, each entry with a leading model axis:
      ``{"logits": (M, b, C), "embedding": (M, b, D)}``;
    - ``target``: ``(labels (M, b), votes (M, b, C))`` (what :func:`neuroaffect.distill.make_loader`
      batches give), ``(labels, votes, va (M, b, 2))`` (``make_loader(..., va=True)``: each image's
      valence and arousal, which image-mode Proto-KD reads; without it, the vote-weighted class
      anchors of ``votes`` are used), or labels alone for arm B0.

    Returns ``{"loss": total, "ce", "kd", "proto", "geo"}`` (the terms of the arm, unweighted,
    each of shape (M,)), plus ``"geo_weight"`` (the ramp's value) for arm B3. The engine logs each
    part as ``train_<part>``.

    Parameters
    ----------
    grid : PrototypeGrid | None
        The frozen grid (needed by arms B2 and B3; ignored by B0 and B1).
    arm : {"B0", "B1", "B2", "B3"}
        B0 CE; B1 + KD; B2 + Proto-KD; B3 + D-Geo.
    weights : dict | None
        Weights of ``kd``, ``proto`` and ``geo`` (missing keys keep :data:`DEFAULT_WEIGHTS`).
    class_weights : array-like, shape (C,) | None
        CE class weights (see :func:`class_weights`); ``None``: unweighted.
    label_smoothing : float
        CE label smoothing (published 0.055).
    kd_temperature : float
        T of the KD term, applied to the student and the votes alike (:func:`kd_loss`; default 1, the
        FERPlus soft-label cross-entropy; the published configuration's 5 has no stated form).
    proto_temperature : float
        Temperature of the student's cosine similarities (published 0.9).
    target_temperature : float | None
        T_p of the Proto-KD target (see :class:`ProtoKD`); ``None``: the mode's default
        (:data:`DEFAULT_TARGET_TEMPERATURE`: anchor 5.0, published; image 0.05, ours).
    proto_mode : {"anchor", "image"}
        Proto-KD's target: the class anchor's (the published method, default) or each image's own
        V/A's (ours; ``docs/distillation.md``). Checked for every arm, used by B2 and B3.
    geo_cap, geo_margin : float
        D-Geo's variance cap and mean margin (see :func:`dgeo_loss`).
    ramp : (float, float)
        Start and end of D-Geo's cosine ramp as fractions of training (published 0.2, 0.6).
    n_epochs : int
        Length of training in epochs, for the ramp.

    Attributes
    ----------
    epoch : int
        0-based index of the epoch being trained; the ramp's progress is ``epoch / n_epochs``.
        :func:`neuroaffect.training.fit` keeps it current through :meth:`set_epoch` (before every
        epoch, also after a resume).
    """

    score_name = "acc"

    def __init__(self, grid=None, arm: str = "B3", weights: dict | None = None, *, class_weights=None,
                 label_smoothing: float = 0.055, kd_temperature: float = 1.0, proto_temperature: float = 0.9,
                 target_temperature: float | None = None, geo_cap: float = 0.25, geo_margin: float = 0.5,
                 ramp: tuple = (0.2, 0.6), n_epochs: int = 100, proto_mode: str = "anchor"):
        check_option("arm", arm, tuple(ARMS))
        self.proto_mode = check_option("proto_mode", proto_mode, PROTO_MODES)
        if target_temperature is None:
            target_temperature = DEFAULT_TARGET_TEMPERATURE[self.proto_mode]
        self.arm = arm
        self.terms = ARMS[arm]
        weights = dict(weights or {})
        bad = sorted(set(weights) - set(DEFAULT_WEIGHTS))
        if bad:
            raise ValueError(f"Invalid value for the 'weights' parameter: unknown term(s) {bad} (terms: "
                             f"{sorted(DEFAULT_WEIGHTS)}).")
        self.weights = {k: check_real(f"weights[{k!r}]", weights.get(k, v), 0.0) for k, v in DEFAULT_WEIGHTS.items()}
        self.label_smoothing = check_real("label_smoothing", label_smoothing, 0.0, 1.0, high_open=True)
        self.kd_temperature = check_real("kd_temperature", kd_temperature, 0.0, None, low_open=True)
        self.geo_cap = check_real("geo_cap", geo_cap, 0.0, 1.0)
        self.geo_margin = check_real("geo_margin", geo_margin, 0.0, 2.0)
        try:
            r0, r1 = (float(r) for r in ramp)
        except (TypeError, ValueError):
            r0 = r1 = float("nan")
        if not (0.0 <= r0 < r1 <= 1.0):
            raise ValueError(f"Invalid value for the 'ramp' parameter: expected (start, end) with "
                             f"0 <= start < end <= 1, but got {ramp!r} instead.")
        self.ramp = (r0, r1)
        if isinstance(n_epochs, bool) or not isinstance(n_epochs, (int, np.integer)) or n_epochs < 1:
            raise ValueError(f"Invalid value for the 'n_epochs' parameter: expected a positive int, but got "
                             f"{n_epochs!r} instead.")
        self.n_epochs = int(n_epochs)
        self.class_weights = None if class_weights is None else torch.as_tensor(
            np.asarray(class_weights, dtype=np.float32))
        self.grid_sha256 = None
        self.proto = None
        if "proto" in self.terms:  # arms without Proto-KD ignore a grid (their embedding is not trained)
            if grid is None:
                raise ValueError(f"Invalid value for the 'grid' parameter: arm {arm} uses Proto-KD and needs the "
                                 "prototype grid, but got None instead.")
            self.proto = ProtoKD(grid.as_array(), grid.bin_centres(), target_temperature=target_temperature,
                                 student_temperature=proto_temperature, mode=self.proto_mode,
                                 filled=grid.filled.reshape(-1))  # copied bins are not evidence
            self.grid_sha256 = grid.sha256
        self.target_temperature = check_real("target_temperature", target_temperature, 0.0, None, low_open=True)
        self.proto_temperature = float(proto_temperature)
        self.epoch = 0

    @property
    def needs_va(self) -> bool:
        """Whether the loss reads each image's (valence, arousal): image-mode Proto-KD (arms B2, B3)."""
        return self.proto is not None and self.proto_mode == "image"

    def geo_weight(self) -> float:
        """The D-Geo ramp's value at the current :attr:`epoch` (0 before the ramp, 1 after)."""
        return cosine_ramp(self.epoch / self.n_epochs, *self.ramp)

    def set_epoch(self, epoch: int, n_epochs: int | None = None) -> None:
        """Set the epoch about to be trained (0-based); :func:`neuroaffect.training.fit` calls it.

        ``n_epochs`` (the engine's count) is accepted and not used: the ramp's progress is
        ``epoch / self.n_epochs``, the length this loss was built with.
        """
        self.epoch = int(epoch)

    @staticmethod
    def _split(outputs, target):
        if not isinstance(outputs, dict) or "logits" not in outputs:
            raise ValueError("Invalid value for the 'outputs' parameter: expected the student's dict with 'logits' "
                             f"and 'embedding', but got {type(outputs).__name__} instead.")
        if isinstance(target, (tuple, list)):
            labels, soft, va = (tuple(target) + (None, None))[:3]
        else:
            labels, soft, va = target, None, None
        return outputs, labels, soft, va

    def __call__(self, outputs, target, mask=None) -> dict:
        out, labels, soft, va = self._split(outputs, target)
        logits = out["logits"]
        parts = {"ce": weighted_cross_entropy(logits, labels, self.class_weights, self.label_smoothing, mask)}
        total = parts["ce"]
        if "kd" in self.terms:
            if soft is None:
                raise ValueError(f"arm {self.arm} uses KD: expected targets (labels, votes), but got labels alone")
            parts["kd"] = kd_loss(logits, soft, self.kd_temperature, mask)
            total = total + self.weights["kd"] * parts["kd"]
        if "proto" in self.terms:
            parts["proto"] = self.proto(out["embedding"], labels, mask, va=va, votes=soft)
            total = total + self.weights["proto"] * parts["proto"]
        if "geo" in self.terms:
            parts["geo"] = dgeo_loss(out["embedding"], labels, mask, cap=self.geo_cap, margin=self.geo_margin)
            ramp = self.geo_weight()
            parts["geo_weight"] = torch.full_like(parts["geo"], ramp).detach()
            if ramp > 0.0:  # before the ramp, D-Geo adds exactly nothing (not even a zero-valued gradient path)
                total = total + (ramp * self.weights["geo"]) * parts["geo"]
        return {"loss": total, **parts}

    def score(self, outputs, target, mask=None) -> torch.Tensor:
        """Per-model number of correct class predictions in the batch, shape (M,)."""
        out, labels = self._split(outputs, target)[:2]
        hit = out["logits"].argmax(-1) == labels
        return (hit if mask is None else hit & mask).sum(1).float()

    def __repr__(self) -> str:
        # stable across calls (the engine fingerprints it): hyper-parameters only, no mutable epoch
        cw = None if self.class_weights is None else [round(float(v), 6) for v in self.class_weights]
        return (f"DistillLoss(arm={self.arm!r}, proto_mode={self.proto_mode!r}, weights={self.weights!r}, "
                f"class_weights={cw}, label_smoothing={self.label_smoothing!r}, "
                f"kd_temperature={self.kd_temperature!r}, "
                f"proto_temperature={self.proto_temperature!r}, target_temperature={self.target_temperature!r}, "
                f"geo_cap={self.geo_cap!r}, geo_margin={self.geo_margin!r}, ramp={self.ramp!r}, "
                f"n_epochs={self.n_epochs!r}, grid={self.grid_sha256!r})")
