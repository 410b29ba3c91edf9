"""Simulated DEAP: ``data_preprocessed_python/sNN.dat`` and ``participant_ratings.csv``.

Written layout (what :func:`neuroaffect.io.deap.read_deap` and public DEAP code read)::

    out/deap/
        data_preprocessed_python/
            s01.dat ...            Python 2 protocol-2 pickle of
                                   {'data': float64 (n_trials, 40, n_times),
                                    'labels': float64 (n_trials, 4)}
        participant_ratings.csv    Participant_id,Trial,Experiment_id,Start_time,Valence,
                                   Arousal,Dominance,Liking,Familiarity

Channels are DEAP's 40 in their order (32 EEG in the Geneva order, hEOG, vEOG, zEMG, tEMG,
GSR, Respiration belt, Plethysmograph, Temperature), 128 Hz. Each trial is a 3-s baseline
(384 samples, no stimulus effect) followed by the stimulus part, whose EEG band powers follow
the trial's ratings (:mod:`neuroaffect.simulate.eeg`). Like the preprocessed release, the
EEG is band-limited to 4-45 Hz (no mains line), has its blinks removed (the EOG keeps them) and is
re-referenced to the common average; EEG and EOG/EMG are
in microvolts, GSR in Ohm, temperature in degC, respiration and plethysmograph in arbitrary
units. Trials are stored in video (``Experiment_id``) order; the CSV lists them in a shuffled
presentation order (``Trial``) per participant. Ratings carry two decimals, as the CSV prints
them; familiarity (1-5) is empty for participants 2, 15 and 23, as in the real file.

The pickle is written the way Python 2 pickled numpy 1.x arrays, which is what the real files
are: ``numpy.core.multiarray._reconstruct`` and the raw array bytes as a Python 2 ``str``
(``BINSTRING``). Such a file is exactly as large as its data (40 x 40 x 8064 x 8 B = 98.4 MiB
per subject at full scale) and, like the real ones, needs ``encoding='latin1'`` under Python 3.
(Python 3's own protocol 2 would store the bytes as UTF-8 text, about 1.5 times larger.)

Our choices: EEG, EOG and EMG are simulated separately for the baseline (no stimulus) and the
stimulus part and joined by an equal-power cross-fade over the first 0.5 s of the stimulus
part, so the baseline holds no label effect and the joint has no step. GSR, respiration,
plethysmograph and temperature are simulated continuously over the whole trial with the trial's
state (a breath or a skin-conductance level does not restart at the clip onset), so their
3-s baseline already reflects it.

Scales:

=====  ========  ======  ===================  ==========================================
scale  subjects  trials  samples per trial    per file
=====  ========  ======  ===================  ==========================================
tiny   2         12      (3 + 6) s = 1152     4.2 MiB  (tests)
demo   4         40      (3 + 20) s = 2944    35.9 MiB (the default workflow)
full   32        40      (3 + 60) s = 8064    98.4 MiB (the real release)
=====  ========  ======  ===================  ==========================================

``demo`` keeps DEAP's 40 trials per subject (the trial-level cross-validation and the rating
distribution have the real granularity) and 20 one-second windows per trial (800 per subject,
enough to train the models), while staying small enough that the whole default workflow runs
on two CPU cores within minutes.
"""

from __future__ import annotations

import csv
import io
import struct
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .._progress import progress_range
from .._utils import atomic_path, atomic_write_text
from ..channels import DEAP_CH_NAMES, DEAP_EEG_CH_NAMES, DEAP_SFREQ
from ..io.deap import DATA_DIR, RATINGS_HEADER, RATINGS_NAME
from ..labels import DEAP_LABELS, normalise_ratings
from ._write import FADE_S, Scale, crossfade_join, subject_rng, write_sidecar
from .eeg import simulate_eeg
from .effects import draw_states, draw_subject_effects
from .gstar import gstar
from .peripheral import simulate_peripheral

__all__ = ["ROOT_NAME", "SCALES", "DeapScale", "simulate_subject", "write", "write_py2_pickle"]

ROOT_NAME = "deap"
NO_FAMILIARITY = (2, 15, 23)  # participants whose familiarity ratings are missing
_PASSBAND = (4.0, 45.0)
#: How the release finishes the EEG: band-passed at 4-45 Hz (no mains left), blinks removed.
EEG_FINISH = MappingProxyType({"passband": _PASSBAND, "line_freq": None, "blinks": False})


@dataclass(frozen=True)
class DeapScale(Scale):
    """Size of a simulated DEAP copy.

    Attributes
    ----------
    n_subjects : int
    n_trials : int
        Trials (videos) per subject.
    baseline_s : int
        Pre-trial baseline in seconds (3 in the release; the reader requires 3).
    stim_s : int
        Stimulus part in seconds (60 in the release).
    """

    n_trials: int
    baseline_s: int
    stim_s: int

    @property
    def n_times(self) -> int:
        """Samples per trial (baseline and stimulus part at 128 Hz)."""
        return int((self.baseline_s + self.stim_s) * DEAP_SFREQ)


