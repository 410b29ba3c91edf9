"""Deploying the student: a safetensors export with its config and model card, and ONNX.

Layout of an export folder (:func:`save_student`):

=======================  ====================================================================
file                     content
=======================  ====================================================================
``model.safetensors``    the student's ``state_dict``
``config.json``          format, architecture and constructor arguments, input (shape, range,
                         grey conversion, the mean/std the model applies), class names, the
                         sha256 of the prototype grid's ``prototypes`` array it was trained
                         against, the sha256 of ``model.safetensors``, metrics, datasets, and
                         ``config_sha256`` (:func:`config_sha256`: the checksum of all the rest)
``README.md``            model card (written by :func:`neuroaffect.report.student_card`): YAML
                         front matter (library, licence, datasets, metrics), intended input,
                         evaluation table, limitations (simulated training faces, what is
                         ours, the unvalidated valence/arousal read-out), licence note (its
                         sha256 is the config's ``card_sha256``)
``model.onnx``           optional (:func:`export_onnx`; its sha256 is the config's ``onnx_sha256``)
=======================  ====================================================================

Each file is written atomically; ``config.json`` is written last and names the weights' sha256,
so :func:`load_student` refuses weights that do not belong to it, and a config whose content
differs from its own ``config_sha256`` (a changed class name, normalisation or grid checksum).

ONNX (:func:`export_onnx`): one self-contained file, input ``pixels`` float32 ``(batch, 1, H, W)``
in [0, 1] (batch dynamic), outputs ``logits`` ``(batch, 8)`` and ``embedding`` ``(batch, D)``,
without the exporter's node metadata (so no build machine's paths, and the same bytes from the same
weights); ``model.onnx`` in an export folder is recorded in ``config.json`` (``onnx_sha256``).
Needs the ``onnx`` and ``onnxscript`` packages (and ``onnxruntime`` for :func:`load_onnx` and
:func:`check_onnx`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._utils import ArtifactIntegrityError, DatasetFormatError, atomic_path, atomic_write_bytes, atomic_write_text, \
    code_version, load_json_bounded, sha256_file
from .student import ARCHS, FERStudent, build_student

__all__ = ["EXPORT_FORMAT", "LICENCE_NOTE", "check_onnx", "check_student_config", "config_sha256", "export_onnx",
           "load_onnx", "load_student", "save_student"]

#: Version of the export layout (2: the config's own checksum; 3: the model card's and the ONNX
#: file's checksums in the config).
EXPORT_FORMAT = "neuroaffect-fer-student/3"
#: Bounds of the constructor arguments a config may record (checked before anything is built).
KWARG_LIMITS = {"n_outputs": (1, 64), "proj_dim": (1, 8192), "in_size": (8, 1024)}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
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


#: Scalar fields of an evaluation row that are no metrics (its size and the run's seed): left out of the
#: card's metrics and its evaluation table.
NOT_METRICS = frozenset({"n", "seed"})


def _metric_rows(metrics: dict | None) -> list:
    """``{set: {metric: value}}`` -> rows of scalar metrics (confusion matrices, lists and
    :data:`NOT_METRICS` dropped)."""
    rows = []
    for name, m in (metrics or {}).items():
        if not isinstance(m, dict):
            raise ValueError(f"Invalid value for the 'metrics' parameter: expected {{set name: {{metric: value}}}}, "
                             f"but got {type(m).__name__} for {name!r} instead.")
        rows.append((str(name), {k: float(v) for k, v in m.items()
                                 if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)
                                 and k not in NOT_METRICS}))
    return rows


#: Where a student's training faces came from (``config.json`` ``trained_on_faces``).
FACE_SOURCES = ("simulated", "real", "unknown")
def save_student(model, out, *, card, grid_sha256: str | None, metrics: dict | None = None,
                 datasets=("ferplus",), training: dict | None = None, faces: str = "unknown") -> dict:
    """Write a student's export folder (``model.safetensors``, ``config.json``, ``README.md``).

    Parameters
    ----------
    model : FERStudent
    out : path-like
        Folder (created if needed; existing export files are replaced).
    card : callable
        ``card(config, datasets, rows) -> str``: the model card's Markdown from the export config,
        the datasets and the metric rows ``[(set name, {metric: value})]``
        (:func:`neuroaffect.report.student_card`; :func:`neuroaffect.pipeline.export_student` passes it).
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
    faces : {"simulated", "real", "unknown"}
        Where the training faces came from (``simulated``: the simulator's, a ``simulation.json``
        beside the FERPlus root); recorded as ``trained_on_faces``, stated in the card, and warned
        about by ``predict-faces``.

    Returns
    -------
    paths : dict
        ``{"weights", "config", "card"}`` -> paths written.
    """
    from safetensors.torch import save

    if faces not in FACE_SOURCES:
        raise ValueError(f"Invalid value for the 'faces' parameter. Allowed values are {list(FACE_SOURCES)}, but got "
                         f"{faces!r} instead.")
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
        "trained_on_faces": faces,
        "code_version": code_version(),
        "licence": LICENCE_NOTE,
    }
    config = json.loads(json.dumps(config, default=str))  # what a reader parses
    card = card(config, list(datasets), rows)
    if not isinstance(card, str):
        raise TypeError(f"Invalid value for the 'card' parameter: expected a callable returning the card's Markdown, "
                        f"but it returned {type(card).__name__} instead.")
    config["card_sha256"] = hashlib.sha256(card.encode("utf-8")).hexdigest()
    config["onnx_sha256"] = None  # export_onnx records its file here
    paths = {"weights": out / "model.safetensors", "config": out / "config.json", "card": out / "README.md"}
    (out / "model.onnx").unlink(missing_ok=True)  # an earlier export's ONNX belongs to other weights
    atomic_write_bytes(paths["weights"], blob)
    atomic_write_text(paths["card"], card)
    _write_config(paths["config"], config)
    return paths


def _write_config(path: Path, config: dict) -> None:
    config = {k: v for k, v in config.items() if k != "config_sha256"}
    config["config_sha256"] = config_sha256(config)
    atomic_write_text(path, json.dumps(config, indent=2, sort_keys=True) + "\n")


def _is_sha256(v) -> bool:
    return isinstance(v, str) and bool(_SHA256.match(v))


def check_student_config(cfg_path, config: dict) -> dict:
    """Refuse a student export config whose fields break what :func:`export_student` writes.

    Checked before anything is built: the constructor arguments (names, types, and
    :data:`KWARG_LIMITS`; a finite ``mean`` in [-10, 10], ``std`` in (0, 10]), the class names (one
    string per output), and every checksum field (64 hex digits; ``grid_sha256`` and
    ``onnx_sha256`` may be null). Returns the constructor arguments.

    Raises
    ------
    DatasetFormatError
        Naming the file and the field.
    """
    kw = config.get("kwargs")
    if not isinstance(kw, dict) or set(kw) != {"n_outputs", "arch", "proj_dim", "in_size", "small_input", "mean",
                                               "std"}:
        raise DatasetFormatError(cfg_path, "field 'kwargs': the FERStudent arguments", f"{str(kw)[:160]!r}")
    for name, (lo, hi) in KWARG_LIMITS.items():
        v = kw[name]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise DatasetFormatError(cfg_path, f"field 'kwargs.{name}': an integer in [{lo}, {hi}]", repr(v)[:80])
    for name, lo, hi in (("mean", -10.0, 10.0), ("std", 0.0, 10.0)):
        v = kw[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or not lo <= v <= hi \
                or (name == "std" and v <= 0):
            raise DatasetFormatError(cfg_path, f"field 'kwargs.{name}': a finite number in "
                                     f"{'(' if name == 'std' else '['}{lo:g}, {hi:g}]", repr(v)[:80])
    if kw["arch"] not in ARCHS or not isinstance(kw["small_input"], bool):
        raise DatasetFormatError(cfg_path, f"fields 'kwargs.arch' in {sorted(ARCHS)} and 'kwargs.small_input' a bool",
                                 f"{kw['arch']!r}, {kw['small_input']!r}")
    if config.get("trained_on_faces", "unknown") not in FACE_SOURCES:
        raise DatasetFormatError(cfg_path, f"field 'trained_on_faces': one of {list(FACE_SOURCES)}",
                                 repr(config.get("trained_on_faces"))[:80])
    names = config.get("class_names")
    if not isinstance(names, list) or len(names) != kw["n_outputs"] or not all(isinstance(n, str) for n in names):
        raise DatasetFormatError(cfg_path, f"field 'class_names': {kw['n_outputs']} names", f"{str(names)[:120]!r}")
    for key, nullable in (("weights_sha256", False), ("card_sha256", False), ("grid_sha256", True),
                          ("onnx_sha256", True)):
        v = config.get(key)
        if not (_is_sha256(v) or (nullable and v is None)):
            raise DatasetFormatError(cfg_path, f"field {key!r}: a sha256 (64 hex digits)"
                                     + (" or null" if nullable else ""), repr(v)[:80])
    return kw


def _check_record(cfg_path: Path, config: dict, record: dict) -> None:
    """Refuse an export that is not the run a ``record.json`` describes (arm, grid, selected epoch)."""
    training = config.get("training") if isinstance(config.get("training"), dict) else {}
    inputs = training.get("inputs") if isinstance(training.get("inputs"), dict) else {}
    arm = training.get("arm")
    if inputs.get("shuffle_grid"):
        arm = f"{arm}-shuffled"
    checks = (("arm", record.get("arm"), arm), ("grid_sha256", record.get("grid_sha256"), config.get("grid_sha256")),
              ("selected_epoch", record.get("selected_epoch"), training.get("selected_epoch")))
    for field, claimed, found in checks:
        if claimed != found:
            raise DatasetFormatError(cfg_path, f"the student of the run record's {field} {claimed!r}",
                                     f"an export trained with {field} {found!r} (the record names another run's "
                                     "student)")


def load_student(path, map_location="cpu", *, record: dict | None = None) -> FERStudent:
    """Rebuild an exported student, verified against its config.

    Parameters
    ----------
    path : path-like
        The export folder or its ``config.json``.
    map_location : str | torch.device
    record : dict | None
        A run's ``record.json`` (:func:`neuroaffect.pipeline.train_arm`) that names this
        export: its arm (``-shuffled`` for the shuffled-grid control), grid checksum and selected
        epoch must be those the export was trained with.

    Returns
    -------
    model : FERStudent
        In eval mode; ``model.grid_sha256`` and ``model.export_config`` carry the config.

    Raises
    ------
    DatasetFormatError
        Missing files, a config that is not JSON, oversized or nested deeper than 64 levels, an
        unknown format (e.g. an export of an earlier version), fields out of their bounds
        (:func:`check_student_config`), weights that do not fit the recorded architecture or are not
        finite, or an export other than the run ``record`` describes (all name the file).
    ArtifactIntegrityError
        A config whose content differs from its ``config_sha256``, or weights, model card
        (``README.md``) or ``model.onnx`` whose sha256 differs from the config's (a ``model.onnx``
        the config does not record included).
    """
    from safetensors.torch import load

    path = Path(path)
    cfg_path = path / "config.json" if path.is_dir() else path
    if not cfg_path.is_file():
        raise DatasetFormatError(cfg_path, "the config.json of an exported student", "no such file")
    config = load_json_bounded(cfg_path, "a JSON config", max_bytes=16 << 20)
    if not isinstance(config, dict) or config.get("format") != EXPORT_FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise DatasetFormatError(cfg_path, f"an export of format {EXPORT_FORMAT!r}",
                                 f"{found!r}" + (": export the student again" if isinstance(found, str) else ""))
    expected = config.get("config_sha256")
    found = config_sha256(config)
    if expected != found:
        raise ArtifactIntegrityError(cfg_path, expected, found, "the config was changed after export")
    kw = check_student_config(cfg_path, config)
    if record is not None:
        _check_record(cfg_path, config, record)
    _check_file(cfg_path, "README.md", config["card_sha256"], "the model card")
    onnx_path = cfg_path.parent / "model.onnx"
    if config["onnx_sha256"] is not None or onnx_path.exists():
        _check_file(cfg_path, "model.onnx", config["onnx_sha256"], "the ONNX export")
    wpath = cfg_path.parent / "model.safetensors"
    if not wpath.is_file():
        raise DatasetFormatError(wpath, "the student's weights", "no such file")
    blob = wpath.read_bytes()
    found = hashlib.sha256(blob).hexdigest()
    if found != config.get("weights_sha256"):
        raise ArtifactIntegrityError(wpath, config.get("weights_sha256"), found,
                                     f"the weights differ from those {cfg_path.name} records: changed after export")
    try:
        state = load(blob)
        model = build_student(kw)
        model.load_state_dict(state)
    except Exception as err:  # torch and safetensors report misfits with their own types
        raise DatasetFormatError(wpath, f"weights matching {config.get('kwargs')}",
                                 f"weights that do not load ({type(err).__name__}: {err})") from None
    for k, v in state.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise DatasetFormatError(wpath, f"finite values in weight {k!r}",
                                     f"{int((~torch.isfinite(v)).sum())} NaN/Inf values")
    model.grid_sha256 = config.get("grid_sha256")
    model.export_config = config
    return model.to(map_location).eval()


def _check_file(cfg_path: Path, name: str, expected: str | None, what: str) -> None:
    """Refuse a file of the export whose sha256 is not the one ``config.json`` records for it."""
    f = cfg_path.parent / name
    if expected is None:
        raise ArtifactIntegrityError(f, "none recorded", "a file", f"{cfg_path.name} records no checksum for {name}: a "
                                     "file left by another export, or written after the config; export again")
    if not f.is_file():
        raise DatasetFormatError(f, f"{what} that {cfg_path.name} records", "no such file")
    found = sha256_file(f)
    if found != expected:
        raise ArtifactIntegrityError(f, expected, found, f"{what} differs from the one {cfg_path.name} records")


class _OnnxStudent(nn.Module):
    """The student with a tuple output (``logits``, ``embedding``), for export."""

    def __init__(self, student):
        super().__init__()
        self.student = student

    def forward(self, pixels):
        out = self.student.forward_outputs(pixels)
        return out["logits"], out["embedding"]


def _strip_onnx_metadata(proto) -> None:
    """Remove the exporter's doc strings and metadata (stack traces naming the build machine's source
    files) from every node, graph and function of an ONNX model, in place."""
    import onnx

    def graph(g):
        g.doc_string = ""
        del g.metadata_props[:]
        for vi in (*g.input, *g.output, *g.value_info):
            vi.doc_string = ""
            del vi.metadata_props[:]
        for node in g.node:
            node_(node)

    def node_(node):
        node.doc_string = ""
        del node.metadata_props[:]
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                graph(a.g)
            for g in a.graphs:
                graph(g)

    proto.doc_string = ""
    graph(proto.graph)
    for f in proto.functions:
        f.doc_string = ""
        del f.metadata_props[:]
        for node in f.node:
            node_(node)


def export_onnx(model, path, in_size: int | None = None, *, opset: int | None = None) -> Path:
    """Export the student to one ONNX file (``torch.onnx.export``, dynamic batch).

    The exporter's per-node metadata and doc strings (which name the source files of the machine
    that exported) are removed, so the same weights give the same bytes anywhere. When ``path`` is
    ``model.onnx`` in an :func:`export_student` folder of the same weights, its sha256 is recorded
    in that ``config.json`` (``onnx_sha256``), which :func:`load_student` and :func:`load_onnx` check.

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
    import onnx
    from safetensors.torch import save

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
            proto = onnx.load(str(tmp))
            _strip_onnx_metadata(proto)
            tmp.write_bytes(proto.SerializeToString(deterministic=True))
    finally:
        model.train(was)
    cfg_path = path.parent / "config.json"
    if path.name == "model.onnx" and cfg_path.is_file():
        config = load_json_bounded(cfg_path, "a JSON config", max_bytes=16 << 20)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        if isinstance(config, dict) and config.get("format") == EXPORT_FORMAT \
                and config.get("config_sha256") == config_sha256(config) \
                and config.get("weights_sha256") == hashlib.sha256(save(state, metadata={"format": EXPORT_FORMAT})
                                                                   ).hexdigest():
            _write_config(cfg_path, {**config, "onnx_sha256": sha256_file(path)})
    return path


