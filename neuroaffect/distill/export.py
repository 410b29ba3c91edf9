"""Deploying the student: a safetensors export with its config and model card, and ONNX.

Layout of an export folder (:func:`export_student`):

=======================  ====================================================================
file                     content
=======================  ====================================================================
``model.safetensors``    the student's ``state_dict``
``config.json``          format, architecture and constructor arguments, input (shape, range,
                         grey conversion, the mean/std the model applies), class names, the
                         sha256 of the prototype grid's ``prototypes`` array it was trained
                         against, the sha256 of ``model.safetensors``, metrics, datasets, and
                         ``config_sha256`` (:func:`config_sha256`: the checksum of all the rest)
``README.md``            model card: YAML front matter (library, licence, datasets, metrics),
                         intended input, evaluation table, licence note
=======================  ====================================================================

Each file is written atomically; ``config.json`` is written last and names the weights' sha256,
so :func:`load_student` refuses weights that do not belong to it, and a config whose content
differs from its own ``config_sha256`` (a changed class name, normalisation or grid checksum).

ONNX (:func:`export_onnx`): one self-contained file, input ``pixels`` float32 ``(batch, 1, H, W)``
in [0, 1] (batch dynamic), outputs ``logits`` ``(batch, 8)`` and ``embedding`` ``(batch, D)``.
Needs the ``onnx`` and ``onnxscript`` packages (and ``onnxruntime`` for :func:`check_onnx`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._utils import ArtifactIntegrityError, DatasetFormatError, atomic_path, atomic_write_bytes, atomic_write_text, \
    code_version
from .student import FERStudent, build_student

__all__ = ["EXPORT_FORMAT", "LICENCE_NOTE", "check_onnx", "config_sha256", "export_onnx", "export_student",
           "load_student"]

#: Version of the export layout (2: the config's own checksum).
EXPORT_FORMAT = "neuroaffect-fer-student/2"
LICENCE_NOTE = (
    "The student is trained on FERPlus (the FER2013 images with the FER+ crowd labels); its use is bound by the "
    "terms of those datasets. Its Proto-KD target derives from an EEG prototype grid built from licensed EEG "
    "datasets (e.g. DREAMER, MAHNOB-HCI) when built from real data, whose licences and end-user agreements also "
    "apply; a grid built from the simulator's data carries no such restriction."
)


def config_sha256(config: dict) -> str:
    """sha256 of an export config's canonical JSON (sorted keys, compact), ``config_sha256`` left out."""
    body = {k: v for k, v in config.items() if k != "config_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _check_model(model) -> FERStudent:
    if not isinstance(model, FERStudent):
        raise TypeError(f"Invalid value for the 'model' parameter: expected an FERStudent, but got "
                        f"{type(model).__name__} instead.")
    return model


def _metric_rows(metrics: dict | None) -> list:
    """``{set: {metric: value}}`` -> rows of scalar metrics (confusion matrices and lists dropped)."""
    rows = []
    for name, m in (metrics or {}).items():
        if not isinstance(m, dict):
            raise ValueError(f"Invalid value for the 'metrics' parameter: expected {{set name: {{metric: value}}}}, "
                             f"but got {type(m).__name__} for {name!r} instead.")
        rows.append((str(name), {k: float(v) for k, v in m.items()
                                 if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)
                                 and k != "n"}))
    return rows


