"""Readers for AffectNet: the full release's CSV lists, and the AffectNet-mini manifest.

Full release (file facts in ``docs/formats.md``, face section)::

    <root>/
        Manually_Annotated_file_lists/
            training.csv       subDirectory_filePath,face_x,face_y,face_width,face_height,
            validation.csv     facial_landmarks,expression,valence,arousal
        Manually_Annotated_Images/<subDirectory_filePath>

``expression``: 0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear, 5 disgust, 6 anger, 7 contempt,
8 none, 9 uncertain, 10 non-face. ``valence`` and ``arousal`` lie in [-1, 1], -2 for uncertain and
non-face. The images are whole photographs; ``face_x, face_y, face_width, face_height`` is the
face box, returned in ``meta["face_box"]``.

AffectNet-mini: one CSV manifest ``path,label[,valence,arousal][,split]`` over a subset of AffectNet
images; paths are relative to the manifest's folder. ``label`` is a class name (FERPlus's
``happiness`` or AffectNet's ``happy``; case-insensitive) or an **AffectNet expression code 0-7**,
mapped with :data:`~neuroaffect.labels.AFFECTNET_TO_FER` (never a FERPlus index: ``2`` is sad).
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..._utils import DatasetFormatError
from ...labels import AFFECTNET_TO_FER, FER_CLASSES
from ._common import (check_files_exist, line_of, parse_numbers, read_table, require_columns,
                      require_complete_last_line, require_file, require_layout)
from .base import SPLITS, FaceSet

__all__ = [
    "AFFECTNET_CODES", "AFFECTNET_HEADER", "AFFECTNET_LISTS", "CLASS_ALIASES", "IMAGES_DIR", "LISTS_DIR",
    "MANIFEST_NAME", "UNMAPPED_CODES", "check_mini_root", "check_root", "read_affectnet", "read_affectnet_mini",
]

LISTS_DIR = "Manually_Annotated_file_lists"
IMAGES_DIR = "Manually_Annotated_Images"
#: List file -> split (AffectNet's validation set is the usual test set; it has no public test set).
AFFECTNET_LISTS = MappingProxyType({"training.csv": "train", "validation.csv": "test"})
#: Columns of ``training.csv`` and ``validation.csv``.
AFFECTNET_HEADER = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
                    "facial_landmarks", "expression", "valence", "arousal")
#: AffectNet's expression codes and their names.
AFFECTNET_CODES = MappingProxyType({0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust",
                                    6: "anger", 7: "contempt", 8: "none", 9: "uncertain", 10: "non-face"})
#: Codes without a FERPlus class: rows with them are dropped and counted in ``meta["dropped"]``.
UNMAPPED_CODES = MappingProxyType({8: "none", 9: "uncertain", 10: "non_face"})
#: Manifest name looked for when :func:`read_affectnet_mini` is given a folder.
MANIFEST_NAME = "labels.csv"
#: Class names a manifest may use (lower case) -> FERPlus class index: FERPlus's names and AffectNet's.
CLASS_ALIASES = MappingProxyType({
    **{c: k for k, c in enumerate(FER_CLASSES)},
    **{AFFECTNET_CODES[code]: AFFECTNET_TO_FER[code] for code in range(8)},
})
_INVALID_VA = -2.0


# --------------------------------------------------------------------------------------------
# AffectNet-mini
# --------------------------------------------------------------------------------------------
def check_mini_root(root) -> None:
    """Raise ``FileNotFoundError`` unless ``root`` is (or holds) an AffectNet-mini manifest.

    ``root`` is what :func:`read_affectnet_mini` takes; names only, nothing is read
    (:func:`neuroaffect.io.faces.check_face_root`).
    """
    root = Path(root)
    require_layout("affectnet-mini", root, [([root if root.suffix == ".csv" else root / MANIFEST_NAME],
                                             "an AffectNet-mini manifest (CSV with the columns path,label)")], "file")


def read_affectnet_mini(root, *, check_files: bool = True) -> FaceSet:
    """Read an AffectNet-mini manifest (a cross-dataset evaluation set).

    Parameters
    ----------
    root : path-like
        The manifest CSV, or the folder holding ``labels.csv``. Columns: ``path`` (image file,
        relative to the manifest's folder or absolute), ``label`` (class name or AffectNet code
        0-7, see the module docstring), optional ``valence`` and ``arousal`` (both or neither;
        numbers in [-1, 1], empty = not annotated -> NaN) and optional ``split`` (train, val or
        test; without it every image is ``test``).
    check_files : bool
        Check that every listed image exists.

    Returns
    -------
    faces : FaceSet
        ``paths`` (read on demand with :meth:`FaceSet.image`), ``labels`` int64 (n,) in
        :data:`~neuroaffect.labels.FER_CLASSES` order, ``split``, and ``valence``/``arousal``
        float32 (n,) when the manifest has them. ``meta``: ``files`` (the manifest) and
        ``label_column_kind`` (``"name"``, ``"code"`` or ``"mixed"``).

    Raises
    ------
    FileNotFoundError
        The manifest or a listed image is missing (the message lists the first missing images).
    DatasetFormatError
        A column is missing, a label is neither a known class name nor a code 0-7, a valence or
        arousal is out of [-1, 1], or a split is unknown; the message names the file and line.
    """
    root = Path(root)
    manifest = root / MANIFEST_NAME if root.is_dir() else root
    manifest = require_file(manifest, "an AffectNet-mini manifest (CSV with the columns path,label)")
    df = read_table(manifest, "an AffectNet-mini manifest")
    require_complete_last_line(df, manifest, "an AffectNet-mini manifest")
    require_columns(df, manifest, ("path", "label"), "an AffectNet-mini manifest")
    if len(df) == 0:
        raise DatasetFormatError(manifest, "at least one image row", "only the header")
    has_va = [c in df.columns for c in ("valence", "arousal")]
    if any(has_va) and not all(has_va):
        raise DatasetFormatError(manifest, "both valence and arousal columns, or neither",
                                 f"only {'valence' if has_va[0] else 'arousal'}")
    labels, kind = _mini_labels(df["label"].to_numpy(dtype=str), manifest)
    va = {}
    if all(has_va):
        for c in ("valence", "arousal"):
            va[c] = parse_numbers(df[c].to_numpy(), manifest, c, low=-1.0, high=1.0, empty=np.nan)
    if "split" in df.columns:
        split = np.char.strip(df["split"].to_numpy(dtype=str))
        bad = ~np.isin(split, SPLITS)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DatasetFormatError(manifest, f"split in {{{', '.join(SPLITS)}}} in column 'split'",
                                     f"{str(split[i])!r} on line {line_of(i)}")
    else:
        split = np.full(len(df), "test")
    rel = df["path"].str.strip().to_numpy(dtype=str)
    if (rel == "").any():
        i = int(np.flatnonzero(rel == "")[0])
        raise DatasetFormatError(manifest, "an image path in column 'path' on every row",
                                 f"an empty cell on line {line_of(i)}")
    paths = [str(manifest.parent / p) for p in rel]
    if check_files:
        check_files_exist(paths, manifest, "image")
    return FaceSet(dataset="affectnet-mini", labels=labels, split=split, paths=paths,
                   valence=va.get("valence"), arousal=va.get("arousal"),
                   meta={"files": [str(manifest)], "label_column_kind": kind})


def _mini_labels(cells: np.ndarray, fname):
    """FERPlus class indices of a manifest's ``label`` cells, and the kind of cells seen."""
    out = np.empty(len(cells), dtype=np.int64)
    n_code = n_name = 0
    for i, raw in enumerate(cells):
        cell = raw.strip()
        key = cell.lower()
        if key in CLASS_ALIASES:
            out[i] = CLASS_ALIASES[key]
            n_name += 1
            continue
        try:
            code = float(cell)
        except ValueError:
            code = None
        if code is not None and np.isfinite(code) and code == int(code) and int(code) in AFFECTNET_TO_FER:
            out[i] = AFFECTNET_TO_FER[int(code)]
            n_code += 1
            continue
        names = ", ".join(sorted(CLASS_ALIASES))
        raise DatasetFormatError(
            fname, f"a class name ({names}) or an AffectNet expression code 0-7 in column 'label'",
            f"{str(raw)!r} on line {line_of(i)}",
        )
    kind = "name" if not n_code else ("code" if not n_name else "mixed")
    return out, kind


