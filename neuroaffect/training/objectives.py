"""Losses the training engine minimises, each with a per-sample score it logs.

Every objective is called as ``objective(outputs, target, mask=None)`` on tensors with a
leading **model axis** (the engine trains ``M`` stacked models at once; a single model is
``M = 1``):

- ``outputs``: shape ``(M, batch, ...)`` (logits, predictions);
- ``target``: shape ``(M, batch, ...)``;
- ``mask``: bool, shape ``(M, batch)`` or ``None``: which entries are real (evaluation pads the
  per-model sets to one length).

It returns the per-model loss, shape ``(M,)`` (the mean over a model's valid samples), or a dict
with that under ``"loss"`` plus named parts (logged separately). ``objective.score(outputs,
target, mask)`` returns per-model **sums** over the batch of a per-sample score (correct
predictions, absolute errors), which the engine divides by the epoch's sample count;
``objective.score_name`` names it in the history (``train_acc``, ``val_mae``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._utils import check_real

__all__ = ["CCCLoss", "CrossEntropy", "MSELoss", "Objective", "SoftTargetKD", "kd_loss", "masked_mean"]


def masked_mean(per: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over the batch axis of ``per`` (shape (M, batch)), over valid entries only."""
    if mask is None:
        return per.mean(dim=1)
    m = mask.to(per.dtype)
    return (per * m).sum(1) / m.sum(1).clamp_min(1.0)


class Objective:
    """Base class: subclasses implement ``__call__`` and ``score`` (see the module docstring)."""

    score_name = "score"

    def __call__(self, outputs, target, mask=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, outputs, target, mask=None) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class CrossEntropy(Objective):
    """Cross-entropy with hard class targets and optional label smoothing.

    Parameters
    ----------
    label_smoothing : float
        In [0, 1) (``torch.nn.functional.cross_entropy``'s).

    Shapes: ``outputs`` (M, batch, n_classes) logits, ``target`` (M, batch) int64.
    Score: correct predictions (``train_acc`` / ``val_acc``).
    """

    score_name = "acc"

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = check_real("label_smoothing", label_smoothing, 0.0, 1.0, high_open=True)

    def __call__(self, outputs, target, mask=None):
        M, b, K = outputs.shape
        per = F.cross_entropy(outputs.float().reshape(-1, K), target.reshape(-1),
                              label_smoothing=self.label_smoothing, reduction="none").reshape(M, b)
        return masked_mean(per, mask)

    def score(self, outputs, target, mask=None):
        hit = outputs.argmax(-1) == target
        return (hit if mask is None else hit & mask).sum(1).float()


def kd_loss(logits, soft, temperature: float = 1.0, mask=None) -> torch.Tensor:
    """Knowledge distillation to soft targets, both sides tempered: ``T^2 KL(p_T || softmax(z / T))``.

    ``p_T = softmax(log(p) / T)``, i.e. ``p_T,k = p_k^(1/T) / sum_j p_j^(1/T)`` (a zero target stays
    zero): the target at the student's temperature, as a teacher with logits ``log p`` would give
    it (Hinton, Vinyals and Dean, 2015, "Distilling the knowledge in a neural network",
    arXiv:1503.02531; ``T^2`` keeps the gradient's size comparable across temperatures). The loss is
    0 exactly when ``softmax(z) = p``, at every T: the optimum is the targets themselves, never a
    sharper or flatter copy. At ``T = 1`` it is ``KL(p || softmax(z))``, which differs from the
    cross-entropy against ``p`` by the entropy of ``p`` only (a constant of the targets, the same
    gradients): the soft-label cross-entropy of FERPlus (Barsoum et al., 2016, ICMI, "Training
    deep networks for facial expression recognition with crowd-sourced label distribution").
    ``KL(p || q) = sum_k p_k (log p_k - log q_k)`` with ``0 log 0 = 0``. (``docs/distillation.md``,
    "Loss".)

    Parameters
    ----------
    logits : Tensor, shape (M, b, C)
    soft : Tensor, shape (M, b, C)
        Target distributions (rows summing to 1, entries >= 0), e.g. crowd votes.
    temperature : float
        T > 0.
    mask : Tensor of bool, shape (M, b) | None

    Returns
    -------
    loss : Tensor, shape (M,)
    """
    t = float(temperature)
    p = soft.float()
    if t != 1.0:
        p = p.clamp_min(0.0).pow(1.0 / t)
        p = p / p.sum(-1, keepdim=True).clamp_min(1e-30)
    logq = F.log_softmax(logits.float() / t, dim=-1)
    per = (torch.xlogy(p, p) - p * logq).sum(-1) * (t * t)
    return masked_mean(per, mask)


