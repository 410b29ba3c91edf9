"""Reader for AMIGOS (preprocessed MATLAB release: Emotiv EPOC EEG, ECG and GSR at 128 Hz).

Layout (one MATLAB v5 file per participant, ``NN`` = 01 .. 40)::

    <root>/Data_Preprocessed_P01/Data_Preprocessed_P01.mat     (or, flat, <root>/Data_Preprocessed_P01.mat)
        joined_data            {1 x 20 cell}: per video an (n_samples x 17) double array, 128 Hz:
                               columns 1-14 EEG (AF3 F7 F3 FC5 T7 P7 O1 O2 P8 T8 FC6 F4 F8 AF4),
                               15-16 ECG (right, left), 17 GSR; an empty cell for a video not watched
        labels_selfassessment  {1 x 20 cell}: per video a (1 x 12) double: arousal, valence, dominance,
                               liking, familiarity (1-9), then neutral, disgust, happiness, surprise,
                               anger, fear, sadness (0/1)
        labels_ext_annotation  {1 x 20 cell}: per video (n_windows x 3): window number, valence, arousal
        VideoIDs               {1 x 20 cell} of char: the 16 short videos' numbers ('4' .. '138')
                               in cells 1-16, the long videos 'N1', 'P1', 'B1', 'U1' in cells 17-20

``root`` is the folder holding the participant folders (``Data_preprocessed_matlab/``), a
folder holding that folder, or a single participant's folder or file.

What the reader assumes and checks is listed in ``docs/formats.md`` (AMIGOS), with what the
public documentation confirms and what it does not: the units of ECG and GSR are not stated
there, so both are returned as stored with ``unit="a.u."``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_option, check_subjects
from ..channels import AMIGOS_CH_NAMES, AMIGOS_SFREQ
from ..labels import AMIGOS_LABELS, RATING_RANGE
from ._matcheck import load_mat5
from ._plausible import check_plausible, unit_limit
from .base import Peripheral, Recording

__all__ = ["read_amigos", "iter_amigos", "list_subjects", "AMIGOS_DIR", "AMIGOS_SHORT_VIDEOS", "AMIGOS_LONG_VIDEOS",
           "AMIGOS_EMOTIONS", "AMIGOS_SELF_COLUMNS", "AMIGOS_VARIABLES", "AMIGOS_EEG_LIMIT_UV", "VIDEOS",
           "amigos_fname"]

#: The folder of the preprocessed MATLAB release.
AMIGOS_DIR = "Data_preprocessed_matlab"
#: Variables every participant file holds.
AMIGOS_VARIABLES = ("joined_data", "labels_selfassessment", "labels_ext_annotation", "VideoIDs")
#: The 16 short videos' ids (cells 1-16, in any order) and the 4 long ones (cells 17-20).
AMIGOS_SHORT_VIDEOS = ("4", "5", "9", "10", "13", "18", "19", "20", "23", "30", "31", "34", "36", "58", "80", "138")
AMIGOS_LONG_VIDEOS = ("N1", "P1", "B1", "U1")
#: Columns of one ``labels_selfassessment`` cell, in file order.
AMIGOS_EMOTIONS = ("neutral", "disgust", "happiness", "surprise", "anger", "fear", "sadness")
AMIGOS_SELF_COLUMNS = ("arousal", "valence", "dominance", "liking", "familiarity") + AMIGOS_EMOTIONS
#: ECG and GSR columns of ``joined_data`` (15-17).
AMIGOS_ECG_CH_NAMES = ("ECG_R", "ECG_L")
AMIGOS_GSR_CH_NAMES = ("GSR",)
N_COLS = 17
N_VIDEOS = 20
#: Largest plausible |EEG sample| in microvolts: the release is band-passed and re-referenced, so
#: the bound of the other band-passed set (DEAP) applies.
AMIGOS_EEG_LIMIT_UV = 1e4
#: ``videos=`` -> 0-based cells read.
VIDEOS = {"short": tuple(range(16)), "long": tuple(range(16, 20)), "all": tuple(range(20))}
#: Shortest video accepted, in seconds (the shortest real one lasts about 50 s; simulated copies are shorter).
MIN_VIDEO_S = 1.0
logger = logging.getLogger(__name__)
_FNAME_RE = re.compile(r"^Data_Preprocessed_P(\d{2})\.mat$")


def amigos_fname(subject: int) -> str:
    """``Data_Preprocessed_PNN.mat`` of a 1-based participant number."""
    return f"Data_Preprocessed_P{int(subject):02d}.mat"


def read_amigos(root, subjects=None, *, videos: str = "short", bad_trials: str = "refuse") -> list[Recording]:
    """Read AMIGOS participants from the preprocessed MATLAB release.

    Parameters
    ----------
    root : path-like
        ``Data_preprocessed_matlab/`` (participant folders ``Data_Preprocessed_PNN/`` or flat
        ``Data_Preprocessed_PNN.mat`` files), a folder holding it, or one participant's folder or file.
    subjects : sequence of int | None
        1-based participant numbers (the ``NN`` of the file names); None reads all found.
    videos : {'short', 'long', 'all'}
        The 16 short videos (cells 1-16, session 1), the 4 long ones (cells 17-20, session 2),
        or both.
    bad_trials : {'refuse', 'drop'}
        A video whose samples hold NaN/Inf or implausible values: refuse the file (default), or
        drop the video and list it in ``info["dropped_videos"]``.

    Returns
    -------
    recordings : list of Recording
        One per participant, in increasing order. With ``subjects=None`` a participant none of whose
        selected videos holds signals (the long videos of those who did not watch them) is left
        out; a participant asked for by number raises instead. For each:

        - ``eeg``: list of arrays, shape (14, n_times_k), volts, 128 Hz (one per video read);
        - ``peripheral["ecg"]`` (2 leads, right and left) and ``peripheral["gsr"]`` (1 channel):
          :class:`Peripheral`, 128 Hz, ``unit="a.u."`` (as stored), lists of (n_leads, n_times_k);
        - ``labels``: ``valence``, ``arousal``, ``dominance``, ``liking``, shape (n_trials,),
          1-9 (NaN: no self-assessment for that video);
        - ``trial_ids``: short videos their number (4 .. 138), long ones 1-4 (N1, P1, B1, U1);
          ``session_ids``: 1 short, 2 long;
        - ``info``: ``video_ids`` (tuple of str), ``familiarity`` (shape (n_trials,), 1-9),
          ``emotions`` (shape (n_trials, 7), 0/1, NaN unrated; names ``emotion_names``),
          ``ext_annotation`` (list of (n_windows, 3) arrays), ``missing_videos`` (ids of empty
          cells, skipped) and ``dropped_videos`` (ids dropped with ``bad_trials='drop'``).

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist or holds no participant file.
    DatasetFormatError
        If a file is unreadable or lacks a variable, a cell array has the wrong shape, a video has
        not 17 columns, an unknown video id, NaN or implausible samples (``bad_trials='refuse'``),
        a flat EEG channel, or ratings outside 1-9.
    """
    return list(iter_amigos(root, subjects, videos=videos, bad_trials=bad_trials))


def iter_amigos(root, subjects=None, *, videos: str = "short", bad_trials: str = "refuse", required=None):
    """Yield :func:`read_amigos`'s recordings one participant at a time (one file in memory).

    Parameters are those of :func:`read_amigos`; ``required`` (default: whether ``subjects`` was
    given) says whether a participant none of whose selected videos holds signals is an error
    (``True``) or is skipped with a log note (``False``), as when every participant is read.
    """
    check_option("videos", videos, tuple(VIDEOS))
    check_option("bad_trials", bad_trials, ("refuse", "drop"))
    required = subjects is not None if required is None else bool(required)
    table, where = _layout(root)
    for s in check_subjects(subjects, table, where):
        rec = _read_subject(table[s], s, VIDEOS[videos], bad_trials, required=required)
        if rec is None:
            logger.info("%s: participant %d skipped: none of the %s videos holds signals", table[s], s, videos)
            continue
        yield rec


def list_subjects(root) -> list[int]:
    """Participant numbers found under ``root`` (file names only; nothing is loaded)."""
    return sorted(_layout(root)[0])


# -- files ----------------------------------------------------------------------------------
def _layout(root) -> tuple[dict, Path]:
    """({participant: path}, the folder searched) for any form of root."""
    root = Path(os.fspath(root))
    if not root.exists():
        raise FileNotFoundError(f"{root}: expected the AMIGOS folder {AMIGOS_DIR}/ or a participant file "
                                f"Data_Preprocessed_PNN.mat, but found no such path")
    if root.is_file():
        m = _FNAME_RE.match(root.name)
        if m is None:
            raise DatasetFormatError(root, "an AMIGOS participant file named Data_Preprocessed_PNN.mat",
                                     f"the file name {root.name!r}")
        return {int(m[1]): root}, root
    m = re.match(r"^Data_Preprocessed_P(\d{2})$", root.name)
    if m is not None and (root / f"{root.name}.mat").is_file():
        return {int(m[1]): root / f"{root.name}.mat"}, root
    folder = root / AMIGOS_DIR if (root / AMIGOS_DIR).is_dir() else root
    table: dict[int, Path] = {}
    for entry in sorted(folder.iterdir()):
        m = _FNAME_RE.match(entry.name) or _FNAME_RE.match(entry.name + ".mat")
        if m is None:
            continue
        path = entry if entry.is_file() else entry / f"{entry.name}.mat"
        if not path.is_file():
            raise DatasetFormatError(entry, f"a participant folder holding {entry.name}.mat", "no such file")
        subject = int(m[1])
        if subject in table:
            raise DatasetFormatError(folder, f"one file per participant ({amigos_fname(subject)})",
                                     f"two: {table[subject]} and {path}")
        table[subject] = path
    if not table or 0 in table:
        raise FileNotFoundError(
            f"{folder}: expected participant files Data_Preprocessed_P01.mat .. P40 (in folders of the same "
            f"name or directly in the folder), but found {'P00' if table else 'none'}"
        )
    return table, folder


def _loadmat(path: Path) -> dict:
    """The four variables of a participant file, its structure checked first (:func:`load_mat5`)."""
    mat = load_mat5(path)
    missing = [v for v in AMIGOS_VARIABLES if v not in mat]
    if missing:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise DatasetFormatError(path, f"the variables {list(AMIGOS_VARIABLES)}",
                                 f"variables {keys} (missing {missing})")
    for name in AMIGOS_VARIABLES:
        arr = np.asarray(mat[name])
        if arr.dtype != object or arr.shape != (1, N_VIDEOS):
            kind = "a cell array" if arr.dtype == object else f"a {arr.dtype} array"
            raise DatasetFormatError(path, f"{name} as a 1x{N_VIDEOS} cell array", f"{kind} of shape {arr.shape}")
    return mat


# -- cells ----------------------------------------------------------------------------------
def _is_empty(x) -> bool:
    return np.asarray(x).size == 0


def _video_ids(mat, path: Path) -> list[str]:
    ids = []
    for k, x in enumerate(mat["VideoIDs"][0]):
        arr = np.asarray(x)
        if arr.dtype.kind not in "US" or arr.size != 1:
            raise DatasetFormatError(path, f"VideoIDs{{{k + 1}}} as a character string",
                                     f"{arr.dtype} array of shape {arr.shape}")
        ids.append(str(arr.reshape(-1)[0]).strip())
    for cells, allowed, what in ((ids[:16], AMIGOS_SHORT_VIDEOS, "short"), (ids[16:], AMIGOS_LONG_VIDEOS, "long")):
        if sorted(cells) != sorted(allowed):
            raise DatasetFormatError(
                path, f"VideoIDs cells {'1-16' if what == 'short' else '17-20'} to hold the {what} videos "
                f"{list(allowed)} once each", f"{cells}",
            )
    return ids


def _signals(x, label: str, path: Path) -> np.ndarray:
    """One ``joined_data`` cell -> (17, n_samples) float64, with the shape checked."""
    x = np.asarray(x)
    if x.dtype == object or x.dtype.kind not in "fiu" or x.ndim != 2 or x.shape[1] != N_COLS:
        hint = " (transposed: columns x samples)" if x.ndim == 2 and x.shape[0] == N_COLS else ""
        raise DatasetFormatError(path, f"{label} of shape (n_samples, {N_COLS}): 14 EEG, 2 ECG, 1 GSR columns",
                                 f"{x.dtype} array of shape {x.shape}{hint}")
    min_len = int(round(MIN_VIDEO_S * AMIGOS_SFREQ))
    if x.shape[0] < min_len:
        raise DatasetFormatError(path, f"{label} of at least {min_len} samples ({MIN_VIDEO_S:g} s at "
                                 f"{AMIGOS_SFREQ:g} Hz)", f"{x.shape[0]} samples")
    return np.ascontiguousarray(x.T, dtype=np.float64)


def _bad_samples(x: np.ndarray, label: str, path: Path) -> str | None:
    """Why a (17, n) video is unusable (non-finite or implausible samples, flat EEG), or None."""
    bad = ~np.isfinite(x)
    if bad.any():
        c, t = (int(i) for i in np.argwhere(bad)[0])
        runs = np.diff(np.concatenate([[0], bad.any(axis=0).astype(np.int8), [0]]))
        longest = int((np.flatnonzero(runs == -1) - np.flatnonzero(runs == 1)).max())
        names = AMIGOS_CH_NAMES + AMIGOS_ECG_CH_NAMES + AMIGOS_GSR_CH_NAMES
        return (f"{int(bad.sum())} NaN/Inf samples in {label} (first in column {names[c]!r} at sample {t}; "
                f"longest run {longest} samples)")
    try:
        check_plausible(x[:14], AMIGOS_EEG_LIMIT_UV, "uV", "EEG", AMIGOS_CH_NAMES, path, [label])
        check_plausible(x[14:], unit_limit("a.u."), "a.u.", "ECG/GSR",
                        AMIGOS_ECG_CH_NAMES + AMIGOS_GSR_CH_NAMES, path, [label], flat=False)
    except DatasetFormatError as err:
        return f"{err.found} ({err.expected})"
    return None


def _ratings(x, label: str, path: Path) -> np.ndarray:
    """One ``labels_selfassessment`` cell -> (12,) float64 (all NaN when empty)."""
    if _is_empty(x):
        return np.full(len(AMIGOS_SELF_COLUMNS), np.nan)
    r = np.asarray(x)
    if r.dtype == object or r.dtype.kind not in "fiu" or r.size != len(AMIGOS_SELF_COLUMNS) or r.ndim != 2:
        raise DatasetFormatError(path, f"{label} as a 1x{len(AMIGOS_SELF_COLUMNS)} numeric row "
                                 f"({', '.join(AMIGOS_SELF_COLUMNS)})", f"{r.dtype} array of shape {r.shape}")
    r = r.reshape(-1).astype(np.float64)
    lo, hi = RATING_RANGE["amigos"]
    scale, emo = r[:5], r[5:]
    for vals, ok, expected, names in (
        (scale, (scale >= lo) & (scale <= hi), f"ratings in [{lo:g}, {hi:g}]", AMIGOS_SELF_COLUMNS[:5]),
        (emo, np.isin(emo, (0.0, 1.0)), "basic-emotion flags 0 or 1", AMIGOS_EMOTIONS),
    ):
        bad = ~(ok | np.isnan(vals))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DatasetFormatError(path, f"{label}: {expected}", f"{names[i]} = {float(vals[i])!r}")
    return r


def _ext_annotation(x, label: str, path: Path) -> np.ndarray:
    """One ``labels_ext_annotation`` cell -> (n_windows, 3) float64 (0 rows when empty)."""
    if _is_empty(x):
        return np.zeros((0, 3))
    a = np.asarray(x)
    if a.dtype == object or a.dtype.kind not in "fiu" or a.ndim != 2 or a.shape[1] != 3:
        raise DatasetFormatError(path, f"{label} of shape (n_windows, 3): window, valence, arousal",
                                 f"{a.dtype} array of shape {a.shape}")
    return a.astype(np.float64)


# -- one participant ------------------------------------------------------------------------
def _read_subject(path: Path, subject: int, cells, bad_trials: str, required: bool = True) -> Recording | None:
    mat = _loadmat(path)
    ids = _video_ids(mat, path)
    eeg, ecg, gsr, rows, ext, kept, missing, dropped = [], [], [], [], [], [], [], []
    for k in cells:
        label = f"joined_data{{{k + 1}}} (video {ids[k]})"
        rating = _ratings(mat["labels_selfassessment"][0][k], f"labels_selfassessment{{{k + 1}}}", path)
        annot = _ext_annotation(mat["labels_ext_annotation"][0][k], f"labels_ext_annotation{{{k + 1}}}", path)
        cell = mat["joined_data"][0][k]
        if _is_empty(cell):
            missing.append(ids[k])  # a video the participant did not watch (documented skip)
            continue
        x = _signals(cell, label, path)
        why = _bad_samples(x, label, path)
        if why is not None:
            if bad_trials == "refuse":
                raise DatasetFormatError(path, f"finite, plausible samples in {label} (or read with "
                                         "bad_trials='drop' to skip such videos)", why)
            dropped.append(ids[k])
            continue
        eeg.append(x[:14] * 1e-6)  # microvolts -> volts
        ecg.append(x[14:16])
        gsr.append(x[16:17])
        rows.append(rating)
        ext.append(annot)
        kept.append(k)
    if not eeg and not (required or dropped):
        return None
    if not eeg:
        raise DatasetFormatError(path, "at least one video with signals among the cells read",
                                 f"none (empty: {missing}, dropped: {dropped})")
    rows = np.array(rows)
    kept_ids = [ids[k] for k in kept]
    trial_ids = [int(v) if k < 16 else AMIGOS_LONG_VIDEOS.index(v) + 1 for k, v in zip(kept, kept_ids)]
    lo_hi = RATING_RANGE["amigos"]
    return Recording(
        dataset="amigos", subject=subject, eeg=eeg, sfreq=AMIGOS_SFREQ, ch_names=AMIGOS_CH_NAMES,
        labels={name: rows[:, AMIGOS_SELF_COLUMNS.index(name)] for name in AMIGOS_LABELS},
        label_range={name: lo_hi for name in AMIGOS_LABELS},
        peripheral={
            "ecg": Peripheral(data=ecg, sfreq=AMIGOS_SFREQ, unit="a.u.", kind="ecg", ch_names=AMIGOS_ECG_CH_NAMES),
            "gsr": Peripheral(data=gsr, sfreq=AMIGOS_SFREQ, unit="a.u.", kind="gsr", ch_names=AMIGOS_GSR_CH_NAMES),
        },
        trial_ids=np.array(trial_ids), session_ids=np.array([1 if k < 16 else 2 for k in kept]),
        fnames=[path],
        info={"video_ids": tuple(kept_ids), "familiarity": rows[:, 4], "emotions": rows[:, 5:],
              "emotion_names": AMIGOS_EMOTIONS,
              "ext_annotation": ext, "missing_videos": tuple(missing), "dropped_videos": tuple(dropped)},
    )
