"""Simulated FACED: ``Processed_data/subNNN.pkl`` and ``Data/subNNN/After_remarks.mat``.

Written layout (what :func:`neuroaffect.io.faced.read_faced` and public FACED code read)::

    out/faced/
        Processed_data/
            sub000.pkl ...             pickle (protocol 4) of one float64 array (28, 32, n_times), uV
        Data/
            sub000/After_remarks.mat   'After_remark': 1 x 28 cell of structs, in presentation order,
                                       each with 'score' (1 x 12, 0-7) and 'vid' (video index 1..28)

Subject ``k`` (1-based) is written as ``sub{k - 1:03d}``, as the release numbers its 123
subjects from ``sub000``. The 28 clips are stored in video-index order (the order of
:data:`neuroaffect.labels.FACED_CLIP_CLASSES`), 32 electrodes of
:data:`neuroaffect.channels.FACED_CH_NAMES` at 250 Hz. As in the processed release, the EEG is
band-limited to 0.05-47 Hz (no mains line), has its blinks removed and is re-referenced to
the common average, in microvolts.

Each clip's valence and arousal (which drive the planted band-power effects of
:mod:`neuroaffect.simulate.eeg`) come from its category's place on the circumplex plus a
per-subject, per-clip jitter; the self-ratings of ``After_remarks.mat`` are those values
mapped onto 0-7, the target category's emotion item is rated high, the other emotion items
low, familiarity and liking at random. Presentation order is shuffled per subject.

The pickle is written the way ``pickle.dump(array, f, protocol=4)`` writes a numpy array
(``numpy.core.multiarray._reconstruct`` and the raw bytes as ``BINBYTES8``), by a writer
that emits nothing else, so that the restricted unpickler of :mod:`neuroaffect.io._pickle`
reads it and plain ``pickle.load`` (TorchEEG's way) does too.

Scales:

=====  ========  =====  ===================  ==========
scale  subjects  clips  samples per clip     per file
=====  ========  =====  ===================  ==========
tiny   2         28     2 s = 500            3.4 MiB
demo   4         28     10 s = 2500          17.1 MiB
full   123       28     30 s = 7500          51.3 MiB (the real release)
=====  ========  =====  ===================  ==========
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._progress import progress_range
from .._utils import atomic_path
from ..channels import FACED_CH_NAMES, FACED_SFREQ
from ..io.faced import DATA_DIR, RATINGS_DIR, RATINGS_NAME, RATINGS_VAR
from ..labels import FACED_CLASS_NAMES, FACED_CLIP_CLASSES, FACED_RATING_ITEMS, FACED_RATING_RANGE
from ._write import Scale, savemat_atomic, write_sidecar
from .eeg import simulate_eeg
from .effects import draw_subject_effects

__all__ = ["ROOT_NAME", "SCALES", "CLASS_VA", "FacedScale", "simulate_subject", "write", "write_array_pickle"]

ROOT_NAME = "faced"
#: This dataset's random stream id (mixed into each subject's seed; distinct from the other writers').
_STREAM = 0xFACED
#: Normalised (valence, arousal) in [-1, 1] of each category of :data:`FACED_CLASS_NAMES` (our choice).
CLASS_VA = np.array([
    [-0.6, 0.7], [-0.6, 0.3], [-0.7, 0.7], [-0.6, -0.4], [0.0, -0.3],
    [0.7, 0.5], [0.6, 0.3], [0.8, 0.4], [0.6, -0.2],
])
_JITTER = 0.15
_PASSBAND = (0.05, 47.0)


@dataclass(frozen=True)
class FacedScale(Scale):
    """Size of a simulated FACED copy.

    Attributes
    ----------
    n_subjects : int
    clip_s : int
        Seconds per clip (30 in the release).
    """

    clip_s: int

    @property
    def n_times(self) -> int:
        """Samples per clip at 250 Hz."""
        return int(self.clip_s * FACED_SFREQ)


SCALES = FacedScale.table(
    tiny=FacedScale(n_subjects=2, clip_s=2),
    demo=FacedScale(n_subjects=4, clip_s=10),
    full=FacedScale(n_subjects=123, clip_s=30),
)


def _ratings(rng, va: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Self-ratings, shape (28, 12), two decimals in 0-7, items of :data:`FACED_RATING_ITEMS`."""
    lo, hi = FACED_RATING_RANGE
    mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0
    n = len(classes)
    scores = rng.uniform(lo, 2.0, (n, len(FACED_RATING_ITEMS)))  # emotion items not targeted: low
    for i, c in enumerate(classes):
        name = FACED_CLASS_NAMES[c]
        if name in FACED_RATING_ITEMS:
            scores[i, FACED_RATING_ITEMS.index(name)] = rng.uniform(4.5, hi)
    scores[:, FACED_RATING_ITEMS.index("valence")] = mid + half * va[:, 0]
    scores[:, FACED_RATING_ITEMS.index("arousal")] = mid + half * va[:, 1]
    scores[:, FACED_RATING_ITEMS.index("familiarity")] = rng.uniform(lo, hi, n)
    scores[:, FACED_RATING_ITEMS.index("liking")] = rng.uniform(lo, hi, n)
    return np.round(np.clip(scores, lo, hi), 2)


