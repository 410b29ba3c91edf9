"""read_custom on real recordings (EDF, EEGLAB, an ARFF table) and on small files made here.

Expected values come from other readers (pyedflib, scipy's ARFF reader, the CSV as text) and from
the labels tables themselves, not from the reader under test.
"""

import csv
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest

from neuroaffect._utils import DatasetFormatError
from neuroaffect.channels import standardise_ch_names
from neuroaffect.io import list_subjects, raw_from_samples, read_custom, read_dataset

DATA = Path(__file__).resolve().parent / "data" / "real"
EEGMMIDB, EEGLAB, EYE = DATA / "eegmmidb", DATA / "eeglab", DATA / "eye_state" / "eeg_eye_state.arff"


def test_eegmmidb_edf_trials_labels_and_channel_names():
    import pyedflib

    (rec,) = read_custom(EEGMMIDB)
    assert rec.dataset == "custom" and rec.subject == 1 and rec.sfreq == 160.0
    assert rec.eeg.shape == (20, 64, 480)  # ten 3-s trials per run, every channel
    table = list(csv.DictReader(open(EEGMMIDB / "labels.csv")))
    assert rec.label_classes == {"eyes": ("closed", "open")}  # sorted class names
    np.testing.assert_array_equal(rec.labels["eyes"], [("closed", "open").index(r["eyes"]) for r in table])
    np.testing.assert_array_equal(rec.trial_ids, [int(r["trial"]) for r in table])
    # names with trailing dots mapped onto the 10-05 spelling
    edf = pyedflib.EdfReader(str(EEGMMIDB / "S001R02.edf"))
    labels = edf.getSignalLabels()
    for raw_name, std in (("Fc5.", "FC5"), ("Fpz.", "Fpz"), ("T9..", "T9"), ("Iz..", "Iz"), ("Afz.", "AFz")):
        assert rec.ch_names[labels.index(raw_name)] == std
    assert rec.info["renamed"]["Fc5."] == "FC5" and rec.ch_pos is None
    # trial 11 is R02 from 0 s to 3 s; trial 13 from 6 s: the samples pyedflib reads, in volts
    for trial, start in ((11, 0), (13, 960)):
        k = list(rec.trial_ids).index(trial)
        for ch in (0, 40, 63):
            ref = edf.readSignal(ch, start, 480) * 1e-6
            np.testing.assert_allclose(rec.eeg[k, ch], ref, rtol=0, atol=1e-12)
    edf.close()
    assert [f.name for f in rec.fnames] == ["S001R01.edf", "S001R02.edf", "labels.csv"]
    # a dead electrode left out, by recorded or standard name
    (fewer,) = read_custom(EEGMMIDB, exclude=["Fc5.", "Cz"])
    assert fewer.n_chans == 62 and "FC5" not in fewer.ch_names and "Cz" not in fewer.ch_names
    assert fewer.info["excluded"] == sorted(["Fc5.", "Cz.."])
    keep = [k for k, n in enumerate(rec.ch_names) if n not in ("FC5", "Cz")]
    np.testing.assert_array_equal(fewer.eeg, rec.eeg[:, keep])
    assert list_subjects("custom", EEGMMIDB) == [1]
    assert read_dataset("custom", EEGMMIDB, subjects=[1])[0].n_trials == 20


