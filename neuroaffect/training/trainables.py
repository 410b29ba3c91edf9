"""What the training engine trains: one module as it is, or M identically built modules stacked
under ``torch.vmap`` (one AdamW over the stacked tensors equals M separate runs; see ``engine``)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.func import functional_call
from torch.utils._pytree import tree_map

from ..models import model_spec, stack_models

__all__ = ["SingleModel", "StackedModels", "as_trainable"]


class SingleModel:
    """One ``nn.Module`` trained as it is; outputs get a leading model axis of 1."""

    n_models = 1

    def __init__(self, model: nn.Module, device):
        self.model = model.to(device)
        self.specs = [model_spec(model)]
        self._best = None

    def parameters(self):
        return list(self.model.parameters())

    def __call__(self, x):
        return tree_map(lambda t: t.unsqueeze(0), self.model(x[0]))

    def train(self, mode: bool = True):
        self.model.train(mode)

    def architecture(self):
        return {"class": type(self.model).__name__,
                "shapes": [(k, tuple(v.shape)) for k, v in self.model.state_dict().items()]}

    def weights(self) -> dict:
        return {"kind": "single", "state": self.model.state_dict()}

    def load_weights(self, w: dict) -> None:
        self.model.load_state_dict(w["state"])

    def keep_best(self, improved: torch.Tensor) -> None:
        if bool(improved[0]):
            self._best = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore_best(self) -> None:
        if self._best is not None:
            self.model.load_state_dict(self._best)

    def best_state(self):
        return self._best

    def load_best_state(self, s) -> None:
        self._best = s or None  # a checkpoint of a run without early stopping stores {}

    def clip_grad_(self, max_norm: float) -> None:
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)


class StackedModels:
    """``M`` identically built modules trained as one vmapped model (see the module docstring).

    ``params`` / ``buffers``: dicts of stacked tensors, leading axis ``M``; ``base``: a
    parameter-free skeleton for :func:`torch.func.functional_call`.
    """

    def __init__(self, models: Sequence[nn.Module], device):
        models = list(models)
        params, buffers, base = stack_models(models)
        self.params = {k: v.detach().to(device).requires_grad_(True) for k, v in params.items()}
        self.buffers = {k: v.to(device) for k, v in buffers.items()}
        self.base = base
        self.n_models = len(models)
        self.specs = [model_spec(m) for m in models]
        self._class = type(models[0]).__name__
        self._best = None

        def call(p, b, x):
            return functional_call(self.base, (p, b), (x,))

        self._vm = torch.vmap(call, in_dims=(0, 0, 0), randomness="different")

    def parameters(self):
        return list(self.params.values())

    def __call__(self, x):
        return self._vm(self.params, self.buffers, x)

    def train(self, mode: bool = True):
        self.base.train(mode)

    def architecture(self):
        return {"class": self._class, "shapes": [(k, tuple(v.shape)) for k, v in self.params.items()]}

    def weights(self) -> dict:
        return {"kind": "stacked", "params": {k: v.detach() for k, v in self.params.items()},
                "buffers": dict(self.buffers)}

    def load_weights(self, w: dict) -> None:
        with torch.no_grad():
            for k in self.params:
                self.params[k].copy_(w["params"][k])
        for k in self.buffers:
            self.buffers[k] = w["buffers"][k].to(self.buffers[k].device)

    def _state(self) -> dict:
        return {**{k: v.detach() for k, v in self.params.items()}, **self.buffers}

    def keep_best(self, improved: torch.Tensor) -> None:
        """Snapshot the parameters and buffers (e.g. batch-norm statistics) of the improved models."""
        if self._best is None:
            self._best = {k: v.clone() for k, v in self._state().items()}
        if improved.any():
            sel = improved.to(next(iter(self.params.values())).device)
            for k, v in self._state().items():
                self._best[k][sel] = v[sel]

    def restore_best(self) -> None:
        if self._best is not None:
            with torch.no_grad():
                for k in self.params:
                    self.params[k].copy_(self._best[k])
            for k in self.buffers:
                self.buffers[k] = self._best[k].clone()

    def best_state(self):
        return self._best

    def load_best_state(self, s) -> None:
        if s:
            dev = next(iter(self.params.values())).device
            self._best = {k: v.to(dev) for k, v in s.items()}

    def clip_grad_(self, max_norm: float) -> None:
        """Clip each model's gradient (over all its parameter slices) to ``max_norm``."""
        grads = [p.grad for p in self.params.values() if p.grad is not None]
        if not grads:
            return
        sq = torch.stack([g.detach().float().pow(2).reshape(g.shape[0], -1).sum(1) for g in grads]).sum(0)
        scale = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.reshape((-1,) + (1,) * (g.ndim - 1)).to(g.dtype))

    def module(self, template: nn.Module, m: int) -> nn.Module:
        """Model ``m``'s weights loaded into ``template`` (an identically built module), returned."""
        state = {k: v[m].detach().cpu() for k, v in {**self.params, **self.buffers}.items()}
        template.load_state_dict(state)
        return template


def as_trainable(model, device):
    if isinstance(model, (SingleModel, StackedModels)):
        return model
    if isinstance(model, nn.Module):
        return SingleModel(model, device)
    models = list(model)
    if not models or not all(isinstance(m, nn.Module) for m in models):
        raise TypeError("Invalid value for the 'model' parameter: expected an nn.Module or a non-empty sequence of "
                        f"nn.Modules, but got {type(model).__name__}.")
    return StackedModels(models, device)
