"""SEED / SEED-IV readers and simulators: round trip, layout, ordering and every refusal."""

import json
import os
import re
import shutil

import numpy as np
import pytest
import scipy.io

from neuroaffect._utils import DatasetFormatError
from neuroaffect.channels import SEED_CH_NAMES, SEED_PREFIXES, get_positions
from neuroaffect.labels import SEED_IV_LABELS, SEED_LABELS
from neuroaffect.io.seed import list_subjects, parse_seed_fname, read_seed
from neuroaffect.simulate import seed as sim

TINY = sim.SCALES["tiny"]
TINY_IV = sim.SEED_IV_SCALES["tiny"]


@pytest.fixture(scope="module")
def root(sim_root):
    return sim_root("seed")


@pytest.fixture(scope="module")
def recs(root):
    return read_seed(root)


@pytest.fixture(scope="module")
def iv_root(tmp_path_factory):
    return sim.write_seed_iv(tmp_path_factory.mktemp("seed_iv"), "tiny", seed=0)


def _trial_keys(path):
    """Variable names in the order they are stored in the file."""
    return [name for name, _, _ in scipy.io.whosmat(str(path))]


# -- round trip ---------------------------------------------------------------------------
def test_layout_is_the_real_one(root):
    folder = root / "Preprocessed_EEG"
    names = sorted(p.name for p in folder.iterdir())
    expected = {f"{s}_{sim.SEED_DATES[s][i]}.mat" for s in (1, 2) for i in range(TINY.n_sessions)}
    assert set(names) == expected | {"label.mat"}
    lab = scipy.io.loadmat(folder / "label.mat")["label"]
    assert lab.shape == (1, 15) and lab[0].tolist() == list(SEED_LABELS)
    path = folder / f"2_{sim.SEED_DATES[2][1]}.mat"
    keys = _trial_keys(path)
    assert len(keys) == 15 and all(re.fullmatch(rf"{SEED_PREFIXES[1]}_eeg\d+", k) for k in keys)
    numbers = [int(k.rsplit("eeg", 1)[1]) for k in keys]
    assert numbers != sorted(numbers), "trial variables are written out of numeric order on purpose"
    m = scipy.io.loadmat(path)
    for k in keys:
        x = m[k]
        assert x.dtype == np.float64 and x.shape[0] == 62 and (x.shape[1] - 1) % 200 == 0
    assert m[f"{SEED_PREFIXES[1]}_eeg9"].shape == (62, 200 * TINY.trial_s[8] + 1)


def test_round_trip(root, recs):
    card = json.loads((root.parent / "simulation.json").read_text())
    assert card["dataset"] == "seed" and [r.subject for r in recs] == [1, 2]
    folder = root / "Preprocessed_EEG"
    for rec, sc in zip(recs, card["subjects"]):
        n = 15 * TINY.n_sessions
        assert rec.dataset == "seed" and rec.sfreq == 200.0 and rec.ch_names == SEED_CH_NAMES
        assert rec.n_trials == n and isinstance(rec.eeg, list)
        np.testing.assert_array_equal(rec.trial_ids, np.tile(np.arange(1, 16), TINY.n_sessions))
        np.testing.assert_array_equal(rec.session_ids, np.repeat(np.arange(1, TINY.n_sessions + 1), 15))
        np.testing.assert_array_equal(rec.labels["emotion"], np.tile(SEED_LABELS, TINY.n_sessions))
        assert rec.label_range["emotion"] == (-1.0, 1.0)
        assert [t.shape for t in rec.eeg] == [(62, 200 * s + 1) for s in TINY.trial_s] * TINY.n_sessions
        dates = [sim.SEED_DATES[rec.subject][i] for i in range(TINY.n_sessions)]
        assert list(rec.info["dates"].values()) == [f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in dates]
        assert rec.info["prefix"] == SEED_PREFIXES[rec.subject - 1]
        assert [s["date"] for s in sc["sessions"]] == dates
        # Values: trial k of session 2 is variable '<prefix>_eeg<k>' of the later file, in volts.
        m = scipy.io.loadmat(folder / f"{rec.subject}_{dates[1]}.mat")
        for pos in (15, 16, 24, 29):
            k = rec.trial_ids[pos]
            got = rec.eeg[pos]
            assert got.dtype == np.float64 and got.flags["C_CONTIGUOUS"]
            np.testing.assert_array_equal(got, m[f"{rec.info['prefix']}_eeg{k}"] * 1e-6)
        assert rec.fnames[-1].name == "label.mat" and len(rec.fnames) == TINY.n_sessions + 1
    # microvolt-sized EEG, in volts
    assert 2e-6 < np.std(recs[0].eeg[0]) < 1e-4