SCALES = DeapScale.table(
    tiny=DeapScale(n_subjects=2, n_trials=12, baseline_s=3, stim_s=6),
    demo=DeapScale(n_subjects=4, n_trials=40, baseline_s=3, stim_s=20),
    full=DeapScale(n_subjects=32, n_trials=40, baseline_s=3, stim_s=60),
)


def _round2(x: np.ndarray) -> np.ndarray:
    """Round to the nearest two-decimal number exactly as ``float(f"{v:.2f}")`` does."""
    return np.array([float(f"{v:.2f}") for v in np.asarray(x, dtype=np.float64).ravel()]).reshape(
        np.shape(x))


def simulate_subject(seed: int, subject: int, scale: str = "tiny", snr: float | None = None) -> dict:
    """Simulate one DEAP subject; depends only on (seed, subject, scale, snr).

    Returns
    -------
    subj : dict
        ``data`` (float64, shape (n_trials, 40, n_times): the ``.dat`` array, uV / Ohm /
        degC / a.u. per channel), ``labels`` (float64, shape (n_trials, 4), 1-9, two decimals),
        ``presentation`` (int, shape (n_trials,): 1-based presentation position of each
        Experiment_id), ``start_time_us`` (int64, shape (n_trials,)), ``familiarity``
        (float, shape (n_trials,), NaN where missing), ``states`` (float64, shape (n_trials, 3):
        the continuous normalised valence, arousal, dominance that drove the signals; the labels
        are ``5 + 4 * states`` to two decimals) and ``effects`` (SubjectEffects).
    """
    sc = SCALES[scale]
    fs = DEAP_SFREQ
    rng = subject_rng(seed, "deap", subject)
    effects = draw_subject_effects(rng, subject, snr=snr)
    ratings, states = draw_states(rng, sc.n_trials, "deap")
    labels = _round2(ratings)
    none = np.full_like(states, np.nan)
    n_base, n_stim, n_fade = int(sc.baseline_s * fs), int(sc.stim_s * fs), int(FADE_S * fs)
    n_times = sc.n_times

    def eeg_part(rows, n):
        return simulate_eeg(rng, rows, DEAP_EEG_CH_NAMES, fs, n, effects, **EEG_FINISH)

    eeg = crossfade_join(eeg_part(none, n_base + n_fade), eeg_part(states, n_stim), n_fade)
    eeg -= eeg.mean(axis=1, keepdims=True)  # common average reference

    def split(kind, **kw):  # baseline and stimulus simulated apart, as the EEG (shared blinks)
        base = simulate_peripheral(rng, none, kind, fs, n_base + n_fade, effects, **kw)
        return crossfade_join(base, simulate_peripheral(rng, states, kind, fs, n_stim, effects, **kw), n_fade)

    def whole(kind):
        return simulate_peripheral(rng, states, kind, fs, n_times, effects)

    periph = {
        "hEOG": split("eog", component="horizontal"), "vEOG": split("eog", component="vertical"),
        "zEMG": split("emg", muscle="zygomaticus"), "tEMG": split("emg", muscle="trapezius"),
        "GSR": whole("gsr"), "Respiration belt": whole("resp"),
        "Plethysmograph": whole("ppg"), "Temperature": whole("temp"),
    }
    data = np.empty((sc.n_trials, len(DEAP_CH_NAMES), n_times))
    data[:, :len(DEAP_EEG_CH_NAMES)] = eeg
    for name, sig in periph.items():
        data[:, DEAP_CH_NAMES.index(name)] = sig

    order = rng.permutation(sc.n_trials)  # order[j] = experiment index shown at position j
    presentation = np.empty(sc.n_trials, dtype=int)
    presentation[order] = np.arange(1, sc.n_trials + 1)
    gaps_s = 60.0 + 5.0 + 3.0 + rng.uniform(12.0, 40.0, sc.n_trials)  # video, fixations, rating
    starts_s = rng.uniform(150.0, 200.0) + np.concatenate([[0.0], np.cumsum(gaps_s[:-1])])
    start_time_us = np.empty(sc.n_trials, dtype=np.int64)
    start_time_us[order] = np.round(starts_s * 1e6).astype(np.int64)
    familiarity = rng.integers(1, 6, sc.n_trials).astype(float)
    if subject in NO_FAMILIARITY:
        familiarity[:] = np.nan
    return {"data": data, "labels": labels, "presentation": presentation,
            "start_time_us": start_time_us, "familiarity": familiarity, "states": states, "effects": effects}


# --------------------------------------------------------------------------------------------
# Python 2 pickle of numpy arrays
# --------------------------------------------------------------------------------------------
def _pint(v: int) -> bytes:
    """Pickle opcode for a non-negative int (BININT1, BININT2 or BININT)."""
    if v < 256:
        return b"K" + bytes([v])
    if v < 65536:
        return b"M" + struct.pack("<H", v)
    return b"J" + struct.pack("<i", v)


def _str_opcode(n: int) -> bytes:
    """Opcode and length of a Python 2 ``str`` of ``n`` bytes (SHORT_BINSTRING or BINSTRING)."""
    if n < 256:
        return b"U" + bytes([n])
    if n > 2**31 - 1:
        raise ValueError(f"a Python 2 pickle string holds less than 2 GiB, but got {n} bytes")
    return b"T" + struct.pack("<i", n)


