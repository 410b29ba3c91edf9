"""Simulated MAHNOB-HCI emotion sessions: ``Sessions/<n>/`` with a BDF and ``session.xml``.

Written layout (what :func:`neuroaffect.io.mahnob.read_mahnob` and public MAHNOB code read)::

    out/mahnob/Sessions/
        2/Part_1_S_Trial1_emotion.bdf     BioSemi BDF (24 bit), 256 Hz, 1-s data records,
                                          47 channels: 32 EEG (Geneva order), EXG1-8, GSR1,
                                          GSR2, Erg1, Erg2, Resp, Temp, Status
        2/session.xml                     <session cutLenSec cutNr feltArsl feltCtrl feltEmo
                                                   feltPred feltVlnc isStim mediaFile sessionId>
                                              <subject id="1" age=".." gender=".."/>
                                              <track filename="Part_1_S_Trial1_emotion.bdf" .../>
                                          </session>
        4/...

Session folders are numbered 2, 4, 6, ... through all participants (participant ``p``'s
``j``-th session is folder ``2 ((p - 1) n_sessions + j)``). Each recording is a pre-stimulus
margin, the clip and a post-stimulus margin, whole seconds in all. The Status channel carries
the BioSemi system bits 16 and 20 (``0x110000``) throughout, plus two pulses of four samples
(codes 1 and 2: clip onset and offset) - hence ``mask=0xFFFF`` when reading. In a few sessions
per participant the felt* attributes are absent (unlabeled sessions, as in the real data); their
EEG still follows the participant's (unreported) state, which the sidecar records.

Signals (:mod:`neuroaffect.simulate.eeg`, :mod:`neuroaffect.simulate.peripheral`): raw EEG in
microvolts (1/f background, rhythms following the ratings, blinks, muscle, pops, slow drift,
50 Hz mains; not filtered);
ECG on EXG1-3 (one heart seen by three leads, uV); EXG4-8, GSR2, Erg1 and Erg2 unused inputs
carrying a little noise; GSR1 skin resistance in Ohm; Resp the respiration belt in uV (breathing
amplitude about 1 mV, our scaling); Temp in degC. Our choices: the EEG of the margins is
simulated without stimulus effect and joined to the clip by 0.5-s equal-power cross-fades inside
the clip; ECG, GSR, respiration and temperature run continuously through the whole recording
with the session's state. All sessions of a participant are simulated in one call per signal at
the longest length and cropped, so that no two sessions share blink or heart-beat timings.

Scales:

=====  ============  ========  =========================  ==========
scale  participants  sessions  clip length                margins
=====  ============  ========  =========================  ==========
tiny   2             3         5-8 s                      3 s
demo   4             8         20-40 s                    10 s
full   27            20        35-117 s (published range) 30 s (real)
=====  ============  ========  =========================  ==========

Clip lengths within the range and the media-file names are ours.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._progress import progress_range
from .._utils import atomic_path
from ..channels import MAHNOB_CH_NAMES, MAHNOB_EEG_CH_NAMES, MAHNOB_SFREQ
from ..io.mahnob import FELT_ATTRIBUTES, SESSIONS_DIR, XML_NAME
from ..labels import MAHNOB_LABELS, normalise_ratings
from ._artefacts import slow_drift
from ._write import FADE_S, Scale, crossfade_join, subject_rng, write_sidecar
from .eeg import simulate_eeg
from .effects import draw_states, draw_subject_effects
from .gstar import gstar
from .peripheral import simulate_peripheral

__all__ = ["ROOT_NAME", "SCALES", "MahnobScale", "simulate_subject", "write", "write_bdf",
           "write_session_xml"]

ROOT_NAME = "mahnob"
STATUS_SYSTEM_BITS = 0x110000  # "new epoch" (16) and "CMS in range" (20)
ONSET_CODE, OFFSET_CODE = 1, 2
PULSE_SAMPLES = 4
_RESP_UV = 1000.0  # uV per arbitrary unit of the simulated breathing wave
_ECG_LEAD_GAIN = (1.0, 0.7, 0.85)  # EXG1 (upper right chest), EXG2 (upper left), EXG3 (abdomen)

# Physical unit and range of each non-EEG channel (EEG: uV, +-262144 as BioSemi).
_UV_RANGE = (-262144, 262143)
_CHANNEL_UNITS = {
    **{f"EXG{i}": ("uV", _UV_RANGE) for i in range(1, 9)},
    "GSR1": ("Ohm", (0, 16777215)), "GSR2": ("Ohm", (0, 16777215)),
    "Erg1": ("uV", _UV_RANGE), "Erg2": ("uV", _UV_RANGE),
    "Resp": ("uV", _UV_RANGE), "Temp": ("degC", (-100, 100)),
}
_DIGITAL = (-8388608, 8388607)


@dataclass(frozen=True)
class MahnobScale(Scale):
    """Size of a simulated MAHNOB-HCI copy.

    Attributes
    ----------
    n_subjects : int
        Participants.
    n_sessions : int
        Emotion sessions (clips) per participant (20 in the real experiment).
    clip_s : (int, int)
        Inclusive range of the clip lengths in seconds.
    margin_s : int
        Recording before and after the clip in seconds (about 30 in the real files).
    n_unlabeled : int
        Sessions per participant written without felt* attributes.
    """

    n_sessions: int
    clip_s: tuple
    margin_s: int
    n_unlabeled: int


SCALES = MahnobScale.table(
    tiny=MahnobScale(n_subjects=2, n_sessions=3, clip_s=(5, 8), margin_s=3, n_unlabeled=1),
    demo=MahnobScale(n_subjects=4, n_sessions=8, clip_s=(20, 40), margin_s=10, n_unlabeled=1),
    full=MahnobScale(n_subjects=27, n_sessions=20, clip_s=(35, 117), margin_s=30, n_unlabeled=1),
)

#: Media files of the 20 clips (names ours, in the style of the real ``mediaFile`` values).
MEDIA_FILES = tuple(f"{n}.avi" for n in (
    69, 55, 58, 52, 79, 73, 90, 107, 146, 30, 138, 111, 80, 53, 10, 13, 18, 19, 20, 23))


def _felt_emotion(rng, valence: int, arousal: int) -> int:
    """A plausible feltEmo code for a rating pair (0 neutral, 1 anger, 2 disgust, 3 fear,
    4 joy, 5 sadness, 6 surprise, 11 amusement, 12 anxiety)."""
    if valence >= 6:
        return int(rng.choice([4, 11])) if arousal >= 5 else 0
    if valence <= 4:
        return int(rng.choice([1, 2, 3, 12])) if arousal >= 6 else 5
    return 6 if arousal >= 7 else 0


def simulate_subject(seed: int, subject: int, scale: str = "tiny", snr: float | None = None) -> dict:
    """Simulate one MAHNOB-HCI participant; depends only on (seed, subject, scale, snr).

    Returns
    -------
    subj : dict
        ``signals`` (list of n_sessions arrays, shape (46, n_times_j): the BDF channels but
        Status, in file units), ``onsets`` / ``offsets`` (samples), ``ratings`` (int, shape
        (n_sessions, 4): valence, arousal, control, predictability, 1-9), ``states`` (float64, shape
        (n_sessions, 3): the continuous normalised valence, arousal, control that drove the signals;
        ``ratings = rint(5 + 4 * states)``), ``labeled`` (bool,
        shape (n_sessions,)), ``felt_emotion`` (int), ``clips`` (indices into
        :data:`MEDIA_FILES`), ``clip_s`` (int seconds), ``age``, ``gender`` and ``effects``.
    """
    sc = SCALES[scale]
    fs = int(MAHNOB_SFREQ)
    rng = subject_rng(seed, "mahnob", subject)
    effects = draw_subject_effects(rng, subject, snr=snr)
    n = sc.n_sessions
    ratings, states = draw_states(rng, n, "mahnob")  # ratings = rint(5 + 4 * states)
    clips = rng.permutation(len(MEDIA_FILES))[:n]
    clip_s = rng.integers(sc.clip_s[0], sc.clip_s[1] + 1, n)
    labeled = np.ones(n, dtype=bool)
    labeled[rng.choice(n, size=min(sc.n_unlabeled, n), replace=False)] = False
    felt = np.array([_felt_emotion(rng, v, a) for v, a in ratings[:, :2]])
    age, gender = int(rng.integers(19, 41)), str(rng.choice(["female", "male"]))

    n_fade, n_margin = int(FADE_S * fs), sc.margin_s * fs
    n_clip = clip_s * fs
    n_total = n_clip + 2 * n_margin
    eeg_names = MAHNOB_EEG_CH_NAMES
    margins = simulate_eeg(rng, np.full((2 * n, 3), np.nan), eeg_names, fs, n_margin + n_fade, effects)
    clip_eeg = simulate_eeg(rng, states, eeg_names, fs, int(n_clip.max()), effects)
    ecg = simulate_peripheral(rng, states, "ecg", fs, int(n_total.max()), effects)
    gsr = simulate_peripheral(rng, states, "gsr", fs, int(n_total.max()), effects)
    resp = _RESP_UV * simulate_peripheral(rng, states, "resp", fs, int(n_total.max()), effects)
    temp = simulate_peripheral(rng, states, "temp", fs, int(n_total.max()), effects)

    row = {name: i for i, name in enumerate(MAHNOB_CH_NAMES)}
    signals, onsets, offsets = [], [], []
    for j in range(n):
        T = int(n_total[j])
        # The cross-fades fall on the clip's first and last 0.5 s; the margins stay free of it.
        eeg = crossfade_join(crossfade_join(margins[j], clip_eeg[j, :, :n_clip[j]], n_fade),
                             margins[n + j], n_fade)
        eeg += slow_drift(rng, len(eeg_names), T, fs)  # unfiltered: electrodes drift
        sig = np.empty((len(MAHNOB_CH_NAMES), T))
        sig[:len(eeg_names)] = eeg
        for i, gain in enumerate(_ECG_LEAD_GAIN):
            sig[row[f"EXG{i + 1}"]] = gain * ecg[j, :T] + rng.normal(0.0, 5.0, T)
        for name in ("EXG4", "EXG5", "EXG6", "EXG7", "EXG8", "Erg1", "Erg2"):
            sig[row[name]] = rng.normal(0.0, 2.0, T)
        sig[row["GSR1"]] = gsr[j, :T]
        sig[row["GSR2"]] = rng.normal(0.0, 2.0, T) + 5.0e5
        sig[row["Resp"]] = resp[j, :T]
        sig[row["Temp"]] = temp[j, :T]
        signals.append(sig)
        onsets.append(n_margin)
        offsets.append(n_margin + int(n_clip[j]))
    return {
        "signals": signals, "onsets": np.array(onsets), "offsets": np.array(offsets),
        "ratings": ratings, "states": states, "labeled": labeled, "felt_emotion": felt, "clips": clips,
        "clip_s": clip_s, "age": age, "gender": gender, "effects": effects,
    }


def write_bdf(fname, ch_names, signals: np.ndarray, units, ranges, sfreq: float, status: np.ndarray,
              start: datetime.datetime) -> Path:
    """Write a BioSemi BDF (24-bit) with a trailing ``Status`` channel, atomically.

    Parameters
    ----------
    fname : path-like
    ch_names : sequence of str, length n_chans
    signals : ndarray, shape (n_chans, n_times)
        Physical values; ``n_times`` must be a whole number of seconds.
    units : sequence of str, length n_chans
        Physical dimension of each channel (``"uV"``, ``"Ohm"``, ``"degC"``).
    ranges : sequence of (float, float), length n_chans
        Physical minimum and maximum of each channel (mapped onto the 24-bit range).
    sfreq : float
        Sampling rate in Hz (one data record per second).
    status : ndarray of int, shape (n_times,)
        Status word per sample (trigger code in bits 0-15, system bits above).
    start : datetime.datetime
        Recording start written in the header.
    """
    import pyedflib

    n_times = signals.shape[1]
    if n_times % int(sfreq):
        raise ValueError(f"{fname}: BDF data must be whole seconds, got {n_times} samples at {sfreq} Hz")
    for name, sig, (lo, hi) in zip(ch_names, signals, ranges):
        if sig.min() < lo or sig.max() > hi:
            raise ValueError(f"{fname}: channel {name} spans [{sig.min():g}, {sig.max():g}], "
                             f"outside its physical range [{lo:g}, {hi:g}]")
    headers = [
        dict(label=name, dimension=unit, sample_frequency=sfreq, physical_min=lo, physical_max=hi,
             digital_min=_DIGITAL[0], digital_max=_DIGITAL[1], transducer="Active Electrode",
             prefilter="HP:DC, LP:52 Hz")
        for name, unit, (lo, hi) in zip(ch_names, units, ranges)
    ]
    headers.append(dict(label="Status", dimension="Boolean", sample_frequency=sfreq,
                        physical_min=_DIGITAL[0], physical_max=_DIGITAL[1],
                        digital_min=_DIGITAL[0], digital_max=_DIGITAL[1],
                        transducer="Triggers and Status", prefilter="No filtering"))
    with atomic_path(fname) as tmp:
        w = pyedflib.EdfWriter(str(tmp), len(headers), file_type=pyedflib.FILETYPE_BDF)
        try:
            w.setSignalHeaders(headers)
            w.setStartdatetime(start)
            w.setEquipment("BioSemi_ActiveTwo")
            w.writeSamples([np.ascontiguousarray(s, dtype=np.float64) for s in signals]
                           + [np.asarray(status, dtype=np.float64)])
        finally:
            w.close()
    return Path(fname)


def write_session_xml(fname, attributes: dict, subject: dict, bdf_name: str) -> Path:
    """Write a ``session.xml``: root ``<session>`` attributes, ``<subject>`` and ``<track>``."""
    root = ET.Element("session", {k: str(v) for k, v in attributes.items()})
    ET.SubElement(root, "subject", {k: str(v) for k, v in subject.items()})
    ET.SubElement(root, "track", {"type": "Physiological", "filename": bdf_name})
    tree = ET.ElementTree(root)
    ET.indent(tree)
    with atomic_path(fname) as tmp:
        tree.write(tmp, encoding="utf-8", xml_declaration=True)
    return Path(fname)


def write(out, scale: str = "demo", seed: int = 0, snr: float | None = None) -> Path:
    """Write a simulated MAHNOB-HCI copy below ``out``; return ``out/mahnob``.

    One participant is generated and written at a time; every file is written to a temporary
    name and renamed when complete.
    """
    sc = SCALES[scale]
    fs = int(MAHNOB_SFREQ)
    root = Path(out) / ROOT_NAME
    units = [("uV", _UV_RANGE)] * len(MAHNOB_EEG_CH_NAMES) + [
        _CHANNEL_UNITS[c] for c in MAHNOB_CH_NAMES[len(MAHNOB_EEG_CH_NAMES):]]
    sidecar = []
    for subject in progress_range(1, sc.n_subjects + 1, "simulate mahnob"):
        subj = simulate_subject(seed, subject, scale, snr)
        folders = []
        for j, sig in enumerate(subj["signals"]):
            folder = 2 * ((subject - 1) * sc.n_sessions + j + 1)
            trial = j + 1
            bdf_name = f"Part_{subject}_S_Trial{trial}_emotion.bdf"
            status = np.full(sig.shape[1], STATUS_SYSTEM_BITS, dtype=np.int64)
            for code, at in ((ONSET_CODE, subj["onsets"][j]), (OFFSET_CODE, subj["offsets"][j])):
                status[at:at + PULSE_SAMPLES] |= code
            start = datetime.datetime(2009, 6, 1, 9, 0) + datetime.timedelta(
                days=subject - 1, minutes=4 * j)
            write_bdf(root / SESSIONS_DIR / str(folder) / bdf_name, MAHNOB_CH_NAMES, sig,
                      [u for u, _ in units], [r for _, r in units], fs, status, start)
            attrs = {"cutLenSec": f"{subj['clip_s'][j]:.2f}", "cutNr": int(subj["clips"][j]) + 1}
            if subj["labeled"][j]:
                felt = {FELT_ATTRIBUTES[name]: int(x) for name, x in zip(MAHNOB_LABELS, subj["ratings"][j])}
                felt["feltEmo"] = int(subj["felt_emotion"][j])
                attrs.update(sorted(felt.items()))  # alphabetical, as in the real files
            attrs.update(isStim=1, mediaFile=MEDIA_FILES[subj["clips"][j]], sessionId=folder)
            write_session_xml(root / SESSIONS_DIR / str(folder) / XML_NAME, attrs,
                              {"id": subject, "age": subj["age"], "gender": subj["gender"]}, bdf_name)
            folders.append(folder)
        sidecar.append({
            **subj["effects"].to_dict(), "subject": subject,
            "ratings": subj["ratings"].tolist(),
            "ratings_normalised": normalise_ratings(subj["ratings"], "mahnob").tolist(),
            "states": subj["states"].tolist(), "gstar": gstar(subj["states"][:, :2]).tolist(),
            "labeled": subj["labeled"].tolist(), "session_folders": folders,
            "trials": list(range(1, sc.n_sessions + 1)),
        })
        del subj
    write_sidecar(
        out, "mahnob", scale, seed, sidecar, snr=snr, sfreq=MAHNOB_SFREQ,
        rating_columns=list(MAHNOB_LABELS),
        rating_attributes=[FELT_ATTRIBUTES[name] for name in MAHNOB_LABELS],
    )
    return root
