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
the header, then what the arrays hold (:func:`check_grid_content`; dtypes and shapes from the
files' declared headers before any data is read), and refuses a tampered, truncated, earlier- or
future-schema or content-invalid file with :class:`GridFormatError` naming the file and the field.
Checksums catch corruption and accidental edits, not a deliberate edit that recomputes them
(``docs/prototypes.md``, "What the checksums protect against").
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, atomic_write_bytes, atomic_write_text, load_json_bounded, loads_json_bounded

__all__ = ["ARRAYS", "SCHEMA_VERSION", "GridFormatError", "GridGeometry", "PrototypeGrid", "array_sha256",
           "card_sha256", "check_grid_content", "load_grid", "write_grid_files"]

#: Version of the export layout; a loader refuses cards of other versions (2: the card's own checksum).
SCHEMA_VERSION = 2
#: Arrays of an export, in file order.
ARRAYS = ("prototypes", "centres", "edges", "counts", "filled")
#: Bounds a loader holds an export to before reading its arrays: bins per axis, embedding width,
#: sources, bytes of one array, bytes of the card (a larger declared array is refused unread).
MAX_GRID, MAX_DIM, MAX_SOURCES = 64, 65536, 16
MAX_ARRAY_BYTES = 256 << 20
CARD_MAX_BYTES = 16 << 20
#: How far from 1 the norm of a stored prototype may be (float32 rounding).
UNIT_NORM_TOL = 1e-3
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


class GridGeometry:
    """What every prototype grid answers from its ``prototypes`` (n, n, D), ``centres`` (n,) and
    ``edges`` (n + 1,): sizes, flattened prototypes, bin centres, lookup and soft assignment. The built
    grid (:class:`~neuroaffect.prototypes.grid.GridBuild`) and the loaded one (:class:`PrototypeGrid`)
    are both grids of this one type."""

    prototypes: np.ndarray
    centres: np.ndarray
    edges: np.ndarray

    @property
    def n(self) -> int:
        return int(self.centres.size)

    @property
    def dim(self) -> int:
        return int(self.prototypes.shape[-1])

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


@dataclass(eq=False)
class PrototypeGrid(GridGeometry):
    """A loaded, verified prototype grid: the exported view of a
    :class:`~neuroaffect.prototypes.grid.GridBuild` (the same arrays, counts stacked by source, and the
    card; :meth:`GridBuild.to_grid <neuroaffect.prototypes.grid.GridBuild.to_grid>` gives it in memory).

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
    path : pathlib.Path | None
        The file the arrays were read from (``None`` for a grid not read from a file).
    """

    prototypes: np.ndarray
    centres: np.ndarray
    edges: np.ndarray
    counts: np.ndarray
    filled: np.ndarray
    card: dict
    path: Path | None

    @property
    def sha256(self) -> str:
        """Checksum of the prototypes array (what a student records to name its grid)."""
        return self.card["arrays_sha256"]["prototypes"]


def _files(path: Path) -> tuple[Path, Path | None]:
    """(card path, arrays path or None) for a folder, a card, or an arrays file."""
    if path.is_dir():
        return path / "card.json", None
    if path.name == "card.json":
        return path, None
    return path.parent / "card.json", path


def _expected_layout(card_path: Path, card: dict) -> dict:
    """``{array: (dtype str, shape)}`` the card promises, from its ``dim``, ``grid_size`` and ``sources``."""
    dim, n, sources = card.get("dim"), card.get("grid_size", card.get("n")), card.get("sources")
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= MAX_DIM:
        raise GridFormatError(card_path, f"field 'dim': an integer in [1, {MAX_DIM}]", repr(dim)[:80])
    if not isinstance(sources, list) or not 1 <= len(sources) <= MAX_SOURCES \
            or not all(isinstance(x, str) for x in sources):
        raise GridFormatError(card_path, f"field 'sources': a list of 1 to {MAX_SOURCES} names", repr(sources)[:80])
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_GRID):
        raise GridFormatError(card_path, f"field 'grid_size': an integer in [2, {MAX_GRID}]", repr(n)[:80])
    return {"prototypes": ("<f4", (n, n, dim)), "centres": ("<f8", (n,)), "edges": ("<f8", (None if n is None
            else n + 1,)), "counts": ("<i8", (len(sources), n, n)), "filled": ("|u1", (n, n))}


