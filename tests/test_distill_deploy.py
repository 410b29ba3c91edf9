"""Evaluation metrics and reference rows, the export and its reload, ONNX, and predicting faces."""

import json

import numpy as np
import pytest
import torch
import yaml

from neuroaffect.distill import (
    FERStudent, baseline_rows, check_onnx, export_onnx, fer_metrics, load_student, majority_metrics, predict_faces,
    save_student,
)
from neuroaffect.io.faces import FaceSet
from neuroaffect.report import student_card


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small inputs: one thread is fastest on shared CPUs


@pytest.fixture(scope="module")
def grid(random_grid):
    return random_grid(dim=6)  # 3 x 3 random unit prototypes (tests/conftest.py)


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    m = FERStudent(in_size=16, proj_dim=6)
    with torch.no_grad():  # non-trivial batch-norm statistics, so that eval mode matters
        m.train()(torch.rand(8, 1, 16, 16))
    return m.eval()


def _faces(n=16, size=16, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 8 if labels is None else np.asarray(labels)
    img = np.clip(y[:, None, None] * 30 + rng.normal(10, 5, (n, size, size)), 0, 255).astype(np.uint8)
    return FaceSet("ferplus", labels=y, split=["val"] * n, images=img)


def test_fer_metrics_by_hand():
    m = fer_metrics([0, 0, 1, 1], [0, 1, 1, 1])
    f0, f1 = 2 / 3, 0.8  # class 0: precision 1, recall .5; class 1: precision 2/3, recall 1
    assert m["accuracy"] == 0.75 and m["balanced_accuracy"] == 0.75
    assert m["present_macro_f1"] == pytest.approx((f0 + f1) / 2)
    assert m["macro_f1"] == pytest.approx((f0 + f1) / 8)  # 8-way: absent classes count 0
    assert m["confusion"][0][:2] == [1, 1] and m["confusion"][1][:2] == [0, 2]
    assert np.asarray(m["confusion"]).shape == (8, 8) and np.asarray(m["confusion"]).sum() == 4
    assert m["present_classes"] == [0, 1] and m["n"] == 4
    # a prediction of a class the set lacks lowers present-only macro-F1 through recall, not by a new class
    m2 = fer_metrics([0, 1], [0, 7])
    assert m2["present_macro_f1"] == pytest.approx(0.5) and m2["present_classes"] == [0, 1]
    with pytest.raises(ValueError, match="'y_pred' parameter"):
        fer_metrics([0, 1], [0, 8])


def test_reference_rows(student):
    train = _faces(48, seed=1)
    val = _faces(16, seed=2, labels=np.arange(16) % 4)  # a set with 4 of the 8 classes
    maj = majority_metrics(np.r_[np.zeros(5, int), np.ones(3, int)], val)
    assert maj["accuracy"] == 0.25 and np.asarray(maj["confusion"])[:, 0].sum() == 16
    rows = baseline_rows(train, {"val": val}, size=8, model=student, device="cpu")
    by = {r["method"]: r for r in rows}
    assert set(by) == {"majority", "pixel-logistic", "student"}
    assert by["pixel-logistic"]["accuracy"] == 1.0  # brightness tells the class
    assert by["pixel-logistic"]["present_macro_f1"] == 1.0 and by["pixel-logistic"]["macro_f1"] == 0.5
    assert all({"accuracy", "macro_f1", "balanced_accuracy", "present_macro_f1", "confusion"} <= set(r) for r in rows)


@pytest.mark.slow
def test_export_and_reload_give_identical_outputs(student, grid, tmp_path):
    metrics = {"ferplus-val": fer_metrics([0, 1, 2], [0, 1, 1])}
    paths = save_student(student, tmp_path / "exp", card=student_card, grid_sha256=grid.sha256, metrics=metrics,
                           datasets=["ferplus", "ckplus"], training={"arm": "B3"})
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    cfg = json.loads(paths["config"].read_text())
    assert cfg["kwargs"] == student.config and cfg["grid_sha256"] == grid.sha256
    assert cfg["input"]["normalisation"]["mean"] == 0.5 and cfg["class_names"][1] == "happiness"
    card = paths["card"].read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "neuroaffect" and front["datasets"] == ["ferplus", "ckplus"]
    assert {"accuracy", "macro_f1"} <= set(front["metrics"]) and "FERPlus" in card and "licence" in card.lower()
    m = load_student(tmp_path / "exp")
    assert m.grid_sha256 == grid.sha256 and not m.training
    x = torch.rand(5, 1, 16, 16)
    with torch.no_grad():
        a, b = student.forward_outputs(x), m.forward_outputs(x)
    assert torch.equal(a["logits"], b["logits"]) and torch.equal(a["embedding"], b["embedding"])
    # a changed weights file is refused
    blob = bytearray(paths["weights"].read_bytes())
    blob[-1] ^= 1
    paths["weights"].write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="model.safetensors: expected content sha256"):
        load_student(tmp_path / "exp")
    with pytest.raises(ValueError, match="no such file"):
        load_student(tmp_path / "nowhere")