def _pstr(s: bytes) -> bytes:
    return _str_opcode(len(s)) + s


def _ptuple(items: tuple) -> bytes:
    body = b"".join(_pint(int(v)) for v in items)
    if 1 <= len(items) <= 3:
        return body + (b"\x85", b"\x86", b"\x87")[len(items) - 1]
    return b"(" + body + b"t"


def write_py2_pickle(f, arrays: dict) -> None:
    """Write ``{name: array}`` as Python 2's ``cPickle.dump(d, f, 2)`` with numpy 1.x did.

    Parameters
    ----------
    f : binary file object
    arrays : dict of str -> ndarray
        Arrays, stored as little-endian float64 in C order.

    Notes
    -----
    Per array: ``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b')``, then a
    ``BUILD`` with the state ``(1, shape, dtype('f8'), False, <raw bytes as str>)``. Globals
    and the dtype are memoised and reused (``BINPUT``/``BINGET``) as the pickler does. The raw
    bytes go straight from the array's buffer to the file (no copy).
    """
    memo: dict = {}

    def put(key) -> bytes:
        memo[key] = len(memo)
        return b"q" + bytes([memo[key]])

    def ref(key, payload: bytes) -> bytes:
        return b"h" + bytes([memo[key]]) if key in memo else payload + put(key)

    f.write(b"\x80\x02}" + put("dict") + b"(")
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr, dtype="<f8")
        f.write(_pstr(name.encode("ascii")))
        f.write(ref("reconstruct", b"cnumpy.core.multiarray\n_reconstruct\n"))
        f.write(ref("ndarray", b"cnumpy\nndarray\n"))
        f.write(_pint(0) + b"\x85" + ref("b", _pstr(b"b")) + b"\x87R")
        f.write(b"(" + _pint(1) + _ptuple(arr.shape))
        if "f8" in memo:
            f.write(ref("f8", b""))
        else:
            f.write(ref("dtype", b"cnumpy\ndtype\n") + _pstr(b"f8") + _pint(0) + _pint(1) + b"\x87R")
            f.write(put("f8") + b"(" + _pint(3) + _pstr(b"<") + b"NNN" + b"J\xff\xff\xff\xff" * 2
                    + _pint(0) + b"tb")
        f.write(b"\x89" + _str_opcode(arr.nbytes))
        f.write(memoryview(arr).cast("B"))
        f.write(b"tb")
    f.write(b"u.")


# --------------------------------------------------------------------------------------------
# writer
# --------------------------------------------------------------------------------------------
def _ratings_rows(subject: int, subj: dict) -> list:
    by_position = np.argsort(subj["presentation"])  # experiment index at each position
    rows = []
    for exp in by_position:
        fam = subj["familiarity"][exp]
        rows.append([subject, int(subj["presentation"][exp]), int(exp) + 1, int(subj["start_time_us"][exp]),
                     *(f"{v:.2f}" for v in subj["labels"][exp]), "" if np.isnan(fam) else int(fam)])
    return rows


def write(out, scale: str = "demo", seed: int = 0, snr: float | None = None) -> Path:
    """Write a simulated DEAP copy below ``out``; return ``out/deap`` (what ``read_deap`` takes).

    ``out/simulation.json`` records per subject the ratings, their normalised values, the
    continuous ``states`` (n_trials, 3) that drove the signals and their ``gstar`` (n_trials, 4),
    all in ``Experiment_id`` order (the order of the ``.dat`` trials).

    One subject is generated and written at a time (peak memory about three times one
    ``.dat``); every file is written to a temporary name and renamed when complete.
    """
    sc = SCALES[scale]
    root = Path(out) / ROOT_NAME
    rows, sidecar = [], []
    for subject in progress_range(1, sc.n_subjects + 1, "simulate deap"):
        subj = simulate_subject(seed, subject, scale, snr)
        with atomic_path(root / DATA_DIR / f"s{subject:02d}.dat") as tmp, open(tmp, "wb") as f:
            write_py2_pickle(f, {"data": subj["data"], "labels": subj["labels"]})
        rows.extend(_ratings_rows(subject, subj))
        sidecar.append({
            **subj["effects"].to_dict(), "subject": subject,
            "ratings": subj["labels"].tolist(),
            "ratings_normalised": normalise_ratings(subj["labels"], "deap").tolist(),
            "presentation_order": subj["presentation"].tolist(),
            "states": subj["states"].tolist(), "gstar": gstar(subj["states"][:, :2]).tolist(),
        })
        del subj
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(RATINGS_HEADER)
    writer.writerows(rows)
    atomic_write_text(root / RATINGS_NAME, buf.getvalue())
    write_sidecar(
        out, "deap", scale, seed, sidecar, snr=snr, sfreq=DEAP_SFREQ,
        n_trials=sc.n_trials, n_times=sc.n_times, baseline_s=sc.baseline_s,
        rating_columns=list(DEAP_LABELS),
        trial_order="Experiment_id",
    )
    return root