def _check_declared(fname: Path, name: str, dtype: np.dtype, shape: tuple, layout: dict) -> None:
    """Refuse an array from its declared dtype and shape, before any of its bytes are read."""
    want_dtype, want_shape = layout[name]
    if np.dtype(dtype).hasobject:
        raise GridFormatError(fname, f"array {name!r} of dtype {np.dtype(want_dtype)} (no pickled objects)",
                              "an array of Python objects")
    if np.dtype(dtype).str != want_dtype:
        raise GridFormatError(fname, f"array {name!r} of dtype {np.dtype(want_dtype)} ({want_dtype})",
                              f"dtype {np.dtype(dtype)} ({np.dtype(dtype).str})")
    shape = tuple(int(x) for x in shape)
    if len(shape) != len(want_shape) or any(w is not None and w != s for w, s in zip(want_shape, shape)):
        want = "(" + ", ".join("n" if w is None else str(w) for w in want_shape) + ("," if len(want_shape) == 1
                                                                                     else "") + ")"
        raise GridFormatError(fname, f"array {name!r} of shape {want} (the card's grid)", f"shape {shape}")
    nbytes = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise GridFormatError(fname, f"array {name!r} of at most {MAX_ARRAY_BYTES} bytes", f"{nbytes} bytes declared")


def _read_safetensors(fname: Path, layout: dict) -> tuple[dict, dict]:
    from safetensors import safe_open

    st_dtypes = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "U8": "|u1", "F16": "<f2", "I32": "<i4", "BF16": "<V2"}
    try:
        with safe_open(str(fname), framework="numpy") as f:
            meta = f.metadata() or {}
            keys = list(f.keys())
            for k in ARRAYS:
                if k in keys:
                    sl = f.get_slice(k)
                    _check_declared(fname, k, np.dtype(st_dtypes.get(sl.get_dtype(), "|V1")), tuple(sl.get_shape()),
                                    layout)
            return {k: f.get_tensor(k) for k in keys if k in ARRAYS}, meta
    except GridFormatError:
        raise
    except Exception as err:  # the library reports truncation and bad headers with its own types
        raise GridFormatError(fname, "a safetensors file of a prototype grid", f"an unreadable file ({err})") from None


def _read_npz(fname: Path, layout: dict) -> dict:
    """The arrays of ``grid.npz``, each refused from its ``.npy`` header before its data is inflated."""
    out = {}
    try:
        with zipfile.ZipFile(fname) as zf:
            members = {info.filename: info for info in zf.infolist()}
            for k in ARRAYS:
                if f"{k}.npy" not in members:
                    continue
                with zf.open(members[f"{k}.npy"]) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version not in ((1, 0), (2, 0)):
                        raise GridFormatError(fname, f"array {k!r} in .npy format 1.0 or 2.0", f"format {version}")
                    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                        else np.lib.format.read_array_header_2_0
                    shape, fortran, dtype = read_header(fh, max_header_size=10000)
                    _check_declared(fname, k, dtype, shape, layout)
                    count = int(np.prod(shape, dtype=np.int64))
                    data = fh.read(count * dtype.itemsize)
                if len(data) != count * dtype.itemsize:
                    raise GridFormatError(fname, f"{count * dtype.itemsize} bytes of array {k!r}",
                                          f"{len(data)} (a truncated member)")
                a = np.frombuffer(data, dtype=dtype)
                out[k] = (a.reshape(shape[::-1]).T if fortran else a.reshape(shape)).copy()
    except GridFormatError:
        raise
    except Exception as err:  # zipfile, numpy format and pickle refusals
        raise GridFormatError(fname, "an .npz file of a prototype grid (no pickled objects)",
                              f"an unreadable file ({type(err).__name__}: {err})") from None
    return out


