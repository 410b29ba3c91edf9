"""Recording.to_epochs and from_epochs: baseline, peripheral channels, metadata and events."""

import logging

import mne
import numpy as np
import pytest
from scipy.signal import resample_poly

from neuroaffect.channels import get_positions, make_montage
from neuroaffect.io import Peripheral, Recording, from_epochs, read_dataset


@pytest.fixture(scope="module")
def deap(sim_root):
    return read_dataset("deap", sim_root("deap"), subjects=[1])[0]


def _types(epochs):
    return dict(zip(epochs.ch_names, epochs.get_channel_types()))


def test_deap_epochs_hold_baseline_as_negative_times(deap):
    epochs = deap.to_epochs()
    n_base = deap.baseline.shape[-1]
    assert epochs.tmin == pytest.approx(-n_base / deap.sfreq) == pytest.approx(-3.0)
    assert np.sum(epochs.times < 0) == n_base and epochs.times[n_base] == 0
    eeg = epochs.get_data(picks="eeg")
    np.testing.assert_array_equal(eeg[..., :n_base], deap.baseline)
    np.testing.assert_array_equal(eeg[..., n_base:], deap.eeg)
    plain = deap.to_epochs(baseline=False, peripheral=False)
    assert plain.tmin == 0 and plain.ch_names == list(deap.ch_names)
    np.testing.assert_array_equal(plain.get_data(), deap.eeg)


def test_deap_peripheral_channels_in_mne_types_and_units(deap):
    epochs = deap.to_epochs()
    types = _types(epochs)
    assert {types[c] for c in deap.ch_names} == {"eeg"}
    assert types["hEOG"] == types["vEOG"] == "eog" and types["zEMG"] == types["tEMG"] == "emg"
    assert types["GSR"] == "gsr" and types["Respiration belt"] == "resp"
    assert types["Temperature"] == "temperature" and types["Plethysmograph"] == "bio"
    n_base = deap.baseline.shape[-1]

    def chan(name):
        return epochs.get_data(picks=[name])[:, 0]

    eog = deap.peripheral["eog"]
    np.testing.assert_allclose(chan("hEOG")[:, n_base:], eog.data[:, 0] * 1e-6)  # uV -> V
    np.testing.assert_allclose(chan("hEOG")[:, :n_base], eog.baseline[:, 0] * 1e-6)
    np.testing.assert_allclose(chan("GSR")[:, n_base:], 1.0 / deap.peripheral["gsr"].data[:, 0])  # Ohm -> S
    np.testing.assert_array_equal(chan("Temperature")[:, n_base:], deap.peripheral["temp"].data[:, 0])


def test_metadata_carries_ids_and_raw_labels_and_drives_selection(deap):
    epochs = deap.to_epochs()
    md = epochs.metadata
    assert list(md.columns) == ["subject", "session", "trial", *deap.labels]
    assert (md["subject"] == 1).all()
    np.testing.assert_array_equal(md["trial"], deap.trial_ids)
    np.testing.assert_array_equal(md["session"], deap.session_ids)
    for name, values in deap.labels.items():
        np.testing.assert_array_equal(md[name], values)
    assert len(epochs["valence > 5"]) == int((deap.labels["valence"] > 5).sum())


def test_events_are_named_after_labels(deap, sim_root):
    epochs = deap.to_epochs()
    assert epochs.event_id == {"trial": 1}  # ratings: metadata is the key
    by_valence = deap.to_epochs(event_label="valence")
    names = {code: name for name, code in by_valence.event_id.items()}
    got = [float(names[c].split("/")[1]) for c in by_valence.events[:, 2]]
    np.testing.assert_allclose(got, deap.labels["valence"], atol=1e-6)
    codes = [by_valence.event_id[n] for n in sorted(by_valence.event_id, key=lambda n: float(n[8:]))]
    assert codes == list(range(1, len(codes) + 1))  # numbered in increasing value
    with pytest.raises(ValueError, match="'event_label' parameter.*'valence'.*but got 'mood'"):
        deap.to_epochs(event_label="mood")
    seed = read_dataset("seed", sim_root("seed"), subjects=[1])[0]
    epochs = seed.to_epochs(crop=True)
    assert epochs.event_id == {"emotion/negative": 1, "emotion/neutral": 2, "emotion/positive": 3}
    assert len(epochs["positive"]) == int((seed.labels["emotion"] == 1).sum())


