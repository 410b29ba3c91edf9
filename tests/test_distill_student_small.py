"""The small backbones of the face student: ResNet-8 (the CPU student) and the small CNN (the reference
row), their export, and the small-CNN reference row in the evaluation and the ablation table."""

import json

import numpy as np
import pytest
import torch

from neuroaffect.distill import FERStudent, build_student, check_onnx, export_onnx, load_student, save_student
from neuroaffect.distill.evaluate import SMALL_CNN, baseline_rows, small_cnn_budget, train_small_cnn
from neuroaffect.distill.backbones import ResNet8, SmallCNN
from neuroaffect.distill.student import ARCHS
from neuroaffect.io.faces import FaceSet
from neuroaffect.report import ablation_markdown, student_card
from neuroaffect.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small inputs: one thread is fastest on shared CPUs


def _faces(n, size=16, seed=0, split="train"):
    """Faces of 4 classes told by a bright shape on noise, which flips and small rotations keep: nothing, a
    horizontal bar, a vertical bar, a centred square (learnable by a small CNN)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    img = rng.normal(60, 15, (n, size, size))
    h = size // 2
    img[y == 1, h - 1:h + 1, 3:-3] += 150
    img[y == 2, 3:-3, h - 1:h + 1] += 150
    img[y == 3, h - 3:h + 3, h - 3:h + 3] += 150
    return FaceSet("ferplus", labels=y, split=[split] * n, images=np.clip(img, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("arch, width, last_side", [("resnet8", 128, 4), ("cnn3", 128, 2)])
def test_small_backbones_shapes_and_config_round_trip(arch, width, last_side):
    torch.manual_seed(0)
    m = FERStudent(arch=arch, in_size=16, proj_dim=6).eval()
    assert ARCHS[arch] == width == m.num_features
    x = torch.rand(3, 1, 16, 16)
    with torch.no_grad():
        out = m.forward_outputs(x)
        f = m.forward_features(x)
        maps = (m.backbone.layer3(m.backbone.layer2(m.backbone.layer1(m.backbone.relu(m.backbone.bn1(
            m.backbone.conv1(m.prepare(x))))))) if arch == "resnet8" else m.backbone.features(m.prepare(x)))
    assert out["logits"].shape == (3, 8) and out["embedding"].shape == (3, 6) and f.shape == (3, width)
    assert maps.shape[-2:] == (last_side, last_side)  # ResNet-8: H / 4 (stem stride 1); small CNN: H / 8
    assert torch.equal(m(x), out["logits"]) and torch.allclose(m.forward_head(f), out["logits"])
    assert torch.allclose(out["embedding"].norm(dim=1), torch.ones(3))
    assert m.config["arch"] == arch
    b = build_student(m.config)
    b.load_state_dict(m.state_dict())
    with torch.no_grad():
        assert torch.equal(b.eval()(x), m(x))


def test_resnet8_is_built_from_torchvision_basic_blocks_with_its_stem():
    from torchvision.models.resnet import BasicBlock

    r = ResNet8()
    blocks = [mod for mod in r.modules() if isinstance(mod, BasicBlock)]
    assert len(blocks) == 3 and [b.conv2.out_channels for b in blocks] == [32, 64, 128]
    assert blocks[0].downsample is None and blocks[1].downsample is not None and blocks[1].stride == 2
    assert r.conv1.kernel_size == (3, 3) and r.conv1.stride == (1, 1)
    assert FERStudent(arch="resnet8", in_size=96).backbone.conv1.stride == (2, 2)  # small_input False above 64 px
    assert sum(p.numel() for p in r.parameters()) < 400_000
    c = SmallCNN()
    assert [type(mod).__name__ for mod in c.features[:4]] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert not any(isinstance(mod, BasicBlock) for mod in c.modules())
    with pytest.raises(ValueError, match="'stem_stride' parameter"):
        ResNet8(stem_stride=3)
    with pytest.raises(ValueError, match="3 stage widths"):
        ResNet8(widths=(8, 16))


@pytest.mark.slow
def test_resnet8_export_reload_and_onnx(tmp_path):
    torch.manual_seed(0)
    m = FERStudent(arch="resnet8", in_size=16, proj_dim=6)
    with torch.no_grad():  # non-trivial batch-norm statistics, so that eval mode matters
        m.train()(torch.rand(8, 1, 16, 16))
    m.eval()
    save_student(m, tmp_path / "exp", card=student_card, grid_sha256=None, metrics={}, training={"arm": "B0"})
    assert json.loads((tmp_path / "exp" / "config.json").read_text())["kwargs"]["arch"] == "resnet8"
    back = load_student(tmp_path / "exp")
    x = torch.rand(4, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(back(x), m(x), atol=1e-6)
    pytest.importorskip("onnxruntime")
    path = export_onnx(m, tmp_path / "model.onnx")
    assert check_onnx(path, m, x) < 1e-4


@pytest.mark.slow
def test_small_cnn_learns_tiny_faces_and_gets_its_row():
    train, val = _faces(96, seed=1), _faces(32, seed=2, split="val")
    cfg = TrainConfig(epochs=4, batch_size=16, lr=3e-3, weight_decay=0.0, label_smoothing=0.0, device="cpu",
                      standardize=False, eval_batch_size=64)
    res = train_small_cnn(train, val, cfg, in_size=16, seed=0)
    assert res.model.config["arch"] == "cnn3" and res.history["val_macro_f1"][res.selected_epoch] == res.val_macro_f1
    # 4 balanced classes of the 8: guessing scores an 8-way macro-F1 of about 0.125, a perfect model 0.5
    assert res.val_macro_f1 > 0.3
    rows = baseline_rows(train, {"ferplus-test": _faces(32, seed=3, split="test")}, size=8, device="cpu",
                         small_cnn=cfg, val_set=val, in_size=16)
    by = {r["method"]: r for r in rows}
    assert set(by) == {"majority", "pixel-logistic", SMALL_CNN}
    cnn = by[SMALL_CNN]
    assert cnn["val"]["macro_f1"] == pytest.approx(res.val_macro_f1) and cnn["epochs"] == 4  # same seed: same run
    assert cnn["accuracy"] > 0.5 and cnn["seconds"] > 0


def test_small_cnn_needs_validation_and_budget_comes_from_the_b0_record():
    train = _faces(8)
    with pytest.raises(ValueError, match="'val_set' parameter"):
        baseline_rows(train, {}, small_cnn=TrainConfig(epochs=1))
    cfg = TrainConfig(epochs=3, lr=1e-3, device="cpu")
    recs = [{"arm": "B3", "seed": 1, "record": {"train": cfg.replace(epochs=9).to_dict(), "student": {"in_size": 40}}},
            {"arm": "B0", "seed": 2, "record": {"train": cfg.to_dict(), "student": {"in_size": 32}}}]
    budget = small_cnn_budget(recs)
    assert budget == {"small_cnn": cfg, "in_size": 32, "seed": 1, "augment": True}  # a record before the choice
    recs[1]["record"]["augment"] = False  # the students trained without augmentation: so does the reference
    assert small_cnn_budget(recs)["augment"] is False
    assert small_cnn_budget(recs, device="cuda")["small_cnn"].device == "cuda"
    assert small_cnn_budget([{"arm": "B0", "seed": 0}]) == {}  # no recorded budget: no small-CNN row
    with pytest.raises(ValueError, match="could not be read"):
        small_cnn_budget([{"arm": "B0", "seed": 0, "record": {"train": {"epochs": 1}, "student": {}}}])
    with pytest.raises(ValueError, match="could not be read"):
        small_cnn_budget([{"arm": "B0", "seed": 0, "record": {**recs[1]["record"], "augment": "no"}}])


def test_small_cnn_row_trains_with_the_students_augmentation_choice():
    train, val = _faces(16, seed=1), _faces(8, seed=2, split="val")
    cfg = TrainConfig(epochs=1, batch_size=8, lr=1e-3, device="cpu", standardize=False, eval_batch_size=8)
    for augment in (False, True):
        rows = baseline_rows(train, {"ferplus-test": _faces(8, seed=3, split="test")}, size=8, device="cpu",
                             small_cnn=cfg, val_set=val, in_size=16, augment=augment)
        assert next(r for r in rows if r["method"] == SMALL_CNN)["augment"] is augment


def _metrics(f1):
    return {"accuracy": f1, "macro_f1": f1, "balanced_accuracy": f1}


def test_ablation_table_has_the_small_cnn_row_and_the_reference_check():
    records = [{"arm": a, "seed": 0, "val": _metrics(v)} for a, v in (("B0", 0.3), ("B3", 0.4))]
    runs = [{"arm": a, "seed": 0, "set": s, **_metrics(v), "present_macro_f1": v}
            for a, v in (("B0", 0.2), ("B3", 0.5)) for s in ("ferplus-test", "ckplus")]
    base = [{"method": m, "set": s, **_metrics(v), "present_macro_f1": v,
             **({"val": _metrics(v + 0.01)} if m == SMALL_CNN else {})}
            for s in ("ferplus-test", "ckplus") for m, v in (("majority", 0.1), ("pixel-logistic", 0.25),
                                                             (SMALL_CNN, 0.3))]
    results = {"runs": runs, "baselines": base,
               "sets": {"ferplus-test": {"n": 4, "classes": ["neutral"]}, "ckplus": {"n": 4, "classes": ["neutral"]}}}
    md = ablation_markdown(records, results)
    ferplus, cross = md.split("## Cross-dataset")[0], md.split("## Cross-dataset")[1]
    row = next(line for line in ferplus.splitlines() if line.startswith("| small CNN, the students' budget"))
    assert "31.0" in row and "30.0" in row  # its validation and test figures
    assert "Arms above pixel-logistic (25.0) on FERPlus test macro-F1: 1 of 2 (not: B0 CE)." in md
    assert "Arms above the small CNN (30.0) on FERPlus test macro-F1: 1 of 2 (not: B0 CE)." in md
    assert "small CNN, the students' budget (reference)" in cross and "pixel-logistic (reference)" in cross
    # without the small CNN the table keeps the two classic references
    md2 = ablation_markdown(records, {**results, "baselines": [b for b in base if b["method"] != SMALL_CNN]})
    assert "small CNN" not in md2 and "Arms above pixel-logistic" in md2