def test_preprocessed_folder_itself_and_subject_selection(root, recs):
    only = read_seed(root / "Preprocessed_EEG", subjects=[2])
    assert [r.subject for r in only] == [2]
    np.testing.assert_array_equal(only[0].eeg[17], recs[1].eeg[17])
    assert list_subjects(root) == [1, 2]
    with pytest.raises(ValueError, match=r"holds subjects \[1, 2\], but got 7"):
        read_seed(root, subjects=[7])
    with pytest.raises(ValueError, match="variant"):
        read_seed(root, variant="seed-v")


def test_sessions_follow_dates_not_listing(tmp_path, root, recs):
    """Copy subject 1 with its later session renamed to an earlier date: order follows dates."""
    src = root / "Preprocessed_EEG"
    dst = tmp_path / "Preprocessed_EEG"
    dst.mkdir()
    shutil.copy(src / "label.mat", dst)
    d1, d2 = sim.SEED_DATES[1][:2]
    shutil.copy(src / f"1_{d1}.mat", dst / "1_20140101.mat")  # first session, now the later date
    shutil.copy(src / f"1_{d2}.mat", dst / "1_20120101.mat")  # second session, now the earlier
    (rec,) = read_seed(tmp_path)
    assert rec.info["dates"] == {1: "2012-01-01", 2: "2014-01-01"}
    np.testing.assert_array_equal(rec.eeg[0], recs[0].eeg[15])
    np.testing.assert_array_equal(rec.eeg[15], recs[0].eeg[0])


def test_name_prefixed_mirror(tmp_path, root, recs):
    """``dujingcheng_<date>.mat`` files: numbered by alphabetical rank of the names."""
    src, dst = root / "Preprocessed_EEG", tmp_path / "Preprocessed_EEG"
    dst.mkdir()
    shutil.copy(src / "label.mat", dst)
    names = {1: "dujingcheng", 2: "jianglin"}
    for p in src.glob("*_*.mat"):
        s, date = p.stem.split("_")
        shutil.copy(p, dst / f"{names[int(s)]}_{date}.mat")
    got = read_seed(tmp_path)
    assert [r.subject for r in got] == [1, 2] and [r.info["name"] for r in got] == ["dujingcheng", "jianglin"]
    for a, b in zip(got, recs):
        np.testing.assert_array_equal(a.eeg[20], b.eeg[20])
    shutil.copy(src / f"1_{sim.SEED_DATES[1][0]}.mat", dst / "3_20131027.mat")
    with pytest.raises(DatasetFormatError, match="all start with a subject number or all with a subject name"):
        read_seed(tmp_path)


def test_seed_iv_round_trip(iv_root):
    recs = read_seed(iv_root, variant="seed-iv")
    assert [r.subject for r in recs] == [1, 2]
    assert read_seed(iv_root / "eeg_raw_data", variant="seed-iv", subjects=[2])[0].subject == 2
    card = json.loads((iv_root.parent / "simulation.json").read_text())
    assert card["dataset"] == "seed-iv"
    for rec in recs:
        assert rec.dataset == "seed-iv" and rec.n_trials == 24 * 3 and rec.label_range["emotion"] == (0.0, 3.0)
        np.testing.assert_array_equal(rec.session_ids, np.repeat([1, 2, 3], 24))
        np.testing.assert_array_equal(rec.trial_ids, np.tile(np.arange(1, 25), 3))
        np.testing.assert_array_equal(rec.labels["emotion"], np.concatenate(SEED_IV_LABELS))
        assert [t.shape[1] for t in rec.eeg[:24]] == [200 * s + 1 for s in TINY_IV.trial_s]
        dates = [sim.SEED_IV_DATES[rec.subject][i] for i in range(3)]
        m = scipy.io.loadmat(iv_root / "eeg_raw_data" / "3" / f"{rec.subject}_{dates[2]}.mat")
        np.testing.assert_array_equal(rec.eeg[48 + 10], m[f"{rec.info['prefix']}_eeg11"] * 1e-6)


def test_seed_writer_is_deterministic_per_subject(tmp_path, root):
    again = sim.write(tmp_path / "a", "tiny", seed=0, snr=None)
    other = sim.write(tmp_path / "b", "tiny", seed=5, snr=None)
    name = f"2_{sim.SEED_DATES[2][0]}.mat"
    a = scipy.io.loadmat(root / "Preprocessed_EEG" / name)
    b = scipy.io.loadmat(again / "Preprocessed_EEG" / name)
    c = scipy.io.loadmat(other / "Preprocessed_EEG" / name)
    key = f"{SEED_PREFIXES[1]}_eeg3"
    np.testing.assert_array_equal(a[key], b[key])
    assert not np.allclose(a[key], c[key])


