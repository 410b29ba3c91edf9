"""DREAMER reader and simulator: round trip, layout, determinism and every refusal."""

import json

import numpy as np
import pytest
import scipy.io

from neuroaffect._utils import DatasetFormatError
from neuroaffect.channels import DREAMER_CH_NAMES
from neuroaffect.io.dreamer import list_subjects, read_dreamer
from neuroaffect.simulate import dreamer as sim

TINY = sim.SCALES["tiny"]


@pytest.fixture(scope="module")
def root(sim_root):
    return sim_root("dreamer")


@pytest.fixture(scope="module")
def recs(root):
    return read_dreamer(root)


@pytest.fixture(scope="module")
def subjects():
    """Two tiny subjects as the simulator builds them (samples x channels, uV)."""
    return [sim.simulate_subject(0, s, "tiny") for s in (1, 2)]


def _copy(subjects):
    out = []
    for s in subjects:
        c = dict(s)
        for key in ("eeg_stimuli", "eeg_baseline", "ecg_stimuli", "ecg_baseline"):
            c[key] = [x.copy() for x in s[key]]
        c["scores"] = s["scores"].copy()
        out.append(c)
    return out


def _refused(path, *fragments, subjects=None):
    """Reading ``path`` raises DatasetFormatError naming the file and every fragment."""
    with pytest.raises(DatasetFormatError) as info:
        read_dreamer(path, subjects=subjects)
    msg = str(info.value)
    assert str(path) in msg and "expected" in msg and "found" in msg, msg
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"
    return msg


# -- round trip ---------------------------------------------------------------------------
def test_layout_is_the_real_nesting(root):
    """Access style A of the real file works on the simulated one, key by key."""
    m = scipy.io.loadmat(root / "DREAMER.mat")
    d = m["DREAMER"][0, 0]
    assert set(d.dtype.names) == {
        "Data", "EEG_SamplingRate", "ECG_SamplingRate", "EEG_Electrodes", "noOfSubjects",
        "noOfVideoSequences", "Disclaimer", "Provider", "Version", "Acknowledgement",
    }
    assert d["Data"].shape == (1, TINY.n_subjects) and d["Data"].dtype == object
    subj = d["Data"][0, 1]
    eeg = subj["EEG"][0, 0]
    assert eeg["stimuli"][0, 0].shape == (18, 1) and eeg["baseline"][0, 0].shape == (18, 1)
    x = eeg["stimuli"][0, 0][5, 0]
    assert x.shape == (TINY.clip_s[5] * 128, 14) and x.dtype == np.float64
    assert eeg["baseline"][0, 0][0, 0].shape == (TINY.baseline_s * 128, 14)
    ecg = subj["ECG"][0, 0]
    assert ecg["baseline"][0, 0][3, 0].shape == (TINY.baseline_s * 256, 2)
    assert abs(ecg["stimuli"][0, 0][5, 0].shape[0] - 2 * x.shape[0]) <= 8
    assert subj["ScoreValence"][0, 0].shape == (18, 1)
    assert isinstance(str(subj["Age"][0, 0][0]), str) and str(subj["Gender"][0, 0][0]) in ("male", "female")
    assert [str(e[0]) for e in d["EEG_Electrodes"][0]] == list(DREAMER_CH_NAMES)
    assert float(d["EEG_SamplingRate"][0, 0]) == 128 and float(d["ECG_SamplingRate"][0, 0]) == 256


def test_round_trip_values_labels_and_shapes(root, recs, subjects):
    card = json.loads((root.parent / "simulation.json").read_text())
    assert [r.subject for r in recs] == [1, 2]
    for rec, subj, sc in zip(recs, subjects, card["subjects"]):
        assert rec.dataset == "dreamer" and rec.sfreq == 128.0 and rec.ch_names == DREAMER_CH_NAMES
        assert isinstance(rec.eeg, list) and len(rec.eeg) == 18
        assert [t.shape for t in rec.eeg] == [(14, s * 128) for s in TINY.clip_s]
        assert len(set(rec.n_times)) > 1  # unequal clip lengths survive
        for got, stored in zip(rec.eeg, subj["eeg_stimuli"]):
            assert got.dtype == np.float64 and got.flags["C_CONTIGUOUS"]
            np.testing.assert_array_equal(got, stored.T * 1e-6)  # uV -> V, exactly
        assert rec.baseline.shape == (18, 14, TINY.baseline_s * 128)
        np.testing.assert_array_equal(rec.baseline[7], subj["eeg_baseline"][7].T * 1e-6)
        ecg = rec.peripheral["ecg"]
        assert (ecg.kind, ecg.sfreq, ecg.unit, ecg.ch_names) == ("ecg", 256.0, "uV", ("ECG1", "ECG2"))
        assert len(ecg.data) == 18 and ecg.baseline.shape == (18, 2, TINY.baseline_s * 256)
        np.testing.assert_array_equal(ecg.data[4], subj["ecg_stimuli"][4].T)
        for name, col in (("valence", 0), ("arousal", 1), ("dominance", 2)):
            np.testing.assert_array_equal(rec.labels[name], np.asarray(sc["scores"])[:, col])
            assert rec.label_range[name] == (1.0, 5.0)
        np.testing.assert_allclose(np.asarray(sc["vad"]), (np.asarray(sc["scores"]) - 3) / 2)
        assert rec.info["age"] == sc["age"] and rec.info["gender"] == sc["gender"]
        assert rec.info["target_emotion"][0] == "calmness" and len(rec.info["target_emotion"]) == 18
        np.testing.assert_array_equal(rec.trial_ids, np.arange(1, 19))


