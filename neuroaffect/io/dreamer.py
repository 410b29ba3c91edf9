"""Reader for DREAMER (``DREAMER.mat``, MATLAB v5: EEG from an Emotiv EPOC, ECG from a Shimmer2).

Layout of the file (all subjects in one MATLAB struct)::

    DREAMER (1x1 struct)
      Data               {1 x n_subjects cell} of struct
          Age            char, e.g. '22'
          Gender         char, 'male' / 'female'
          EEG            struct: baseline {18x1 cell} of (n_base x 14), stimuli {18x1 cell} of (M_k x 14)
          ECG            struct: baseline {18x1 cell} of (n_base_ecg x 2), stimuli {18x1 cell} of (~2 M_k x 2)
          ScoreValence   (18x1) double, integers 1..5
          ScoreArousal   (18x1) double, integers 1..5
          ScoreDominance (18x1) double, integers 1..5
      EEG_SamplingRate   128
      ECG_SamplingRate   256
      EEG_Electrodes     {1x14 cell}: AF3 F7 F3 FC5 T7 P7 O1 O2 P8 T8 FC6 F4 F8 AF4
      noOfSubjects, noOfVideoSequences, Disclaimer, Provider, Version, Acknowledgement

Signals are stored samples x channels in microvolts. The EEG is the Emotiv's unfiltered
output and carries a DC level of several thousand microvolts: it is returned as stored
(converted to volts), so any later step must high-pass, band-pass or baseline-correct.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_finite, check_sfreq, check_subjects
from ..channels import DREAMER_CH_NAMES, DREAMER_ECG_SFREQ, DREAMER_N_TRIALS, DREAMER_SFREQ
from ..labels import RATING_RANGE

DREAMER_LABEL_RANGE = RATING_RANGE["dreamer"]
from ._plausible import EEG_LIMIT_UV, check_plausible, unit_limit
from .base import Peripheral, Recording

__all__ = ["read_dreamer", "list_subjects", "DREAMER_FNAME", "DREAMER_TARGET_EMOTIONS",
           "DREAMER_ECG_CH_NAMES"]

DREAMER_FNAME = "DREAMER.mat"
#: Emotion each of the 18 film clips was chosen to elicit, in the order of the file.
DREAMER_TARGET_EMOTIONS = (
    "calmness", "surprise", "amusement", "fear", "excitement", "disgust", "happiness", "anger",
    "sadness", "disgust", "calmness", "amusement", "happiness", "anger", "fear", "excitement",
    "sadness", "surprise",
)
DREAMER_ECG_CH_NAMES = ("ECG1", "ECG2")
_REQUIRED = ("Data", "EEG_SamplingRate", "ECG_SamplingRate", "EEG_Electrodes")
_SUBJECT_FIELDS = ("Age", "Gender", "EEG", "ECG", "ScoreValence", "ScoreArousal", "ScoreDominance")
_SCORES = (("valence", "ScoreValence"), ("arousal", "ScoreArousal"), ("dominance", "ScoreDominance"))
#: (label, struct field) of each score, in the order of ``DREAMER_LABELS``; shared with the simulator.
DREAMER_SCORE_FIELDS = _SCORES
#: Shortest baseline or stimulus segment accepted, in seconds. The real baselines last
#: 61 s; shorter ones (small simulated copies) are accepted as long as they hold 1 s.
MIN_SEGMENT_S = 1.0


def read_dreamer(fname, subjects=None) -> list[Recording]:
    """Read DREAMER subjects from ``DREAMER.mat``.

    The file is loaded once (it holds every subject) with :func:`scipy.io.loadmat`,
    keeping MATLAB's singleton dimensions, so that files with one subject or one
    trial read the same way as the full dataset.

    Parameters
    ----------
    fname : path-like
        ``DREAMER.mat`` or the folder that contains it.
    subjects : sequence of int | None
        1-based subject numbers (position in ``DREAMER.Data``); None reads all.

    Returns
    -------
    recordings : list of Recording
        One per subject, in the order of ``subjects``. For each:

        - ``eeg``: list of 18 arrays, shape (14, n_times_k), volts, 128 Hz (always a list:
          the clips differ in length);
        - ``baseline``: ndarray, shape (18, 14, n_base), volts (a list if lengths differ;
          61 s = 7808 samples in the real file);
        - ``peripheral["ecg"]``: :class:`Peripheral` with ``kind="ecg"``, 256 Hz, ``unit="uV"``,
          2 leads; ``data`` a list of 18 arrays, shape (2, n_times_ecg_k), microvolts, and
          ``baseline``, shape (18, 2, n_base_ecg) (a list if lengths differ);
        - ``labels``: ``valence``, ``arousal``, ``dominance``, shape (18,), integers 1..5;
        - ``info``: ``age`` (str), ``gender`` (str), ``target_emotion`` (tuple of 18 str).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    DatasetFormatError
        If the file is not a readable MATLAB file, lacks a required field, has the wrong
        sampling rates, channel names, shapes, non-finite or implausible samples, a flat EEG
        channel (``docs/formats.md``, Plausibility) or scores outside 1..5.

    Notes
    -----
    Checks are strict about everything the real file fixes (18 clips, 14 Emotiv channels
    in the documented order, 128 Hz EEG and 256 Hz ECG, integer scores 1..5) and lenient
    only about segment lengths: any baseline or stimulus of at least 1 s is accepted.
    """
    path = _resolve(fname)
    top = _loadmat(path)
    ch_names = _check_header(top, path)
    cells = _subject_cells(top, path)
    picks = _check_subjects(subjects, len(cells), path)
    return [_read_subject(cells[s - 1], s, ch_names, path) for s in picks]


def list_subjects(fname) -> list[int]:
    """1-based subject numbers in ``DREAMER.mat`` (loads the whole file)."""
    path = _resolve(fname)
    return list(range(1, len(_subject_cells(_loadmat(path), path)) + 1))


# -- file access --------------------------------------------------------------------------
def _resolve(fname) -> Path:
    path = Path(os.fspath(fname))
    if path.is_dir():
        path = path / DREAMER_FNAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: expected the DREAMER file {DREAMER_FNAME} (or a folder holding it), "
            f"but found no such file"
        )
    return path


def _loadmat(path: Path):
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises OSError, ValueError, zlib.error, MatReadError, ...
        raise DatasetFormatError(
            path, "a complete MATLAB v5 file", f"an unreadable file ({type(err).__name__}: {err})"
        ) from err
    if "DREAMER" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise DatasetFormatError(path, "a variable named 'DREAMER'", f"variables {keys}")
    return _record(mat["DREAMER"], "DREAMER", path)


def _record(x, what, path):
    """A MATLAB struct as one numpy record (accepts a (1, 1) struct array or a record)."""
    if isinstance(x, np.void) and x.dtype.names:
        return x
    if isinstance(x, np.ndarray) and x.dtype.names and x.size == 1:
        return x.reshape(-1)[0]
    found = f"{type(x).__name__} of shape {getattr(x, 'shape', None)}"
    raise DatasetFormatError(path, f"{what} to be a 1x1 MATLAB struct", found)


def _field(rec, name, what, path):
    if name not in rec.dtype.names:
        raise DatasetFormatError(
            path, f"field {name!r} in {what}", f"fields {list(rec.dtype.names)}"
        )
    return rec[name]


def _scalar(x, what, path) -> float:
    arr = np.asarray(x)
    if arr.dtype == object or arr.dtype.kind not in "fiu" or arr.size != 1:
        found = f"text {_string(arr)[:40]!r}" if arr.dtype.kind in "US" else f"shape {arr.shape} {arr.dtype}"
        raise DatasetFormatError(path, f"{what} as a numeric scalar", found)
    return float(arr.reshape(-1)[0])


def _string(x) -> str:
    arr = np.asarray(x).reshape(-1)
    if arr.size == 0:
        return ""
    return "".join(str(c) for c in arr)


def _cell(x, shape, what, path) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype != object or arr.shape != shape:
        raise DatasetFormatError(
            path, f"{what} as a {shape[0]}x{shape[1]} cell array",
            f"{'a cell array' if arr.dtype == object else arr.dtype} of shape {arr.shape}",
        )
    return arr


# -- header -------------------------------------------------------------------------------
def _subject_cells(top, path) -> list:
    data = np.asarray(_field(top, "Data", "DREAMER", path))
    if data.ndim != 2 or 1 not in data.shape or data.size == 0:
        raise DatasetFormatError(path, "DREAMER.Data as a 1 x n_subjects cell array", f"shape {data.shape}")
    return list(data.reshape(-1))


def _check_header(top, path) -> tuple:
    for name in _REQUIRED:
        _field(top, name, "DREAMER", path)
    check_sfreq(_scalar(top["EEG_SamplingRate"], "DREAMER.EEG_SamplingRate", path),
                DREAMER_SFREQ, "DREAMER EEG", path)
    check_sfreq(_scalar(top["ECG_SamplingRate"], "DREAMER.ECG_SamplingRate", path),
                DREAMER_ECG_SFREQ, "DREAMER ECG", path)
    elec = np.asarray(top["EEG_Electrodes"])
    names = [_string(e) for e in elec.reshape(-1)] if elec.dtype == object else [_string(elec)]
    expected = list(DREAMER_CH_NAMES)
    unknown = [n for n in names if n not in expected]
    if unknown:
        raise DatasetFormatError(
            path, f"DREAMER.EEG_Electrodes to hold the 14 Emotiv channels {expected}",
            f"unknown channel name(s) {unknown}",
        )
    if len(names) != len(expected):
        raise DatasetFormatError(
            path, f"DREAMER.EEG_Electrodes to hold the 14 Emotiv channels {expected}",
            f"{len(names)} names {names}",
        )
    if names != expected:
        i = next(i for i, (a, b) in enumerate(zip(names, expected)) if a != b)
        raise DatasetFormatError(
            path, f"DREAMER.EEG_Electrodes in the order {expected}",
            f"{names} ({names[i]!r} at position {i}, where {expected[i]!r} belongs)",
        )
    n_subj = len(_subject_cells(top, path))
    for name, n in (("noOfSubjects", n_subj), ("noOfVideoSequences", DREAMER_N_TRIALS)):
        if name in top.dtype.names:
            val = _scalar(top[name], f"DREAMER.{name}", path)
            if val != n:
                raise DatasetFormatError(path, f"DREAMER.{name} == {n}", f"{val:g}")
    return tuple(expected)


def _check_subjects(subjects, n_subjects, path) -> list[int]:
    return check_subjects(subjects, range(1, n_subjects + 1), path)


# -- one subject --------------------------------------------------------------------------
def _segments(group, name, ch_names, sfreq, what, path, limit_uv, flat) -> list:
    """Cell ``group.name`` of 18 (n_samples x n_cols) arrays -> list of (n_cols, n_samples), uV.

    Samples beyond ``limit_uv`` and (``flat``) constant channels are refused (docs/formats.md,
    Plausibility).
    """
    n_cols = len(ch_names)
    cell = _cell(_field(group, name, what, path), (DREAMER_N_TRIALS, 1), f"{what}.{name}", path)
    out = []
    min_len = int(round(MIN_SEGMENT_S * sfreq))
    for k, x in enumerate(cell[:, 0]):
        label = f"{what}.{name}{{{k + 1}}}"
        x = np.asarray(x)
        if x.dtype == object or x.dtype.kind not in "fiu" or x.ndim != 2 or x.shape[1] != n_cols:
            hint = " (transposed: channels x samples)" if x.ndim == 2 and x.shape[0] == n_cols else ""
            raise DatasetFormatError(
                path, f"{label} of shape (n_samples, {n_cols}) samples x channels",
                f"{x.dtype} array of shape {x.shape}{hint}",
            )
        if x.shape[0] < min_len:
            raise DatasetFormatError(
                path, f"{label} of at least {min_len} samples ({MIN_SEGMENT_S:g} s at {sfreq:g} Hz)",
                f"{x.shape[0]} samples",
            )
        check_finite(x, label, path)
        # (n_samples, n_cols) in MATLAB's column-major order is (n_cols, n_samples) row-major.
        x = np.ascontiguousarray(x.T, dtype=np.float64)
        check_plausible(x, limit_uv, "uV", what.rsplit(".", 1)[-1], ch_names, path, [label], flat=flat)
        out.append(x)
    return out


def _stack_if_equal(trials: list):
    if len({t.shape for t in trials}) == 1:
        return np.stack(trials)
    return trials


def _read_subject(cell, subject, ch_names, path) -> Recording:
    what = f"DREAMER.Data{{{subject}}}"
    rec = _record(cell, what, path)
    for name in _SUBJECT_FIELDS:
        _field(rec, name, what, path)
    eeg_grp = _record(rec["EEG"], f"{what}.EEG", path)
    ecg_grp = _record(rec["ECG"], f"{what}.ECG", path)
    eeg_limit, ecg_limit = EEG_LIMIT_UV["dreamer"], unit_limit("uV")
    eeg = _segments(eeg_grp, "stimuli", ch_names, DREAMER_SFREQ, f"{what}.EEG", path, eeg_limit, True)
    base = _segments(eeg_grp, "baseline", ch_names, DREAMER_SFREQ, f"{what}.EEG", path, eeg_limit, True)
    for x in (*eeg, *base):
        x *= 1e-6  # microvolts -> volts, in place (the arrays are ours)
    ecg = _segments(ecg_grp, "stimuli", DREAMER_ECG_CH_NAMES, DREAMER_ECG_SFREQ, f"{what}.ECG", path,
                    ecg_limit, False)
    ecg_base = _segments(ecg_grp, "baseline", DREAMER_ECG_CH_NAMES, DREAMER_ECG_SFREQ, f"{what}.ECG", path,
                         ecg_limit, False)

    labels = {}
    lo, hi = DREAMER_LABEL_RANGE
    for key, name in _SCORES:
        score = np.asarray(rec[name])
        if score.dtype == object or score.dtype.kind not in "fiu" or score.shape != (DREAMER_N_TRIALS, 1):
            raise DatasetFormatError(
                path, f"{what}.{name} as an {DREAMER_N_TRIALS}x1 numeric vector",
                f"{score.dtype} array of shape {score.shape}",
            )
        score = score[:, 0].astype(np.float64)
        bad = ~np.isfinite(score) | (score < lo) | (score > hi) | (score != np.round(score))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DatasetFormatError(
                path, f"{what}.{name} to hold integers {lo:g}..{hi:g}",
                f"{float(score[k])!r} for clip {k + 1} ({int(bad.sum())} bad value(s))",
            )
        labels[key] = score

    return Recording(
        dataset="dreamer", subject=subject, eeg=eeg, sfreq=DREAMER_SFREQ, ch_names=ch_names,
        labels=labels, label_range={k: DREAMER_LABEL_RANGE for k, _ in _SCORES},
        baseline=_stack_if_equal(base),
        peripheral={"ecg": Peripheral(
            data=ecg, sfreq=DREAMER_ECG_SFREQ, unit="uV", kind="ecg",
            ch_names=DREAMER_ECG_CH_NAMES, baseline=_stack_if_equal(ecg_base),
        )},
        trial_ids=np.arange(1, DREAMER_N_TRIALS + 1), session_ids=np.ones(DREAMER_N_TRIALS, int),
        fnames=[path],
        info={"age": _string(rec["Age"]), "gender": _string(rec["Gender"]),
              "target_emotion": DREAMER_TARGET_EMOTIONS},
    )
