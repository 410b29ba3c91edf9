"""DEAP reader on simulated files in the real layout, and its error messages."""

import csv
import json
import os
import pickle
import shutil

import mne
import numpy as np
import pytest

from neuroaffect._utils import DatasetFormatError
from neuroaffect.channels import DEAP_CH_NAMES, DEAP_EEG_CH_NAMES
from neuroaffect.labels import DEAP_LABELS
from neuroaffect.io import list_subjects
from neuroaffect.io._pickle import UnsafePickleError
from neuroaffect.io.deap import RATINGS_HEADER, read_deap, read_participant_ratings
from neuroaffect.simulate import simulate
from neuroaffect.simulate.deap import SCALES, simulate_subject

TINY = SCALES["tiny"]
N_BASE = 384


@pytest.fixture(scope="module")
def root(sim_root):
    return sim_root("deap")


@pytest.fixture(scope="module")
def card(root):
    return json.loads((root.parent / "simulation.json").read_text())


@pytest.fixture(scope="module")
def recs(root):
    return read_deap(root)


# --------------------------------------------------------------------------------------------
# round trip
# --------------------------------------------------------------------------------------------
def test_round_trip_shapes_units_and_labels(root, card, recs):
    assert [r.subject for r in recs] == list(range(1, TINY.n_subjects + 1))
    n, n_stim = TINY.n_trials, TINY.stim_s * 128
    for rec, subj in zip(recs, card["subjects"]):
        assert rec.dataset == "deap" and rec.sfreq == 128.0
        assert rec.ch_names == DEAP_EEG_CH_NAMES
        assert rec.eeg.shape == (n, 32, n_stim) and rec.eeg.dtype == np.float64
        assert rec.baseline.shape == (n, 32, N_BASE) and rec.baseline.dtype == np.float64
        np.testing.assert_array_equal(rec.trial_ids, np.arange(1, n + 1))
        written = np.array(subj["ratings"])
        for i, name in enumerate(DEAP_LABELS):
            np.testing.assert_array_equal(rec.labels[name], written[:, i])
            assert rec.label_range[name] == (1.0, 9.0)
        np.testing.assert_array_equal(rec.info["presentation_order"], subj["presentation_order"])
        assert sorted(rec.info["presentation_order"]) == list(range(1, n + 1))
        # Peripheral signals: kinds, leads, units, rates, baselines.
        expected = {"eog": ("hEOG", "vEOG"), "emg": ("zEMG", "tEMG"), "gsr": ("GSR",),
                    "resp": ("Respiration belt",), "ppg": ("Plethysmograph",), "temp": ("Temperature",)}
        assert {k: p.ch_names for k, p in rec.peripheral.items()} == expected
        for key, p in rec.peripheral.items():
            assert p.kind == key and p.sfreq == 128.0
            assert p.data.shape == (n, len(p.ch_names), n_stim)
            assert p.baseline.shape == (n, len(p.ch_names), N_BASE)
        assert {k: p.unit for k, p in rec.peripheral.items()} == {
            "eog": "uV", "emg": "uV", "gsr": "Ohm", "resp": "a.u.", "ppg": "a.u.", "temp": "degC"}
        assert 1e4 < rec.peripheral["gsr"].data.mean() < 5e6  # skin resistance, Ohm
        assert 25 < rec.peripheral["temp"].data.mean() < 40  # degC


def test_signals_are_the_written_arrays_in_volts(recs):
    rec = recs[1]
    subj = simulate_subject(0, 2, "tiny")  # a subject depends on (seed, subject) only
    data = subj["data"]
    np.testing.assert_array_equal(rec.eeg, data[:, :32, N_BASE:] * 1e-6)
    np.testing.assert_array_equal(rec.baseline, data[:, :32, :N_BASE] * 1e-6)
    np.testing.assert_array_equal(rec.peripheral["gsr"].data[:, 0], data[:, DEAP_CH_NAMES.index("GSR"), N_BASE:])
    np.testing.assert_array_equal(rec.peripheral["eog"].baseline[:, 1], data[:, DEAP_CH_NAMES.index("vEOG"), :N_BASE])
    # EEG microvolt-sized in volts, band-limited like the preprocessed release, average reference.
    assert 2e-6 < rec.eeg.std() < 5e-5
    np.testing.assert_allclose(rec.eeg.mean(axis=1), 0.0, atol=1e-12)
    f = np.fft.rfftfreq(rec.eeg.shape[-1], 1 / 128)
    psd = (np.abs(np.fft.rfft(rec.eeg, axis=-1)) ** 2).mean(axis=(0, 1))
    assert psd[(f > 8) & (f < 12)].mean() > 20 * psd[f < 1.5].mean()


