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
    ([1, 1, 1, "inf", 5, 5, 5, 5, 3], ("Start_time a number of microseconds in [0, 2**53]", "'inf'")),  # Overflow
    ([1, 1, 1, "-3", 5, 5, 5, 5, 3], ("Start_time a number of microseconds in [0, 2**53]", "'-3'")),
    ([1, 1, 1, "1e30", 5, 5, 5, 5, 3], ("Start_time", "'1e30'")),  # OverflowError in int64
    ([1, "9" * 400, 1, 1000, 5, 5, 5, 5, 3], ("Trial an integer in 1..", "(400 characters)")),
    (["9" * 30, 1, 1, 1000, 5, 5, 5, 5, 3], ("Participant_id an integer in 1..",)),
    ([1, 1, 1, 1000, 5, 5, 5, 5, "inf"], ("Familiarity in [1, 5] or empty", "'inf'")),
    ([1, 1, 1, 1000, 5, 5, 5, 5, "1e30"], ("Familiarity in [1, 5] or empty", "'1e30'")),
], ids=["inf-start", "negative-start", "huge-start", "400-digit-trial", "30-digit-participant", "inf-familiarity", "1e30-familiarity"])
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
def _session(tmp_path, n_s=4, pulses=(1, 3), attrs=None, sig=None, units=None, ranges=None, width=4):
    """One small MAHNOB session (2-s clip) under ``tmp_path``; return (bdf, xml)."""
    rng = np.random.default_rng(0)
    n = n_s * FS
    sig = rng.normal(0, 20, (len(MAHNOB_CH_NAMES), n)) if sig is None else sig
    status = np.full(n, 0x110000)
    for code, sec in enumerate(pulses, start=1):
        status[int(sec * FS): int(sec * FS) + width] |= code
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


# --------------------------------------------------------------------------------------------
# Plausibility: finite but absurd samples, flat channels, clip length, session count
# --------------------------------------------------------------------------------------------
def _dat(tmp_path, data, labels=None):
    import pickle

    folder = tmp_path / "data_preprocessed_python"
    folder.mkdir(exist_ok=True)
    f = folder / "s01.dat"
    labels = np.full((data.shape[0], 4), 5.0) if labels is None else labels
    f.write_bytes(pickle.dumps({"data": data, "labels": labels}, protocol=2))
    return f


def _deap_data(n_trials=2, seed=0):
    return np.random.default_rng(seed).normal(0, 10, (n_trials, 40, 384 + 256))


@pytest.mark.parametrize("value, fragments", [
    (1e300, ("EEG samples within +-10000 uV", "1e+300 uV in channel 'F3', trial 2")),
    (2e4, ("EEG samples within +-10000 uV", "2e+04 uV in channel 'F3', trial 2")),
], ids=["1e300", "20-mV"])
def test_deap_absurd_eeg_sample(tmp_path, value, fragments):
    data = _deap_data()
    data[1, 2, 500] = value  # channel 2 = F3, in the stimulus part
    f = _dat(tmp_path, data)
    _refused(lambda: read_deap(tmp_path), f, *fragments)


def test_deap_absurd_baseline_and_peripheral(tmp_path):
    data = _deap_data()
    data[0, 5, 10] = -1e300  # FC1, baseline part
    f = _dat(tmp_path, data)
    _refused(lambda: read_deap(tmp_path), f, "EEG baseline samples within", "channel 'FC1', trial 1")
    data = _deap_data()
    data[1, 36, 600] = 1e300  # GSR
    _dat(tmp_path, data)
    _refused(lambda: read_deap(tmp_path), f, "GSR samples within +-1e+09 Ohm", "channel 'GSR', trial 2")


def test_deap_flat_channel_and_all_zero_recording(tmp_path):
    data = _deap_data()
    data[1, 31, 384:] = 0.0  # O2 dead during trial 2's stimulus
    f = _dat(tmp_path, data)
    _refused(lambda: read_deap(tmp_path), f, "EEG channels that vary within each trial",
             "channel 'O2' constant at 0 uV throughout trial 2 (1 flat channel-trial(s))")
    _dat(tmp_path, np.zeros((2, 40, 384 + 256)))
    _refused(lambda: read_deap(tmp_path), f, "channel 'Fp1' constant at 0 uV throughout trial 1",
             "(64 flat channel-trial(s))")


