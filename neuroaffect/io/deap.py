"""Reader for DEAP's preprocessed Python release (``data_preprocessed_python/sNN.dat``).

Expected layout (Koelstra et al., 2012; file facts in ``docs/formats.md``, DEAP section)::

    <root>/
        data_preprocessed_python/
            s01.dat ... s32.dat        Python 2 pickle: {'data': float64 (40, 40, 8064),
                                                         'labels': float64 (40, 4)}
        participant_ratings.csv        optional (also found in <root>/metadata_csv/)

Each ``.dat`` holds 40 trials in video (``Experiment_id``) order, 40 channels (32 EEG in the
Geneva order, then hEOG, vEOG, zEMG, tEMG, GSR, Respiration belt, Plethysmograph,
Temperature) sampled at 128 Hz; the first 3 s (384 samples) of each trial precede the video.
EEG and EOG/EMG are stored in microvolts. The ratings (valence, arousal, dominance, liking)
are continuous on 1-9.

The file format carries no sampling rate, so the rate is checked through the trial length:
more than the 384-sample baseline and a whole number of 128-Hz seconds (8064 in the release;
other lengths are accepted so that small test files stay small).
"""

from __future__ import annotations

import csv
import os
import re
import stat
import warnings
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_finite, check_option, check_subjects
from ..channels import DEAP_BASELINE_S, DEAP_EEG_CH_NAMES, DEAP_PERIPH_CH_NAMES, DEAP_SFREQ
from ..labels import DEAP_LABELS, RATING_RANGE
from ._plausible import EEG_LIMIT_UV, check_plausible, unit_limit
from ._pickle import UnsafePickleError, load_arrays_hashed, safe_load_hashed
from .base import Peripheral, Recording

DEAP_LABEL_RANGE = RATING_RANGE["deap"]

__all__ = ["RATINGS_HEADER", "list_subjects", "read_deap", "read_participant_ratings"]

DATA_DIR = "data_preprocessed_python"
RATINGS_NAME = "participant_ratings.csv"
#: Exact header of ``participant_ratings.csv``.
RATINGS_HEADER = (
    "Participant_id", "Trial", "Experiment_id", "Start_time",
    "Valence", "Arousal", "Dominance", "Liking", "Familiarity",
)
N_CHANS = len(DEAP_EEG_CH_NAMES) + len(DEAP_PERIPH_CH_NAMES)  # 40
N_BASE = int(DEAP_BASELINE_S * DEAP_SFREQ)  # 384 samples
UV = 1e-6  # volts per microvolt
#: Range of the CSV's Familiarity ratings (empty for participants who gave none).
FAMILIARITY_RANGE = (1.0, 5.0)
# Absolute tolerance of the .dat / CSV rating cross-check (the CSV prints two decimals).
RATING_ATOL = 0.01

