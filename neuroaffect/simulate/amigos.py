"""Simulated AMIGOS: one MATLAB file per participant in the layout of the preprocessed release.

Written layout (MATLAB v5, compressed, cells as object arrays)::

    out/amigos/Data_preprocessed_matlab/Data_Preprocessed_PNN/Data_Preprocessed_PNN.mat
        joined_data            {1 x 20 cell}: (n_samples x 17) per video: 14 EEG (uV), 2 ECG, 1 GSR, 128 Hz
        labels_selfassessment  {1 x 20 cell}: (1 x 12) arousal, valence, dominance, liking,
                               familiarity (1-9), 7 basic-emotion flags (0/1)
        labels_ext_annotation  {1 x 20 cell}: (n_windows x 3) window number, valence, arousal
                               (one row per 20 s window, values in [-1, 1])
        VideoIDs               {1 x 20 cell} of char: 16 short ids (shuffled per participant), then
                               N1, P1, B1, U1

The EEG comes from the Emotiv device family of the EEG simulator, finished as the release is
described (band-passed 4-45 Hz, no mains line, no blinks); ECG (two leads of one heart, uV) and
GSR (skin conductance, uS) from the peripheral simulator. The participants listed in
``missing_long`` of a scale did not watch the long videos: their cells 17-20 are empty, as in
the real release.

Scales (20 videos always; the format has 20):

=====  ==========  ===============  ===============  ==============
scale  subjects    short videos     long videos      no long videos
=====  ==========  ===============  ===============  ==============
tiny   2           3-6 s            8-10 s           participant 2
demo   4           20-35 s          60-90 s          participant 4
full   40          51-150 s         14-23 min        8, 24, 28
=====  ==========  ===============  ===============  ==============

The full lengths span the published ranges; the individual values are ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .._progress import progress_range
from ..channels import AMIGOS_CH_NAMES, AMIGOS_SFREQ
from ..io.amigos import (AMIGOS_DIR, AMIGOS_EMOTIONS, AMIGOS_LONG_VIDEOS, AMIGOS_SHORT_VIDEOS, amigos_fname)
from ..labels import normalise_ratings
from ._write import Scale, savemat_atomic, write_sidecar
from .eeg import simulate_eeg
from .effects import draw_states, draw_subject_effects
from .gstar import gstar
from .peripheral import simulate_peripheral

__all__ = ["ROOT_NAME", "SCALES", "AmigosScale", "write", "simulate_subject", "make_amigos_mat",
           "write_amigos_mat"]

ROOT_NAME = "amigos"
#: Short-video lengths of the full scale in seconds (published range about 51-150 s; values ours).
FULL_SHORT_S = (97, 122, 51, 150, 86, 64, 113, 73, 138, 95, 66, 102, 129, 80, 57, 118)
#: Long-video lengths of the full scale in seconds (about 14-23 min; values ours).
FULL_LONG_S = (1404, 1140, 1380, 840)
#: Number mixed into each participant's seed (the other writers' ids are below 10).
_DATASET_ID = 11
#: How the release finishes the EEG: band-passed at 4-45 Hz, no mains line, no blinks.
EEG_FINISH = MappingProxyType({"passband": (4.0, 45.0), "line_freq": None, "blinks": False})
_EXT_WINDOW_S = 20.0


@dataclass(frozen=True)
class AmigosScale(Scale):
    """Size of a simulated AMIGOS copy.

    Attributes
    ----------
    n_subjects : int
    short_s : tuple of int, length 16
        Length of each short video in seconds (cells 1-16).
    long_s : tuple of int, length 4
        Length of each long video in seconds (cells 17-20).
    missing_long : tuple of int
        Participants whose long-video cells are empty.
    """

    short_s: tuple
    long_s: tuple
    missing_long: tuple


SCALES = AmigosScale.table(
    tiny=AmigosScale(2, tuple(3 + s % 4 for s in FULL_SHORT_S), (8, 9, 10, 8), (2,)),
    demo=AmigosScale(4, tuple(20 + round((s - 51) / 7) for s in FULL_SHORT_S), (60, 75, 90, 66), (4,)),
    full=AmigosScale(40, FULL_SHORT_S, FULL_LONG_S, (8, 24, 28)),
)


def _emotion_flags(rng, vad: np.ndarray) -> np.ndarray:
    """One basic emotion per video from its valence/arousal, shape (n_videos, 7), 0/1."""
    flags = np.zeros((vad.shape[0], len(AMIGOS_EMOTIONS)))
    for k, (v, a) in enumerate(vad[:, :2]):
        if abs(v) < 0.2 and abs(a) < 0.2:
            name = "neutral"
        elif v >= 0:
            name = "happiness" if a < 0.5 else "surprise"
        else:
            name = ("sadness", "disgust", "fear", "anger")[int(rng.integers(4)) if a >= 0 else 0]
        flags[k, AMIGOS_EMOTIONS.index(name)] = 1.0
    return flags


def _ext_annotation(rng, vad_row: np.ndarray, n_times: int) -> np.ndarray:
    """(n_windows, 3): window number, valence, arousal in [-1, 1], one row per 20 s window."""
    n = max(1, int(n_times // (_EXT_WINDOW_S * AMIGOS_SFREQ)))
    va = np.clip(vad_row[:2] + rng.normal(0.0, 0.2, size=(n, 2)), -1.0, 1.0)
    return np.column_stack([np.arange(1, n + 1, dtype=np.float64), va])


def simulate_subject(seed: int, subject: int, scale: str = "tiny", snr: float | None = None) -> dict:
    """Simulate one AMIGOS participant; depends only on (seed, subject, scale, snr).

    Returns
    -------
    subj : dict
        ``joined`` (list of 20 arrays, shape (n_samples_k, 17), samples x columns as stored,
        an empty (0, 0) array for a video not watched), ``self`` (ndarray, shape (20, 12),
        as ``labels_selfassessment``; NaN rows for videos not watched), ``ext`` (list of 20
        arrays, shape (n_windows_k, 3)), ``video_ids`` (list of 20 str), ``states`` (shape (20, 3), the
        continuous normalised valence, arousal, dominance that drove the signals; the ratings are
        their rounding on the scale), ``vad`` (shape (20, 3),
        normalised valence, arousal, dominance) and ``effects`` (SubjectEffects).
    """
    sc = SCALES[scale]
    rng = np.random.default_rng([int(seed), _DATASET_ID, int(subject)])
    effects = draw_subject_effects(rng, subject, snr=snr, device="emotiv")
    ratings, states = draw_states(rng, 20, "amigos")  # valence, arousal, dominance, liking: rint of the states
    ratings = np.asarray(ratings, dtype=np.float64)
    vad = normalise_ratings(ratings[:, :3], "amigos")
    familiarity = rng.integers(1, 10, size=20).astype(np.float64)
    self_rows = np.column_stack([ratings[:, 1], ratings[:, 0], ratings[:, 2], ratings[:, 3], familiarity,
                                 _emotion_flags(rng, vad)])
    video_ids = [*rng.permutation(np.array(AMIGOS_SHORT_VIDEOS)).tolist(), *AMIGOS_LONG_VIDEOS]
    n_times = [int(s * AMIGOS_SFREQ) for s in (*sc.short_s, *sc.long_s)]
    watched = 16 if subject in sc.missing_long else 20

    fs = AMIGOS_SFREQ
    eeg = simulate_eeg(rng, states[:watched], AMIGOS_CH_NAMES, fs, max(n_times[:watched]), effects, **EEG_FINISH)
    ecg = simulate_peripheral(rng, states[:watched], "ecg", fs, max(n_times[:watched]), effects)
    gsr = simulate_peripheral(rng, states[:watched], "gsr", fs, max(n_times[:watched]), effects)
    joined, ext = [], []
    for k in range(20):
        if k >= watched:
            joined.append(np.zeros((0, 0)))
            ext.append(np.zeros((0, 0)))
            continue
        n = n_times[k]
        lead = ecg[k, :n]
        second = 0.8 * lead + rng.normal(0.0, 0.02 * (np.std(lead) + 1e-12), size=n)
        conductance = 1e6 / gsr[k, :n]  # Ohm -> uS
        joined.append(np.column_stack([eeg[k][:, :n].T, lead, second, conductance]))
        ext.append(_ext_annotation(rng, vad[k], n))
    self_rows[watched:] = np.nan
    return {"joined": joined, "self": self_rows, "ext": ext, "video_ids": video_ids, "vad": vad, "states": states,
            "ratings": ratings, "effects": effects}


def _cells(arrays) -> np.ndarray:
    cell = np.empty((1, len(arrays)), dtype=object)
    for i, a in enumerate(arrays):
        cell[0, i] = a
    return cell


def make_amigos_mat(subj: dict) -> dict:
    """The variables of one participant file, ready for :func:`scipy.io.savemat`.

    Parameters
    ----------
    subj : dict
        As returned by :func:`simulate_subject` (``joined``, ``self``, ``ext``, ``video_ids``).

    Returns
    -------
    mdict : dict of str -> ndarray
        ``joined_data``, ``labels_selfassessment``, ``labels_ext_annotation``, ``VideoIDs``: (1, 20)
        object arrays (MATLAB cell arrays).
    """
    joined = [np.asarray(x, dtype=np.float64) for x in subj["joined"]]  # as given: tests write faulty cells too
    rows = [np.zeros((0, 0)) if np.isnan(r).all() else r[None, :] for r in np.asarray(subj["self"], float)]
    return {
        "joined_data": _cells(joined),
        "labels_selfassessment": _cells(rows),
        "labels_ext_annotation": _cells([np.asarray(a, dtype=np.float64) for a in subj["ext"]]),
        "VideoIDs": _cells([str(v) for v in subj["video_ids"]]),
    }


def write_amigos_mat(fname, subj: dict) -> Path:
    """Write one participant (see :func:`make_amigos_mat`) as a MATLAB v5 file, atomically."""
    return savemat_atomic(fname, make_amigos_mat(subj))


def write(out: Path, scale: str, seed: int, snr: float | None) -> Path:
    """Write ``out/amigos/Data_preprocessed_matlab/...`` and ``out/simulation.json``; return ``out/amigos``."""
    sc = SCALES[scale]
    out = Path(out)
    root = out / ROOT_NAME
    cards = []
    for subject in progress_range(1, sc.n_subjects + 1, "simulate amigos"):
        s = simulate_subject(seed, subject, scale, snr)
        name = amigos_fname(subject)
        write_amigos_mat(root / AMIGOS_DIR / name[:-4] / name, s)
        cards.append({"subject": subject, **s["effects"].to_dict(), "video_ids": s["video_ids"],
                      "ratings": s["ratings"].tolist(), "vad": s["vad"].tolist(), "states": s["states"].tolist(),
                      "gstar": gstar(s["states"][:, :2]).tolist(),
                      "long_videos_watched": subject not in sc.missing_long})
    write_sidecar(out, "amigos", scale, seed, subjects=cards, snr=snr, short_s=list(sc.short_s),
                  long_s=list(sc.long_s), missing_long=list(sc.missing_long))
    return root
