"""Cross-field checks of the workflow configuration that a JSON schema cannot express.

:func:`check_config` runs when the workflow loads its config, before any job starts; every
problem is reported with the key that holds it. :func:`check_face_root` checks a real face
dataset's root by file names alone (the EEG roots are checked by listing their subjects).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ConfigError", "check_config", "check_face_root"]


class ConfigError(ValueError):
    """A workflow configuration that cannot run as written; the message names the key."""


def _sweep_key(i: int, s: dict) -> str:
    return (f"training.sweeps[{i}] ({s.get('dataset')}/{s.get('target')}_{s.get('task')}_{s.get('model')}_"
            f"{s.get('protocol')})")


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` for contradictions the schema lets through.

    - a sweep listed twice (same dataset, target, task, model, protocol);
    - a target or task that the dataset does not define (``neuroaffect.labels``);
    - a model that is not registered, or whose input kind the workflow cannot feed;
    - ``seed-9-6`` on a dataset other than SEED (it splits SEED's 15 clips 9 / 6);
    - ``loso`` (needs several subjects) is left to the library, which names the sweep.
    """
    from ..labels import check_target, n_label_classes
    from ..models import list_models, model_entrypoint

    problems = []
    seen = {}
    for i, s in enumerate(config.get("training", {}).get("sweeps", []) or []):
        key = _sweep_key(i, s)
        ident = tuple(s.get(k) for k in ("dataset", "target", "task", "model", "protocol"))
        if ident in seen:
            problems.append(f"{key}: the same sweep as training.sweeps[{seen[ident]}]; expected each (dataset, "
                            "target, task, model, protocol) once (merge their settings into one entry)")
            continue
        seen[ident] = i
        try:
            check_target(s["dataset"], s["target"])
            n_label_classes(s["dataset"], s["task"])
        except ValueError as err:
            problems.append(f"{key}: {err}")
        if s["model"] not in list_models():
            problems.append(f"{key}: model {s['model']!r} is not registered; expected one of {list_models()}")
        elif getattr(model_entrypoint(s["model"]), "input_kind", "tokens") == "maps":
            problems.append(f"{key}: model {s['model']!r} reads scalp maps; the prototype stage trains it "
                            "(prototypes: in the config), not a sweep")
        if s["protocol"] == "seed-9-6" and s["dataset"] != "seed":
            problems.append(f"{key}: protocol 'seed-9-6' splits SEED's 15 clips per session 9 / 6; expected dataset "
                            f"'seed', but got {s['dataset']!r} (use trial-holdout)")
    proto = config.get("prototypes") or {}
    if proto and proto.get("dataset") == proto.get("second_source"):
        problems.append("prototypes.second_source: expected a dataset other than prototypes.dataset, but both are "
                        f"{proto.get('dataset')!r}")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def check_face_root(dataset: str, root) -> None:
    """Raise ``FileNotFoundError`` unless ``root`` holds what ``dataset``'s reader opens first.

    Cheap (file and folder names only, nothing is read), so that the workflow can say before any job
    starts which face dataset it cannot find and where it looked; the readers check the rest
    (``docs/formats.md``, "Face datasets").

    Parameters
    ----------
    dataset : {'ferplus', 'affectnet-mini', 'affectnet', 'ckplus'}
    root : path-like
        What the dataset's reader takes.

    Raises
    ------
    FileNotFoundError
        Naming the path looked at, what the reader expects there and what was found.
    """
    from ..io.faces import affectnet, ckplus, ferplus

    root = Path(root)
    if dataset == "ferplus":
        pix = [root / ferplus.FER2013_NAME, root / "fer2013" / ferplus.FER2013_NAME]
        need = [(pix, f"FER2013's {ferplus.FER2013_NAME}"), ([root / ferplus.FERPLUS_NAME],
                                                              f"FERPlus's {ferplus.FERPLUS_NAME}")]
        kind = "file"
    elif dataset == "affectnet-mini":
        need = [([root if root.suffix == ".csv" else root / affectnet.MANIFEST_NAME],
                 "an AffectNet-mini manifest (CSV with the columns path,label)")]
        kind = "file"
    elif dataset == "affectnet":
        need = [([root / affectnet.LISTS_DIR, root / "training.csv"], f"AffectNet's {affectnet.LISTS_DIR}/"),
                ([root / affectnet.IMAGES_DIR], f"AffectNet's {affectnet.IMAGES_DIR}/")]
        kind = "any"
    elif dataset == "ckplus":
        need = [([root / ckplus.IMAGES_DIR], f"CK+'s {ckplus.IMAGES_DIR}/ (Sxxx/yyy/ image sequences)"),
                ([root / ckplus.EMOTION_DIR], f"CK+'s {ckplus.EMOTION_DIR}/ (Sxxx/yyy/ emotion files)")]
        kind = "dir"
    else:
        raise ValueError(f"Invalid value for the 'dataset' parameter. Allowed values are 'ferplus', "
                         f"'affectnet-mini', 'affectnet', 'ckplus', but got {dataset!r} instead.")
    if not root.exists() and all(root not in paths for paths, _ in need):
        raise FileNotFoundError(f"{root}: expected the {dataset} root holding "
                                f"{' and '.join(what for _, what in need)}, but found no such file or folder")
    for paths, what in need:
        ok = [p for p in paths if (p.is_file() if kind == "file" else p.is_dir() if kind == "dir" else p.exists())]
        if not ok:
            raise FileNotFoundError(f"{paths[0]}: expected {what}, but found no such "
                                    f"{'file' if kind == 'file' else 'folder' if kind == 'dir' else 'file or folder'}")
