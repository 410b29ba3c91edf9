"""The model card of an exported face student (``README.md`` of :func:`neuroaffect.distill.save_student`)."""

from __future__ import annotations

from .markdown import table_lines

__all__ = ["FACE_SOURCE_NOTES", "limitations", "student_card"]

#: What the card says of each source.
FACE_SOURCE_NOTES = {
    "simulated": "Trained on SIMULATED faces (the simulator's procedural FERPlus): its figures say that the "
                 "pipeline runs, not how it classifies photographs of real faces; retrain on real data before use.",
    "real": "Trained on the FERPlus files named in the training record.",
    "unknown": "Where its training faces came from was not recorded.",
}



def _cell(v) -> str:
    return "" if v is None else f"{v:.4f}"


def limitations(config: dict) -> list[str]:
    """The card's "Limitations" items for an export config (:func:`neuroaffect.distill.save_student`'s):
    where its training faces came from, what of the model is ours, its scope, and the unvalidated
    valence/arousal read-out (``docs/distillation.md``)."""
    kw = config["kwargs"]
    training = config.get("training") if isinstance(config.get("training"), dict) else {}
    seed = training["train"].get("seed") if isinstance(training.get("train"), dict) else None
    run = "" if training.get("arm") is None else (f" It is the run of arm {training['arm']}"
                                                 + ("" if seed is None else f", seed {seed}") + ".")
    out = [FACE_SOURCE_NOTES[config.get("trained_on_faces", "unknown")],
           f"Ours, not the published model: {kw['arch']} trained from scratch (no pretrained weights) on "
           f"{kw['in_size']} x {kw['in_size']} grey faces; the published method's student is evaluated at 224 px "
           "with pretraining we could not verify, so these figures are not comparable with the published ones." + run,
           "Eight FERPlus expression classes, one roughly frontal face per input; the classes are labelled "
           "expressions, not felt emotions, and nothing here has been measured on faces unlike its training "
           "set's (age, pose, lighting, population). Not for decisions about people."]
    if config.get("grid_sha256") is not None:
        out.append("The valence/arousal read-out (the embedding's soft assignment to the grid's bins, "
                   "`predict-faces --grid`) is unvalidated: it has not been compared with rated faces, and until the "
                   "transfer experiment (docs/distillation.md) shows that the grid carries valence/arousal into the "
                   "student it is not a measurement of affect.")
    return out


def student_card(config: dict, datasets, rows) -> str:
    """The model card (``README.md``) of a student export: YAML front matter, input, outputs, evaluation,
    limitations and licence.

    Parameters
    ----------
    config : dict
        The export's ``config.json`` content (:func:`neuroaffect.distill.save_student` builds it).
    datasets : list of str
    rows : list of (str, dict)
        ``(set name, {metric: value})`` of the evaluation table.
    """
    import yaml

    from ..distill.export import LICENCE_NOTE

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
        lines += ["## Evaluation", ""]
        lines += table_lines([{"set": name, **{k: m.get(k) for k in names}} for name, m in rows],
                             ["set", *names], formats={k: _cell for k in names})
        lines.append("")
    lines += ["## Limitations", ""] + [f"- {x}" for x in limitations(config)] + [""]
    lines += ["## Licence", "", LICENCE_NOTE, ""]
    return "\n".join(lines)
