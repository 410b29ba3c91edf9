"""A checked parse of a BioSemi BDF header, before MNE is asked to read the file.

MNE's EDF/BDF reader trusts its header: a blank or non-numeric field raises a bare ``ValueError``,
a negative signal count makes it read the whole file as the header, a zero physical or digital
range is replaced by 1 with a warning (silently wrong samples), and a non-UTF-8 byte in a reserved
field raises ``UnicodeDecodeError``. :func:`read_bdf_header` checks every field MNE uses and raises
:class:`~neuroaffect._utils.DatasetFormatError` naming the file, the field and what it holds.

Header layout (European Data Format, BioSemi's 24-bit variant; see ``docs/formats.md``,
MAHNOB-HCI section): 256 bytes of global fields, then for ``ns`` signals: label 16 bytes,
transducer 80, physical dimension 8, physical minimum 8, physical maximum 8, digital minimum 8,
digital maximum 8, prefiltering 80, samples per record 8, reserved 32 (each field stored for all
signals in turn).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import DatasetFormatError

__all__ = ["BDF_DIGITAL_RANGE", "MAX_SIGNALS", "read_bdf_header"]

#: Range of a 24-bit two's-complement sample.
BDF_DIGITAL_RANGE = (-(2**23), 2**23 - 1)
#: Most signals a header may declare (BioSemi systems record at most 280 channels).
MAX_SIGNALS = 1024
_SIGNATURE = b"\xffBIOSEMI"
# (name, width in bytes) of each per-signal field, in file order.
_SIGNAL_FIELDS = (
    ("label", 16), ("transducer", 80), ("dimension", 8), ("physical_min", 8), ("physical_max", 8),
    ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80), ("n_samples", 8), ("reserved", 32),
)


def _text(raw: bytes) -> str:
    """A header field as MNE decodes it (latin-1, cut at the first NUL), stripped."""
    return raw.decode("latin-1").split("\x00")[0].strip()


def _number(fname, raw: bytes, what: str, integer: bool):
    text = _text(raw).replace(",", ".")
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        value = None
    if value is None or not np.isfinite(value):
        kind = "an integer" if integer else "a finite number"
        raise DatasetFormatError(fname, f"{what} as {kind} in the BDF header", repr(raw.decode("latin-1")))
    return value


def read_bdf_header(fname) -> dict:
    """Parse and check the header of a BioSemi BDF file.

    Parameters
    ----------
    fname : path-like
        The ``.bdf`` file.

    Returns
    -------
    header : dict
        ``labels`` (list of str, length n_signals), ``units`` (dict label -> physical dimension),
        ``sfreq`` (dict label -> Hz), ``physical_range`` and ``digital_range`` (dict label ->
        (min, max)), ``n_records`` (int), ``record_s`` (float, seconds per data record),
        ``n_bytes`` (header size).

    Raises
    ------
    DatasetFormatError
        Not a BioSemi file, a header field that is blank, non-numeric or out of range, a zero
        physical or digital range, a digital range beyond 24 bits, a non-ASCII reserved field, or
        a file size other than the header plus the declared data records; the message names
        the file and the field.
    """
    fname = Path(fname)
    size = fname.stat().st_size
    with open(fname, "rb") as f:
        head = f.read(256)
        if len(head) < 256 or head[:8] != _SIGNATURE:
            raise DatasetFormatError(fname, "a BioSemi BDF file (header starting with "
                                     "b'\\xffBIOSEMI')", f"{head[:8]!r} ({size} bytes)")
        n_bytes = _number(fname, head[184:192], "the header size (bytes 184-191)", True)
        n_records = _number(fname, head[236:244], "the number of data records (bytes 236-243)", True)
        duration = _number(fname, head[244:252], "the data record duration (bytes 244-251)", False)
        n_sig = _number(fname, head[252:256], "the number of signals (bytes 252-255)", True)
        if not 1 <= n_sig <= MAX_SIGNALS:
            raise DatasetFormatError(fname, f"a number of signals in 1..{MAX_SIGNALS} (bytes 252-255)",
                                     f"{n_sig}")
        if n_bytes != 256 * (n_sig + 1):
            raise DatasetFormatError(fname, f"a complete BDF header of {256 * (n_sig + 1)} bytes",
                                     f"{size} bytes with header size field {n_bytes}")
        rest = f.read(256 * n_sig)
    if len(rest) < 256 * n_sig:
        raise DatasetFormatError(fname, f"a complete BDF header of {n_bytes} bytes",
                                 f"{size} bytes with header size field {n_bytes}")
    if duration <= 0:
        raise DatasetFormatError(fname, "a positive data record duration (bytes 244-251)", f"{duration:g} s")
    if n_records < 1:
        raise DatasetFormatError(fname, "at least one data record (bytes 236-243)", f"{n_records}")
    fields, offset = {}, 0
    for name, width in _SIGNAL_FIELDS:
        fields[name] = [rest[offset + i * width: offset + (i + 1) * width] for i in range(n_sig)]
        offset += n_sig * width
    labels = [_text(x) for x in fields["label"]]
    for i, raw in enumerate(fields["reserved"]):
        if not raw.isascii():
            raise DatasetFormatError(fname, f"ASCII text in the reserved field of signal {i} "
                                     f"({labels[i]!r})", f"{raw!r}")
    numbers = {
        name: [_number(fname, raw, f"{name} of signal {i} ({labels[i]!r})", name == "n_samples")
               for i, raw in enumerate(fields[name])]
        for name in ("physical_min", "physical_max", "digital_min", "digital_max", "n_samples")
    }
    lo, hi = BDF_DIGITAL_RANGE
    for i, label in enumerate(labels):
        pmin, pmax = numbers["physical_min"][i], numbers["physical_max"][i]
        dmin, dmax = numbers["digital_min"][i], numbers["digital_max"][i]
        if pmin == pmax:
            raise DatasetFormatError(fname, f"physical_min != physical_max for signal {i} ({label!r})",
                                     f"both {pmin:g}")
        if not lo <= dmin < dmax <= hi:
            raise DatasetFormatError(
                fname, f"{lo} <= digital_min < digital_max <= {hi} (24 bits) for signal {i} ({label!r})",
                f"digital_min {dmin:g}, digital_max {dmax:g}",
            )
        if not 1 <= numbers["n_samples"][i] <= size:
            raise DatasetFormatError(fname, f"1 to {size} (the file size) samples per data record "
                                     f"for signal {i} ({label!r})", f"{numbers['n_samples'][i]}")
    expected = n_bytes + n_records * sum(numbers["n_samples"]) * 3
    if size != expected:
        raise DatasetFormatError(
            fname, f"{n_records} data records of {duration:g} s ({expected} bytes) as the header "
            f"declares", f"{size} bytes (truncated or padded file)",
        )
    units = [_text(x) for x in fields["dimension"]]
    return {
        "labels": labels, "units": dict(zip(labels, units)),
        "sfreq": {lab: n / duration for lab, n in zip(labels, numbers["n_samples"])},
        "physical_range": {lab: (numbers["physical_min"][i], numbers["physical_max"][i])
                           for i, lab in enumerate(labels)},
        "digital_range": {lab: (numbers["digital_min"][i], numbers["digital_max"][i])
                          for i, lab in enumerate(labels)},
        "n_records": n_records, "record_s": duration, "n_bytes": n_bytes,
    }
