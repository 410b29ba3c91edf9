"""FACED reader and simulator: the processed release's layout, its ratings files, and their faults."""

import pickle
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from neuroaffect._utils import DatasetFormatError, sha256_file
from neuroaffect.channels import FACED_CH_NAMES, FACED_SFREQ, get_positions
from neuroaffect.io import list_subjects, read_dataset
from neuroaffect.io._pickle import UnsafePickleError, safe_load
from neuroaffect.io.faced import N_CHANS, N_CLIPS, N_TIMES, read_after_remarks, read_faced
from neuroaffect.labels import FACED_CLASS_NAMES, FACED_CLIP_CLASSES, FACED_RATING_ITEMS, FACED_RATING_RANGE
from neuroaffect.simulate.faced import SCALES, write_array_pickle

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def faced(sim_root, tmp_path):
    """A private copy of the tiny simulated FACED (tests may damage it)."""
    dst = tmp_path / "faced"
    shutil.copytree(sim_root("faced"), dst)
    return dst


def _pkl(root, k=0):
    return root / "Processed_data" / f"sub{k:03d}.pkl"


def _write_pkl(path, obj_bytes):
    path.write_bytes(obj_bytes)
    return path


def test_reads_the_simulated_release(sim_root):
    root = sim_root("faced")
    recs = read_faced(root)
    assert [r.subject for r in recs] == [1, 2] == list_subjects("faced", root)
    n_times = SCALES["tiny"].n_times
    for rec in recs:
        assert rec.dataset == "faced" and rec.sfreq == FACED_SFREQ == 250.0
        assert rec.ch_names == FACED_CH_NAMES and len(rec.ch_names) == 32
        assert rec.eeg.shape == (N_CLIPS, N_CHANS, n_times) and rec.eeg.dtype == np.float64
        assert 1e-7 < rec.eeg.std() < 1e-3  # volts
        np.testing.assert_allclose(rec.eeg.mean(axis=1), 0.0, atol=1e-12)  # average reference
        np.testing.assert_array_equal(rec.labels["emotion"], FACED_CLIP_CLASSES)
        assert rec.label_range["emotion"] == (0.0, 8.0)
        for name in ("valence", "arousal"):
            assert rec.label_range[name] == FACED_RATING_RANGE
            assert ((rec.labels[name] >= 0) & (rec.labels[name] <= 7)).all()
        np.testing.assert_array_equal(rec.trial_ids, np.arange(1, 29))
        assert sorted(rec.info["presentation_order"]) == list(range(1, 29))
        assert rec.info["ratings"].shape == (28, 12)
        ((fname, digest),) = rec.info["sha256"].items()
        assert Path(fname).name == f"sub{rec.subject - 1:03d}.pkl" == f"{rec.info['faced_id']}.pkl"
        assert digest == sha256_file(fname)
        assert rec.fnames[1].name == "After_remarks.mat"
    assert get_positions(FACED_CH_NAMES).shape == (32, 3)


def test_clip_classes_follow_the_published_design():
    counts = np.bincount(FACED_CLIP_CLASSES, minlength=9)
    assert len(FACED_CLIP_CLASSES) == 28 and counts.tolist() == [3, 3, 3, 3, 4, 3, 3, 3, 3]
    assert FACED_CLIP_CLASSES == tuple(sorted(FACED_CLIP_CLASSES))  # grouped by category, video index order
    assert FACED_CLASS_NAMES[4] == "neutral" and len(FACED_RATING_ITEMS) == 12
    assert FACED_RATING_ITEMS[8:10] == ("arousal", "valence")


def test_simulated_ratings_follow_the_clip_category(sim_root):
    rec = read_faced(sim_root("faced"), subjects=[1])[0]
    cls = rec.labels["emotion"]
    neg, pos = np.isin(cls, [0, 1, 2, 3]), np.isin(cls, [5, 6, 7, 8])
    assert rec.labels["valence"][pos].mean() > rec.labels["valence"][neg].mean() + 2
    target = [FACED_RATING_ITEMS.index(FACED_CLASS_NAMES[int(c)]) for c in cls if c != 4]
    rows = np.flatnonzero(cls != 4)
    assert (rec.info["ratings"][rows, target] >= 4.5).all()