def test_unequal_trials_raise_or_crop(sim_root, caplog):
    seed = read_dataset("seed", sim_root("seed"), subjects=[1])[0]
    with pytest.raises(ValueError, match=r"different lengths .*crop=True.*select\(\[i\]\)\.to_epochs"):
        seed.to_epochs()
    with caplog.at_level(logging.INFO, logger="neuroaffect.io.epochs"):
        epochs = seed.to_epochs(crop=True)
    assert "cropped" in caplog.text
    n = seed.n_times.min()
    assert epochs.tmin == 0 and epochs.get_data().shape == (seed.n_trials, seed.n_chans, n)
    np.testing.assert_array_equal(epochs.get_data()[1], seed.eeg[1][:, :n])
    one = seed.select([1]).to_epochs()
    np.testing.assert_array_equal(one.get_data()[0], seed.eeg[1])


def test_unequal_baselines_raise_or_keep_their_last_samples():
    rng = np.random.default_rng(0)
    eeg = rng.normal(0, 1e-5, (2, 3, 256))
    base = [rng.normal(0, 1e-5, (3, 200)), rng.normal(0, 1e-5, (3, 150))]
    rec = Recording("unknown", 1, eeg, 128.0, ("Fz", "Cz", "Pz"), baseline=base)
    with pytest.raises(ValueError, match=r"baselines have different lengths \(150..200"):
        rec.to_epochs()
    epochs = rec.to_epochs(crop=True)
    assert epochs.tmin == pytest.approx(-150 / 128)
    np.testing.assert_array_equal(epochs.get_data()[0, :, :150], base[0][:, -150:])
    assert rec.to_epochs(baseline=False).tmin == 0


def test_dreamer_ecg_resampled_to_the_eeg_rate(sim_root):
    rec = read_dataset("dreamer", sim_root("dreamer"), subjects=[1])[0]
    epochs = rec.to_epochs(crop=True)
    assert epochs.info["sfreq"] == 128.0 and _types(epochs)["ECG1"] == "ecg"
    n, n_base = rec.n_times.min(), -int(round(epochs.tmin * 128))
    ecg = rec.peripheral["ecg"]
    want = resample_poly(np.asarray(ecg.data[0]), 1, 2, axis=-1, padtype="line")[0, :n] * 1e-6
    np.testing.assert_allclose(epochs.get_data(picks=["ECG1"])[0, 0, n_base:], want, rtol=1e-10)
    base = resample_poly(np.asarray(ecg.baseline[0]), 1, 2, axis=-1, padtype="line")[0] * 1e-6
    np.testing.assert_allclose(epochs.get_data(picks=["ECG1"])[0, 0, :n_base], base[-n_base:], rtol=1e-10)


def test_units_that_do_not_fit_the_type_become_misc():
    rng = np.random.default_rng(1)
    eeg = rng.normal(0, 1e-5, (2, 3, 128))
    periph = {
        "ecg": Peripheral(rng.normal(size=(2, 1, 128)), 128.0, "a.u.", "ecg", ("ECG",)),
        "gsr": Peripheral(-np.ones((2, 1, 128)), 128.0, "Ohm", "gsr", ("GSR",)),
        "temp": Peripheral(np.full((2, 1, 64), 33.0), 64.0, "degC", "temp", ("Temp",)),
    }
    rec = Recording("unknown", 1, eeg, 128.0, ("Fz", "Cz", "Pz"), peripheral=periph)
    epochs = rec.to_epochs()
    types = _types(epochs)
    assert types["ECG"] == "misc" and types["GSR"] == "misc" and types["Temp"] == "temperature"
    np.testing.assert_allclose(epochs.get_data(picks=["Temp"]), 33.0, rtol=1e-3)  # 64 -> 128 Hz


