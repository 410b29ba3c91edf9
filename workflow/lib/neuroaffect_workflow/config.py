"""Checks of the workflow configuration (workflow tooling, outside the package).

Cross-field checks that a JSON schema cannot express:

:func:`check_config` runs when the workflow loads its config, before any job starts; every
problem is reported with the key that holds it (a real face dataset's root is checked beside its
reader, ``neuroaffect.io.faces.check_face_root``; the EEG roots by listing their subjects).

:func:`check_config_file` runs before that, on the raw text of every config file the workflow is
given: a file too large, nested too deep, or whose YAML aliases expand past a bound ("billion
laughs") is refused before anything builds or walks the expanded tree. :func:`switched_off` says
which stages a valid config leaves out, and why.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ConfigError", "check_config", "check_config_file", "read_config_file", "switched_off", "unreadable"]

#: Bounds of a config file (the shipped ones are a few kB, a few hundred nodes, 6 levels deep).
MAX_CONFIG_BYTES = 1 << 20
#: Nodes (scalars and collections) of the tree once every alias is expanded.
MAX_CONFIG_NODES = 100_000
#: Nesting of collections.
MAX_CONFIG_DEPTH = 64


class ConfigError(ValueError):
    """A workflow configuration that cannot run as written; the message names the key."""


def _sweep_key(i: int, s: dict) -> str:
    return (f"training.sweeps[{i}] ({s.get('dataset')}/{s.get('target')}_{s.get('task')}_{s.get('model')}_"
            f"{s.get('protocol')})")


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` for contradictions the schema lets through.

    - a sweep listed twice (same dataset, target, task, model, protocol);
    - a target or task that the dataset does not define (``neuroaffect.labels``; a ``custom``
      dataset's labels are checked when its table is read);
    - ``custom`` in ``datasets`` without ``data.custom.root`` (it has no simulator);
    - a model that is not registered, or whose input kind the workflow cannot feed;
    - ``seed-9-6`` on a dataset other than SEED (it splits SEED's 15 clips 9 / 6);
    - ``loso`` (needs several subjects) is left to the library, which names the sweep;
    - ``distill.loss_options.ramp`` whose start is not before its end.
    """
    from neuroaffect.labels import check_target, n_label_classes
    from neuroaffect.models import list_models, model_entrypoint

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
            if s["dataset"] != "custom":  # a custom dataset's labels are its table's, checked when it is read
                check_target(s["dataset"], s["target"], s["task"])
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
    if "custom" in (config.get("datasets") or []) and not ((config.get("data") or {}).get("custom") or {}).get("root"):
        problems.append("datasets: 'custom' (your own recordings) needs data.custom.root, the folder of the recordings "
                        "and their labels table; it has no simulator")
    proto = config.get("prototypes") or {}
    if proto and proto.get("dataset") == proto.get("second_source"):
        problems.append("prototypes.second_source: expected a dataset other than prototypes.dataset, but both are "
                        f"{proto.get('dataset')!r}")
    ramp = ((config.get("distill") or {}).get("loss_options") or {}).get("ramp")
    if ramp is not None and not ramp[0] < ramp[1]:
        problems.append(f"distill.loss_options.ramp: expected [start, end] with start < end, but got {ramp!r}")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def check_config_file(path, *, max_bytes: int = MAX_CONFIG_BYTES, max_nodes: int = MAX_CONFIG_NODES,
                      max_depth: int = MAX_CONFIG_DEPTH) -> None:
    """Raise :class:`ConfigError` unless the YAML (or JSON) file ``path`` stays within bounds.

    The file is read as a stream of parser events, never built into objects: its size, its nesting
    and the size of its tree with every alias expanded (an alias counts the nodes of its anchor) are
    counted as the events come, and the first bound passed stops the read. A "billion laughs" file
    (nested aliases, a few hundred bytes expanding to billions of nodes) is refused in milliseconds,
    and so is a file nested 100,000 levels deep, wherever the construct sits (under an unknown key
    too: the schema, which would name that key, walks the expanded tree).

    Parameters
    ----------
    path : path-like
        A config file (YAML; JSON is YAML too).
    max_bytes, max_nodes, max_depth : int
        The bounds: file size in bytes, nodes of the expanded tree, nesting of collections.

    Raises
    ------
    ConfigError
        Naming the file, the bound and what was found (or the YAML syntax error and its line).
    """
    import yaml

    import stat

    path = Path(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a FIFO or a device would block the read, or never end it
            raise ConfigError(f"{path}: expected a regular config file, but found a "
                              f"{'FIFO' if stat.S_ISFIFO(st.st_mode) else 'folder' if stat.S_ISDIR(st.st_mode) else 'device or other special file'}")
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise ConfigError(f"{path}: expected a config file of at most {max_bytes} bytes, but found "
                              f"{max(st.st_size, len(raw))} bytes")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: expected a readable UTF-8 config file, but got {err}") from err
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    anchors, open_ = {}, []  # open_: [expanded node count, anchor] of the open collections, innermost last
    total = 0

    def add(n: int, anchor) -> None:
        nonlocal total
        total += n
        if total > max_nodes:
            raise ConfigError(f"{path}: expected at most {max_nodes} values once its aliases (*name) are "
                              "expanded, but found more (nested aliases: refused before they are expanded)")
        if anchor is not None:
            anchors[anchor] = n
        if open_:
            open_[-1][0] += n

    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(open_) >= max_depth:
                    raise ConfigError(f"{path}: expected values nested at most {max_depth} levels deep, but found "
                                      f"deeper nesting (line {event.start_mark.line + 1})")
                open_.append([1, event.anchor])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                n, anchor = open_.pop()
                add(n, anchor)
            elif isinstance(event, yaml.ScalarEvent):
                add(1, event.anchor)
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise ConfigError(f"{path}: alias *{event.anchor} (line {event.start_mark.line + 1}) refers to "
                                      "no complete anchor before it")
                add(anchors[event.anchor], None)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: expected YAML or JSON, but got a syntax error: {err}") from err


def read_config_file(path) -> dict:
    """The mapping in the config file ``path``, read after :func:`check_config_file` passed.

    Raises
    ------
    ConfigError
        For a file out of bounds (see :func:`check_config_file`) or one that holds no mapping.
    """
    import yaml

    check_config_file(path)
    try:
        cfg = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:  # (changed since the check)
        raise ConfigError(f"{path}: expected a readable YAML config file, but got {err}") from err
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level, but found "
                          f"{type(cfg).__name__}")
    return cfg