def _card_list(fname, card: dict, key: str, sub: str | None = None):
    """The card's copy of an array (``card[key]`` or ``card[key][sub]``) as floats; None when absent."""
    v = card.get(key)
    if sub is not None:
        v = v.get(sub) if isinstance(v, dict) else None
    if v is None:
        return None
    try:
        return np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise GridFormatError(fname, f"the card's {key!r} as numbers", f"{str(v)[:80]!r}") from None


def check_grid_content(fname, card: dict, arrays: dict) -> None:
    """Refuse arrays whose values break what the card and ``docs/prototypes.md`` promise.

    Checked: finite unit-norm prototypes; finite, increasing centres and edges equal to the
    ``n x n`` grid's on [-1, 1] (the bins :meth:`PrototypeGrid.lookup` uses), each centre inside its
    bin; member counts >= 0; ``filled`` flags in {0, 1} and set exactly on the bins without members;
    and the card's own copies (``bin_edges``, ``bin_centres``, ``filled``, ``counts``) equal to the arrays.

    Raises
    ------
    GridFormatError
        Naming ``fname`` and the field.
    """
    from ..labels import grid_centres, grid_edges

    protos, centres, edges = arrays["prototypes"], arrays["centres"], arrays["edges"]
    counts, filled = arrays["counts"], arrays["filled"]
    n = centres.size
    for k in ARRAYS:
        if arrays[k].dtype.kind == "f" and not np.isfinite(arrays[k]).all():
            bad = int((~np.isfinite(arrays[k])).sum())
            raise GridFormatError(fname, f"finite values in array {k!r}", f"{bad} NaN/Inf values")
    norms = np.linalg.norm(protos.astype(np.float64), axis=-1)
    if np.abs(norms - 1).max() > UNIT_NORM_TOL:
        i = np.unravel_index(int(np.abs(norms - 1).argmax()), norms.shape)
        raise GridFormatError(fname, f"array 'prototypes' of unit-norm rows (|norm - 1| <= {UNIT_NORM_TOL:g})",
                              f"norm {norms[i]:.6g} at bin {tuple(int(x) for x in i)}")
    if (np.abs(edges) > 1 + 1e-9).any() or (np.abs(centres) > 1 + 1e-9).any():
        raise GridFormatError(fname, "arrays 'edges' and 'centres' inside the normalised range [-1, 1]",
                              f"edges {edges.min():.6g} .. {edges.max():.6g}, centres {centres.min():.6g} .. "
                              f"{centres.max():.6g}")
    if (np.diff(edges) <= 0).any() or (np.diff(centres) <= 0).any():
        raise GridFormatError(fname, "arrays 'edges' and 'centres' in increasing order",
                              "a decreasing or repeated value")
    if not ((edges[:-1] < centres) & (centres < edges[1:])).all():
        raise GridFormatError(fname, "array 'centres' with each centre inside its bin of 'edges'", "centres outside")
    if not (np.allclose(edges, grid_edges(n), atol=1e-9) and np.allclose(centres, grid_centres(n), atol=1e-9)):
        raise GridFormatError(fname, f"arrays 'edges' and 'centres' of the {n} x {n} grid on [-1, 1] "
                              "(the bins lookups use)", f"edges {np.round(edges, 6).tolist()}")
    if (counts < 0).any():
        raise GridFormatError(fname, "array 'counts' of member counts >= 0", f"minimum {int(counts.min())}")
    if not np.isin(filled, (0, 1)).all():
        raise GridFormatError(fname, "array 'filled' of flags in {0, 1}", f"values {np.unique(filled).tolist()[:8]}")
    empty = counts.sum(axis=0) == 0
    if empty.all() or not np.array_equal(filled.astype(bool), empty):
        raise GridFormatError(fname, "array 'filled' set exactly on the bins without members (and some with members)",
                              f"{int(filled.sum())} filled and {int(empty.sum())} empty bins, disagreeing")
    for key, name in (("bin_edges", "edges"), ("bin_centres", "centres"), ("filled", "filled")):
        v = _card_list(fname, card, key)
        if v is not None and (v.shape != arrays[name].shape or not np.allclose(v, arrays[name], atol=1e-9)):
            raise GridFormatError(fname, f"array {name!r} equal to the card's {key!r}", "different values")
    for i, src in enumerate(card["sources"]):
        v = _card_list(fname, card, "counts", src)
        if v is not None and (v.shape != counts[i].shape or not np.array_equal(v, counts[i])):
            raise GridFormatError(fname, f"array 'counts' equal to the card's counts of {src!r}", "different counts")


