"""Your own recordings: any format MNE reads, trials from annotations, events or onsets, labels from a CSV.

API
---
``read_custom(root, labels=None, *, subjects=None, ratings=None, classes=None, montage=None,
ch_names=None, exclude=(), duration=None, bad_samples="refuse", eeg_limit_uv=300000.0, dataset="custom")``
    -> list of :class:`~neuroaffect.io.Recording`, one per subject, sorted by subject.
``list_subjects(root, labels=None)`` -> sorted subject numbers of the labels table.
``read_labels_table(fname, ratings=None, classes=None)`` -> the checked table (``pandas.DataFrame``)
and the label specification.
``raw_from_samples(fname, sfreq, *, unit="uV", annotate=())`` -> ``mne.io.RawArray`` of a table of
samples (ARFF or CSV, one column per channel), e.g. to ``raw.save("rec_raw.fif")`` and read it here.

Layout (``docs/formats.md``, "Your own recordings")::

    root/
        labels.csv            one row per trial
        sub-01_rest.edf       any file mne.io.read_raw reads (EDF, BDF, FIF, BrainVision, EEGLAB .set, ...)
        ...

``labels.csv`` columns: ``file`` (path relative to ``root``), ``subject`` (1-based), ``session``
(1-based, default 1), ``trial`` (1-based within the session), optional ``onset`` and ``duration``
(seconds from the recording's first sample), optional ``event`` (an annotation description, or an
integer event code with ``events``), optional ``events`` (an events file ``mne.read_events`` reads,
relative to ``root``), and the label columns. A row with an onset is that segment; the rows of a
file without onsets take the file's annotations (those described ``event`` when given; events of
the events file with that code) in time order, one each, in ``(session, trial)`` order; a file
without annotations gives one trial, the whole recording. A trial lasts its ``duration``, else its
annotation's, else the ``duration`` argument.

Labels: ``ratings={"valence": (1, 9)}`` names rated columns and their scale (normalised to
[-1, 1] downstream, binary split at the centre); ``classes=["state"]`` (or ``{"state": ["open",
"closed"]}`` to fix the order) names class columns, coded 0..K-1 in ``Recording.label_classes``
order. With neither, every other column is a class label.

Channels: EEG names are mapped onto the montage's standard spelling
(:func:`neuroaffect.channels.standardise_ch_names`: ``"EEG Fp1"`` -> ``Fp1``, ``"Fc5."`` ->
``FC5``, case); ``ch_names`` maps names explicitly. An EEG channel with no standard name and no
location in the file (a bipolar or reference channel such as ``"A2-A1"``), or named like an EOG,
ECG or EMG channel (``"EOG1"``), is left out of the EEG (typed ``eog``/``ecg``/``emg`` by its
name, else ``misc``), noted in
``Recording.info["channel_notes"]`` and logged. Positions come from ``montage`` (a name of
``mne.channels.make_standard_montage``) when given, else from the file's channel locations, else
from the 10-05 template by name.

Implausible samples (beyond ``eeg_limit_uv``): ``bad_samples="refuse"`` raises
:class:`~neuroaffect._utils.DatasetFormatError`; ``"repair"`` interpolates them linearly in time
(isolated spikes only, :func:`neuroaffect.io._plausible.repair_implausible`); ``"drop"`` leaves
out the trials holding them. Every change is listed in ``Recording.info["repairs"]`` /
``["dropped_trials"]``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_option, sha256_file
from ..channels import get_positions, standardise_ch_names
from ._plausible import BAD_SAMPLES, CUSTOM_EEG_LIMIT_UV, check_plausible, find_implausible, repair_implausible
from ._labels_table import LABELS_FILE, RESERVED_COLUMNS, _labels_path, read_labels_table
from .base import Recording

__all__ = ["LABELS_FILE", "RESERVED_COLUMNS", "list_subjects", "raw_from_samples", "read_custom",
           "read_labels_table"]

logger = logging.getLogger(__name__)

_OTHER_TYPES = (("eog", "eog"), ("ecg", "ecg"), ("ekg", "ecg"), ("emg", "emg"))


def list_subjects(root, labels=None) -> list[int]:
    """Subject numbers of the labels table (cheap: the CSV only)."""
    df, _ = read_labels_table(_labels_path(root, labels))
    return sorted(int(s) for s in df["subject"].unique())


def read_custom(root, labels=None, *, subjects=None, ratings=None, classes=None, montage=None, ch_names=None,
                exclude=(), duration=None, bad_samples: str = "refuse", eeg_limit_uv: float = CUSTOM_EEG_LIMIT_UV,
                dataset: str = "custom") -> list[Recording]:
    """Read a user's own recordings and their labels table into :class:`Recording` s.

    Parameters
    ----------
    root : path-like
        Folder of the recordings (the ``file`` column is relative to it).
    labels : path-like | None
        The labels table (default ``root / "labels.csv"``; see the module docstring).
    subjects : sequence of int | None
        Subjects to read (default all in the table).
    ratings : dict of str -> (float, float) | None
        Rated label columns and their scale, e.g. ``{"valence": (1, 9)}``.
    classes : sequence of str | dict of str -> sequence of str | None
        Class label columns (a dict fixes the class order). With neither ``ratings`` nor
        ``classes``, every non-reserved column is a class label.
    montage : str | None
        An ``mne.channels.make_standard_montage`` name (e.g. ``"standard_1005"``) giving the
        positions and the standard names; None: the file's locations, else the 10-05 template.
    ch_names : dict of str -> str | None
        Explicit ``{recorded name: standard name}``.
    exclude : sequence of str
        Channels to leave out (a dead or broken electrode), by recorded or standard name; they are
        marked bad, as ``mne.io.read_raw(..., exclude=...)`` would leave them out.
    duration : float | None
        Trial length in seconds for trials whose row and annotation give none.
    bad_samples : {"refuse", "repair", "drop"}
        What to do with EEG samples beyond ``eeg_limit_uv`` (see the module docstring).
    eeg_limit_uv : float
        Largest plausible |EEG sample| in microvolts (default 300 mV: any amplifier; an Emotiv
        EPOC's range is about 8.4 mV, so 1e4 suits it).
    dataset : str
        The recordings' dataset name (default ``"custom"``).

    Returns
    -------
    recordings : list of Recording
        One per subject, sorted: ``eeg`` (n_trials, n_chans, n_times) in volts (a list when trial
        lengths differ), trials in ``(session, trial)`` order, ``labels`` (ratings as recorded;
        classes as codes into ``label_classes``), ``label_range``, ``ch_pos`` (None when the names
        give the positions), ``fnames`` (recordings and the table), ``info`` with
        ``channel_notes``, ``excluded``, ``repairs``, ``dropped_trials``, ``renamed`` and ``sha256``.

    Raises
    ------
    DatasetFormatError
        A file is missing or unreadable, or disagrees with the table, the other files of its
        subject, or the plausible range; the message names the file, the expectation and what
        was found.
    """
    check_option("bad_samples", bad_samples, BAD_SAMPLES)
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(root, "a folder of recordings with a labels table", "no such folder")
    table_path = _labels_path(root, labels)
    df, spec = read_labels_table(table_path, ratings, classes)
    if subjects is not None:
        wanted = [int(s) for s in subjects]
        absent = sorted(set(wanted) - set(df["subject"]))
        if absent:
            raise DatasetFormatError(table_path, f"rows of subjects {wanted}",
                                     f"none of subjects {absent} (subjects {sorted(set(df['subject']))})")
        df = df[df["subject"].isin(wanted)]
    out = []
    for subject, rows in df.groupby("subject", sort=True):
        out.append(_read_subject(root, table_path, int(subject), rows.sort_values(["session", "trial"]), spec,
                                 montage, ch_names, tuple(exclude), duration, bad_samples,
                                 float(eeg_limit_uv) * 1e-6, dataset))
    return out


def _read_raw(fname: Path):
    import mne

    if not fname.is_file():
        raise DatasetFormatError(fname, "a recording named in the labels table", "no such file")
    try:
        return mne.io.read_raw(fname, preload=True, verbose="error")
    except Exception as err:  # MNE's readers raise many types for unreadable or unknown files
        raise DatasetFormatError(fname, "a recording mne.io.read_raw reads (EDF, BDF, FIF, BrainVision, EEGLAB, ...)",
                                 f"{type(err).__name__}: {err}") from None


def _prepare_channels(raw, fname, montage, mapping):
    """Rename EEG channels to standard names, retype the others; return (eeg names, notes, renamed)."""
    import mne

    std = None
    if montage is not None:
        mont = mne.channels.make_standard_montage(montage)
        std = mont.ch_names
    eeg = [raw.ch_names[k] for k in mne.pick_types(raw.info, eeg=True, exclude="bads")]
    rename, unmatched = standardise_ch_names(eeg, std, mapping)
    notes, retype = [], {}
    for name in unmatched:
        loc = raw.info["chs"][raw.ch_names.index(name)]["loc"][:3]
        kind = next((t for key, t in _OTHER_TYPES if key in name.lower()), None)
        if kind is None and montage is None and np.isfinite(loc).all() and np.abs(loc).sum() > 0:
            rename[name] = name  # an electrode positioned by the file
            continue
        retype[name] = kind or "misc"
        notes.append(f"{name!r}: " + (f"named like an {kind.upper()} channel" if kind else
                                      "no standard electrode name and no location")
                     + f"; read as {kind or 'misc'}, not EEG")
    targets = list(rename.values())
    dup = sorted({t for t in targets if targets.count(t) > 1})
    if dup:
        raise DatasetFormatError(fname, "one channel per electrode", f"several channels named {dup} once mapped "
                                 f"({ {k: v for k, v in rename.items() if v in dup} })")
    if retype:
        raw.set_channel_types(retype, on_unit_change="ignore", verbose="error")
    clash = [v for k, v in rename.items() if v != k and v in raw.ch_names and v not in rename]
    if clash:
        raise DatasetFormatError(fname, "standard names not already taken by a non-EEG channel", f"{clash}")
    raw.rename_channels({k: v for k, v in rename.items() if k != v}, verbose="error")
    if montage is not None:
        raw.set_montage(mont, on_missing="ignore", verbose="error")
    picks = mne.pick_types(raw.info, eeg=True, exclude="bads")
    names = [raw.ch_names[k] for k in picks]
    if not names:
        raise DatasetFormatError(fname, "at least one EEG channel with a standard 10-05 name or a location (else "
                                 "pass montage=, or ch_names= to rename)", f"channels {raw.ch_names} of types "
                                 f"{sorted(set(raw.get_channel_types()))}")
    return names, notes, {k: v for k, v in rename.items() if k != v}


def _positions(raw, names, fname):
    """(n_chans, 3) positions from the file's locations (template for the rest), or None."""
    locs = np.array([raw.info["chs"][raw.ch_names.index(n)]["loc"][:3] for n in names], dtype=np.float64)
    has = np.isfinite(locs).all(axis=1) & (np.abs(locs).sum(axis=1) > 0)
    missing = [n for n, h in zip(names, has) if not h]
    if missing:
        locs[~has] = get_positions(missing, fname=fname)
    return locs if has.any() else None


def _segments(raw, fname, rows, duration, root):
    """(onset, stop) sample of each row's trial (rows in (session, trial) order)."""
    import mne

    sfreq, n_total = raw.info["sfreq"], raw.n_times
    out = [None] * len(rows)
    has_onset = rows["onset"].notna().to_numpy() if "onset" in rows else np.zeros(len(rows), bool)
    dur_col = rows["duration"].to_numpy() if "duration" in rows else np.full(len(rows), np.nan)
    starts, lengths = np.full(len(rows), np.nan), dur_col.astype(float).copy()
    if has_onset.any():
        starts[has_onset] = rows["onset"].to_numpy()[has_onset]
    rest = np.flatnonzero(~has_onset)
    if rest.size:
        event = rows["event"].to_numpy()[rest] if "event" in rows else np.full(rest.size, None)
        evfile = rows["events"].to_numpy()[rest] if "events" in rows else np.full(rest.size, None)
        for key in dict.fromkeys(zip(map(_text, event), map(_text, evfile))):
            idx = rest[[(_text(e), _text(f)) == key for e, f in zip(event, evfile)]]
            desc, events_name = key
            if events_name is not None:
                efile = Path(root) / events_name
                try:
                    ev = mne.read_events(efile, verbose="error")
                except Exception as err:
                    raise DatasetFormatError(efile, "an events file mne.read_events reads",
                                             f"{type(err).__name__}: {err}") from None
                if desc is not None:
                    if not re.fullmatch(r"-?\d+", desc):
                        raise DatasetFormatError(efile, "integer event codes in the 'event' column",
                                                 f"{desc!r}")
                    ev = ev[ev[:, 2] == int(desc)]
                on = (ev[:, 0] - raw.first_samp) / sfreq
                du = np.full(on.size, np.nan)
                what = f"events{'' if desc is None else f' with code {desc}'} in {efile.name}"
            else:
                ann = raw.annotations
                keep = [not d.upper().startswith(("BAD", "EDGE")) and (desc is None or d == desc)
                        for d in ann.description]
                on = np.asarray(ann.onset)[keep] - raw.first_time
                du = np.asarray(ann.duration, dtype=float)[keep]
                du[du <= 0] = np.nan
                what = f"annotations{'' if desc is None else f' described {desc!r}'}"
                if not len(ann) and desc is None:
                    on, du, what = np.array([0.0]), np.array([n_total / sfreq]), "whole recording (no annotations)"
            order = np.argsort(on, kind="stable")
            on, du = on[order], du[order]
            if on.size != idx.size:
                raise DatasetFormatError(fname, f"{idx.size} trial(s) (rows of the labels table without an onset"
                                         f"{'' if desc is None else f', event {desc!r}'})", f"{on.size} {what}")
            starts[idx] = on
            lengths[idx] = np.where(np.isnan(lengths[idx]), du, lengths[idx])
    for i in range(len(rows)):
        length = lengths[i] if np.isfinite(lengths[i]) else duration
        line = int(rows["row"].iloc[i])
        if length is None:
            raise DatasetFormatError(fname, f"a trial duration for line {line} of the labels table (a 'duration' "
                                     "column, annotations with a duration, or the duration argument)", "none")
        a = int(round(starts[i] * sfreq))
        b = a + int(round(float(length) * sfreq))
        if b > n_total:
            raise DatasetFormatError(fname, f"the trial of line {line} ({starts[i]:g} s + {float(length):g} s) "
                                     "inside the recording", f"a recording of {n_total / sfreq:g} s")
        out[i] = (a, b)
    return out


def _text(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()


def _read_subject(root, table_path, subject, rows, spec, montage, mapping, exclude, duration, bad_samples, limit,
                  dataset):
    trials, ids, sessions, keep_rows, notes, repairs, dropped, files, renamed = [], [], [], [], [], [], [], [], {}
    ref = None  # (sfreq, names, positions) of the subject's first file
    excluded = set()
    sha = {}
    for fname_rel, frows in rows.groupby("file", sort=False):
        fname = root / str(fname_rel)
        raw = _read_raw(fname)
        if exclude:
            std = standardise_ch_names(raw.ch_names)[0]
            gone = [n for n in raw.ch_names if (n in exclude or std.get(n) in exclude) and n not in raw.info["bads"]]
            raw.info["bads"] += gone
            excluded.update(gone)
        names, file_notes, file_renamed = _prepare_channels(raw, fname, montage, mapping)
        notes += [f"{fname.name}: {n}" for n in file_notes]
        renamed.update(file_renamed)
        for n in file_notes:
            logger.warning("%s: %s", fname, n)
        pos = _positions(raw, names, fname)
        layout = (float(raw.info["sfreq"]), names)
        if ref is None:
            ref = layout + (pos,)
        elif layout != ref[:2]:
            raise DatasetFormatError(fname, f"the sampling rate and EEG channels of subject {subject}'s other files "
                                     f"({ref[0]:g} Hz, {list(ref[1])})", f"{layout[0]:g} Hz, {names}")
        x = raw.get_data(picks=names)  # (n_chans, n_times), volts
        if bad_samples == "repair" and find_implausible(x, limit).size:
            x, changes = repair_implausible(x, limit, names, fname)
            repairs += changes
            logger.warning("%s: %d implausible sample(s) beyond %g uV interpolated", fname, len(changes), limit * 1e6)
        for (a, b), (_, row) in zip(_segments(raw, fname, frows, duration, root), frows.iterrows()):
            seg = x[:, a:b]
            label = f"the trial of line {int(row['row'])} of {Path(table_path).name}"
            if bad_samples == "drop" and find_implausible(seg, limit).size:
                dropped.append({"file": str(fname), "line": int(row["row"]), "session": int(row["session"]),
                                "trial": int(row["trial"]), "n_samples": int(find_implausible(seg, limit).shape[0])})
                logger.warning("%s: %s dropped (samples beyond %g uV)", fname, label, limit * 1e6)
                continue
            check_plausible(seg * 1e6, limit * 1e6, "uV", "EEG", names, fname, [label])
            trials.append(seg)
            ids.append(int(row["trial"]))
            sessions.append(int(row["session"]))
            keep_rows.append(row)
        files.append(fname)
        sha[str(fname)] = sha256_file(fname)
    if not trials:
        raise DatasetFormatError(table_path, f"at least one plausible trial of subject {subject}",
                                 f"all {len(dropped)} dropped for samples beyond {limit * 1e6:g} uV")
    order = np.lexsort((ids, sessions))  # (session, trial) order across files
    trials, keep_rows = [trials[i] for i in order], [keep_rows[i] for i in order]
    ids, sessions = [ids[i] for i in order], [sessions[i] for i in order]
    equal = len({t.shape[1] for t in trials}) == 1
    labels = {n: np.array([r[n] for r in keep_rows], dtype=np.float64)
              for n in list(spec["ratings"]) + list(spec["classes"])}
    return Recording(
        dataset=dataset, subject=subject, eeg=np.stack(trials) if equal else trials, sfreq=ref[0],
        ch_names=tuple(ref[1]), labels=labels, label_range=dict(spec["ratings"]),
        label_classes=dict(spec["classes"]), trial_ids=np.array(ids), session_ids=np.array(sessions),
        fnames=files + [Path(table_path)], ch_pos=ref[2],
        info={"channel_notes": notes, "excluded": sorted(excluded), "repairs": repairs, "dropped_trials": dropped, "renamed": renamed,
              "labels_file": str(table_path), "sha256": sha},
    )


def raw_from_samples(fname, sfreq: float, *, unit: str = "uV", annotate=(), ch_names=None):
    """A table of samples (ARFF or CSV, one row per sample, one column per channel) as ``mne.io.RawArray``.

    For recordings MNE does not read (e.g. UCI's EEG Eye State ARFF). Save the result
    (``raw.save("rec_raw.fif")``) and list that file in the labels table.

    Parameters
    ----------
    fname : path-like
        ``.arff`` (read with ``scipy.io.arff.loadarff``) or ``.csv`` (header row of names).
    sfreq : float
        Sampling rate in Hz (a table of samples does not hold it).
    unit : {"V", "mV", "uV"}
        Unit of the stored values (converted to volts).
    annotate : sequence of str
        Columns holding a per-sample state (e.g. ``"eyeDetection"``): not channels, but
        annotations, one per run of equal values, described ``"<column>/<value>"``.
    ch_names : sequence of str | None
        Channels to keep (default every other numeric column).

    Returns
    -------
    raw : mne.io.RawArray
        EEG channels in volts, with the annotations.
    """
    import mne
    import pandas as pd

    fname = Path(fname)
    scale = {"V": 1.0, "mV": 1e-3, "uV": 1e-6}[check_option("unit", unit, ("V", "mV", "uV"))]
    if not fname.is_file():
        raise DatasetFormatError(fname, "a table of samples (ARFF or CSV)", "no such file")
    try:
        if fname.suffix.lower() == ".arff":
            from scipy.io import arff

            data, _ = arff.loadarff(fname)
            df = pd.DataFrame(data)
            for c in df.columns:
                if df[c].dtype == object:
                    df[c] = df[c].str.decode("utf-8")
        else:
            df = pd.read_csv(fname)
    except Exception as err:
        raise DatasetFormatError(fname, "a table of samples (ARFF or CSV)", f"{type(err).__name__}: {err}") from None
    absent = [c for c in list(annotate) + list(ch_names or []) if c not in df.columns]
    if absent:
        raise DatasetFormatError(fname, f"columns {absent}", f"columns {list(df.columns)}")
    names = list(ch_names) if ch_names else [c for c in df.columns if c not in annotate
                                             and pd.api.types.is_numeric_dtype(df[c])]
    x = df[names].to_numpy(dtype=np.float64).T * scale
    raw = mne.io.RawArray(x, mne.create_info(names, float(sfreq), "eeg"), verbose="error")
    onsets, durations, descs = [], [], []
    for col in annotate:
        v = df[col].astype(str).to_numpy()
        edges = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        stops = np.r_[edges[1:], v.size]
        onsets += list(edges / sfreq)
        durations += list((stops - edges) / sfreq)
        descs += [f"{col}/{v[e]}" for e in edges]
    if onsets:
        raw.set_annotations(mne.Annotations(onsets, durations, descs))
    return raw
