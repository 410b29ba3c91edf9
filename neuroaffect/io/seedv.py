"""Reader for SEED-V (SJTU BCMI lab): the raw ``EEG_raw/*.cnt`` or the published ``EEG_DE_features/``.

Raw layout (``source="raw"``)::

    <root>/EEG_raw/
        1_1_20180804.cnt        Neuroscan CNT, one per subject and session:
        1_2_20180807.cnt        <subject>_<session>_<YYYYMMDD>.cnt, 1000 Hz, the 62 SEED
        ...                     electrodes plus M1, M2, VEO, HEO (dropped)

Each session holds 15 film clips; the seconds at which each starts and ends are the same for every
subject (:data:`TRIAL_SECONDS`), and their classes are fixed by the experiment
(:data:`neuroaffect.labels.SEED_V_LABELS`: 0 disgust, 1 fear, 2 sad, 3 neutral, 4 happy).

Feature layout (``source="features"``)::

    <root>/EEG_DE_features/
        1_123.npz               'data' / 'label': pickled dicts of the 45 trials (3 sessions x 15)
        ...                     (:mod:`neuroaffect.io._seedv_features`)

Channels are picked by name (case-insensitive) into SEED's order
(:data:`~neuroaffect.channels.SEED_CH_NAMES`), so the order in the file does not matter; a file that
lacks one of the 62 or holds a channel other than M1, M2, VEO and HEO is refused.

A simulated copy at reduced scale (``neuroaffect.simulate.seedv``) is shorter than the real sessions;
its ``simulation.json`` (beside the dataset folder) declares the trial times it wrote, and only such a
card (``"dataset": "seed-v"``) replaces :data:`TRIAL_SECONDS`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .._utils import DatasetFormatError, check_finite, check_option, check_subjects
from ..channels import SEED_CH_NAMES, SEED_V_SFREQ
from ..labels import SEED_V_CLASS_NAMES, SEED_V_LABELS
from ._plausible import check_plausible
from ._seedv_cnt import read_cnt_header, read_cnt_trials
from ._seedv_features import read_de_file
from .base import Recording

__all__ = ["read_seedv", "list_subjects", "SEEDV_RAW_DIR", "SEEDV_FEATURE_DIR", "SEEDV_SFREQ",
           "SEEDV_FEATURE_SFREQ", "SEEDV_EXTRA_CHANNELS", "SEEDV_N_TRIALS", "SEEDV_N_SESSIONS", "TRIAL_SECONDS",
           "SEEDV_EEG_LIMIT_UV", "SOURCES"]

SEEDV_RAW_DIR = "EEG_raw"
SEEDV_FEATURE_DIR = "EEG_DE_features"
#: Rate of the raw CNT files (Hz).
SEEDV_SFREQ = SEED_V_SFREQ
#: Rate of the EEG the DE features were computed from (Hz; the release's downsampled copy).
SEEDV_FEATURE_SFREQ = 200.0
#: Channels of the CNT files that are not among SEED's 62 electrodes (mastoids, EOG); dropped.
SEEDV_EXTRA_CHANNELS = ("M1", "M2", "VEO", "HEO")
SEEDV_N_TRIALS = 15
SEEDV_N_SESSIONS = 3
#: Largest plausible |sample| (uV): the raw, unfiltered amplifier output may keep electrode offsets.
SEEDV_EEG_LIMIT_UV = 3e5
SOURCES = ("raw", "features")
#: Start and end (s) of the 15 clips of each session, from the start of its CNT file (docs/formats.md).
TRIAL_SECONDS = MappingProxyType({
    1: ((30, 132, 287, 555, 773, 982, 1271, 1628, 1730, 2025, 2227, 2435, 2667, 2932, 3204),
        (102, 228, 524, 742, 920, 1240, 1568, 1697, 1994, 2166, 2401, 2607, 2901, 3172, 3359)),
    2: ((30, 299, 548, 646, 836, 1000, 1091, 1392, 1657, 1809, 1966, 2186, 2333, 2490, 2741),
        (267, 488, 614, 773, 967, 1059, 1331, 1622, 1777, 1908, 2153, 2302, 2428, 2709, 2817)),
    3: ((30, 353, 478, 674, 825, 908, 1200, 1346, 1451, 1711, 2055, 2307, 2457, 2726, 2888),
        (321, 418, 643, 764, 877, 1147, 1284, 1418, 1679, 1996, 2275, 2425, 2664, 2857, 3066)),
})
_CNT_RE = re.compile(r"^(?P<subject>\d+)_(?P<session>\d+)_(?P<date>\d{8})\.cnt$")
_NPZ_RE = re.compile(r"^(?P<subject>\d+)_123\.npz$")
_MAX_CARD_BYTES = 64 << 20


def read_seedv(root, subjects=None, *, source: str = "raw") -> list[Recording]:
    """Read SEED-V subjects, the three sessions of a subject in one :class:`Recording`.

    Parameters
    ----------
    root : path-like
        ``source="raw"``: the folder holding ``EEG_raw/``, ``EEG_raw`` itself, or one session file
        ``<subject>_<session>_<YYYYMMDD>.cnt``. ``source="features"``: the folder holding
        ``EEG_DE_features/``, that folder itself, or one ``<subject>_123.npz``.
    subjects : sequence of int | None
        1-based subject numbers; None reads every subject found.
    source : {'raw', 'features'}
        The raw EEG or the published DE features.

    Returns
    -------
    recordings : list of Recording
        One per subject, in increasing subject order. For each:

        - ``eeg``: ``raw``: list of arrays, shape (62, n_times_i), volts, 1000 Hz, the 15 clips of
          each session in clip order; ``features``: list of empty arrays, shape (62, 0) (no samples;
          the features are in ``info["de"]``), ``sfreq`` 200 Hz;
        - ``trial_ids`` 1..15, ``session_ids`` 1..3;
        - ``labels["emotion"]``: class codes 0..4 (``label_classes["emotion"]`` names them);
        - ``info``: ``source``, ``dates`` (raw: ISO date per session), ``de`` (features: list of
          arrays, shape (n_windows_i, 62, 5)), ``window_labels`` (features: arrays (n_windows_i,)).

    Raises
    ------
    FileNotFoundError
        If the folder or a session file is missing (a subject lacking one of the three sessions).
    DatasetFormatError
        If a file name, a CNT header, its channels or rate, a session shorter than its last clip,
        a DE file, or a label disagreeing with the session's fixed classes is not as documented
        (docs/formats.md, SEED-V), or a sample is implausible or a channel flat.
    """
    check_option("source", source, SOURCES)
    folder, table, card = _layout(root, source)
    picks = check_subjects(subjects, table, folder)
    read = _read_raw_subject if source == "raw" else _read_feature_subject
    return [read(subject, table[subject], card) for subject in picks]


def list_subjects(root, source: str = "raw") -> list[int]:
    """Subject numbers found under ``root`` (from file names only; nothing is loaded)."""
    check_option("source", source, SOURCES)
    return sorted(_layout(root, source)[1])


# -- folders and names -----------------------------------------------------------------------
def _layout(root, source: str) -> tuple[Path, dict, dict | None]:
    """(folder, {subject: {session: (path, date)}} or {subject: path}, declared trial times or None)."""
    root = Path(os.fspath(root))
    sub, regex = (SEEDV_RAW_DIR, _CNT_RE) if source == "raw" else (SEEDV_FEATURE_DIR, _NPZ_RE)
    suffix = ".cnt" if source == "raw" else ".npz"
    if root.is_file():
        if not regex.match(root.name):
            raise DatasetFormatError(root, f"a SEED-V folder {sub}/ or one file named "
                                     + ("<subject>_<session>_<YYYYMMDD>.cnt" if source == "raw" else
                                        "<subject>_123.npz"), f"the file name {root.name!r}")
        folder, files = root.parent, [root]
    else:
        folder = root / sub if (root / sub).is_dir() else root
        if not folder.is_dir():
            raise FileNotFoundError(f"{root}: expected a SEED-V folder {sub}/ (or that folder itself), "
                                    "but found no such folder")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() == suffix)
        bad = [p.name for p in files if not regex.match(p.name)]
        if bad:
            raise DatasetFormatError(folder / bad[0], "a file named " + (
                "<subject>_<session>_<YYYYMMDD>.cnt (session 1-3)" if source == "raw" else "<subject>_123.npz"),
                f"the file name {bad[0]!r}")
        if not files:
            raise FileNotFoundError(f"{folder}: expected SEED-V {suffix} files, but found "
                                    f"{sorted(p.name for p in folder.iterdir())[:20]}")
    if source == "features":
        table = {}
        for p in files:
            subject = int(regex.match(p.name)["subject"])
            if subject in table:
                raise DatasetFormatError(folder, "one DE file per subject", f"{table[subject].name!r} and "
                                         f"{p.name!r} for subject {subject}")
            table[subject] = p
        return folder, table, None
    table = _session_table(folder, files)
    if not root.is_file():
        _check_complete(folder, table)
    return folder, table, _declared_times(folder)


def _session_table(folder: Path, files: list) -> dict:
    table: dict = {}
    for p in files:
        m = _CNT_RE.match(p.name)
        subject, session = int(m["subject"]), int(m["session"])
        if subject < 1 or session not in range(1, SEEDV_N_SESSIONS + 1):
            raise DatasetFormatError(p, f"subject >= 1 and session 1-{SEEDV_N_SESSIONS} in the file name",
                                     f"subject {subject}, session {session}")
        sessions = table.setdefault(subject, {})
        if session in sessions:
            raise DatasetFormatError(folder, f"one file per session for subject {subject}",
                                     f"{sessions[session][0].name!r} and {p.name!r} for session {session}")
        d = m["date"]
        sessions[session] = (p, f"{d[:4]}-{d[4:6]}-{d[6:]}")
    return table


def _check_complete(folder: Path, table: dict) -> None:
    """Refuse a subject without all three session files (SEED-V recorded three per subject)."""
    for subject, sessions in sorted(table.items()):
        missing = sorted(set(range(1, SEEDV_N_SESSIONS + 1)) - set(sessions))
        if missing:
            raise FileNotFoundError(
                f"{folder}: expected the session files {subject}_1_*.cnt, {subject}_2_*.cnt and {subject}_3_*.cnt "
                f"(SEED-V recorded {SEEDV_N_SESSIONS} sessions per subject), but found no file for session(s) "
                f"{missing} of subject {subject} (present: {sorted(p.name for p, _ in sessions.values())})")


def _declared_times(folder: Path) -> dict | None:
    """Trial times a simulated copy's ``simulation.json`` declares: {session: (starts, ends)} or None."""
    for card_path in (folder.parent / "simulation.json", folder.parent.parent / "simulation.json"):
        if card_path.is_file() and card_path.stat().st_size <= _MAX_CARD_BYTES:
            break
    else:
        return None
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(card, dict) or card.get("dataset") != "seed-v" or "trial_seconds" not in card:
        return None
    try:
        times = {int(s): (tuple(float(a) for a in v["start"]), tuple(float(b) for b in v["end"]))
                 for s, v in card["trial_seconds"].items()}
    except (AttributeError, KeyError, TypeError, ValueError):
        times = None
    if times is None or sorted(times) != [1, 2, 3] or any(
            len(a) != SEEDV_N_TRIALS or len(b) != SEEDV_N_TRIALS or not all(0 <= x < y for x, y in zip(a, b))
            for a, b in times.values()):
        raise DatasetFormatError(card_path, "'trial_seconds': {session 1-3: {'start': 15 s, 'end': 15 s}} with "
                                 "each clip ending after it starts", "another value")
    return times


