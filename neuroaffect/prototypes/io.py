"""The exported grid: ``grid.safetensors`` + ``grid.npz`` + ``card.json``, and the checked loader.

Layout of an export folder (``docs/prototypes.md``):

=====================  ====================================================================
file                   content
=====================  ====================================================================
``grid.safetensors``   tensors ``prototypes`` (n, n, D) float32, ``centres`` (n,) float64,
                       ``edges`` (n + 1,) float64, ``counts`` (n_sources, n, n) int64,
                       ``filled`` (n, n) uint8; the card as the header's ``card`` metadata
``grid.npz``           the same arrays (no pickle), for readers with numpy only
``card.json``          schema version, D, normalisation, bin edges, sources, the teacher and
                       its checkpoint sha256, input sha256s, config hash, code version, the
                       sha256 of every array, the ordering figure, the licence note, and
                       ``card_sha256`` (:func:`card_sha256`: the checksum of all the rest)
=====================  ====================================================================

:func:`load_grid` needs only numpy (the ``.safetensors`` file is read with the ``safetensors``
package when it is installed, else the ``.npz``). It verifies the card's schema version, the
card's own checksum, the sha256 of every array against the card and (safetensors) the card in
the header, and refuses a tampered, truncated, earlier- or future-schema file with
:class:`GridFormatError` naming the file and what failed.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, atomic_write_bytes, atomic_write_text

__all__ = ["ARRAYS", "SCHEMA_VERSION", "GridFormatError", "PrototypeGrid", "array_sha256", "card_sha256",
           "load_grid", "write_grid_files"]

#: Version of the export layout; a loader refuses cards of other versions (2: the card's own checksum).
SCHEMA_VERSION = 2
#: Arrays of an export, in file order.
ARRAYS = ("prototypes", "centres", "edges", "counts", "filled")
LICENCE_NOTE = (
    "The prototypes derive from licensed EEG datasets (e.g. DREAMER, MAHNOB-HCI) when built from real data: "
    "their use is bound by those datasets' licences and end-user agreements. Grids built from the simulator's "
    "data carry no such restriction."
)


class GridFormatError(DatasetFormatError):
    """An exported grid is missing, truncated, tampered with, or of an unknown schema."""


def array_sha256(a: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and C-order bytes (the checksum the card records)."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def card_sha256(card: dict) -> str:
    """sha256 of a card's canonical JSON (sorted keys, compact), its ``card_sha256`` entry left out."""
    body = {k: v for k, v in card.items() if k != "card_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _npz_bytes(arrays: dict) -> bytes:
    """An ``.npz`` with fixed member timestamps, so the same arrays give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, a in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(a), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def write_grid_files(out, arrays: dict, card: dict) -> dict:
    """Write the three files of an export folder atomically; return their paths.

    ``card`` gets ``arrays_sha256`` (one per array), ``schema_version`` and ``card_sha256`` before
    it is written; the same card goes into the safetensors header (``metadata["card"]``).
    """
    from safetensors.numpy import save

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(arrays[k]) for k in ARRAYS}
    card = {**card, "schema_version": SCHEMA_VERSION, "arrays_sha256": {k: array_sha256(v) for k, v in arrays.items()}}
    card["card_sha256"] = card_sha256(card)
    text = json.dumps(card, indent=2, sort_keys=True) + "\n"
    paths = {"safetensors": out / "grid.safetensors", "npz": out / "grid.npz", "card": out / "card.json"}
    atomic_write_bytes(paths["safetensors"], save(arrays, metadata={"card": json.dumps(card, sort_keys=True)}))
    atomic_write_bytes(paths["npz"], _npz_bytes(arrays))
    atomic_write_text(paths["card"], text)
    return paths


@dataclass(eq=False)
class PrototypeGrid:
    """A loaded, verified prototype grid.

    Attributes
    ----------
    prototypes : ndarray of float32, shape (n, n, D)
        Unit-norm prototypes; axis 0 valence (low to high), axis 1 arousal (low to high).
    centres : ndarray of float64, shape (n,)
        Bin centres on each axis, normalised units ([-1, 1]).
    edges : ndarray of float64, shape (n + 1,)
    counts : ndarray of int64, shape (n_sources, n, n)
        Members per bin from each source (``card["sources"]`` names them).
    filled : ndarray of bool, shape (n, n)
        Bins that were empty and copy their nearest non-empty bin.
    card : dict
        The export's card (provenance, normalisation, ordering figure, checksums).
    path : pathlib.Path
        The file the arrays were read from.
    """

    prototypes: np.ndarray
    centres: np.ndarray
    edges: np.ndarray
    counts: np.ndarray
    filled: np.ndarray
    card: dict
    path: Path

    @property
    def n(self) -> int:
        return int(self.centres.size)

    @property
    def dim(self) -> int:
        return int(self.prototypes.shape[-1])

    @property
    def sha256(self) -> str:
        """Checksum of the prototypes array (what a student records to name its grid)."""
        return self.card["arrays_sha256"]["prototypes"]

    def as_array(self) -> np.ndarray:
        """The prototypes flattened to (n * n, D), bins in (valence, arousal) order."""
        return self.prototypes.reshape(-1, self.dim)

    def tensor(self, device="cpu", dtype=None):
        """The prototypes as a torch tensor of shape (n, n, D) (imports torch only here)."""
        import torch

        return torch.as_tensor(self.prototypes, dtype=dtype or torch.float32, device=device)

    def bin_centres(self) -> np.ndarray:
        """Centre of every bin, shape (n * n, 2) (valence, arousal), in (valence, arousal) order."""
        v, a = np.meshgrid(self.centres, self.centres, indexing="ij")
        return np.c_[v.ravel(), a.ravel()]

    def lookup(self, valence, arousal) -> np.ndarray:
        """Prototype of the bin holding each (valence, arousal) point.

        Parameters
        ----------
        valence, arousal : float or array-like, shape (n_points,)
            Normalised units; points outside [-1, 1] go to the edge bins.

        Returns
        -------
        prototypes : ndarray, shape (D,) or (n_points, D)
        """
        from ..labels import grid_cells

        v, a = np.atleast_1d(np.asarray(valence, dtype=float)), np.atleast_1d(np.asarray(arousal, dtype=float))
        if np.isnan(v).any() or np.isnan(a).any():
            raise ValueError("Invalid values of 'valence'/'arousal': expected finite points, but got NaN.")
        iv, ia = grid_cells(v, a, self.n)
        out = self.prototypes[iv, ia]
        return out[0] if np.ndim(valence) == 0 else out

    def soft_assign(self, valence, arousal, temperature: float = 0.1) -> np.ndarray:
        """Soft assignment of points to the bins: ``softmax_k(-||c_k - (v, a)||^2 / temperature)``.

        Returns
        -------
        weights : ndarray, shape (n * n,) or (n_points, n * n)
            Rows sum to 1; bins in (valence, arousal) order (see :meth:`bin_centres`).
        """
        if not np.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"Invalid value for the 'temperature' parameter: expected > 0, but got {temperature!r}.")
        p = np.c_[np.atleast_1d(valence), np.atleast_1d(arousal)].astype(float)
        d2 = ((p[:, None, :] - self.bin_centres()[None]) ** 2).sum(-1)
        z = -d2 / temperature
        w = np.exp(z - z.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        return w[0] if np.ndim(valence) == 0 else w

    def soft_prototype(self, valence, arousal, temperature: float = 0.1) -> np.ndarray:
        """The soft-assignment-weighted mean of the prototypes, normalised: shape (D,) or (n_points, D)."""
        w = self.soft_assign(valence, arousal, temperature)
        p = w @ self.as_array()
        return p / np.linalg.norm(p, axis=-1, keepdims=True)


def _files(path: Path) -> tuple[Path, Path | None]:
    """(card path, arrays path or None) for a folder, a card, or an arrays file."""
    if path.is_dir():
        return path / "card.json", None
    if path.name == "card.json":
        return path, None
    return path.parent / "card.json", path


def _read_safetensors(fname: Path) -> tuple[dict, dict]:
    from safetensors import safe_open

    try:
        with safe_open(str(fname), framework="numpy") as f:
            meta = f.metadata() or {}
            return {k: f.get_tensor(k) for k in f.keys()}, meta
    except Exception as err:  # the library reports truncation and bad headers with its own types
        raise GridFormatError(fname, "a safetensors file of a prototype grid", f"an unreadable file ({err})") from None


def _read_npz(fname: Path) -> dict:
    try:
        with np.load(fname, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as err:  # zipfile, numpy format and pickle refusals
        raise GridFormatError(fname, "an .npz file of a prototype grid (no pickled objects)",
                              f"an unreadable file ({type(err).__name__}: {err})") from None


def load_grid(path) -> PrototypeGrid:
    """Load and verify an exported prototype grid.

    Parameters
    ----------
    path : path-like
        The export folder, its ``card.json``, ``grid.safetensors`` or ``grid.npz``. A folder is read
        through ``grid.safetensors`` when the ``safetensors`` package is installed, else ``grid.npz``.

    Returns
    -------
    grid : PrototypeGrid

    Raises
    ------
    GridFormatError
        Missing files, a card that is not JSON, is of another schema version or differs from its
        ``card_sha256``, a truncated or unreadable array file, an array whose sha256 differs from the card's, a safetensors header
        whose card differs from ``card.json``, or arrays of inconsistent shapes.
    """
    path = Path(path)
    card_path, arrays_path = _files(path)
    if not card_path.is_file():
        raise GridFormatError(card_path, "the card of a prototype grid (card.json beside the arrays)", "no such file")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GridFormatError(card_path, "a JSON card", f"unreadable text ({err})") from None
    if not isinstance(card, dict) or not isinstance(card.get("schema_version"), int):
        raise GridFormatError(card_path, "a card with an integer 'schema_version'", f"{str(card)[:80]!r}")
    if card["schema_version"] > SCHEMA_VERSION:
        raise GridFormatError(card_path, f"schema version <= {SCHEMA_VERSION} (this loader's)",
                              f"schema version {card['schema_version']}: update neuroaffect to read it")
    if card["schema_version"] < SCHEMA_VERSION or "card_sha256" not in card:
        raise GridFormatError(card_path, f"a card of schema version {SCHEMA_VERSION} carrying its 'card_sha256'",
                              f"schema version {card['schema_version']} without one: export the grid again")
    found = card_sha256(card)
    if card["card_sha256"] != found:
        raise GridFormatError(card_path, f"content sha256 {card['card_sha256']}",
                              f"{found} (the grid's card was changed after export)")
    expected = card.get("arrays_sha256")
    if not isinstance(expected, dict) or set(expected) != set(ARRAYS):
        raise GridFormatError(card_path, f"'arrays_sha256' for {list(ARRAYS)}", f"{expected!r}")
    if arrays_path is None:
        try:
            import safetensors  # noqa: F401

            arrays_path = card_path.parent / "grid.safetensors"
        except ImportError:
            arrays_path = card_path.parent / "grid.npz"
    if not arrays_path.is_file():
        raise GridFormatError(arrays_path, "the arrays of a prototype grid", "no such file")
    if arrays_path.suffix == ".safetensors":
        arrays, meta = _read_safetensors(arrays_path)
        try:
            header_card = json.loads(meta.get("card", "null"))
        except json.JSONDecodeError:
            header_card = None
        if header_card != card:
            raise GridFormatError(arrays_path, f"the card of {card_path.name} in its header", "a different card")
    else:
        arrays = _read_npz(arrays_path)
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise GridFormatError(arrays_path, f"arrays {list(ARRAYS)}", f"no {missing}")
    for k in ARRAYS:
        if array_sha256(arrays[k]) != expected[k]:
            raise GridFormatError(arrays_path, f"array {k!r} with the sha256 recorded in {card_path.name}",
                                  "a different checksum (the file was changed after export)")
    protos, centres, edges = arrays["prototypes"], arrays["centres"], arrays["edges"]
    n = centres.size
    if protos.shape[:2] != (n, n) or edges.shape != (n + 1,) or arrays["filled"].shape != (n, n) \
            or arrays["counts"].shape[1:] != (n, n) or protos.shape[2] != card.get("dim"):
        raise GridFormatError(arrays_path, f"consistent shapes for an {n} x {n} grid of dimension {card.get('dim')}",
                              f"shapes {[tuple(arrays[k].shape) for k in ARRAYS]}")
    return PrototypeGrid(prototypes=protos.astype(np.float32, copy=False), centres=centres, edges=edges,
                         counts=arrays["counts"], filled=arrays["filled"].astype(bool), card=card, path=arrays_path)