def test_eeglab_set_trials_from_annotations_eog_typed_and_file_positions():
    (rec,) = read_custom(EEGLAB, classes=["position"])
    raw = mne.io.read_raw_eeglab(EEGLAB / "eeglab_data.set", preload=True, verbose="error")
    onsets = raw.annotations.onset[raw.annotations.description == "square"]
    table = pd.read_csv(EEGLAB / "labels.csv")
    assert rec.n_trials == len(table) == onsets.size == 14
    assert rec.n_chans == 30 and "EOG1" not in rec.ch_names and "Fpz" in rec.ch_names  # 'FPz' respelled
    assert any("EOG1" in n and "eog" in n for n in rec.info["channel_notes"])
    picks = [raw.ch_names.index("FPz" if n == "Fpz" else n) for n in rec.ch_names]
    for k in (0, 7, 13):  # 2 s from each 'square' annotation
        a = int(round(onsets[k] * 128))
        np.testing.assert_allclose(rec.eeg[k], raw.get_data()[picks, a:a + 256], rtol=0, atol=1e-15)
    assert rec.label_classes == {"position": ("1", "2")}
    np.testing.assert_array_equal(rec.labels["position"], table["position"].to_numpy() - 1)
    # positions from the file's channel locations
    np.testing.assert_allclose(rec.ch_pos, [raw.info["chs"][p]["loc"][:3] for p in picks])


def _eye_state_fif(tmp_path):
    raw = raw_from_samples(EYE, 128.0, annotate=["eyeDetection"])
    raw.save(tmp_path / "eye_raw.fif", verbose="error")
    return raw


def _eye_values():
    """The ARFF's samples, shape (n_samples, 14), and its names, read as text."""
    lines = EYE.read_text().splitlines()
    names = [ln.split()[1] for ln in lines if ln.startswith("@ATTRIBUTE")]
    rows = lines[lines.index("@DATA") + 1:]
    return np.array([[float(v) for v in r.split(",")[:14]] for r in rows if r.strip()]), names[:14]


def test_eye_state_arff_spikes_refused_repaired_or_dropped(tmp_path):
    values, names = _eye_values()
    raw = _eye_state_fif(tmp_path)
    assert raw.ch_names == names and raw.n_times == 4000
    np.testing.assert_allclose(raw.get_data()[:, 900], values[900] * 1e-6, rtol=1e-12)
    # the per-sample state became annotations, one per run
    state = values[:, 0] * 0 + np.array([int(r.split(",")[14]) for r in EYE.read_text().splitlines()
                                         [EYE.read_text().splitlines().index("@DATA") + 1:] if r.strip()])
    n_runs = 1 + int((np.diff(state) != 0).sum())
    assert len(raw.annotations) == n_runs and raw.annotations.description[0] == f"eyeDetection/{int(state[0])}"
    # 2-s trials: 0-2 s and 6-8 s (sample 898 lies in 6-8 s)
    pd.DataFrame({"file": "eye_raw.fif", "subject": 1, "trial": [1, 2], "onset": [0.0, 6.0], "duration": 2.0,
                  "eyes": ["open", "closed"]}).to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(DatasetFormatError, match=r"eye_raw\.fif: expected EEG samples within \+-10000 uV.*3\.626e\+05 uV in channel 'P7'"):
        read_custom(tmp_path, eeg_limit_uv=1e4)
    (rec,) = read_custom(tmp_path, eeg_limit_uv=1e4, bad_samples="repair")
    bad = np.argwhere(np.abs(values) > 1e4)
    assert sorted((int(s), names[c]) for s, c in bad) == [(898, "AF4"), (898, "P7")]
    changes = {(c["channel"], c["sample"]): c for c in rec.info["repairs"]}
    assert set(changes) == {("P7", 898), ("AF4", 898)}
    for ch in ("P7", "AF4"):
        c = names.index(ch)
        expected = (values[897, c] + values[899, c]) / 2  # linear between the neighbours
        # (the FIF file stores float32: 7 significant digits)
        assert changes[(ch, 898)]["value"] == pytest.approx(values[898, c] * 1e-6, rel=1e-6)
        assert rec.eeg[1, c, 898 - 768] == pytest.approx(expected * 1e-6, rel=1e-6)
    np.testing.assert_allclose(rec.eeg[0], values[:256].T * 1e-6, rtol=1e-6)  # the other trial untouched
    (kept,) = read_custom(tmp_path, eeg_limit_uv=1e4, bad_samples="drop")
    assert kept.n_trials == 1 and kept.trial_ids.tolist() == [1]
    assert kept.info["dropped_trials"] == [{"file": str(tmp_path / "eye_raw.fif"), "line": 3, "session": 1,
                                            "trial": 2, "n_samples": 2}]
    with pytest.raises(ValueError, match="'bad_samples'.*'refuse', 'repair', 'drop'"):
        read_custom(tmp_path, bad_samples="fix")


