"""Reader for FERPlus: FER2013's ``fer2013.csv`` (pixels) row-aligned with ``fer2013new.csv`` (votes).

Expected layout (file facts in ``docs/formats.md``, face section)::

    <root>/
        fer2013.csv        emotion,pixels,Usage
                           pixels = 2304 space-separated integers 0-255 (one 48 x 48 grey image)
        fer2013new.csv     Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,
                           contempt,unknown,NF   (vote counts of 10 annotators)

(``fer2013.csv`` is also found in ``<root>/fer2013/``.) Row *i* of one file describes the image of
row *i* of the other: the row position is the only join key. ``Image name`` is never parsed (its
numbering drifts from the row index, and some cells are empty).

Label rules (``FERPLUS_LABEL_RULES``): the hard label is the column with the most votes among the
10; a row is dropped when it has no votes, when the most-voted column is ``unknown`` or ``NF`` (not a
face), when the top count is shared by several columns (``ties="drop"``, the default), or when its
``Image name`` is empty (FERPlus itself made no image of those rows). The soft label is the 8
emotion counts divided by their sum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..._utils import DatasetFormatError, check_option
from ...labels import FER_CLASSES
from ._common import (line_of, parse_numbers, parse_pixels, read_table, require_columns, require_file,
                      require_layout)
from .base import FaceSet

__all__ = [
    "DROP_REASONS", "FER2013_HEADER", "FER2013_NAME", "FERPLUS_HEADER", "FERPLUS_LABEL_RULES", "FERPLUS_NAME",
    "IMAGE_SIZE", "USAGE_TO_SPLIT", "VOTE_COLUMNS", "check_root", "read_ferplus",
]

FER2013_NAME = "fer2013.csv"
FERPLUS_NAME = "fer2013new.csv"
#: Columns of ``fer2013.csv``.
FER2013_HEADER = ("emotion", "pixels", "Usage")
#: The 10 vote columns of ``fer2013new.csv``: the 8 classes of :data:`~neuroaffect.labels.FER_CLASSES`,
#: then ``unknown`` and ``NF`` (not a face).
VOTE_COLUMNS = FER_CLASSES + ("unknown", "NF")
#: Columns of ``fer2013new.csv``.
FERPLUS_HEADER = ("Usage", "Image name") + VOTE_COLUMNS
#: ``Usage`` -> split (PublicTest is FERPlus's validation set, PrivateTest its test set).
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
#: Height and width of a FER2013 image (pixels).
IMAGE_SIZE = 48
#: Why a row is dropped, in the order the rules are applied (a row counts under its first reason).
#: Annotators per image: no vote count can exceed it.
N_ANNOTATORS = 10
DROP_REASONS = ("no_votes", "not_face", "unknown", "tie", "no_image_name")
#: The rules, as recorded in ``FaceSet.meta["label_rule"]``.
FERPLUS_LABEL_RULES = {
    "drop": "argmax of the 10 vote counts; rows with no votes, a top count on unknown or NF, a top count "
            "shared by several columns, or an empty Image name are dropped",
    "first": "argmax of the 10 vote counts, ties to the first tied column in file order (neutral, happiness, "
             "surprise, ...); rows with no votes, a top count on unknown or NF, or an empty Image name are "
             "dropped",
}


def check_root(root) -> None:
    """Raise ``FileNotFoundError`` unless ``root`` holds FER2013's and FERPlus's tables (at the top, or
    ``fer2013.csv`` under ``fer2013/``).

    ``root`` is what :func:`read_ferplus` takes; names only, nothing is read
    (:func:`neuroaffect.io.faces.check_face_root`).
    """
    root = Path(root)
    pix = [root / FER2013_NAME, root / "fer2013" / FER2013_NAME]
    require_layout("ferplus", root, [(pix, f"FER2013's {FER2013_NAME}"),
                                     ([root / FERPLUS_NAME], f"FERPlus's {FERPLUS_NAME}")], "file")


def read_ferplus(root, *, ties: str = "drop") -> FaceSet:
    """Read FERPlus: FER2013 pixels with the FERPlus annotators' votes.

    Parameters
    ----------
    root : path-like
        Folder holding ``fer2013.csv`` (or ``fer2013/fer2013.csv``) and ``fer2013new.csv``.
    ties : {'drop', 'first'}
        What to do with a row whose top vote count is shared by several columns. ``'drop'`` (the
        default) drops it: such an image has no majority, and any tie-break would favour the
        columns that come first (neutral, happiness), which are already the most frequent labels.
        ``'first'`` keeps it with the first tied column (numpy's ``argmax``), as many public
        loaders do; a tie involving ``unknown`` or ``NF`` then goes to the emotion.

    Returns
    -------
    faces : FaceSet
        ``images`` uint8 of shape (n, 48, 48) (grey); ``labels`` int64 (n,) in
        :data:`~neuroaffect.labels.FER_CLASSES` order; ``soft_labels`` float32 (n, 8), the emotion
        votes normalised to sum 1; ``split`` from ``Usage`` (Training -> train, PublicTest -> val,
        PrivateTest -> test). ``meta``: ``files``, ``n_rows`` (rows in each file), ``dropped``
        (``{reason: count}`` over :data:`DROP_REASONS`), ``row`` (int64 (n,): the 0-based data
        row of each image in both files), ``fer2013_emotion`` (int64 (n,): FER2013's own 7-class
        label, 0 angry ... 6 neutral), ``votes`` (int64 (n, 10): the raw counts) and
        ``label_rule``.

    Raises
    ------
    FileNotFoundError
        A CSV is missing.
    DatasetFormatError
        A header lacks a column, the files differ in row count or in ``Usage`` on some row, a
        ``Usage`` is not one of Training/PublicTest/PrivateTest, a pixel string does not hold
        2304 integers 0-255, a vote is not a non-negative integer, or ``emotion`` is not 0-6.
        The message names the file and line.
    """
    check_option("ties", ties, tuple(FERPLUS_LABEL_RULES))
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: expected a folder holding {FER2013_NAME} and {FERPLUS_NAME}, "
                                f"but found no such folder")
    pix_file = root / FER2013_NAME
    if not pix_file.is_file() and (root / "fer2013" / FER2013_NAME).is_file():
        pix_file = root / "fer2013" / FER2013_NAME
    pix_file = require_file(pix_file, f"FER2013's {FER2013_NAME} (emotion,pixels,Usage)")
    vote_file = require_file(root / FERPLUS_NAME, f"FERPlus's {FERPLUS_NAME} (Usage,Image name and 10 vote "
                                                  f"columns)")

    votes_df = read_table(vote_file, f"FERPlus's {FERPLUS_NAME}")
    require_columns(votes_df, vote_file, FERPLUS_HEADER, "a FERPlus vote table")
    pix_df = read_table(pix_file, f"FER2013's {FER2013_NAME}")
    require_columns(pix_df, pix_file, FER2013_HEADER, "a FER2013 table")
    n = len(pix_df)
    if len(votes_df) != n:
        raise DatasetFormatError(
            vote_file, f"one row per row of {pix_file} ({n} rows; the files are matched by row position)",
            f"{len(votes_df)} rows",
        )
    if n == 0:
        raise DatasetFormatError(pix_file, "at least one image row", "only the header")

    usage_pix = _usage(pix_df["Usage"].to_numpy(dtype=str), pix_file)
    usage_votes = _usage(votes_df["Usage"].to_numpy(dtype=str), vote_file)
    differ = usage_pix != usage_votes
    if differ.any():
        i = int(np.flatnonzero(differ)[0])
        raise DatasetFormatError(
            vote_file, f"the Usage of {pix_file} on every row (row-aligned files; line {line_of(i)}: "
            f"{str(usage_pix[i])!r})",
            f"{str(usage_votes[i])!r} on line {line_of(i)} ({int(differ.sum())} rows differ)",
        )

    votes = np.stack([parse_numbers(votes_df[c].to_numpy(), vote_file, c, integer=True, low=0, high=N_ANNOTATORS)
                      for c in VOTE_COLUMNS], axis=1)
    names_empty = (votes_df["Image name"].str.strip() == "").to_numpy()
    emotion = parse_numbers(pix_df["emotion"].to_numpy(), pix_file, "emotion", integer=True, low=0, high=6)

    keep, label, dropped = _labels(votes, names_empty, ties)
    rows = np.flatnonzero(keep)
    if not len(rows):
        counts = ", ".join(f"{reason} {k}" for reason, k in dropped.items() if k)
        raise DatasetFormatError(vote_file, f"at least one row kept by the label rules (ties={ties!r})",
                                 f"all {n} rows dropped ({counts})")
    # every row's pixels are checked, dropped rows too: a broken file is refused whatever its votes
    pixels = parse_pixels(pix_df["pixels"].tolist(), pix_file, "pixels", IMAGE_SIZE * IMAGE_SIZE)
    emo = votes[rows, :len(FER_CLASSES)].astype(np.float64)
    soft = emo / emo.sum(axis=1, keepdims=True)
    split = np.array([USAGE_TO_SPLIT[u] for u in usage_pix[rows]])
    return FaceSet(
        dataset="ferplus", labels=label[rows], split=split,
        images=pixels[rows].reshape(len(rows), IMAGE_SIZE, IMAGE_SIZE), soft_labels=soft.astype(np.float32),
        meta={"files": [str(pix_file), str(vote_file)], "n_rows": n, "dropped": dropped, "row": rows,
              "fer2013_emotion": emotion[rows], "votes": votes[rows], "label_rule": FERPLUS_LABEL_RULES[ties]},
    )


def _usage(usage: np.ndarray, fname) -> np.ndarray:
    usage = np.char.strip(usage.astype(str))
    bad = ~np.isin(usage, list(USAGE_TO_SPLIT))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = repr(str(usage[i])) if usage[i] else "an empty or missing cell"
        hint = " (a truncated file?)" if not usage[i] and i == len(usage) - 1 else ""
        raise DatasetFormatError(fname, f"Usage in {{{', '.join(USAGE_TO_SPLIT)}}}",
                                 f"{what} on line {line_of(i)}{hint} ({int(bad.sum())} such rows)")
    return usage


def _labels(votes: np.ndarray, names_empty: np.ndarray, ties: str):
    """Majority labels of the vote rows, shape (n,), with the mask of kept rows and the drop counts."""
    n_cls = len(FER_CLASSES)
    top = votes.max(axis=1)
    arg = votes.argmax(axis=1)  # first column holding the top count
    n_top = (votes == top[:, None]).sum(axis=1)
    reasons = {
        "no_votes": top == 0,
        "not_face": arg == VOTE_COLUMNS.index("NF"),
        "unknown": arg == VOTE_COLUMNS.index("unknown"),
        "tie": n_top > 1,
        "no_image_name": names_empty,
    }
    if ties == "first":
        # the first tied emotion column wins; a tie between an emotion and unknown/NF goes to the emotion
        reasons["tie"] = np.zeros(len(votes), dtype=bool)
        emo_top = votes[:, :n_cls].max(axis=1)
        reasons["not_face"] = votes[:, VOTE_COLUMNS.index("NF")] > emo_top
        reasons["unknown"] = (votes[:, VOTE_COLUMNS.index("unknown")] > emo_top) & ~reasons["not_face"]
        arg = votes[:, :n_cls].argmax(axis=1)
    dropped, gone = {}, np.zeros(len(votes), dtype=bool)
    for name in DROP_REASONS:
        hit = reasons[name] & ~gone
        dropped[name] = int(hit.sum())
        gone |= hit
    label = np.where(gone, 0, arg).astype(np.int64)
    return ~gone, label, dropped
