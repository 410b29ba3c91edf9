"""Reader for SEED (``Preprocessed_EEG/``) and SEED-IV (``eeg_raw_data/``), SJTU BCMI lab.

SEED layout::

    <root>/Preprocessed_EEG/
        label.mat                   'label': (1, 15) in {-1, 0, 1}, the same for every session
        1_20131027.mat              '<prefix>_eeg1' .. '<prefix>_eeg15': (62, N) float64, uV, 200 Hz
        1_20131030.mat              (one file per subject and session, named <subject>_<YYYYMMDD>)
        ...

SEED-IV layout::

    <root>/eeg_raw_data/{1,2,3}/<subject>_<YYYYMMDD>.mat
                                    '<prefix>_eeg1' .. '<prefix>_eeg24': (62, N) float64, uV, 200 Hz

SEED-IV has no label file: the 24 labels of each session folder are fixed by the
experiment (:data:`neuroaffect.labels.SEED_IV_LABELS`; 0 neutral, 1 sad, 2 fear, 3 happy).

File names
----------
``<subject>_<YYYYMMDD>.mat``: the part before the last ``_`` is the subject, the eight
digits after it the recording date. A numeric subject is used as the subject number.
One mirror of SEED names files after the participant instead (``dujingcheng_20131027.mat``);
such names are numbered by their alphabetical rank among all names in the folder, which
reproduces SEED's own numbering (its subjects are numbered in alphabetical order of their
names, as the key prefixes ``djc``, ``jl``, ..., ``zjy`` show) when the folder is complete.
A folder mixing both kinds of names is refused. Other files (``readme.txt``, ``label.mat``)
are ignored.

Sessions and trials
-------------------
A SEED subject's sessions are numbered by the rank of their dates (1, 2, 3); a SEED-IV
session is its folder number. Trials are numbered by the integer in the variable name
(``re.search(r'_eeg(\\d+)$', key)``), never by the order of the variables in the file.

Sampling rate
-------------
The files hold no rate. Every published trial length of both datasets is
``200 * s + 1`` samples (whole seconds at 200 Hz plus one sample, e.g. 47001), so each
trial is checked for it: a copy resampled to another rate (a common mistake is treating
SEED as 128 Hz) fails with a message saying that a 200 Hz recording was expected.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_finite, check_option, check_regular_file, check_subjects
from ..channels import SEED_CH_NAMES, SEED_PREFIXES, SEED_SFREQ
from ..labels import SEED_IV_LABELS
from ._plausible import EEG_LIMIT_UV, check_plausible
from ._seed_layout import FNAME_RE as _FNAME_RE
from ._seed_layout import LABEL_FNAME, N_SESSIONS, SEED_DIR, SEED_IV_DIR, parse_seed_fname, session_layout
from .base import Recording

__all__ = ["read_seed", "list_subjects", "parse_seed_fname", "SEED_N_TRIALS", "SEED_IV_N_TRIALS", "LABEL_FNAME",
           "N_SESSIONS", "SEED_DIR", "SEED_IV_DIR"]

SEED_N_TRIALS = 15
SEED_IV_N_TRIALS = 24
VARIANTS = ("seed", "seed-iv")
_KEY_RE = re.compile(r"_eeg(\d+)$")
#: Rates a wrongly resampled copy may have; used only to explain a failed length check.
_OTHER_RATES = (128.0, 250.0, 256.0, 500.0, 512.0, 1000.0)


def read_seed(root, subjects=None, variant: str = "seed") -> list[Recording]:
    """Read SEED or SEED-IV subjects, all sessions of a subject in one :class:`Recording`.

    Parameters
    ----------
    root : path-like
        SEED: the folder holding ``Preprocessed_EEG/`` or ``Preprocessed_EEG`` itself.
        SEED-IV: the folder holding ``eeg_raw_data/`` or ``eeg_raw_data`` itself.
        Or one session file ``<subject>_<YYYYMMDD>.mat`` (a single-subject root: the result
        holds that subject with that one session, numbered as in the whole folder; SEED
        reads ``label.mat`` next to it, SEED-IV takes the session from the folder
        ``1/``, ``2/`` or ``3/`` holding it).
    subjects : sequence of int | None
        1-based subject numbers; None reads every subject found.
    variant : {'seed', 'seed-iv'}
        Which dataset the folder holds.

    Returns
    -------
    recordings : list of Recording
        One per subject, in increasing subject order (always a list). For each:

        - ``eeg``: list of arrays, shape (62, n_times_i), volts, 200 Hz: the trials of
          every session, session by session, each session in trial-number order;
        - ``trial_ids``: trial number within its session (1..15 or 1..24);
        - ``session_ids``: session number (SEED: date rank; SEED-IV: folder number);
        - ``labels["emotion"]``: SEED -1/0/1 (negative/neutral/positive), range (-1, 1);
          SEED-IV 0..3 (neutral/sad/fear/happy), range (0, 3);
        - ``info``: ``name`` (subject part of the file names), ``prefix`` (of the variable
          names) and ``dates`` (ISO date per session).

    Raises
    ------
    FileNotFoundError
        If the folder, ``label.mat`` or any session file is missing.
    DatasetFormatError
        If a file is unreadable or lacks ``label`` / ``_eeg`` variables, a trial is not
        (62, 200 * s + 1), holds NaN/Inf, implausible samples or a flat channel
        (``docs/formats.md``, Plausibility), a label is outside its classes, or a subject has
        more than 3 sessions or fewer than another subject in the folder.
    """
    check_option("variant", variant, VARIANTS)
    folder, table, where = session_layout(root, variant)
    picks = _check_subjects(subjects, table, where)
    if variant == "seed":
        label_path = folder / LABEL_FNAME
        seed_labels = _read_labels(label_path)
    out = []
    for subject in picks:
        eeg, trial_ids, session_ids, labels, fnames, prefixes = [], [], [], [], [], set()
        sessions = table[subject]
        for session, (path, date) in sorted(sessions.items()):
            if variant == "seed":
                expected = seed_labels
            else:
                expected = np.asarray(SEED_IV_LABELS[session - 1], dtype=np.float64)
            trials, prefix = _read_session(path, len(expected), EEG_LIMIT_UV[variant])
            _check_prefix(path, prefix, subject, variant, prefixes)
            prefixes.add(prefix)
            for k in sorted(trials):
                eeg.append(trials[k])
                trial_ids.append(k)
                session_ids.append(session)
                labels.append(expected[k - 1])
            fnames.append(path)
        if variant == "seed":
            fnames.append(label_path)
        names = {p.name for p, _ in sessions.values()}
        out.append(Recording(
            dataset=variant, subject=subject, eeg=eeg, sfreq=SEED_SFREQ, ch_names=SEED_CH_NAMES,
            labels={"emotion": np.asarray(labels, dtype=np.float64)},
            label_range={"emotion": (-1.0, 1.0) if variant == "seed" else (0.0, 3.0)},
            trial_ids=np.asarray(trial_ids), session_ids=np.asarray(session_ids), fnames=fnames,
            info={
                "name": sorted({_FNAME_RE.match(n)["name"] for n in names})[0],
                "prefix": "/".join(sorted(prefixes)),
                "dates": {int(s): d.isoformat() for s, (_, d) in sorted(sessions.items())},
            },
        ))
    return out


def list_subjects(root, variant: str = "seed") -> list[int]:
    """Subject numbers found under ``root`` (from file names only; nothing is loaded).

    ``root`` may be one session file: the subject it belongs to is returned.
    """
    check_option("variant", variant, VARIANTS)
    return sorted(session_layout(root, variant)[1])


def _check_subjects(subjects, table, folder) -> list[int]:
    return check_subjects(subjects, table, folder)


# -- file contents ------------------------------------------------------------------------
def _loadmat(path: Path) -> dict:
    import scipy.io

    check_regular_file(path, "a MATLAB file")
    try:
        return scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises OSError, ValueError, zlib.error, MatReadError, ...
        raise DatasetFormatError(
            path, "a complete MATLAB v5 file", f"an unreadable file ({type(err).__name__}: {err})"
        ) from err


def _read_labels(path: Path) -> np.ndarray:
    """``label.mat['label']``, shape (1, 15), values in {-1, 0, 1} -> float array (15,)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: expected SEED's label file {LABEL_FNAME}, but found no such file")
    mat = _loadmat(path)
    if "label" not in mat:
        raise DatasetFormatError(
            path, "a variable named 'label'", f"variables {sorted(k for k in mat if not k.startswith('__'))}"
        )
    lab = np.asarray(mat["label"])
    if lab.dtype.kind not in "fiu" or lab.shape != (1, SEED_N_TRIALS):
        raise DatasetFormatError(path, f"'label' of shape (1, {SEED_N_TRIALS}) numeric",
                                 f"{lab.dtype} array of shape {lab.shape}")
    lab = lab[0].astype(np.float64)
    bad = ~np.isin(lab, (-1.0, 0.0, 1.0))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise DatasetFormatError(path, "labels in {-1, 0, 1}", f"{float(lab[k])!r} for trial {k + 1}")
    return lab