def test_channel_mapping_edf_prefixes_reference_and_explicit(tmp_path):
    rename, unmatched = standardise_ch_names(["EEG Fp1", "Fc5.", "C3..", "CZ", "A2-A1", "Fp2-REF", "EOG1"])
    assert rename == {"EEG Fp1": "Fp1", "Fc5.": "FC5", "C3..": "C3", "CZ": "Cz", "Fp2-REF": "Fp2"}
    assert unmatched == ["A2-A1", "EOG1"]
    rng = np.random.default_rng(0)
    names = ["EEG Fp1", "EEG Fp2", "EEG C3", "A2-A1", "Chan 5"]
    raw = mne.io.RawArray(rng.normal(0, 1e-5, (5, 1000)), mne.create_info(names, 100.0, "eeg"), verbose="error")
    raw.save(tmp_path / "rec_raw.fif", verbose="error")
    pd.DataFrame({"file": "rec_raw.fif", "subject": 3, "trial": [1, 2], "onset": [0, 5], "duration": 4,
                  "valence": [2, 8]}).to_csv(tmp_path / "labels.csv", index=False)
    (rec,) = read_custom(tmp_path, ratings={"valence": (1, 9)}, ch_names={"Chan 5": "Oz"})
    assert rec.ch_names == ("Fp1", "Fp2", "C3", "Oz") and rec.subject == 3
    assert any("A2-A1" in n and "misc" in n for n in rec.info["channel_notes"])
    np.testing.assert_allclose(rec.eeg[1], raw.get_data()[[0, 1, 2, 4], 500:900])
    assert rec.label_range == {"valence": (1.0, 9.0)} and rec.label_classes == {}


def test_events_file_and_annotation_counts(tmp_path):
    rng = np.random.default_rng(1)
    raw = mne.io.RawArray(rng.normal(0, 1e-5, (3, 3000)), mne.create_info(["Cz", "Pz", "Oz"], 100.0, "eeg"),
                          verbose="error")
    raw.set_annotations(mne.Annotations([1.0, 10.0, 20.0], [2.0, 2.0, 2.0], ["go", "stop", "go"]))
    raw.save(tmp_path / "r_raw.fif", verbose="error")
    mne.write_events(tmp_path / "r-eve.fif", np.array([[300, 0, 7], [1500, 0, 7], [2500, 0, 9]]), verbose="error")
    pd.DataFrame({"file": "r_raw.fif", "subject": 1, "trial": [1, 2], "events": "r-eve.fif", "event": "7",
                  "duration": 1.0, "state": ["a", "b"]}).to_csv(tmp_path / "labels.csv", index=False)
    (rec,) = read_custom(tmp_path)
    np.testing.assert_allclose(rec.eeg[1], raw.get_data()[:, 1500:1600])
    # annotations described 'go' (two of them), their own 2-s duration
    pd.DataFrame({"file": "r_raw.fif", "subject": 1, "trial": [1, 2], "event": "go",
                  "state": ["a", "b"]}).to_csv(tmp_path / "ann.csv", index=False)
    (rec,) = read_custom(tmp_path, labels=tmp_path / "ann.csv")
    np.testing.assert_allclose(rec.eeg[1], raw.get_data()[:, 2000:2200])
    pd.DataFrame({"file": "r_raw.fif", "subject": 1, "trial": [1, 2, 3], "event": "go",
                  "state": ["a", "b", "a"]}).to_csv(tmp_path / "three.csv", index=False)
    with pytest.raises(DatasetFormatError, match=r"r_raw\.fif: expected 3 trial\(s\).*but found 2 annotations "
                                                 r"described 'go'"):
        read_custom(tmp_path, labels=tmp_path / "three.csv")