class SoftTargetKD(Objective):
    """:func:`kd_loss` as an objective: distillation to soft targets (class distributions).

    Parameters
    ----------
    temperature : float
        T > 0.

    Shapes: ``outputs`` (M, batch, n_classes) logits, ``target`` (M, batch, n_classes) rows
    summing to 1. Score: predictions equal to the target's most probable class.
    """

    score_name = "acc"

    def __init__(self, temperature: float = 1.0):
        self.temperature = check_real("temperature", temperature, 0.0, None, low_open=True)

    def __call__(self, outputs, target, mask=None):
        return kd_loss(outputs, target, self.temperature, mask)

    def score(self, outputs, target, mask=None):
        hit = outputs.argmax(-1) == target.argmax(-1)
        return (hit if mask is None else hit & mask).sum(1).float()


def _as_columns(outputs, target):
    """Outputs (M, b, T) and targets (M, b) or (M, b, T) -> both (M, b, T) float32."""
    out = outputs.float()
    tgt = target.float()
    if tgt.ndim == out.ndim - 1:
        tgt = tgt.unsqueeze(-1)
    if out.shape != tgt.shape:
        raise ValueError(f"regression outputs of shape {tuple(out.shape)} do not match targets of shape "
                         f"{tuple(tgt.shape)} (expected (M, batch, n_targets) for both)")
    return out, tgt


class MSELoss(Objective):
    """Mean squared error of continuous targets (e.g. normalised valence in [-1, 1]).

    Shapes: ``outputs`` (M, batch, n_targets), ``target`` (M, batch) or (M, batch, n_targets).
    Score: mean absolute error over targets (``train_mae``), summed over the batch.
    """

    score_name = "mae"

    def __call__(self, outputs, target, mask=None):
        out, tgt = _as_columns(outputs, target)
        return masked_mean(((out - tgt) ** 2).mean(-1), mask)

    def score(self, outputs, target, mask=None):
        out, tgt = _as_columns(outputs, target)
        err = (out - tgt).abs().mean(-1)
        return (err if mask is None else err * mask).sum(1)


class CCCLoss(Objective):
    """``1 - CCC``: one minus Lin's concordance correlation coefficient over the batch, per target.

    ``CCC = 2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))**2)`` (population moments over
    a model's valid samples), averaged over targets. A batch-level loss: it rewards matching
    the targets' spread and offset as well as their order. Score: mean absolute error, as
    :class:`MSELoss`.
    """

    score_name = "mae"

    def __init__(self, eps: float = 1e-8):
        self.eps = float(eps)

    def __call__(self, outputs, target, mask=None):
        out, tgt = _as_columns(outputs, target)
        w = torch.ones(out.shape[:2], device=out.device) if mask is None else mask.float()
        w = (w / w.sum(1, keepdim=True).clamp_min(1.0)).unsqueeze(-1)  # (M, b, 1)
        mx, my = (w * out).sum(1, keepdim=True), (w * tgt).sum(1, keepdim=True)
        vx, vy = (w * (out - mx) ** 2).sum(1), (w * (tgt - my) ** 2).sum(1)
        cov = (w * (out - mx) * (tgt - my)).sum(1)
        ccc = 2 * cov / (vx + vy + (mx - my).squeeze(1) ** 2 + self.eps)
        return (1.0 - ccc).mean(-1)

    def score(self, outputs, target, mask=None):
        return MSELoss().score(outputs, target, mask)
