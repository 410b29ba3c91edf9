"""Fault-suite target for AMIGOS: one participant file of the preprocessed release and its corruptions.

Imported by :func:`reliability.mutate.targets` (inside the function: this module imports that one).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Callable

import numpy as np

from .mutate import Draw, Mutation, Target, _mat_huge_size, empty, flip, rename, rewrite, truncate

__all__ = ["amigos_target"]

REL = "Data_preprocessed_matlab/Data_Preprocessed_P01/Data_Preprocessed_P01.mat"


@functools.lru_cache(maxsize=1)
def _subject_cached():
    from neuroaffect.simulate.amigos import simulate_subject

    return simulate_subject(0, 1, "tiny")


def _subject() -> dict:
    """One tiny simulated AMIGOS participant (with the long videos); a fresh copy each call."""
    return copy.deepcopy(_subject_cached())


def _build(folder: Path) -> Path:
    from neuroaffect.simulate.amigos import write_amigos_mat

    root = folder / "amigos"
    write_amigos_mat(root / REL, _subject())
    return root


def _edit(label: str, fn: Callable[[dict, Draw], None]) -> Mutation:
    """A mutation of the variables (``fn(mdict, draw)`` edits them in place), written back as MATLAB v5."""
    def edit(f, draw):
        from neuroaffect.simulate._write import savemat_atomic
        from neuroaffect.simulate.amigos import make_amigos_mat

        mdict = make_amigos_mat(_subject())
        fn(mdict, draw)
        savemat_atomic(f, mdict)
        return label
    return rewrite(label.split("-")[0], REL, edit)


def _video(mdict, draw) -> int:
    return draw(0, mdict["joined_data"].shape[1] - 1)


def _set_joined(fn):
    def apply(mdict, draw):
        k = _video(mdict, draw)
        mdict["joined_data"][0, k] = fn(mdict["joined_data"][0, k].copy(), draw)
    return apply


def _put(value, cols=(0, 16)):
    def fn(x, draw):
        x[draw(0, x.shape[0] - 1), draw(*cols)] = value
        return x
    return fn


def _flat(x, draw):
    x[:, draw(0, 13)] = 7.0
    return x


def _ratings(col: int, value: float):
    def fn(mdict, draw):
        k = _video(mdict, draw)
        row = mdict["labels_selfassessment"][0, k].copy()
        row[0, col] = value
        mdict["labels_selfassessment"][0, k] = row
    return fn


def _drop_variable(mdict, draw):
    names = ["joined_data", "labels_selfassessment", "labels_ext_annotation", "VideoIDs"]
    mdict.pop(names[draw(0, 3)])


def _rename_variable(mdict, draw):
    names = ["joined_data", "labels_selfassessment", "labels_ext_annotation", "VideoIDs"]
    k = names[draw(0, 3)]
    mdict[k.lower() + "_"] = mdict.pop(k)


def _numeric_id(mdict, draw):
    mdict["VideoIDs"][0, _video(mdict, draw)] = np.array([[4.0]])


def _unknown_id(mdict, draw):
    mdict["VideoIDs"][0, draw(0, 15)] = "999"


def amigos_target() -> Target:
    """The AMIGOS reader (all 20 videos) on one participant file and its corruptions."""
    from neuroaffect.io.amigos import read_amigos

    muts = [
        truncate(REL), flip(REL, lambda raw: [(128, len(raw) - 128)], 3), empty(REL),
        rename(REL, "Data_Preprocessed_P01.mat.bak"),
        _edit("key-variable-removed", _drop_variable), _edit("key-variable-renamed", _rename_variable),
        _edit("shape-columns-16", _set_joined(lambda x, d: x[:, :16].copy())),
        _edit("shape-transposed", _set_joined(lambda x, d: x.T.copy())),
        _edit("shape-cells-19", lambda m, d: m.__setitem__("joined_data", m["joined_data"][:, :19])),
        _edit("dtype-id-numeric", _numeric_id), _edit("dtype-samples-text", _set_joined(lambda x, d: np.array("x"))),
        _edit("value-nan", _set_joined(_put(np.nan))), _edit("value-1e300", _set_joined(_put(1e300, (0, 13)))),
        _edit("value-flat", _set_joined(_flat)), _edit("value-rating-12", _ratings(1, 12.0)),
        _edit("value-emotion-0.5", _ratings(7, 0.5)), _edit("value-id-unknown", _unknown_id),
        rewrite("size", REL, _mat_huge_size),
    ]
    return Target("amigos", _build, lambda root: read_amigos(root, videos="all"), tuple(muts))