def test_to_epochs_places_cb1_cb2(recs):
    rec = recs[0]
    epochs = rec.to_epochs(crop=True)
    assert len(epochs) == rec.n_trials and epochs.get_data().shape[1:] == (62, min(rec.n_times))
    locs = np.array([ch["loc"][:3] for ch in epochs.info["chs"]])
    assert np.isfinite(locs).all() and (np.linalg.norm(locs, axis=1) > 0.05).all()
    cb = [SEED_CH_NAMES.index("CB1"), SEED_CH_NAMES.index("CB2")]
    np.testing.assert_allclose(locs[cb], get_positions(["POO7", "POO8"]))
    np.testing.assert_array_equal(epochs.metadata["session"].to_numpy(), rec.session_ids)


def test_parse_seed_fname():
    assert parse_seed_fname("12_20131127.mat")[0] == "12"
    assert parse_seed_fname("dujingcheng_20131027.mat")[1].isoformat() == "2013-10-27"
    assert parse_seed_fname("label.mat") is None and parse_seed_fname("readme.txt") is None
    with pytest.raises(DatasetFormatError, match="valid date"):
        parse_seed_fname("1_20131399.mat")


# -- refusals (small hand-made folders) ---------------------------------------------------
def _trials(n_trials=15, n_times=201, n_chans=62, seed=0):
    rng = np.random.default_rng(seed)
    return {f"djc_eeg{k}": rng.normal(0, 20, (n_chans, n_times)) for k in range(1, n_trials + 1)}


def _folder(tmp_path, trials=None, label=None, fname="1_20131027.mat"):
    folder = tmp_path / "Preprocessed_EEG"
    folder.mkdir(exist_ok=True)
    lab = np.asarray(SEED_LABELS, float)[None] if label is None else label
    if not isinstance(lab, dict):
        lab = {"label": lab}
    scipy.io.savemat(folder / "label.mat", lab)
    path = folder / fname
    scipy.io.savemat(path, _trials() if trials is None else trials)
    return path


def _refused(root, path, *fragments, **kwargs):
    with pytest.raises(DatasetFormatError) as info:
        read_seed(root, **kwargs)
    msg = str(info.value)
    assert str(path) in msg and "expected" in msg and "found" in msg, msg
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"


def test_hand_made_folder_reads(tmp_path):
    trials = _trials()
    _folder(tmp_path, trials)
    (rec,) = read_seed(tmp_path)
    np.testing.assert_array_equal(rec.eeg[4], trials["djc_eeg5"] * 1e-6)


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected a SEED folder Preprocessed_EEG/"):
        read_seed(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="eeg_raw_data/"):
        read_seed(tmp_path, variant="seed-iv")


def test_missing_label_file(tmp_path):
    _folder(tmp_path)
    (tmp_path / "Preprocessed_EEG" / "label.mat").unlink()
    with pytest.raises(FileNotFoundError) as info:
        read_seed(tmp_path)
    assert str(tmp_path / "Preprocessed_EEG" / "label.mat") in str(info.value)


def test_no_session_files(tmp_path):
    path = _folder(tmp_path)
    path.rename(path.with_name("session1.txt"))
    with pytest.raises(FileNotFoundError, match=r"<subject>_<YYYYMMDD>\.mat files, but found"):
        read_seed(tmp_path)


@pytest.mark.parametrize("name", ["1_20131107.MAT", "1_20131107.Mat", "1_2013110.mat", "session3.mat"])
def test_misnamed_session_file_is_refused_not_skipped(tmp_path, name):
    """A third session named with an upper-case suffix (or a short date) was skipped: 30 of 45 trials read."""
    for date in ("20131027", "20131030"):
        _folder(tmp_path, fname=f"1_{date}.mat")
    bad = _folder(tmp_path, fname=name)
    _refused(tmp_path, bad, "<subject>_<YYYYMMDD>.mat", repr(name))


def test_simulated_copy_missing_a_declared_session(tmp_path, root, iv_root):
    """Every subject lost its second session: the counts agree, but simulation.json names the lost files."""
    for src, variant in ((root, "seed"), (iv_root, "seed-iv")):
        out = tmp_path / variant
        shutil.copytree(src, out / src.name)
        shutil.copy(src.parent / "simulation.json", out)
        card = json.loads((out / "simulation.json").read_text())
        lost = []
        for subj in card["subjects"]:
            s, d = subj["subject"], subj["sessions"][1]["date"]
            folder = out / src.name / ("Preprocessed_EEG" if variant == "seed" else "eeg_raw_data/2")
            lost.append(folder / f"{s}_{d}.mat")
            lost[-1].unlink()
        with pytest.raises(FileNotFoundError) as info:
            read_seed(out / src.name, variant=variant)
        msg = str(info.value)
        assert str(lost[0]) in msg and "subject 1, session 2" in msg and "simulation.json" in msg, msg