def test_eeg_carries_an_emotiv_dc_level_and_no_label_effect_in_baselines(recs):
    rec = recs[0]
    means = np.array([t.mean(axis=1) for t in rec.eeg])  # (18, 14) volts
    assert 3.3e-3 < np.median(means) < 4.7e-3
    # The AC part is EEG-sized after removing each channel's mean.
    ac = np.concatenate([t - t.mean(axis=1, keepdims=True) for t in rec.eeg], axis=1)
    assert 2e-6 < ac.std() < 1e-4
    # Stored at the headset's 0.51 uV resolution.
    steps = np.concatenate([t.ravel() for t in rec.eeg]) * 1e6 / 0.51
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)


def test_scores_are_integers_in_range_with_both_halves(recs):
    for rec in recs:
        for name in ("valence", "arousal"):
            lab = rec.labels[name]
            assert np.array_equal(lab, np.round(lab)) and lab.min() >= 1 and lab.max() <= 5
            assert (lab >= 3).any() and (lab < 3).any()


def test_folder_or_file_and_subject_selection(root, recs):
    only = read_dreamer(root / "DREAMER.mat", subjects=[2])
    assert [r.subject for r in only] == [2]
    np.testing.assert_array_equal(only[0].eeg[0], recs[1].eeg[0])
    assert list_subjects(root) == [1, 2]
    with pytest.raises(ValueError, match=r"DREAMER.mat holds subjects \[1, 2\], but got 3"):
        read_dreamer(root, subjects=[3])
    with pytest.raises(TypeError):
        read_dreamer(root, subjects=["1"])


def test_subject_depends_only_on_seed_and_number(subjects):
    again = sim.simulate_subject(0, 2, "tiny")
    np.testing.assert_array_equal(again["eeg_stimuli"][3], subjects[1]["eeg_stimuli"][3])
    np.testing.assert_array_equal(again["scores"], subjects[1]["scores"])
    other = sim.simulate_subject(1, 2, "tiny")
    assert not np.allclose(other["eeg_stimuli"][3], subjects[1]["eeg_stimuli"][3])
    assert not np.allclose(subjects[0]["eeg_stimuli"][3], subjects[1]["eeg_stimuli"][3])


def test_to_epochs_has_positions_for_every_channel(recs):
    rec = recs[0]
    epochs = rec.to_epochs(crop=True, baseline=False, peripheral=False)
    assert len(epochs) == 18 and epochs.get_data().shape == (18, 14, min(rec.n_times))
    locs = np.array([ch["loc"][:3] for ch in epochs.info["chs"]])
    assert np.isfinite(locs).all() and (np.linalg.norm(locs, axis=1) > 0.05).all()
    np.testing.assert_array_equal(epochs.metadata["valence"].to_numpy(), rec.labels["valence"])


def test_one_subject_file_reads_the_same(tmp_path, subjects):
    """No squeezing: a file with a single subject keeps its (1, 1) cell and reads alike."""
    path = sim.write_dreamer_mat(tmp_path / "DREAMER.mat", subjects[1:])
    (rec,) = read_dreamer(path)
    assert rec.subject == 1
    np.testing.assert_array_equal(rec.eeg[2], subjects[1]["eeg_stimuli"][2].T * 1e-6)


# -- refusals -----------------------------------------------------------------------------
def _write(tmp_path, subjects, mutate=None, **kwargs):
    struct = sim.make_dreamer_struct(subjects, **kwargs)
    if mutate is not None:
        mutate(struct)
    return sim.savemat_atomic(tmp_path / "DREAMER.mat", {"DREAMER": struct})


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        read_dreamer(tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "DREAMER.mat") in msg and "expected" in msg and "no such file" in msg


