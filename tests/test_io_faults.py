"""Faults an independent probe found in the EEG readers: every one ends in DatasetFormatError.

Foreign exceptions (``OverflowError``, ``UnicodeDecodeError``, ``csv.Error``, ``LookupError``, MNE's
own ``ValueError``) must not escape a reader, and finite but absurd signals must not pass as data
(see ``docs/formats.md``, "Plausibility").
"""

from __future__ import annotations

import csv
import datetime

import numpy as np
import pytest

from neuroaffect._utils import DatasetFormatError
from neuroaffect.channels import MAHNOB_CH_NAMES
from neuroaffect.io.deap import RATINGS_HEADER, read_deap, read_participant_ratings
from neuroaffect.io.dreamer import read_dreamer
from neuroaffect.io.mahnob import read_mahnob, read_session_xml
from neuroaffect.simulate import dreamer as sim_dreamer
from neuroaffect.simulate.mahnob import write_bdf, write_session_xml

FS = 256
N_SIG = len(MAHNOB_CH_NAMES) + 1  # + Status


def _refused(call, fname, *fragments):
    """Run ``call``; it must raise DatasetFormatError naming ``fname`` and holding ``fragments``."""
    with pytest.raises(DatasetFormatError) as err:
        call()
    msg = str(err.value)
    assert msg.startswith(f"{fname}: expected "), msg
    assert ", but found " in msg, msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


# --------------------------------------------------------------------------------------------
# DEAP participant_ratings.csv
# --------------------------------------------------------------------------------------------
def _ratings_csv(tmp_path, row=None, raw: bytes | None = None):
    f = tmp_path / "participant_ratings.csv"
    if raw is not None:
        f.write_bytes(raw)
        return f
    good = [1, 1, 1, 1000000, 5.0, 5.0, 5.0, 5.0, 3]
    with open(f, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(RATINGS_HEADER)
        w.writerow(good if row is None else row)
    return f


@pytest.mark.parametrize("row, fragments", [
    ([1, 1, 1, "inf", 5, 5, 5, 5, 3], ("Start_time a finite number", "'inf'")),  # OverflowError
    ([1, 1, 1, "1e30", 5, 5, 5, 5, 3], ("Start_time", "'1e30'")),  # OverflowError in int64
    ([1, "9" * 400, 1, 1000, 5, 5, 5, 5, 3], ("Trial an integer in 1..", "(400 characters)")),
    (["9" * 30, 1, 1, 1000, 5, 5, 5, 5, 3], ("Participant_id an integer in 1..",)),
    ([1, 1, 1, 1000, 5, 5, 5, 5, "inf"], ("Familiarity a finite number or empty", "'inf'")),
], ids=["inf-start", "huge-start", "400-digit-trial", "30-digit-participant", "inf-familiarity"])
def test_ratings_csv_numbers_that_overflow(tmp_path, row, fragments):
    f = _ratings_csv(tmp_path, row)
    _refused(lambda: read_participant_ratings(f), f, "on line 2", *fragments)


def test_ratings_csv_good_row_still_reads(tmp_path):
    t = read_participant_ratings(_ratings_csv(tmp_path))[1]
    assert t["start_time_us"].tolist() == [1000000] and t["ratings"].tolist() == [[5.0] * 4]


def test_ratings_csv_not_utf8(tmp_path):
    head = ",".join(RATINGS_HEADER).encode()
    f = _ratings_csv(tmp_path, raw=head + b"\n1,1,1,1000,5,5,5,5,\xff\xfe\n")
    _refused(lambda: read_participant_ratings(f), f, "as UTF-8 text", f"undecodable bytes at byte {len(head) + 20}")


def test_ratings_csv_field_over_the_csv_limit(tmp_path):
    f = _ratings_csv(tmp_path, [1, 1, 1, 1000, 5, 5, 5, 5, "7" * (200 * 1024)])
    _refused(lambda: read_participant_ratings(f), f, "a CSV table of short fields", "field larger than field limit")


def test_ratings_csv_error_reaches_read_deap(tmp_path):
    """Through the public reader too, the message names the CSV, not the .dat."""
    folder = tmp_path / "data_preprocessed_python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    import pickle
    (folder / "s01.dat").write_bytes(pickle.dumps(
        {"data": rng.normal(0, 10, (1, 40, 384 + 128)), "labels": np.full((1, 4), 5.0)}, protocol=2))
    f = _ratings_csv(tmp_path, [1, 1, 1, "inf", 5, 5, 5, 5, 3])
    _refused(lambda: read_deap(tmp_path), f, "Start_time")


# --------------------------------------------------------------------------------------------
# MAHNOB-HCI: BDF header fields and session.xml
# --------------------------------------------------------------------------------------------
def _session(tmp_path, n_s=4, pulses=(1, 3), attrs=None, sig=None, units=None, ranges=None):
    """One small MAHNOB session (2-s clip) under ``tmp_path``; return (bdf, xml)."""
    rng = np.random.default_rng(0)
    n = n_s * FS
    sig = rng.normal(0, 20, (len(MAHNOB_CH_NAMES), n)) if sig is None else sig
    status = np.full(n, 0x110000)
    for code, sec in enumerate(pulses, start=1):
        status[int(sec * FS): int(sec * FS) + 4] |= code
    d = tmp_path / "Sessions" / "2"
    bdf = write_bdf(d / "Part_1_S_Trial1_emotion.bdf", MAHNOB_CH_NAMES, sig,
                    units or ["uV"] * len(MAHNOB_CH_NAMES),
                    ranges or [(-262144, 262143)] * len(MAHNOB_CH_NAMES), FS, status,
                    datetime.datetime(2009, 6, 1))
    attrs = {"feltArsl": 5, "feltCtrl": 5, "feltPred": 5, "feltVlnc": 5} if attrs is None else attrs
    xml = write_session_xml(d / "session.xml", attrs, {"id": 1}, bdf.name)
    return bdf, xml


def _field_offset(field: str, signal: int) -> tuple[int, int]:
    """(byte offset, width) of a per-signal header field."""
    layout = (("label", 16), ("transducer", 80), ("dimension", 8), ("physical_min", 8),
              ("physical_max", 8), ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80),
              ("n_samples", 8), ("reserved", 32))
    off = 256
    for name, width in layout:
        if name == field:
            return off + signal * width, width
        off += N_SIG * width
    raise KeyError(field)


