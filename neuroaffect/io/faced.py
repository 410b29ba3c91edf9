"""Reader for FACED's processed release (``Processed_data/subNNN.pkl``) and its self-ratings.

Expected layout (Chen et al., 2023; file facts, sources and what could not be confirmed in
``docs/formats.md``, FACED section)::

    <root>/
        Processed_data/
            sub000.pkl ... sub122.pkl     pickle of one float ndarray (28, 32, 7500):
                                          clip x electrode x sample, microvolts, 250 Hz
        Data/
            sub000/After_remarks.mat      optional: 'After_remark', 28 structs with
            ...                           'score' (12 ratings, 0-7) and 'vid' (clip index 1..28)

Each ``.pkl`` holds the last 30 s of each of the 28 clips, reordered by video index (the
order of :data:`~neuroaffect.labels.FACED_CLIP_CLASSES`), band-passed at 0.05-47 Hz, cleaned
by ICA and re-referenced to the common average, with all subjects adjusted to microvolts.
Electrodes are :data:`~neuroaffect.channels.FACED_CH_NAMES` (30 scalp electrodes, then the
two mastoids). The files are published as plain Python pickles; they are loaded only by the
restricted unpickler of :mod:`neuroaffect.io._pickle` (numpy arrays and nothing else).

Subject numbers are 1-based as everywhere in this package: file ``subNNN.pkl`` is subject
``NNN + 1`` (``sub000.pkl`` is subject 1); ``Recording.info['faced_id']`` keeps ``'sub000'``.
The clip length is checked through the sample count: a whole number of 250-Hz seconds (7500
in the release; shorter clips are accepted so that small test files stay small).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_finite, check_subjects
from ..channels import FACED_CH_NAMES, FACED_SFREQ
from ..labels import FACED_CLASS_NAMES, FACED_CLIP_CLASSES, FACED_RATING_ITEMS, FACED_RATING_RANGE
from ._matcheck import load_mat5
from ._pickle import safe_load_hashed
from ._plausible import check_plausible
from .base import Recording

__all__ = ["DATA_DIR", "RATINGS_NAME", "list_subjects", "read_faced", "read_after_remarks"]

#: The processed-data folder (TorchEEG's spelling; the release's readme writes ``Processed_Data``).
DATA_DIR = "Processed_data"
_DATA_DIRS = (DATA_DIR, "Processed_Data")
#: Per-subject self-ratings, ``<root>/Data/subNNN/After_remarks.mat``.
RATINGS_DIR = "Data"
RATINGS_NAME = "After_remarks.mat"
RATINGS_VAR = "After_remark"
N_CLIPS = len(FACED_CLIP_CLASSES)  # 28
N_CHANS = len(FACED_CH_NAMES)  # 32
N_TIMES = 7500  # 30 s at 250 Hz in the release
UV = 1e-6  # volts per microvolt
#: Largest plausible |sample| of the processed EEG, microvolts (filtered, ICA-cleaned, average reference).
FACED_LIMIT_UV = 1e4
#: Smallest plausible median standard deviation of a clip's channels, microvolts: EEG left in
#: volts (the release converted every subject to microvolts) falls far below it.
MIN_MEDIAN_SD_UV = 0.05
VALENCE_ITEM = FACED_RATING_ITEMS.index("valence")
AROUSAL_ITEM = FACED_RATING_ITEMS.index("arousal")
_PKL_RE = re.compile(r"^sub(\d{3})\.pkl$")


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def read_faced(root, subjects=None, ratings=None) -> list[Recording]:
    """Read FACED subjects from ``Processed_data/subNNN.pkl`` (and their ``After_remarks.mat``).

    Parameters
    ----------
    root : path-like
        The dataset root holding ``Processed_data/``, that folder itself, or one
        ``subNNN.pkl`` (a single-subject root: the result holds that one subject).
    subjects : int | iterable of int | None
        1-based subject numbers (``subNNN.pkl`` is subject ``NNN + 1``); None reads every file.
    ratings : bool | None
        Read ``<root>/Data/subNNN/After_remarks.mat``: True requires it for every subject,
        False skips it, None reads it where it exists (for all subjects or for none).

    Returns
    -------
    recordings : list of Recording
        One per subject, sorted by subject. For each:

        - ``eeg`` : ndarray, shape (28, 32, n_times), volts (7500 samples = 30 s in the release).
        - ``labels`` : ``emotion`` (class code 0..8 of the clip's category,
          :data:`~neuroaffect.labels.FACED_CLASS_NAMES`) and, with ratings, ``valence`` and
          ``arousal`` (self-ratings on 0-7), each of shape (28,).
        - ``trial_ids`` : 1..28, the clip's video index.
        - ``info`` : ``faced_id`` (``'sub000'``), ``class_names``, ``sha256``
          (``{str(path): hex}`` of the ``.pkl``) and, with ratings, ``presentation_order``
          (position 1..28 at which each clip was shown), ``ratings`` (ndarray, shape (28, 12),
          the 12 items of :data:`~neuroaffect.labels.FACED_RATING_ITEMS`) and ``ratings_file``.

    Raises
    ------
    FileNotFoundError
        ``root``, a requested subject's file or (``ratings=True``) a ratings file is missing.
    DatasetFormatError
        A file does not have the documented layout (not one float array of shape
        (28, 32, whole 250-Hz seconds), NaN/Inf, truncated pickle, samples beyond +-1e4 uV, a
        flat channel, EEG apparently in volts, a ratings file that is not 28 structs with 12
        scores in 0-7 and each video index once); the message names the file.
    UnsafePickleError
        A ``.pkl`` references anything but numpy array reconstruction (nothing is executed).
    """
    if ratings not in (None, True, False):
        raise ValueError(f"Invalid value for the 'ratings' parameter. Allowed values are None, True and False, "
                         f"but got {ratings!r} instead.")
    root = Path(root)
    files = _select(root, subjects)
    ratings_files = _ratings_files(root, files, ratings)
    return [_read_subject(files[s], s, ratings_files.get(s)) for s in sorted(files)]


def list_subjects(root) -> list[int]:
    """1-based subject numbers of the ``subNNN.pkl`` files under ``root`` (file names only)."""
    root = Path(root)
    if root.is_file():
        return [_subject_number(root)]
    return sorted(_find_files(_find_data_dir(root)))


def read_after_remarks(fname) -> dict:
    """Read one subject's ``After_remarks.mat`` (self-ratings after each clip).

    Parameters
    ----------
    fname : path-like
        The file: a variable ``After_remark`` holding 28 structs (one per clip, in presentation
        order), each with ``score`` (12 ratings, the items of
        :data:`~neuroaffect.labels.FACED_RATING_ITEMS`, 0-7) and ``vid`` (video index 1..28).

    Returns
    -------
    table : dict
        ``ratings`` (float64, shape (28, 12), rows in video-index order) and
        ``presentation_order`` (int, shape (28,): position 1..28 at which each clip was shown).
    """
    fname = Path(fname)
    entries = _remark_entries(load_mat5(fname), fname)
    scores = np.full((N_CLIPS, len(FACED_RATING_ITEMS)), np.nan)
    order = np.zeros(N_CLIPS, dtype=int)
    for pos, entry in enumerate(entries, start=1):
        vid, score = _remark_fields(entry, pos, fname)
        if order[vid - 1]:
            raise DatasetFormatError(fname, f"each video index 1..{N_CLIPS} once in '{RATINGS_VAR}'",
                                     f"vid {vid} at positions {order[vid - 1]} and {pos}")
        order[vid - 1] = pos
        scores[vid - 1] = score
    return {"ratings": scores, "presentation_order": order}


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
def _subject_number(fname: Path) -> int:
    m = _PKL_RE.match(fname.name)
    if m is None:
        raise DatasetFormatError(fname, "a FACED file named subNNN.pkl (NNN = 000..122)", f"the name {fname.name!r}")
    return int(m.group(1)) + 1


def _find_data_dir(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path}: expected the FACED {DATA_DIR}/ folder (or the dataset root holding it, "
                                f"or a subNNN.pkl file), but found no such file or folder")
    for name in _DATA_DIRS:
        if (path / name).is_dir():
            return path / name
    if path.is_dir() and any(_PKL_RE.match(p.name) for p in path.iterdir()):
        return path
    found = sorted(p.name for p in path.iterdir())[:10] if path.is_dir() else [path.name]
    raise FileNotFoundError(f"{path}: expected a {DATA_DIR}/ folder or subNNN.pkl files, but found {found}")


def _find_files(data_dir: Path) -> dict[int, Path]:
    return {_subject_number(p): p for p in data_dir.iterdir() if _PKL_RE.match(p.name)}


def _select(root: Path, subjects) -> dict[int, Path]:
    """``{subject: path of subNNN.pkl}`` of the requested subjects."""
    if root.is_file():
        num = _subject_number(root)
        if subjects is not None and check_subjects(subjects) != [num]:
            raise ValueError(f"{root}: the file holds subject {num} ({root.name}), but subjects={subjects!r} "
                             f"was requested")
        return {num: root}
    data_dir = _find_data_dir(root)
    files = _find_files(data_dir)
    if not files:
        raise FileNotFoundError(f"{data_dir}: expected FACED files subNNN.pkl, but found none")
    if subjects is None:
        return files
    wanted = check_subjects(subjects)
    missing = [s for s in wanted if s not in files]
    if missing:
        raise FileNotFoundError(
            f"{data_dir}: expected files for subject(s) {missing} "
            f"({', '.join(f'sub{s - 1:03d}.pkl' for s in missing)}), but found only subjects {sorted(files)}"
        )
    return {s: files[s] for s in wanted}


def _ratings_files(root: Path, files: dict, ratings) -> dict[int, Path]:
    """``{subject: After_remarks.mat}`` for the subjects read (empty with ``ratings=False``)."""
    if ratings is False:
        return {}
    any_pkl = next(iter(files.values()))
    data_dir = any_pkl.parent
    base = data_dir.parent if data_dir.name in _DATA_DIRS else data_dir
    found = {s: base / RATINGS_DIR / f"sub{s - 1:03d}" / RATINGS_NAME for s in files}
    present = {s: p for s, p in found.items() if p.is_file()}
    if ratings is None and not present:
        return {}
    missing = sorted(set(found) - set(present))
    if missing:
        s = missing[0]
        raise FileNotFoundError(
            f"{found[s]}: expected FACED's ratings file for subject {s} ({files[s].name})"
            + ("" if ratings else f", since {len(present)} other subject(s) have theirs (ratings=False skips them)")
            + ", but found no such file"
        )
    return present


def _remark_entries(mat: dict, fname: Path) -> list:
    """The 28 structs of ``After_remark`` (a cell array of 1x1 structs, or a struct array)."""
    if RATINGS_VAR not in mat:
        raise DatasetFormatError(fname, f"a variable named {RATINGS_VAR!r}",
                                 f"variables {sorted(k for k in mat if not k.startswith('__'))}")
    var = np.asarray(mat[RATINGS_VAR])
    if var.size != N_CLIPS or sum(d > 1 for d in var.shape) > 1:
        raise DatasetFormatError(fname, f"{RATINGS_VAR!r} holding {N_CLIPS} entries (one per clip) in a vector",
                                 f"shape {var.shape}")
    entries = []
    for item in var.reshape(-1):
        rec = np.asarray(item)  # a cell's (1, 1) struct array, or a struct array's record
        if not rec.dtype.names or rec.size != 1:
            raise DatasetFormatError(fname, f"each entry of {RATINGS_VAR!r} a 1x1 struct with fields 'score', 'vid'",
                                     f"entry {len(entries) + 1}: {rec.dtype} of shape {rec.shape}")
        entries.append(rec.reshape(-1)[0])
    return entries


def _remark_fields(rec, pos: int, fname: Path) -> tuple[int, np.ndarray]:
    """(video index, 12 scores) of one ``After_remark`` entry, checked."""
    for field in ("score", "vid"):
        if field not in rec.dtype.names:
            raise DatasetFormatError(fname, f"a field {field!r} in entry {pos} of {RATINGS_VAR!r}",
                                     f"fields {list(rec.dtype.names)}")
    vid = np.asarray(rec["vid"])
    score = np.asarray(rec["score"])
    if vid.size != 1 or vid.dtype.kind not in "fiu" or not np.isfinite(vid).all() \
            or float(vid.reshape(-1)[0]) not in range(1, N_CLIPS + 1):
        raise DatasetFormatError(fname, f"'vid' of entry {pos} one video index in 1..{N_CLIPS}",
                                 f"{vid.dtype} of shape {vid.shape}: {vid.reshape(-1)[:3].tolist()}")
    n_items = len(FACED_RATING_ITEMS)
    if score.size != n_items or score.dtype.kind not in "fiu":
        raise DatasetFormatError(fname, f"'score' of entry {pos} {n_items} numbers ({', '.join(FACED_RATING_ITEMS)})",
                                 f"{score.dtype} of shape {score.shape}")
    score = score.reshape(-1).astype(np.float64)
    lo, hi = FACED_RATING_RANGE
    if not (np.isfinite(score) & (score >= lo) & (score <= hi)).all():
        raise DatasetFormatError(fname, f"'score' of entry {pos} in [{lo:g}, {hi:g}]", f"{score.tolist()}")
    return int(vid.reshape(-1)[0]), score


# --------------------------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------------------------
def _load_pkl(fname: Path) -> tuple[np.ndarray, str]:
    """Load and validate one ``subNNN.pkl``: (float64 array (28, 32, n_times) in uV, sha256 hex)."""
    obj, digest = safe_load_hashed(fname, encoding="latin1")
    if not isinstance(obj, np.ndarray) or obj.dtype.kind != "f":
        what = f"a {obj.dtype} array" if isinstance(obj, np.ndarray) else f"a pickled {type(obj).__name__}"
        raise DatasetFormatError(fname, "a pickled float numpy array (clip x electrode x sample)", what)
    n_sec = int(FACED_SFREQ)
    if obj.ndim != 3 or obj.shape[:2] != (N_CLIPS, N_CHANS) or obj.shape[2] < n_sec or obj.shape[2] % n_sec:
        raise DatasetFormatError(
            fname, f"an array of shape ({N_CLIPS}, {N_CHANS}, n_times) with n_times a whole number of "
            f"{FACED_SFREQ:g}-Hz seconds ({N_TIMES} in the release)", f"shape {obj.shape}",
        )
    data = np.asarray(obj, dtype=np.float64)
    check_finite(data, "the EEG", fname)
    check_plausible(data, FACED_LIMIT_UV, "uV", "EEG", FACED_CH_NAMES, fname)
    median_sd = float(np.median(data.std(axis=2)))
    if median_sd < MIN_MEDIAN_SD_UV:
        raise DatasetFormatError(
            fname, f"EEG in microvolts (median channel SD at least {MIN_MEDIAN_SD_UV:g} uV)",
            f"a median channel SD of {median_sd:.3g} (volts, as some raw recordings were stored?)",
        )
    return data, digest


def _read_subject(fname: Path, subject: int, ratings_file: Path | None) -> Recording:
    data, digest = _load_pkl(fname)
    emotion = np.asarray(FACED_CLIP_CLASSES, dtype=np.float64)
    labels = {"emotion": emotion}
    label_range = {"emotion": (0.0, float(len(FACED_CLASS_NAMES) - 1))}
    info = {"faced_id": fname.stem, "class_names": FACED_CLASS_NAMES, "sha256": {str(fname): digest}}
    fnames = [fname]
    if ratings_file is not None:
        table = read_after_remarks(ratings_file)
        labels["valence"] = table["ratings"][:, VALENCE_ITEM].copy()
        labels["arousal"] = table["ratings"][:, AROUSAL_ITEM].copy()
        label_range.update(valence=FACED_RATING_RANGE, arousal=FACED_RATING_RANGE)
        info.update(presentation_order=table["presentation_order"], ratings=table["ratings"],
                    ratings_file=os.fspath(ratings_file))
        fnames.append(ratings_file)
    return Recording(
        dataset="faced", subject=subject, eeg=data * UV, sfreq=FACED_SFREQ, ch_names=FACED_CH_NAMES,
        labels=labels, label_range=label_range, trial_ids=np.arange(1, N_CLIPS + 1),
        session_ids=np.ones(N_CLIPS, dtype=int), fnames=fnames, info=info,
    )
