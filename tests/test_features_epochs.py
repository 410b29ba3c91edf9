"""extract_features on mne.Epochs: one code path with Recording input."""

import json

import mne
import numpy as np
import pandas as pd
import pytest

from neuroaffect.channels import make_montage
from neuroaffect.features import extract_features
from neuroaffect.io import read_dataset

PARAMS = dict(topo_size=16)


@pytest.fixture(scope="module")
def deap(sim_root):
    return read_dataset("deap", sim_root("deap"), subjects=[1])[0]


def test_epochs_give_the_features_of_their_recording(deap):
    want = extract_features(deap, PARAMS)
    got = extract_features(deap.to_epochs(), PARAMS, dataset="deap")
    assert got.attrs["dataset"] == "deap" and got.attrs["subject"] == 1
    assert got.attrs["baseline_applied"] == want.attrs["baseline_applied"] == 1
    assert got.attrs["params_hash"] == want.attrs["params_hash"]
    for var in ("bde", "baseline_bde", "topo", "ch_pos", "n_windows"):
        np.testing.assert_allclose(got[var].values, want[var].values, rtol=1e-6, atol=1e-9, err_msg=var)
    assert list(got.feature.values) == list(want.feature.values)
    np.testing.assert_allclose(got["physio"].values, want["physio"].values, rtol=1e-4, equal_nan=True)
    for coord in ("trial_id", "session", "valence", "valence_norm", "liking_norm"):
        np.testing.assert_array_equal(got[coord].values, want[coord].values)


def _epochs(names=("Fz", "Cz", "Pz", "Oz", "C3", "C4", "F3", "F4"), tmin=-2.0, seconds=6.0):
    rng = np.random.default_rng(3)
    sfreq, n = 128.0, 3
    info = mne.create_info(list(names), sfreq, "eeg")
    data = rng.normal(0, 1e-5, (n, len(names), int(round((seconds - tmin) * sfreq))))
    md = pd.DataFrame({"valence": [2.0, 5.0, 8.0], "arousal": [1, 5, 9], "note": ["x", "y", "z"]})
    epochs = mne.EpochsArray(data, info, tmin=tmin, metadata=md, verbose=False)
    return epochs


def test_plain_epochs_baseline_labels_and_dataset():
    epochs = _epochs()
    epochs.set_montage(make_montage(epochs.ch_names))
    ds = extract_features(epochs, dict(PARAMS, physio=False))
    assert ds.attrs["dataset"] == "unknown" and ds.attrs["baseline_applied"] == 1
    assert ds.sizes["trial"] == 3 and ds.sizes["window"] == 6 and ds.sizes["channel"] == 8
    np.testing.assert_array_equal(ds["valence"], [2.0, 5.0, 8.0])
    np.testing.assert_array_equal(ds["valence_norm"], [2.0, 5.0, 8.0])  # unknown: kept raw
    # a text column is kept as classes: codes, their names in the attributes, not normalised
    np.testing.assert_array_equal(ds["note"], [0, 1, 2])
    assert json.loads(ds.attrs["label_classes"]) == {"note": ["x", "y", "z"]}
    assert json.loads(ds.attrs["label_scaling"])["note"] is None
    deap = extract_features(epochs, dict(PARAMS, physio=False), dataset="deap", subject=4)
    np.testing.assert_allclose(deap["valence_norm"], [-0.75, 0.0, 0.75])
    assert deap.attrs["subject"] == 4
    # an explicit interval baseline changes only the baseline part
    other = extract_features(epochs, dict(PARAMS, physio=False), baseline=(-1.0, -0.01))
    assert not np.allclose(other["baseline_bde"], ds["baseline_bde"])
    np.testing.assert_allclose(other["bde"] + other["baseline_bde"].values[:, None],
                               ds["bde"] + ds["baseline_bde"].values[:, None], rtol=1e-5)
    no_base = extract_features(epochs, dict(PARAMS, physio=False), baseline=False)
    assert no_base.attrs["baseline_applied"] == 0 and "baseline_bde" not in no_base


def test_positions_from_a_custom_montage():
    names = [f"E{i}" for i in range(1, 9)]
    epochs = _epochs(names=names)
    template = make_montage(["Fz", "Cz", "Pz", "Oz", "C3", "C4", "F3", "F4"]).get_positions()["ch_pos"]
    pos = dict(zip(names, template.values()))
    epochs.set_montage(mne.channels.make_dig_montage(ch_pos=pos, coord_frame="head"))
    ds = extract_features(epochs, dict(PARAMS, physio=False))
    np.testing.assert_allclose(ds["ch_pos"], np.array(list(template.values())), atol=1e-12)
    named = _epochs()
    named.set_montage(make_montage(named.ch_names))
    ref = extract_features(named, dict(PARAMS, physio=False))
    np.testing.assert_allclose(ds["topo"], ref["topo"], rtol=1e-5, atol=1e-6)


def test_clear_errors():
    epochs = _epochs()
    with pytest.raises(ValueError, match=r"'rec' parameter. Expected a neuroaffect.io.Recording or an mne.BaseEpochs.*ndarray"):
        extract_features(np.zeros((3, 8, 1024)))
    with pytest.raises(ValueError, match=r"'baseline' parameter. Expected an interval"):
        extract_features(epochs, baseline=(-5, 0))
    with pytest.raises(ValueError, match=r"'epochs' parameter.*set_montage"):
        extract_features(_epochs(names=[f"E{i}" for i in range(1, 9)]))


def test_epoch_options_are_refused_for_a_recording(deap):
    with pytest.raises(ValueError, match=r"'dataset' parameter. Expected None when rec is a Recording"):
        extract_features(deap, PARAMS, dataset="deap")
    with pytest.raises(ValueError, match=r"'baseline' parameter. Expected None when rec is a Recording.*tuple"):
        extract_features(deap, PARAMS, baseline=(-1, 0))
