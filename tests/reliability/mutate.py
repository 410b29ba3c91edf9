"""Corrupted variants of small valid files, for every reader and for ``read_features``.

A :class:`Target` writes one small valid copy of a dataset in its real layout (DEAP, DREAMER, SEED,
SEED-IV, MAHNOB-HCI, FERPlus, AffectNet-mini, CK+, a face image, a feature file) and knows how to
read it. Its :class:`Mutation` s change one file of a fresh copy: truncation at a drawn offset,
flipped bytes, emptied files, wrong extensions, keys removed or renamed (pickle keys, MATLAB
variables and struct fields, XML elements and attributes, CSV columns, BDF channel labels),
shapes and dtypes changed, NaN/Inf, absurd and flat values, and huge declared sizes (pickle
string lengths, MATLAB element sizes and dimensions, BDF record counts). Each mutation says what a
correct reader must do with it (:class:`Variant`):

- ``"reject"``: the package's own error naming the file;
- ``"either"``: a rejection, or a read equal to the intact copy's. The comparison is strict (every
  value) unless the changed byte lies where a format without a checksum stores values (a sample,
  a calibration field, a rating in text): a changed value there cannot be detected by any reader,
  so only the structure (subjects, trials, channels, shapes, rates) must be unchanged.

Random choices come from ``draw(lo, hi) -> int`` (both ends included): hypothesis in
``tests/reliability/test_fuzz_readers.py``, a seeded numpy generator in ``benchmarks/fault_suite.py``.
:func:`make_case` turns one drawn variant into a :class:`reliability.harness.Case`.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import functools
import hashlib
import io
import pickle
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .harness import Case

__all__ = ["Mutation", "Prepared", "Target", "Variant", "digest", "make_case", "prepare", "random_cases",
           "targets"]

Draw = Callable[[int, int], int]


@dataclass(frozen=True)
class Variant:
    """What a mutation did: a ``label`` for the case name, the ``expect`` ation, strictness, the file."""

    label: str
    expect: str
    strict: bool
    file: Path


@dataclass(frozen=True)
class Mutation:
    """``apply(root, draw) -> Variant`` changes a fresh copy below ``root`` in place."""

    name: str
    apply: Callable[[Path, Draw], Variant]


@dataclass(frozen=True)
class Target:
    """A reader and the small valid copy it reads.

    ``build(folder) -> root`` writes the copy below ``folder``; ``read(root)`` reads it as the package
    does; ``mutations`` corrupt a copy.
    """

    name: str
    build: Callable[[Path], Path]
    read: Callable[[Path], object]
    mutations: tuple


# --------------------------------------------------------------------------------------------
# comparing reads
# --------------------------------------------------------------------------------------------
_SKIP_FIELDS = {"fnames", "info", "meta"}
_VALUE_FIELDS = {"unit", "labels", "soft_labels", "valence", "arousal", "label_range"}


def _feed(h, obj, root: str, strict: bool) -> None:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(type(obj).__name__.encode())
        for f in dataclasses.fields(obj):
            if f.name in _SKIP_FIELDS or (not strict and f.name in _VALUE_FIELDS):
                continue
            h.update(f.name.encode())
            _feed(h, getattr(obj, f.name), root, strict)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind in "OU":
            _feed(h, obj.tolist(), root, strict)
            return
        h.update(f"{obj.dtype.kind if not strict else obj.dtype.str}{obj.shape}".encode())
        if strict:
            h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            h.update(str(k).encode())
            _feed(h, obj[k], root, strict)
    elif isinstance(obj, (list, tuple)):
        h.update(f"[{len(obj)}".encode())
        for x in obj:
            _feed(h, x, root, strict)
    elif hasattr(obj, "data_vars") and hasattr(obj, "attrs"):  # xarray.Dataset
        for name in sorted(obj.variables):
            var = obj.variables[name]
            h.update(f"{name}{var.dims}".encode())
            _feed(h, np.asarray(var.values), root, strict)
            _feed(h, dict(var.attrs), root, strict)
        _feed(h, dict(obj.attrs), root, strict)
    elif isinstance(obj, (str, Path)):
        h.update(str(obj).replace(root, "<root>").encode())
    elif isinstance(obj, (float, np.floating)) and not strict:
        h.update(b"float")
    else:
        h.update(repr(obj).encode())


def digest(obj, root, strict: bool = True) -> str:
    """sha256 of what a read returned, with ``root`` replaced in paths; ``strict=False``: structure only."""
    h = hashlib.sha256()
    _feed(h, obj, str(root), strict)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# byte-level mutations (any file)
# --------------------------------------------------------------------------------------------
def _in_regions(offset: int, regions) -> bool:
    return any(a <= offset < a + n for a, n in regions)


def truncate(rel: str) -> Mutation:
    """Cut the file at a drawn offset (0 .. size - 1); a read must equal the intact one."""
    def apply(root, draw):
        f = root / rel
        raw = f.read_bytes()
        n = draw(0, len(raw) - 1)
        f.write_bytes(raw[:n])
        return Variant(f"{rel}/truncate@{n}", "either", True, f)
    return Mutation("truncate", apply)


def flip(rel: str, regions: Callable[[bytes], list] | None = None, n_max: int = 1) -> Mutation:
    """XOR 1..``n_max`` drawn bytes with drawn non-zero masks.

    ``regions(raw) -> [(offset, nbytes), ...]`` marks where the format stores values without a
    checksum (None: nowhere); a flip there only needs the structure of the read unchanged.
    """
    def apply(root, draw):
        f = root / rel
        raw = bytearray(f.read_bytes())
        value_regions = regions(bytes(raw)) if regions is not None else []
        strict, done = True, []
        for _ in range(draw(1, n_max)):
            off, mask = draw(0, len(raw) - 1), draw(1, 255)
            raw[off] ^= mask
            strict &= not _in_regions(off, value_regions)
            done.append(f"{off}^{mask:#04x}")
        f.write_bytes(bytes(raw))
        return Variant(f"{rel}/flip@{','.join(done)}", "either", strict, f)
    return Mutation("flip", apply)


def flip_text(rel: str) -> Mutation:
    """Set the high bit of a drawn byte of an ASCII text file: the file is no longer valid UTF-8."""
    def apply(root, draw):
        f = root / rel
        raw = bytearray(f.read_bytes())
        off = draw(0, len(raw) - 1)
        raw[off] |= 0x80
        f.write_bytes(bytes(raw))
        return Variant(f"{rel}/high-bit@{off}", "reject", True, f)
    return Mutation("flip", apply)


def truncate_text(rel: str, sep: str = ",") -> Mutation:
    """Cut a CSV inside a drawn data line, before its last separator (the line loses a field)."""
    def apply(root, draw):
        f = root / rel
        raw = f.read_bytes()
        starts = [0] + [i + 1 for i, b in enumerate(raw) if b == 10 and i + 1 < len(raw)]
        k = draw(1, len(starts) - 1)
        line_end = raw.find(b"\n", starts[k])
        line_end = len(raw) if line_end < 0 else line_end
        cut = raw.rfind(sep.encode(), starts[k], line_end)
        cut = draw(starts[k], cut) if cut > starts[k] else starts[k] + 1
        f.write_bytes(raw[:cut])
        return Variant(f"{rel}/truncate-line{k + 1}@{cut}", "reject", True, f)
    return Mutation("truncate", apply)


def empty(rel: str) -> Mutation:
    def apply(root, draw):
        f = root / rel
        f.write_bytes(b"")
        return Variant(f"{rel}/empty", "reject", True, f)
    return Mutation("empty", apply)


def rename(rel: str, new_name: str, expect: str = "reject", named: str | None = None) -> Mutation:
    """Rename the file (a wrong extension); ``named``: the path the rejection must name (default: root)."""
    def apply(root, draw):
        f = root / rel
        f.rename(f.with_name(new_name))
        return Variant(f"{rel}/renamed-{new_name}", expect, True, root / named if named else root)
    return Mutation("extension", apply)


def rewrite(name: str, rel: str, fn: Callable[[Path, Draw], str], expect: str = "reject") -> Mutation:
    """A structural mutation: ``fn(file, draw) -> label`` rewrites the file."""
    def apply(root, draw):
        f = root / rel
        return Variant(f"{rel}/{fn(f, draw)}", expect, True, f)
    return Mutation(name, apply)


def _found(raw: bytes, arrays) -> list:
    """(offset, nbytes) of each array's bytes (C and Fortran order) found in ``raw``."""
    out = []
    for a in arrays:
        for order in ("C", "F"):
            b = np.asarray(a).tobytes(order=order)
            i = raw.find(b)
            if i >= 0 and b:
                out.append((i, len(b)))
                break
    return out


