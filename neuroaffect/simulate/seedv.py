"""Simulated SEED-V in its real layouts: raw Neuroscan CNT sessions and the DE-feature archives.

Layout (``write``)::

    out/seed_v/EEG_raw/<s>_<session>_<YYYYMMDD>.cnt    16-bit Neuroscan CNT, 1000 Hz, 66 channels
    out/seed_v/EEG_DE_features/<s>_123.npz             'data' / 'label': pickled dicts of 45 trials
    out/simulation.json                                planted effects, classes, trial seconds

CNT files: a 900-byte SETUP header, one 75-byte record per channel (label, position, baseline 0,
sensitivity 204.8 and calibration 0.1, i.e. 0.1 uV per count), the samples as little-endian int16
interleaved channel by channel (sample 1 of every channel, then sample 2, ...), then an empty
event table. ``mne.io.read_raw_cnt`` reads them. The channels are SEED's 62 electrodes with M1 and
M2 after TP7 and TP8 and VEO, HEO last (an order of our choosing: the reader picks by name).

DE archives: the real layout (0-d byte strings holding pickled dicts, docs/formats.md), written by a
restricted writer: it pickles only ``{int: C-contiguous float64 array}`` dicts (protocol 4, whose numpy
globals the reader's restricted unpickler admits) and checks the result by loading it back through
that unpickler. The zip members carry a fixed date so that a seed gives byte-identical files.

Signals are microvolts with no DC level; 50 Hz mains is added (the raw files are unfiltered).
Each clip's class (:data:`~neuroaffect.labels.SEED_V_LABELS`) sits at a circumplex position
(valence, arousal) plus jitter, which drives the planted band-power effects; the gaps between
clips are label-free. DE features are computed from an independent 200 Hz realisation of the same
clip ratings: 4-s windows, bands delta 1-4, theta 4-8, alpha 8-14, beta 14-31, gamma 31-50 Hz,
``0.5 * log(2 pi e var)`` of the band-limited signal in uV^2.

Scales:

=====  ========  ====================================================================
scale  subjects  clip seconds (every subject; three sessions, 15 clips each)
=====  ========  ====================================================================
tiny   2         1 s clips, 1 s apart, from 2 s (sessions of 32 s; about 4 MB per file)
demo   4         the real start and end seconds / 20 (sessions of 141-168 s)
full   16        the real start and end seconds (sessions of 47-56 min, about 440 MB)
=====  ========  ====================================================================

Measured on two shared cores: tiny 3 s (26 MB), demo 22 s (237 MB; peak memory 450 MB, one segment
of a session at a time); full about 21 GB (16 subjects x 3 sessions of about 440 MB).
"""

from __future__ import annotations

import functools
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._progress import progress_range
from .._utils import atomic_path
from ..channels import SEED_CH_NAMES, get_positions
from ..io._pickle import NumpyOnlyUnpickler
from ..io._seedv_cnt import CHANNEL_BYTES, SETUP_BYTES
from ..io.seedv import SEEDV_FEATURE_DIR, SEEDV_FEATURE_SFREQ, SEEDV_RAW_DIR, SEEDV_SFREQ, TRIAL_SECONDS
from ..labels import SEED_V_LABELS
from ._write import Scale, write_sidecar
from .eeg import simulate_eeg
from .effects import draw_subject_effects

__all__ = ["ROOT_NAME", "SCALES", "SeedVScale", "CNT_CH_NAMES", "write", "write_cnt", "write_de_npz", "session_date"]

ROOT_NAME = "seed_v"
#: Channels of the simulated CNT files, in file order.
CNT_CH_NAMES = (SEED_CH_NAMES[:33] + ("M1",) + SEED_CH_NAMES[33:41] + ("M2",) + SEED_CH_NAMES[41:]
                + ("VEO", "HEO"))
#: uV per count of the simulated files (calibration 0.1 x sensitivity 204.8 / 204.8).
_UV_PER_COUNT = 0.1
# Circumplex positions (valence, arousal) of the classes: disgust, fear, sad, neutral, happy.
_VA = np.array([[-0.7, 0.2], [-0.6, 0.7], [-0.6, -0.5], [0.0, 0.0], [0.7, 0.4]])
_BANDS = ((1.0, 4.0), (4.0, 8.0), (8.0, 14.0), (14.0, 31.0), (31.0, 50.0))
_WINDOW_S = 4.0
#: Seconds recorded after the last clip.
_TAIL_S = 2.0
# This dataset's own random stream (mixed into every subject's seed).
_STREAM = 105