def _card(config: dict, datasets, rows) -> str:
    import yaml

    front = {
        "library_name": "neuroaffect",
        "license": "other",
        "license_name": "dataset-derived",
        "tags": ["facial-expression-recognition", "knowledge-distillation", "eeg", "image-classification"],
        "pipeline_tag": "image-classification",
        "datasets": list(datasets),
        "metrics": sorted({k for _, m in rows for k in m}),
        "model-index": [{
            "name": f"fer-student-{config['kwargs']['arch']}",
            "results": [{"task": {"type": "image-classification"}, "dataset": {"name": name, "type": name},
                         "metrics": [{"type": k, "value": round(v, 6)} for k, v in m.items()]} for name, m in rows],
        }],
    }
    kw = config["kwargs"]
    lines = ["---", yaml.safe_dump(front, sort_keys=False).rstrip(), "---", "",
             f"# Face-expression student ({kw['arch']}, trained from scratch)", "",
             "An image-only facial-expression classifier (8 FERPlus classes: " + ", ".join(config["class_names"])
             + ") distilled from the crowd votes and a frozen EEG valence/arousal prototype grid "
               "(method: `docs/distillation.md` of the neuroaffect repository).", "",
             "## Input", "",
             f"Pre-cropped faces, grey, {kw['in_size']} x {kw['in_size']} pixels, float32 in [0, 1], shape "
             f"(batch, 1, H, W). Colour faces are converted to grey (BT.601 luma) before use; the model itself "
             f"normalises `(x - {kw['mean']}) / {kw['std']}` and repeats the grey channel to three.", "",
             "## Outputs", "",
             f"`logits` (batch, {kw['n_outputs']}) and a unit-norm `embedding` (batch, {kw['proj_dim']}) compared by "
             f"cosine with the prototypes of the grid whose `prototypes` array has sha256 `{config['grid_sha256']}`.",
             ""]
    if rows:
        names = sorted({k for _, m in rows for k in m})
        lines += ["## Evaluation", "", "| set | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        lines += ["| " + name + " | " + " | ".join("" if k not in m else f"{m[k]:.4f}" for k in names) + " |"
                  for name, m in rows]
        lines.append("")
    lines += ["## Licence", "", LICENCE_NOTE, ""]
    return "\n".join(lines)


