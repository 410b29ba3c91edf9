"""The SEED-V targets of the fault suite: ``EEG_raw/1_<session>_<date>.cnt`` and ``EEG_DE_features/1_123.npz``.

Raw: one subject's three Neuroscan CNT sessions of 0.6 s (66 channels, 1000 Hz, 16-bit), whose 15
clips of 20 samples each are declared in ``simulation.json`` as the simulator does; corrupted by
truncation, flipped bytes (the sample block and the channel records' calibration, sensitivity and
baseline are values without a checksum), an emptied or renamed file, and rewritten headers: 61 or 67
channels, a repeated or unknown channel, 500 Hz, a session shorter than its last clip, a huge
calibration, a flat channel, a blocked channel offset. Features: one subject's DE archive; corrupted
by truncation, flipped bytes (zip CRCs catch them), an emptied or renamed file, and rewritten
entries: a missing entry, an object array, an unsafe pickle, other keys, shapes, NaN, wrong labels.
"""

from __future__ import annotations

import functools
import io
import json
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from .mutate import Mutation, Target, empty, flip, rename, rewrite, truncate

__all__ = ["SEEDV_CNT", "SEEDV_NPZ", "seedv_target", "seedv_features_target"]

SEEDV_CNT = "EEG_raw/1_1_20180401.cnt"
SEEDV_NPZ = "EEG_DE_features/1_123.npz"
_N = 600  # samples per session file
_STARTS = [0.02 + 0.035 * k for k in range(15)]
_CARD = {"dataset": "seed-v", "trial_seconds": {str(s): {"start": _STARTS, "end": [a + 0.02 for a in _STARTS]}
                                                for s in (1, 2, 3)}}


@functools.lru_cache(maxsize=4)
def _signal(n_chans: int, session: int) -> np.ndarray:
    x = np.random.default_rng(session).normal(0.0, 20.0, (n_chans, _N))
    x.flags.writeable = False
    return x


def _write(f: Path, names=None, sfreq=1000.0, n=_N, signal=None) -> None:
    from neuroaffect.simulate.seedv import CNT_CH_NAMES, write_cnt

    names = CNT_CH_NAMES if names is None else names
    x = _signal(len(names), 1)[:, :n] if signal is None else signal
    write_cnt(f, [x], names, sfreq, "20180401", n)


def _build(folder: Path) -> Path:
    from neuroaffect.simulate.seedv import CNT_CH_NAMES, write_cnt

    root = Path(folder) / "seed_v"
    for session in (1, 2, 3):
        date = f"2018040{session}"
        write_cnt(root / "EEG_raw" / f"1_{session}_{date}.cnt", [_signal(len(CNT_CH_NAMES), session)],
                  CNT_CH_NAMES, 1000.0, date, _N)
    (Path(folder) / "simulation.json").write_text(json.dumps(_CARD))
    return root


def _value_regions(raw: bytes) -> list:
    """The sample block and each channel record's baseline, sensitivity and calibration."""
    n_chans = struct.unpack_from("<H", raw, 370)[0] if len(raw) > 372 else 0
    out = [(900 + 75 * n_chans, len(raw) - 9 - 900 - 75 * n_chans)]
    for k in range(n_chans):
        at = 900 + 75 * k
        out += [(at + 47, 2), (at + 59, 4), (at + 71, 4)]
    return out


def _cnt_edit(label: str, fn) -> Mutation:
    def apply_fn(f: Path, draw) -> str:
        fn(f, draw)
        return label
    return rewrite(label.split("-")[0], SEEDV_CNT, apply_fn)


def _names(change):
    def fn(f, draw):
        from neuroaffect.simulate.seedv import CNT_CH_NAMES

        _write(f, names=change(list(CNT_CH_NAMES), draw))
    return fn


def _replace(names: list, k: int, new: list) -> list:
    """``names`` with SEED's ``k``-th channel (0-61) replaced by ``new`` (nothing: dropped)."""
    from neuroaffect.channels import SEED_CH_NAMES

    i = names.index(SEED_CH_NAMES[k])
    return names[:i] + new + names[i + 1:]


def _patch(offset_fn, fmt, value):
    def fn(f, draw):
        raw = bytearray(f.read_bytes())
        struct.pack_into(fmt, raw, offset_fn(draw), value)
        f.write_bytes(bytes(raw))
    return fn


def _eeg_record(draw) -> int:
    """Index of the channel record of one of SEED's 62 EEG channels in the simulated CNT."""
    from neuroaffect.channels import SEED_CH_NAMES
    from neuroaffect.simulate.seedv import CNT_CH_NAMES

    return CNT_CH_NAMES.index(SEED_CH_NAMES[draw(0, 61)])


def _flat(f, draw):
    from neuroaffect.simulate.seedv import CNT_CH_NAMES

    from neuroaffect.channels import SEED_CH_NAMES

    x = np.array(_signal(len(CNT_CH_NAMES), 1))
    x[CNT_CH_NAMES.index(SEED_CH_NAMES[draw(0, 61)])] = 3.0
    _write(f, signal=x)