# --------------------------------------------------------------------------------------------
# full release
# --------------------------------------------------------------------------------------------
def check_root(root) -> None:
    """Raise ``FileNotFoundError`` unless ``root`` holds AffectNet's file lists and images.

    ``root`` is what :func:`read_affectnet` takes; names only, nothing is read
    (:func:`neuroaffect.io.faces.check_face_root`).
    """
    root = Path(root)
    require_layout("affectnet", root, [([root / LISTS_DIR, root / "training.csv"], f"AffectNet's {LISTS_DIR}/"),
                                       ([root / IMAGES_DIR], f"AffectNet's {IMAGES_DIR}/")], "any")


def read_affectnet(root, *, check_files: bool = True) -> FaceSet:
    """Read AffectNet's manually annotated set from its CSV lists.

    Parameters
    ----------
    root : path-like
        Folder holding ``Manually_Annotated_file_lists/`` (``training.csv`` and
        ``validation.csv``; the lists may also sit in ``root`` itself) and
        ``Manually_Annotated_Images/``.
    check_files : bool
        Check that every kept row's image exists (one ``stat`` per image).

    Returns
    -------
    faces : FaceSet
        ``paths`` under ``Manually_Annotated_Images/`` (whole photographs; crop with
        ``meta["face_box"]``), ``labels`` int64 (n,) mapped with
        :data:`~neuroaffect.labels.AFFECTNET_TO_FER`, ``split`` (``training.csv`` -> train,
        ``validation.csv`` -> test), ``valence``/``arousal`` float32 (n,) in [-1, 1] (NaN where
        the file has -2). Rows with codes 8 (none), 9 (uncertain) and 10 (non-face) and rows
        whose face box has no area are dropped. ``meta``: ``files``, ``n_rows`` (per list),
        ``dropped`` (``{reason: count}``: ``none``, ``uncertain``, ``non_face``, ``empty_face_box``),
        ``face_box`` (int64 (n, 4): x, y, width, height in pixels), ``expression`` (int64 (n,),
        AffectNet's code).

    Raises
    ------
    FileNotFoundError
        A list, the image folder or (with ``check_files``) an image is missing.
    DatasetFormatError
        A column is missing, an expression is not an integer 0-10, a valence or arousal is
        neither in [-1, 1] nor -2, or a face box is not numeric; the message names the file and line.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: expected the AffectNet folder holding {LISTS_DIR}/ and {IMAGES_DIR}/, "
                                f"but found {'a file' if root.exists() else 'no such folder'}")
    lists = root / LISTS_DIR if (root / LISTS_DIR).is_dir() else root
    images = root / IMAGES_DIR
    if not images.is_dir():
        raise FileNotFoundError(f"{images}: expected AffectNet's image folder {IMAGES_DIR}/, but found "
                                f"{'a file' if images.exists() else 'no such folder'}")
    parts = {k: [] for k in ("labels", "split", "paths", "valence", "arousal", "box", "code")}
    dropped = {name: 0 for name in (*UNMAPPED_CODES.values(), "empty_face_box")}
    files, n_rows = [], {}
    for name, split in AFFECTNET_LISTS.items():
        fname = require_file(lists / name, f"AffectNet's {name} ({','.join(AFFECTNET_HEADER)})")
        df = read_table(fname, f"AffectNet's {name}")
        require_columns(df, fname, AFFECTNET_HEADER, "an AffectNet list")
        files.append(str(fname))
        n_rows[name] = len(df)
        code = parse_numbers(df["expression"].to_numpy(), fname, "expression", integer=True, low=0, high=10)
        box = np.stack([parse_numbers(df[c].to_numpy(), fname, c)
                        for c in ("face_x", "face_y", "face_width", "face_height")], axis=1)
        va = [parse_numbers(df[c].to_numpy(), fname, c, low=-1.0, high=1.0, allow=(_INVALID_VA,))
              for c in ("valence", "arousal")]
        keep = np.ones(len(df), dtype=bool)
        for c, reason in UNMAPPED_CODES.items():
            hit = code == c
            dropped[reason] += int(hit.sum())
            keep &= ~hit
        no_box = keep & ((box[:, 2] <= 0) | (box[:, 3] <= 0))
        dropped["empty_face_box"] += int(no_box.sum())
        keep &= ~no_box
        rel = df["subDirectory_filePath"].str.strip().to_numpy(dtype=str)
        if (rel[keep] == "").any():
            i = int(np.flatnonzero(keep & (rel == ""))[0])
            raise DatasetFormatError(fname, "an image path in column 'subDirectory_filePath' on every row",
                                     f"an empty cell on line {line_of(i)}")
        paths = [str(images / p) for p in rel[keep]]
        if check_files:
            check_files_exist(paths, fname, "image (under " + str(images) + ")")
        lut = np.array([AFFECTNET_TO_FER.get(c, 0) for c in range(11)])
        parts["labels"].append(lut[code[keep]])
        parts["code"].append(code[keep])
        parts["split"].append(np.full(int(keep.sum()), split))
        parts["paths"].extend(paths)
        for k, v in zip(("valence", "arousal"), va):
            v = v[keep]
            parts[k].append(np.where(v == _INVALID_VA, np.nan, v))
        parts["box"].append(np.round(box[keep]).astype(np.int64))
    if not sum(len(x) for x in parts["labels"]):
        counts = ", ".join(f"{reason} {k}" for reason, k in dropped.items() if k) or "no data rows"
        raise DatasetFormatError(lists, f"at least one image kept in {' and '.join(AFFECTNET_LISTS)} (rows with "
                                 "codes 8-10 or an empty face box are dropped)",
                                 f"none of {sum(n_rows.values())} rows ({counts})")
    return FaceSet(
        dataset="affectnet", labels=np.concatenate(parts["labels"]), split=np.concatenate(parts["split"]),
        paths=parts["paths"], valence=np.concatenate(parts["valence"]), arousal=np.concatenate(parts["arousal"]),
        meta={"files": files, "n_rows": n_rows, "dropped": dropped, "face_box": np.concatenate(parts["box"]),
              "expression": np.concatenate(parts["code"])},
    )