def _check_prefix(path: Path, prefix: str, subject: int, variant: str, seen: set) -> None:
    """Refuse a session whose variable prefix is not its subject's.

    SEED's prefixes are fixed per subject (:data:`~neuroaffect.channels.SEED_PREFIXES`, subject
    1 ``djc`` ... 15 ``zjy``); SEED-IV's are not listed, so there the sessions of one subject must
    only agree with each other.
    """
    if variant == "seed" and 1 <= subject <= len(SEED_PREFIXES) and prefix != SEED_PREFIXES[subject - 1]:
        owner = SEED_PREFIXES.index(prefix) + 1 if prefix in SEED_PREFIXES else None
        raise DatasetFormatError(
            path, f"variables '{SEED_PREFIXES[subject - 1]}_eeg<k>' (SEED's prefix of subject {subject})",
            f"the prefix {prefix!r}" + (f", SEED's prefix of subject {owner}" if owner else ""),
        )
    if seen and prefix not in seen:
        raise DatasetFormatError(path, f"the variable prefix of subject {subject}'s other sessions "
                                 f"({'/'.join(sorted(seen))!r})", f"the prefix {prefix!r}")


def _explain_length(n: int) -> str:
    for rate in _OTHER_RATES:
        for extra in (0, 1):
            if (n - extra) % rate == 0:
                return f"; it is a whole {(n - extra) / rate:g} s at {rate:g} Hz"
    return ""


