"""Every reader returns a list; single-subject file (or session) roots read, list and summarise."""

import re
from pathlib import Path

import numpy as np
import pytest

import neuroaffect.io as nio
from neuroaffect.io import READERS, iter_recordings, list_subjects, read_dataset
from neuroaffect.io.summary import summarize_dataset

ROOT = Path(__file__).resolve().parent.parent


def _single_roots(dataset, root):
    """(single-subject root, its subject number) forms each dataset accepts."""
    if dataset == "deap":
        return [(root / "data_preprocessed_python" / "s02.dat", 2)]
    if dataset == "dreamer":
        return [(root / "DREAMER.mat", None)]
    if dataset == "seed":
        return [(root / "Preprocessed_EEG" / "2_20140404.mat", 2)]
    if dataset == "faced":
        return [(root / "Processed_data" / "sub001.pkl", 2)]
    if dataset == "seed-v":
        return [(root / "EEG_raw" / "2_1_20180409.cnt", 2)]
    if dataset == "amigos":
        folder = root / "Data_preprocessed_matlab" / "Data_Preprocessed_P02"
        return [(folder, 2), (folder / "Data_Preprocessed_P02.mat", 2)]
    session = root / "Sessions" / "10"  # Part_2_S_Trial2_emotion.bdf
    return [(session, 2), (session / "Part_2_S_Trial2_emotion.bdf", 2)]


@pytest.mark.parametrize("dataset", [pytest.param(d, marks=pytest.mark.slow) if d == "seed-v" else d  # 1.8 s
                                     for d in sorted(READERS)])
def test_every_reader_returns_a_list_for_every_root_form(dataset, sim_root):
    reader = getattr(nio, READERS[dataset])
    root = sim_root(dataset)
    for path, _ in [(root, None), *_single_roots(dataset, root)]:
        recs = reader(path)
        assert isinstance(recs, list) and recs, f"{READERS[dataset]}({path}) -> {type(recs)}"
        assert all(isinstance(r, nio.Recording) for r in recs)
        assert reader(path, subjects=[recs[-1].subject])[0].subject == recs[-1].subject


@pytest.mark.parametrize("dataset", ["deap", "seed", "mahnob", "amigos"])
def test_single_subject_root_lists_iterates_reads_and_summarises(dataset, sim_root):
    root = sim_root(dataset)
    full = {r.subject: r for r in read_dataset(dataset, root)}
    for path, subject in _single_roots(dataset, root):
        assert list_subjects(dataset, path) == [subject]
        (rec,) = list(iter_recordings(dataset, path))
        assert rec.subject == subject
        (again,) = read_dataset(dataset, path, subjects=[subject])
        np.testing.assert_array_equal(np.asarray(again.eeg[0]), np.asarray(rec.eeg[0]))
        summary = summarize_dataset(dataset, path)
        assert summary["n_subjects"] == 1 and summary["n_trials"] == rec.n_trials
        assert summary["subjects"][0]["subject"] == subject
        # the single-subject root holds a subset of that subject's trials, numbered alike
        ref = full[subject]
        pairs = set(zip(ref.session_ids.tolist(), ref.trial_ids.tolist()))
        assert set(zip(rec.session_ids.tolist(), rec.trial_ids.tolist())) <= pairs
        with pytest.raises((ValueError, FileNotFoundError), match=str(path.name)):
            read_dataset(dataset, path, subjects=[subject + 1])


def test_deap_single_file_equals_folder_read(sim_root):
    root = sim_root("deap")
    f = root / "data_preprocessed_python" / "s02.dat"
    (one,) = nio.read_deap(f)
    np.testing.assert_array_equal(one.eeg, nio.read_deap(root, subjects=[2])[0].eeg)
    assert "presentation_order" in one.info  # the CSV is found above the folder


def test_seed_single_session_keeps_the_session_number(sim_root):
    root = sim_root("seed")
    # 2_20140404 is subject 2's first date, 2_20140413 its second
    (first,) = nio.read_seed(root / "Preprocessed_EEG" / "2_20140404.mat")
    (second,) = nio.read_seed(root / "Preprocessed_EEG" / "2_20140413.mat")
    assert set(first.session_ids) == {1} and set(second.session_ids) == {2}
    assert [f.name for f in second.fnames] == ["2_20140413.mat", "label.mat"]


def test_single_file_roots_reject_other_files(sim_root, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("x")
    for dataset in ("deap", "seed", "mahnob"):
        with pytest.raises((ValueError, FileNotFoundError), match="notes.txt"):
            list_subjects(dataset, other)


def test_docstrings_cite_only_repository_docs():
    bad = []
    for f in sorted((ROOT / "neuroaffect" / "io").rglob("*.py")) + sorted(
            (ROOT / "neuroaffect" / "features").rglob("*.py")):
        for no, line in enumerate(f.read_text().splitlines(), start=1):
            if re.search(r"\bSPEC\b|reference/formats", line):
                bad.append(f"{f.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not bad, "\n".join(bad)
