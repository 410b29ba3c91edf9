"""SEED-V: the CNT and DE-feature readers on files written in the real layouts, and their faults."""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from neuroaffect._utils import DatasetFormatError
from neuroaffect.channels import SEED_CH_NAMES
from neuroaffect.io import list_subjects, read_dataset
from neuroaffect.io._pickle import UnsafePickleError
from neuroaffect.io.seedv import SEEDV_EXTRA_CHANNELS, TRIAL_SECONDS, read_seedv
from neuroaffect.labels import SEED_V_CLASS_NAMES, SEED_V_LABELS
from neuroaffect.simulate.seedv import CNT_CH_NAMES, write_cnt, write_de_npz

# A tiny copy: clips of 0.1 s every 0.2 s from 0.1 s, declared in simulation.json (as the simulator does).
_STARTS = [0.1 + 0.2 * k for k in range(15)]
_TIMES = {str(s): {"start": _STARTS, "end": [a + 0.1 for a in _STARTS]} for s in (1, 2, 3)}
_N = 3200  # samples per session file (3.2 s at 1000 Hz)


def _signal(n_chans, n=_N, seed=0):
    return np.random.default_rng(seed).normal(0.0, 20.0, (n_chans, n))


def _copy(tmp_path, names=CNT_CH_NAMES, sfreq=1000.0, subjects=(1,), card=True):
    folder = tmp_path / "seed_v" / "EEG_raw"
    for s in subjects:
        for session in (1, 2, 3):
            write_cnt(folder / f"{s}_{session}_2018040{session}.cnt", [_signal(len(names), seed=session)],
                      names, sfreq, f"2018040{session}", _N)
    if card:
        (tmp_path / "simulation.json").write_text(json.dumps({"dataset": "seed-v", "trial_seconds": _TIMES}))
    return tmp_path / "seed_v"


def test_cnt_written_reads_back_through_mne(tmp_path):
    import mne

    x = _signal(len(CNT_CH_NAMES), n=500)
    f = write_cnt(tmp_path / "a.cnt", [x[:, :200], x[:, 200:]], CNT_CH_NAMES, 1000.0, "20180804", 500)
    raw = mne.io.read_raw_cnt(f, verbose="error")
    assert raw.ch_names == list(CNT_CH_NAMES) and raw.info["sfreq"] == 1000.0 and raw.n_times == 500
    np.testing.assert_allclose(raw.get_data() * 1e6, x, atol=0.051)  # 0.1 uV per count


def test_reader_takes_channels_by_name_and_clips_by_declared_seconds(tmp_path):
    root = _copy(tmp_path)
    (rec,) = read_seedv(root)
    assert rec.dataset == "seed-v" and rec.sfreq == 1000.0 and rec.ch_names == SEED_CH_NAMES
    assert rec.n_trials == 45 and all(t.shape == (62, 100) for t in rec.eeg)
    np.testing.assert_array_equal(rec.session_ids, np.repeat([1, 2, 3], 15))
    np.testing.assert_array_equal(rec.trial_ids, np.tile(np.arange(1, 16), 3))
    np.testing.assert_array_equal(rec.labels["emotion"], np.concatenate(SEED_V_LABELS))
    assert rec.label_classes["emotion"] == SEED_V_CLASS_NAMES
    # clip 1 of session 1 is samples 100..200 of channel FP1 (SEED's first) in file 1
    x = _signal(len(CNT_CH_NAMES), seed=1)
    i = CNT_CH_NAMES.index("CB2")
    np.testing.assert_allclose(rec.eeg[0][-1] * 1e6, x[i, 100:200], atol=0.051)
    assert rec.info["dates"] == {1: "2018-04-01", 2: "2018-04-02", 3: "2018-04-03"}
    assert read_seedv(root / "EEG_raw" / "1_2_20180402.cnt")[0].n_trials == 15  # one session file


def test_missing_session_file_is_named(tmp_path):
    root = _copy(tmp_path)
    (root / "EEG_raw" / "1_2_20180402.cnt").unlink()
    with pytest.raises(FileNotFoundError, match=r"session\(s\) \[2\] of subject 1"):
        read_seedv(root)


