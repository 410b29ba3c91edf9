"""Proto-KD: the student's soft assignment to the prototypes, matched to a target over the bins.

Two modes (``docs/distillation.md``, "Proto-KD: class-anchor and per-image targets"):

- ``"anchor"``, the published method: the target over the bins comes from the **class** anchor
  ``va(y)`` (:func:`neuroaffect.labels.fer_va_anchors`), so every image of a class has the same
  target and the grid can only shape what is class-wise;
- ``"image"``, ours: the target comes from **each image's own** (valence, arousal) ``va_i`` (its V/A
  labels where the set has them, else its vote-weighted class anchors, :func:`votes_va`), so it
  varies within a class and the grid's geometry reaches what the backbone learns.

Both use ``q_pro,k = softmax_k(-||c_k - va||^2 / T_p)`` over the bin centres ``c_k``; only the point
``va`` differs. Bins whose prototype was copied from a neighbour (an empty bin, ``filled``) are left out of
both distributions: the target gives them no mass and the student's softmax runs over the other bins.
Shapes follow the training engine's conventions (:mod:`neuroaffect.training.objectives`):
a leading model axis ``M``, an optional boolean ``mask`` ``(M, b)``, a per-model loss ``(M,)``.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F

from .._utils import check_option, check_real
from ..labels import fer_va_anchors
from ..training import masked_mean

__all__ = ["DEFAULT_TARGET_TEMPERATURE", "PROTO_MODES", "ProtoKD", "votes_va"]

#: Where the Proto-KD target's point comes from: the class anchor (published) or the image's own V/A (ours).
PROTO_MODES = ("anchor", "image")
#: Default T_p of each mode, squared normalised units. ``anchor``: the published 5.0 (a near-uniform
#: target, normalised entropy > 0.99 on a 5 x 5 grid); ``image``: ours, 0.05 (normalised entropy about
#: 0.3 on a 5 x 5 grid: the target sits on the one to four bins around the image's V/A and moves with it).
#: Both are fixed defaults, not tuned on any split; ``target_temperature`` overrides them
#: (``docs/distillation.md``).
DEFAULT_TARGET_TEMPERATURE = MappingProxyType({"anchor": 5.0, "image": 0.05})


def votes_va(votes, anchors=None):
    """The vote-weighted class anchors ``votes_i @ anchors / sum(votes_i)``: an image's V/A from its votes.

    Parameters
    ----------
    votes : ndarray | Tensor, shape (..., C)
        Non-negative vote counts or distributions over the C classes (rows are renormalised; an
        all-zero row gives (0, 0)).
    anchors : array-like, shape (C, 2) | None
        (valence, arousal) of each class (default :func:`~neuroaffect.labels.fer_va_anchors`).

    Returns
    -------
    va : same type as ``votes``, shape (..., 2)
        Normalised (valence, arousal); a tensor keeps ``votes``' device and (floating) dtype, an
        array is float64.
    """
    anchors = fer_va_anchors() if anchors is None else np.asarray(anchors, dtype=np.float64)
    w = votes if isinstance(votes, torch.Tensor) else np.asarray(votes, dtype=np.float64)
    if tuple(w.shape[-1:]) != anchors.shape[:1]:
        raise ValueError(f"Invalid value for the 'votes' parameter: expected shape (..., {anchors.shape[0]}), but got "
                         f"{tuple(w.shape)} instead.")
    if isinstance(w, torch.Tensor):
        w = w if w.is_floating_point() else w.float()
        a = torch.as_tensor(anchors, dtype=w.dtype, device=w.device)
        return (w / w.sum(-1, keepdim=True).clamp_min(1e-12)) @ a
    return (w / np.maximum(w.sum(-1, keepdims=True), 1e-12)) @ anchors


class ProtoKD:
    """Proto-KD: ``KL(q_pro || q_stu)`` between a target over the bins and the student's soft assignment.

    For an embedding ``e`` and prototypes ``p_k`` (``k`` over the ``n * n`` bins):
    ``s_k = cos(e, p_k)``, ``q_stu = softmax(s / student_temperature)``. The target over the bin
    centres ``c_k`` at a point ``va`` of the valence/arousal plane is
    ``q_pro,k(va) = softmax_k(-||c_k - va||^2 / target_temperature)``, taken at

    - ``mode="anchor"`` (published): the class anchor ``va(y)`` (``anchors``): one target per class;
    - ``mode="image"`` (ours): the image's own ``va_i`` (given, or :func:`votes_va` of its votes).

    The loss is ``KL(q_pro || q_stu)`` per sample, averaged over the valid samples.

    Copied bins (``filled``: empty bins whose prototype duplicates a neighbour's) are not evidence: both
    softmaxes run over the other bins only, so a copied bin gets zero target mass and its prototype
    does not enter the loss (``docs/distillation.md``, "Empty bins").

    Parameters
    ----------
    prototypes : array-like, shape (K, D)
        One prototype per bin, in the order of ``centres`` (e.g. ``PrototypeGrid.as_array()``).
    centres : array-like, shape (K, 2)
        (valence, arousal) of each bin (``PrototypeGrid.bin_centres()``), normalised units.
    anchors : array-like, shape (C, 2) | None
        (valence, arousal) of each class (default ``fer_va_anchors()``); also the anchors of
        :func:`votes_va` in image mode.
    target_temperature : float | None
        T_p, in squared normalised units; ``None``: the mode's :data:`DEFAULT_TARGET_TEMPERATURE`
        (anchor 5.0, published, nearly uniform; image 0.05, ours; see :meth:`target_entropy`).
    student_temperature : float
        Temperature of the cosine similarities (published: 0.9).
    mode : {"anchor", "image"}
        Where the target's point comes from (see above).
    filled : array-like of bool, shape (K,) | None
        Bins whose prototype is a copy (``PrototypeGrid.filled.reshape(-1)``), left out of the target and
        the student's softmax; ``None``: every bin is used.
    """

    def __init__(self, prototypes, centres, anchors=None, *, target_temperature: float | None = None,
                 student_temperature: float = 0.9, mode: str = "anchor", filled=None):
        self.mode = check_option("mode", mode, PROTO_MODES)
        protos = torch.as_tensor(np.asarray(prototypes, dtype=np.float32))
        centres = np.asarray(centres, dtype=np.float64)
        anchors = fer_va_anchors() if anchors is None else np.asarray(anchors, dtype=np.float64)
        if protos.ndim != 2 or centres.shape != (protos.shape[0], 2) or anchors.ndim != 2 or anchors.shape[1] != 2:
            raise ValueError(f"Invalid values of 'prototypes'/'centres'/'anchors': expected shapes (K, D), (K, 2) and "
                             f"(C, 2), but got {tuple(protos.shape)}, {centres.shape} and {anchors.shape} instead.")
        if target_temperature is None:
            target_temperature = DEFAULT_TARGET_TEMPERATURE[self.mode]
        self.target_temperature = check_real("target_temperature", target_temperature, 0.0, None, low_open=True)
        self.student_temperature = check_real("student_temperature", student_temperature, 0.0, None, low_open=True)
        filled = np.zeros(protos.shape[0], dtype=bool) if filled is None else np.asarray(filled).astype(bool)
        if filled.shape != (protos.shape[0],) or filled.all():
            raise ValueError(f"Invalid value for the 'filled' parameter: expected {protos.shape[0]} flags (one per "
                             f"bin) with at least one bin not copied, but got shape {filled.shape} with "
                             f"{int(filled.sum())} set.")
        self.prototypes = F.normalize(protos, dim=-1)
        self.centres = torch.as_tensor(centres)
        self.anchors = anchors
        self.kept = torch.as_tensor(np.flatnonzero(~filled))  # the bins the loss uses
        self._excluded = torch.as_tensor(filled)
        d2 = ((anchors[:, None, :] - centres[None]) ** 2).sum(-1)  # (C, K)
        self.log_targets = self._log_softmax_kept(torch.as_tensor(-d2 / self.target_temperature)).float()
        self._cache: dict = {}

    @property
    def dim(self) -> int:
        return int(self.prototypes.shape[1])

    def _log_softmax_kept(self, x: torch.Tensor) -> torch.Tensor:
        """``log_softmax`` over the kept bins of the last axis (K); copied bins get ``-inf``."""
        return torch.log_softmax(x.masked_fill(self._excluded.to(x.device), float("-inf")), dim=-1)

    def log_targets_at(self, va) -> torch.Tensor:
        """``log q_pro(va)``, shape (..., K), of points ``va`` (Tensor (..., 2)), in ``va``'s dtype and device
        (``-inf`` on copied bins)."""
        c = self._on(va.device)[2].to(va.dtype)
        return self._log_softmax_kept(-((va[..., None, :] - c) ** 2).sum(-1) / self.target_temperature)

    def targets(self, va=None) -> np.ndarray:
        """Targets ``q_pro`` over the bins.

        Parameters
        ----------
        va : array-like, shape (n, 2) | None
            Points of the valence/arousal plane (image mode: the images' V/A); ``None``: the class
            anchors.

        Returns
        -------
        q : ndarray, shape (n, K) float64, or (C, K) float32 for the class anchors (row ``y`` is class
            ``y``'s target, the same in both modes); 0 on copied bins.
        """
        if va is None:
            return self.log_targets.exp().numpy()
        va = np.asarray(va, dtype=np.float64)
        if va.ndim != 2 or va.shape[1] != 2 or not np.isfinite(va).all():
            raise ValueError(f"Invalid value for the 'va' parameter: expected finite (valence, arousal) points of "
                             f"shape (n, 2), but got shape {va.shape} instead.")
        return self.log_targets_at(torch.as_tensor(va)).exp().numpy()

    def target_entropy(self, va=None) -> np.ndarray:
        """Normalised entropy ``H(q_pro) / log K'`` of each target of :meth:`targets` (1 = uniform over the
        ``K'`` bins the loss uses, the ones not copied).

        Returns
        -------
        h : ndarray, shape (n,) for points ``va`` (n, 2), or (C,) for the class anchors
        """
        q = self.targets(va).astype(np.float64)
        return -(q * np.log(np.clip(q, 1e-300, None))).sum(1) / math.log(max(int(self.kept.numel()), 2))

    def _on(self, device):
        key = str(device)
        if key not in self._cache:
            self._cache[key] = (self.prototypes.to(device), self.log_targets.to(device), self.centres.to(device))
        return self._cache[key]

    def similarities(self, embedding) -> torch.Tensor:
        """Cosine similarities ``s`` of embeddings (..., D) to the prototypes, shape (..., K)."""
        protos = self._on(embedding.device)[0]
        if embedding.shape[-1] != protos.shape[1]:
            raise ValueError(f"Invalid value for the 'embedding' parameter: expected width {protos.shape[1]} (the "
                             f"prototypes'), but got {embedding.shape[-1]} instead.")
        return F.normalize(embedding.float(), dim=-1) @ protos.T

    def log_targets_for(self, labels, *, va=None, votes=None) -> torch.Tensor:
        """``log q_pro`` of each image, the target the loss uses in this mode, shape (M, b, K).

        Anchor mode: the row of each image's class (``va`` and ``votes`` are not read: every image of
        a class gets the same target). Image mode: the target at the image's ``va``, or without it at
        :func:`votes_va` of its ``votes``.

        Parameters
        ----------
        labels : Tensor of int64, shape (M, b)
            Class indices.
        va : Tensor, shape (M, b, 2) | None
            Each image's (valence, arousal), normalised units.
        votes : Tensor, shape (M, b, C) | None
            Each image's votes (image mode without ``va``).
        """
        if self.mode == "anchor":
            return self._on(labels.device)[1][labels]
        if va is None:
            if votes is None:
                raise ValueError("Invalid value for the 'va'/'votes' parameters: image-mode Proto-KD needs each "
                                 "image's (valence, arousal) or its votes, but got neither.")
            va = votes_va(votes, self.anchors)
        if va.shape != labels.shape + (2,):
            raise ValueError(f"Invalid value for the 'va' parameter: expected shape {tuple(labels.shape) + (2,)} "
                             f"(one (valence, arousal) per image), but got {tuple(va.shape)} instead.")
        return self.log_targets_at(va.to(labels.device).float())

    def __call__(self, embedding, labels, mask=None, *, va=None, votes=None) -> torch.Tensor:
        """Per-model loss ``KL(q_pro || q_stu)`` averaged over the valid images, shape (M,).

        Parameters
        ----------
        embedding : Tensor, shape (M, b, D)
        labels : Tensor of int64, shape (M, b)
            Class indices (anchor mode's targets; unused in image mode).
        mask : Tensor of bool, shape (M, b) | None
        va, votes : Tensor, shapes (M, b, 2) and (M, b, C) | None
            Image mode: each image's (valence, arousal), or its votes (see :meth:`log_targets_for`).
        """
        kept = self.kept.to(embedding.device)
        logq = F.log_softmax(self.similarities(embedding)[..., kept] / self.student_temperature, dim=-1)
        lt = self.log_targets_for(labels, va=va, votes=votes)[..., kept]  # (M, b, K') over the bins not copied
        per = (lt.exp() * (lt - logq)).sum(-1)
        return masked_mean(per, mask)

    def __repr__(self) -> str:
        return (f"ProtoKD(mode={self.mode!r}, target_temperature={self.target_temperature!r}, "
                f"student_temperature={self.student_temperature!r}, K={self.prototypes.shape[0]}, "
                f"copied={int(self._excluded.sum())}, dim={self.dim})")
