"""Tampered artifacts: small valid files made by the package, then changed after the fact.

:func:`cases` writes, below a folder, a tiny feature file, a training checkpoint (and a sweep's
finished group checkpoint), an exported prototype grid and an exported face student, each
intact and in tampered copies: a flipped byte inside an array's stored bytes (found with h5py's
``id.get_offset()`` for HDF5 datasets, and through the zip directory for the tensor records
of a ``torch.save`` archive), values edited with the format's own library while the stored
checksum is kept, a removed checksum, a renamed variable, truncation. It returns
``(name, loader, expect)`` triples: ``loader()`` loads the file the way the package does
(``read_features``, ``load_model``, resuming ``run_sweep``, ``load_grid``, ``load_student``)
and ``expect`` is ``"read"`` for the intact files and ``"reject"`` for every tampered one. A
rejection must be the package's own error naming the file (``DatasetFormatError`` and its
subclasses); ``benchmarks/fault_suite.py`` counts a tampered artifact that loads as accepted.

The helpers (:func:`hdf5_data_regions`, :func:`zip_records`, :func:`flip_byte`) are shared with
``tests/test_artifact_integrity.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["cases", "flip_byte", "hdf5_data_regions", "make_checkpoint", "make_feature_file", "make_grid",
           "make_student", "make_sweep", "zip_records"]

Case = tuple[str, Callable[[], object], str]


# --------------------------------------------------------------------------------------------
# where the bytes of the data are
# --------------------------------------------------------------------------------------------
def hdf5_data_regions(path) -> dict:
    """``{dataset name: (offset, nbytes)}`` of every HDF5 dataset stored contiguously in ``path``.

    For variable-length strings the region holds the heap references, not the text.
    """
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        for name, d in f.items():
            if not isinstance(d, h5py.Dataset):
                continue
            off, size = d.id.get_offset(), d.id.get_storage_size()
            if off is not None and size:
                out[name] = (int(off), int(size))
    return out


def zip_records(path) -> dict:
    """``{member name: (offset, nbytes)}`` of the stored (uncompressed) members of a zip archive,
    e.g. the tensor records ``<archive>/data/<key>`` and ``<archive>/data.pkl`` of a ``torch.save`` file."""
    out = {}
    raw = Path(path).read_bytes()
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            h = info.header_offset
            n_name, n_extra = struct.unpack("<HH", raw[h + 26:h + 30])
            out[info.filename] = (h + 30 + n_name + n_extra, info.compress_size)
    return out


def flip_byte(src, dst, offset: int, mask: int = 0xFF) -> Path:
    """Copy ``src`` to ``dst`` with the byte at ``offset`` XOR ``mask``."""
    data = bytearray(Path(src).read_bytes())
    data[offset] ^= mask
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


# --------------------------------------------------------------------------------------------
# small valid artifacts
# --------------------------------------------------------------------------------------------
def make_feature_file(out_dir, seed: int = 0, n_trials: int = 2, n_times: int = 256, subject: int = 1) -> Path:
    """A DEAP-layout feature file of ``n_trials`` x ``n_times // 128`` windows (band DE, 8 x 8 maps);
    the default is ~45 KB. Written as ``out_dir / f"{subject}.nc"``."""
    from neuroaffect.channels import DEAP_EEG_CH_NAMES
    from neuroaffect.features import FeatureParams, extract_features, write_features
    from neuroaffect.io.base import Recording

    rng = np.random.default_rng(seed)
    n = len(DEAP_EEG_CH_NAMES)
    rec = Recording(dataset="deap", subject=subject, eeg=1e-5 * rng.standard_normal((n_trials, n, n_times)),
                    sfreq=128.0, ch_names=DEAP_EEG_CH_NAMES,
                    labels={k: rng.uniform(1, 9, n_trials).round(2) for k in ("valence", "arousal")},
                    label_range={k: (1.0, 9.0) for k in ("valence", "arousal")},
                    baseline=1e-5 * rng.standard_normal((n_trials, n, 384)))
    ds = extract_features(rec, FeatureParams(physio=False, topo=True, topo_size=8))
    return write_features(ds, Path(out_dir) / f"{subject}.nc")


def _tiny_windows():
    from neuroaffect.training import make_synthetic_windows

    return make_synthetic_windows(n_subjects=2, n_trials=6, n_windows=4, n_chans=6, n_bands=4, seed=2)


TINY_DGCNN = dict(K=2, n_filters=4, hidden=8, dropout=0.0, k=3)


def make_checkpoint(out_dir) -> Path:
    """A finished engine checkpoint of a tiny registered model (DGCNN), one epoch."""
    from neuroaffect.training import TrainConfig, build_model, train_model

    ws = _tiny_windows()
    model = build_model("dgcnn", n_chans=6, n_bands=4, n_outputs=2, seed=0, model_kwargs=TINY_DGCNN,
                        ch_pos=ws.ch_pos)
    path = Path(out_dir) / "model.pt"
    train_model(model, ws.X, ws.y, TrainConfig(epochs=1, batch_size=16, device="cpu"), checkpoint=path)
    return path


def _sweep(checkpoint_dir):
    from neuroaffect.training import TrainConfig, run_sweep

    return run_sweep(_tiny_windows(), "dgcnn", TINY_DGCNN, n_folds=2, baselines=(),
                     train_cfg=TrainConfig(epochs=1, batch_size=16, device="cpu"), checkpoint_dir=checkpoint_dir)


def make_sweep(out_dir) -> Path:
    """A sweep's checkpoint folder (one finished group checkpoint); returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _sweep(out)
    return out


