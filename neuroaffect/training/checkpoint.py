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
  run bit-identical on CPU;
- ``content_sha256``: :func:`checkpoint_checksum` of everything else (every tensor's dtype,
  shape and bytes, every number and string), written by :func:`save_checkpoint` and verified by
  :func:`read_checkpoint` / :func:`load_checkpoint`: a changed byte in a weight, a statistic or a
  setting is refused (:class:`~neuroaffect._utils.ArtifactIntegrityError` naming the file) before
  anything trains from, resumes from or evaluates the checkpoint.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._utils import ArtifactIntegrityError, DatasetFormatError, atomic_write_bytes, content_sha256

__all__ = ["CHECKPOINT_FORMAT", "CHECKSUM_KEY", "CheckpointVersionError", "checkpoint_checksum", "decode_spec",
           "encode_spec", "load_checkpoint", "load_model", "read_checkpoint", "save_checkpoint"]

#: Format of the engine's checkpoints; 3 added the content checksum.
CHECKPOINT_FORMAT = "neuroaffect-checkpoint/3"
#: Key of the content checksum in every file :func:`save_checkpoint` writes.
CHECKSUM_KEY = "content_sha256"


class CheckpointVersionError(DatasetFormatError):
    """A checkpoint of another version of this package's format (e.g. written before checksums)."""


def _tensor_content(obj):
    """(tag, bytes) of a tensor for :func:`~neuroaffect._utils.content_sha256`."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        return f"{t.dtype}{tuple(t.shape)}", t.reshape(-1).view(torch.uint8).numpy()
    if isinstance(obj, (torch.dtype, torch.device)):
        return f"{type(obj).__name__}:{obj}", np.empty(0, np.uint8)
    raise TypeError(f"checkpoint_checksum: no checksum rule for a {type(obj).__name__}")


def checkpoint_checksum(state: dict) -> str:
    """sha256 of a checkpoint dict's content (every entry but :data:`CHECKSUM_KEY`).

    Tensors count by dtype, shape and bytes (wherever they live); numbers, strings and containers
    by value (:func:`~neuroaffect._utils.content_sha256`).
    """
    return content_sha256({k: v for k, v in state.items() if k != CHECKSUM_KEY}, convert=_tensor_content)


def save_checkpoint(path, state: dict) -> Path:
    """``torch.save`` of a dict with its :func:`checkpoint_checksum` added, atomically (temporary
    file beside ``path``, then rename).

    The archive is built in memory first, so its internal record names do not depend on the
    temporary file's random name: the same state gives the same bytes.
    """
    state = {k: v for k, v in state.items() if k != CHECKSUM_KEY}
    state[CHECKSUM_KEY] = checkpoint_checksum(state)
    buf = io.BytesIO()
    torch.save(state, buf)
    return atomic_write_bytes(path, buf.getvalue())


def read_checkpoint(path, map_location="cpu", *, what: str = "a checkpoint") -> dict:
    """Load a dict written by :func:`save_checkpoint` (``torch.load(weights_only=True)``) and verify
    its content checksum; the checksum entry is removed from the returned dict.

    Raises
    ------
    DatasetFormatError
        Unreadable, truncated, holding objects other than tensors and plain containers, not a
        dict, or without a checksum.
    ArtifactIntegrityError
        The content differs from its checksum (the file was changed after it was written).
    """
    path = Path(path)
    state = _torch_load(path, map_location, what)
    return _verified(path, state, what)


def _torch_load(path: Path, map_location, what: str):
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # unreadable, truncated, or holding disallowed objects
        raise DatasetFormatError(path, what, f"a file torch.load cannot read ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict):
        raise DatasetFormatError(path, what, f"a {type(state).__name__}")
    return state


def _verified(path: Path, state: dict, what: str) -> dict:
    expected = state.pop(CHECKSUM_KEY, None)
    if not isinstance(expected, str):
        raise DatasetFormatError(path, f"{what} carrying its {CHECKSUM_KEY!r}",
                                 "none (written by an earlier version, or edited): delete it and train again")
    try:
        found = checkpoint_checksum(state)
    except TypeError as err:
        raise DatasetFormatError(path, what, f"content that cannot be checksummed ({err})") from None
    if found != expected:
        raise ArtifactIntegrityError(path, expected, found)
    return state


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a training checkpoint with ``torch.load(weights_only=True)`` and verify it.

    Raises
    ------
    CheckpointVersionError
        A checkpoint of another version of the format (e.g. one written before checksums).
    DatasetFormatError
        Unreadable, truncated, holding objects other than tensors and plain containers, or not a
        training checkpoint (all name the file).
    ArtifactIntegrityError
        Its content differs from its checksum.
    """
    path = Path(path)
    what = f"a training checkpoint ({CHECKPOINT_FORMAT})"
    state = _torch_load(path, map_location, what)
    fmt = state.get("format")
    if fmt != CHECKPOINT_FORMAT:
        cls = CheckpointVersionError if isinstance(fmt, str) and fmt.startswith("neuroaffect-checkpoint/") \
            else DatasetFormatError
        raise cls(path, what, repr(fmt))
    return _verified(path, state, what)


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
        If the file is not a checkpoint (:class:`~neuroaffect._utils.DatasetFormatError`), was
        changed after it was written (:class:`~neuroaffect._utils.ArtifactIntegrityError`),
        ``index`` is out of range, or the model was not built from the registry (no spec recorded).
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