# -- subjects --------------------------------------------------------------------------------
def _pick_channels(path: Path, names: tuple) -> list:
    """Indices of SEED's 62 channels in ``names`` (upper case), in SEED's order; refuse anything else."""
    want = [n.upper() for n in SEED_CH_NAMES]
    dup = sorted({n for n in names if names.count(n) > 1})
    unknown = [n for n in names if n not in want and n not in SEEDV_EXTRA_CHANNELS]
    missing = [n for n in want if n not in names]
    if dup or unknown or missing:
        raise DatasetFormatError(
            path, f"SEED's {len(want)} EEG channels (docs/formats.md), each once, plus at most "
            f"{', '.join(SEEDV_EXTRA_CHANNELS)}",
            f"{len(names)} channels" + (f"; missing {missing[:8]}" if missing else "")
            + (f"; unknown {unknown[:8]}" if unknown else "") + (f"; repeated {dup[:8]}" if dup else ""))
    return [names.index(n) for n in want]


def _read_raw_session(path: Path, session: int, times: dict | None) -> list:
    """The 15 clips of one session file, each (62, n_times) in volts."""
    header = read_cnt_header(path)
    if header.sfreq != SEEDV_SFREQ:
        raise DatasetFormatError(path, f"a CNT file recorded at {SEEDV_SFREQ:g} Hz (SEED-V's rate)",
                                 f"{header.sfreq:g} Hz in its header")
    picks = _pick_channels(path, header.ch_names)
    starts, ends = (times or TRIAL_SECONDS)[session]
    spans = [(round(a * SEEDV_SFREQ), round(b * SEEDV_SFREQ)) for a, b in zip(starts, ends)]
    if spans[-1][1] > header.n_samples:
        raise DatasetFormatError(
            path, f"a session of at least {ends[-1]:g} s (clip {SEEDV_N_TRIALS} of session {session} ends there"
            + (", as simulation.json declares" if times else ", docs/formats.md") + ")",
            f"{header.n_samples / SEEDV_SFREQ:g} s ({header.n_samples} samples at {SEEDV_SFREQ:g} Hz; truncated?)")
    trials = read_cnt_trials(path, header, picks, spans)
    for k, x in enumerate(trials, start=1):
        check_finite(x, f"clip {k}", path)
        check_plausible(x * 1e6, SEEDV_EEG_LIMIT_UV, "uV", "EEG", SEED_CH_NAMES, path, [f"clip {k}"])
    return trials


