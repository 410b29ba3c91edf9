"""Batch sources of the training engine: in-memory arrays of M models, or a DataLoader.

:class:`ArraySource` keeps every model's data padded on the device and draws batches by index
(each model its own seeded permutation per epoch; smaller sets wrap around so that all models take
batches of one size). :class:`LoaderSource` streams a ``torch.utils.data.DataLoader`` for data that
does not fit on the device. Both yield inputs and targets with a leading model axis.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils._pytree import tree_map

__all__ = ["ArraySource", "LoaderSource", "as_source"]


def _as_tuple(t):
    return t if isinstance(t, tuple) else (t,)


def _unwrap(t: tuple):
    return t[0] if len(t) == 1 else t


def _pad(arrays: Sequence[np.ndarray], device) -> torch.Tensor:
    """Stack arrays of different lengths into (M, n_max, ...), zero-padded, on ``device``."""
    n_max = max(a.shape[0] for a in arrays)
    out = np.zeros((len(arrays), n_max) + arrays[0].shape[1:], dtype=arrays[0].dtype)
    for m, a in enumerate(arrays):
        out[m, : a.shape[0]] = a
    return torch.as_tensor(out, device=device)


class ArraySource:
    """In-memory data of ``M`` models, resident on the device, batched by index.

    Parameters
    ----------
    inputs : sequence of ndarray, length M
        Model ``m``'s inputs, shape ``(n_m, ...)`` (e.g. tokens ``(n_m, n_chans, n_bands)``);
        float arrays are cast to float32.
    targets : sequence of (ndarray | tuple of ndarray | None), length M
        Model ``m``'s targets, first axis ``n_m`` (classes int64, ratings float32, soft
        labels ``(n_m, K)``); a tuple for several target arrays; ``None`` for prediction only.
    seeds : sequence of int, length M | None
        Seeds of the per-model shuffling generators (``None``: no shuffling is needed, e.g.
        evaluation data).
    device : str | torch.device
    samples_per_epoch : int | None
        Positions visited per epoch (default: the largest ``n_m``). Model ``m`` takes positions
        modulo ``n_m`` of its own permutation, so all models take batches of one size.
    """

    def __init__(self, inputs, targets=None, seeds=None, *, device="cpu", samples_per_epoch: int | None = None):
        inputs = [np.asarray(x) for x in inputs]
        if not inputs:
            raise ValueError("Invalid value for the 'inputs' parameter: expected at least one array, but got none.")
        inputs = [np.ascontiguousarray(x, dtype=np.float32) if x.dtype.kind == "f" else x for x in inputs]
        self.sizes = [int(x.shape[0]) for x in inputs]
        if min(self.sizes) < 1:
            raise ValueError(f"Invalid value for the 'inputs' parameter: expected non-empty arrays, but got sizes "
                             f"{self.sizes}.")
        M = len(inputs)
        if targets is None:
            targets = [None] * M
        if len(targets) != M:
            raise ValueError(f"Invalid value for the 'targets' parameter: expected {M} entries (one per model), but got "
                             f"{len(targets)}.")
        tgts = []
        for m, t in enumerate(targets):
            if t is None:
                tgts.append(None)
                continue
            parts = tuple(_cast_target(np.asarray(a)) for a in _as_tuple(t))
            for a in parts:
                if a.shape[0] != self.sizes[m]:
                    raise ValueError(f"Invalid value for the 'targets' parameter: model {m} has {self.sizes[m]} "
                                     f"inputs but a target of length {a.shape[0]}.")
            tgts.append(parts)
        self.device = torch.device(device)
        self.n_models = M
        self.n_epoch = max(self.sizes) if samples_per_epoch is None else int(samples_per_epoch)
        if self.n_epoch < 1:
            raise ValueError(f"Invalid value for the 'samples_per_epoch' parameter: expected >= 1, but got "
                             f"{samples_per_epoch!r}.")
        self.X = _pad(inputs, self.device)
        self.T = None if any(t is None for t in tgts) else tuple(
            _pad([t[j] for t in tgts], self.device) for j in range(len(tgts[0])))
        self.n = torch.as_tensor(self.sizes, device=self.device)
        self.seeds = None if seeds is None else [int(s) for s in seeds]
        if self.seeds is not None and len(self.seeds) != M:
            raise ValueError(f"Invalid value for the 'seeds' parameter: expected {M} seeds, but got {len(self.seeds)}.")
        self.generators = None if seeds is None else [torch.Generator().manual_seed(s) for s in self.seeds]
        self._arange = torch.arange(M, device=self.device)[:, None]

    def fingerprint_arrays(self) -> list:
        return [self.X.cpu().numpy(), self.n.cpu().numpy()] + ([] if self.T is None else [t.cpu().numpy() for t in self.T])

    def batches(self, batch_size: int):
        """One epoch: yields ``(x (M, b, ...), target, b)``, drawing each model's permutation."""
        if self.generators is None or self.T is None:
            raise ValueError("this ArraySource has no seeds or no targets: it can only be evaluated")
        pos = torch.arange(self.n_epoch)
        order = torch.stack([torch.randperm(n, generator=g)[pos % n]
                             for n, g in zip(self.sizes, self.generators)]).to(self.device)
        for idx in order.split(batch_size, dim=1):  # (M, b)
            yield (self.X[self._arange, idx], _unwrap(tuple(t[self._arange, idx] for t in self.T)),
                   int(idx.shape[1]))

    def eval_batches(self, batch_size: int):
        """All samples in order: yields ``(x (M, b, ...), target or None, mask (M, b))``."""
        n_max = self.X.shape[1]
        for s in range(0, n_max, batch_size):
            pos = torch.arange(s, min(s + batch_size, n_max), device=self.device)
            mask = pos[None, :] < self.n[:, None]
            tgt = None if self.T is None else _unwrap(tuple(t[:, s:s + batch_size] for t in self.T))
            yield self.X[:, s:s + batch_size], tgt, mask

    def split(self, outputs: torch.Tensor) -> list:
        """Cut padded outputs (M, n_max, ...) into the per-model arrays (n_m, ...)."""
        return [outputs[m, : self.sizes[m]] for m in range(self.n_models)]

    def state_dict(self) -> dict:
        return {"generators": [] if self.generators is None else [g.get_state() for g in self.generators]}

    def load_state_dict(self, state: dict) -> None:
        for g, s in zip(self.generators or [], state["generators"]):
            g.set_state(s)


