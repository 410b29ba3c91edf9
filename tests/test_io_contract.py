"""One contract every reader passes, on simulated files written in the real layouts."""

import json
import subprocess
import sys

import numpy as np
import pytest

from neuroaffect.channels import SFREQ, get_positions
from neuroaffect.io import Recording, iter_recordings, list_subjects, read_dataset

DATASETS = ["deap", "dreamer", "seed", "mahnob"]
DATASETS.append("faced")
DATASETS.append("seed-v")
DATASETS.append("amigos")


#: SEED-V's simulated CNT files take the longest to write and read (2-4 s a test): its cases are in the slow tier.
@pytest.fixture(params=[pytest.param(d, marks=pytest.mark.slow) if d == "seed-v" else d for d in DATASETS])
def dataset(request):
    return request.param


def test_reader_contract(dataset, sim_root):
    root = sim_root(dataset)
    recs = read_dataset(dataset, root)
    assert len(recs) >= 2, "tiny scale must hold at least two subjects"
    assert [r.subject for r in recs] == sorted(r.subject for r in recs)
    card = json.loads((root.parent / "simulation.json").read_text())
    assert card["dataset"] == dataset and len(card["subjects"]) == len(recs)
    for rec in recs:
        assert isinstance(rec, Recording)
        assert rec.dataset == dataset
        assert rec.sfreq == SFREQ[dataset]
        assert rec.n_trials > 0 and rec.n_chans == len(rec.ch_names) > 0
        for trial in rec.trials():
            assert trial.dtype == np.float64 and trial.shape[0] == rec.n_chans
            assert np.isfinite(trial).all()
            # volts: EEG amplitudes are microvolt-sized
            assert 1e-7 < np.std(trial) < 1e-3
        pos = get_positions(rec.ch_names)
        assert pos.shape == (rec.n_chans, 3) and np.isfinite(pos).all()
        assert len(np.unique(pos.round(6), axis=0)) == rec.n_chans
        assert rec.labels, "every dataset carries labels (NaN marks unlabeled trials)"
        for name, lab in rec.labels.items():
            lo, hi = rec.label_range[name]
            known = lab[~np.isnan(lab)]
            assert ((known >= lo) & (known <= hi)).all()
        assert rec.trial_ids.shape == rec.session_ids.shape == (rec.n_trials,)
        assert len(set(zip(rec.session_ids, rec.trial_ids))) == rec.n_trials
        for p in rec.peripheral.values():
            assert p.sfreq > 0 and len(p.data) == rec.n_trials
        assert rec.fnames and all(f.exists() for f in rec.fnames)


@pytest.mark.slow
def test_sidecar_records_the_planted_effect_size(dataset, tmp_path):
    from neuroaffect.simulate import DEFAULT_SNR, simulate

    for snr, want in ((None, DEFAULT_SNR), (0.5, 0.5)):
        root = simulate(dataset, scale="tiny", out=tmp_path / str(snr), seed=0, snr=snr)
        card = json.loads((root.parent / "simulation.json").read_text())
        assert card["snr"] == snr, f"{dataset}: sidecar snr {card.get('snr', 'missing')!r}, asked {snr!r}"
        assert [s["snr"] for s in card["subjects"]] == [want] * len(card["subjects"])


def test_reader_to_mne(dataset, sim_root):
    rec = read_dataset(dataset, sim_root(dataset), subjects=[1])[0]
    epochs = rec.to_epochs(crop=True)
    assert len(epochs) == rec.n_trials
    assert epochs.info["sfreq"] == rec.sfreq
    assert epochs.copy().pick("eeg").ch_names == list(rec.ch_names)
    locs = np.array([ch["loc"][:3] for ch in epochs.info["chs"][: rec.n_chans]])
    assert np.isfinite(locs).all() and (np.abs(locs).sum(1) > 0).all()
    n = min(rec.n_times)
    stim = epochs.get_data(picks="eeg")[0][:, epochs.times >= 0]  # t < 0: the baseline
    np.testing.assert_array_equal(stim, np.asarray(rec.eeg[0])[:, :n])
    assert (epochs.tmin < 0) == (rec.baseline is not None)
    assert len(epochs.ch_names) == rec.n_chans + sum(len(p.ch_names) for p in rec.peripheral.values())


def test_subject_listing_matches_reader(dataset, sim_root):
    root = sim_root(dataset)
    subjects = list_subjects(dataset, root)
    assert subjects == [r.subject for r in iter_recordings(dataset, root)]
    assert [r.subject for r in read_dataset(dataset, root, subjects=subjects[-1:])] == subjects[-1:]


@pytest.mark.slow
def test_simulate_is_deterministic(dataset, sim_root, tmp_path):
    from neuroaffect.simulate import simulate

    a = read_dataset(dataset, sim_root(dataset), subjects=[1])[0]
    b = read_dataset(dataset, simulate(dataset, "tiny", tmp_path / "again", seed=0), subjects=[1])[0]
    c = read_dataset(dataset, simulate(dataset, "tiny", tmp_path / "other", seed=1), subjects=[1])[0]
    for x, y in zip(a.eeg, b.eeg):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(np.asarray(a.eeg[0]), np.asarray(c.eeg[0])[:, : np.shape(a.eeg[0])[1]])


@pytest.mark.slow
def test_cli_simulate_then_summarize(tmp_path):
    out = tmp_path / "sim"
    run = lambda *a: subprocess.run([sys.executable, "-m", "neuroaffect", *a],
                                    capture_output=True, text=True)
    res = run("simulate", "--dataset", "deap", "--scale", "tiny", "--out", str(out), "--seed", "3")
    assert res.returncode == 0, res.stderr
    assert "wrote deap (tiny)" in res.stdout
    res = run("summarize", "--dataset", "deap", "--root", str(out / "deap"), "--out", str(tmp_path / "s"))
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["n_subjects"] >= 2 and summary["sfreq"] == 128.0 and summary["n_chans"] == 32
    hist = summary["labels"]["valence"]["histogram"]
    assert sum(v for k, v in hist.items() if k != "unlabeled") == summary["n_trials"]
    assert "| valence |" in (tmp_path / "s.md").read_text()
    res = run("summarize", "--dataset", "deap", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "t"))
    assert res.returncode == 2 and "nope" in res.stderr


def test_deap_reader_hash_equals_file_hash(sim_root):
    from neuroaffect._utils import sha256_file

    rec = read_dataset("deap", sim_root("deap"), subjects=[1])[0]
    ((fname, digest),) = rec.info["sha256"].items()
    assert digest == sha256_file(fname)