@pytest.mark.slow
def test_onnx_agrees_with_torch(student, tmp_path, capsys):
    for name in ("onnx", "onnxscript", "onnxruntime"):  # the optional export dependencies
        pytest.importorskip(name)
    path = export_onnx(student, tmp_path / "student.onnx")
    assert path.is_file() and not list(tmp_path.glob("*.data"))  # one self-contained file
    x = torch.rand(7, 1, 16, 16)  # another batch size than the export's example
    diff = check_onnx(path, student, x)
    assert diff < 1e-4
    assert "max abs difference" in capsys.readouterr().out
    assert not student.training


def test_predict_faces_grey_colour_and_files(student, grid, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (3, 48, 48), dtype=np.uint8)  # pre-cropped grey faces of another size
    p = predict_faces(student, grey, grid, detect=False)
    assert p.proba.shape == (3, 8) and np.allclose(p.proba.sum(1), 1, atol=1e-5)
    assert p.valence_arousal.shape == (3, 2) and np.allclose(p.bin_weights.sum(1), 1)
    assert np.all(np.abs(p.valence_arousal) <= 2 / 3 + 1e-9)  # inside the bin centres' hull
    assert p.image.tolist() == [0, 1, 2] and p.boxes.tolist() == [[0, 0, 48, 48]] * 3 and p.no_face == ()
    # by hand: softmax(cos(e, p_k) / T) over bins, times the bin centres
    protos = grid.as_array() / np.linalg.norm(grid.as_array(), axis=1, keepdims=True)
    s = (p.embedding.astype(np.float64) @ protos.T) / 0.1
    w = np.exp(s - s.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    np.testing.assert_allclose(p.valence_arousal, w @ grid.bin_centres(), atol=1e-5)
    # the model on the faces shrunk 48 -> 16 by area averaging: the mean of each 3 x 3 block
    x = grey.reshape(3, 16, 3, 16, 3).mean(axis=(2, 4))
    with torch.no_grad():
        ref = torch.softmax(student(torch.as_tensor(np.round(x) / 255.0, dtype=torch.float32)[:, None]), -1)
    np.testing.assert_allclose(p.proba, ref.numpy(), atol=1e-5)
    # a colour image of another (non-square) size, as an array and as a file; equal channels = grey
    rgb = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "face.png")
    a = predict_faces(student, [rgb], grid, detect=False)
    b = predict_faces(student, tmp_path / "face.png", grid, detect=False)
    np.testing.assert_allclose(a.proba, b.proba, atol=1e-6)
    assert a.boxes.tolist() == [[0, 0, 30, 40]]
    g1 = predict_faces(student, grey[0], detect=False)
    g3 = predict_faces(student, np.repeat(grey[0][..., None], 3, -1), detect=False)
    np.testing.assert_allclose(g1.proba, g3.proba, atol=1e-3)
    assert g1.valence_arousal is None and g1.labels.shape == (1,)
    # float pixels in [0, 1] are accepted
    np.testing.assert_allclose(predict_faces(student, grey / 255.0, detect=False).proba, p.proba, atol=1e-5)
    # a higher temperature pulls the estimate toward the grid's centre
    hot = predict_faces(student, grey, grid, temperature=100.0, detect=False)
    assert np.all(np.abs(hot.valence_arousal) < np.abs(p.valence_arousal).max() + 1e-12)
    for t in (0, 1e-310, 1e-4, 101.0, float("nan")):  # bounded: 1e-310 gave NaN probabilities
        with pytest.raises(ValueError, match="'temperature' parameter"):
            predict_faces(student, grey, grid, temperature=t, detect=False)
    with pytest.raises(ValueError, match=r"shape \(H, W\) or \(H, W, 3\)"):
        predict_faces(student, [np.zeros((4, 4, 2), np.uint8)])


@pytest.mark.slow
def test_predict_faces_refuses_another_grid(student, grid, tmp_path):
    from neuroaffect.distill import shuffled_grid

    save_student(student, tmp_path / "exp", card=student_card, grid_sha256=grid.sha256)
    m = load_student(tmp_path / "exp")
    img = np.zeros((16, 16), np.uint8)
    assert predict_faces(m, img, grid, detect=False).valence_arousal.shape == (1, 2)
    with pytest.raises(ValueError, match="trained against the grid"):
        predict_faces(m, img, shuffled_grid(grid, 0), detect=False)
    save_student(student, tmp_path / "b1", card=student_card, grid_sha256=None)  # an arm without Proto-KD
    with pytest.raises(ValueError, match="trained without a prototype grid"):
        predict_faces(load_student(tmp_path / "b1"), img, grid, detect=False)
    assert predict_faces(load_student(tmp_path / "b1"), img, detect=False).proba.shape == (1, 8)