def test_truncated_cnt_is_refused_naming_the_file(tmp_path):
    root = _copy(tmp_path)
    f = root / "EEG_raw" / "1_3_20180403.cnt"
    f.write_bytes(f.read_bytes()[: 900 + 75 * 66 + 5000])
    with pytest.raises(DatasetFormatError, match="1_3_20180403.cnt.*truncated"):
        read_seedv(root)


@pytest.mark.slow
def test_wrong_channel_count_is_refused(tmp_path):
    root = _copy(tmp_path, names=CNT_CH_NAMES[1:])
    with pytest.raises(DatasetFormatError, match=r"1_1_20180401.cnt: expected SEED's 62 EEG channels.*missing \['FP1'\]"):
        read_seedv(root)
    root = _copy(tmp_path / "b", names=CNT_CH_NAMES + ("ECG",))
    with pytest.raises(DatasetFormatError, match=r"unknown \['ECG'\]"):
        read_seedv(root)


def test_wrong_rate_and_short_session_are_refused(tmp_path):
    with pytest.raises(DatasetFormatError, match="recorded at 1000 Hz.*500 Hz"):
        read_seedv(_copy(tmp_path / "a", sfreq=500.0))
    # without the simulator's card the published seconds apply: 3.2 s files are far too short
    with pytest.raises(DatasetFormatError, match=r"at least 3359 s.*3.2 s"):
        read_seedv(_copy(tmp_path / "b", card=False))


def test_misnamed_cnt_is_refused(tmp_path):
    root = _copy(tmp_path)
    (root / "EEG_raw" / "1_1_20180401.cnt").rename(root / "EEG_raw" / "sub1_1.cnt")
    with pytest.raises(DatasetFormatError, match="sub1_1.cnt"):
        read_seedv(root)


# -- DE features --------------------------------------------------------------------------------
def _de(n_win=2):
    rng = np.random.default_rng(0)
    de = [rng.normal(0.0, 1.0, (n_win, 62, 5)) for _ in range(45)]
    return de, [np.full(n_win, float(c)) for c in np.concatenate(SEED_V_LABELS)]


def test_de_features_read_back(tmp_path):
    de, lab = _de()
    write_de_npz(tmp_path / "EEG_DE_features" / "3_123.npz", de, lab)
    (rec,) = read_seedv(tmp_path, source="features")
    assert rec.subject == 3 and rec.n_trials == 45 and rec.sfreq == 200.0
    np.testing.assert_array_equal(rec.info["de"][7], de[7])
    np.testing.assert_array_equal(rec.labels["emotion"], np.concatenate(SEED_V_LABELS))
    assert list_subjects("seed-v", tmp_path, source="features") == [3]


def _npz(path, **entries):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for k, v in entries.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, v, allow_pickle=True)
            z.writestr(f"{k}.npy", buf.getvalue())
    return path


