"""Content checksums: feature files and checkpoints refuse a changed byte; temporary files of a
killed writer are removed by the next write."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
import xarray as xr

from neuroaffect._utils import ArtifactIntegrityError, DatasetFormatError, atomic_write_bytes, content_sha256
from neuroaffect.features import read_features
from neuroaffect.features.store import CHECKSUM_ATTR, content_checksum
from neuroaffect.training import load_checkpoint, load_model
from neuroaffect.training.checkpoint import CHECKSUM_KEY, CheckpointVersionError
from reliability.tamper import (
    TINY_DGCNN, _tiny_windows, flip_byte, hdf5_data_regions, make_checkpoint, make_feature_file, zip_records,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def feature_file(tmp_path_factory):
    return make_feature_file(tmp_path_factory.mktemp("features"))


def test_content_checksum_rules():
    a = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "names": ["a", "b"], "n": 3}
    assert content_sha256(a) == content_sha256({**a, "x": a["x"].copy()})
    for changed in ({**a, "x": a["x"].reshape(3, 2)}, {**a, "x": a["x"].astype(np.float64)}, {**a, "n": 4},
                    {**a, "names": ["ab"]}, {"x": a["x"], "names": ["a", "b"]}):
        assert content_sha256(changed) != content_sha256(a)
    # string arrays of any width, and widened scalars, agree (what a netCDF reader hands back)
    assert content_sha256(np.array(["ab", "c"])) == content_sha256(np.array(["ab", "c"], dtype=object))
    assert content_sha256(np.float32(0.5)) == content_sha256(0.5) and content_sha256(np.int8(3)) == content_sha256(3)
    with pytest.raises(TypeError, match="no checksum rule for a set"):
        content_sha256({1, 2})


def test_feature_file_carries_the_checksum_of_what_a_reader_gets(feature_file):
    ds = read_features(feature_file)
    assert CHECKSUM_ATTR not in ds.attrs  # verified and removed
    import h5py

    with h5py.File(feature_file) as f:
        assert f.attrs[CHECKSUM_ATTR] == content_checksum(ds)


@pytest.mark.slow
def test_a_flipped_byte_in_any_variable_of_a_feature_file_is_refused(feature_file, tmp_path):
    regions = hdf5_data_regions(feature_file)
    assert {"bde", "n_windows", "ch_pos", "valence", "topo", "channel"} <= set(regions)
    rng = np.random.default_rng(0)
    for name, (off, size) in regions.items():
        bad = flip_byte(feature_file, tmp_path / f"{name}.nc", off + int(rng.integers(size)), 0x01)
        err = DatasetFormatError if name in ("channel", "band", "xyz") else ArtifactIntegrityError  # text: heap refs
        with pytest.raises(err, match=rf"{name}\.nc: expected") as info:
            read_features(bad)
        if err is ArtifactIntegrityError:
            assert "content sha256" in str(info.value), name


@pytest.mark.slow
def test_corrupted_hdf5_metadata_gives_the_projects_error(feature_file, tmp_path):
    """A flipped byte outside the data: the file is refused with DatasetFormatError (never h5py's
    KeyError or RuntimeError), or it reads exactly as the intact file."""
    regions = hdf5_data_regions(feature_file)
    size = feature_file.stat().st_size
    in_data = np.zeros(size, bool)
    for off, n in regions.values():
        in_data[off:off + n] = True
    meta = np.flatnonzero(~in_data)
    intact = read_features(feature_file)
    refused = 0
    for off in meta[np.linspace(0, meta.size - 1, 16).astype(int)[1:]]:
        bad = flip_byte(feature_file, tmp_path / "meta.nc", int(off))
        try:
            back = read_features(bad)
        except DatasetFormatError as err:
            assert "meta.nc: expected" in str(err)
            refused += 1
        else:
            xr.testing.assert_identical(back, intact)
    assert refused >= 8


def test_a_feature_file_without_checksum_asks_for_extraction(feature_file, tmp_path):
    import h5py
    import shutil

    old = tmp_path / "old.nc"
    shutil.copy2(feature_file, old)
    with h5py.File(old, "r+") as f:
        del f.attrs[CHECKSUM_ATTR]
    with pytest.raises(DatasetFormatError, match="old.nc: expected a feature file with its 'content_sha256'.*"
                                                 "extract the features again"):
        read_features(old)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.mark.slow
def test_a_flipped_byte_in_any_tensor_of_a_checkpoint_is_refused(checkpoint, tmp_path):
    records = zip_records(checkpoint)
    tensors = [k for k in records if "/data/" in k]
    assert len(tensors) > 10  # weights, optimiser moments, RNG state, ...
    state = load_checkpoint(checkpoint)
    assert CHECKSUM_KEY not in state
    for k in tensors:
        off, size = records[k]
        bad = flip_byte(checkpoint, tmp_path / "bad.pt", off + size // 2, 0x01)
        with pytest.raises(ArtifactIntegrityError, match="bad.pt: expected content sha256 [0-9a-f]{64}, but found"):
            load_checkpoint(bad)
        with pytest.raises(ArtifactIntegrityError, match="bad.pt"):
            load_model(bad)


@pytest.mark.slow
def test_resume_refuses_a_tampered_checkpoint_and_discards_an_old_version(tmp_path, caplog):
    from neuroaffect.training import TrainConfig, build_model, train_model

    ws = _tiny_windows()
    cfg = TrainConfig(epochs=2, batch_size=16, device="cpu")

    def model():
        return build_model("dgcnn", n_chans=6, n_bands=4, n_outputs=2, seed=0, model_kwargs=TINY_DGCNN,
                           ch_pos=ws.ch_pos)

    ckpt = tmp_path / "run.pt"

    def stop(info):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(model(), ws.X, ws.y, cfg, checkpoint=ckpt, callbacks=[stop])  # one epoch done
    intact = ckpt.read_bytes()
    off, size = zip_records(ckpt)[next(k for k in zip_records(ckpt) if k.endswith("/data/0"))]
    flip_byte(ckpt, ckpt, off + size // 2, 0x01)
    with pytest.raises(ArtifactIntegrityError, match="run.pt: expected content sha256"):
        train_model(model(), ws.X, ws.y, cfg, checkpoint=ckpt)
    flip_byte(ckpt, ckpt, off + size // 2, 0x01)  # restored
    assert ckpt.read_bytes() == intact
    # a checkpoint of the previous format (no checksum) is discarded with a notice, not refused
    state = torch.load(ckpt, weights_only=True)
    state.pop(CHECKSUM_KEY)
    state["format"] = "neuroaffect-checkpoint/2"
    torch.save(state, ckpt)
    with pytest.raises(CheckpointVersionError, match="run.pt: expected a training checkpoint"):
        load_checkpoint(ckpt)
    with caplog.at_level(logging.WARNING, logger="neuroaffect.training"):
        r = train_model(model(), ws.X, ws.y, cfg, checkpoint=ckpt)
    assert r.resumed_from is None and any("another version" in m for m in caplog.messages)


def test_the_students_selection_state_is_checked(tmp_path):
    """The selection (best epoch, its score and weights) lives in the engine's checkpoint: a changed byte is refused."""
    from neuroaffect.training import MSELoss, TrainConfig, fit

    X = np.arange(16, dtype=np.float32).reshape(8, 2) / 16
    y = np.arange(8, dtype=np.float32) / 8
    path = tmp_path / "run.pt"
    kw = {"val_metrics": lambda m: {"val_macro_f1": 0.5}, "monitor": "val_macro_f1", "mode": "max", "select": True,
          "checkpoint": path}
    cfg = TrainConfig(epochs=2, batch_size=4, device="cpu")
    fit(torch.nn.Linear(2, 1), (X, y), MSELoss(), cfg, **kw)
    state = load_checkpoint(path)
    assert state["history"][0]["val_macro_f1"] == [0.5, 0.5] and state["es"]["best_epoch"].tolist() == [0]
    off, size = zip_records(path)[next(k for k in zip_records(path) if k.endswith("/data/0"))]
    flip_byte(path, path, off + 3, 0x01)
    with pytest.raises(ArtifactIntegrityError, match="run.pt: expected content sha256"):
        fit(torch.nn.Linear(2, 1), (X, y), MSELoss(), cfg, **kw)