def test_missing_top_variable(tmp_path, subjects):
    path = tmp_path / "DREAMER.mat"
    sim.savemat_atomic(path, {"dreamer_v2": sim.make_dreamer_struct(subjects)})
    _refused(path, "'DREAMER'", "dreamer_v2")


def test_missing_electrodes_field(tmp_path, subjects):
    path = _write(tmp_path, subjects, lambda s: s.pop("EEG_Electrodes"))
    _refused(path, "'EEG_Electrodes'", "EEG_SamplingRate")


def test_missing_subject_field(tmp_path, subjects):
    path = _write(tmp_path, subjects, lambda s: s["Data"][0, 1].pop("ScoreArousal"))
    _refused(path, "'ScoreArousal'", "DREAMER.Data{2}")


def test_stimulus_with_13_channels(tmp_path, subjects):
    bad = _copy(subjects)
    bad[1]["eeg_stimuli"][3] = bad[1]["eeg_stimuli"][3][:, :13]
    _refused(_write(tmp_path, bad), "DREAMER.Data{2}.EEG.stimuli{4}", "(n_samples, 14)", "13)")


def test_transposed_stimulus(tmp_path, subjects):
    bad = _copy(subjects)
    bad[0]["eeg_stimuli"][0] = np.ascontiguousarray(bad[0]["eeg_stimuli"][0].T)
    _refused(_write(tmp_path, bad), "stimuli{1}", "transposed")


def test_wrong_number_of_clips(tmp_path, subjects):
    bad = _copy(subjects)
    bad[0]["eeg_baseline"] = bad[0]["eeg_baseline"][:17]
    _refused(_write(tmp_path, bad), "EEG.baseline", "18x1 cell", "(17, 1)")


def test_too_short_baseline(tmp_path, subjects):
    bad = _copy(subjects)
    bad[0]["eeg_baseline"][2] = bad[0]["eeg_baseline"][2][:100]
    _refused(_write(tmp_path, bad), "baseline{3}", "at least 128 samples", "100 samples")


def test_score_out_of_range(tmp_path, subjects):
    bad = _copy(subjects)
    bad[1]["scores"][4, 0] = 6
    _refused(_write(tmp_path, bad), "ScoreValence", "integers 1..5", "6.0", "clip 5")


def test_fractional_score(tmp_path, subjects):
    bad = _copy(subjects)
    bad[0]["scores"][0, 2] = 2.5
    _refused(_write(tmp_path, bad), "ScoreDominance", "2.5")


def test_nan_in_signal(tmp_path, subjects):
    bad = _copy(subjects)
    bad[0]["eeg_stimuli"][2][10:20, 5] = np.nan
    _refused(_write(tmp_path, bad), "stimuli{3}", "finite", "10 NaN/Inf")


def test_inf_in_ecg(tmp_path, subjects):
    bad = _copy(subjects)
    bad[1]["ecg_baseline"][0][3, 1] = np.inf
    _refused(_write(tmp_path, bad), "ECG.baseline{1}", "1 NaN/Inf")


@pytest.mark.parametrize("kw, expected, found", [
    ({"eeg_sfreq": 256.0}, "EEG sampling rate 128.0 Hz", "256.0 Hz"),
    ({"ecg_sfreq": 512.0}, "ECG sampling rate 256.0 Hz", "512.0 Hz"),
])
def test_implausible_sampling_rate(tmp_path, subjects, kw, expected, found):
    _refused(_write(tmp_path, subjects, **kw), expected, found)


def test_unknown_channel_name(tmp_path, subjects):
    names = list(DREAMER_CH_NAMES)
    names[4] = "T3X"
    _refused(_write(tmp_path, subjects, ch_names=names), "unknown channel name(s) ['T3X']")


def test_misordered_channels(tmp_path, subjects):
    names = list(DREAMER_CH_NAMES)
    names[6], names[7] = names[7], names[6]
    _refused(_write(tmp_path, subjects, ch_names=names), "'O2' at position 6", "'O1' belongs")


def test_subject_count_disagrees_with_header(tmp_path, subjects):
    path = _write(tmp_path, subjects, lambda s: s.update(noOfSubjects=23.0))
    _refused(path, "noOfSubjects == 2", "23")


def test_truncated_file(tmp_path, root):
    data = (root / "DREAMER.mat").read_bytes()
    path = tmp_path / "DREAMER.mat"
    path.write_bytes(data[: len(data) // 2])
    _refused(path, "a complete MATLAB v5 file", "unreadable")


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "DREAMER.mat"
    path.write_text("subject,valence\n1,3\n")
    _refused(path, "a complete MATLAB v5 file")


def test_too_few_electrode_names(tmp_path, subjects):
    _refused(_write(tmp_path, subjects, ch_names=DREAMER_CH_NAMES[:13]), "14 Emotiv channels", "13 names")
