"""SEED and SEED-IV folders and file names: which session file is which subject and session.

The rules (``<subject>_<YYYYMMDD>.mat``, numbering of subjects and sessions, the checks on missing,
stray and misnamed files) are those of :mod:`neuroaffect.io.seed` and ``docs/formats.md`` (SEED).
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path

from .._utils import DatasetFormatError

__all__ = ["FNAME_RE", "LABEL_FNAME", "N_SESSIONS", "SEED_DIR", "SEED_IV_DIR", "parse_seed_fname", "session_layout"]

#: Sessions per subject in SEED and SEED-IV.
N_SESSIONS = 3
SEED_DIR = "Preprocessed_EEG"
SEED_IV_DIR = "eeg_raw_data"
LABEL_FNAME = "label.mat"
#: A session file's name: ``<subject>_<YYYYMMDD>.mat``.
FNAME_RE = re.compile(r"^(?P<name>[A-Za-z0-9]+)_(?P<date>\d{8})\.mat$")
_FNAME_RE = FNAME_RE
#: Largest ``simulation.json`` read for the sessions it declares.
_MAX_CARD_BYTES = 64 << 20


def parse_seed_fname(fname) -> tuple[str, datetime.date] | None:
    """Split ``<subject>_<YYYYMMDD>.mat`` into the subject part and the date.

    Returns None for names of another form (``label.mat``, ``readme.txt``).

    Raises
    ------
    DatasetFormatError
        If the eight digits are not a calendar date.
    """
    m = _FNAME_RE.match(Path(fname).name)
    if m is None:
        return None
    try:
        date = datetime.datetime.strptime(m["date"], "%Y%m%d").date()
    except ValueError:
        raise DatasetFormatError(fname, "a file name <subject>_<YYYYMMDD>.mat with a valid date",
                                 repr(Path(fname).name)) from None
    return m["name"], date


def session_layout(root, variant) -> tuple[Path, dict, Path]:
    """(dataset folder, {subject: {session: (path, date)}}, root) for a folder or one file.

    Subjects and sessions are numbered over the whole folder, so that a single session file
    gets the numbers it has when the folder is read.
    """
    folder, only = _resolve(root, variant)
    table = _session_table(folder, variant)
    if only is None:
        _check_declared(folder, variant, table)
        return folder, table, folder
    only = only.resolve()
    table = {
        subject: {k: v for k, v in sessions.items() if v[0].resolve() == only}
        for subject, sessions in table.items()
    }
    return folder, {subject: s for subject, s in table.items() if s}, Path(os.fspath(root))


def _resolve(root, variant) -> tuple[Path, Path | None]:
    """(dataset folder, the session file when ``root`` is one, else None)."""
    root = Path(os.fspath(root))
    sub = SEED_DIR if variant == "seed" else SEED_IV_DIR
    if root.is_file():
        if parse_seed_fname(root) is None:
            raise DatasetFormatError(
                root, f"a {variant.upper()} folder {sub}/ or one session file named "
                "<subject>_<YYYYMMDD>.mat", f"the file name {root.name!r}",
            )
        if variant == "seed":
            return root.parent, root
        if root.parent.name not in {"1", "2", "3"}:
            raise DatasetFormatError(
                root, "a SEED-IV session file inside its session folder 1/, 2/ or 3/",
                f"the folder name {root.parent.name!r}",
            )
        return root.parent.parent, root
    for cand in (root / sub, root):
        if cand.is_dir() and (cand.name == sub or variant == "seed" and (cand / LABEL_FNAME).is_file()):
            return cand, None
    found = sorted(p.name for p in root.iterdir())[:20] if root.is_dir() else "no such folder"
    raise FileNotFoundError(f"{root}: expected a {variant.upper()} folder {sub}/ (or that folder itself), "
                            f"but found {found}")


def _session_files(folder: Path, variant: str) -> list[tuple[Path, int | None]]:
    """(file, session folder number or None) for every ``<name>_<date>.mat`` below ``folder``.

    Any other ``.mat`` file (``label.mat`` excepted), whatever the case of its suffix, is refused:
    a session file named ``1_20131030.MAT`` or ``1_2013103.mat`` would otherwise be skipped and
    its 15 trials lost without a word.
    """
    if variant == "seed":
        return [(p, None) for p in _matching(folder)]
    files = []
    for d in sorted(folder.iterdir()):
        if d.is_dir() and d.name in {"1", "2", "3"}:
            files += [(p, int(d.name)) for p in _matching(d)]
    return files


def _matching(folder: Path) -> list[Path]:
    """The session files of one folder, sorted; refuses a misnamed ``.mat`` file."""
    out = []
    for p in sorted(folder.iterdir()):
        if _FNAME_RE.match(p.name):
            out.append(p)
        elif p.suffix.lower() == ".mat" and p.name != LABEL_FNAME:
            raise DatasetFormatError(
                p, "a session file named <subject>_<YYYYMMDD>.mat (eight-digit date, lower-case .mat) or "
                f"{LABEL_FNAME}; no other .mat file belongs in {folder.name}/", f"the file name {p.name!r}",
            )
    return out


def _session_table(folder: Path, variant: str) -> dict:
    """{subject: {session: (path, date)}} from the file names below ``folder``."""
    files = _session_files(folder, variant)
    if not files:
        where = "<subject>_<YYYYMMDD>.mat files" if variant == "seed" else \
            "session folders 1/, 2/, 3/ holding <subject>_<YYYYMMDD>.mat files"
        raise FileNotFoundError(
            f"{folder}: expected {where}, but found {sorted(p.name for p in folder.iterdir())[:20]}"
        )
    parsed = [(p, sess, *parse_seed_fname(p)) for p, sess in files]
    numeric = {name.isdigit() for _, _, name, _ in parsed}
    if len(numeric) > 1:
        raise DatasetFormatError(
            folder, "file names that all start with a subject number or all with a subject name",
            f"both kinds: {sorted({n for _, _, n, _ in parsed})}",
        )
    if numeric == {True}:
        number = {name: int(name) for _, _, name, _ in parsed}
    else:
        number = {name: i for i, name in enumerate(sorted({n for _, _, n, _ in parsed}), start=1)}
    by_subject: dict = {}
    for path, sess, name, date in parsed:
        by_subject.setdefault(number[name], []).append((path, sess, date))
    table = {}
    for subject, items in by_subject.items():
        if variant == "seed":
            items.sort(key=lambda it: it[2])
            dates = [d for _, _, d in items]
            if len(set(dates)) != len(dates):
                raise DatasetFormatError(
                    folder, f"one file per date for subject {subject}",
                    f"{[p.name for p, _, _ in items]}",
                )
            table[subject] = {i: (p, d) for i, (p, _, d) in enumerate(items, start=1)}
        else:
            sessions = [s for _, s, _ in items]
            if len(set(sessions)) != len(sessions):
                raise DatasetFormatError(
                    folder, f"one file per session folder for subject {subject}",
                    f"{[str(p.relative_to(folder)) for p, _, _ in items]}",
                )
            table[subject] = {s: (p, d) for p, s, d in items}
    _check_session_counts(folder, table, variant)
    return table


def _check_session_counts(folder: Path, table: dict, variant: str) -> None:
    """Refuse a subject with more than :data:`N_SESSIONS` sessions, or with fewer than another subject.

    Both datasets recorded every subject in three sessions; a folder where subjects differ lost a
    file (or gained a stray one), which would otherwise shift the session numbers silently.
    """
    name = variant.upper()
    for subject, sessions in sorted(table.items()):
        if len(sessions) > N_SESSIONS:
            raise DatasetFormatError(
                folder, f"at most {N_SESSIONS} session files for subject {subject} ({name} recorded "
                f"{N_SESSIONS} sessions per subject)", f"{len(sessions)}: {_session_names(folder, sessions)}",
            )
    counts = {subject: len(sessions) for subject, sessions in table.items()}
    most = max(counts.values())
    short = sorted(s for s, n in counts.items() if n < most)
    if short:
        full = sorted(s for s, n in counts.items() if n == most)
        s = short[0]
        raise DatasetFormatError(
            folder, f"{most} session files for every subject, as for subject(s) {full} (a missing "
            f"session file?)", f"{counts[s]} for subject {s}: {_session_names(folder, table[s])}"
            + (f" ({len(short)} subjects short)" if len(short) > 1 else ""),
        )


def _check_declared(folder: Path, variant: str, table: dict) -> None:
    """Refuse a simulated copy that lacks a session file its ``simulation.json`` declares.

    A copy whose every subject lost the same session reads like a smaller copy; the simulator's
    ``simulation.json`` (beside the dataset root) lists each subject's session dates, so there
    the lost file can be named. Folders without it (real copies) are not checked here.
    """
    for card_path in (folder.parent / "simulation.json", folder.parent.parent / "simulation.json"):
        if card_path.is_file():
            break
    else:
        return
    try:
        if card_path.stat().st_size > _MAX_CARD_BYTES:
            return
        card = json.loads(card_path.read_text(encoding="utf-8"))
        declared = [(int(s["subject"]), int(k["session"]), str(k["date"]))
                    for s in card["subjects"] for k in s["sessions"]] if card.get("dataset") == variant else []
    except (OSError, ValueError, KeyError, TypeError):
        return  # not the simulator's card: nothing declared
    present = {p.resolve() for sessions in table.values() for p, _ in sessions.values()}
    for subject, session, date in declared:
        name = f"{subject}_{date}.mat"
        path = folder / name if variant == "seed" else folder / str(session) / name
        if path.resolve() not in present:
            raise FileNotFoundError(
                f"{path}: expected the session file of subject {subject}, session {session} that {card_path} "
                f"declares ({variant.upper()} copies hold {N_SESSIONS} sessions per subject), but found no such file"
            )


def _session_names(folder: Path, sessions: dict) -> list[str]:
    return [str(p.relative_to(folder)) for p, _ in sessions.values()]