def _read_session(path: Path, n_trials: int, limit_uv: float) -> tuple[dict, str]:
    """{trial number: (62, N) volts} and the key prefix of one session file.

    Samples beyond ``limit_uv`` microvolts and constant channels are refused (docs/formats.md,
    Plausibility).
    """
    mat = _loadmat(path)
    keys = {}
    for key in list(mat):
        m = _KEY_RE.search(key)
        if m is None or key.startswith("__"):
            continue
        k = int(m.group(1))
        if k in keys:
            raise DatasetFormatError(path, "one variable per trial number",
                                     f"{keys[k]!r} and {key!r} for trial {k}")
        keys[k] = key
    if not keys:
        raise DatasetFormatError(
            path, "variables named '<prefix>_eeg<k>'",
            f"variables {sorted(k for k in mat if not k.startswith('__'))}",
        )
    if sorted(keys) != list(range(1, n_trials + 1)):
        raise DatasetFormatError(path, f"trials '<prefix>_eeg1' .. '<prefix>_eeg{n_trials}'",
                                 f"trial numbers {sorted(keys)}")
    prefixes = {key[: _KEY_RE.search(key).start()] for key in keys.values()}
    if len(prefixes) > 1:
        raise DatasetFormatError(path, "one variable prefix for every trial ('<prefix>_eeg<k>')",
                                 f"the prefixes {sorted(prefixes)}")
    n_chans = len(SEED_CH_NAMES)
    trials = {}
    for k in sorted(keys):
        key = keys[k]
        x = np.asarray(mat.pop(key))
        if x.dtype == object or x.dtype.kind not in "fiu" or x.ndim != 2 or x.shape[0] != n_chans:
            hint = " (transposed: samples x channels)" if x.ndim == 2 and x.shape[1] == n_chans else ""
            raise DatasetFormatError(path, f"{key!r} of shape ({n_chans}, n_times) channels x samples",
                                     f"{x.dtype} array of shape {x.shape}{hint}")
        n = x.shape[1]
        if n < SEED_SFREQ + 1 or (n - 1) % int(SEED_SFREQ) != 0:
            raise DatasetFormatError(
                path,
                f"{key!r} recorded at {SEED_SFREQ:g} Hz, i.e. 200 * s + 1 samples (s >= 1 whole "
                "seconds, as every SEED / SEED-IV trial)",
                f"{n} samples ({(n - 1) / SEED_SFREQ:g} s at {SEED_SFREQ:g} Hz){_explain_length(n)}",
            )
        check_finite(x, repr(key), path)
        x = np.ascontiguousarray(x, dtype=np.float64)  # copies MATLAB's column-major arrays
        check_plausible(x, limit_uv, "uV", "EEG", SEED_CH_NAMES, path, [f"trial {k} ({key!r})"])
        x *= 1e-6  # microvolts -> volts
        trials[k] = x
    return trials, "/".join(sorted(prefixes))
