"""Neuroscan CNT files as SEED-V distributes them (``EEG_raw/<subject>_<session>_<YYYYMMDD>.cnt``).

Only what the SEED-V reader needs: a strict check of the 900-byte SETUP header, the 75-byte
channel records and the size of the sample block, then the samples of each trial through
:func:`mne.io.read_raw_cnt`. The offsets are those of the Neuroscan SETUP / ELECTLOC structures
(``docs/formats.md``, SEED-V). The header is checked here first so that a truncated or
mislabelled file fails with a message naming the file and the field, not with MNE's generic error.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError, check_regular_file

__all__ = ["SETUP_BYTES", "CHANNEL_BYTES", "CntHeader", "read_cnt_header", "read_cnt_trials"]

#: Size of the SETUP header (bytes).
SETUP_BYTES = 900
#: Size of one channel's ELECTLOC record (bytes).
CHANNEL_BYTES = 75
# SETUP offsets: number of channels (uint16), rate (uint16), samples (int32), event table position
# (int32), channel offset (int32: bytes per channel block; <= 1 means one sample per channel in turn).
_N_CHANS_AT, _RATE_AT, _N_SAMPLES_AT, _EVENTS_AT, _CH_OFFSET_AT = 370, 376, 864, 886, 894
#: Most channels a CNT header may declare before the file is taken as corrupt.
_MAX_CHANS = 512


@dataclass(frozen=True)
class CntHeader:
    """What the reader uses from a CNT file's header.

    Attributes
    ----------
    ch_names : tuple of str
        Channel labels as stored (upper-cased, stripped), length n_chans.
    sfreq : float
        Sampling rate in Hz.
    n_samples : int
        Samples per channel held by the file (from the size of the sample block).
    n_bytes : int
        Bytes per sample: 2 (16-bit file) or 4 (32-bit file).
    """

    ch_names: tuple
    sfreq: float
    n_samples: int
    n_bytes: int


def _open_regular(path: Path):
    check_regular_file(path, "a Neuroscan CNT file")
    return open(path, "rb")


def read_cnt_header(path) -> CntHeader:
    """Check a CNT file's header against its size and return its channels, rate and sizes.

    Parameters
    ----------
    path : path-like
        The ``.cnt`` file.

    Returns
    -------
    header : CntHeader

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DatasetFormatError
        If the file is shorter than its header and channel records, declares no or too many
        channels, a zero rate, an event table outside the file, a sample block whose size is
        not the header's samples x channels x 2 or 4 bytes (a truncated file), or a channel offset
        other than 0, 1 or the sample size (a blocked sample layout).
    """
    path = Path(path)
    with _open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        setup = f.read(SETUP_BYTES)
        if len(setup) < SETUP_BYTES:
            raise DatasetFormatError(path, f"a Neuroscan CNT file starting with its {SETUP_BYTES}-byte SETUP header",
                                     f"a file of {size} bytes (truncated or not a CNT file)")
        (n_chans,) = struct.unpack_from("<H", setup, _N_CHANS_AT)
        (rate,) = struct.unpack_from("<H", setup, _RATE_AT)
        (n_declared,) = struct.unpack_from("<i", setup, _N_SAMPLES_AT)
        (events_at,) = struct.unpack_from("<i", setup, _EVENTS_AT)
        (ch_offset,) = struct.unpack_from("<i", setup, _CH_OFFSET_AT)
        if not 0 < n_chans <= _MAX_CHANS or rate == 0:
            raise DatasetFormatError(path, f"a CNT header declaring 1-{_MAX_CHANS} channels and a non-zero rate",
                                     f"{n_chans} channels at {rate} Hz (not a Neuroscan CNT file?)")
        data_at = SETUP_BYTES + CHANNEL_BYTES * n_chans
        records = f.read(CHANNEL_BYTES * n_chans)
    if len(records) < CHANNEL_BYTES * n_chans or not data_at <= events_at <= size:
        raise DatasetFormatError(
            path, f"{n_chans} channel records and a sample block ending at the event table (byte {events_at})",
            f"a file of {size} bytes (truncated?)",
        )
    names = tuple(records[i * CHANNEL_BYTES: i * CHANNEL_BYTES + 10].split(b"\0", 1)[0].decode("latin1")
                  .strip().upper() for i in range(n_chans))
    n_data = events_at - data_at
    for n_bytes in (4, 2) if n_declared > 0 else ():
        if n_data == n_declared * n_chans * n_bytes:
            if ch_offset not in (0, 1, n_bytes):
                raise DatasetFormatError(
                    path, f"a channel offset of 0, 1 or {n_bytes} (samples interleaved channel by channel, "
                    "docs/formats.md)", f"{ch_offset} at byte {_CH_OFFSET_AT} (a blocked layout or a corrupt header)")
            return CntHeader(names, float(rate), int(n_declared), n_bytes)
    raise DatasetFormatError(
        path, f"a sample block of {n_declared} samples x {n_chans} channels x 2 or 4 bytes (the header's counts)",
        f"{n_data} bytes between the channel records and the event table (truncated or corrupt?)",
    )


def read_cnt_trials(path, header: CntHeader, picks: list, spans: list) -> list:
    """Samples of ``picks`` in each of ``spans``, in volts, through :func:`mne.io.read_raw_cnt`.

    Parameters
    ----------
    path : path-like
        The ``.cnt`` file (its header already checked by :func:`read_cnt_header`).
    header : CntHeader
    picks : list of int
        Channel indices to return, in the order wanted.
    spans : list of (int, int)
        ``(start, stop)`` sample indices of each trial, ``0 <= start < stop <= n_samples``.

    Returns
    -------
    trials : list of ndarray, shape (len(picks), stop - start)
        float64, volts (the file's integers times each channel's calibration).

    Raises
    ------
    DatasetFormatError
        If MNE cannot read the file.
    """
    import mne

    try:
        raw = mne.io.read_raw_cnt(path, data_format="int32" if header.n_bytes == 4 else "int16",
                                  preload=False, verbose="error")
        return [np.ascontiguousarray(raw.get_data(picks=picks, start=a, stop=b), dtype=np.float64)
                for a, b in spans]
    except Exception as err:  # MNE wraps header faults in RuntimeError; numpy raises ValueError
        raise DatasetFormatError(path, "a Neuroscan CNT file that mne.io.read_raw_cnt reads",
                                 f"{type(err).__name__}: {str(err)[:300]}") from None