# --------------------------------------------------------------------------------------------
# DEAP: data_preprocessed_python/s01.dat and participant_ratings.csv
# --------------------------------------------------------------------------------------------
DEAP_DAT = "data_preprocessed_python/s01.dat"
DEAP_CSV = "participant_ratings.csv"


@functools.lru_cache(maxsize=1)
def _deap_arrays_cached():
    from neuroaffect.simulate.deap import simulate_subject

    subj = simulate_subject(0, 1, "tiny")
    return {"data": np.ascontiguousarray(subj["data"][:2, :, :512]), "labels": subj["labels"][:2].copy()}


def _deap_arrays() -> dict:
    """Two trials of a simulated DEAP subject (512 samples); a fresh copy each call."""
    return {k: v.copy() for k, v in _deap_arrays_cached().items()}


def _write_dat(f: Path, arrays: dict, py2: bool = True) -> None:
    from neuroaffect.simulate.deap import write_py2_pickle

    buf = io.BytesIO()
    if py2:
        write_py2_pickle(buf, arrays)
    else:
        pickle.dump(arrays, buf, protocol=2)
    f.write_bytes(buf.getvalue())


def _build_deap(folder: Path) -> Path:
    from neuroaffect.io.deap import RATINGS_HEADER

    root = folder / "deap"
    (root / "data_preprocessed_python").mkdir(parents=True)
    arrays = _deap_arrays()
    _write_dat(root / DEAP_DAT, arrays)
    with open(root / DEAP_CSV, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(RATINGS_HEADER)
        for i, lab in enumerate(arrays["labels"]):
            w.writerow([1, 2 - i, i + 1, 1_000_000 * (i + 1), *(f"{v:.2f}" for v in lab), 3])
    return root


def _deap_dat_regions(raw: bytes) -> list:
    return _found(raw, _deap_arrays().values())


def _deap_edit(label: str, fn: Callable[[dict, Draw], dict], py2: bool = True) -> Mutation:
    def edit(f, draw):
        arrays = _deap_arrays()
        _write_dat(f, fn(arrays, draw), py2)
        return label
    return rewrite(label.split("-")[0], DEAP_DAT, edit)


def _put(value):
    """Set a drawn EEG sample of ``data`` to ``value``."""
    def fn(a, draw):
        d = a["data"]
        d[draw(0, d.shape[0] - 1), draw(0, 31), draw(0, d.shape[2] - 1)] = value
        return a
    return fn


def _huge_pickle_string(f: Path, draw) -> str:
    """Declare a 2 GiB payload in the BINSTRING opcode of the first array (the file stays small)."""
    raw = bytearray(f.read_bytes())
    i = raw.find(b"\x89T")  # NEWFALSE then BINSTRING <int32 length>
    raw[i + 2:i + 6] = struct.pack("<i", 2**31 - draw(1, 64))
    f.write_bytes(bytes(raw))
    return "huge-length"


def _csv_cell(rel: str, row: int | None, col, value: str, label: str) -> Mutation:
    """Set one cell of a CSV file to ``value``: ``row`` drawn when None, ``col`` an index, a (first, last)
    range to draw from, or None (any column)."""
    def edit(f, draw):
        rows = list(csv.reader(f.read_text(encoding="utf-8-sig").splitlines()))
        r = draw(1, len(rows) - 1) if row is None else row
        lo, hi = (0, len(rows[r]) - 1) if col is None else (col if isinstance(col, tuple) else (col, col))
        c = draw(lo, hi)
        rows[r][c] = value
        _write_rows(f, rows)
        return f"{label}@{r},{c}"
    return rewrite(label.split("-")[0], rel, edit)


def _write_rows(f: Path, rows) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    f.write_text(buf.getvalue(), encoding="utf-8")


def _csv_column(rel: str, how: str) -> Mutation:
    """Remove or rename a drawn column of a CSV file."""
    def edit(f, draw):
        rows = list(csv.reader(f.read_text(encoding="utf-8-sig").splitlines()))
        c = draw(0, len(rows[0]) - 1)
        name = rows[0][c]
        if how == "remove":
            rows = [r[:c] + r[c + 1:] for r in rows]
        else:
            rows[0][c] = name[:-1] + ("_" if not name.endswith("_") else "x")
        _write_rows(f, rows)
        return f"column-{how}-{name}"
    return rewrite("key", rel, edit)


def _csv_mutations(rel: str, values: tuple, cols=None) -> list:
    """Text-level corruptions of a CSV, and ``values`` written into a drawn cell of ``cols`` (see _csv_cell)."""
    return [
        truncate_text(rel), flip_text(rel), empty(rel), _csv_column(rel, "remove"), _csv_column(rel, "rename"),
        *[_csv_cell(rel, None, cols, v, f"value-{v[:12]}") for v in values],
        _csv_cell(rel, None, cols, "7" * (200 * 1024), "value-200KiB"),
    ]


def _deap_target() -> Target:
    from neuroaffect.io.deap import read_deap

    def drop(key):
        return lambda a, draw: {k: v for k, v in a.items() if k != key}

    muts = [
        truncate(DEAP_DAT), flip(DEAP_DAT, _deap_dat_regions, 3), empty(DEAP_DAT),
        rename(DEAP_DAT, "s01.pkl", named="data_preprocessed_python"),
        _deap_edit("key-removed-labels", drop("labels")),
        _deap_edit("key-renamed", lambda a, draw: {"data": a["data"], "label": a["labels"]}),
        _deap_edit("key-extra", lambda a, draw: {**a, "baseline": a["labels"]}),
        _deap_edit("shape-39-channels", lambda a, draw: {**a, "data": np.ascontiguousarray(a["data"][:, :39])}),
        _deap_edit("shape-transposed", lambda a, draw: {**a, "data": np.ascontiguousarray(a["data"].transpose(0, 2, 1))}),
        _deap_edit("shape-labels-3", lambda a, draw: {**a, "labels": np.ascontiguousarray(a["labels"][:, :3])}),
        _deap_edit("shape-n-times-odd", lambda a, draw: {**a, "data": np.ascontiguousarray(a["data"][..., :500])}),
        _deap_edit("dtype-complex", lambda a, draw: {**a, "data": a["data"].astype(complex)}, py2=False),
        _deap_edit("dtype-bool", lambda a, draw: {**a, "labels": a["labels"] > 5}, py2=False),
        _deap_edit("dtype-str", lambda a, draw: {**a, "labels": a["labels"].astype(str)}, py2=False),
        _deap_edit("value-nan", _put(np.nan)), _deap_edit("value-inf", _put(-np.inf)),
        _deap_edit("value-1e300", _put(1e300)), _deap_edit("value-1e5uV", _put(1e5)),
        _deap_edit("value-flat", lambda a, draw: (a["data"].__setitem__((draw(0, 1), draw(0, 31)), 0.0), a)[1]),
        _deap_edit("value-label-10", lambda a, draw: (a["labels"].__setitem__((draw(0, 1), draw(0, 3)), 10.0), a)[1]),
        rewrite("size", DEAP_DAT, _huge_pickle_string),
        *_csv_mutations(DEAP_CSV, ("inf", "nan", "1e30", "9" * 400, "-3", "x")),
    ]
    return Target("deap", _build_deap, lambda root: read_deap(root), tuple(muts))


# --------------------------------------------------------------------------------------------
# MATLAB files: DREAMER.mat, SEED and SEED-IV sessions
# --------------------------------------------------------------------------------------------
def _mat_huge_size(f: Path, draw) -> str:
    """Declare a ~2 GiB element right after the 128-byte header."""
    raw = bytearray(f.read_bytes())
    raw[132:136] = struct.pack("<I", 2**31 - 8 * draw(1, 64))
    f.write_bytes(bytes(raw))
    return "huge-element"


def _mat_huge_dims(arrays) -> Callable:
    """Set the first array's dimensions subelement (two int32) to (n, 2**30)."""
    def fn(f: Path, draw) -> str:
        raw = bytearray(f.read_bytes())
        a = np.asarray(arrays()[0])
        dims = struct.pack("<IIii", 5, 8, *a.shape)  # miINT32, 8 bytes, the shape
        i = raw.find(dims)
        raw[i + 12:i + 16] = struct.pack("<i", 2**30 + draw(0, 7))
        f.write_bytes(bytes(raw))
        return "huge-dims"
    return fn


@functools.lru_cache(maxsize=4)
def _seed_trials_cached(n_trials: int, prefix: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {f"{prefix}_eeg{k}": rng.normal(0.0, 20.0, (62, 201)) for k in range(1, n_trials + 1)}


def _seed_trials(n_trials: int, prefix: str, seed: int = 0) -> dict:
    """Trials of 1 s + 1 sample at 200 Hz, uV; a fresh copy each call."""
    return {k: v.copy() for k, v in _seed_trials_cached(n_trials, prefix, seed).items()}


def _build_seed(folder: Path, iv: bool = False) -> Path:
    import scipy.io

    from neuroaffect.labels import SEED_LABELS

    root = folder / ("seed_iv" if iv else "seed")
    if iv:
        (root / "eeg_raw_data" / "1").mkdir(parents=True)
        scipy.io.savemat(root / "eeg_raw_data" / "1" / "1_20150901.mat", _seed_trials(24, "cz"))
    else:
        (root / "Preprocessed_EEG").mkdir(parents=True)
        scipy.io.savemat(root / "Preprocessed_EEG" / "label.mat", {"label": np.asarray(SEED_LABELS, float)[None]})
        scipy.io.savemat(root / "Preprocessed_EEG" / "1_20131027.mat", _seed_trials(15, "djc"))
    return root


def _seed_edit(rel: str, n: int, prefix: str, label: str, fn: Callable[[dict, Draw], dict]) -> Mutation:
    def edit(f, draw):
        import scipy.io

        scipy.io.savemat(f, fn(_seed_trials(n, prefix), draw))
        return label
    return rewrite(label.split("-")[0], rel, edit)


def _seed_mutations(rel: str, n: int, prefix: str) -> list:
    def trials(draw):
        return draw(1, n)

    def edit_one(fn):
        def go(t, draw):
            k = f"{prefix}_eeg{trials(draw)}"
            t[k] = fn(t[k], draw)
            return t
        return go

    def put(value):
        def fn(x, draw):
            x[draw(0, 61), draw(0, 200)] = value
            return x
        return fn

    def regions(raw):
        return _found(raw, _seed_trials(n, prefix).values())

    def renamed(t, draw):
        k = trials(draw)
        t[f"{prefix}_egg{k}"] = t.pop(f"{prefix}_eeg{k}")
        return t

    def dup(t, draw):
        t[f"{prefix}_eeg0{draw(1, 9)}"] = t[f"{prefix}_eeg1"]
        return t

    def drop(t, draw):
        t.pop(f"{prefix}_eeg{trials(draw)}")
        return t

    name = rel.rsplit("/", 1)[-1]
    return [
        truncate(rel), flip(rel, regions, 3), empty(rel), rename(rel, name[:-4] + ".txt"),
        _seed_edit(rel, n, prefix, "key-removed", drop), _seed_edit(rel, n, prefix, "key-renamed", renamed),
        _seed_edit(rel, n, prefix, "key-duplicate-number", dup),
        _seed_edit(rel, n, prefix, "shape-61-channels", edit_one(lambda x, d: x[:61])),
        _seed_edit(rel, n, prefix, "shape-transposed", edit_one(lambda x, d: x.T)),
        _seed_edit(rel, n, prefix, "shape-200-samples", edit_one(lambda x, d: x[:, :200])),
        _seed_edit(rel, n, prefix, "dtype-complex", edit_one(lambda x, d: x.astype(complex))),
        _seed_edit(rel, n, prefix, "dtype-str", edit_one(lambda x, d: np.array(["a" * 10] * 62))),
        _seed_edit(rel, n, prefix, "dtype-cell", edit_one(lambda x, d: np.array([x, x], dtype=object))),
        _seed_edit(rel, n, prefix, "value-nan", edit_one(put(np.nan))),
        _seed_edit(rel, n, prefix, "value-1e300", edit_one(put(-1e300))),
        _seed_edit(rel, n, prefix, "value-flat", edit_one(lambda x, d: (x.__setitem__(d(0, 61), 0.0), x)[1])),
        rewrite("size", rel, _mat_huge_size),
        rewrite("size", rel, _mat_huge_dims(lambda: list(_seed_trials(n, prefix).values()))),
    ]


def _seed_target(iv: bool) -> Target:
    from neuroaffect.io.seed import read_seed

    variant = "seed-iv" if iv else "seed"
    if iv:
        muts = _seed_mutations("eeg_raw_data/1/1_20150901.mat", 24, "cz")
        muts.append(rewrite("key", "eeg_raw_data/1", lambda f, d: (f.rename(f.with_name("4")), "folder-4")[1]))
    else:
        rel, lab = "Preprocessed_EEG/1_20131027.mat", "Preprocessed_EEG/label.mat"
        muts = _seed_mutations(rel, 15, "djc")

        def label_value(v):
            def fn(f, draw):
                import scipy.io

                from neuroaffect.labels import SEED_LABELS
                lab_ = np.asarray(SEED_LABELS, float)[None]
                lab_[0, draw(0, 14)] = v
                scipy.io.savemat(f, {"label": lab_})
                return f"value-label-{v}"
            return fn
        muts += [truncate(lab), empty(lab), rewrite("value", lab, label_value(2.0)),
                 rewrite("value", lab, label_value(np.nan)),
                 rewrite("key", lab, lambda f, d: (__import__("scipy.io").io.savemat(f, {"labels": np.zeros((1, 15))}),
                                                   "key-renamed")[1])]
    return Target(variant, lambda folder: _build_seed(folder, iv), lambda root: read_seed(root, variant=variant),
                  tuple(muts))


@functools.lru_cache(maxsize=1)
def _dreamer_subject_cached():
    from neuroaffect.simulate.dreamer import simulate_subject

    return simulate_subject(0, 1, "tiny")


def _dreamer_subject() -> dict:
    """One tiny simulated DREAMER subject; a fresh copy each call."""
    return copy.deepcopy(_dreamer_subject_cached())


def _build_dreamer(folder: Path) -> Path:
    from neuroaffect.simulate.dreamer import write_dreamer_mat

    root = folder / "dreamer"
    root.mkdir()
    write_dreamer_mat(root / "DREAMER.mat", [_dreamer_subject()])
    return root


def _dreamer_edit(label: str, fn: Callable[[dict, Draw], None]) -> Mutation:
    def edit(f, draw):
        from neuroaffect.simulate._write import savemat_atomic
        from neuroaffect.simulate.dreamer import make_dreamer_struct

        struct_ = make_dreamer_struct([_dreamer_subject()])
        fn(struct_, draw)
        savemat_atomic(f, {"DREAMER": struct_})
        return label
    return rewrite(label.split("-")[0], "DREAMER.mat", edit)


def _dreamer_target() -> Target:
    from neuroaffect.io.dreamer import read_dreamer

    rel = "DREAMER.mat"

    def subj(s):
        return s["Data"][0, 0]

    def segment(group, name):
        def pick(s, draw):
            cell = subj(s)[group][name]
            k = draw(0, cell.shape[0] - 1)
            return cell, k
        return pick

    def set_sample(value, group="EEG"):
        def fn(s, draw):
            cell, k = segment(group, "stimuli")(s, draw)
            x = cell[k, 0].copy()
            x[draw(0, x.shape[0] - 1), draw(0, x.shape[1] - 1)] = value
            cell[k, 0] = x
        return fn

    def transpose(s, draw):
        cell, k = segment("EEG", "stimuli")(s, draw)
        cell[k, 0] = cell[k, 0].T.copy()

    def flat(s, draw):
        cell, k = segment("EEG", "baseline")(s, draw)
        x = cell[k, 0].copy()
        x[:, draw(0, 13)] = 4200.0
        cell[k, 0] = x

    def field_removed(s, draw):
        keys = ["Age", "Gender", "EEG", "ECG", "ScoreValence", "ScoreArousal", "ScoreDominance"]
        subj(s).pop(keys[draw(0, len(keys) - 1)])

    def field_renamed(s, draw):
        keys = ["Data", "EEG_SamplingRate", "ECG_SamplingRate", "EEG_Electrodes"]
        k = keys[draw(0, len(keys) - 1)]
        s[k + "_"] = s.pop(k)

    def scores(value):
        def fn(s, draw):
            sc = subj(s)["ScoreValence"].copy()
            sc[draw(0, 17), 0] = value
            subj(s)["ScoreValence"] = sc
        return fn

    def electrode(s, draw):
        s["EEG_Electrodes"][0, draw(0, 13)] = "Cz"

    muts = [
        truncate(rel), flip(rel, lambda raw: [(128, len(raw) - 128)], 3), empty(rel), rename(rel, "DREAMER.mat.bak"),
        _dreamer_edit("key-field-removed", field_removed), _dreamer_edit("key-field-renamed", field_renamed),
        _dreamer_edit("key-electrode-renamed", electrode),
        _dreamer_edit("shape-transposed", transpose),
        _dreamer_edit("dtype-rate-text", lambda s, d: s.__setitem__("EEG_SamplingRate", "128")),
        _dreamer_edit("dtype-scores-text", lambda s, d: subj(s).__setitem__("ScoreArousal", np.array([["high"]] * 18))),
        _dreamer_edit("value-nan", set_sample(np.nan)), _dreamer_edit("value-1e300", set_sample(1e300)),
        _dreamer_edit("value-ecg-1e300", set_sample(-1e300, "ECG")), _dreamer_edit("value-flat", flat),
        _dreamer_edit("value-score-6", scores(6.0)), _dreamer_edit("value-score-2.5", scores(2.5)),
        _dreamer_edit("value-rate-256", lambda s, d: s.__setitem__("EEG_SamplingRate", 256.0)),
        rewrite("size", rel, _mat_huge_size),
    ]
    return Target("dreamer", _build_dreamer, lambda root: read_dreamer(root), tuple(muts))


# --------------------------------------------------------------------------------------------
# MAHNOB-HCI: Sessions/2/Part_1_S_Trial1_emotion.bdf and session.xml
# --------------------------------------------------------------------------------------------
MAHNOB_BDF = "Sessions/2/Part_1_S_Trial1_emotion.bdf"
MAHNOB_XML = "Sessions/2/session.xml"
_FS = 256
_BDF_FIELDS = (("label", 16), ("transducer", 80), ("dimension", 8), ("physical_min", 8), ("physical_max", 8),
               ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80), ("n_samples", 8), ("reserved", 32))


def _mahnob_signals(n_s: int = 5):
    from neuroaffect.channels import MAHNOB_CH_NAMES

    rng = np.random.default_rng(0)
    sig = rng.normal(0.0, 20.0, (len(MAHNOB_CH_NAMES), n_s * _FS))
    units, ranges = ["uV"] * len(MAHNOB_CH_NAMES), [(-262144, 262143)] * len(MAHNOB_CH_NAMES)
    for name, unit, rng_, base in (("GSR1", "Ohm", (0, 16777215), 2.5e5), ("Temp", "degC", (-100, 100), 30.0)):
        i = MAHNOB_CH_NAMES.index(name)
        sig[i] = base + rng.normal(0.0, 1.0, sig.shape[1])
        units[i], ranges[i] = unit, rng_
    return sig, units, ranges


def _write_mahnob(root: Path, sig=None, pulses=(1.0, 4.0), cut_len="3.00", attrs=None) -> None:
    import datetime

    from neuroaffect.channels import MAHNOB_CH_NAMES
    from neuroaffect.simulate.mahnob import write_bdf, write_session_xml

    sig0, units, ranges = _mahnob_signals()
    sig = sig0 if sig is None else sig
    status = np.full(sig.shape[1], 0x110000)
    for code, sec in enumerate(pulses, start=1):
        status[int(sec * _FS): int(sec * _FS) + 4] |= code
    bdf = write_bdf(root / MAHNOB_BDF, MAHNOB_CH_NAMES, sig, units, ranges, _FS, status,
                    datetime.datetime(2009, 6, 1))
    base = {"cutLenSec": cut_len, "feltArsl": 5, "feltCtrl": 4, "feltPred": 6, "feltVlnc": 7, "feltEmo": 4,
            "mediaFile": "69.avi", "isStim": 1}
    write_session_xml(root / MAHNOB_XML, {**base, **(attrs or {})}, {"id": 1, "age": 25, "gender": "female"},
                      bdf.name)


def _build_mahnob(folder: Path) -> Path:
    root = folder / "mahnob"
    _write_mahnob(root)
    return root


def _bdf_field(n_sig: int, field: str, signal: int) -> tuple[int, int]:
    off = 256
    for name, width in _BDF_FIELDS:
        if name == field:
            return off + signal * width, width
        off += n_sig * width
    raise KeyError(field)


def _bdf_regions(raw: bytes) -> list:
    """Where a BDF stores values: the samples, and the calibration and unit fields of each signal."""
    try:
        n_sig, n_bytes = int(raw[252:256]), int(raw[184:192])
    except ValueError:
        return []
    regions = [(n_bytes, len(raw) - n_bytes)]
    for field in ("dimension", "physical_min", "physical_max", "digital_min", "digital_max"):
        start, width = _bdf_field(n_sig, field, 0)
        regions.append((start, width * n_sig))
    return regions


def _bdf_patch(label: str, where: Callable[[int, Draw], tuple[int, int]], value: Callable[[Draw], bytes]) -> Mutation:
    def edit(f, draw):
        raw = bytearray(f.read_bytes())
        n_sig = int(raw[252:256])
        off, width = where(n_sig, draw)
        raw[off:off + width] = value(draw).ljust(width)[:width]
        f.write_bytes(bytes(raw))
        return f"{label}@{off}"
    return rewrite(label.split("-")[0], MAHNOB_BDF, edit)


def _signal_field(field: str, eeg_only: bool = False):
    return lambda n_sig, draw: _bdf_field(n_sig, field, draw(0, 31 if eeg_only else n_sig - 1))


def _mahnob_edit(label: str, **kwargs) -> Mutation:
    def edit(f, draw):
        kw = {k: (v(draw) if callable(v) else v) for k, v in kwargs.items()}
        _write_mahnob(f.parents[2], **kw)
        return label
    return rewrite(label.split("-")[0], MAHNOB_BDF, edit)


def _xml_text(label: str, fn: Callable[[str, Draw], str]) -> Mutation:
    def edit(f, draw):
        f.write_text(fn(f.read_text(encoding="utf-8"), draw), encoding="utf-8")
        return label
    return rewrite(label.split("-")[0], MAHNOB_XML, edit)


def _mahnob_target() -> Target:
    from neuroaffect.io.mahnob import read_mahnob

    def flat_eeg(draw):
        sig = _mahnob_signals()[0]
        sig[draw(0, 31)] = 0.0
        return sig

    def attr(name, value):
        return lambda text, d: text.replace(f'{name}="', f'{name}="{value}', 1) if value else \
            text.replace(f' {name}="', f' x{name}="', 1)

    muts = [
        truncate(MAHNOB_BDF), flip(MAHNOB_BDF, _bdf_regions, 3), empty(MAHNOB_BDF),
        rename(MAHNOB_BDF, "Part_1_S_Trial1_emotion.edf"),
        _bdf_patch("key-label-renamed", _signal_field("label"), lambda d: b"X%d" % d(0, 99)),
        _bdf_patch("key-n-signals", lambda n, d: (252, 4), lambda d: (b"-1", b"0", b"9999", b"  ")[d(0, 3)]),
        _bdf_patch("shape-n-samples", _signal_field("n_samples"), lambda d: (b"512", b"0", b"-256", b"x")[d(0, 3)]),
        _bdf_patch("shape-duration", lambda n, d: (244, 8), lambda d: (b"2", b"0", b"nan", b"1e-300")[d(0, 3)]),
        _bdf_patch("dtype-physical-min", _signal_field("physical_min"), lambda d: (b"abc", b"", b"1e400")[d(0, 2)]),
        _bdf_patch("dtype-reserved", _signal_field("reserved"), lambda d: bytes([0x80 + d(0, 127)]) * 4),
        _bdf_patch("value-gain", _signal_field("physical_max", True), lambda d: b"2.6e%d" % d(9, 12)),
        _bdf_patch("value-unit", _signal_field("dimension", True), lambda d: (b"V", b"Ohm", b"")[d(0, 2)]),
        _bdf_patch("value-digital-range", _signal_field("digital_max"), lambda d: b"-8388608"),
        _bdf_patch("size-n-records", lambda n, d: (236, 8), lambda d: b"%d" % (10**d(3, 7))),
        _mahnob_edit("value-flat", sig=flat_eeg),
        _mahnob_edit("value-spurious-event", pulses=(1.0, 2.0, 4.0)),
        _mahnob_edit("value-close-events", pulses=lambda d: (1.0, 1.0 + d(1, 200) / _FS)),
        _mahnob_edit("value-one-event", pulses=(1.0,)), _mahnob_edit("value-cut-len", cut_len=lambda d: f"{d(5, 60)}.00"),
        truncate(MAHNOB_XML), flip_text(MAHNOB_XML), empty(MAHNOB_XML),
        _xml_text("key-subject-removed", lambda t, d: t.replace("<subject", "<subjekt", 1)),
        _xml_text("key-root-renamed", lambda t, d: t.replace("<session ", "<sessions ", 1).replace("</session>", "</sessions>")),
        _xml_text("value-rating", attr("feltVlnc", "1")), _xml_text("value-rating-text", attr("feltArsl", "x")),
        _xml_text("value-subject-id", lambda t, d: t.replace('id="1"', 'id="one"', 1)),
        _xml_text("value-cut-len-text", attr("cutLenSec", "-")),
        _xml_text("value-encoding", lambda t, d: t.replace("utf-8", ("klingon", "utf-32", "latin-9x")[d(0, 2)], 1)),
    ]
    return Target("mahnob", _build_mahnob, lambda root: read_mahnob(root), tuple(muts))


# --------------------------------------------------------------------------------------------
# face sets, one face image, a feature file
# --------------------------------------------------------------------------------------------
def _build_sim_faces(dataset: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        from neuroaffect.simulate import simulate

        return simulate(dataset, scale="tiny", out=folder, seed=0)
    return build


def _ferplus_target() -> Target:
    from neuroaffect.io.faces import read_ferplus

    pix, votes = "fer2013.csv", "fer2013new.csv"

    def pixel_count(f, draw):
        rows = list(csv.reader(f.read_text().splitlines()))
        r = draw(1, len(rows) - 1)
        rows[r][1] = " ".join(rows[r][1].split()[:-1])
        _write_rows(f, rows)
        return f"shape-pixels-2303@{r}"

    def drop_row(f, draw):
        rows = list(csv.reader(f.read_text().splitlines()))
        r = draw(1, len(rows) - 1)
        _write_rows(f, rows[:r] + rows[r + 1:])
        return f"shape-row-removed@{r}"

    # (the Image name column is not read for the data: pixels come from the aligned row of fer2013.csv)
    muts = [*_csv_mutations(pix, ("256", "-1", "x", "nan")),
            *_csv_mutations(votes, ("-1", "11", "1e300", "nan", "x"), cols=(2, 11)),
            rewrite("shape", pix, pixel_count), rewrite("shape", votes, drop_row),
            _csv_cell(pix, None, 2, "Validation", "value-usage"), rename(pix, "fer2013.txt")]
    return Target("ferplus", _build_sim_faces("ferplus"), lambda root: read_ferplus(root), tuple(muts))


def _affectnet_target() -> Target:
    from neuroaffect.io.faces import read_affectnet_mini

    rel = "labels.csv"

    def missing_image(root, draw):
        images = sorted((root / "images").iterdir())
        f = images[draw(0, len(images) - 1)]
        f.unlink()
        return Variant(f"images/{f.name}/removed", "reject", True, f)

    muts = [*_csv_mutations(rel, ("1e300", "nan", "-2", "joy", "../../etc/passwd")),
            _csv_cell(rel, None, 1, "", "value-empty-label"), _csv_cell(rel, None, 0, "", "value-empty-path"),
            Mutation("key", missing_image), rename(rel, "labels.tsv")]
    return Target("affectnet-mini", _build_sim_faces("affectnet-mini"), lambda root: read_affectnet_mini(root),
                  tuple(muts))


def _ckplus_target() -> Target:
    from neuroaffect.io.faces import read_ckplus

    def pick_emotion(root, draw) -> Path:
        files = sorted((root / "Emotion").glob("*/*/*_emotion.txt"))
        return files[draw(0, len(files) - 1)]

    def emotion_text(label, text):
        def apply(root, draw):
            f = pick_emotion(root, draw)
            f.write_bytes(text(draw))
            return Variant(f"{f.name}/{label}", "reject", True, f)
        return Mutation(label.split("-")[0], apply)

    def emotion_renamed(root, draw):  # (a file not named *_emotion.txt is no emotion file: unlabelled, as in CK+)
        f = pick_emotion(root, draw)
        g = f.with_name(f"S{draw(100, 999)}" + f.name[4:])
        f.rename(g)
        return Variant(f"{f.name}/key-renamed-{g.name}", "reject", True, g)

    def peak_removed(root, draw):
        f = pick_emotion(root, draw)
        subj, seq, frame = f.name.split("_")[:3]
        png = root / "cohn-kanade-images" / subj / seq / f"{subj}_{seq}_{frame}.png"
        png.unlink()
        return Variant(f"{png.name}/removed", "reject", True, f)

    muts = [emotion_text("value-code-9", lambda d: b"   9.0000000e+00\n"),
            emotion_text("value-code-2.5", lambda d: b"   2.5000000e+00\n"),
            emotion_text("value-nan", lambda d: b"nan\n"), emotion_text("empty", lambda d: b""),
            emotion_text("value-two", lambda d: b"1 2\n"), emotion_text("flip", lambda d: bytes([0x80 + d(0, 127)]) * 3),
            emotion_text("size-200KiB", lambda d: b"7" * (200 * 1024)),
            Mutation("key", emotion_renamed), Mutation("key", peak_removed)]
    return Target("ckplus", _build_sim_faces("ckplus"), lambda root: read_ckplus(root), tuple(muts))


def _build_image(folder: Path) -> Path:
    from PIL import Image

    root = folder / "image"
    root.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / "face.png")
    Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(root / "face.jpg", quality=90)
    return root


def _image_target() -> Target:
    from neuroaffect.io.faces import read_image

    def pixels(raw):
        return [(0, len(raw))]  # PNG pixel data is zlib-checked, JPEG's is not: values only

    muts = []
    for rel in ("face.png", "face.jpg"):
        muts += [truncate(rel), flip(rel, pixels, 2), empty(rel), rename(rel, rel + ".bak", named=rel)]
    return Target("image", _build_image, lambda root: (read_image(root / "face.png"), read_image(root / "face.jpg")),
                  tuple(muts))


def _build_features(folder: Path) -> Path:
    from .tamper import make_feature_file

    root = folder / "features"
    root.mkdir()
    make_feature_file(root)
    return root


def _features_target() -> Target:
    from neuroaffect.features import read_features

    rel = "1.nc"

    def huge_eof(f, draw):
        raw = bytearray(f.read_bytes())
        raw[40:48] = struct.pack("<Q", 2**40 + draw(0, 255))  # superblock v0/v2 end-of-file address region
        f.write_bytes(bytes(raw))
        return "huge-eof"

    def load(root):
        ds = read_features(root / rel)
        ds.load()
        return ds

    muts = [truncate(rel), flip(rel, None, 3), empty(rel), rewrite("size", rel, huge_eof)]
    return Target("features", _build_features, load, tuple(muts))


def targets() -> dict:
    """Every target by name: the EEG readers, the face readers, one face image, a feature file."""
    out = [_deap_target(), _dreamer_target(), _seed_target(False), _seed_target(True), _mahnob_target(),
           _ferplus_target(), _affectnet_target(), _ckplus_target(), _image_target(), _features_target()]
    from .faced_target import faced_target  # here: that module imports this one
    out.append(faced_target())
    from .amigos_target import amigos_target  # here: that module imports this one
    out.append(amigos_target())
    from .seedv_target import seedv_features_target, seedv_target  # here: that module imports this one
    out += [seedv_target(), seedv_features_target()]
    return {t.name: t for t in out}


# --------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """A target's intact copy and the digests of its read (strict and structural)."""

    target: Target
    root: Path
    strict: str
    loose: str


def prepare(target: Target, folder) -> Prepared:
    """Write ``target``'s intact copy below ``folder`` and read it once (in this process)."""
    folder = Path(folder) / "intact"
    folder.mkdir(parents=True, exist_ok=True)
    root = target.build(folder)
    result = target.read(root)
    return Prepared(target, root, digest(result, root, True), digest(result, root, False))


def make_case(prep: Prepared, mutation: Mutation, draw: Draw, folder) -> Case:
    """Copy the intact files to ``folder``, apply ``mutation`` with ``draw``; the Case that reads the copy."""
    folder = Path(folder)
    root = folder / prep.root.relative_to(prep.root.parent.parent)
    shutil.copytree(prep.root.parent, root.parent, dirs_exist_ok=True)
    v = mutation.apply(root, draw)
    ref = prep.strict if v.strict else prep.loose
    target = prep.target

    def check(result) -> bool:
        return digest(result, root, v.strict) == ref

    names = (str(v.file), str(root))
    return Case(f"{target.name}/{v.label}", f"reader:{target.name}", lambda: target.read(root), v.expect, names,
                check)


def intact_case(prep: Prepared) -> Case:
    """The read of the intact copy: it must read, equal to itself."""
    root = prep.root
    return Case(f"{prep.target.name}/intact", f"reader:{prep.target.name}", lambda: prep.target.read(root), "read",
                (str(root),), lambda r: digest(r, root, True) == prep.strict)


def random_cases(prep: Prepared, n: int, seed: int, folder) -> list[Case]:
    """The intact read, every mutation once, then ``n`` more drawn at random (numpy, ``seed``)."""
    rng = np.random.default_rng(seed)

    def draw(lo, hi):
        return int(rng.integers(lo, hi + 1))

    muts = list(prep.target.mutations)
    order = muts + [muts[draw(0, len(muts) - 1)] for _ in range(n)]
    return [intact_case(prep)] + [make_case(prep, m, draw, Path(folder) / f"{i:04d}") for i, m in enumerate(order)]
