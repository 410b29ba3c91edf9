"""Checkpoint files: atomic writes, safe loading, and rebuilding a model from its checkpoint alone.

A checkpoint written by :func:`~neuroaffect.training.engine.fit` is a ``torch.save`` dict
(loaded with ``weights_only=True``: tensors, numbers, strings, lists and dicts only) holding

- ``format``: :data:`CHECKPOINT_FORMAT`;
- ``specs``: per model, ``{"name": registered model name, "kwargs": constructor arguments}``
  (``None`` for a model built outside the registry);
- ``weights``: ``{"kind": "single", "state": state_dict}`` or ``{"kind": "stacked", "params":
  ..., "buffers": ...}`` (leading axis = model);
- ``config`` (the training configuration, JSON), ``fingerprint`` (sha256 of the data, the
  architecture and the seeds), ``inputs`` (the caller's provenance, e.g. feature-file
  hashes, JSON), and the optimiser, scheduler, RNG and data-order states that make a resumed
  run bit-identical on CPU.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._utils import atomic_write_bytes

__all__ = ["CHECKPOINT_FORMAT", "encode_spec", "decode_spec", "load_checkpoint", "load_model", "save_checkpoint"]

CHECKPOINT_FORMAT = "neuroaffect-checkpoint/2"


def save_checkpoint(path, state: dict) -> Path:
    """``torch.save`` of a dict, atomically (temporary file beside ``path``, then rename).

    The archive is built in memory first, so its internal record names do not depend on the
    temporary file's random name: the same state gives the same bytes.
    """
    buf = io.BytesIO()
    torch.save(state, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a checkpoint with ``torch.load(weights_only=True)``.

    Raises ``ValueError`` naming the file if it is unreadable, truncated, holds objects other
    than tensors and plain containers, or is not a checkpoint of this format.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # unreadable, truncated, or holding disallowed objects
        raise ValueError(f"{path}: expected a training checkpoint ({CHECKPOINT_FORMAT}), but it could not be "
                         f"loaded: {err}") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path}: expected a training checkpoint ({CHECKPOINT_FORMAT}), but found {found!r}")
    return state


def encode_spec(spec: dict | None) -> dict | None:
    """A model spec with numpy arrays turned into tensors (storable with ``weights_only``)."""
    if spec is None:
        return None
    kw = {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
          for k, v in spec["kwargs"].items()}
    return {"name": spec["name"], "kwargs": kw}


def decode_spec(spec: dict | None) -> dict | None:
    """Inverse of :func:`encode_spec`."""
    if spec is None:
        return None
    kw = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in spec["kwargs"].items()}
    return {"name": spec["name"], "kwargs": kw}


def spec_summary(spec: dict | None) -> dict | None:
    """A JSON-able view of a spec (arrays shown by shape), for configs and result files."""
    if spec is None:
        return None
    kw = {k: (f"array{tuple(np.shape(v))}" if isinstance(v, (np.ndarray, torch.Tensor)) else v)
          for k, v in spec["kwargs"].items()}
    return {"name": spec["name"], "kwargs": kw}


def load_model(checkpoint, index: int = 0, map_location="cpu") -> nn.Module:
    """Rebuild a registered model from a checkpoint file alone, with its trained weights.

    Parameters
    ----------
    checkpoint : path-like
        A file written by :func:`~neuroaffect.training.engine.fit` (or the trainers built on it).
    index : int
        Which model of a stacked checkpoint (a sweep's group file holds several).
    map_location : str | torch.device
        Where to put the weights.

    Returns
    -------
    model : torch.nn.Module
        In ``eval()`` mode, on ``map_location``; its weights are the checkpoint's (the best
        epoch's when training stopped early and finished).

    Raises
    ------
    ValueError
        If the file is not a checkpoint, ``index`` is out of range, or the model was not built
        from the registry (no spec recorded).
    """
    from ..models import create_model  # noqa: PLC0415 - models sit below training

    path = Path(checkpoint)
    state = load_checkpoint(path, map_location=map_location)
    specs = state.get("specs") or []
    if not 0 <= index < len(specs):
        raise ValueError(f"{path}: expected a model index in [0, {len(specs)}), but got {index!r}")
    spec = decode_spec(specs[index])
    if spec is None:
        raise ValueError(f"{path}: expected a model spec (registered name and constructor arguments) for model "
                         f"{index}, but found none: the model was not built with neuroaffect.models.create_model")
    kw = dict(spec["kwargs"])
    model = create_model(spec["name"], **kw)
    w = state["weights"]
    if w["kind"] == "single":
        sd = w["state"]
    else:
        sd = {k: v[index] for k, v in {**w["params"], **w["buffers"]}.items()}
    try:
        model.load_state_dict(sd)
    except RuntimeError as err:
        raise ValueError(f"{path}: expected weights matching {spec['name']} built with its recorded arguments, "
                         f"but loading failed: {err}") from err
    return model.to(map_location).eval()


def config_json(config: dict) -> str:
    """The canonical JSON text of a training configuration (sorted keys)."""
    return json.dumps(config, sort_keys=True, default=str)
