"""MAHNOB-HCI reader on simulated sessions in the real layout, and its error messages."""

import datetime
import json
import shutil

import mne
import numpy as np
import pytest

from neuroaffect._utils import DatasetFormatError
from neuroaffect.channels import MAHNOB_CH_NAMES, MAHNOB_EEG_CH_NAMES
from neuroaffect.labels import MAHNOB_LABELS
from neuroaffect.io import list_subjects
from neuroaffect.io.mahnob import read_mahnob
from neuroaffect.simulate import simulate
from neuroaffect.simulate.mahnob import SCALES, simulate_subject, write_bdf, write_session_xml

TINY = SCALES["tiny"]
FS = 256
LSB_UV = (262143 + 262144) / (2**24 - 1)  # BDF resolution of a microvolt channel
TOL_UV = 1.01 * LSB_UV  # the writer's physical-to-digital conversion truncates


@pytest.fixture(scope="module")
def root(sim_root):
    return sim_root("mahnob")


@pytest.fixture(scope="module")
def card(root):
    return json.loads((root.parent / "simulation.json").read_text())


@pytest.fixture(scope="module")
def recs(root):
    return read_mahnob(root)


# --------------------------------------------------------------------------------------------
# round trip
# --------------------------------------------------------------------------------------------
def test_layout_and_session_numbers(root, card):
    folders = sorted(int(p.name) for p in (root / "Sessions").iterdir())
    assert folders == list(range(2, 2 * TINY.n_subjects * TINY.n_sessions + 1, 2))
    for subj in card["subjects"]:
        for trial, folder in zip(subj["trials"], subj["session_folders"]):
            files = sorted(p.name for p in (root / "Sessions" / str(folder)).iterdir())
            assert files == [f"Part_{subj['subject']}_S_Trial{trial}_emotion.bdf", "session.xml"]


def test_round_trip_shapes_labels_and_unlabeled(card, recs):
    assert [r.subject for r in recs] == [1, 2]
    n_unlabeled = 0
    for rec, subj in zip(recs, card["subjects"]):
        assert rec.dataset == "mahnob" and rec.sfreq == 256.0 and rec.ch_names == MAHNOB_EEG_CH_NAMES
        assert rec.n_trials == TINY.n_sessions
        np.testing.assert_array_equal(rec.trial_ids, subj["trials"])
        np.testing.assert_array_equal(rec.session_ids, 1)
        np.testing.assert_array_equal(rec.info["session_folders"], subj["session_folders"])
        np.testing.assert_array_equal(rec.info["labeled"], subj["labeled"])
        written = np.array(subj["ratings"], dtype=float)
        for i, name in enumerate(MAHNOB_LABELS):
            lab = rec.labels[name]
            np.testing.assert_array_equal(lab[rec.info["labeled"]], written[rec.info["labeled"], i])
            assert np.isnan(lab[~rec.info["labeled"]]).all()
            assert rec.label_range[name] == (1.0, 9.0)
        n_unlabeled += int((~rec.info["labeled"]).sum())
        for trial, base in zip(rec.trials(), rec.baseline):
            assert trial.dtype == np.float64 and trial.shape[0] == 32
            assert TINY.clip_s[0] * FS <= trial.shape[1] <= TINY.clip_s[1] * FS
            assert trial.shape[1] % FS == 0
            assert base.shape == (32, TINY.margin_s * FS)  # everything before the onset (< 30 s)
        assert {k: (p.kind, p.unit, p.ch_names) for k, p in rec.peripheral.items()} == {
            "ecg": ("ecg", "uV", ("EXG1", "EXG2", "EXG3")), "gsr": ("gsr", "Ohm", ("GSR1",)),
            "resp": ("resp", "uV", ("Resp",)), "temp": ("temp", "degC", ("Temp",))}
        for p in rec.peripheral.values():
            assert p.sfreq == 256.0
            assert [np.shape(x)[1] for x in p.data] == list(rec.n_times)
            assert [np.shape(x)[1] for x in p.baseline] == [TINY.margin_s * FS] * rec.n_trials
    assert n_unlabeled == TINY.n_subjects * TINY.n_unlabeled


def test_signals_match_the_simulated_arrays(recs):
    rec = recs[0]
    subj = simulate_subject(0, 1, "tiny")
    for j, sig in enumerate(subj["signals"]):
        on, off = subj["onsets"][j], subj["offsets"][j]
        assert (rec.info["onsets"][j], rec.info["offsets"][j]) == (on, off)
        np.testing.assert_allclose(rec.eeg[j], sig[:32, on:off] * 1e-6, rtol=0, atol=TOL_UV * 1e-6)
        np.testing.assert_allclose(rec.baseline[j], sig[:32, :on] * 1e-6, rtol=0, atol=TOL_UV * 1e-6)
        exg = [MAHNOB_CH_NAMES.index(c) for c in ("EXG1", "EXG2", "EXG3")]
        np.testing.assert_allclose(rec.peripheral["ecg"].data[j], sig[exg, on:off], rtol=0, atol=TOL_UV)
        gsr = sig[MAHNOB_CH_NAMES.index("GSR1"), on:off]
        np.testing.assert_allclose(rec.peripheral["gsr"].data[j][0], gsr, rtol=0, atol=1.0)
        temp = sig[MAHNOB_CH_NAMES.index("Temp"), :on]
        np.testing.assert_allclose(rec.peripheral["temp"].baseline[j][0], temp, rtol=0, atol=2e-5)
    assert 5e-6 < np.std(rec.eeg[0]) < 1e-4  # raw EEG, tens of microvolts