def _cast_target(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iub":
        return a.astype(np.int64, copy=False)
    return np.ascontiguousarray(a, dtype=np.float32)


class LoaderSource:
    """Batches streamed by a ``torch.utils.data.DataLoader`` for one model (``M = 1``).

    Each batch is ``(inputs, target)`` or ``(inputs, target_1, target_2, ...)``; tensors are
    moved to the device as they come. The loader decides the batch size (a ``TrainConfig``
    batch-size schedule does not apply). For exact resumption, give the loader a seeded
    ``generator`` (its state is checkpointed at every epoch's end).

    Parameters
    ----------
    loader : torch.utils.data.DataLoader
    device : str | torch.device
    """

    n_models = 1

    def __init__(self, loader, *, device="cpu"):
        self.loader = loader
        self.device = torch.device(device)
        try:
            self.n_epoch = len(loader.dataset)
        except TypeError:
            self.n_epoch = None

    def _move(self, batch):
        batch = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        moved = tuple(tree_map(lambda t: t.to(self.device, non_blocking=True)[None]
                               if isinstance(t, torch.Tensor) else t, b) for b in batch)
        return moved[0], (_unwrap(moved[1:]) if len(moved) > 1 else None)

    def batches(self, batch_size=None):
        for batch in self.loader:
            x, t = self._move(batch)
            yield x, t, int(x.shape[1])

    def eval_batches(self, batch_size=None):
        for batch in self.loader:
            x, t = self._move(batch)
            yield x, t, None

    def split(self, outputs):
        return [outputs[0]]

    def fingerprint_arrays(self) -> list:
        return []

    def state_dict(self) -> dict:
        g = getattr(self.loader, "generator", None)
        return {"generator": None if g is None else g.get_state()}

    def load_state_dict(self, state: dict) -> None:
        g = getattr(self.loader, "generator", None)
        if g is not None and state.get("generator") is not None:
            g.set_state(state["generator"])


def as_source(data, *, device, seeds=None, samples_per_epoch=None):
    """``ArraySource`` / ``LoaderSource`` as given, a DataLoader wrapped, or ``(X, y)`` as one model's arrays."""
    if isinstance(data, (ArraySource, LoaderSource)):
        return data
    if isinstance(data, torch.utils.data.DataLoader):
        return LoaderSource(data, device=device)
    if isinstance(data, tuple) and len(data) >= 2:
        return ArraySource([data[0]], [_unwrap(tuple(data[1:]))], seeds, device=device,
                           samples_per_epoch=samples_per_epoch)
    raise TypeError(f"Invalid value for the 'data' parameter: expected an ArraySource, a LoaderSource, a DataLoader or "
                    f"an (X, y) tuple, but got {type(data).__name__}.")