def load_onnx(path, providers=("CPUExecutionProvider",)):
    """An onnxruntime session of an :func:`export_onnx` file, checked first.

    The file's sha256 must be the ``onnx_sha256`` of the ``config.json`` beside it (when there is
    one); a truncated or otherwise unreadable file is refused with our error, not onnxruntime's.

    Returns
    -------
    session : onnxruntime.InferenceSession

    Raises
    ------
    DatasetFormatError
        A missing or unreadable file; :class:`~neuroaffect._utils.ArtifactIntegrityError` for a
        file other than the one its export's config records.
    """
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(path, "an ONNX file of an exported student", "no such file")
    cfg_path = path.parent / "config.json"
    if cfg_path.is_file():
        config = load_json_bounded(cfg_path, "a JSON config", max_bytes=16 << 20)
        if isinstance(config, dict) and config.get("format") == EXPORT_FORMAT:
            _check_file(cfg_path, path.name, config.get("onnx_sha256"), "the ONNX export")
    try:
        return ort.InferenceSession(str(path), providers=list(providers))
    except Exception as err:  # onnxruntime's InvalidProtobuf, Fail, ... for truncated or foreign files
        raise DatasetFormatError(path, "an ONNX model onnxruntime can load",
                                 f"an unreadable file ({type(err).__name__}: {str(err)[:200]})") from None


def check_onnx(path, model, x=None) -> float:
    """Largest absolute difference between the ONNX file's logits and the model's, printed and returned.

    Parameters
    ----------
    path : path-like
        An :func:`export_onnx` file (opened with :func:`load_onnx`).
    model : FERStudent
    x : Tensor | ndarray, shape (B, 1, H, W) | None
        Pixels in [0, 1] (default: 4 random images at ``model.in_size``).

    Returns
    -------
    max_abs_diff : float
    """
    model = _check_model(model)
    if x is None:
        x = torch.rand(4, 1, model.in_size, model.in_size, generator=torch.Generator().manual_seed(0))
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    sess = load_onnx(path)
    onnx_logits = sess.run(["logits"], {"pixels": x.numpy()})[0]
    was = model.training
    model.eval()
    with torch.no_grad():
        ref = model.cpu()(x).numpy()
    model.train(was)
    diff = float(np.abs(onnx_logits - ref).max())
    print(f"ONNX vs torch logits: max abs difference {diff:.3g} over {x.shape[0]} image(s)")
    return diff