def test_status_channel_carries_system_bits(root):
    bdf = next((root / "Sessions" / "2").glob("*.bdf"))
    raw = mne.io.read_raw_bdf(bdf, stim_channel="Status", verbose="error")
    unmasked = mne.find_events(raw, stim_channel="Status", shortest_event=1, verbose="error")
    masked = mne.find_events(raw, stim_channel="Status", mask=0xFFFF, mask_type="and",
                             shortest_event=1, verbose="error")
    np.testing.assert_array_equal(unmasked[:, 2], [0x10001, 0x10002])
    np.testing.assert_array_equal(masked[:, 2], [1, 2])
    assert raw.ch_names == list(MAHNOB_CH_NAMES) + ["Status"] and raw.info["sfreq"] == 256.0


def test_options_and_root_forms(root, recs):
    labeled = read_mahnob(root, include_unlabeled=False)
    for rec, full in zip(labeled, recs):
        assert rec.n_trials == int(full.info["labeled"].sum())
        assert not np.isnan(rec.labels["valence"]).any()
    only2 = read_mahnob(root / "Sessions", subjects=[2])
    assert [r.subject for r in only2] == [2]
    np.testing.assert_array_equal(only2[0].eeg[0], recs[1].eeg[0])
    assert list_subjects("mahnob", root) == [1, 2]
    with pytest.raises(FileNotFoundError, match=r"expected emotion sessions of participant\(s\) \[9\], but found only participants \[1, 2\]"):
        read_mahnob(root, subjects=[9])


def test_to_epochs_has_montage_positions(recs):
    rec = recs[0]
    with pytest.raises(ValueError, match="different lengths"):
        rec.to_epochs()
    epochs = rec.to_epochs(crop=True)
    assert isinstance(epochs, mne.EpochsArray) and len(epochs) == rec.n_trials
    pos = epochs.get_montage().get_positions()["ch_pos"]
    xyz = np.array([pos[c] for c in MAHNOB_EEG_CH_NAMES])
    assert np.isfinite(xyz).all() and (np.linalg.norm(xyz, axis=1) > 0.05).all()


def test_determinism_per_seed(recs, tmp_path):
    again = read_mahnob(simulate("mahnob", "tiny", tmp_path / "a", seed=0), subjects=[1])[0]
    other = read_mahnob(simulate("mahnob", "tiny", tmp_path / "b", seed=1), subjects=[1])[0]
    for x, y in zip(recs[0].eeg, again.eeg):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(recs[0].labels["arousal"], again.labels["arousal"])
    a, b = recs[0].eeg[0], other.eeg[0]
    n = min(a.shape[1], b.shape[1])
    assert not np.allclose(a[:, :n], b[:, :n])


# --------------------------------------------------------------------------------------------
# bad input: every message names the file, the expectation and what was found
# --------------------------------------------------------------------------------------------
def _session(tmp_path, folder=2, part=1, trial=1, sfreq=FS, names=MAHNOB_CH_NAMES, n_s=6,
             pulses=(2, 4), attrs=None):
    """Write one small session; return (bdf, xml) paths."""
    rng = np.random.default_rng(folder)
    n = n_s * sfreq
    sig = rng.normal(0, 20, (len(names), n))
    status = np.full(n, 0x110000)
    for code, sec in enumerate(pulses, start=1):
        status[sec * sfreq: sec * sfreq + 4] |= code
    d = tmp_path / "Sessions" / str(folder)
    bdf = write_bdf(d / f"Part_{part}_S_Trial{trial}_emotion.bdf", names, sig, ["uV"] * len(names),
                    [(-262144, 262143)] * len(names), sfreq, status, datetime.datetime(2009, 6, 1))
    attrs = {"feltArsl": 5, "feltCtrl": 5, "feltPred": 5, "feltVlnc": 5} if attrs is None else attrs
    xml = write_session_xml(d / "session.xml", attrs, {"id": part}, bdf.name)
    return bdf, xml


def test_minimal_session_reads(tmp_path):
    _session(tmp_path)
    rec = read_mahnob(tmp_path)[0]
    assert rec.eeg.shape == (1, 32, 2 * FS) and rec.baseline.shape == (1, 32, 2 * FS)


def test_missing_root_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope: expected a MAHNOB-HCI folder holding Sessions/ .* but found no such file or folder"):
        read_mahnob(tmp_path / "nope")
    (tmp_path / "Sessions" / "2").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"Sessions: expected session folders <n>/ holding Part_<p>_S_Trial<k>_emotion.bdf and session.xml, but found none"):
        read_mahnob(tmp_path)
    bdf, xml = _session(tmp_path)
    xml.unlink()
    with pytest.raises(FileNotFoundError) as err:
        read_mahnob(tmp_path)
    assert str(err.value) == f"{xml}: expected the session.xml of {bdf.name}, but found no such file"