@dataclass(frozen=True)
class SeedVScale(Scale):
    """Size of a simulated SEED-V copy.

    Attributes
    ----------
    n_subjects : int
    trial_seconds : dict of int -> (tuple of float, tuple of float)
        Per session, the start and end (s) of its 15 clips from the start of the file.
    """

    trial_seconds: dict


def _tiny_times():
    starts = tuple(2.0 + 2.0 * k for k in range(15))
    return {s: (starts, tuple(a + 1.0 for a in starts)) for s in (1, 2, 3)}


SCALES = SeedVScale.table(
    tiny=SeedVScale(2, _tiny_times()),
    demo=SeedVScale(4, {s: (tuple(a / 20 for a in v[0]), tuple(b / 20 for b in v[1]))
                        for s, v in TRIAL_SECONDS.items()}),
    full=SeedVScale(16, {s: (tuple(map(float, v[0])), tuple(map(float, v[1]))) for s, v in TRIAL_SECONDS.items()}),
)


def session_date(subject: int, session: int) -> str:
    """A placeholder recording date ``YYYYMMDD`` (the real dates are not listed publicly)."""
    import datetime

    day = datetime.date(2018, 4, 2) + datetime.timedelta(days=7 * (subject - 1) + 10 * (session - 1))
    return day.strftime("%Y%m%d")


# -- CNT ------------------------------------------------------------------------------------------
def _setup_header(n_chans: int, n_samples: int, sfreq: float, date: str) -> bytes:
    h = bytearray(SETUP_BYTES)
    h[0:12] = b"Version 3.0\0"
    h[225:235] = f"{date[4:6]}/{date[6:8]}/{date[2:4]}".encode().ljust(10, b"\0")
    h[235:247] = b"10:00:00".ljust(12, b"\0")
    struct.pack_into("<H", h, 370, n_chans)
    struct.pack_into("<H", h, 376, int(sfreq))
    struct.pack_into("<i", h, 864, n_samples)
    data_bytes = n_samples * n_chans * 2
    struct.pack_into("<i", h, 886, SETUP_BYTES + CHANNEL_BYTES * n_chans + data_bytes)  # event table
    struct.pack_into("<f", h, 890, n_samples / sfreq)
    struct.pack_into("<i", h, 894, 0)  # channel offset: samples interleaved one by one
    return bytes(h)


def _channel_record(name: str, xy: np.ndarray) -> bytes:
    r = bytearray(CHANNEL_BYTES)
    r[0:10] = name.encode("ascii").ljust(10, b"\0")
    struct.pack_into("<ff", r, 19, float(xy[0]), float(xy[1]))
    struct.pack_into("<h", r, 47, 0)  # baseline
    struct.pack_into("<f", r, 59, 204.8)  # sensitivity
    struct.pack_into("<f", r, 71, _UV_PER_COUNT)  # calibration
    return bytes(r)


@functools.lru_cache(maxsize=8)
def _header_xy(ch_names: tuple) -> np.ndarray:
    """(n_chans, 2) header positions: template x, y (decimetres); (0, 0) for channels without one (EOG)."""
    try:
        return get_positions(ch_names)[:, :2] * 10.0
    except ValueError:
        out = np.zeros((len(ch_names), 2))
        for k, n in enumerate(ch_names):
            try:
                out[k] = get_positions((n,))[0, :2] * 10.0
            except ValueError:
                pass
        return out