def _read_raw_subject(subject: int, sessions: dict, times: dict | None) -> Recording:
    eeg, trial_ids, session_ids, labels, fnames = [], [], [], [], []
    for session, (path, _) in sorted(sessions.items()):
        eeg += _read_raw_session(path, session, times)
        trial_ids += range(1, SEEDV_N_TRIALS + 1)
        session_ids += [session] * SEEDV_N_TRIALS
        labels += SEED_V_LABELS[session - 1]
        fnames.append(path)
    return Recording(
        dataset="seed-v", subject=subject, eeg=eeg, sfreq=SEEDV_SFREQ, ch_names=SEED_CH_NAMES,
        labels={"emotion": np.asarray(labels, dtype=np.float64)}, label_classes={"emotion": SEED_V_CLASS_NAMES},
        trial_ids=np.asarray(trial_ids), session_ids=np.asarray(session_ids), fnames=fnames,
        info={"source": "raw", "dates": {int(s): d for s, (_, d) in sorted(sessions.items())}},
    )


def _read_feature_subject(subject: int, path: Path, _times=None) -> Recording:
    n = SEEDV_N_SESSIONS * SEEDV_N_TRIALS
    de, window_labels = read_de_file(path, n, len(SEED_CH_NAMES))
    expected = [c for session in SEED_V_LABELS for c in session]
    for k, (y, want) in enumerate(zip(window_labels, expected)):
        if not (y == want).all():
            other = sorted({float(v) for v in y})[:5]
            raise DatasetFormatError(
                f"{path} ['label']", f"every window of trial {k} (session {k // SEEDV_N_TRIALS + 1}, clip "
                f"{k % SEEDV_N_TRIALS + 1}) labelled {want} ({SEED_V_CLASS_NAMES[want]}), the clip's fixed class",
                f"the labels {other}")
    return Recording(
        dataset="seed-v", subject=subject, eeg=[np.zeros((len(SEED_CH_NAMES), 0)) for _ in range(n)],
        sfreq=SEEDV_FEATURE_SFREQ, ch_names=SEED_CH_NAMES,
        labels={"emotion": np.asarray(expected, dtype=np.float64)}, label_classes={"emotion": SEED_V_CLASS_NAMES},
        trial_ids=np.tile(np.arange(1, SEEDV_N_TRIALS + 1), SEEDV_N_SESSIONS),
        session_ids=np.repeat(np.arange(1, SEEDV_N_SESSIONS + 1), SEEDV_N_TRIALS), fnames=[path],
        info={"source": "features", "de": de, "window_labels": window_labels},
    )