def test_ratings_csv_has_the_real_header_and_agrees(root, recs):
    fname = root / "participant_ratings.csv"
    with open(fname, newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == RATINGS_HEADER
    table = read_participant_ratings(fname)
    assert sorted(table) == [1, 2]
    for rec in recs:
        t = table[rec.subject]
        np.testing.assert_array_equal(t["trial"], np.arange(1, TINY.n_trials + 1))  # presentation order
        order = np.argsort(t["experiment_id"])
        np.testing.assert_array_equal(t["ratings"][order, 0], rec.labels["valence"])
        assert (np.diff(t["start_time_us"]) > 60e6).all()
    # Familiarity is missing for participant 2 (as for 2, 15 and 23 in the real file).
    assert np.isnan(recs[1].info["familiarity"]).all()
    fam = recs[0].info["familiarity"]
    assert np.isin(fam, [1, 2, 3, 4, 5]).all()
    assert all(r[-1] == "" for r in rows[1:] if r[0] == "2")


def test_written_dat_is_a_python2_pickle_of_real_size(root):
    f = root / "data_preprocessed_python" / "s01.dat"
    raw = f.read_bytes()
    assert raw[:2] == b"\x80\x02" and b"numpy.core.multiarray" in raw
    n = TINY.n_trials * (40 * TINY.n_times + 4) * 8
    assert n < len(raw) < n + 300
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(raw)  # Python 3 defaults fail on it, as on the real files


def test_path_forms_subjects_and_ratings_options(root, recs):
    folder = root / "data_preprocessed_python"
    (one,) = read_deap(folder / "s02.dat")  # a single-subject root still gives a list
    assert one.subject == 2
    np.testing.assert_array_equal(one.eeg, recs[1].eeg)
    assert "presentation_order" in one.info  # the CSV is found above the folder
    assert [r.subject for r in read_deap(folder, subjects=[2])] == [2]
    assert [r.subject for r in read_deap(root, subjects=2)] == [2]
    assert list_subjects("deap", root) == [1, 2]
    no_csv = read_deap(root, subjects=[1], ratings=False)[0]
    assert "presentation_order" not in no_csv.info and len(no_csv.fnames) == 1
    explicit = read_deap(folder, subjects=[1], ratings=root / "participant_ratings.csv")[0]
    np.testing.assert_array_equal(explicit.info["presentation_order"], recs[0].info["presentation_order"])


def test_ratings_found_in_metadata_csv_folder(root, tmp_path):
    shutil.copytree(root / "data_preprocessed_python", tmp_path / "data_preprocessed_python")
    (tmp_path / "metadata_csv").mkdir()
    shutil.copy(root / "participant_ratings.csv", tmp_path / "metadata_csv")
    rec = read_deap(tmp_path, subjects=[1])[0]
    assert rec.fnames[-1] == tmp_path / "metadata_csv" / "participant_ratings.csv"


def test_to_epochs_has_montage_positions(recs):
    epochs = recs[0].to_epochs()
    assert isinstance(epochs, mne.EpochsArray)
    assert epochs.ch_names[:32] == list(DEAP_EEG_CH_NAMES) and len(epochs) == TINY.n_trials
    pos = epochs.get_montage().get_positions()["ch_pos"]
    assert set(pos) == set(DEAP_EEG_CH_NAMES)
    xyz = np.array([pos[c] for c in DEAP_EEG_CH_NAMES])
    assert np.isfinite(xyz).all() and (np.linalg.norm(xyz, axis=1) > 0.05).all()
    np.testing.assert_array_equal(epochs.metadata["valence"], recs[0].labels["valence"])


def test_determinism_per_seed(recs, tmp_path):
    again = read_deap(simulate("deap", "tiny", tmp_path / "a", seed=0))
    other = read_deap(simulate("deap", "tiny", tmp_path / "b", seed=1))
    for x, y in zip(recs, again):
        np.testing.assert_array_equal(x.eeg, y.eeg)
        np.testing.assert_array_equal(x.peripheral["ppg"].data, y.peripheral["ppg"].data)
        np.testing.assert_array_equal(x.labels["arousal"], y.labels["arousal"])
    assert (tmp_path / "a" / "deap" / "participant_ratings.csv").read_bytes() == (
        recs[0].fnames[1].read_bytes())
    assert not np.allclose(recs[0].eeg, other[0].eeg)
    assert not np.array_equal(recs[0].labels["valence"], other[0].labels["valence"])


# --------------------------------------------------------------------------------------------
# bad input: every message names the file, the expectation and what was found
# --------------------------------------------------------------------------------------------
def _good_arrays(n_trials=2, n_times=N_BASE + 256, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 10, (n_trials, 40, n_times)), rng.uniform(1, 9, (n_trials, 4)).round(2)


def _write_dat(tmp_path, obj, subject=1):
    folder = tmp_path / "data_preprocessed_python"
    folder.mkdir(exist_ok=True)
    f = folder / f"s{subject:02d}.dat"
    f.write_bytes(pickle.dumps(obj, protocol=2))
    return f


def _write_csv(tmp_path, rows, header=RATINGS_HEADER):
    f = tmp_path / "participant_ratings.csv"
    with open(f, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return f


def test_minimal_valid_file_reads(tmp_path):
    data, labels = _good_arrays()
    f = _write_dat(tmp_path, {"data": data, "labels": labels})
    (rec,) = read_deap(f)
    np.testing.assert_array_equal(rec.eeg, data[:, :32, N_BASE:] * 1e-6)
    # Python 2 pickles loaded with encoding='bytes' give bytes keys: normalised.
    f.write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=2))
    np.testing.assert_array_equal(read_deap(f)[0].labels["liking"], labels[:, 3])