def write_cnt(fname, segments, ch_names, sfreq: float, date: str, n_samples: int) -> Path:
    """Write a 16-bit Neuroscan CNT file from consecutive segments of one recording.

    Parameters
    ----------
    fname : path-like
        Target ``.cnt`` file (written atomically).
    segments : iterable of ndarray, shape (n_chans, n_times_i)
        The recording in microvolts, in order; their lengths add up to the file's samples.
        Values are rounded to 0.1 uV and clipped to the int16 range (+-3276.7 uV).
    ch_names : sequence of str, length n_chans
    sfreq : float
        Sampling rate in Hz (an integer).
    date : str
        Recording date ``YYYYMMDD`` for the header.
    n_samples : int
        Samples per channel the segments add up to (the header is written first; the segments
        are written as they come, one in memory at a time).

    Returns
    -------
    fname : Path
    """
    n_chans = len(ch_names)
    xy = _header_xy(tuple(ch_names))
    with atomic_path(fname) as tmp, open(tmp, "wb") as f:
        f.write(_setup_header(n_chans, n_samples, sfreq, date))
        f.write(b"".join(_channel_record(n, p) for n, p in zip(ch_names, xy)))
        written = 0
        for seg in segments:
            counts = np.clip(np.rint(seg / _UV_PER_COUNT), -32768, 32767).astype("<i2")
            f.write(np.ascontiguousarray(counts.T).tobytes())
            written += seg.shape[1]
        if written != n_samples:
            raise ValueError(f"{fname}: the segments hold {written} samples, but the header declares {n_samples}")
        f.write(struct.pack("<Bii", 1, 0, 0))  # TEEG: event type 1, no events
    return Path(fname)


# -- DE archives ---------------------------------------------------------------------------------
def _restricted_pickle(d: dict) -> bytes:
    """Pickle ``{int: float64 array}`` only, and check it loads through the restricted unpickler."""
    for k, v in d.items():
        if type(k) is not int or not isinstance(v, np.ndarray) or v.dtype != np.float64:
            raise TypeError(f"only {{int: float64 array}} dicts are written, got {k!r}: {type(v).__name__}")
    blob = pickle.dumps({k: np.ascontiguousarray(v) for k, v in d.items()}, protocol=4)
    NumpyOnlyUnpickler(io.BytesIO(blob), fname="<written DE pickle>").load()
    return blob


def write_de_npz(fname, de: list, window_labels: list) -> Path:
    """Write one subject's ``<s>_123.npz`` in SEED-V's layout.

    Parameters
    ----------
    fname : path-like
    de : list of ndarray, shape (n_windows_i, 62, 5)
        DE per trial (45 trials, session by session).
    window_labels : list of ndarray, shape (n_windows_i,)
        Class code per window.

    Returns
    -------
    fname : Path
    """
    entries = {
        "data": _restricted_pickle({k: x.reshape(x.shape[0], -1).astype(np.float64) for k, x in enumerate(de)}),
        "label": _restricted_pickle({k: np.asarray(y, dtype=np.float64) for k, y in enumerate(window_labels)}),
    }
    with atomic_path(fname) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        for key, blob in entries.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array(blob, dtype=f"S{len(blob)}"), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())
    return Path(fname)