def test_pickle_is_what_plain_pickle_reads(sim_root, tmp_path):
    """TorchEEG opens the files with pickle.load; the restricted unpickler reads the same array."""
    fname = _pkl(sim_root("faced"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core -> numpy._core
        with open(fname, "rb") as f:
            plain = pickle.load(f, encoding="iso-8859-1")
    np.testing.assert_array_equal(safe_load(fname), plain)
    arr = np.arange(24.0).reshape(2, 3, 4)
    with open(tmp_path / "a.pkl", "wb") as f:
        write_array_pickle(f, arr)
    np.testing.assert_array_equal(pickle.loads((tmp_path / "a.pkl").read_bytes()), arr)


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reads_python_pickles_of_any_protocol(faced, protocol, dtype):
    """The release's files are ``pickle.dump`` of an array: protocol and float width not published."""
    data = safe_load(_pkl(faced)).astype(dtype)
    _write_pkl(_pkl(faced), pickle.dumps(data, protocol=protocol))
    rec = read_faced(faced, subjects=[1])[0]
    np.testing.assert_allclose(rec.eeg, data.astype(np.float64) * 1e-6, rtol=1e-6)


def test_single_file_root_and_ratings_switch(faced):
    (rec,) = read_faced(_pkl(faced, 1))
    assert rec.subject == 2 and "valence" in rec.labels
    assert sorted(read_faced(faced, ratings=False)[0].labels) == ["emotion"]
    assert [r.subject for r in read_dataset("faced", faced / "Processed_data", subjects=2)] == [2]
    with pytest.raises(ValueError, match="sub001.pkl"):
        read_faced(_pkl(faced, 1), subjects=[1])
    with pytest.raises(ValueError, match="'ratings'"):
        read_faced(faced, ratings="yes")


def test_missing_subject_names_the_file(faced):
    with pytest.raises(FileNotFoundError, match=r"sub004\.pkl"):
        read_faced(faced, subjects=[1, 5])
    with pytest.raises(FileNotFoundError, match="Processed_data"):
        read_faced(faced / "nowhere")


def test_truncated_pickle_is_a_format_error(faced):
    fname = _pkl(faced)
    raw = fname.read_bytes()
    fname.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetFormatError, match=re.escape(str(fname))):
        read_faced(faced, subjects=[1])


@pytest.mark.parametrize("shape", [(27, 32, 500), (28, 30, 500), (28, 32, 499), (28, 32), (28, 32, 0)])
def test_wrong_shape_is_refused(faced, shape):
    fname = _write_pkl(_pkl(faced), pickle.dumps(np.ones(shape), protocol=4))
    with pytest.raises(DatasetFormatError, match=r"\(28, 32, n_times\)") as err:
        read_faced(faced, subjects=[1])
    assert str(fname) in str(err.value)


def test_other_objects_volts_and_nan_are_refused(faced):
    data = safe_load(_pkl(faced))
    cases = {
        "pickled dict": pickle.dumps({"data": data}, protocol=4),
        "int64 array": pickle.dumps(data.astype(np.int64), protocol=4),
        "volts": pickle.dumps(data * 1e-6, protocol=4),
        "NaN": pickle.dumps(np.where(np.arange(data.size).reshape(data.shape) == 7, np.nan, data), protocol=4),
        r"\+-10000 uV": pickle.dumps(data * 1e4, protocol=4),
    }
    for expect, raw in cases.items():
        fname = _write_pkl(_pkl(faced), raw)
        with pytest.raises(DatasetFormatError, match=re.escape(str(fname))) as err:
            read_faced(faced, subjects=[1])
        assert re.search(expect, str(err.value), re.IGNORECASE), (expect, str(err.value))


def test_unsafe_pickle_is_refused_unrun(faced, tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (shutil.copy, (str(_pkl(faced)), str(marker)))

    _write_pkl(_pkl(faced), pickle.dumps(Evil(), protocol=4))
    with pytest.raises(UnsafePickleError, match="shutil"):
        read_faced(faced, subjects=[1])
    assert not marker.exists()


def _remarks(faced, k=0):
    return faced / "Data" / f"sub{k:03d}" / "After_remarks.mat"


def _rewrite_remarks(fname, change):
    cells = scipy.io.loadmat(fname)["After_remark"]
    entries = [{"score": c[0, 0]["score"], "vid": c[0, 0]["vid"]} for c in cells.reshape(-1)]
    out = change(entries)
    if isinstance(out, dict):
        scipy.io.savemat(fname, out)
        return
    arr = np.empty((1, len(out)), dtype=object)
    for i, e in enumerate(out):
        arr[0, i] = e
    scipy.io.savemat(fname, {"After_remark": arr})


def test_ratings_file_round_trip_and_order(faced):
    table = read_after_remarks(_remarks(faced))
    cells = scipy.io.loadmat(_remarks(faced))["After_remark"].reshape(-1)
    first = cells[0][0, 0]
    vid = int(first["vid"].reshape(-1)[0])
    assert table["presentation_order"][vid - 1] == 1
    np.testing.assert_array_equal(table["ratings"][vid - 1], first["score"].reshape(-1))


@pytest.mark.parametrize("change, expect", [
    (lambda e: e[:27], "28 entries"),
    (lambda e: [{**x, "vid": e[0]["vid"]} for x in e], "each video index"),
    (lambda e: [{**x, "score": x["score"] * 0 + 8.0} for x in e], r"in \[0, 7\]"),
    (lambda e: [{**x, "score": x["score"][:, :11]} for x in e], "12 numbers"),
    (lambda e: [{"score": x["score"]} for x in e], "'vid'"),
    (lambda e: {"ratings": np.zeros((28, 12))}, "'After_remark'"),
])
def test_bad_ratings_files_are_refused(faced, change, expect):
    fname = _remarks(faced)
    _rewrite_remarks(fname, change)
    with pytest.raises(DatasetFormatError, match=expect) as err:
        read_faced(faced, subjects=[1])
    assert str(fname) in str(err.value)


def test_ratings_for_some_subjects_only(faced):
    _remarks(faced, 1).unlink()
    with pytest.raises(FileNotFoundError, match="sub001"):
        read_faced(faced)
    assert "valence" in read_faced(faced, subjects=[1])[0].labels
    with pytest.raises(FileNotFoundError, match="After_remarks.mat"):
        read_faced(faced, subjects=[2], ratings=True)
    assert "valence" not in read_faced(faced, subjects=[2])[0].labels


def test_docs_state_the_published_layout_with_sources():
    text = (ROOT / "docs" / "formats.md").read_text()
    section = text.split("## FACED", 1)[1].split("\n## ", 1)[0]
    for fact in ("Processed_data/subNNN.pkl", f"({N_CLIPS}, {N_CHANS}, {N_TIMES})", "250 Hz", "After_remarks.mat",
                 "syn50614194", "torcheeg", "s41597-023-02650-w", "Not confirmed"):
        assert fact in section, fact
    assert N_TIMES == int(30 * FACED_SFREQ)


def test_malformed_mat_elements_are_refused_before_scipy_reads_them(faced):
    """An unknown data type code crashes scipy's reader; the structural check refuses it first."""
    fname = _remarks(faced)
    raw = bytearray(fname.read_bytes())
    i = raw.index(b"\x09\x00\x00\x00\x08\x00\x00\x00", 128)  # a miDOUBLE element of 8 bytes ('vid')
    raw[i] = 0xC0
    fname.write_bytes(bytes(raw))
    with pytest.raises(DatasetFormatError, match="data type 192") as err:
        read_faced(faced, subjects=[1])
    assert str(fname) in str(err.value)


def test_compressed_ratings_file_reads(faced):
    """MATLAB saves compressed (v7) files by default: the check walks the inflated variables."""
    fname = _remarks(faced)
    before = read_after_remarks(fname)
    scipy.io.savemat(fname, {"After_remark": scipy.io.loadmat(fname)["After_remark"]}, do_compression=True)
    after = read_after_remarks(fname)
    np.testing.assert_array_equal(before["ratings"], after["ratings"])
    np.testing.assert_array_equal(before["presentation_order"], after["presentation_order"])
