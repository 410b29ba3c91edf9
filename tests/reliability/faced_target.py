"""The FACED target of the fault suite: ``Processed_data/sub000.pkl`` and ``Data/sub000/After_remarks.mat``.

One subject of the simulated release cut to 1 s per clip (28 x 32 x 250 samples, 1.8 MB), corrupted as
:mod:`reliability.mutate` corrupts the other readers' copies: truncation, flipped bytes, emptied and
renamed files, other objects, shapes, dtypes and protocols in the pickle, NaN/Inf, absurd, flat and
volt-scaled values, a huge declared length; and in the ratings file, a missing variable or field, a
repeated video index, ratings off the 0-7 scale, 27 entries.
"""

from __future__ import annotations

import functools
import pickle
import struct
from pathlib import Path

import numpy as np

from .mutate import Mutation, Target, _found, empty, flip, rename, rewrite, truncate

__all__ = ["FACED_MAT", "FACED_PKL", "faced_target"]

FACED_PKL = "Processed_data/sub000.pkl"
FACED_MAT = "Data/sub000/After_remarks.mat"
_N = 250  # samples per clip: 1 s at 250 Hz


@functools.lru_cache(maxsize=1)
def _subject_cached():
    from neuroaffect.simulate.faced import simulate_subject

    subj = simulate_subject(0, 1, "tiny")
    subj["data"] = np.ascontiguousarray(subj["data"][..., :_N])
    for v in subj.values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    return subj


def _data() -> np.ndarray:
    return _subject_cached()["data"].copy()


def _write_pkl(f: Path, data: np.ndarray) -> None:
    from neuroaffect.simulate.faced import write_array_pickle

    with open(f, "wb") as fh:
        write_array_pickle(fh, data)


def _build(folder: Path) -> Path:
    from neuroaffect.simulate.faced import _write_remarks

    root = Path(folder) / "faced"
    (root / FACED_PKL).parent.mkdir(parents=True, exist_ok=True)
    _write_pkl(root / FACED_PKL, _data())
    _write_remarks(root / FACED_MAT, _subject_cached())
    return root


def _pkl_edit(label: str, fn) -> Mutation:
    """Rewrite ``sub000.pkl`` as ``fn(data, draw) -> bytes of a pickle``."""
    def apply_fn(f: Path, draw) -> str:
        f.write_bytes(fn(_data(), draw))
        return label
    return rewrite(label.split("-")[0], FACED_PKL, apply_fn)


def _put(value):
    def fn(a, draw):
        a[draw(0, 27), draw(0, 31), draw(0, _N - 1)] = value
        return pickle.dumps(a, protocol=4)
    return fn


def _flat(a, draw):
    a[draw(0, 27), draw(0, 31)] = 0.0
    return pickle.dumps(a, protocol=4)


def _huge_bytes8(f: Path, draw) -> str:
    """Declare an 8 EiB payload in the BINBYTES8 opcode of the array data (the file stays small)."""
    raw = bytearray(f.read_bytes())
    i = raw.rfind(b"\x8e")
    raw[i + 1:i + 9] = struct.pack("<Q", 2**63 - draw(1, 1000))
    f.write_bytes(bytes(raw))
    return "huge-binbytes8"


def _remarks_edit(label: str, change) -> Mutation:
    """Rewrite ``After_remarks.mat`` as ``change(entries, draw) -> entries or a variables dict``."""
    def apply_fn(f: Path, draw) -> str:
        import scipy.io

        cells = scipy.io.loadmat(f)["After_remark"].reshape(-1)
        entries = [{"score": c[0, 0]["score"], "vid": c[0, 0]["vid"]} for c in cells]
        out = change(entries, draw)
        if isinstance(out, list):
            arr = np.empty((1, len(out)), dtype=object)
            for i, e in enumerate(out):
                arr[0, i] = e
            out = {"After_remark": arr}
        scipy.io.savemat(f, out)
        return label
    return rewrite(label.split("-")[0], FACED_MAT, apply_fn)


def _score(value):
    def change(e, draw):
        k = draw(0, 27)
        s = np.array(e[k]["score"], dtype=float)
        s[0, draw(0, 11)] = value
        e[k] = {**e[k], "score": s}
        return e
    return change


def faced_target() -> Target:
    """The FACED reader's target (name ``"faced"``)."""
    from neuroaffect.io.faced import read_faced

    def pkl_regions(raw):
        return _found(raw, [_subject_cached()["data"]])

    muts = [
        truncate(FACED_PKL), flip(FACED_PKL, pkl_regions, 3), empty(FACED_PKL),
        rename(FACED_PKL, "sub000.dat", named="Processed_data"),
        _pkl_edit("key-dict", lambda a, d: pickle.dumps({"data": a}, protocol=4)),
        _pkl_edit("key-list", lambda a, d: pickle.dumps(list(a), protocol=4)),
        _pkl_edit("shape-27-clips", lambda a, d: pickle.dumps(a[:27].copy(), protocol=4)),
        _pkl_edit("shape-30-channels", lambda a, d: pickle.dumps(a[:, :30].copy(), protocol=4)),
        _pkl_edit("shape-transposed", lambda a, d: pickle.dumps(a.transpose(0, 2, 1).copy(), protocol=4)),
        _pkl_edit("shape-n-times-odd", lambda a, d: pickle.dumps(a[..., :249].copy(), protocol=4)),
        _pkl_edit("dtype-int", lambda a, d: pickle.dumps(a.astype(np.int32), protocol=4)),
        _pkl_edit("dtype-complex", lambda a, d: pickle.dumps(a.astype(complex), protocol=4)),
        _pkl_edit("value-nan", _put(np.nan)), _pkl_edit("value-inf", _put(-np.inf)),
        _pkl_edit("value-1e300", _put(1e300)), _pkl_edit("value-1e5uV", _put(1e5)),
        _pkl_edit("value-flat", _flat), _pkl_edit("value-volts", lambda a, d: pickle.dumps(a * 1e-6, protocol=4)),
        rewrite("size", FACED_PKL, _huge_bytes8),
        truncate(FACED_MAT), flip(FACED_MAT, lambda raw: [(128, len(raw) - 128)], 3), empty(FACED_MAT),
        _remarks_edit("key-variable-renamed", lambda e, d: {"After_remarks": np.zeros((1, 28))}),
        _remarks_edit("key-field-removed", lambda e, d: [{"score": x["score"]} for x in e]),
        _remarks_edit("shape-27-entries", lambda e, d: e[:27]),
        _remarks_edit("value-vid-repeated", lambda e, d: [{**x, "vid": e[d(0, 27)]["vid"]} for x in e]),
        _remarks_edit("value-score-8", _score(8.0)), _remarks_edit("value-score-nan", _score(np.nan)),
    ]
    return Target("faced", _build, lambda root: read_faced(root), tuple(muts))