def _read_card(card_path: Path) -> dict:
    if not card_path.is_file():
        raise GridFormatError(card_path, "the card of a prototype grid (card.json beside the arrays)", "no such file")
    card = load_json_bounded(card_path, "a JSON card of a prototype grid", error=GridFormatError,
                             max_bytes=CARD_MAX_BYTES)
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
        raise GridFormatError(card_path, f"'arrays_sha256' for {list(ARRAYS)}", f"{expected!r}"[:200])
    return card


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
        Missing files, a card that is not JSON (or nested deeper than 64 levels, or over 16 MB), is
        of another schema version or differs from its ``card_sha256``, a truncated or unreadable
        array file, an array of another dtype or shape than the card's grid (refused from its
        declared header, before its data is read), an array whose sha256 differs from the card's,
        a safetensors header whose card differs from ``card.json``, or content that breaks the
        grid's promises (:func:`check_grid_content`: non-finite or non-unit prototypes, bins other
        than the grid's, negative counts, flags other than 0 and 1).
    """
    path = Path(path)
    card_path, arrays_path = _files(path)
    card = _read_card(card_path)
    expected = card["arrays_sha256"]
    layout = _expected_layout(card_path, card)
    if arrays_path is None:
        try:
            import safetensors  # noqa: F401

            arrays_path = card_path.parent / "grid.safetensors"
        except ImportError:
            arrays_path = card_path.parent / "grid.npz"
    if not arrays_path.is_file():
        raise GridFormatError(arrays_path, "the arrays of a prototype grid", "no such file")
    if arrays_path.suffix == ".safetensors":
        arrays, meta = _read_safetensors(arrays_path, layout)
        header = meta.get("card", "null")
        header_card = loads_json_bounded(header, arrays_path, "the card in the safetensors header",
                                         error=GridFormatError, max_bytes=CARD_MAX_BYTES)
        if header_card != card:
            raise GridFormatError(arrays_path, f"the card of {card_path.name} in its header", "a different card")
    else:
        arrays = _read_npz(arrays_path, layout)
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise GridFormatError(arrays_path, f"arrays {list(ARRAYS)}", f"no {missing}")
    for k in ARRAYS:
        if array_sha256(arrays[k]) != expected[k]:
            raise GridFormatError(arrays_path, f"array {k!r} with the sha256 recorded in {card_path.name}",
                                  "a different checksum (the file was changed after export)")
    n = arrays["centres"].size
    layout = _expected_layout(card_path, {**card, "grid_size": n})
    for k in ARRAYS:  # the grid size comes from 'centres' when the card does not state it
        _check_declared(arrays_path, k, arrays[k].dtype, arrays[k].shape, layout)
    check_grid_content(arrays_path, card, arrays)
    return PrototypeGrid(prototypes=arrays["prototypes"], centres=arrays["centres"], edges=arrays["edges"],
                         counts=arrays["counts"], filled=arrays["filled"].astype(bool), card=card, path=arrays_path)