# --- temporary files of a killed writer --------------------------------------------------------

_KILLED_WRITER = """
import os, signal, sys
from neuroaffect._utils import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    open(tmp, "wb").write(b"partial")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_writer_leaves_a_hidden_temp_file_that_the_next_write_removes(tmp_path):
    from neuroaffect._utils import _host_tag

    target = tmp_path / "1.nc"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)])
    assert proc.wait(timeout=120) == -signal.SIGKILL
    (left,) = tmp_path.iterdir()  # what the kill leaves: hidden, named after the writer, ending in .tmp
    assert left.name.startswith(f".1.nc.{proc.pid}@{_host_tag()}.") and left.name.endswith(".tmp")
    assert left.read_bytes() == b"partial" and not target.exists()
    # temporary files of live writers (this process) and of other hosts are left alone
    live = tmp_path / f".1.nc.{os.getpid()}@{_host_tag()}.abc.tmp"
    other_host = tmp_path / f".1.nc.{proc.pid}@elsewhere.abc.tmp"
    other_target = tmp_path / f".2.nc.{proc.pid}@{_host_tag()}.abc.tmp"
    for p in (live, other_host, other_target):
        p.write_bytes(b"")
    atomic_write_bytes(target, b"done")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live, other_host, other_target,
                                                                                  target))
    assert target.read_bytes() == b"done"


def test_a_killed_face_simulation_leaves_a_temp_folder_that_the_next_run_removes(tmp_path):
    from neuroaffect._utils import _host_tag
    from neuroaffect.simulate.faces import _atomic_tree

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=60)  # a pid that no longer runs
    stale = tmp_path / f".ferplus.{proc.pid}@{_host_tag()}.abcd.tmp"
    (stale / "images").mkdir(parents=True)
    with _atomic_tree(tmp_path / "ferplus") as tmp:
        (tmp / "labels.csv").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ferplus"]