def export_student(model, out, *, grid_sha256: str | None, metrics: dict | None = None,
                   datasets=("ferplus",), training: dict | None = None) -> dict:
    """Write a student's export folder (``model.safetensors``, ``config.json``, ``README.md``).

    Parameters
    ----------
    model : FERStudent
    out : path-like
        Folder (created if needed; existing export files are replaced).
    grid_sha256 : str | None
        sha256 of the prototype grid it was trained against (``PrototypeGrid.sha256``; ``None`` for
        arms without a grid).
    metrics : dict | None
        ``{set name: metrics dict}`` (e.g. from :func:`~neuroaffect.distill.evaluate_student`);
        scalar entries go into the config and the card.
    datasets : sequence of str
        Datasets the student was trained or evaluated on (the card's ``datasets``).
    training : dict | None
        JSON-able training record (e.g. ``StudentResult.record``).

    Returns
    -------
    paths : dict
        ``{"weights", "config", "card"}`` -> paths written.
    """
    from safetensors.torch import save

    model = _check_model(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    blob = save(state, metadata={"format": EXPORT_FORMAT})
    rows = _metric_rows(metrics)
    kw = dict(model.config)
    config = {
        "format": EXPORT_FORMAT,
        "architecture": type(model).__name__,
        "kwargs": kw,
        "input": {"name": "pixels", "shape": [None, 1, kw["in_size"], kw["in_size"]], "dtype": "float32",
                  "range": [0.0, 1.0], "colour": "grey; colour input reduced with BT.601 luma (0.299, 0.587, 0.114)",
                  "normalisation": {"mean": kw["mean"], "std": kw["std"], "applied": "inside the model"},
                  "faces": "pre-cropped; shorter side resized to in_size and the centre square kept"},
        "outputs": {"logits": kw["n_outputs"], "embedding": kw["proj_dim"]},
        "class_names": list(model.class_names),
        "grid_sha256": grid_sha256,
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
        "metrics": {name: m for name, m in rows},
        "datasets": list(datasets),
        "training": training,
        "code_version": code_version(),
        "licence": LICENCE_NOTE,
    }
    config = json.loads(json.dumps(config, default=str))  # what a reader parses
    config["config_sha256"] = config_sha256(config)
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    paths = {"weights": out / "model.safetensors", "config": out / "config.json", "card": out / "README.md"}
    atomic_write_bytes(paths["weights"], blob)
    atomic_write_text(paths["card"], _card(config, datasets, rows))
    atomic_write_text(paths["config"], text)
    return paths


def load_student(path, map_location="cpu") -> FERStudent:
    """Rebuild an exported student, verified against its config.

    Parameters
    ----------
    path : path-like
        The export folder or its ``config.json``.
    map_location : str | torch.device

    Returns
    -------
    model : FERStudent
        In eval mode; ``model.grid_sha256`` and ``model.export_config`` carry the config.

    Raises
    ------
    DatasetFormatError
        Missing files, an unknown format (e.g. an export of an earlier version), or weights that do
        not fit the recorded architecture (all name the file).
    ArtifactIntegrityError
        A config whose content differs from its ``config_sha256``, or weights whose sha256
        differs from the config's ``weights_sha256``.
    """
    from safetensors.torch import load

    path = Path(path)
    cfg_path = path / "config.json" if path.is_dir() else path
    if not cfg_path.is_file():
        raise DatasetFormatError(cfg_path, "the config.json of an exported student", "no such file")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetFormatError(cfg_path, "a JSON config", f"unreadable text ({err})") from None
    if not isinstance(config, dict) or config.get("format") != EXPORT_FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise DatasetFormatError(cfg_path, f"an export of format {EXPORT_FORMAT!r}",
                                 f"{found!r}" + (": export the student again" if isinstance(found, str) else ""))
    expected = config.get("config_sha256")
    found = config_sha256(config)
    if expected != found:
        raise ArtifactIntegrityError(cfg_path, expected, found, "the config was changed after export")
    wpath = cfg_path.parent / "model.safetensors"
    if not wpath.is_file():
        raise DatasetFormatError(wpath, "the student's weights", "no such file")
    blob = wpath.read_bytes()
    found = hashlib.sha256(blob).hexdigest()
    if found != config.get("weights_sha256"):
        raise ArtifactIntegrityError(wpath, config.get("weights_sha256"), found,
                                     f"the weights differ from those {cfg_path.name} records: changed after export")
    try:
        model = build_student(config["kwargs"])
        model.load_state_dict(load(blob))
    except Exception as err:  # torch and safetensors report misfits with their own types
        raise DatasetFormatError(wpath, f"weights matching {config.get('kwargs')}",
                                 f"weights that do not load ({type(err).__name__}: {err})") from None
    model.grid_sha256 = config.get("grid_sha256")
    model.export_config = config
    return model.to(map_location).eval()


class _OnnxStudent(nn.Module):
    """The student with a tuple output (``logits``, ``embedding``), for export."""

    def __init__(self, student):
        super().__init__()
        self.student = student

    def forward(self, pixels):
        out = self.student(pixels)
        return out["logits"], out["embedding"]


def export_onnx(model, path, in_size: int | None = None, *, opset: int | None = None) -> Path:
    """Export the student to one ONNX file (``torch.onnx.export``, dynamic batch).

    Parameters
    ----------
    model : FERStudent
    path : path-like
        Output ``.onnx`` file (written atomically; weights inside the file).
    in_size : int | None
        Side of the example input (default ``model.in_size``); height and width are fixed to it.
    opset : int | None
        ONNX opset (default: the exporter's).

    Returns
    -------
    path : pathlib.Path
    """
    model = _check_model(model)
    in_size = model.in_size if in_size is None else int(in_size)
    was = model.training
    wrapper = _OnnxStudent(model.cpu()).eval()
    x = torch.rand(2, 1, in_size, in_size)
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            prog = torch.onnx.export(wrapper, (x,), None, input_names=["pixels"], output_names=["logits", "embedding"],
                                     dynamic_shapes={"pixels": {0: torch.export.Dim("batch")}}, dynamo=True,
                                     opset_version=opset, verbose=False)
            prog.save(str(tmp), external_data=False)
    finally:
        model.train(was)
    return path


def check_onnx(path, model, x=None) -> float:
    """Largest absolute difference between the ONNX file's logits and the model's, printed and returned.

    Parameters
    ----------
    path : path-like
        An :func:`export_onnx` file.
    model : FERStudent
    x : Tensor | ndarray, shape (B, 1, H, W) | None
        Pixels in [0, 1] (default: 4 random images at ``model.in_size``).

    Returns
    -------
    max_abs_diff : float
    """
    import onnxruntime as ort

    model = _check_model(model)
    if x is None:
        x = torch.rand(4, 1, model.in_size, model.in_size, generator=torch.Generator().manual_seed(0))
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_logits = sess.run(["logits"], {"pixels": x.numpy()})[0]
    was = model.training
    model.eval()
    with torch.no_grad():
        ref = model.cpu()(x)["logits"].numpy()
    model.train(was)
    diff = float(np.abs(onnx_logits - ref).max())
    print(f"ONNX vs torch logits: max abs difference {diff:.3g} over {x.shape[0]} image(s)")
    return diff