def test_de_file_faults_are_refused(tmp_path):
    de, lab = _de()
    good = pickle.dumps({k: x.reshape(2, -1) for k, x in enumerate(de)}, protocol=4)
    labels = pickle.dumps(dict(enumerate(lab)), protocol=4)
    folder = tmp_path / "EEG_DE_features"
    f = _npz(folder / "1_123.npz", data=np.array(good))
    with pytest.raises(DatasetFormatError, match="1_123.npz.*'data' and 'label'"):
        read_seedv(tmp_path, source="features")
    _npz(f, data=np.array([good], dtype=object), label=np.array(labels))
    with pytest.raises(DatasetFormatError, match="1_123.npz"):
        read_seedv(tmp_path, source="features")
    _npz(f, data=np.array(good[: len(good) // 2]), label=np.array(labels))
    with pytest.raises(DatasetFormatError, match=r"1_123.npz \['data'\]"):
        read_seedv(tmp_path, source="features")
    wrong = dict(enumerate(lab))
    wrong[16] = np.full(2, 0.0)  # session 2, clip 2 is fear (1)
    _npz(f, data=np.array(good), label=np.array(pickle.dumps(wrong, protocol=4)))
    with pytest.raises(DatasetFormatError, match=r"trial 16 \(session 2, clip 2\) labelled 1 \(fear\)"):
        read_seedv(tmp_path, source="features")
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(DatasetFormatError, match="1_123.npz: expected a complete .npz"):
        read_seedv(tmp_path, source="features")


def test_unsafe_pickle_in_de_file_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"

    class Gadget:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    _npz(tmp_path / "EEG_DE_features" / "1_123.npz", data=np.array(pickle.dumps({0: Gadget()})),
         label=np.array(pickle.dumps({})))
    with pytest.raises(UnsafePickleError, match="1_123.npz"):
        read_seedv(tmp_path, source="features")
    assert not marker.exists()


# -- published facts ------------------------------------------------------------------------------
def test_published_session_structure():
    for session, (starts, ends) in TRIAL_SECONDS.items():
        assert len(starts) == len(ends) == 15
        assert all(a < b for a, b in zip(starts, ends)) and all(b < a for b, a in zip(ends, starts[1:]))
        assert sorted(SEED_V_LABELS[session - 1]) == sorted(list(range(5)) * 3)  # 3 clips per emotion
    assert [e[-1] for _, e in TRIAL_SECONDS.values()] == [3359, 2817, 3066]
    assert SEEDV_EXTRA_CHANNELS == ("M1", "M2", "VEO", "HEO") and len(CNT_CH_NAMES) == 66


@pytest.mark.slow
def test_simulated_copy_reads_in_both_sources(sim_root):
    root = sim_root("seed-v")
    recs = read_dataset("seed-v", root)
    feats = read_dataset("seed-v", root, source="features")
    assert [r.subject for r in recs] == [r.subject for r in feats] == [1, 2]
    for rec, feat in zip(recs, feats):
        assert rec.n_trials == feat.n_trials == 45 and rec.n_chans == 62
        assert {t.shape for t in rec.eeg} == {(62, 1000)}
        np.testing.assert_array_equal(rec.labels["emotion"], feat.labels["emotion"])
        assert all(d.shape == (1, 62, 5) and np.isfinite(d).all() for d in feat.info["de"])


def test_seedv_class_rule():
    from neuroaffect.labels import class_names, make_labels, n_label_classes

    codes = np.concatenate(SEED_V_LABELS).astype(float)
    np.testing.assert_array_equal(make_labels(codes, "seed-v", "multiclass"), codes.astype(int))
    assert n_label_classes("seed-v", "multiclass") == 5 and class_names("seed-v", "multiclass") == SEED_V_CLASS_NAMES
    with pytest.raises(ValueError, match=r"codes in \{0, 1, 2, 3, 4\}.*5.0"):
        make_labels(np.array([5.0]), "seed-v", "multiclass")


def test_iter_recordings_lists_the_features_source(tmp_path):
    from neuroaffect.io import iter_recordings

    de, lab = _de()
    for s in (2, 5):
        write_de_npz(tmp_path / "EEG_DE_features" / f"{s}_123.npz", de, lab)
    assert [r.subject for r in iter_recordings("seed-v", tmp_path, source="features")] == [2, 5]
    (tmp_path / "EEG_DE_features" / "02_123.npz").write_bytes(b"")
    with pytest.raises(DatasetFormatError, match="one DE file per subject"):
        read_seedv(tmp_path, source="features")


def test_32_bit_cnt_reads_like_16_bit(tmp_path):
    import struct

    root = _copy(tmp_path)
    (rec16,) = read_seedv(root)
    for f in sorted((root / "EEG_raw").iterdir()):  # re-encode every sample block as int32
        raw = f.read_bytes()
        at = 900 + 75 * len(CNT_CH_NAMES)
        n_data = struct.unpack_from("<i", raw, 886)[0] - at
        counts = np.frombuffer(raw[at:at + n_data], "<i2").astype("<i4")
        head = bytearray(raw[:at])
        struct.pack_into("<i", head, 886, at + counts.nbytes)
        f.write_bytes(bytes(head) + counts.tobytes() + raw[at + n_data:])
    (rec32,) = read_seedv(root)
    for a, b in zip(rec16.eeg, rec32.eeg):
        np.testing.assert_array_equal(a, b)