def simulate_subject(seed: int, subject: int, scale: str = "tiny", snr: float | None = None) -> dict:
    """Simulate one FACED subject; depends only on (seed, subject, scale, snr).

    Returns
    -------
    subj : dict
        ``data`` (float64, shape (28, 32, n_times), uV, average reference), ``ratings``
        (float64, shape (28, 12), 0-7, clips in video-index order), ``presentation``
        (int, shape (28,): the video index shown at each position), ``vad`` (float64,
        shape (28, 3): the normalised valence, arousal, dominance that drove each clip) and
        ``effects`` (SubjectEffects).
    """
    sc = SCALES[scale]
    rng = np.random.default_rng([int(seed), _STREAM, int(subject)])
    effects = draw_subject_effects(rng, subject, snr=snr)
    classes = np.asarray(FACED_CLIP_CLASSES)
    n = len(classes)
    va = np.clip(CLASS_VA[classes] + rng.normal(0.0, _JITTER, (n, 2)), -1.0, 1.0)
    vad = np.column_stack([va, rng.uniform(-0.6, 0.6, n)])
    eeg = simulate_eeg(rng, vad, FACED_CH_NAMES, FACED_SFREQ, sc.n_times, effects,
                       line_freq=None, blinks=False, passband=_PASSBAND)
    eeg -= eeg.mean(axis=1, keepdims=True)  # common average reference
    ratings = _ratings(rng, va, classes)
    presentation = rng.permutation(n) + 1
    return {"data": eeg, "ratings": ratings, "presentation": presentation, "vad": vad, "effects": effects}


# --------------------------------------------------------------------------------------------
# pickle of one numpy array
# --------------------------------------------------------------------------------------------
def _unicode(s: str) -> bytes:
    b = s.encode("ascii")
    return b"\x8c" + bytes([len(b)]) + b  # SHORT_BINUNICODE


def _global(module: str, name: str) -> bytes:
    return _unicode(module) + _unicode(name) + b"\x93"  # STACK_GLOBAL


def _int(v: int) -> bytes:
    if v < 256:
        return b"K" + bytes([v])
    if v < 65536:
        return b"M" + struct.pack("<H", v)
    return b"J" + struct.pack("<i", v)


def write_array_pickle(f, arr: np.ndarray) -> None:
    """Write ``arr`` as ``pickle.dump(arr, f, protocol=4)`` does for a numpy 1.x array.

    Parameters
    ----------
    f : binary file object
    arr : ndarray, any shape
        Stored as little-endian float64 in C order.

    Notes
    -----
    ``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')``, then a ``BUILD`` with
    the state ``(1, shape, dtype('f8'), False, <raw bytes>)``; the raw bytes go from the
    array's buffer straight to the file. No frames and no memo: both are optional.
    """
    arr = np.ascontiguousarray(arr, dtype="<f8")
    f.write(b"\x80\x04" + _global("numpy.core.multiarray", "_reconstruct") + _global("numpy", "ndarray"))
    f.write(_int(0) + b"\x85" + b"C\x01b" + b"\x87R")
    f.write(b"(" + _int(1) + b"(" + b"".join(_int(d) for d in arr.shape) + b"t")
    f.write(_global("numpy", "dtype") + _unicode("f8") + b"\x89\x88\x87R")
    f.write(b"(" + _int(3) + _unicode("<") + b"NNN" + b"J\xff\xff\xff\xff" * 2 + _int(0) + b"tb")
    f.write(b"\x89" + b"\x8e" + struct.pack("<Q", arr.nbytes))
    f.write(memoryview(arr).cast("B"))
    f.write(b"tb.")


# --------------------------------------------------------------------------------------------
# writer
# --------------------------------------------------------------------------------------------
def _write_remarks(fname: Path, subj: dict) -> None:
    """``After_remarks.mat``: 1 x 28 cell of structs in presentation order."""
    cells = np.empty((1, len(subj["presentation"])), dtype=object)
    for pos, vid in enumerate(subj["presentation"]):
        cells[0, pos] = {"score": subj["ratings"][vid - 1][None, :], "vid": float(vid)}
    savemat_atomic(fname, {RATINGS_VAR: cells}, do_compression=False)


def write(out, scale: str = "demo", seed: int = 0, snr: float | None = None) -> Path:
    """Write a simulated FACED copy below ``out``; return ``out/faced`` (what ``read_faced`` takes).

    One subject is generated and written at a time; every file goes to a temporary name and is
    renamed when complete.
    """
    sc = SCALES[scale]
    root = Path(out) / ROOT_NAME
    cards = []
    for subject in progress_range(1, sc.n_subjects + 1, "simulate faced"):
        subj = simulate_subject(seed, subject, scale, snr)
        name = f"sub{subject - 1:03d}"
        with atomic_path(root / DATA_DIR / f"{name}.pkl") as tmp, open(tmp, "wb") as f:
            write_array_pickle(f, subj["data"])
        _write_remarks(root / RATINGS_DIR / name / RATINGS_NAME, subj)
        cards.append({**subj["effects"].to_dict(), "subject": subject, "faced_id": name,
                      "vad": subj["vad"].tolist(), "ratings": subj["ratings"].tolist(),
                      "presentation": subj["presentation"].tolist()})
        del subj
    write_sidecar(out, "faced", scale, seed, cards, snr=snr, sfreq=FACED_SFREQ, n_trials=len(FACED_CLIP_CLASSES),
                  n_times=sc.n_times, rating_items=list(FACED_RATING_ITEMS), trial_order="video index")
    return root