def test_round_trip_through_from_epochs(deap):
    back = from_epochs(deap.to_epochs(), dataset="deap")
    assert back.subject == 1 and back.ch_names == deap.ch_names and back.sfreq == deap.sfreq
    np.testing.assert_array_equal(back.eeg, deap.eeg)
    np.testing.assert_array_equal(back.baseline, deap.baseline)
    np.testing.assert_array_equal(back.trial_ids, deap.trial_ids)
    assert back.labels.keys() == deap.labels.keys() and back.label_range == deap.label_range
    assert set(back.peripheral) == set(deap.peripheral)
    np.testing.assert_allclose(back.peripheral["eog"].data, deap.peripheral["eog"].data)
    np.testing.assert_allclose(1e6 / back.peripheral["gsr"].data, deap.peripheral["gsr"].data)
    np.testing.assert_array_equal(back.peripheral["ppg"].data, deap.peripheral["ppg"].data)
    assert back.peripheral["ppg"].ch_names == ("Plethysmograph",)


def _epochs(names=("Fz", "Cz", "Pz", "Oz", "C3", "C4"), tmin=-1.0, seconds=4.0, n=4, montage=True,
            metadata=True, seed=0):
    rng = np.random.default_rng(seed)
    sfreq = 128.0
    n_times = int(round((seconds - tmin) * sfreq))
    info = mne.create_info(list(names) + ["ECG"], sfreq, ["eeg"] * len(names) + ["ecg"])
    data = rng.normal(0, 1e-5, (n, len(names) + 1, n_times))
    md = None
    if metadata:
        import pandas as pd

        md = pd.DataFrame({"valence": rng.uniform(1, 9, n).round(2), "condition": ["a", "b"] * (n // 2),
                           "trial": np.arange(1, n + 1) * 10, "subject": 7, "rt": rng.uniform(size=n)})
    epochs = mne.EpochsArray(data, info, tmin=tmin, metadata=md, verbose=False)
    if montage:
        epochs.set_montage(make_montage(list(names)))
    return epochs, data


def test_from_epochs_baseline_labels_ids_and_positions():
    epochs, data = _epochs()
    rec = from_epochs(epochs)
    assert rec.dataset == "unknown" and rec.subject == 7 and rec.n_chans == 6
    np.testing.assert_array_equal(rec.baseline, data[:, :6, :128])  # t < 0
    np.testing.assert_array_equal(rec.eeg, data[:, :6, 128:])  # t >= 0
    # every metadata column is kept: 'condition' (text) as classes, 'rt' (numeric) as it is
    assert list(rec.labels) == ["valence", "condition", "rt"] and rec.label_range == {"condition": (0.0, 1.0)}
    assert rec.label_classes == {"condition": ("a", "b")}
    np.testing.assert_array_equal(rec.labels["condition"], [0, 1, 0, 1])
    np.testing.assert_array_equal(rec.labels["rt"], epochs.metadata["rt"].to_numpy())
    # a rating scale and a class order given by the caller
    rated = from_epochs(epochs, ratings={"valence": (1, 9)}, classes={"condition": ["b", "a"]})
    assert rated.label_range["valence"] == (1.0, 9.0) and rated.label_classes["condition"] == ("b", "a")
    np.testing.assert_array_equal(rated.labels["condition"], [1, 0, 1, 0])
    np.testing.assert_array_equal(rec.trial_ids, [10, 20, 30, 40])
    np.testing.assert_allclose(rec.ch_pos, [ch["loc"][:3] for ch in epochs.info["chs"][:6]])
    assert rec.peripheral["ecg"].unit == "uV"
    np.testing.assert_allclose(rec.peripheral["ecg"].data[:, 0], data[:, 6, 128:] * 1e6)
    np.testing.assert_allclose(rec.peripheral["ecg"].baseline[:, 0], data[:, 6, :128] * 1e6)
    assert from_epochs(epochs, subject=2).subject == 2
    # 'deap' gives the label its range, and is checked against it
    assert from_epochs(epochs, dataset="deap").label_range == {"valence": (1.0, 9.0), "condition": (0.0, 1.0)}


def test_from_epochs_explicit_baselines():
    epochs, data = _epochs()
    rec = from_epochs(epochs, baseline=(-0.5, None))  # inclusive, as MNE reads it
    np.testing.assert_array_equal(rec.baseline, data[:, :6, 64:])
    np.testing.assert_array_equal(rec.eeg, data[:, :6, 128:])
    assert from_epochs(epochs, baseline=False).baseline is None
    given = np.ones((6, 100)) * 1e-6
    rec = from_epochs(epochs, baseline=given)
    assert rec.baseline.shape == (4, 6, 100) and rec.peripheral["ecg"].baseline is None
    no_pre, data = _epochs(tmin=0.0)
    rec = from_epochs(no_pre)
    assert rec.baseline is None
    np.testing.assert_array_equal(rec.eeg, data[:, :6])


def test_from_epochs_errors():
    epochs, _ = _epochs()
    with pytest.raises(ValueError, match=r"'epochs' parameter. Expected an instance of mne.BaseEpochs.*but got an instance of ndarray"):
        from_epochs(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"'baseline' parameter. Expected an interval .* inside .*but got \(-2, 0\)"):
        from_epochs(epochs, baseline=(-2, 0))
    with pytest.raises(ValueError, match=r"'baseline' parameter.*but got 'pre'"):
        from_epochs(epochs, baseline="pre")
    with pytest.raises(ValueError, match=r"'baseline' parameter. Expected an array of shape \(4, 6, n_base\).*shape \(3, 10\)"):
        from_epochs(epochs, baseline=np.zeros((3, 10)))
    with pytest.raises(ValueError, match=r"'subject' parameter.*but got 0"):
        from_epochs(epochs, subject=0)
    ecg_only = epochs.copy().pick(["ECG"])
    with pytest.raises(ValueError, match=r"at least one EEG channel.*\['ecg'\]"):
        from_epochs(ecg_only)
    before, _ = _epochs(tmin=-5.0, seconds=-1.0)
    with pytest.raises(ValueError, match=r"samples at t >= 0"):
        from_epochs(before)
    unknown, _ = _epochs(names=("E1", "E2", "E3", "E4"), montage=False)
    with pytest.raises(ValueError, match=r"set_montage.*\['E1', 'E2', 'E3', 'E4'\]"):
        from_epochs(unknown)
    with pytest.raises(ValueError, match=r"valence labels in \[1.0, 5.0\]"):
        from_epochs(epochs, dataset="dreamer")  # ratings 1-9 are not DREAMER's 1-5


def test_from_epochs_custom_montage_positions():
    epochs, _ = _epochs(names=("E1", "E2", "E3", "E4", "E5"), montage=False)
    pos = {f"E{i}": np.array([np.cos(a) * 0.07, np.sin(a) * 0.07, 0.05])
           for i, a in enumerate(np.linspace(0, 2 * np.pi, 5, endpoint=False), start=1)}
    epochs.set_montage(mne.channels.make_dig_montage(ch_pos=pos, coord_frame="head"))
    rec = from_epochs(epochs)
    np.testing.assert_allclose(rec.ch_pos, np.array([pos[f"E{i}"] for i in range(1, 6)]))
    again = rec.to_epochs(peripheral=False)
    np.testing.assert_allclose([ch["loc"][:3] for ch in again.info["chs"]], rec.ch_pos)
    assert rec.select([0, 1]).ch_pos.shape == (5, 3)


def test_from_epochs_maps_edf_names_and_leaves_out_reference_channels():
    rng = np.random.default_rng(3)
    names = ["EEG Fp1", "EEG C3", "Fc5.", "A2-A1"]
    data = rng.normal(0, 1e-5, (2, 4, 128))
    epochs = mne.EpochsArray(data, mne.create_info(names, 128.0, "eeg"), verbose=False)
    with pytest.warns(RuntimeWarning, match="'A2-A1': a bipolar or reference channel"):
        rec = from_epochs(epochs)
    assert rec.ch_names == ("Fp1", "C3", "FC5") and "A2-A1" in rec.info["channel_notes"][0]
    np.testing.assert_array_equal(rec.eeg, data[:, :3])
    np.testing.assert_allclose(rec.positions, get_positions(["Fp1", "C3", "FC5"]))
