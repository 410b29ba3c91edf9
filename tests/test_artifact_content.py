"""Artifacts are checked for what they hold, not only for their checksums (``docs/prototypes.md``,
"What the checksums protect against"): the bounded JSON reader, the teacher's argument bounds and
roles, the student export's covered files and ONNX bytes, and the CLI refusing a swapped or
edited teacher folder."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import neuroaffect
from neuroaffect._utils import DatasetFormatError, load_json_bounded, loads_json_bounded
from neuroaffect.models import TopoTeacher
from reliability.content import deep_json, make_teacher_dir

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _depth(text: str) -> int:
    """Nesting depth by a plain character walk (a reference for the vectorised count)."""
    depth = best = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            esc, in_str = (False, in_str) if esc else (ch == "\\", ch != '"')
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


@pytest.mark.parametrize("text", ['{"a": "[[[{{", "b": [[1, {"c": []}]]}', '["\\"[[[", [[]]]', '"[[[["', "3",
                                  '{"k\\\\": [[["x\\\\"]]]}'])
def test_depth_counts_only_brackets_outside_strings(text):
    want = _depth(text)
    assert loads_json_bounded(text, "f.json", "x", max_depth=want) == json.loads(text)
    if want:
        with pytest.raises(DatasetFormatError, match=rf"f\.json: expected x nested at most {want - 1} levels deep, "
                                                     rf"but found nesting {want} levels deep"):
            loads_json_bounded(text, "f.json", "x", max_depth=want - 1)


def test_deep_and_oversized_json_files_are_refused_naming_the_file(tmp_path):
    f = tmp_path / "card.json"
    f.write_text(deep_json())
    with pytest.raises(DatasetFormatError, match=r"card\.json: expected a card nested at most 64 levels deep, but "
                                                 r"found nesting 100000 levels deep"):
        load_json_bounded(f, "a card")
    with pytest.raises(RecursionError):  # what a plain parser does with it
        json.loads(f.read_text())
    f.write_text(json.dumps({"x": "y" * 100}))  # 7 + 100 + 2 bytes
    with pytest.raises(DatasetFormatError, match=r"at most 50 bytes, but found 109 bytes"):
        load_json_bounded(f, "a card", max_bytes=50)
    with pytest.raises(DatasetFormatError, match=r"nowhere\.json: expected a card, but found no readable file"):
        load_json_bounded(tmp_path / "nowhere.json", "a card")


@pytest.mark.parametrize("kw", [dict(n_chans=14, n_bands=4, n_outputs=2, size=32, width=8, embed_dim=128),
                                dict(n_chans=32, n_bands=5, n_outputs=2, size=16, width=4, embed_dim=16),
                                dict(n_chans=4, n_bands=2, n_outputs=3, size=8, width=2, embed_dim=4)])
def test_teacher_parameter_count_is_known_before_building(kw):
    n = TopoTeacher.check_arguments(**kw)
    model = TopoTeacher(kw.pop("n_chans"), kw.pop("n_bands"), kw.pop("n_outputs"), **kw)
    assert n == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("kw, match", [(dict(width=4096), "'width' parameter: expected at most 512"),
                                       (dict(width=512, embed_dim=8192), "expected at most 64000000 parameters"),
                                       (dict(size=12), "multiple of 8"), (dict(n_bands=0), "positive int")])
def test_teacher_arguments_out_of_bounds_are_refused_before_allocation(kw, match, monkeypatch):
    def no_alloc(*a, **k):  # any layer built would call this
        raise AssertionError("a layer was built before the arguments were checked")

    monkeypatch.setattr(torch.nn.Conv2d, "__init__", no_alloc)
    args = {"n_chans": 14, "n_bands": 4, "n_outputs": 2, **kw}
    with pytest.raises(ValueError, match=match):
        TopoTeacher(args.pop("n_chans"), args.pop("n_bands"), args.pop("n_outputs"), **args)


@pytest.mark.slow
def test_teacher_roles_and_summary(tmp_path):
    from neuroaffect.prototypes.teacher import load_teacher, read_teacher_summary

    d = make_teacher_dir(tmp_path / "t")
    model, prov = load_teacher(d / "teacher.pt", "teacher")
    assert prov["role"] == "teacher" and model.embed_dim == 4 and not model.training
    summary = read_teacher_summary(d / "teacher.json", checkpoints=("teacher", "control"))
    assert summary["cv"][0]["pearson_r_mean"] == 0.3
    shutil.copy2(d / "control.pt", d / "teacher.pt")
    with pytest.raises(DatasetFormatError, match=r"teacher\.pt: expected field 'inputs.role': the checkpoint of the "
                                                 r"teacher, but found role 'control'"):
        load_teacher(d / "teacher.pt", "teacher")
    with pytest.raises(DatasetFormatError, match=r"teacher\.pt: expected the teacher's checkpoint with the sha256 "
                                                 r"teacher\.json records"):
        read_teacher_summary(d / "teacher.json", checkpoints=("teacher",))


@pytest.fixture(scope="module")
def tiny_student():
    from neuroaffect.distill import FERStudent

    torch.manual_seed(0)
    return FERStudent(in_size=16, proj_dim=6).eval()


@pytest.mark.slow
def test_export_covers_card_and_onnx_and_onnx_bytes_name_no_folder(tiny_student, tmp_path):
    pytest.importorskip("onnxruntime")
    from neuroaffect.distill.export import export_onnx, load_onnx, load_student, save_student
    from neuroaffect.report import student_card

    out = tmp_path / "export"
    save_student(tiny_student, out, card=student_card, grid_sha256=None)
    config = json.loads((out / "config.json").read_text())
    assert config["card_sha256"] == hashlib.sha256((out / "README.md").read_bytes()).hexdigest()
    assert config["onnx_sha256"] is None
    export_onnx(tiny_student, out / "model.onnx")
    blob = (out / "model.onnx").read_bytes()
    config = json.loads((out / "config.json").read_text())
    assert config["onnx_sha256"] == hashlib.sha256(blob).hexdigest()
    load_student(out)  # the rewritten config verifies, the ONNX file with it
    load_onnx(out / "model.onnx")
    # no path of this machine (the package's or the interpreter's folders) inside the file
    for folder in (Path(neuroaffect.__file__).resolve().parent.parent, Path(torch.__file__).resolve().parent):
        assert str(folder).encode() not in blob
    assert b".py\", line" not in blob and b"stack_trace" not in blob
    export_onnx(tiny_student, tmp_path / "again.onnx")
    assert (tmp_path / "again.onnx").read_bytes() == blob
    # a truncated file: our error, not onnxruntime's
    (out / "model.onnx").write_bytes(blob[: len(blob) // 3])
    with pytest.raises(DatasetFormatError, match=r"model\.onnx: expected content sha256"):
        load_onnx(out / "model.onnx")
    (tmp_path / "loose.onnx").write_bytes(blob[: len(blob) // 3])
    with pytest.raises(DatasetFormatError, match=r"loose\.onnx: expected an ONNX model onnxruntime can load"):
        load_onnx(tmp_path / "loose.onnx")


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "neuroaffect", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.slow
def test_export_prototypes_refuses_a_swapped_or_edited_teacher_folder(sim_root, tmp_path):
    """``control.pt`` copied over ``teacher.pt``, or ``teacher.json``'s CV figures edited: the export
    fails naming the file, instead of building a grid from the control or copying the edit into the
    card."""
    dreamer = sim_root("dreamer")
    config = json.dumps({"cv_folds": 2, "mc_samples": 4, "n_permutations": 20, "holdout": 0.5,
                         "model_kwargs": {"width": 4, "embed_dim": 16}})
    common = ["--root", str(dreamer), "--config", config, "--feature-params", '{"physio": false}']
    teacher = tmp_path / "teacher"
    res = _run("train-teacher", *common, "--out", str(teacher), "--epochs", "1", "--batch-size", "16", "--device",
               "cpu", "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads((teacher / "teacher.json").read_text())
    assert set(summary["checkpoints_sha256"]) == {"teacher", "control"} and "summary_sha256" in summary

    swapped = tmp_path / "swapped"
    shutil.copytree(teacher, swapped)
    shutil.copy2(teacher / "control.pt", swapped / "teacher.pt")
    res = _run("export-prototypes", *common, "--teacher", str(swapped), "--out", str(tmp_path / "g1"), cwd=tmp_path)
    assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert f"{swapped / 'teacher.pt'}: expected the teacher's checkpoint" in res.stderr
    assert not (tmp_path / "g1" / "card.json").exists()

    edited = tmp_path / "edited"
    shutil.copytree(teacher, edited)
    s = json.loads((edited / "teacher.json").read_text())
    s["cv"][0]["pearson_r_mean"] = 0.999
    (edited / "teacher.json").write_text(json.dumps(s))
    res = _run("export-prototypes", *common, "--teacher", str(edited), "--out", str(tmp_path / "g2"), cwd=tmp_path)
    assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert f"{edited / 'teacher.json'}: expected content sha256" in res.stderr
    assert not (tmp_path / "g2" / "card.json").exists()

    res = _run("export-prototypes", *common, "--teacher", str(teacher), "--out", str(tmp_path / "g3"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    card = json.loads((tmp_path / "g3" / "card.json").read_text())
    assert card["teacher"]["role"] == "teacher"
    assert card["teacher"]["cv"] == summary["cv"]
    assert card["teacher"]["checkpoint_sha256"] == hashlib.sha256((teacher / "teacher.pt").read_bytes()).hexdigest()
    assert np.isfinite(card["ordering"]["grid"]["rho"])
