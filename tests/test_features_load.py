"""The one feature loader: files or a root, the same datasets, and their provenance."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaffect.features import extract_features, load_features, write_features
from neuroaffect.io import read_dataset


def test_files_and_root_give_the_same_features_and_provenance(sim_root, tmp_path):
    root = sim_root("deap")
    from_root = load_features("deap", root=root, subjects=[1])
    assert from_root.files == [] and from_root.root == str(root)
    assert from_root.simulated is True  # the simulator's sidecar sits beside the root
    (rec,) = read_dataset("deap", root, subjects=[1])
    write_features(extract_features(rec), tmp_path / "1.nc")
    from_files = load_features("deap", features=tmp_path)
    assert [f.name for f in from_files.files] == ["1.nc"] and from_files.root is None
    # without the root, the raw inputs the features record say where the recordings were
    assert from_files.simulated is True and from_files.snr == from_root.snr
    np.testing.assert_array_equal(from_files.datasets[0]["bde"].values, from_root.datasets[0]["bde"].values)
    assert from_files.inputs["raw_inputs"] == from_root.inputs["raw_inputs"]
    assert from_files.inputs["feature_params_hash"] == from_root.inputs["feature_params_hash"]
    assert list(from_files.inputs["features"]) == [str(tmp_path / "1.nc")]


def test_raw_windows_on_request_and_errors(sim_root, tmp_path):
    loaded = load_features("deap", root=sim_root("deap"), subjects=[1], raw=True)
    assert "raw" in loaded.datasets[0] and "topo" not in loaded.datasets[0]
    with pytest.raises(ValueError, match="but got neither"):
        load_features("deap")
    with pytest.raises(FileNotFoundError, match="feature files of subjects"):
        load_features("deap", features=tmp_path, subjects=[3])