def test_dreamer_absurd_and_flat_eeg(tmp_path, dreamer_subjects):
    subj = dict(dreamer_subjects[0])
    subj["eeg_stimuli"] = [x.copy() for x in subj["eeg_stimuli"]]
    subj["eeg_stimuli"][2][7, 3] = 1e300  # sample 7, channel 3 = FC5
    path = sim_dreamer.write_dreamer_mat(tmp_path / "DREAMER.mat", [subj])
    _refused(lambda: read_dreamer(path), path, "EEG samples within +-10000 uV",
             "channel 'FC5', DREAMER.Data{1}.EEG.stimuli{3}")
    subj["eeg_stimuli"][2][7, 3] = subj["eeg_stimuli"][2][6, 3]
    subj["eeg_baseline"] = [x.copy() for x in subj["eeg_baseline"]]
    subj["eeg_baseline"][0][:, 13] = 4200.0  # AF4 stuck at its DC level
    sim_dreamer.write_dreamer_mat(path, [subj])
    _refused(lambda: read_dreamer(path), path, "channel 'AF4' constant at 4200 uV throughout "
             "DREAMER.Data{1}.EEG.baseline{1}")


def _seed_folder(tmp_path, subjects=((1, "20131027"),), trial_fn=None):
    import scipy.io

    from neuroaffect.channels import SEED_PREFIXES
    from neuroaffect.labels import SEED_LABELS

    folder = tmp_path / "Preprocessed_EEG"
    folder.mkdir(exist_ok=True)
    scipy.io.savemat(folder / "label.mat", {"label": np.asarray(SEED_LABELS, float)[None]})
    rng = np.random.default_rng(0)
    paths = []
    for subject, date in subjects:
        trials = {f"{SEED_PREFIXES[subject - 1]}_eeg{k}": rng.normal(0, 20, (62, 201)) for k in range(1, 16)}
        if trial_fn is not None:
            trial_fn(trials)
        paths.append(folder / f"{subject}_{date}.mat")
        scipy.io.savemat(paths[-1], trials)
    return folder, paths


def test_seed_absurd_and_flat_trial(tmp_path):
    from neuroaffect.io.seed import read_seed

    def absurd(trials):
        trials["djc_eeg4"][10, 50] = 1e300

    _, (path,) = _seed_folder(tmp_path, trial_fn=absurd)
    _refused(lambda: read_seed(tmp_path), path, "EEG samples within +-100000 uV",
             "channel 'F2', trial 4 ('djc_eeg4')")

    def flat(trials):
        trials["djc_eeg9"][61] = 0.0

    _seed_folder(tmp_path, trial_fn=flat)
    _refused(lambda: read_seed(tmp_path), path, "channel 'CB2' constant at 0 uV throughout trial 9 ('djc_eeg9')")


def test_seed_missing_and_extra_session(tmp_path):
    from neuroaffect.io.seed import read_seed

    complete = [(1, "20131027"), (1, "20131030"), (1, "20131107"),
                (2, "20140404"), (2, "20140413"), (2, "20140419")]
    folder, paths = _seed_folder(tmp_path, complete)
    assert [r.session_ids.max() for r in read_seed(tmp_path)] == [3, 3]
    paths[4].unlink()  # subject 2's second session lost
    msg = _refused(lambda: read_seed(tmp_path), folder, "3 session files for every subject, as for subject(s) [1]",
                   "2 for subject 2: ['2_20140404.mat', '2_20140419.mat']")
    assert "missing session" in msg
    _seed_folder(tmp_path, [(2, "20140413"), (1, "20131201")])  # subject 2 complete, subject 1 gets a fourth
    _refused(lambda: read_seed(tmp_path), folder, "at most 3 session files for subject 1", "4: [")


def test_seed_iv_subject_missing_from_a_session_folder(tmp_path):
    import scipy.io

    from neuroaffect.io.seed import read_seed

    rng = np.random.default_rng(0)
    root = tmp_path / "eeg_raw_data"
    for session in (1, 2, 3):
        for subject in (1, 2):
            if (session, subject) == (3, 2):
                continue
            (root / str(session)).mkdir(parents=True, exist_ok=True)
            scipy.io.savemat(root / str(session) / f"{subject}_2015090{session}.mat",
                             {f"cz_eeg{k}": rng.normal(0, 20, (62, 201)) for k in range(1, 25)})
    _refused(lambda: read_seed(tmp_path, variant="seed-iv"), root, "3 session files for every subject",
             "2 for subject 2: ['1/2_20150901.mat', '2/2_20150902.mat']")


def test_mahnob_spurious_event_against_cut_len(tmp_path):
    # Clip written as [1 s, 3 s) = 2 s and cutLenSec says 2: reads.
    _session(tmp_path, attrs={"cutLenSec": "2.00", "feltArsl": 5, "feltVlnc": 5})
    assert read_mahnob(tmp_path)[0].eeg.shape == (1, 32, 2 * FS)
    # A 3-s clip [1 s, 4 s) with a spurious event at 2.5 s: the first two events delimit 1.5 s.
    bdf, _ = _session(tmp_path, n_s=6, pulses=(1, 2.5, 4), attrs={"cutLenSec": "3.00", "feltArsl": 5})
    _refused(lambda: read_mahnob(tmp_path), bdf, "a clip of cutLenSec = 3 s (from session.xml, within 1 s)",
             "found 1.5 s between events at samples [256, 640, 1024]")
    _, xml = _session(tmp_path, attrs={"cutLenSec": "two"})
    _refused(lambda: read_mahnob(tmp_path), xml, "cutLenSec a positive number of seconds", "'two'")