def switched_off(config: dict) -> list[str]:
    """What a valid ``config`` leaves out, one sentence per stage, naming the key that decides it.

    The workflow prints these before it plans any job (as it does for a root it cannot read), so that
    a config without DREAMER, without FERPlus or without a ``prototypes:`` section does not run fewer
    stages in silence. A config that leaves nothing out gives ``[]``.
    """
    datasets = set(config.get("datasets") or [])
    proto, distill = config.get("prototypes"), config.get("distill")
    faces = (config.get("faces") or {}).get("data") or {}
    out = []
    for i, s in enumerate((config.get("training") or {}).get("sweeps") or []):
        if s.get("dataset") not in datasets:
            out.append(f"{_sweep_key(i, s)}: {s.get('dataset')!r} is not in datasets, so this sweep does not run")
    if not proto:
        out.append("no prototypes: section, so no prototype grid" + (" and no face student" if distill else ""))
    else:
        name = proto.get("dataset", "dreamer")
        if name not in datasets:
            out.append(f"prototypes.dataset: {name!r} (the grid's labelled dataset) is not in datasets, so no prototype "
                       "grid" + (" and no face student" if distill else ""))
        for key in ("support", "second_source"):
            other = proto.get(key, "mahnob" if key == "support" else None)
            if other and other not in datasets:
                out.append(f"prototypes.{key}: {other!r} is not in datasets, so the grid is built without it")
    if not distill:
        if faces:
            out.append("no distill: section, so no face student (faces.data is not used)")
    elif "ferplus" not in faces:
        out.append("faces.data: no ferplus (the student's training set), so no face student")
    elif proto:
        missing = [f for f in ("affectnet-mini", "ckplus") if f not in faces]
        if missing:
            out.append(f"faces.data: no {' and no '.join(missing)}, so the student is evaluated without "
                       f"{'them' if len(missing) > 1 else 'it'}")
    return out


def _lost_stages(config: dict, name: str) -> str:
    """What the workflow leaves out when the dataset ``name`` cannot be read, as a parenthesis ('' if nothing)."""
    proto, distill = config.get("prototypes") or {}, config.get("distill") or {}
    lost = []
    if name == proto.get("dataset"):
        lost.append("the prototype grid and the face student")
    elif name in (proto.get("support"), proto.get("second_source")):
        lost.append(f"{name}'s part of the prototype grid")
    if name == "ferplus" and distill:
        lost.append("the face student")
    return f" (so also {' and '.join(lost)})" if lost else ""


def unreadable(config: dict, problems) -> list[str]:
    """One message per configured real root that cannot be read, saying what the workflow runs without.

    Parameters
    ----------
    config : dict
        The workflow config.
    problems : iterable of (str, str)
        (dataset, why its root cannot be read), as the workflow found them.

    Returns
    -------
    lines : list of str
        Two lines each (the problem, then what is left out and which check job fails with it).
    """
    return [f"cannot read the {name} data: {problem}\n  the workflow runs without {name}"
            f"{_lost_stages(config, name)}; {name}'s check job (results/checks/{name}.ok) fails with this message"
            for name, problem in problems]
