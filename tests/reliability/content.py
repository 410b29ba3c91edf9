"""Artifacts whose checksums hold but whose content does not: meaning, roles, and parser bombs.

:func:`cases` writes, below a folder, tiny artifacts made by the package and copies of them that
a checksum alone cannot refuse, because the checksums were **recomputed** after the edit (the
package's own writers are called with the bad content) or because the trouble is in what one
file says about another:

- prototype grids holding NaN, Inf, zero or non-unit prototypes, prototypes of another dtype or
  rank, centres that are NaN, outside [-1, 1] or of another shape, decreasing edges, negative
  counts, ``filled`` flags of 7 or on bins with members, a card whose ``dim`` differs from the
  arrays; an ``.npz`` member declaring a huge shape (refused from its header, unread);
- cards, safetensors header cards, student configs and teacher summaries nested 100,000 levels
  deep (a ``RecursionError`` in a plain ``json.loads``);
- face-student exports with non-finite weights, constructor arguments out of bounds, class names
  that do not fit, an edited model card, a ``model.onnx`` that the config does not record or that
  was changed, and a run record naming another arm's export; truncated ONNX files;
- teacher checkpoints whose spec asks for a huge model, with NaN weights, without a recorded role,
  or with the control's role where the teacher's is asked for; ``teacher.json`` whose CV figures
  were edited (checksum kept), are out of range (checksum recomputed), or that names another
  ``teacher.pt``.

It returns ``(name, loader, expect)`` triples exactly like ``tests/reliability/tamper.py``:
``expect`` is ``"read"`` for the intact artifacts and ``"reject"`` for the others, where only the
package's own error naming the file counts.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["cases", "deep_json", "make_teacher_dir", "tiny_onnx"]

Case = tuple[str, Callable[[], object], str]
DEPTH = 100_000


def deep_json(depth: int = DEPTH) -> str:
    """A JSON document of nested lists ``depth`` levels deep (about 2 * depth bytes)."""
    return "[" * depth + "]" * depth


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _copy_tree(src: Path, dst: Path, link=()) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        (_link_or_copy if f.name in link else shutil.copy2)(f, dst / f.name)
    return dst


# --------------------------------------------------------------------------------------------
# prototype grids
# --------------------------------------------------------------------------------------------
def _grid_arrays(n: int = 3, dim: int = 6) -> dict:
    from neuroaffect.labels import grid_centres, grid_edges

    rng = np.random.default_rng(0)
    p = rng.standard_normal((n, n, dim))
    p /= np.linalg.norm(p, axis=-1, keepdims=True)
    return {"prototypes": p.astype(np.float32), "centres": grid_centres(n), "edges": grid_edges(n),
            "counts": np.ones((2, n, n), np.int64), "filled": np.zeros((n, n), np.uint8)}


def _grid_card(dim: int = 6) -> dict:
    return {"dim": dim, "sources": ["sim", "support"], "normalisation": {"sim": "(score - 3) / 2"}}


def _grid(out: Path, edit=None, card_edit=None) -> Path:
    """A 3 x 3 grid of dimension 6 written by the package's own writer (checksums computed for
    whatever ``edit`` made of the arrays)."""
    from neuroaffect.prototypes.io import write_grid_files

    arrays, card = _grid_arrays(), _grid_card()
    if edit is not None:
        edit(arrays)
    if card_edit is not None:
        card_edit(card)
    write_grid_files(out, arrays, card)
    return out


def _set(key, value_fn):
    def edit(a):
        a[key] = value_fn(a[key])
    return edit


def _grid_content_cases(base: Path) -> list:
    from neuroaffect.prototypes.io import load_grid

    def both(tag, d, expect="reject"):
        return [(f"grid/{tag} (safetensors)", lambda d=d: load_grid(d), expect),
                (f"grid/{tag} (npz)", lambda d=d: load_grid(d / "grid.npz"), expect)]

    out = both("intact", _grid(base / "intact"), "read")
    filled_one = np.zeros((3, 3), np.uint8)
    filled_one[1, 1] = 1
    edits = {
        "prototypes all NaN": _set("prototypes", lambda p: np.full_like(p, np.nan)),
        "prototypes with an Inf": _set("prototypes", lambda p: np.where(np.arange(p.size).reshape(p.shape) == 4,
                                                                        np.float32(np.inf), p)),
        "prototypes all zero": _set("prototypes", np.zeros_like),
        "prototypes of norm 2": _set("prototypes", lambda p: 2 * p),
        "prototypes as float16": _set("prototypes", lambda p: p.astype(np.float16)),
        "prototypes as float64": _set("prototypes", lambda p: p.astype(np.float64)),
        "prototypes as int32": _set("prototypes", lambda p: np.ones(p.shape, np.int32)),
        "prototypes 2-D": _set("prototypes", lambda p: p.reshape(-1, p.shape[-1])),
        "centres NaN": _set("centres", lambda c: np.full_like(c, np.nan)),
        "centres x 1e6": _set("centres", lambda c: c * 1e6),
        "centres of shape (n, 1)": _set("centres", lambda c: c[:, None]),
        "centres shifted inside [-1, 1]": _set("centres", lambda c: c * 0.5),
        "edges decreasing": _set("edges", lambda e: e[::-1].copy()),
        "edges of another grid": _set("edges", lambda e: np.linspace(-0.5, 0.5, e.size)),
        "counts negative": _set("counts", lambda c: -c),
        "counts as float64": _set("counts", lambda c: c.astype(np.float64)),
        "filled flags of 7": _set("filled", lambda f: np.full_like(f, 7)),
        "filled flag on a bin with members": _set("filled", lambda f: filled_one),
    }
    for tag, edit in edits.items():
        out += both(f"{tag} (checksums recomputed)", _grid(base / tag.replace(" ", "_"), edit))
    out += both("card dim 4096 for 6-d prototypes (checksums recomputed)",
                _grid(base / "card_dim", card_edit=lambda c: c.__setitem__("dim", 4096)))
    out += both("card sources disagreeing with counts (checksums recomputed)",
                _grid(base / "card_sources", card_edit=lambda c: c.__setitem__("sources", ["a", "b", "c"])))
    return out


def _npz_with_member(arrays: dict, name: str, member: bytes) -> bytes:
    """An ``.npz`` of ``arrays`` whose ``name`` member is replaced by ``member`` (deflated)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for k, a in arrays.items():
            if k == name:
                zf.writestr(f"{k}.npy", member)
            else:
                b = io.BytesIO()
                np.lib.format.write_array(b, a, allow_pickle=False)
                zf.writestr(f"{k}.npy", b.getvalue())
    return buf.getvalue()