def test_session_file_that_is_not_a_regular_file(tmp_path):
    _folder(tmp_path)
    fifo = tmp_path / "Preprocessed_EEG" / "1_20131030.mat"
    os.mkfifo(fifo)
    _refused(tmp_path, fifo, "regular file", "FIFO")


def test_prefix_of_another_subject_is_refused(tmp_path):
    """Subject 1's file holding 'jl_eeg<k>' (SEED's subject 2) was read as subject 1."""
    trials = {k.replace("djc", "jl"): v for k, v in _trials().items()}
    path = _folder(tmp_path, trials)
    _refused(tmp_path, path, "'djc_eeg<k>' (SEED's prefix of subject 1)", "'jl', SEED's prefix of subject 2")


def test_mixed_prefixes_in_one_file_or_subject_are_refused(tmp_path):
    trials = _trials()
    trials["jl_eeg15"] = trials.pop("djc_eeg15")
    path = _folder(tmp_path, trials)
    _refused(tmp_path, path, "one variable prefix", "['djc', 'jl']")


def test_seed_iv_sessions_of_one_subject_share_a_prefix(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "eeg_raw_data"
    for session, prefix in ((1, "cz"), (2, "cz"), (3, "ha")):
        (root / str(session)).mkdir(parents=True)
        scipy.io.savemat(root / str(session) / f"1_2015090{session}.mat",
                         {f"{prefix}_eeg{k}": rng.normal(0, 20, (62, 201)) for k in range(1, 25)})
    _refused(tmp_path, root / "3" / "1_20150903.mat", "prefix of subject 1's other sessions ('cz')", "'ha'",
             variant="seed-iv")


def test_label_key_absent(tmp_path):
    _folder(tmp_path, label={"labels": np.asarray(SEED_LABELS, float)[None]})
    _refused(tmp_path, tmp_path / "Preprocessed_EEG" / "label.mat", "'label'", "['labels']")


def test_label_out_of_range(tmp_path):
    lab = np.asarray(SEED_LABELS, float)[None].copy()
    lab[0, 6] = 2
    _folder(tmp_path, label=lab)
    _refused(tmp_path, tmp_path / "Preprocessed_EEG" / "label.mat", "{-1, 0, 1}", "2.0 for trial 7")


def test_label_wrong_shape(tmp_path):
    _folder(tmp_path, label=np.asarray(SEED_LABELS, float)[None, :14])
    _refused(tmp_path, tmp_path / "Preprocessed_EEG" / "label.mat", "(1, 15)", "(1, 14)")


def test_no_eeg_variables(tmp_path):
    path = _folder(tmp_path, trials={"djc_eog1": np.zeros((2, 201)), "info": np.zeros(3)})
    _refused(tmp_path, path, "'<prefix>_eeg<k>'", "djc_eog1")


def test_missing_trial(tmp_path):
    trials = _trials()
    del trials["djc_eeg12"]
    path = _folder(tmp_path, trials)
    _refused(tmp_path, path, "'<prefix>_eeg15'", "trial numbers [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13")


def test_61_channels(tmp_path):
    trials = _trials()
    trials["djc_eeg3"] = trials["djc_eeg3"][:61]
    path = _folder(tmp_path, trials)
    _refused(tmp_path, path, "'djc_eeg3'", "(62, n_times)", "(61, 201)")


def test_transposed_trial(tmp_path):
    trials = _trials()
    trials["djc_eeg1"] = trials["djc_eeg1"].T.copy()
    path = _folder(tmp_path, trials)
    _refused(tmp_path, path, "'djc_eeg1'", "transposed")


def test_nan_run(tmp_path):
    trials = _trials()
    trials["djc_eeg8"][5, 50:80] = np.nan
    path = _folder(tmp_path, trials)
    _refused(tmp_path, path, "'djc_eeg8'", "30 NaN/Inf")


def test_lengths_of_another_rate(tmp_path):
    """A copy resampled to 128 Hz: 3 s are 384 samples, not 200 * s + 1."""
    path = _folder(tmp_path, _trials(n_times=384))
    _refused(tmp_path, path, "200 Hz", "200 * s + 1", "384 samples", "3 s at 128 Hz")


def test_even_200hz_length_without_the_extra_sample(tmp_path):
    path = _folder(tmp_path, _trials(n_times=400))
    _refused(tmp_path, path, "200 * s + 1", "400 samples")


def test_truncated_file(tmp_path, root):
    src = root / "Preprocessed_EEG" / f"1_{sim.SEED_DATES[1][0]}.mat"
    path = _folder(tmp_path)
    data = src.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _refused(tmp_path, path, "a complete MATLAB v5 file", "unreadable")


def test_two_files_for_one_date(tmp_path):
    _folder(tmp_path)
    _folder(tmp_path, fname="01_20131027.mat")
    _refused(tmp_path, tmp_path / "Preprocessed_EEG", "one file per date for subject 1")