def make_grid(out_dir) -> Path:
    """An exported 3 x 3 prototype grid of dimension 6; returns the export folder."""
    from neuroaffect.labels import grid_centres, grid_edges
    from neuroaffect.prototypes.io import write_grid_files

    rng = np.random.default_rng(0)
    p = rng.standard_normal((3, 3, 6))
    p /= np.linalg.norm(p, axis=-1, keepdims=True)
    out = Path(out_dir)
    write_grid_files(out, {"prototypes": p.astype(np.float32), "centres": grid_centres(3), "edges": grid_edges(3),
                           "counts": np.ones((2, 3, 3), np.int64), "filled": np.zeros((3, 3), np.uint8)},
                     {"dim": 6, "sources": ["sim", "support"], "normalisation": {"sim": "(score - 3) / 2"}})
    return out


def make_student(out_dir, grid_sha256: str | None = None) -> Path:
    """An exported face student (ResNet-18 at 16 x 16, projection to 6); returns the export folder."""
    import torch

    from neuroaffect.distill import FERStudent, save_student
    from neuroaffect.report import student_card

    torch.manual_seed(0)
    m = FERStudent(in_size=16, proj_dim=6).eval()
    out = Path(out_dir)
    save_student(m, out, card=student_card, grid_sha256=grid_sha256, metrics={"val": {"accuracy": 0.5}})
    return out


