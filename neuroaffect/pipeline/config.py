"""Cross-field checks of the workflow configuration that a JSON schema cannot express.

:func:`check_config` runs when the workflow loads its config, before any job starts; every
problem is reported with the key that holds it.
"""

from __future__ import annotations

__all__ = ["ConfigError", "check_config"]


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