def test_mahnob_events_two_samples_apart(tmp_path):
    bdf, _ = _session(tmp_path, pulses=(1, 1 + 2 / FS), width=1)
    _refused(lambda: read_mahnob(tmp_path), bdf, "a clip of at least 1 s (256 samples)",
             "found 2 samples between events at samples [256, 258]")


@pytest.mark.parametrize("field, value, fragments", [
    ("physical_max", b"2.6e11", ("EEG samples within +-0.3 V", "in channel 'Fp1', trial 1")),  # gain x 1e6
    ("dimension", b"V", ("EEG samples within +-0.3 V", "in channel 'Fp1', trial 1")),  # uV written as V
    ("dimension", b"Ohm", ("EEG channel 'Fp1' in a voltage unit", "'Ohm'")),
], ids=["gain", "unit-V", "unit-Ohm"])
def test_mahnob_bad_gain_or_unit(tmp_path, field, value, fragments):
    bdf, _ = _session(tmp_path)
    offset, width = _field_offset(field, 0)
    _patch(bdf, offset, width, value)
    _refused(lambda: read_mahnob(tmp_path), bdf, *fragments)


def test_mahnob_flat_eeg_channel(tmp_path):
    sig = np.random.default_rng(0).normal(0, 20, (len(MAHNOB_CH_NAMES), 4 * FS))
    sig[MAHNOB_CH_NAMES.index("Cz")] = 0.0
    bdf, _ = _session(tmp_path, sig=sig)
    _refused(lambda: read_mahnob(tmp_path), bdf, "EEG channels that vary within each trial",
             "channel 'Cz' constant at")


# --------------------------------------------------------------------------------------------
# face manifests (found by tests/reliability/test_fuzz_readers.py)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def face_roots(tmp_path_factory):
    from neuroaffect.simulate import simulate

    out = tmp_path_factory.mktemp("faces")
    return {d: simulate(d, scale="tiny", out=out / d, seed=0) for d in ("ferplus", "affectnet-mini")}


def _copy_root(root, tmp_path):
    import shutil

    return shutil.copytree(root, tmp_path / root.name)


def _set_cell(fname, line: int, col: int, value: str):
    rows = list(csv.reader(fname.read_text().splitlines()))
    rows[line - 1][col] = value
    with open(fname, "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize("value", ["1e300", "11"])
def test_ferplus_vote_beyond_the_annotators(face_roots, tmp_path, value):
    from neuroaffect.io.faces import read_ferplus

    root = _copy_root(face_roots["ferplus"], tmp_path)
    f = root / "fer2013new.csv"
    _set_cell(f, 5, 11, value)  # column 'NF'; 1e300 was cast to int64 garbage
    _refused(lambda: read_ferplus(root), f, "whole numbers in [0, 10] in column 'NF'", f"{value!r} on line 5")


def test_affectnet_mini_absurd_cells(face_roots, tmp_path):
    from neuroaffect.io.faces import read_affectnet_mini

    root = _copy_root(face_roots["affectnet-mini"], tmp_path)
    f = root / "labels.csv"
    _set_cell(f, 3, 1, "7" * 400)  # a label code that is infinite as a float: OverflowError
    _refused(lambda: read_affectnet_mini(root), f, "an AffectNet expression code 0-7 in column 'label'", "on line 3")
    _set_cell(f, 3, 1, "fear")
    _set_cell(f, 4, 0, "7" * 5000)  # a path longer than the system allows: OSError ENAMETOOLONG
    with pytest.raises(FileNotFoundError) as err:
        read_affectnet_mini(root)
    assert str(err.value).startswith(f"{f}: expected every listed image to exist") and "characters)" in str(err.value)


def test_affectnet_mini_manifest_cut_inside_its_last_line(face_roots, tmp_path):
    from neuroaffect.io.faces import read_affectnet_mini

    root = _copy_root(face_roots["affectnet-mini"], tmp_path)
    f = root / "labels.csv"
    raw = f.read_bytes()
    cut = raw.rfind(b",", 0, raw.find(b"\n", raw.find(b"\n") + 1 + 200))  # inside a data line, before its arousal
    f.write_bytes(raw[:cut])
    _refused(lambda: read_affectnet_mini(root), f, "4 comma-separated fields on the last line", "found 3 on line")
