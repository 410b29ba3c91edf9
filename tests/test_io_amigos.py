"""AMIGOS reader on simulated files in the preprocessed release's layout, and its refusals."""

import copy
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from neuroaffect._utils import DatasetFormatError
from neuroaffect.channels import AMIGOS_CH_NAMES, AMIGOS_SFREQ, DREAMER_CH_NAMES
from neuroaffect.io import list_subjects, read_dataset
from neuroaffect.io.amigos import (AMIGOS_DIR, AMIGOS_LONG_VIDEOS, AMIGOS_SELF_COLUMNS, AMIGOS_SHORT_VIDEOS,
                                   amigos_fname, read_amigos)
from neuroaffect.labels import make_labels

DOCS = Path(__file__).resolve().parent.parent / "docs" / "formats.md"


@pytest.fixture(scope="module")
def subject():
    from neuroaffect.simulate.amigos import simulate_subject

    return simulate_subject(0, 1, "tiny")


def _write(tmp_path, subj, number=1) -> Path:
    from neuroaffect.simulate.amigos import write_amigos_mat

    name = amigos_fname(number)
    return write_amigos_mat(tmp_path / AMIGOS_DIR / name[:-4] / name, subj)


def test_reads_the_simulated_release(sim_root):
    root = sim_root("amigos")
    assert list_subjects("amigos", root) == [1, 2]
    recs = read_dataset("amigos", root)
    assert [r.subject for r in recs] == [1, 2]
    for rec in recs:
        assert rec.dataset == "amigos" and rec.sfreq == AMIGOS_SFREQ == 128.0
        assert rec.ch_names == AMIGOS_CH_NAMES == DREAMER_CH_NAMES
        assert rec.n_trials == 16 and set(rec.info["video_ids"]) == set(AMIGOS_SHORT_VIDEOS)
        assert sorted(rec.trial_ids) == sorted(int(v) for v in AMIGOS_SHORT_VIDEOS)
        assert (rec.session_ids == 1).all()
        assert set(rec.labels) == {"valence", "arousal", "dominance", "liking"}
        assert all(rec.label_range[k] == (1.0, 9.0) for k in rec.labels)
        assert rec.peripheral["ecg"].ch_names == ("ECG_R", "ECG_L") and rec.peripheral["gsr"].kind == "gsr"
        assert all(p.unit == "a.u." and p.sfreq == 128.0 for p in rec.peripheral.values())
        assert rec.info["emotions"].shape == (16, 7) and set(np.unique(rec.info["emotions"])) <= {0.0, 1.0}
        assert all(a.shape[1] == 3 for a in rec.info["ext_annotation"])
        assert rec.baseline is None
        assert make_labels(rec.labels["valence"], "amigos", "binary").shape == (16,)


def test_cells_follow_the_file(sim_root):
    """Ratings come from the file's column order (arousal first), trial ids from VideoIDs."""
    import scipy.io

    root = sim_root("amigos")
    rec = read_amigos(root, [1])[0]
    mat = scipy.io.loadmat(str(rec.fnames[0]))
    ids = [str(np.asarray(x).reshape(-1)[0]) for x in mat["VideoIDs"][0]]
    assert ids[16:] == list(AMIGOS_LONG_VIDEOS) and rec.info["video_ids"] == tuple(ids[:16])
    rows = np.array([mat["labels_selfassessment"][0][k].reshape(-1) for k in range(16)])
    np.testing.assert_array_equal(rec.labels["arousal"], rows[:, AMIGOS_SELF_COLUMNS.index("arousal")])
    np.testing.assert_array_equal(rec.labels["valence"], rows[:, 1])
    x = mat["joined_data"][0][3]
    np.testing.assert_allclose(rec.eeg[3], x[:, :14].T * 1e-6)
    np.testing.assert_array_equal(rec.peripheral["gsr"].data[3][0], x[:, 16])


def test_long_videos_and_participants_who_missed_them(sim_root):
    root = sim_root("amigos")
    recs = read_amigos(root, videos="long")
    assert [r.subject for r in recs] == [1]  # participant 2 watched no long video: left out
    assert list(recs[0].info["video_ids"]) == list(AMIGOS_LONG_VIDEOS)
    assert list(recs[0].trial_ids) == [1, 2, 3, 4] and (recs[0].session_ids == 2).all()
    with pytest.raises(DatasetFormatError, match=r"Data_Preprocessed_P02\.mat.*at least one video"):
        read_amigos(root, [2], videos="long")
    both = read_amigos(root, videos="all")
    assert [r.n_trials for r in both] == [20, 16]
    assert both[1].info["missing_videos"] == AMIGOS_LONG_VIDEOS
    with pytest.raises(ValueError, match="videos"):
        read_amigos(root, videos="medium")