def seedv_target() -> Target:
    """The SEED-V reader on raw CNT sessions (name ``"seed-v"``)."""
    from neuroaffect.io.seedv import read_seedv

    muts = [
        truncate(SEEDV_CNT), flip(SEEDV_CNT, _value_regions, 3), empty(SEEDV_CNT),
        rename(SEEDV_CNT, "1_1_20180401.cnt.bak"),
        _cnt_edit("shape-channels-61", _names(lambda n, d: _replace(n, d(0, 61), []))),
        _cnt_edit("shape-channels-67", _names(lambda n, d: n + ["EKG"])),
        _cnt_edit("key-channel-repeated", _names(lambda n, d: n[:-1] + [n[d(0, 61)]])),
        _cnt_edit("key-channel-unknown", _names(lambda n, d: _replace(n, d(0, 61), ["XX"]))),
        _cnt_edit("value-rate-500", lambda f, d: _write(f, sfreq=500.0)),
        _cnt_edit("size-short-session", lambda f, d: _write(f, n=d(100, 500))),
        # on one of the 62 EEG channels the reader keeps (M1, M2, VEO and HEO are dropped, so a fault there is
        # rightly read through)
        _cnt_edit("value-calibration-huge", _patch(lambda d: 900 + 75 * _eeg_record(d) + 71, "<f", 1e9)),
        _cnt_edit("value-calibration-nan", _patch(lambda d: 900 + 75 * _eeg_record(d) + 71, "<f", float("nan"))),
        _cnt_edit("value-flat", _flat),
        _cnt_edit("value-channel-offset", _patch(lambda d: 894, "<i", 66 * 2)),
        _cnt_edit("value-rate-0", _patch(lambda d: 376, "<H", 0)),
    ]
    return Target("seed-v", _build, lambda root: read_seedv(root), tuple(muts))


# -- DE features ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _de_cached():
    from neuroaffect.labels import SEED_V_LABELS

    rng = np.random.default_rng(0)
    classes = [c for s in SEED_V_LABELS for c in s]
    return tuple(rng.normal(0.0, 1.0, (2, 310)) for _ in classes), tuple(np.full(2, float(c)) for c in classes)


def _build_features(folder: Path) -> Path:
    from neuroaffect.simulate.seedv import write_de_npz

    de, lab = _de_cached()
    root = Path(folder) / "seed_v"
    write_de_npz(root / SEEDV_NPZ, [x.reshape(2, 62, 5) for x in de], list(lab))
    return root


def _npz_edit(label: str, entries_fn) -> Mutation:
    """Rewrite the archive as ``entries_fn(data dict, label dict, draw) -> {entry: array}``."""
    def apply_fn(f: Path, draw) -> str:
        de, lab = _de_cached()
        entries = entries_fn({k: x.copy() for k, x in enumerate(de)}, {k: y.copy() for k, y in enumerate(lab)}, draw)
        with zipfile.ZipFile(f, "w") as z:
            for k, v in entries.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, v, allow_pickle=True)
                z.writestr(f"{k}.npy", buf.getvalue())
        return label
    return rewrite(label.split("-")[0], SEEDV_NPZ, apply_fn)


def _pk(obj) -> np.ndarray:
    return np.array(pickle.dumps(obj, protocol=4))


class _Gadget:
    def __reduce__(self):
        return (print, ("gadget ran",))


def _set(key, value):
    def fn(d, y, draw):
        d[draw(0, 44)][draw(0, 1), draw(0, 309)] = value
        return {"data": _pk(d), "label": _pk(y)}
    return fn


def _drop_trial(d, y, draw):
    d.pop(draw(0, 44))
    return {"data": _pk(d), "label": _pk(y)}


def _label(d, y, draw):
    k = draw(0, 44)
    y[k] = (y[k] + 1.0) % 5
    return {"data": _pk(d), "label": _pk(y)}


def seedv_features_target() -> Target:
    """The SEED-V reader on DE archives (name ``"seed-v-features"``)."""
    from neuroaffect.io.seedv import read_seedv

    muts = [
        truncate(SEEDV_NPZ), flip(SEEDV_NPZ, None, 3), empty(SEEDV_NPZ), rename(SEEDV_NPZ, "1_123.npz.bak"),
        _npz_edit("key-label-missing", lambda d, y, draw: {"data": _pk(d)}),
        _npz_edit("key-trial-missing", _drop_trial),
        _npz_edit("key-trial-text", lambda d, y, draw: {"data": _pk({str(k): v for k, v in d.items()}), "label": _pk(y)}),
        _npz_edit("dtype-object-array", lambda d, y, draw: {"data": np.array([d], dtype=object), "label": _pk(y)}),
        _npz_edit("dtype-gadget", lambda d, y, draw: {"data": _pk({0: _Gadget()}), "label": _pk(y)}),
        _npz_edit("shape-bands-4", lambda d, y, draw: {"data": _pk({k: v[:, :248] for k, v in d.items()}),
                                                         "label": _pk(y)}),
        _npz_edit("value-nan", _set("data", np.nan)), _npz_edit("value-label-wrong", _label),
    ]
    return Target("seed-v-features", _build_features, lambda root: read_seedv(root, source="features"), tuple(muts))
