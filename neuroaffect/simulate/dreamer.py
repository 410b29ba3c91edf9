"""Simulated DREAMER: one ``DREAMER.mat`` in the exact nesting of the real file.

Written layout (``out/dreamer/DREAMER.mat``, MATLAB v5, compressed)::

    DREAMER (1x1 struct)
      Data               {1 x n_subjects cell} of struct: Age (char), Gender (char),
                         EEG.baseline {18x1 cell} (n_base x 14), EEG.stimuli {18x1 cell} (M_k x 14),
                         ECG.baseline {18x1 cell} (2 n_base x 2), ECG.stimuli {18x1 cell} (~2 M_k x 2),
                         ScoreValence / ScoreArousal / ScoreDominance (18x1 double, integers 1..5)
      EEG_SamplingRate 128, ECG_SamplingRate 256, EEG_Electrodes {1x14 cell},
      noOfSubjects, noOfVideoSequences, Disclaimer, Provider, Version, Acknowledgement

Signals are samples x channels in microvolts. Like the Emotiv's unfiltered output, the EEG
carries a DC level near 4000 uV per channel plus a slow drift and the EPOC's own 50 and 60 Hz
notches (no mains line), and is quantised to the
headset's resolution (0.51 uV), which is also why the real file compresses well; baselines
carry no label effect. ECG stimulus segments are about (not exactly) twice the EEG length, as in the
real file.

Scales (18 clips always; the format has 18):

=====  ==========  ======================================  ============
scale  subjects    clip length                             baseline
=====  ==========  ======================================  ============
tiny   2           3-7 s                                   2 s
demo   4           16-25 s                                 61 s (real)
full   23          65-393 s                                61 s (real)
=====  ==========  ======================================  ============

Measured on two shared cores: tiny 1 s (1.7 MB), demo 9 s (39 MB), full about 5 min
(670 MB; the whole struct is built in memory, peak about 5 GB).

The full clip lengths span the published range (65-393 s); the individual values are ours,
as the per-clip durations were not available to us. Short baselines (tiny) are accepted by
:func:`neuroaffect.io.dreamer.read_dreamer`, which requires at least 1 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .._progress import progress_range
from ..channels import DREAMER_CH_NAMES, DREAMER_ECG_SFREQ, DREAMER_N_TRIALS, DREAMER_SFREQ
from ..io.dreamer import DREAMER_FNAME, DREAMER_SCORE_FIELDS
from ..labels import DREAMER_LABELS, normalise_ratings
from ._artefacts import EMOTIV_NOTCH, slow_drift
from ._write import Scale, savemat_atomic, subject_rng, write_sidecar
from .eeg import simulate_eeg
from .effects import draw_states, draw_subject_effects
from .gstar import gstar
from .peripheral import simulate_peripheral

__all__ = ["ROOT_NAME", "SCALES", "DreamerScale", "write", "simulate_subject", "make_dreamer_struct",
           "write_dreamer_mat"]

ROOT_NAME = "dreamer"

#: Clip lengths of the full scale in seconds (published range 65-393 s; values ours).
FULL_CLIP_S = (199, 131, 204, 67, 144, 98, 112, 393, 276, 65, 102, 220, 186, 173, 182, 116, 310, 155)


@dataclass(frozen=True)
class DreamerScale(Scale):
    """Size of a simulated DREAMER copy.

    Attributes
    ----------
    n_subjects : int
    clip_s : tuple of int, length 18
        Stimulus length of each clip in seconds.
    baseline_s : int
        Baseline length in seconds (61 in the real file).
    """

    clip_s: tuple
    baseline_s: int


SCALES = DreamerScale.table(
    tiny=DreamerScale(2, tuple(3 + round(s / 100) for s in FULL_CLIP_S), 2),
    demo=DreamerScale(4, tuple(15 + round(s / 40) for s in FULL_CLIP_S), 61),
    full=DreamerScale(23, FULL_CLIP_S, 61),
)

_DC_UV = 4000.0  # Emotiv EPOC raw level
#: How the Emotiv EPOC finishes the EEG: its own digital filter notches 50 and 60 Hz, so its raw
#: output shows no mains line.
EEG_FINISH = MappingProxyType({"line_freq": None, "notch": EMOTIV_NOTCH})
_LSB_UV = 0.51  # Emotiv EPOC resolution: 14 bits, 1 LSB = 0.51 uV
_META = {
    "Disclaimer": "Simulated data in the layout of the DREAMER database; not recorded from people.",
    "Provider": "neuroaffect simulator",
    "Version": "1.0.2",
    "Acknowledgement": "Layout of S. Katsigiannis and N. Ramzan, IEEE J. Biomed. Health Inform., 2018.",
}


def _dc_and_drift(rng, n_chans: int, n_times: int, sfreq: float) -> np.ndarray:
    """Per-channel DC level (~4000 uV) plus slow drift, shape (n_chans, n_times), uV."""
    dc = _DC_UV + rng.normal(0.0, 150.0, size=(n_chans, 1))
    return dc + slow_drift(rng, n_chans, n_times, sfreq)


def _as_stored(x: np.ndarray, rng, sfreq: float) -> np.ndarray:
    """EEG (n_chans, n_times) uV -> as the Emotiv stores it: DC, drift, quantised; (n_times, n_chans)."""
    x = x + _dc_and_drift(rng, x.shape[0], x.shape[1], sfreq)
    return (np.round(x / _LSB_UV) * _LSB_UV).T


def _ecg_leads(rng, lead: np.ndarray) -> np.ndarray:
    """Two leads of one heart from one simulated lead (n_times,) -> (n_times, 2), uV."""
    second = 0.7 * lead + rng.normal(0.0, 0.02 * (np.std(lead) + 1e-12), size=lead.shape)
    return np.stack([lead, second], axis=1)


def simulate_subject(seed: int, subject: int, scale: str = "tiny", snr: float | None = None) -> dict:
    """Simulate one DREAMER subject; depends only on (seed, subject, scale, snr).

    Returns
    -------
    subj : dict
        ``age`` (str), ``gender`` (str), ``eeg_stimuli`` / ``eeg_baseline`` (lists of 18 arrays,
        shape (n_times_k, 14), uV, samples x channels as stored), ``ecg_stimuli`` /
        ``ecg_baseline`` (lists of 18 arrays, shape (n_times_k, 2), uV), ``scores``
        (ndarray, shape (18, 3), integers 1..5: valence, arousal, dominance), ``vad``
        (shape (18, 3), the scores normalised to [-1, 1]), ``states`` (shape (18, 3), the
        continuous normalised states that drove the signals; ``scores = rint(3 + 2 * states)``)
        and ``effects`` (SubjectEffects).
    """
    sc = SCALES[scale]
    rng = subject_rng(seed, "dreamer", subject)
    effects = draw_subject_effects(rng, subject, snr=snr, device="emotiv")
    scores, states = draw_states(rng, DREAMER_N_TRIALS, "dreamer")
    scores = np.asarray(scores, dtype=np.float64)
    vad = normalise_ratings(scores, "dreamer")
    fs, fs_ecg = DREAMER_SFREQ, DREAMER_ECG_SFREQ
    age = str(int(rng.integers(22, 34)))
    gender = "male" if rng.random() < 14 / 23 else "female"

    # Baselines carry no stimulus (NaN rows). Stimuli of unequal length are drawn in one call at
    # the longest length and cropped, so that every clip has its own trial index (and blinks).
    none = np.full((DREAMER_N_TRIALS, 3), np.nan)
    n_base = int(sc.baseline_s * fs)
    base = simulate_eeg(rng, none, DREAMER_CH_NAMES, fs, n_base, effects, **EEG_FINISH)
    eeg_baseline = [_as_stored(b, rng, fs) for b in base]
    ecg_base = simulate_peripheral(rng, none, "ecg", fs_ecg, 2 * n_base, effects)
    ecg_baseline = [_ecg_leads(rng, x) for x in ecg_base]

    n_eeg = [int(clip_s * fs) for clip_s in sc.clip_s]
    n_ecg = [2 * n + int(j) for n, j in zip(n_eeg, rng.integers(-8, 9, size=len(n_eeg)))]
    eeg = simulate_eeg(rng, states, DREAMER_CH_NAMES, fs, max(n_eeg), effects, **EEG_FINISH)
    eeg_stimuli = [_as_stored(x[:, :n], rng, fs) for x, n in zip(eeg, n_eeg)]
    del eeg
    ecg = simulate_peripheral(rng, states, "ecg", fs_ecg, max(n_ecg), effects)
    ecg_stimuli = [_ecg_leads(rng, x[:n]) for x, n in zip(ecg, n_ecg)]
    return {
        "age": age, "gender": gender, "eeg_stimuli": eeg_stimuli, "eeg_baseline": eeg_baseline,
        "ecg_stimuli": ecg_stimuli, "ecg_baseline": ecg_baseline, "scores": scores, "vad": vad,
        "states": states, "effects": effects,
    }


def _cell(arrays) -> np.ndarray:
    cell = np.empty((len(arrays), 1), dtype=object)
    for i, a in enumerate(arrays):
        cell[i, 0] = np.asarray(a, dtype=np.float64)
    return cell


def make_dreamer_struct(subjects, *, eeg_sfreq: float = DREAMER_SFREQ, ecg_sfreq: float = DREAMER_ECG_SFREQ,
                        ch_names=DREAMER_CH_NAMES) -> dict:
    """The ``DREAMER`` struct as nested dicts / object arrays, ready for :func:`scipy.io.savemat`.

    Parameters
    ----------
    subjects : list of dict
        As returned by :func:`simulate_subject` (only ``age``, ``gender``, ``eeg_*``,
        ``ecg_*`` and ``scores`` are used).
    eeg_sfreq, ecg_sfreq : float
        Rates written into the header (Hz).
    ch_names : sequence of str
        Names written into ``EEG_Electrodes``.

    Returns
    -------
    struct : dict
        Pass as ``{"DREAMER": struct}``; dicts become MATLAB structs and (n, 1) / (1, n)
        object arrays become cell arrays.
    """
    data = np.empty((1, len(subjects)), dtype=object)
    for i, s in enumerate(subjects):
        scores = np.asarray(s["scores"], dtype=np.float64)
        data[0, i] = {
            "Age": str(s["age"]), "Gender": str(s["gender"]),
            "EEG": {"baseline": _cell(s["eeg_baseline"]), "stimuli": _cell(s["eeg_stimuli"])},
            "ECG": {"baseline": _cell(s["ecg_baseline"]), "stimuli": _cell(s["ecg_stimuli"])},
            **{field: scores[:, [DREAMER_LABELS.index(label)]] for label, field in DREAMER_SCORE_FIELDS},
        }
    elec = np.empty((1, len(ch_names)), dtype=object)
    elec[0, :] = list(ch_names)
    return {
        "Data": data, "EEG_SamplingRate": float(eeg_sfreq), "ECG_SamplingRate": float(ecg_sfreq),
        "EEG_Electrodes": elec, "noOfSubjects": float(len(subjects)),
        "noOfVideoSequences": float(DREAMER_N_TRIALS), **_META,
    }


def write_dreamer_mat(fname, subjects, **kwargs) -> Path:
    """Write ``subjects`` (see :func:`make_dreamer_struct`) as a DREAMER.mat file, atomically."""
    return savemat_atomic(fname, {"DREAMER": make_dreamer_struct(subjects, **kwargs)})


def write(out: Path, scale: str, seed: int, snr: float | None) -> Path:
    """Write ``out/dreamer/DREAMER.mat`` and ``out/simulation.json``; return ``out/dreamer``.

    Each subject's card records ``scores`` (1-5), ``vad`` (the scores normalised), ``states``
    (18, 3) (the continuous normalised valence, arousal, dominance that drove each clip, in clip
    order) and ``gstar`` (18, 4) (G* of each clip's state).
    """
    sc = SCALES[scale]
    out = Path(out)
    root = out / ROOT_NAME
    subjects, cards = [], []
    for subject in progress_range(1, sc.n_subjects + 1, "simulate dreamer"):
        s = simulate_subject(seed, subject, scale, snr)
        subjects.append(s)
        cards.append({
            "subject": subject, "age": s["age"], "gender": s["gender"], **s["effects"].to_dict(),
            "scores": s["scores"].tolist(), "vad": s["vad"].tolist(), "states": s["states"].tolist(),
            "gstar": gstar(s["states"][:, :2]).tolist(),
        })
    write_dreamer_mat(root / DREAMER_FNAME, subjects)
    write_sidecar(out, "dreamer", scale, seed, subjects=cards, snr=snr,
                  clip_s=list(sc.clip_s), baseline_s=sc.baseline_s, dc_offset_uv=_DC_UV)
    return root
