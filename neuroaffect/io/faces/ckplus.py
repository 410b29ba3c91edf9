"""Reader for CK+ (the Extended Cohn-Kanade set): posed neutral-to-peak image sequences.

Expected layout (file facts in ``docs/formats.md``, face section)::

    <root>/
        cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
        Emotion/S005/001/S005_001_00000011_emotion.txt

One folder per subject ``Sxxx`` and sequence ``yyy``; frames go from neutral to the peak of the
expression. Only some sequences have an emotion file (327 of 593 in the release); it holds one
number such as ``   3.0000000e+00`` (0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy,
6 sadness, 7 surprise) and is named after the peak frame, the sequence's last. Landmark and FACS
folders, when present, are not read.

Each labelled sequence gives two images: its peak frame, with the emotion mapped by
:data:`~neuroaffect.labels.CKPLUS_TO_FER`, and its first frame, labelled neutral.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..._utils import DatasetFormatError
from ...labels import CKPLUS_TO_FER
from ._common import require_layout
from ._files import read_small_text
from .base import FaceSet

__all__ = ["CKPLUS_CODES", "EMOTION_DIR", "IMAGES_DIR", "check_root", "read_ckplus"]

IMAGES_DIR = "cohn-kanade-images"
EMOTION_DIR = "Emotion"
#: CK+'s emotion codes and their names.
CKPLUS_CODES = ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
_FRAME_RE = re.compile(r"^S(\d+)_(\d+)_(\d+)\.png$", re.IGNORECASE)
#: Largest emotion file read (the release's hold 16 to 20 bytes).
_MAX_EMOTION_BYTES = 4096
_EMOTION_RE = re.compile(r"^S(\d+)_(\d+)_(\d+)_emotion\.txt$", re.IGNORECASE)


def check_root(root) -> None:
    """Raise ``FileNotFoundError`` unless ``root`` holds CK+'s image and emotion folders.

    ``root`` is what :func:`read_ckplus` takes; names only, nothing is read
    (:func:`neuroaffect.io.faces.check_face_root`).
    """
    root = Path(root)
    require_layout("ckplus", root, [([root / IMAGES_DIR], f"CK+'s {IMAGES_DIR}/ (Sxxx/yyy/ image sequences)"),
                                    ([root / EMOTION_DIR], f"CK+'s {EMOTION_DIR}/ (Sxxx/yyy/ emotion files)")], "dir")


def read_ckplus(root) -> FaceSet:
    """Read CK+'s labelled sequences: each one's peak frame (its emotion) and first frame (neutral).

    Parameters
    ----------
    root : path-like
        Folder holding ``cohn-kanade-images/`` and ``Emotion/``.

    Returns
    -------
    faces : FaceSet
        ``paths`` to PNG frames (grey, read on demand), two per labelled sequence in (subject,
        sequence) order: the peak frame, then the first frame; ``labels`` int64 (n,) in
        :data:`~neuroaffect.labels.FER_CLASSES` order (first frames: neutral); ``subject`` int64
        (n,), the ``Sxxx`` number; ``split`` all ``test`` (CK+ serves as a cross-dataset test
        set; split by ``subject`` to train on it). ``meta``: ``files`` (the emotion files read),
        ``sequence`` (list of ``"S005/001"``), ``frame_role`` (ndarray of str: ``peak`` or
        ``first``), ``ckplus_code`` (int64 (n,); 0 for first frames), ``n_sequences`` and
        ``n_unlabelled`` (sequences without an emotion file).

    Raises
    ------
    FileNotFoundError
        A folder is missing, or an emotion file has no image sequence or no frame of its name.
    DatasetFormatError
        An emotion file is misnamed, misplaced, empty, not a number, or not a code 0-7; a
        sequence folder holds no frames; the message names the file.
    """
    root = Path(root)
    img_root, emo_root = root / IMAGES_DIR, root / EMOTION_DIR
    for folder, what in ((img_root, "image sequences"), (emo_root, "emotion files")):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: expected CK+'s folder of {what} ({folder.name}/Sxxx/yyy/), "
                                    f"but found {'a file' if folder.exists() else 'no such folder'}")
    sequences = sorted(p for s in img_root.iterdir() if s.is_dir() for p in s.iterdir() if p.is_dir())
    if not sequences:
        raise DatasetFormatError(img_root, "sequence folders Sxxx/yyy/ holding PNG frames", "none")
    emotion_files = sorted(emo_root.glob("*/*/*_emotion.txt"))
    labels, subject, paths, seq_names, roles, codes = [], [], [], [], [], []
    labelled = set()
    for efile in emotion_files:
        m = _EMOTION_RE.match(efile.name)
        if m is None or efile.parent.name != m.group(2) or efile.parent.parent.name.upper() != f"S{m.group(1)}":
            raise DatasetFormatError(
                efile, "an emotion file named Sxxx_yyy_zzzzzzzz_emotion.txt in the folder Emotion/Sxxx/yyy/",
                f"the file {efile.parent.parent.name}/{efile.parent.name}/{efile.name}",
            )
        subj, seq, frame = m.group(1), m.group(2), m.group(3)
        code = _read_code(efile)
        seq_dir = img_root / efile.parent.parent.name / efile.parent.name
        if not seq_dir.is_dir():
            raise FileNotFoundError(f"{efile}: expected its image sequence {seq_dir}/, but found no such folder")
        frames = _frames(seq_dir)
        peak = seq_dir / f"S{subj}_{seq}_{frame}.png"
        match = [f for f in frames if f.name.lower() == peak.name.lower()]
        if not match:
            raise FileNotFoundError(
                f"{efile}: expected the peak frame it names, {peak}, but found no such frame "
                f"(the sequence's frames: {frames[0].name} ... {frames[-1].name})"
            )
        labelled.add(seq_dir)
        name = f"{seq_dir.parent.name}/{seq_dir.name}"
        entries = [(match[0], CKPLUS_TO_FER[code], "peak", code)]
        if frames[0] != match[0]:
            entries.append((frames[0], 0, "first", 0))
        for path, label, role, c in entries:
            paths.append(str(path))
            labels.append(label)
            subject.append(int(subj))
            seq_names.append(name)
            roles.append(role)
            codes.append(c)
    for seq_dir in sequences:  # unlabelled sequences must still hold frames
        if seq_dir not in labelled:
            _frames(seq_dir)
    if not paths:
        raise DatasetFormatError(emo_root, "at least one emotion file Sxxx/yyy/Sxxx_yyy_zzzzzzzz_emotion.txt",
                                 "none")
    return FaceSet(
        dataset="ckplus", labels=np.array(labels, dtype=np.int64), split=np.full(len(paths), "test"),
        paths=paths, subject=np.array(subject, dtype=np.int64),
        meta={"files": [str(f) for f in emotion_files], "sequence": seq_names, "frame_role": np.array(roles),
              "ckplus_code": np.array(codes, dtype=np.int64), "n_sequences": len(sequences),
              "n_unlabelled": len(sequences) - len(labelled)},
    )


def _read_code(efile: Path) -> int:
    expected = "one emotion code 0-7 (0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, " \
               "7 surprise), e.g. '3.0000000e+00'"
    try:
        text = read_small_text(efile, "a CK+ emotion file", max_bytes=_MAX_EMOTION_BYTES)
    except OSError as err:
        raise DatasetFormatError(efile, expected, f"an unreadable file ({err})") from None
    fields = text.split()
    if len(fields) != 1:
        raise DatasetFormatError(efile, expected, "an empty file" if not fields else f"{len(fields)} values "
                                 f"({' '.join(fields[:4])!r})")
    try:
        value = float(fields[0])
    except ValueError:
        raise DatasetFormatError(efile, expected, f"{fields[0]!r}") from None
    if not np.isfinite(value) or value != round(value) or int(value) not in CKPLUS_TO_FER:
        raise DatasetFormatError(efile, expected, f"{fields[0]!r}")
    return int(value)


def _frames(seq_dir: Path) -> list:
    """The sequence's frames ``Sxxx_yyy_zzzzzzzz.png``, sorted by frame number."""
    found = []
    for p in seq_dir.iterdir():
        m = _FRAME_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(3)), p))
    if not found:
        raise DatasetFormatError(seq_dir, "a CK+ sequence folder holding frames Sxxx_yyy_zzzzzzzz.png", "no frames")
    return [p for _, p in sorted(found)]