def test_every_form_of_root(sim_root, tmp_path):
    root = sim_root("amigos")
    folder = root / AMIGOS_DIR
    one = folder / "Data_Preprocessed_P02" / "Data_Preprocessed_P02.mat"
    for r in (root, folder):
        assert [x.subject for x in read_amigos(r)] == [1, 2]
    assert [x.subject for x in read_amigos(one)] == [2]
    assert [x.subject for x in read_amigos(one.parent)] == [2]
    flat = tmp_path / "data_preprocessed"  # TorchEEG's flat folder of files
    flat.mkdir()
    for s in (1, 2):
        shutil.copy(folder / amigos_fname(s)[:-4] / amigos_fname(s), flat / amigos_fname(s))
    assert [x.subject for x in read_amigos(flat)] == [1, 2]
    shutil.copytree(folder / "Data_Preprocessed_P01", flat / "Data_Preprocessed_P01")
    with pytest.raises(DatasetFormatError, match="one file per participant"):
        read_amigos(flat)
    with pytest.raises(FileNotFoundError, match="Data_Preprocessed_PNN.mat.*no such path"):
        read_amigos(tmp_path / "nothing")
    with pytest.raises(ValueError, match=r"subjects.*\[1, 2\]"):
        read_amigos(root, [3])


def test_truncated_and_missing_variable(tmp_path, subject):
    from neuroaffect.simulate.amigos import make_amigos_mat

    path = _write(tmp_path, subject)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetFormatError, match=re.escape(str(path)) + ".*MATLAB v5 file"):
        read_amigos(tmp_path)
    import scipy.io

    mdict = make_amigos_mat(subject)
    del mdict["VideoIDs"]
    scipy.io.savemat(path, mdict)
    with pytest.raises(DatasetFormatError, match=r"P01\.mat.*variables.*missing \['VideoIDs'\]"):
        read_amigos(tmp_path)
    mdict = make_amigos_mat(subject)
    mdict["joined_data"] = mdict["joined_data"][:, :16]
    scipy.io.savemat(path, mdict)
    with pytest.raises(DatasetFormatError, match=r"joined_data as a 1x20 cell array.*\(1, 16\)"):
        read_amigos(tmp_path)


def _refused(tmp_path, subj, pattern, **kwargs):
    path = _write(tmp_path, subj)
    with pytest.raises(DatasetFormatError, match=pattern) as err:
        read_amigos(tmp_path, **kwargs)
    assert str(path) in str(err.value)


def test_wrong_columns_and_transposed(tmp_path, subject):
    bad = copy.deepcopy(subject)
    bad["joined"][2] = bad["joined"][2][:, :16]
    _refused(tmp_path, bad, r"joined_data\{3\}.*\(n_samples, 17\).*\(\d+, 16\)")
    bad = copy.deepcopy(subject)
    bad["joined"][0] = bad["joined"][0].T.copy()
    _refused(tmp_path, bad, r"transposed")


def test_nan_runs_are_refused_or_dropped(tmp_path, subject):
    bad = copy.deepcopy(subject)
    bad["joined"][5][10:40, 15] = np.nan
    _refused(tmp_path, bad, r"bad_trials='drop'.*30 NaN/Inf samples.*'ECG_L' at sample 10; longest run 30 samples")
    rec = read_amigos(tmp_path, bad_trials="drop")[0]
    assert rec.n_trials == 15 and rec.info["dropped_videos"] == (subject["video_ids"][5],)
    assert subject["video_ids"][5] not in rec.info["video_ids"]


def test_implausible_values_ids_and_ratings(tmp_path, subject):
    bad = copy.deepcopy(subject)
    bad["joined"][1][7, 4] = 1e300
    _refused(tmp_path, bad, r"1e\+300 uV in channel 'T7'.*EEG samples within")
    bad = copy.deepcopy(subject)
    bad["joined"][1][:, 6] = 3.0
    _refused(tmp_path, bad, r"'O1' constant at 3 uV.*vary within each trial")
    bad = copy.deepcopy(subject)
    bad["video_ids"][0] = "999"
    _refused(tmp_path, bad, r"VideoIDs cells 1-16.*'999'")
    bad = copy.deepcopy(subject)
    bad["self"][4, 1] = 12.0
    _refused(tmp_path, bad, r"labels_selfassessment\{5\}: ratings in \[1, 9\].*valence = 12\.0")
    bad = copy.deepcopy(subject)
    bad["self"][4, 7] = 0.5
    _refused(tmp_path, bad, r"basic-emotion flags 0 or 1.*happiness = 0\.5")


def test_unrated_video_reads_as_nan(tmp_path, subject):
    subj = copy.deepcopy(subject)
    subj["self"][3] = np.nan  # written as an empty cell
    _write(tmp_path, subj)
    rec = read_amigos(tmp_path)[0]
    assert np.isnan(rec.labels["valence"][3]) and np.isfinite(np.delete(rec.labels["valence"], 3)).all()


def test_simulator_is_deterministic(tmp_path):
    from neuroaffect.simulate import simulate

    a = simulate("amigos", "tiny", tmp_path / "a", seed=3)
    b = simulate("amigos", "tiny", tmp_path / "b", seed=3)
    rel = Path(AMIGOS_DIR) / "Data_Preprocessed_P01" / "Data_Preprocessed_P01.mat"
    assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert (a / rel).read_bytes()[:116].startswith(b"MATLAB 5.0 MAT-file, Platform: posix, written by neuroaffect")


def test_formats_doc_cites_the_layout():
    text = DOCS.read_text()
    assert "## AMIGOS" in text
    section = text.split("## AMIGOS", 1)[1].split("\n## ", 1)[0]
    for needle in ("joined_data", "labels_selfassessment", "labels_ext_annotation", "VideoIDs", "(n_samples x 17)",
                   "https://www.eecs.qmul.ac.uk/mmv/datasets/amigos/", "torcheeg", "Not confirmed"):
        assert needle in section, needle