def _npy_header(shape, dtype="<f4") -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return b.getvalue()


def _grid_bomb_cases(base: Path) -> list:
    from neuroaffect.prototypes.io import card_sha256, load_grid

    good = _grid(base / "bomb_base")
    arrays = _grid_arrays()
    out = []
    # a member declaring 2 GiB of float32 (16384 x 16384 x 2), its data 4 MiB of deflated zeros
    d = _copy_tree(good, base / "npz_bomb_shape", link=("grid.safetensors",))
    member = _npy_header((16384, 16384, 2)) + bytes(4 << 20)
    (d / "grid.npz").unlink()
    (d / "grid.npz").write_bytes(_npz_with_member(arrays, "prototypes", member))
    out.append(("grid/npz member declaring 2 GiB", lambda p=d / "grid.npz": load_grid(p), "reject"))
    # a card that promises the huge grid (its checksum recomputed): the byte bound refuses it
    d = _copy_tree(good, base / "npz_bomb_card", link=("grid.safetensors",))
    card = json.loads((d / "card.json").read_text())
    card.update(dim=65536, grid_size=64)
    card["card_sha256"] = card_sha256(card)
    (d / "card.json").write_text(json.dumps(card))
    (d / "grid.npz").unlink()
    (d / "grid.npz").write_bytes(_npz_with_member(arrays, "prototypes", _npy_header((64, 64, 65536)) + bytes(1 << 20)))
    out.append(("grid/npz member of 1 GiB that the card promises", lambda p=d / "grid.npz": load_grid(p), "reject"))
    # JSON nested 100,000 levels deep: the whole card, a field of it, the safetensors header card
    for tag, text in (("card.json nested 100,000 deep", deep_json()),
                      ("card.json field nested 100,000 deep", '{"schema_version": 2, "x": ' + deep_json() + "}")):
        d = _copy_tree(good, base / tag.replace(" ", "_").replace(",", ""), link=("grid.safetensors", "grid.npz"))
        (d / "card.json").unlink()
        (d / "card.json").write_text(text)
        out += [(f"grid/{tag} (safetensors)", lambda d=d: load_grid(d), "reject"),
                (f"grid/{tag} (npz)", lambda d=d: load_grid(d / "grid.npz"), "reject")]
    from safetensors.numpy import save

    d = _copy_tree(good, base / "header_bomb", link=("grid.npz", "card.json"))
    (d / "grid.safetensors").unlink()
    (d / "grid.safetensors").write_bytes(save({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                                              metadata={"card": deep_json()}))
    out.append(("grid/safetensors header card nested 100,000 deep", lambda d=d: load_grid(d), "reject"))
    return out


# --------------------------------------------------------------------------------------------
# face students and ONNX
# --------------------------------------------------------------------------------------------
TRAINING = {"arm": "B0", "selected_epoch": 3, "inputs": {"shuffle_grid": False}}


def tiny_onnx(path: Path) -> Path:
    """A valid one-node ONNX model (``y = x``), written with the ``onnx`` package."""
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def _student_cases(base: Path) -> list:
    import torch

    from neuroaffect.distill import FERStudent, load_student, save_student
    from neuroaffect.report import student_card
    from neuroaffect.distill.export import config_sha256, load_onnx

    torch.manual_seed(0)
    model = FERStudent(in_size=16, proj_dim=6).eval()
    good = base / "student_good"
    save_student(model, good, card=student_card, grid_sha256=None, training=TRAINING)
    record = {"arm": "B0", "grid_sha256": None, "selected_epoch": 3}
    out = [("student/intact", lambda: load_student(good), "read"),
           ("student/intact with its run record", lambda: load_student(good, record=record), "read")]
    for tag, rec in (("record of arm B3 naming a B0 export", {**record, "arm": "B3"}),
                     ("record of the shuffled control naming a B0 export", {**record, "arm": "B0-shuffled"}),
                     ("record of another grid", {**record, "grid_sha256": "1" * 64}),
                     ("record of another selected epoch", {**record, "selected_epoch": 7})):
        out.append((f"student/{tag}", lambda r=rec: load_student(good, record=r), "reject"))

    nan_model = FERStudent(in_size=16, proj_dim=6).eval()
    with torch.no_grad():
        for p in nan_model.parameters():
            p.fill_(float("nan"))
    d = base / "student_nan"
    save_student(nan_model, d, card=student_card, grid_sha256=None, training=TRAINING)
    out.append(("student/all-NaN weights (checksums recomputed)", lambda d=d: load_student(d), "reject"))

    def config_edit(tag, edit):
        d = _copy_tree(good, base / f"student_{len(out)}", link=("model.safetensors", "README.md"))
        cfg = json.loads((d / "config.json").read_text())
        edit(cfg)
        cfg["config_sha256"] = config_sha256(cfg)
        (d / "config.json").unlink()
        (d / "config.json").write_text(json.dumps(cfg))
        out.append((f"student/{tag} (checksum recomputed)", lambda d=d: load_student(d), "reject"))

    kw = lambda key, v: lambda c: c["kwargs"].__setitem__(key, v)  # noqa: E731
    config_edit("in_size 1,000,000", kw("in_size", 1_000_000))
    config_edit("proj_dim 0", kw("proj_dim", 0))
    config_edit("n_outputs 100000", kw("n_outputs", 100_000))
    config_edit("std 0", kw("std", 0.0))
    config_edit("mean as a string", kw("mean", "0.5"))
    config_edit("unknown argument", kw("depth", 3))
    config_edit("seven class names for eight outputs", lambda c: c.__setitem__("class_names", c["class_names"][:7]))
    config_edit("weights checksum not a sha256", lambda c: c.__setitem__("weights_sha256", None))
    config_edit("an unrecorded model card", lambda c: c.__setitem__("card_sha256", None))

    d = _copy_tree(good, base / "student_card", link=("model.safetensors", "config.json"))
    text = (d / "README.md").read_text().replace("Face-expression student", "Face-expression student (the best)")
    (d / "README.md").unlink()
    (d / "README.md").write_text(text)
    out.append(("student/model card edited", lambda d=d: load_student(d), "reject"))
    d = _copy_tree(good, base / "student_bomb", link=("model.safetensors", "README.md"))
    (d / "config.json").unlink()
    (d / "config.json").write_text(deep_json())
    out.append(("student/config.json nested 100,000 deep", lambda d=d: load_student(d), "reject"))

    # model.onnx: unrecorded, recorded then changed, truncated with its checksum recomputed
    d = _copy_tree(good, base / "student_onnx_unrecorded", link=("model.safetensors", "README.md", "config.json"))
    tiny_onnx(d / "model.onnx")
    out.append(("student/model.onnx the config does not record", lambda d=d: load_student(d), "reject"))

    def with_onnx(tag, blob_fn):
        """A copy of the export with a tiny ONNX file recorded in its config, then ``blob_fn`` applied
        to the file's bytes (None: left as is); the checksums recomputed when ``tag`` says so."""
        d = _copy_tree(good, base / f"student_onnx_{tag.split(' ')[0]}", link=("model.safetensors", "README.md"))
        blob = tiny_onnx(d / "model.onnx").read_bytes()
        cfg = json.loads((d / "config.json").read_text())
        cfg["onnx_sha256"] = hashlib.sha256(blob).hexdigest()
        cfg["config_sha256"] = config_sha256(cfg)
        (d / "config.json").unlink()
        (d / "config.json").write_text(json.dumps(cfg))
        new = blob_fn(blob)
        if new is not None:
            (d / "model.onnx").write_bytes(new)
            if tag.endswith("(checksums recomputed)"):
                cfg["onnx_sha256"] = hashlib.sha256(new).hexdigest()
                cfg["config_sha256"] = config_sha256(cfg)
                (d / "config.json").write_text(json.dumps(cfg))
        return d

    d = with_onnx("recorded", lambda b: None)
    out += [("student/model.onnx recorded (load_student)", lambda d=d: load_student(d), "read"),
            ("onnx/recorded model.onnx (load_onnx)", lambda d=d: load_onnx(d / "model.onnx"), "read")]
    d = with_onnx("changed", lambda b: b[:-1] + bytes([b[-1] ^ 1]))
    out += [("student/model.onnx changed after export", lambda d=d: load_student(d), "reject"),
            ("onnx/model.onnx changed after export", lambda d=d: load_onnx(d / "model.onnx"), "reject")]
    d = with_onnx("truncated (checksums recomputed)", lambda b: b[: len(b) // 2])
    out.append(("onnx/truncated model.onnx (checksums recomputed)", lambda d=d: load_onnx(d / "model.onnx"),
                "reject"))
    loose = base / "loose_onnx"
    loose.mkdir()
    blob = tiny_onnx(loose / "ok.onnx").read_bytes()
    (loose / "truncated.onnx").write_bytes(blob[: len(blob) // 2])
    (loose / "empty.onnx").write_bytes(b"")
    out += [("onnx/intact file without an export", lambda: load_onnx(loose / "ok.onnx"), "read"),
            ("onnx/truncated file without an export", lambda: load_onnx(loose / "truncated.onnx"), "reject"),
            ("onnx/empty file", lambda: load_onnx(loose / "empty.onnx"), "reject")]
    return out


# --------------------------------------------------------------------------------------------
# the EEG teacher
# --------------------------------------------------------------------------------------------
TINY_TEACHER = {"size": 8, "width": 2, "embed_dim": 4, "dropout": 0.1}


def _train_tiny_teacher(path: Path, role: str) -> Path:
    from neuroaffect.training import TrainConfig, build_model, train_model

    rng = np.random.default_rng(0 if role == "teacher" else 1)
    X = rng.standard_normal((24, 2, 8, 8)).astype(np.float32)
    y = rng.uniform(-1, 1, (24, 2)).astype(np.float32)
    model = build_model("topoteacher", n_chans=4, n_bands=2, n_outputs=2, seed=0, model_kwargs=TINY_TEACHER)
    train_model(model, X, y, TrainConfig(epochs=1, batch_size=8, device="cpu"), checkpoint=path,
                inputs={"dataset": "dreamer", "role": role, "shuffle_seed": None if role == "teacher" else 1,
                        "holdout_trials": [[1, 1]], "inputs": {}})
    return path


def make_teacher_dir(out: Path) -> Path:
    """A folder like ``make_teacher``'s: a one-epoch tiny ``teacher.pt`` and ``control.pt`` and a
    ``teacher.json`` (one CV row) naming both."""
    from neuroaffect._utils import sha256_file
    from neuroaffect.prototypes.teacher import write_teacher_summary

    out.mkdir(parents=True, exist_ok=True)
    for role in ("teacher", "control"):
        _train_tiny_teacher(out / f"{role}.pt", role)
    row = {"target": "valence", "level": "window", "row": "teacher", "n_subjects": 2, "rmse_mean": 0.5,
           "rmse_std": 0.1, "pearson_r_mean": 0.3, "pearson_r_std": 0.1, "ccc_mean": 0.2, "ccc_std": 0.05}
    write_teacher_summary(out / "teacher.json", {"dataset": "dreamer", "cv": [row], "holdout_trials": [[1, 1]],
                                                 "checkpoints_sha256": {r: sha256_file(out / f"{r}.pt")
                                                                        for r in ("teacher", "control")}})
    return out


def _teacher_cases(base: Path) -> list:
    import torch

    from neuroaffect.prototypes.teacher import load_teacher, read_teacher_summary, write_teacher_summary
    from neuroaffect.training import load_checkpoint
    from neuroaffect.training.checkpoint import save_checkpoint

    good = make_teacher_dir(base / "teacher_good")
    both = ("teacher", "control")
    out = [("teacher/intact teacher.pt", lambda: load_teacher(good / "teacher.pt", "teacher"), "read"),
           ("teacher/intact control.pt", lambda: load_teacher(good / "control.pt", "control"), "read"),
           ("teacher/intact teacher.json", lambda: read_teacher_summary(good / "teacher.json", checkpoints=both),
            "read"),
           ("teacher/control.pt loaded as the teacher", lambda: load_teacher(good / "control.pt", "teacher"),
            "reject")]

    def resaved(tag, edit):
        state = load_checkpoint(good / "teacher.pt")
        edit(state)
        dst = base / f"teacher_{len(out)}.pt"
        save_checkpoint(dst, state)  # the checksum recomputed
        out.append((f"teacher/{tag} (checksum recomputed)", lambda p=dst: load_teacher(p, "teacher"), "reject"))

    def spec(key, value):
        def edit(state):
            state["specs"][0]["kwargs"][key] = value
        return edit

    def inputs(edit_fn):
        def edit(state):
            d = json.loads(state["inputs"])
            edit_fn(d)
            state["inputs"] = json.dumps(d, sort_keys=True)
        return edit

    def nan_weights(state):
        sd = state["weights"]["state"]
        for k, v in sd.items():
            if v.is_floating_point():
                sd[k] = torch.full_like(v, float("nan"))

    resaved("spec of width 4096", spec("width", 4096))
    resaved("spec of embed_dim 10**9", spec("embed_dim", 10 ** 9))
    resaved("spec of size 12 (not a multiple of 8)", spec("size", 12))
    resaved("spec of another model", lambda s: s["specs"][0].__setitem__("name", "dgcnn"))
    resaved("all-NaN weights", nan_weights)
    resaved("no recorded role", inputs(lambda d: d.pop("role")))
    resaved("role 'control' in teacher.pt", inputs(lambda d: d.__setitem__("role", "control")))
    resaved("provenance nested 100,000 deep", lambda s: s.__setitem__("inputs", deep_json()))

    # teacher.json: CV edited (checksum kept), out of range (recomputed), another teacher.pt beside it
    summary = json.loads((good / "teacher.json").read_text())
    edited = _copy_tree(good, base / "teacher_cv_edited", link=("teacher.pt", "control.pt"))
    s = json.loads(json.dumps(summary))
    s["cv"][0]["pearson_r_mean"] = 0.999
    (edited / "teacher.json").unlink()
    (edited / "teacher.json").write_text(json.dumps(s))
    out.append(("teacher/teacher.json CV edited to 0.999", lambda: read_teacher_summary(edited / "teacher.json"),
                "reject"))
    ranged = _copy_tree(good, base / "teacher_cv_range", link=("teacher.pt", "control.pt"))
    s = json.loads(json.dumps(summary))
    s["cv"][0]["ccc_mean"] = 1.5
    (ranged / "teacher.json").unlink()
    write_teacher_summary(ranged / "teacher.json", s)
    out.append(("teacher/teacher.json CCC 1.5 (checksum recomputed)",
                lambda: read_teacher_summary(ranged / "teacher.json"), "reject"))
    swapped = _copy_tree(good, base / "teacher_swapped", link=("teacher.json", "control.pt"))
    (swapped / "teacher.pt").unlink()
    shutil.copy2(good / "control.pt", swapped / "teacher.pt")
    out.append(("teacher/control.pt copied over teacher.pt (teacher.json)",
                lambda: read_teacher_summary(swapped / "teacher.json", checkpoints=both), "reject"))
    out.append(("teacher/control.pt copied over teacher.pt (checkpoint)",
                lambda: load_teacher(swapped / "teacher.pt", "teacher"), "reject"))
    bomb = base / "teacher_json_bomb"
    bomb.mkdir()
    (bomb / "teacher.json").write_text('{"cv": ' + deep_json() + "}")
    out.append(("teacher/teacher.json nested 100,000 deep", lambda: read_teacher_summary(bomb / "teacher.json"),
                "reject"))
    old = base / "teacher_json_unsummed"
    old.mkdir()
    (old / "teacher.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "summary_sha256"}))
    out.append(("teacher/teacher.json without its checksum", lambda: read_teacher_summary(old / "teacher.json"),
                "reject"))
    return out


def cases(tmp_dir: Path) -> list[Case]:
    """Write the artifacts below ``tmp_dir``; return ``(name, loader, expect)`` for each.

    Parameters
    ----------
    tmp_dir : pathlib.Path
        An empty, writable folder (about 100 MB: two face-student weight files of ~45 MB, hard-linked
        into the copies that leave them unchanged).

    Returns
    -------
    cases : list of (str, callable, str)
        ``loader()`` loads the artifact as the package does; ``expect`` is ``"read"`` (intact) or
        ``"reject"`` (the package's own error naming the file must be raised).
    """
    base = Path(tmp_dir)
    out = []
    for name, make in (("grid", _grid_content_cases), ("bombs", _grid_bomb_cases), ("student", _student_cases),
                       ("teacher", _teacher_cases)):
        d = base / name
        d.mkdir(parents=True, exist_ok=True)
        out += make(d)
    return out