def test_missing_folder_and_subject(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope: expected the DEAP data_preprocessed_python/.*found no such"):
        read_deap(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty: expected a data_preprocessed_python/ folder or sNN.dat files, but found an empty folder"):
        read_deap(tmp_path / "empty")
    data, labels = _good_arrays()
    _write_dat(tmp_path, {"data": data, "labels": labels})
    with pytest.raises(FileNotFoundError, match=r"expected files for subject\(s\) \[5\] \(s05.dat\), but found only subjects \[1\]"):
        read_deap(tmp_path, subjects=[5])
    with pytest.raises(FileNotFoundError, match=r"ratings.csv: expected DEAP participant_ratings.csv"):
        read_deap(tmp_path, ratings=tmp_path / "ratings.csv")
    with pytest.raises(ValueError, match="1-based integers"):
        read_deap(tmp_path, subjects=[0])
    with pytest.raises(TypeError, match="subjects must be integers, got '1'"):
        read_deap(tmp_path, subjects=["1"])


def test_bad_file_name(tmp_path):
    f = tmp_path / "subject1.dat"
    f.write_bytes(b"")
    with pytest.raises(DatasetFormatError, match=r"subject1.dat: expected a DEAP file named sNN.dat"):
        read_deap(f)


def test_wrong_dict_keys(tmp_path):
    data, labels = _good_arrays()
    f = _write_dat(tmp_path, {"data": data, "label": labels})
    with pytest.raises(DatasetFormatError) as err:
        read_deap(tmp_path)
    assert str(err.value) == (f"{f}: expected a dict with exactly the keys ['data', 'labels'], "
                              "but found keys ['data', 'label']")
    _write_dat(tmp_path, [data, labels])
    with pytest.raises(DatasetFormatError, match=r"s01.dat: expected a pickled dict .* but found a pickled list"):
        read_deap(tmp_path)


@pytest.mark.parametrize("shape", [(2, 39, 640), (2, 40 * 640), (2, 40, 640, 1)])
def test_wrong_data_shape(tmp_path, shape):
    data, labels = _good_arrays()
    f = _write_dat(tmp_path, {"data": np.zeros(shape), "labels": labels})
    with pytest.raises(DatasetFormatError) as err:
        read_deap(tmp_path)
    msg = str(err.value)
    assert msg.startswith(str(f)) and "(n_trials, 40, n_times)" in msg and f"shape {shape}" in msg


@pytest.mark.parametrize("n_times", [N_BASE, N_BASE + 100])
def test_trial_length_not_whole_seconds_after_baseline(tmp_path, n_times):
    data, labels = _good_arrays(n_times=n_times)
    _write_dat(tmp_path, {"data": data, "labels": labels})
    with pytest.raises(DatasetFormatError, match=rf"s01.dat: expected .*384 baseline samples plus a whole number of seconds at 128 Hz.*but found 2 trials of {n_times} samples"):
        read_deap(tmp_path)


def test_labels_shape_and_range(tmp_path):
    data, labels = _good_arrays()
    _write_dat(tmp_path, {"data": data, "labels": labels[:, :3]})
    with pytest.raises(DatasetFormatError, match=r"s01.dat: expected 'labels' of shape \(2, 4\).*found shape \(2, 3\)"):
        read_deap(tmp_path)
    labels[1, 2] = 9.5
    _write_dat(tmp_path, {"data": data, "labels": labels})
    with pytest.raises(DatasetFormatError, match=r"s01.dat: expected 'labels' in \[1, 9\], but found 1 values outside \(first: trial 1 dominance = 9.5\)"):
        read_deap(tmp_path)
    _write_dat(tmp_path, {"data": data, "labels": labels.astype(complex)})
    with pytest.raises(DatasetFormatError, match=r"expected 'labels' as a float64 numpy array, but found dtype complex128"):
        read_deap(tmp_path)
    _write_dat(tmp_path, {"data": data, "labels": labels.astype(str)})  # refused while unpickling
    with pytest.raises(UnsafePickleError, match=r"s01.dat: .*numpy.dtype called with str 'U\d+'"):
        read_deap(tmp_path)


def test_nan_run_in_data(tmp_path):
    data, labels = _good_arrays()
    data[1, 7, 500:520] = np.nan
    data[1, 7, 530] = np.inf
    f = _write_dat(tmp_path, {"data": data, "labels": labels})
    with pytest.raises(DatasetFormatError) as err:
        read_deap(tmp_path)
    assert str(err.value) == (f"{f}: expected finite values in 'data', but found 21 NaN/Inf values "
                              "(first at index (1, 7, 500))")


def test_truncated_dat(tmp_path):
    data, labels = _good_arrays()
    f = _write_dat(tmp_path, {"data": data, "labels": labels})
    raw = f.read_bytes()
    f.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetFormatError) as err:
        read_deap(tmp_path)
    assert str(err.value).startswith(f"{f}: expected a complete pickle")
    assert "truncated" in str(err.value)


def _csv_rows(labels, participant=1):
    return [[participant, i + 1, i + 1, 1000000 * (i + 1), *labels[i], 3] for i in range(len(labels))]


def test_ratings_csv_header_and_rows(tmp_path):
    data, labels = _good_arrays()
    _write_dat(tmp_path, {"data": data, "labels": labels})
    header = list(RATINGS_HEADER)
    header[4], header[5] = header[5], header[4]
    f = _write_csv(tmp_path, _csv_rows(labels), header=header)
    with pytest.raises(DatasetFormatError) as err:
        read_deap(tmp_path)
    assert str(err.value) == (f"{f}: expected the header {','.join(RATINGS_HEADER)}, "
                              f"but found the header {','.join(header)}")
    rows = _csv_rows(labels)
    rows[1][4] = "high"
    _write_csv(tmp_path, rows)
    with pytest.raises(DatasetFormatError, match=r"participant_ratings.csv: expected numbers in every field but Familiarity on line 3"):
        read_deap(tmp_path)
    rows = _csv_rows(labels)
    rows[0] = rows[0][:5]
    _write_csv(tmp_path, rows)
    with pytest.raises(DatasetFormatError, match=r"expected 9 comma-separated fields on line 2, but found 5 fields"):
        read_deap(tmp_path)
    rows = _csv_rows(labels)
    rows[0][7] = 10.0
    _write_csv(tmp_path, rows)
    with pytest.raises(DatasetFormatError, match=r"expected ratings in \[1, 9\] on line 2"):
        read_deap(tmp_path)
    _write_csv(tmp_path, _csv_rows(labels, participant=7))
    with pytest.raises(DatasetFormatError, match=r"expected rows for Participant_id 1 \(read from s01.dat\), but found rows only for participants \[7\]"):
        read_deap(tmp_path)
    _write_csv(tmp_path, _csv_rows(labels)[:1])
    with pytest.raises(DatasetFormatError, match=r"expected Experiment_id 1..2 once each .* found Experiment_id values \[1\]"):
        read_deap(tmp_path)


def test_ratings_csv_disagreeing_with_dat(tmp_path):
    data, labels = _good_arrays()
    _write_dat(tmp_path, {"data": data, "labels": labels})
    rows = _csv_rows(labels)
    rows = [rows[1], rows[0]]  # presentation order differs from Experiment_id order: fine
    rows[0][1], rows[1][1] = 1, 2
    f = _write_csv(tmp_path, rows)
    rec = read_deap(tmp_path)[0]
    np.testing.assert_array_equal(rec.info["presentation_order"], [2, 1])
    rows[0][6] = float(labels[1, 2]) + 1.0  # Experiment_id 2, dominance
    _write_csv(tmp_path, rows)
    msg = (f"{f}: expected dominance of Participant_id 1, Experiment_id 2 equal to {labels[1, 2]:g} "
           f"as in {tmp_path / 'data_preprocessed_python' / 's01.dat'} (within 0.01), but found "
           f"{labels[1, 2] + 1:g} (1 mismatching values)")
    with pytest.raises(DatasetFormatError) as err:
        read_deap(tmp_path)
    assert str(err.value) == msg
    with pytest.warns(UserWarning, match="Experiment_id 2"):
        read_deap(tmp_path, on_mismatch="warn")
    assert read_deap(tmp_path, on_mismatch="ignore")[0].n_trials == 2
    with pytest.raises(ValueError, match="'on_mismatch' parameter"):
        read_deap(tmp_path, on_mismatch="skip")


# --------------------------------------------------------------------------------------------
# sNN.dat names that are no regular files, two files of one subject
# --------------------------------------------------------------------------------------------
def _one_subject(tmp_path):
    from neuroaffect.simulate.deap import write_py2_pickle

    rng = np.random.default_rng(0)
    folder = tmp_path / "data_preprocessed_python"
    folder.mkdir()
    with open(folder / "s01.dat", "wb") as fh:
        write_py2_pickle(fh, {"data": rng.normal(0, 20, (2, 40, 512)), "labels": rng.uniform(1, 9, (2, 4))})
    assert [r.subject for r in read_deap(tmp_path, ratings=False)] == [1]
    return folder


@pytest.mark.parametrize("kind, found", [("fifo", "a FIFO"), ("folder", "a folder"), ("broken-link", "cannot be read")])
def test_dat_that_is_not_a_regular_file_is_refused_not_skipped(tmp_path, kind, found):
    """s02.dat as a FIFO (or folder, or broken link) was skipped: subject 1 read alone, without a word."""
    f = _one_subject(tmp_path) / "s02.dat"
    if kind == "fifo":
        os.mkfifo(f)
    elif kind == "folder":
        f.mkdir()
    else:
        f.symlink_to(tmp_path / "nowhere.dat")
    with pytest.raises(DatasetFormatError) as info:
        read_deap(tmp_path, ratings=False)
    msg = str(info.value)
    assert str(f) in msg and "expected a DEAP subject file sNN.dat" in msg and found in msg, msg


def test_two_files_of_one_subject_are_refused(tmp_path):
    """s1.dat beside s01.dat: one of them silently replaced the other."""
    folder = _one_subject(tmp_path)
    shutil.copy(folder / "s01.dat", folder / "s1.dat")
    with pytest.raises(DatasetFormatError, match=r"s1.dat: expected one file for subject 1, but found s01.dat and "
                                                 r"s1.dat"):
        read_deap(tmp_path, ratings=False)