def test_malformed_session_xml(tmp_path):
    _, xml = _session(tmp_path)
    xml.write_text(xml.read_text()[:-20])
    with pytest.raises(DatasetFormatError) as err:
        read_mahnob(tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"{xml}: expected well-formed XML with a <session> root element, but found a parse error")
    xml.write_text('<sessions feltArsl="5"><subject id="1"/></sessions>')
    with pytest.raises(DatasetFormatError, match=r"session.xml: expected a <session> root element, but found <sessions>"):
        read_mahnob(tmp_path)
    xml.write_text('<session feltArsl="5"/>')
    with pytest.raises(DatasetFormatError, match=r'session.xml: expected a <subject id="..."/> child of <session>, but found no subject element'):
        read_mahnob(tmp_path)
    xml.write_text('<session feltArsl="5"><subject id="2"/></session>')
    with pytest.raises(DatasetFormatError, match=r'session.xml: expected <subject id="1"> as in Part_1_S_Trial1_emotion.bdf, but found id="2"'):
        read_mahnob(tmp_path)


@pytest.mark.parametrize("value", ["12", "0", "4.5", "high"])
def test_rating_out_of_range(tmp_path, value):
    _, xml = _session(tmp_path, attrs={"feltArsl": 5, "feltVlnc": value})
    with pytest.raises(DatasetFormatError) as err:
        read_mahnob(tmp_path)
    assert str(err.value) == f"{xml}: expected feltVlnc an integer in 1.0..9.0, but found feltVlnc='{value}'"


def test_session_without_ratings_is_unlabeled(tmp_path):
    _session(tmp_path, folder=2, trial=1)
    _session(tmp_path, folder=4, trial=2, attrs={"isStim": 1, "mediaFile": "69.avi"})
    rec = read_mahnob(tmp_path)[0]
    assert rec.info["labeled"].tolist() == [True, False] and np.isnan(rec.labels["arousal"][1])
    assert read_mahnob(tmp_path, include_unlabeled=False)[0].n_trials == 1


def test_truncated_bdf(tmp_path):
    bdf, _ = _session(tmp_path)
    raw = bdf.read_bytes()
    bdf.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetFormatError) as err:
        read_mahnob(tmp_path)
    n_ch = len(MAHNOB_CH_NAMES) + 1
    header = 256 * (n_ch + 1)
    assert str(err.value) == (
        f"{bdf}: expected 6 data records of 1 s ({header + 6 * n_ch * FS * 3} bytes) as the header "
        f"declares, but found {len(raw) // 2} bytes (truncated or padded file)")


def test_not_a_bdf(tmp_path):
    bdf, _ = _session(tmp_path)
    bdf.write_bytes(b"0       " + bdf.read_bytes()[8:])  # EDF signature
    with pytest.raises(DatasetFormatError, match=r"emotion.bdf: expected a BioSemi BDF file .* but found b'0       '"):
        read_mahnob(tmp_path)


def test_implausible_sampling_rate(tmp_path):
    bdf, _ = _session(tmp_path, sfreq=512)
    with pytest.raises(DatasetFormatError) as err:
        read_mahnob(tmp_path)
    assert str(err.value) == f"{bdf}: expected MAHNOB-HCI channel 'Fp1' sampling rate 256.0 Hz, but found 512.0 Hz"


def test_missing_eeg_channel(tmp_path):
    names = tuple("Fpz" if c == "Fp1" else c for c in MAHNOB_CH_NAMES)
    bdf, _ = _session(tmp_path, names=names)
    with pytest.raises(DatasetFormatError) as err:
        read_mahnob(tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"{bdf}: expected channels named ['Fp1', 'AF3'")
    assert "but found missing channel(s) ['Fp1']; the file has ['Fpz', 'AF3'" in msg


def test_fewer_than_two_status_events(tmp_path):
    bdf, _ = _session(tmp_path, pulses=(2,))
    with pytest.raises(DatasetFormatError) as err:
        read_mahnob(tmp_path)
    assert str(err.value) == (f"{bdf}: expected at least two Status events (clip onset and offset, "
                              f"mask 0xFFFF), but found 1 event(s) at samples [{2 * FS}]")


def test_copy_with_one_corrupt_session_names_it(root, card, tmp_path):
    shutil.copytree(root, tmp_path / "m")
    subj = card["subjects"][1]
    folder = [f for f, ok in zip(subj["session_folders"], subj["labeled"]) if ok][-1]
    victim = tmp_path / "m" / "Sessions" / str(folder) / "session.xml"
    assert 'feltVlnc="' in victim.read_text()
    victim.write_text(victim.read_text().replace('feltVlnc="', 'feltVlnc="1'))
    with pytest.raises(DatasetFormatError, match=str(victim)):
        read_mahnob(tmp_path / "m")
