"""Simulated SEED (``Preprocessed_EEG/``) and SEED-IV (``eeg_raw_data/``) in their real layouts.

SEED (``write``)::

    out/seed/Preprocessed_EEG/label.mat           'label': (1, 15) int, the real labels
    out/seed/Preprocessed_EEG/<s>_<YYYYMMDD>.mat  '<prefix>_eeg1..15': (62, 200 * t + 1) float64, uV

SEED-IV (``write_seed_iv``; not part of :func:`neuroaffect.simulate.simulate`)::

    out/seed_iv/eeg_raw_data/{1,2,3}/<s>_<YYYYMMDD>.mat   '<prefix>_eeg1..24': (62, 200 * t + 1)

File names use the real subject numbers and recording dates and (SEED) the real variable
prefixes. The trial variables are written in a shuffled order on purpose: readers must
parse the trial number from the name. Signals are in microvolts at 200 Hz with no DC
level and no mains line (the distributed data are already filtered).

Labels drive the planted effects through valence: SEED's label -1/0/1 becomes valence
0.7 * label plus jitter; arousal and dominance are random per trial. SEED-IV's classes
(0 neutral, 1 sad, 2 fear, 3 happy) sit at circumplex positions (plus jitter). Each session
scales every channel by its own gain (electrode contact changes between days).

Scales (SEED):

=====  ========  ========  ======  =========================================
scale  subjects  sessions  trials  trial length
=====  ========  ========  ======  =========================================
tiny   2         2         15      2-4 s
demo   4         3         15      9-13 s (real lengths / 20)
full   15        3         15      185-265 s (the real lengths)
=====  ========  ========  ======  =========================================

Measured on two shared cores: tiny 0.7 s (16 MB), demo 2.7 s (195 MB), full about 15 s and
1 GB per subject (337 MB per session file, uncompressed like the writing is fastest; peak
memory about 2 GB, one session at a time), i.e. about 4 min and 15 GB for all 15 subjects.

The demo keeps every structural feature that the evaluation uses (three sessions, all 15
trials so that the customary 9/6 split exists, unequal lengths) at about 1/20 of the real
recording time, so that the demo workflow runs in minutes on two cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .._progress import progress_range
from ..channels import SEED_CH_NAMES, SEED_PREFIXES, SEED_SFREQ
from ..io.seed import LABEL_FNAME, SEED_DIR, SEED_IV_DIR
from ..labels import SEED_IV_LABELS, SEED_LABELS
from ._write import Scale, savemat_atomic, subject_rng, write_sidecar
from .eeg import simulate_eeg
from .effects import draw_subject_effects

__all__ = ["ROOT_NAME", "SEED_IV_ROOT_NAME", "SCALES", "SEED_IV_SCALES", "SeedScale", "write",
           "write_seed_iv", "SEED_DATES", "SEED_IV_DATES", "FULL_TRIAL_S"]

ROOT_NAME = "seed"
SEED_IV_ROOT_NAME = "seed_iv"

#: Real SEED trial lengths in seconds (the stored trials hold 200 * s + 1 samples).
FULL_TRIAL_S = (235, 233, 206, 238, 185, 195, 237, 216, 265, 237, 235, 233, 235, 238, 206)

#: Recording dates of SEED's session files, per subject (sessions 1, 2, 3).
SEED_DATES = MappingProxyType({
    1: ("20131027", "20131030", "20131107"), 2: ("20140404", "20140413", "20140419"),
    3: ("20140603", "20140611", "20140629"), 4: ("20140621", "20140702", "20140705"),
    5: ("20140411", "20140418", "20140506"), 6: ("20130712", "20131016", "20131113"),
    7: ("20131027", "20131030", "20131106"), 8: ("20140511", "20140514", "20140521"),
    9: ("20140620", "20140627", "20140704"), 10: ("20131130", "20131204", "20131211"),
    11: ("20140618", "20140625", "20140630"), 12: ("20131127", "20131201", "20131207"),
    13: ("20140527", "20140603", "20140610"), 14: ("20140601", "20140615", "20140627"),
    15: ("20130709", "20131016", "20131105"),
})

#: Recording dates of SEED-IV's files, per subject (session folders 1, 2, 3).
SEED_IV_DATES = MappingProxyType({
    1: ("20160518", "20161125", "20161126"), 2: ("20150915", "20150920", "20151012"),
    3: ("20150919", "20151018", "20151101"), 4: ("20151111", "20151118", "20151123"),
    5: ("20160406", "20160413", "20160420"), 6: ("20150507", "20150511", "20150512"),
    7: ("20150715", "20150717", "20150721"), 8: ("20151103", "20151110", "20151117"),
    9: ("20151028", "20151119", "20151209"), 10: ("20151014", "20151021", "20151023"),
    11: ("20150916", "20150921", "20151011"), 12: ("20150725", "20150804", "20150807"),
    13: ("20151115", "20151125", "20161130"), 14: ("20151205", "20151208", "20151215"),
    15: ("20150508", "20150514", "20150527"),
})
# SEED-IV's variable prefixes are the participants' initials; we write placeholders.
_SEED_IV_PREFIXES = tuple(f"sub{chr(ord('a') + i)}" for i in range(15))
# Circumplex positions (valence, arousal) of SEED-IV's classes: neutral, sad, fear, happy.
_SEED_IV_VA = np.array([[0.0, 0.0], [-0.6, -0.4], [-0.6, 0.6], [0.7, 0.4]])


@dataclass(frozen=True)
class SeedScale(Scale):
    """Size of a simulated SEED / SEED-IV copy.

    Attributes
    ----------
    n_subjects, n_sessions : int
    trial_s : tuple of int
        Length of each trial in whole seconds (stored as 200 * s + 1 samples).
    """

    n_sessions: int
    trial_s: tuple


SCALES = SeedScale.table(
    tiny=SeedScale(2, 2, tuple(2 + (s - 185) // 40 for s in FULL_TRIAL_S)),
    demo=SeedScale(4, 3, tuple(round(s / 20) for s in FULL_TRIAL_S)),
    full=SeedScale(15, 3, FULL_TRIAL_S),
)

# SEED-IV trial lengths were not available to us; these span the reported
# examples (48-168 s) and are not the real per-trial values.
_SEED_IV_FULL_S = (120, 95, 57, 148, 168, 73, 102, 133, 48, 86, 155, 111,
                   64, 127, 139, 79, 160, 92, 53, 116, 144, 69, 107, 82)
SEED_IV_SCALES = SeedScale.table(
    tiny=SeedScale(2, 3, tuple(1 + s // 80 for s in _SEED_IV_FULL_S)),
    demo=SeedScale(4, 3, tuple(round(s / 10) for s in _SEED_IV_FULL_S)),
    full=SeedScale(15, 3, _SEED_IV_FULL_S),
)


def _session_gain(rng, n_chans: int) -> np.ndarray:
    return np.exp(rng.normal(0.0, 0.08, size=(n_chans, 1)))


def _simulate_session(rng, vad, trial_s, effects) -> tuple[list, np.ndarray]:
    """Trials of one session, list of (62, 200 * s + 1) arrays in uV, and the channel gains.

    All trials are drawn in one call at the longest length and cropped, so that each trial
    has its own trial index (and its own blinks).
    """
    gain = _session_gain(rng, len(SEED_CH_NAMES))
    n_times = [int(s * SEED_SFREQ) + 1 for s in trial_s]
    # The release is filtered (0-75 Hz): no mains line.
    x = simulate_eeg(rng, vad, SEED_CH_NAMES, SEED_SFREQ, max(n_times), effects, line_freq=None)
    x *= gain
    trials = [t[:, :n] for t, n in zip(x, n_times)]  # views: savemat copies one at a time
    return trials, gain


def _write_session(fname: Path, prefix: str, trials: list, rng) -> Path:
    order = rng.permutation(len(trials))  # deliberately not numeric order
    mdict = {f"{prefix}_eeg{k + 1}": trials[k] for k in order}
    return savemat_atomic(fname, mdict, do_compression=False)


def write(out: Path, scale: str, seed: int, snr: float | None) -> Path:
    """Write ``out/seed/Preprocessed_EEG/`` and ``out/simulation.json``; return ``out/seed``."""
    sc = SCALES[scale]
    root = Path(out) / ROOT_NAME
    folder = root / SEED_DIR
    labels = np.asarray(SEED_LABELS, dtype=np.float64)
    savemat_atomic(folder / LABEL_FNAME, {"label": labels[None, :]}, do_compression=False)
    cards = []
    for subject in progress_range(1, sc.n_subjects + 1, "simulate seed"):
        rng = subject_rng(seed, "seed", subject)
        effects = draw_subject_effects(rng, subject, snr=snr)
        prefix = SEED_PREFIXES[subject - 1]
        sessions = []
        for session in range(1, sc.n_sessions + 1):
            n = len(labels)
            vad = np.column_stack([
                np.clip(0.7 * labels + rng.normal(0.0, 0.15, n), -1.0, 1.0),
                rng.uniform(-0.6, 0.6, n),
                rng.uniform(-0.6, 0.6, n),
            ])
            trials, gain = _simulate_session(rng, vad, sc.trial_s, effects)
            date = SEED_DATES[subject][session - 1]
            _write_session(folder / f"{subject}_{date}.mat", prefix, trials, rng)
            sessions.append({"session": session, "date": date, "labels": labels.astype(int).tolist(),
                             "vad": vad.tolist(), "channel_gain": gain[:, 0].tolist()})
            del trials
        cards.append({"subject": subject, "prefix": prefix, **effects.to_dict(), "sessions": sessions})
    write_sidecar(out, "seed", scale, seed, subjects=cards, snr=snr, trial_s=list(sc.trial_s))
    return root


def write_seed_iv(out: Path, scale: str = "tiny", seed: int = 0, snr: float | None = None) -> Path:
    """Write ``out/seed_iv/eeg_raw_data/{1,2,3}/`` and ``out/simulation.json``; return ``out/seed_iv``.

    Session folder ``j`` holds one file per subject with 24 trials whose classes are
    ``SEED_IV_LABELS[j - 1]``. Scales are :data:`SEED_IV_SCALES`.
    """
    sc = SEED_IV_SCALES[scale]
    root = Path(out) / SEED_IV_ROOT_NAME
    cards = []
    for subject in progress_range(1, sc.n_subjects + 1, "simulate seed-iv"):
        rng = subject_rng(seed, "seed-iv", subject)
        effects = draw_subject_effects(rng, subject, snr=snr)
        prefix = _SEED_IV_PREFIXES[subject - 1]
        sessions = []
        for session in range(1, sc.n_sessions + 1):
            classes = np.asarray(SEED_IV_LABELS[session - 1])
            n = len(classes)
            va = np.clip(_SEED_IV_VA[classes] + rng.normal(0.0, 0.1, (n, 2)), -1.0, 1.0)
            vad = np.column_stack([va, rng.uniform(-0.6, 0.6, n)])
            trials, gain = _simulate_session(rng, vad, sc.trial_s, effects)
            date = SEED_IV_DATES[subject][session - 1]
            _write_session(root / SEED_IV_DIR / str(session) / f"{subject}_{date}.mat", prefix, trials, rng)
            sessions.append({"session": session, "date": date, "labels": classes.tolist(),
                             "vad": vad.tolist(), "channel_gain": gain[:, 0].tolist()})
            del trials
        cards.append({"subject": subject, "prefix": prefix, **effects.to_dict(), "sessions": sessions})
    write_sidecar(out, "seed-iv", scale, seed, subjects=cards, snr=snr, trial_s=list(sc.trial_s))
    return root