@pytest.mark.parametrize("table, kwargs, match", [
    ({"file": ["nope.edf"], "subject": [1], "trial": [1], "eyes": ["open"]}, {"classes": {"eyes": ["open", "shut"]}},
     r"nope\.edf: expected a recording named in the labels table, but found no such file"),
    ({"file": ["S001R01.edf"], "trial": [1], "eyes": ["open"]}, {},
     r"labels\.csv: expected columns file, subject, trial.*no column\(s\) \['subject'\]"),
    ({"file": ["S001R01.edf"] * 2, "subject": [1, 1], "trial": [1, 2], "onset": [0, 1], "duration": 2,
      "valence": [3, 12]}, {"ratings": {"valence": (1, 9)}},
     r"labels\.csv: expected ratings in \[1, 9\].*'valence', but found 12.* on line 3"),
    ({"file": ["S001R01.edf"] * 2, "subject": [1, 1], "trial": [1, 1], "onset": [0, 1], "duration": 2,
      "eyes": ["a", "b"]}, {}, r"one row per \(subject, session, trial\)"),
    ({"file": ["S001R01.edf"], "subject": [1], "trial": [1], "onset": [25], "duration": [10], "eyes": ["a"]},
     {"classes": {"eyes": ["a", "b"]}}, r"S001R01\.edf: expected the trial of line 2 \(25 s \+ 10 s\) inside the "
                                        r"recording, but found a recording of 30 s"),
    ({"file": ["S001R01.edf"], "subject": [1], "trial": [1], "onset": [0], "duration": [1], "eyes": ["x"]},
     {"classes": {"eyes": ["a", "b"]}}, r"expected classes \['a', 'b'\] in column 'eyes', but found 'x' on line 2"),
])
def test_errors_name_the_file_and_what_was_expected(tmp_path, table, kwargs, match):
    for f in ("S001R01.edf",):
        (tmp_path / f).symlink_to(EEGMMIDB / f)
    pd.DataFrame(table).to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(DatasetFormatError, match=match):
        read_custom(tmp_path, **kwargs)


def test_subjects_sorted_selected_and_hashed(tmp_path):
    """The readers' contract: one Recording per subject, sorted; subjects= selects; absent subjects named."""
    import hashlib

    for f in ("S001R01.edf", "S001R02.edf"):
        (tmp_path / f).symlink_to(EEGMMIDB / f)
    pd.DataFrame({"file": ["S001R02.edf", "S001R01.edf", "S001R01.edf"], "subject": [7, 2, 2],
                  "trial": [1, 1, 2], "onset": [0, 0, 10], "duration": 5,
                  "eyes": ["closed", "open", "open"]}).to_csv(tmp_path / "labels.csv", index=False)
    recs = read_custom(tmp_path, classes={"eyes": ["open", "closed"]})
    assert [r.subject for r in recs] == [2, 7] and [r.n_trials for r in recs] == [2, 1]
    assert recs[1].labels["eyes"].tolist() == [1.0] and recs[0].labels["eyes"].tolist() == [0.0, 0.0]
    (only,) = read_custom(tmp_path, subjects=[7])
    np.testing.assert_array_equal(only.eeg, recs[1].eeg)
    digest = hashlib.sha256((EEGMMIDB / "S001R02.edf").read_bytes()).hexdigest()
    assert only.info["sha256"] == {str(tmp_path / "S001R02.edf"): digest}
    assert list_subjects("custom", tmp_path) == [2, 7]
    with pytest.raises(DatasetFormatError, match=r"labels\.csv: expected rows of subjects \[3\], but found none of "
                                                 r"subjects \[3\] \(subjects \[2, 7\]\)"):
        read_custom(tmp_path, subjects=[3])