def _patch(bdf, offset, width, value: bytes):
    raw = bytearray(bdf.read_bytes())
    raw[offset: offset + width] = value.ljust(width)[:width]
    bdf.write_bytes(bytes(raw))


@pytest.mark.parametrize("where, value, fragments", [
    ((252, 4), b"-1", ("a number of signals in 1..1024", "found -1")),  # read the whole file as header
    ((236, 8), b"", ("the number of data records (bytes 236-243) as an integer",)),
    ((244, 8), b"nan", ("the data record duration (bytes 244-251) as a finite number",)),
    (("n_samples", 3), b"x", ("n_samples of signal 3 ('F7') as an integer",)),
    (("n_samples", 0), b"", ("n_samples of signal 0 ('Fp1') as an integer",)),
    (("physical_min", 0), b"abc", ("physical_min of signal 0 ('Fp1') as a finite number", "'abc     '")),
    (("physical_min", 5), b"", ("physical_min of signal 5",)),
    (("digital_max", 2), b"1e400", ("digital_max of signal 2 ('F3') as a finite number",)),
    (("physical_max", 0), b"-262144", ("physical_min != physical_max for signal 0 ('Fp1')",)),  # MNE: range 1
    (("digital_max", 0), b"-8388608", ("digital_min < digital_max", "(24 bits) for signal 0")),
    (("digital_min", 0), b"-9999999", ("digital_min < digital_max",)),
    (("reserved", 0), b"\xff\xfe", ("ASCII text in the reserved field of signal 0",)),  # UnicodeDecodeError
], ids=["n-signals-negative", "n-records-blank", "duration-nan", "n-samples-text", "n-samples-blank",
        "physical-min-text", "physical-min-blank", "digital-max-inf", "physical-range-zero",
        "digital-range-zero", "digital-min-beyond-24-bit", "reserved-not-ascii"])
def test_bdf_header_fields(tmp_path, where, value, fragments):
    bdf, _ = _session(tmp_path)
    offset, width = where if isinstance(where[0], int) else _field_offset(*where)
    _patch(bdf, offset, width, value)
    _refused(lambda: read_mahnob(tmp_path), bdf, *fragments)


def test_bdf_duplicate_channel_name(tmp_path):
    bdf, _ = _session(tmp_path)
    offset, width = _field_offset("label", MAHNOB_CH_NAMES.index("EXG5"))
    _patch(bdf, offset, width, b"Fp1")  # MNE would rename both to Fp1-0, Fp1-1
    _refused(lambda: read_mahnob(tmp_path), bdf, "each channel name once", "['Fp1']")


@pytest.mark.parametrize("encoding", [b"klingon", b"utf-32"])
def test_session_xml_unknown_encoding(tmp_path, encoding):
    _, xml = _session(tmp_path)
    xml.write_bytes(b'<?xml version="1.0" encoding="' + encoding + b'"?><session><subject id="1"/></session>')
    _refused(lambda: read_session_xml(xml), xml, "XML in an encoding Python knows")
    _refused(lambda: read_mahnob(tmp_path), xml)


# --------------------------------------------------------------------------------------------
# DREAMER
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dreamer_subjects():
    return [sim_dreamer.simulate_subject(0, 1, "tiny")]


@pytest.mark.parametrize("value", ["abc", "128"])
def test_dreamer_sampling_rate_as_text(tmp_path, dreamer_subjects, value):
    struct = sim_dreamer.make_dreamer_struct(dreamer_subjects)
    struct["EEG_SamplingRate"] = value
    path = sim_dreamer.savemat_atomic(tmp_path / "DREAMER.mat", {"DREAMER": struct})
    _refused(lambda: read_dreamer(path), path, "DREAMER.EEG_SamplingRate as a numeric scalar", f"text {value!r}")