# --------------------------------------------------------------------------------------------
# tampered copies
# --------------------------------------------------------------------------------------------
def _copy_tree(src: Path, dst: Path, link=()) -> Path:
    """Copy an export folder; files named in ``link`` are hard-linked (left unchanged, saves space)."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.name in link:
            try:
                os.link(f, dst / f.name)
                continue
            except OSError:
                pass
        shutil.copy2(f, dst / f.name)
    return dst


def _feature_cases(base: Path) -> list:
    import h5py

    from neuroaffect.features import read_features

    good = make_feature_file(base / "good")
    out = [("features/intact", lambda p=good: read_features(p), "read")]
    regions = hdf5_data_regions(good)
    for name in ("bde", "n_windows", "ch_pos", "valence", "valence_norm", "win_start", "topo", "channel"):
        off, size = regions[name]
        dst = flip_byte(good, base / f"flip_{name}.nc", off + size // 2)
        out.append((f"features/flipped byte in {name}", lambda p=dst: read_features(p), "reject"))

    def edited(tag, edit):
        dst = base / f"edit_{tag}.nc"
        shutil.copy2(good, dst)
        with h5py.File(dst, "r+") as f:
            edit(f)
        out.append((f"features/{tag}", lambda p=dst: read_features(p), "reject"))

    def bump(name, i=0, delta=1):
        def edit(f):
            v = f[name][...]
            v.flat[i] += delta
            f[name][...] = v
        return edit

    edited("n_windows edited (checksum kept)", bump("n_windows"))
    edited("label edited (checksum kept)", bump("arousal", delta=0.5))
    edited("ch_pos edited (checksum kept)", bump("ch_pos", 4, 0.01))
    edited("window attribute edited", lambda f: f.attrs.modify("window", np.array([64], np.int64)))
    edited("checksum removed", lambda f: f.attrs.__delitem__("content_sha256"))
    raw = good.read_bytes()
    renamed = base / "renamed.nc"
    i = raw.index(b"n_windows")
    renamed.write_bytes(raw[:i] + b"m" + raw[i + 1:])
    out.append(("features/variable renamed in the metadata", lambda p=renamed: read_features(p), "reject"))
    for tag, blob in (("truncated", raw[: len(raw) // 2]), ("empty", b""), ("superblock flipped", None)):
        dst = base / f"{tag.replace(' ', '_')}.nc"
        if blob is None:
            flip_byte(good, dst, 3)
        else:
            dst.write_bytes(blob)
        out.append((f"features/{tag}", lambda p=dst: read_features(p), "reject"))
    return out


def _raw_state(path):
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _checkpoint_cases(base: Path) -> list:
    import torch

    from neuroaffect.training import load_model

    good = make_checkpoint(base / "good")
    out = [("checkpoint/intact", lambda p=good: load_model(p), "read")]
    records = zip_records(good)
    tensors = sorted((k for k in records if "/data/" in k), key=lambda k: int(k.rsplit("/", 1)[1]))
    picks = sorted({tensors[0], tensors[len(tensors) // 2], tensors[-1]}, key=tensors.index)
    for k in picks:
        off, size = records[k]
        dst = flip_byte(good, base / f"flip_{k.rsplit('/', 1)[1]}.pt", off + size // 2, 0x01)
        out.append((f"checkpoint/flipped byte in tensor record {k.rsplit('/', 1)[1]}",
                    lambda p=dst: load_model(p), "reject"))
    off, size = records[next(k for k in records if k.endswith("data.pkl"))]
    dst = flip_byte(good, base / "flip_pickle.pt", off + size // 2, 0x01)
    out.append(("checkpoint/flipped byte in data.pkl", lambda p=dst: load_model(p), "reject"))

    def resaved(tag, edit):
        state = _raw_state(good)
        edit(state)
        dst = base / f"{tag.split(' ')[0]}.pt"
        torch.save(state, dst)
        out.append((f"checkpoint/{tag}", lambda p=dst: load_model(p), "reject"))

    def scale_first_weight(state):
        sd = state["weights"]["state"]
        k = next(k for k, v in sd.items() if v.is_floating_point())
        sd[k] = sd[k] * 1.5

    resaved("weights edited with torch (checksum kept)", scale_first_weight)
    resaved("epoch edited with torch (checksum kept)", lambda s: s.__setitem__("epoch", 0))
    resaved("checksum removed", lambda s: s.pop("content_sha256"))
    raw = good.read_bytes()
    dst = base / "truncated.pt"
    dst.write_bytes(raw[: len(raw) // 2])
    out.append(("checkpoint/truncated", lambda p=dst: load_model(p), "reject"))
    return out


def _sweep_cases(base: Path) -> list:
    good = make_sweep(base / "sweep_good")
    out = [("sweep/finished checkpoint intact", lambda d=good: _sweep(d), "read")]
    bad = base / "sweep_bad"
    shutil.copytree(good, bad)
    (ckpt,) = bad.glob("group-*.pt")
    records = zip_records(ckpt)
    k = min((k for k in records if "/data/" in k), key=lambda k: int(k.rsplit("/", 1)[1]))
    off, size = records[k]
    flip_byte(ckpt, ckpt, off + size // 2, 0x01)
    out.append(("sweep/finished checkpoint with a flipped weight byte", lambda d=bad: _sweep(d), "reject"))
    return out


def _grid_cases(base: Path) -> list:
    from neuroaffect.prototypes.io import load_grid

    good = make_grid(base / "grid_good")
    out = [("grid/intact (safetensors)", lambda d=good: load_grid(d), "read"),
           ("grid/intact (npz)", lambda d=good: load_grid(d / "grid.npz"), "read")]

    for fname in ("grid.safetensors", "grid.npz"):
        d = _copy_tree(good, base / f"grid_flip_{fname.split('.')[1]}")
        raw = (d / fname).read_bytes()
        if fname == "grid.npz":
            with zipfile.ZipFile(d / fname) as z:
                info = z.getinfo("prototypes.npy")
            n_name, n_extra = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
            off = info.header_offset + 30 + n_name + n_extra + info.compress_size - 3  # inside the array data
        else:
            (header_len,) = struct.unpack("<Q", raw[:8])
            header = json.loads(raw[8:8 + header_len])
            start = 8 + header_len + header["prototypes"]["data_offsets"][0]
            off = start + 5
        flip_byte(d / fname, d / fname, off, 0x01)
        out.append((f"grid/flipped byte in the prototypes of {fname}", lambda p=d / fname: load_grid(p), "reject"))

    d = _copy_tree(good, base / "grid_card", link=("grid.safetensors", "grid.npz"))
    card = json.loads((d / "card.json").read_text())
    card["normalisation"] = {"sim": "(score - 1) / 4"}
    (d / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    out.append(("grid/card edited (npz reader)", lambda p=d / "grid.npz": load_grid(p), "reject"))
    out.append(("grid/card edited (safetensors reader)", lambda p=d: load_grid(p), "reject"))
    d = _copy_tree(good, base / "grid_trunc", link=("grid.npz",))
    raw = (d / "grid.safetensors").read_bytes()
    (d / "grid.safetensors").unlink()
    (d / "grid.safetensors").write_bytes(raw[: len(raw) - 40])
    out.append(("grid/truncated safetensors", lambda p=d: load_grid(p), "reject"))
    return out


def _student_cases(base: Path) -> list:
    from neuroaffect.distill import load_student

    good = make_student(base / "student_good", grid_sha256="0" * 64)
    out = [("student/intact", lambda d=good: load_student(d), "read")]
    d = _copy_tree(good, base / "student_flip")
    raw = (d / "model.safetensors").read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    flip_byte(d / "model.safetensors", d / "model.safetensors", 8 + header_len + 1000, 0x01)
    out.append(("student/flipped byte in the weights", lambda d=d: load_student(d), "reject"))

    def edited(tag, edit):
        d = _copy_tree(good, base / f"student_{tag.split(' ')[0]}", link=("model.safetensors",))
        cfg = json.loads((d / "config.json").read_text())
        edit(cfg)
        (d / "config.json").unlink()
        (d / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        out.append((f"student/{tag}", lambda d=d: load_student(d), "reject"))

    def swap(cfg):
        names = cfg["class_names"]
        names[0], names[1] = names[1], names[0]

    edited("class names swapped in config.json", swap)
    edited("normalisation edited in config.json", lambda c: c["kwargs"].__setitem__("mean", 0.4))
    edited("grid checksum edited in config.json", lambda c: c.__setitem__("grid_sha256", "1" * 64))
    return out


def cases(tmp_dir: Path) -> list[Case]:
    """Write the artifacts below ``tmp_dir``; return ``(name, loader, expect)`` for each.

    Parameters
    ----------
    tmp_dir : pathlib.Path
        An empty, writable folder (a few MB are written; the student's weights are ~45 MB, hard-linked
        where a copy leaves them unchanged).

    Returns
    -------
    cases : list of (str, callable, str)
        ``loader()`` loads the artifact as the package does; ``expect`` is ``"read"`` (intact) or
        ``"reject"`` (tampered: the package's own error naming the file must be raised).
    """
    base = Path(tmp_dir)
    out = []
    for name, make in (("features", _feature_cases), ("checkpoint", _checkpoint_cases), ("sweep", _sweep_cases),
                       ("grid", _grid_cases), ("student", _student_cases)):
        d = base / name
        d.mkdir(parents=True, exist_ok=True)
        out += make(d)
    return out