def _band_de(x: np.ndarray, sfreq: float) -> np.ndarray:
    """DE of (n_chans, n_times) uV in 4-s windows: shape (n_windows, n_chans, 5)."""
    n = int(_WINDOW_S * sfreq)
    w = x[:, : (x.shape[1] // n) * n].reshape(x.shape[0], -1, n).transpose(1, 0, 2)
    spec = np.abs(np.fft.rfft(w, axis=-1)) ** 2 * 2.0 / n**2
    f = np.fft.rfftfreq(n, 1.0 / sfreq)
    var = np.stack([spec[..., (f >= lo) & (f < hi)].sum(-1) for lo, hi in _BANDS], axis=-1)
    return 0.5 * np.log(2 * np.pi * np.e * np.maximum(var, 1e-12))


# -- sessions ------------------------------------------------------------------------------------
def _extras(rng, x: np.ndarray) -> np.ndarray:
    """VEO and HEO (uV) from the frontal channels of ``x`` (SEED's 62 then M1, M2), plus noise."""
    i = {n: k for k, n in enumerate(SEED_CH_NAMES)}
    veo = 3.0 * x[i["FP1"]] + rng.normal(0.0, 5.0, x.shape[1])
    heo = 2.0 * (x[i["F7"]] - x[i["F8"]]) + rng.normal(0.0, 5.0, x.shape[1])
    return np.vstack([veo, heo])


def _to_file_order(x64: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """(66, n) in :data:`CNT_CH_NAMES` order from SEED's 62 + M1, M2 (rows of ``x64``) and VEO, HEO."""
    names = SEED_CH_NAMES + ("M1", "M2")
    idx = {n: k for k, n in enumerate(names)}
    return np.vstack([x64[[idx[n] for n in CNT_CH_NAMES[:-2]]], extra])


def _session_segments(rng, effects, vad: np.ndarray, starts, ends, sfreq: float):
    """Yield the session's consecutive segments (66, n) in uV: gap, clip 1, gap, clip 2, ..."""
    names = SEED_CH_NAMES + ("M1", "M2")
    gain = np.exp(rng.normal(0.0, 0.08, size=(len(names), 1)))
    t = 0
    bounds = [(round(a * sfreq), round(b * sfreq)) for a, b in zip(starts, ends)]
    for k, (a, b) in enumerate(bounds):
        for n, row in ((a - t, np.full(3, np.nan)), (b - a, vad[k])):
            if n > 0:
                x = simulate_eeg(rng, row[None], names, sfreq, n, effects, line_freq=50.0)[0] * gain
                yield _to_file_order(x, _extras(rng, x))
        t = b
    tail = round(_TAIL_S * sfreq)
    x = simulate_eeg(rng, np.full((1, 3), np.nan), names, sfreq, tail, effects, line_freq=50.0)[0] * gain
    yield _to_file_order(x, _extras(rng, x))


def _session_features(rng, effects, vad, classes, starts, ends) -> tuple[list, list]:
    de, labels = [], []
    for k, (a, b) in enumerate(zip(starts, ends)):
        n_win = max(1, int((b - a) // _WINDOW_S))
        n = int(n_win * _WINDOW_S * SEEDV_FEATURE_SFREQ)
        x = simulate_eeg(rng, vad[k][None], SEED_CH_NAMES, SEEDV_FEATURE_SFREQ, n, effects, line_freq=None)[0]
        de.append(_band_de(x, SEEDV_FEATURE_SFREQ))
        labels.append(np.full(n_win, float(classes[k])))
    return de, labels


def write(out: Path, scale: str, seed: int, snr: float | None) -> Path:
    """Write ``out/seed_v/EEG_raw/``, ``out/seed_v/EEG_DE_features/`` and ``out/simulation.json``.

    Returns
    -------
    root : Path
        ``out/seed_v``: what :func:`neuroaffect.io.read_seedv` takes.
    """
    sc = SCALES[scale]
    root = Path(out) / ROOT_NAME
    cards = []
    for subject in progress_range(1, sc.n_subjects + 1, "simulate seed-v"):
        rng = np.random.default_rng([int(seed), _STREAM, int(subject)])
        effects = draw_subject_effects(rng, subject, snr=snr)
        sessions, de, window_labels = [], [], []
        for session in (1, 2, 3):
            classes = np.asarray(SEED_V_LABELS[session - 1])
            va = np.clip(_VA[classes] + rng.normal(0.0, 0.1, (len(classes), 2)), -1.0, 1.0)
            vad = np.column_stack([va, rng.uniform(-0.6, 0.6, len(classes))])
            starts, ends = sc.trial_seconds[session]
            date = session_date(subject, session)
            write_cnt(root / SEEDV_RAW_DIR / f"{subject}_{session}_{date}.cnt",
                      _session_segments(rng, effects, vad, starts, ends, SEEDV_SFREQ), CNT_CH_NAMES,
                      SEEDV_SFREQ, date, round(ends[-1] * SEEDV_SFREQ) + round(_TAIL_S * SEEDV_SFREQ))
            d, y = _session_features(rng, effects, vad, classes, starts, ends)
            de += d
            window_labels += y
            sessions.append({"session": session, "date": date, "labels": classes.tolist(), "vad": vad.tolist()})
        write_de_npz(root / SEEDV_FEATURE_DIR / f"{subject}_123.npz", de, window_labels)
        cards.append({"subject": subject, **effects.to_dict(), "sessions": sessions})
    times = {str(s): {"start": list(a), "end": list(b)} for s, (a, b) in sc.trial_seconds.items()}
    write_sidecar(out, "seed-v", scale, seed, subjects=cards, snr=snr, sfreq=SEEDV_SFREQ, trial_seconds=times)
    return root
