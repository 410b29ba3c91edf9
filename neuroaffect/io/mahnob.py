"""Reader for MAHNOB-HCI's emotion-elicitation sessions (``Sessions/<n>/``).

Expected layout (Soleymani et al., 2012; file facts in ``docs/formats.md``, MAHNOB-HCI section)::

    <root>/
        Sessions/
            2/
                Part_1_S_Trial1_emotion.bdf    BioSemi BDF, 256 Hz, 47 channels: 32 EEG (Geneva
                                               order), EXG1-8, GSR1, GSR2, Erg1, Erg2, Resp,
                                               Temp, Status
                session.xml                    <session feltVlnc=".." feltArsl=".." feltCtrl=".."
                                                        feltPred=".." feltEmo=".." ...>
                                                   <subject id="1" .../>
                                               </session>
            4/ ...

Session folders without a ``Part_<p>_S_Trial<k>_emotion.bdf`` (tagging sessions, sessions
whose recording is missing) are skipped. The recording runs about 30 s before and after the
clip; the Status channel marks clip onset and offset. The Status word carries system bits
above bit 15, so events are found with ``mask=0xFFFF`` (``mask_type='and'``).

Our choices (not fixed by the dataset): the stimulus is ``[onset of the first Status event,
onset of the second)``; the baseline is the first 30 s of the file, or everything before the
onset when that is shorter. All trials of a participant were recorded in one sitting, so
``session_ids`` are all 1; the dataset's session folder numbers are in
``info["session_folders"]`` and ``trial_ids`` are the ``Trial<k>`` numbers.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_subjects
from ..channels import MAHNOB_EEG_CH_NAMES, MAHNOB_SFREQ
from ..labels import MAHNOB_LABELS, RATING_RANGE

MAHNOB_LABEL_RANGE = RATING_RANGE["mahnob"]
from ._mahnob_bdf import _PERIPHERAL, read_session_bdf
from .base import Peripheral, Recording

__all__ = ["FELT_ATTRIBUTES", "list_subjects", "read_mahnob", "read_session_xml"]

SESSIONS_DIR = "Sessions"
XML_NAME = "session.xml"
#: XML attribute of each entry of ``MAHNOB_LABELS``.
FELT_ATTRIBUTES = dict(zip(MAHNOB_LABELS, ("feltVlnc", "feltArsl", "feltCtrl", "feltPred")))
_BDF_RE = re.compile(r"^Part_(\d+)_S_Trial(\d+)_emotion\.bdf$")


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def read_mahnob(root, subjects=None, include_unlabeled: bool = True) -> list[Recording]:
    """Read MAHNOB-HCI emotion sessions, one :class:`Recording` per participant.

    Parameters
    ----------
    root : path-like
        Folder holding ``Sessions/`` (or the ``Sessions`` folder itself), or a single-session
        root: one session folder ``Sessions/<n>/`` or its ``Part_<p>_S_Trial<k>_emotion.bdf``
        (the result then holds that participant with that one trial).
    subjects : int | iterable of int | None
        Participant numbers (``<subject id>`` in ``session.xml``); None reads all.
    include_unlabeled : bool
        Keep sessions whose ``session.xml`` has no felt* ratings (their labels are NaN).

    Returns
    -------
    recordings : list of Recording
        One per participant, sorted by participant (always a list); trials sorted by
        session folder number. For each:

        - ``eeg`` : ndarray, shape (n_trials, 32, n_times) | list of ndarray, shape
          (32, n_times_i) when clip lengths differ; volts, 256 Hz, stimulus only.
        - ``baseline`` : same layout, the first 30 s (or all samples before the onset).
        - ``peripheral`` : ``ecg`` (EXG1-3), ``gsr`` (GSR1), ``resp``, ``temp``, in the
          file's units (``unit`` attribute: ``"uV"`` for microvolt channels, else the BDF
          header's physical dimension), same layout, with baselines.
        - ``labels`` : valence, arousal, dominance, predictability (feltVlnc, feltArsl,
          feltCtrl, feltPred), range (1, 9), NaN for unlabeled sessions.
        - ``trial_ids`` : the ``Trial<k>`` numbers; ``session_ids`` : all 1.
        - ``info`` : ``session_folders`` (0 for a single session folder whose name is not
          a number), ``labeled`` (bool), ``felt_emotion`` (feltEmo, NaN when absent),
          ``media_files``, ``onsets`` and ``offsets`` (samples).

    Raises
    ------
    FileNotFoundError
        ``root`` has no ``Sessions`` folder, no emotion session, a session has a BDF but no
        ``session.xml``, or a requested participant is absent.
    DatasetFormatError
        Malformed ``session.xml``, ratings outside 1-9, a truncated or non-BioSemi BDF, a
        sampling rate other than 256 Hz, a missing EEG channel, fewer than two Status
        events, a clip under 1 s or differing from ``cutLenSec`` by more than 1 s, NaN/Inf or
        implausible samples, a flat EEG channel (``docs/formats.md``, Plausibility); the
        message names the file.
    """
    sessions = _scan_sessions(*_find_sessions_dir(Path(root)))
    if subjects is not None:
        wanted = check_subjects(subjects)
        found = sorted({s["subject"] for s in sessions})
        missing = [s for s in wanted if s not in found]
        if missing:
            raise FileNotFoundError(
                f"{Path(root)}: expected emotion sessions of participant(s) {missing}, but found "
                f"only participants {found}"
            )
        sessions = [s for s in sessions if s["subject"] in wanted]
    if not include_unlabeled:
        sessions = [s for s in sessions if s["labeled"]]
    by_subject: dict = {}
    for s in sessions:
        by_subject.setdefault(s["subject"], []).append(s)
    return [_make_recording(subj, by_subject[subj]) for subj in sorted(by_subject)]


def list_subjects(root) -> list[int]:
    """Participant numbers with at least one emotion session (reads ``session.xml`` only).

    ``root`` may be one session folder or its BDF file: its participant is returned.
    """
    return sorted({s["subject"] for s in _scan_sessions(*_find_sessions_dir(Path(root)))})


def read_session_xml(fname) -> dict:
    """Parse one ``session.xml``.

    Returns
    -------
    session : dict
        ``subject`` (int), ``labels`` (dict name -> float, NaN when absent), ``labeled``
        (bool: ``feltArsl`` or ``feltVlnc`` present), ``felt_emotion`` (float, NaN when
        absent), ``media_file`` (str or None), ``cut_len_s`` (float, the clip length
        ``cutLenSec`` in seconds, NaN when absent), ``attributes`` (all root attributes).
    """
    fname = Path(fname)
    try:
        root = ET.parse(fname).getroot()
    except ET.ParseError as err:
        raise DatasetFormatError(fname, "well-formed XML with a <session> root element",
                                 f"a parse error ({err})") from None
    except (LookupError, UnicodeError, ValueError) as err:  # unknown or lying encoding declaration
        raise DatasetFormatError(fname, "XML in an encoding Python knows (UTF-8 in the real files)",
                                 f"{type(err).__name__}: {err}") from None
    if root.tag != "session":
        raise DatasetFormatError(fname, "a <session> root element", f"<{root.tag}>")
    subj = root.find("subject")
    if subj is None or subj.get("id") is None:
        raise DatasetFormatError(fname, 'a <subject id="..."/> child of <session>',
                                 "no subject element" if subj is None else "no id attribute")
    try:
        subject = int(subj.get("id"))
    except ValueError:
        raise DatasetFormatError(fname, "an integer subject id", repr(subj.get("id"))) from None
    labels = {}
    for name, attr in FELT_ATTRIBUTES.items():
        labels[name] = _rating(fname, root, attr, *MAHNOB_LABEL_RANGE)
    emo = root.get("feltEmo")
    felt_emotion = np.nan if emo is None else _rating(fname, root, "feltEmo", 0, 99)
    labeled = root.get("feltArsl") is not None or root.get("feltVlnc") is not None
    return {
        "subject": subject, "labels": labels, "labeled": labeled,
        "felt_emotion": felt_emotion, "media_file": root.get("mediaFile"),
        "cut_len_s": _cut_len(fname, root.get("cutLenSec")),
        "attributes": dict(root.attrib),
    }


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _rating(fname, root, attr, lo, hi) -> float:
    raw = root.get(attr)
    if raw is None:
        return np.nan
    try:
        val = float(raw)
    except ValueError:
        val = np.nan
    if not (np.isfinite(val) and val == int(val) and lo <= val <= hi):
        raise DatasetFormatError(fname, f"{attr} an integer in {lo}..{hi}", f"{attr}={raw!r}")
    return val


def _cut_len(fname, raw) -> float:
    """``cutLenSec`` as seconds (NaN when absent); a positive finite number."""
    if raw is None:
        return np.nan
    try:
        val = float(raw)
    except ValueError:
        val = np.nan
    if not (np.isfinite(val) and val > 0):
        raise DatasetFormatError(fname, "cutLenSec a positive number of seconds", f"cutLenSec={raw!r}")
    return val


def _find_sessions_dir(root: Path) -> tuple[Path, list[Path] | None]:
    """(folder to scan, [the one session folder] for a single-session root, else None)."""
    if root.is_file():
        if not _BDF_RE.match(root.name):
            raise DatasetFormatError(
                root, f"a MAHNOB-HCI folder holding {SESSIONS_DIR}/, a session folder or its "
                "Part_<p>_S_Trial<k>_emotion.bdf", f"the file name {root.name!r}",
            )
        return root.parent.parent, [root.parent]
    if (root / SESSIONS_DIR).is_dir():
        return root / SESSIONS_DIR, None
    if root.is_dir() and root.name == SESSIONS_DIR:
        return root, None
    if root.is_dir() and any(_BDF_RE.match(p.name) for p in root.iterdir()):
        return root.parent, [root]
    if not root.exists():
        found = "no such file or folder"
    else:
        found = f"{sorted(p.name for p in root.iterdir())[:10]}" if root.is_dir() else "a file"
    raise FileNotFoundError(
        f"{root}: expected a MAHNOB-HCI folder holding {SESSIONS_DIR}/ ({SESSIONS_DIR}/ itself, "
        f"or one session folder holding Part_<p>_S_Trial<k>_emotion.bdf), but found {found}"
    )


def _folder_number(folder: Path) -> int:
    """Session folder number; 0 for a single session folder whose name is not a number."""
    return int(folder.name) if folder.name.isdigit() else 0


def _scan_sessions(sessions_dir: Path, only: list[Path] | None = None) -> list[dict]:
    """Session folders holding an emotion BDF, with their parsed ``session.xml``.

    ``only``: scan just these session folders (a single-session root).
    """
    out = []
    if only is None:
        folders = [p for p in sessions_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    else:
        folders = list(only)
    for folder in sorted(folders, key=_folder_number):
        bdfs = sorted(p for p in folder.iterdir() if _BDF_RE.match(p.name))
        if not bdfs:
            continue
        if len(bdfs) > 1:
            raise DatasetFormatError(folder, "one Part_<p>_S_Trial<k>_emotion.bdf per session",
                                     f"{[p.name for p in bdfs]}")
        bdf = bdfs[0]
        xml = folder / XML_NAME
        if not xml.is_file():
            raise FileNotFoundError(
                f"{xml}: expected the session.xml of {bdf.name}, but found no such file"
            )
        meta = read_session_xml(xml)
        part, trial = (int(g) for g in _BDF_RE.match(bdf.name).groups())
        if part != meta["subject"]:
            raise DatasetFormatError(xml, f'<subject id="{part}"> as in {bdf.name}',
                                     f'id="{meta["subject"]}"')
        out.append({**meta, "folder": _folder_number(folder), "trial": trial, "bdf": bdf, "xml": xml})
    if not out:
        raise FileNotFoundError(
            f"{sessions_dir if only is None else only[0]}: expected session folders <n>/ holding "
            f"Part_<p>_S_Trial<k>_emotion.bdf and session.xml, but found none"
        )
    return out


def _stack(arrays: list):
    """One array when every trial has the same length, else the list itself."""
    if len({a.shape for a in arrays}) == 1:
        return np.stack(arrays)
    return arrays


def _make_recording(subject: int, sessions: list[dict]) -> Recording:
    parts = [read_session_bdf(s) for s in sessions]
    peripheral = {}
    for key, kind, chs in _PERIPHERAL:
        units = {p["periph"][key][2] for p in parts}
        if len(units) != 1:
            raise DatasetFormatError(sessions[0]["bdf"].parent.parent,
                                     f"one unit for {chs} in every session", f"units {units}")
        peripheral[key] = Peripheral(
            data=_stack([p["periph"][key][0] for p in parts]), sfreq=MAHNOB_SFREQ,
            unit=units.pop(), kind=kind, ch_names=chs,
            baseline=_stack([p["periph"][key][1] for p in parts]),
        )
    n = len(sessions)
    return Recording(
        dataset="mahnob", subject=subject, eeg=_stack([p["eeg"] for p in parts]),
        sfreq=MAHNOB_SFREQ, ch_names=MAHNOB_EEG_CH_NAMES,
        labels={k: np.array([s["labels"][k] for s in sessions]) for k in MAHNOB_LABELS},
        label_range={k: MAHNOB_LABEL_RANGE for k in MAHNOB_LABELS},
        baseline=_stack([p["eeg_base"] for p in parts]), peripheral=peripheral,
        trial_ids=np.array([s["trial"] for s in sessions]), session_ids=np.ones(n, dtype=int),
        fnames=[f for s in sessions for f in (s["bdf"], s["xml"])],
        info={
            "session_folders": np.array([s["folder"] for s in sessions]),
            "labeled": np.array([s["labeled"] for s in sessions]),
            "felt_emotion": np.array([s["felt_emotion"] for s in sessions]),
            "media_files": [s["media_file"] for s in sessions],
            "onsets": np.array([p["onset"] for p in parts]),
            "offsets": np.array([p["offset"] for p in parts]),
        },
    )