# (key, kind, channel names, unit) of the peripheral channels, in file order.
_PERIPHERAL = (
    ("eog", "eog", ("hEOG", "vEOG"), "uV"),
    ("emg", "emg", ("zEMG", "tEMG"), "uV"),
    ("gsr", "gsr", ("GSR",), "Ohm"),
    ("resp", "resp", ("Respiration belt",), "a.u."),
    ("ppg", "ppg", ("Plethysmograph",), "a.u."),
    ("temp", "temp", ("Temperature",), "degC"),
)
_DAT_RE = re.compile(r"^s(\d+)\.dat$", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def read_deap(path, subjects=None, ratings=None, *, on_mismatch: str = "raise") -> list[Recording]:
    """Read DEAP subjects from ``data_preprocessed_python/sNN.dat`` files.

    Parameters
    ----------
    path : path-like
        The ``data_preprocessed_python/`` folder, the dataset root that contains it, or one
        ``sNN.dat`` file (a single-subject root: the result holds that one subject).
    subjects : int | iterable of int | None
        1-based subject numbers to read; None reads every ``sNN.dat`` found, sorted by number.
    ratings : path-like | False | None
        ``participant_ratings.csv``. None looks for it in the data folder, the dataset root and
        ``<root>/metadata_csv/``; False skips it. When present, its header is validated, its
        valence/arousal/dominance/liking are cross-checked against the ``.dat`` labels, and the
        presentation order, start times and familiarity go into ``Recording.info``.
    on_mismatch : {'raise', 'warn', 'ignore'}
        What to do when the CSV ratings disagree with the ``.dat`` labels.

    Returns
    -------
    recordings : list of Recording
        One per subject, sorted by subject number (always a list, of length 1 when ``path``
        is one ``sNN.dat``). For each:

        - ``eeg`` : ndarray, shape (n_trials, 32, n_times - 384), volts (stimulus part).
        - ``baseline`` : ndarray, shape (n_trials, 32, 384), volts (the 3 s before the video).
        - ``peripheral`` : ``eog`` (hEOG, vEOG; uV), ``emg`` (zEMG, tEMG; uV), ``gsr`` (Ohm),
          ``resp`` (a.u.), ``ppg`` (a.u.), ``temp`` (degC); each ``data`` of shape
          (n_trials, n_leads, n_times - 384) at 128 Hz with a ``baseline`` of 384 samples.
        - ``labels`` : valence, arousal, dominance, liking, shape (n_trials,), range (1, 9).
        - ``trial_ids`` : 1..n_trials = the video's ``Experiment_id``.
        - ``info`` : ``experiment_ids``, ``sha256`` (``{str(path of sNN.dat): hex sha256 of
          its bytes}``, computed while reading) and, with ratings, ``presentation_order``
          (the CSV's ``Trial``), ``start_time_us``, ``familiarity`` (NaN where missing),
          ``ratings_file``.

    Raises
    ------
    FileNotFoundError
        ``path``, a requested subject's file or an explicit ``ratings`` file is missing.
    DatasetFormatError
        A file does not have the documented layout (keys, shapes, ranges, NaN/Inf, truncated
        pickle, ratings header or values), or holds implausible samples (beyond the bounds of
        ``docs/formats.md``, Plausibility) or a flat EEG channel; the message names the file
        (and the trial and channel).
    UnsafePickleError
        A ``.dat`` references a global other than numpy array reconstruction (not loaded).
    """
    check_option("on_mismatch", on_mismatch, ("raise", "warn", "ignore"))
    path = Path(path)
    if path.is_file():
        num = _subject_number(path)
        if subjects is not None and check_subjects(subjects) != [num]:
            raise ValueError(
                f"{path}: the file holds subject {num}, but subjects={subjects!r} was requested"
            )
        data_dir, files = path.parent, {num: path}
    else:
        data_dir = _find_data_dir(path)
        files = _find_files(data_dir)
        if subjects is not None:
            wanted = check_subjects(subjects)
            missing = [s for s in wanted if s not in files]
            if missing:
                raise FileNotFoundError(
                    f"{data_dir}: expected files for subject(s) {missing} "
                    f"({', '.join(f's{s:02d}.dat' for s in missing)}), but found only "
                    f"subjects {sorted(files) or 'none'}"
                )
            files = {s: files[s] for s in wanted}
        if not files:
            raise FileNotFoundError(
                f"{data_dir}: expected DEAP files sNN.dat, but found none"
            )
    ratings_file = _find_ratings(data_dir, ratings)
    table = read_participant_ratings(ratings_file) if ratings_file is not None else None
    recs = [
        _read_subject(files[s], s, table, ratings_file, on_mismatch) for s in sorted(files)
    ]
    return recs


def list_subjects(root) -> list[int]:
    """Subject numbers of the ``sNN.dat`` files under ``root`` (file names only).

    ``root`` may be one ``sNN.dat`` file: its subject number is returned.
    """
    root = Path(root)
    if root.is_file():
        return [_subject_number(root)]
    return sorted(_find_files(_find_data_dir(root)))


def read_participant_ratings(fname) -> dict:
    """Read DEAP's ``participant_ratings.csv``.

    Parameters
    ----------
    fname : path-like
        The CSV, whose header must be exactly :data:`RATINGS_HEADER`.

    Returns
    -------
    table : dict of int -> dict of str -> ndarray
        Per participant, arrays of shape (n_rows,) in file (presentation) order:
        ``trial`` and ``experiment_id`` (int), ``start_time_us`` (int64), ``ratings``
        (float, shape (n_rows, 4): valence, arousal, dominance, liking) and ``familiarity``
        (float, NaN when empty).
    """
    fname = Path(fname)
    if not fname.is_file():
        raise FileNotFoundError(f"{fname}: expected DEAP {RATINGS_NAME}, but found no such file")
    rows: dict = {}
    try:
        with open(fname, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or tuple(h.strip() for h in header) != RATINGS_HEADER:
                raise DatasetFormatError(
                    fname, f"the header {','.join(RATINGS_HEADER)}",
                    "an empty file" if header is None else f"the header {_clip(','.join(header))}",
                )
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                pid, trial, exp, start, vals, fam = _parse_rating_row(fname, line_no, row)
                rows.setdefault(pid, []).append((trial, exp, start, *vals, fam))
    except UnicodeDecodeError:
        raise DatasetFormatError(fname, f"DEAP {RATINGS_NAME} as UTF-8 text",
                                 f"undecodable bytes at byte {_first_bad_utf8(fname)}") from None
    except csv.Error as err:  # a field over csv.field_size_limit(), a NUL byte, ...
        raise DatasetFormatError(fname, f"DEAP {RATINGS_NAME} as a CSV table of short fields",
                                 f"a malformed table ({err})") from None
    if not rows:
        raise DatasetFormatError(fname, "at least one rating row", "only the header")
    table = {}
    for pid, r in rows.items():
        a = np.array(r, dtype=np.float64)
        table[pid] = {
            "trial": a[:, 0].astype(int), "experiment_id": a[:, 1].astype(int),
            "start_time_us": np.array([x[2] for x in r], dtype=np.int64),
            "ratings": a[:, 3:7], "familiarity": a[:, 7],
        }
    return table


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
#: Bounds of the CSV's integer columns and of ``Start_time`` (µs): well inside int64 and exactly
#: representable as float64, so that no value overflows the arrays it goes into.
_MAX_ID = 10**6
_MAX_START_US = 2**53
_SHOW = 200  # characters of a bad row shown in a message


def _clip(text: str) -> str:
    return text if len(text) <= _SHOW else f"{text[:_SHOW]}... ({len(text)} characters)"


def _first_bad_utf8(fname) -> int:
    """Offset in the file of the first byte that is not UTF-8 (after an optional BOM)."""
    raw = Path(fname).read_bytes()
    skip = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        raw[skip:].decode("utf-8")
    except UnicodeDecodeError as err:
        return skip + err.start
    return -1


def _parse_rating_row(fname, line_no: int, row: list) -> tuple:
    """One data row of ``participant_ratings.csv`` -> (pid, trial, exp, start_us, [4 ratings], familiarity)."""
    if len(row) != len(RATINGS_HEADER):
        raise DatasetFormatError(
            fname, f"{len(RATINGS_HEADER)} comma-separated fields on line {line_no}",
            f"{len(row)} fields: {_clip(','.join(row))!r}",
        )
    try:
        pid, trial, exp = (int(row[i]) for i in range(3))
        start = float(row[3])
        vals = [float(row[i]) for i in range(4, 8)]
        fam = float(row[8]) if row[8].strip() else np.nan
    except ValueError:
        raise DatasetFormatError(
            fname, f"numbers in every field but Familiarity on line {line_no}", f"{_clip(','.join(row))!r}",
        ) from None
    for name, v in zip(RATINGS_HEADER[:3], (pid, trial, exp)):
        if not 1 <= v <= _MAX_ID:
            raise DatasetFormatError(fname, f"{name} an integer in 1..{_MAX_ID} on line {line_no}",
                                     f"{_clip(row[RATINGS_HEADER.index(name)])!r}")
    if not (np.isfinite(start) and 0 <= start <= _MAX_START_US):
        raise DatasetFormatError(fname, f"Start_time a number of microseconds in [0, 2**53] on line {line_no}",
                                 f"{_clip(row[3])!r}")
    bad = [v for v in vals if not (DEAP_LABEL_RANGE[0] <= v <= DEAP_LABEL_RANGE[1])]
    if bad:
        raise DatasetFormatError(
            fname, f"ratings in [{DEAP_LABEL_RANGE[0]:g}, {DEAP_LABEL_RANGE[1]:g}] on line "
            f"{line_no}", f"{_clip(','.join(row))!r}",
        )
    if row[8].strip() and not FAMILIARITY_RANGE[0] <= fam <= FAMILIARITY_RANGE[1]:
        raise DatasetFormatError(fname, f"Familiarity in [{FAMILIARITY_RANGE[0]:g}, {FAMILIARITY_RANGE[1]:g}] or "
                                 f"empty on line {line_no}", f"{_clip(row[8])!r}")
    return pid, trial, exp, int(start), vals, fam


def _subject_number(fname: Path) -> int:
    m = _DAT_RE.match(fname.name)
    if m is None or int(m.group(1)) < 1:
        raise DatasetFormatError(fname, "a DEAP file named sNN.dat (NN = subject number)",
                                 f"the name {fname.name!r}")
    return int(m.group(1))


def _find_data_dir(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: expected the DEAP {DATA_DIR}/ folder (or the dataset root holding it, or "
            f"an sNN.dat file), but found no such file or folder"
        )
    if (path / DATA_DIR).is_dir():
        return path / DATA_DIR
    if path.is_dir() and any(_DAT_RE.match(p.name) for p in path.iterdir()):
        return path
    found = sorted(p.name for p in path.iterdir())[:10] if path.is_dir() else [path.name]
    raise FileNotFoundError(
        f"{path}: expected a {DATA_DIR}/ folder or sNN.dat files, but found {found or 'an empty folder'}"
    )


def _find_files(data_dir: Path) -> dict:
    """{subject: path} of the ``sNN.dat`` files; one named so that is not a regular file (a FIFO, a
    device, a folder, a broken link), or a second file of the same subject, is refused, not skipped."""
    files = {}
    for p in sorted(data_dir.iterdir()):
        m = _DAT_RE.match(p.name)
        if not m:
            continue
        try:
            mode = os.stat(p).st_mode
        except OSError as err:
            raise DatasetFormatError(p, "a DEAP subject file sNN.dat", f"a path that cannot be read ({err})") from None
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO, device or socket"
            raise DatasetFormatError(p, "a DEAP subject file sNN.dat (a regular file)", kind)
        subject = int(m.group(1))
        if subject in files:
            raise DatasetFormatError(p, f"one file for subject {subject}", f"{files[subject].name} and {p.name}")
        files[subject] = p
    return files


def _find_ratings(data_dir: Path, ratings) -> Path | None:
    if ratings is False:
        return None
    if ratings is not None:
        ratings = Path(ratings)
        if not ratings.is_file():
            raise FileNotFoundError(
                f"{ratings}: expected DEAP {RATINGS_NAME}, but found no such file"
            )
        return ratings
    root = data_dir.parent
    for cand in (data_dir / RATINGS_NAME, root / RATINGS_NAME,
                 root / "metadata_csv" / RATINGS_NAME, root / "metadata" / RATINGS_NAME):
        if cand.is_file():
            return cand
    return None


def _unpickle_dat(fname: Path):
    """Load ``fname``; (object, sha256 hex of the file).

    A plain dict of numeric arrays (every real and simulated ``sNN.dat``) is read by
    :func:`~neuroaffect.io._pickle.load_arrays_hashed`: no unpickler, each array's data
    straight from the file into its numpy buffer, hashed on the way. Any other file goes to
    the restricted unpickler, which refuses or reports it: read once and hashed while read,
    Python 2 strings kept as bytes (each array built on its pickled bytes rather than through
    a latin1 str round trip); a file that does not load that way (e.g. strings inside arrays'
    dtypes) is loaded again with latin1, which decides whether it is valid.
    """
    fast = load_arrays_hashed(fname)
    if fast is not None:
        return fast
    try:
        return safe_load_hashed(fname, encoding="bytes")
    except UnsafePickleError:
        raise
    except DatasetFormatError:
        return safe_load_hashed(fname, encoding="latin1")


def _load_dat(fname: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """Load and validate one ``sNN.dat``.

    Returns
    -------
    data : ndarray, shape (n_trials, 40, n_times), float64
        Read-only use: it may share memory with the unpickled bytes.
    labels : ndarray, shape (n_trials, 4), float64
    sha256 : str
        Hex sha256 of the file's bytes.
    """
    obj, digest = _unpickle_dat(fname)
    if not isinstance(obj, dict):
        raise DatasetFormatError(fname, "a pickled dict with keys 'data' and 'labels'",
                                 f"a pickled {type(obj).__name__}")
    obj = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}
    if set(obj) != {"data", "labels"}:
        raise DatasetFormatError(fname, "a dict with exactly the keys ['data', 'labels']",
                                 f"keys {sorted(map(str, obj))}")
    arrays = {}
    for key in ("data", "labels"):
        val = obj[key]
        if not isinstance(val, np.ndarray) or val.dtype.kind not in "fiu":
            what = f"dtype {val.dtype}" if isinstance(val, np.ndarray) else type(val).__name__
            raise DatasetFormatError(fname, f"'{key}' as a float64 numpy array", what)
        arrays[key] = np.asarray(val, dtype=np.float64)
    data, labels = arrays["data"], arrays["labels"]
    if data.ndim != 3 or data.shape[1] != N_CHANS:
        raise DatasetFormatError(
            fname, f"'data' of shape (n_trials, {N_CHANS}, n_times) = trial x channel x sample",
            f"shape {data.shape}",
        )
    n_trials, _, n_times = data.shape
    if n_trials < 1 or n_times <= N_BASE or n_times % int(DEAP_SFREQ):
        raise DatasetFormatError(
            fname,
            f"at least one trial of {N_BASE} baseline samples plus a whole number of seconds at "
            f"{DEAP_SFREQ:g} Hz (8064 samples in the release)",
            f"{n_trials} trials of {n_times} samples",
        )
    if labels.shape != (n_trials, len(DEAP_LABELS)):
        raise DatasetFormatError(
            fname, f"'labels' of shape ({n_trials}, {len(DEAP_LABELS)}) "
            f"({', '.join(DEAP_LABELS)})", f"shape {labels.shape}",
        )
    check_finite(labels, "'labels'", fname)
    lo, hi = DEAP_LABEL_RANGE
    bad = np.argwhere((labels < lo) | (labels > hi))
    if bad.size:
        t, c = (int(i) for i in bad[0])
        raise DatasetFormatError(
            fname, f"'labels' in [{lo:g}, {hi:g}]",
            f"{len(bad)} values outside (first: trial {t} {DEAP_LABELS[c]} = {labels[t, c]:g})",
        )
    check_finite(data, "'data'", fname)
    _check_plausible(data, fname)
    return data, labels, digest


def _check_plausible(data: np.ndarray, fname: Path) -> None:
    """Amplitude bounds per channel kind and no flat EEG channel (docs/formats.md, Plausibility)."""
    n_eeg = len(DEAP_EEG_CH_NAMES)
    for part, what in ((slice(N_BASE, None), "EEG"), (slice(None, N_BASE), "EEG baseline")):
        check_plausible(data[:, :n_eeg, part], EEG_LIMIT_UV["deap"], "uV", what, DEAP_EEG_CH_NAMES, fname)
    for _, _, names, unit in _PERIPHERAL:
        idx = [n_eeg + DEAP_PERIPH_CH_NAMES.index(n) for n in names]
        check_plausible(data[:, idx], unit_limit(unit), unit, "/".join(names), names, fname, flat=False)


def _read_subject(fname: Path, subject: int, table, ratings_file, on_mismatch) -> Recording:
    data, labels, digest = _load_dat(fname)
    n_trials = data.shape[0]
    n_eeg = len(DEAP_EEG_CH_NAMES)
    eeg = data[:, :n_eeg, N_BASE:] * UV  # new contiguous arrays, volts
    baseline = data[:, :n_eeg, :N_BASE] * UV
    exp_ids = np.arange(1, n_trials + 1)
    peripheral = {}
    for key, kind, names, unit in _PERIPHERAL:
        idx = [N_CHANS - len(DEAP_PERIPH_CH_NAMES) + DEAP_PERIPH_CH_NAMES.index(n) for n in names]
        peripheral[key] = Peripheral(
            data=data[:, idx, N_BASE:], sfreq=DEAP_SFREQ, unit=unit, kind=kind, ch_names=names,
            baseline=data[:, idx, :N_BASE],
        )
    info = {"experiment_ids": exp_ids, "sha256": {str(fname): digest}}
    fnames = [fname]
    if table is not None:
        info.update(_match_ratings(table, subject, labels, ratings_file, fname, on_mismatch))
        fnames.append(ratings_file)
    return Recording(
        dataset="deap", subject=subject, eeg=eeg,
        sfreq=DEAP_SFREQ, ch_names=DEAP_EEG_CH_NAMES,
        labels={name: labels[:, i].copy() for i, name in enumerate(DEAP_LABELS)},
        label_range={name: DEAP_LABEL_RANGE for name in DEAP_LABELS},
        baseline=baseline, peripheral=peripheral,
        trial_ids=exp_ids, session_ids=np.ones(n_trials, dtype=int), fnames=fnames, info=info,
    )


def _match_ratings(table, subject, labels, ratings_file, dat_file, on_mismatch) -> dict:
    """Cross-check one subject's CSV rows against the .dat labels; return info entries."""
    n_trials = labels.shape[0]
    if subject not in table:
        raise DatasetFormatError(
            ratings_file, f"rows for Participant_id {subject} (read from {dat_file.name})",
            f"rows only for participants {sorted(table)}",
        )
    t = table[subject]
    exp = t["experiment_id"]
    if sorted(exp.tolist()) != list(range(1, n_trials + 1)):
        raise DatasetFormatError(
            ratings_file, f"Experiment_id 1..{n_trials} once each for Participant_id {subject} "
            f"({dat_file.name} has {n_trials} trials)", f"Experiment_id values {sorted(exp.tolist())}",
        )
    if sorted(t["trial"].tolist()) != list(range(1, n_trials + 1)):
        raise DatasetFormatError(
            ratings_file, f"Trial 1..{n_trials} once each for Participant_id {subject}",
            f"Trial values {sorted(t['trial'].tolist())}",
        )
    order = np.argsort(exp)  # rows -> Experiment_id order (= .dat trial order)
    csv_ratings = t["ratings"][order]
    diff = np.abs(csv_ratings - labels)
    if on_mismatch != "ignore" and (diff > RATING_ATOL).any():
        i, c = (int(k) for k in np.argwhere(diff > RATING_ATOL)[0])
        msg = DatasetFormatError(
            ratings_file,
            f"{DEAP_LABELS[c]} of Participant_id {subject}, Experiment_id {i + 1} equal to "
            f"{labels[i, c]:g} as in {dat_file} (within {RATING_ATOL})",
            f"{csv_ratings[i, c]:g} ({int((diff > RATING_ATOL).sum())} mismatching values)",
        )
        if on_mismatch == "raise":
            raise msg
        warnings.warn(str(msg), stacklevel=4)
    return {
        "presentation_order": t["trial"][order],
        "start_time_us": t["start_time_us"][order],
        "familiarity": t["familiarity"][order],
        "ratings_file": os.fspath(ratings_file),
    }
