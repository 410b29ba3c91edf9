"""Which package code a step runs, as one hash: the workflow's code-version input.

Workflow tooling, not part of the package (nothing under ``neuroaffect/`` imports it). A workflow
step reruns when the code it runs changes (``docs/workflow.md``, "Freshness"). The code a step runs
is found statically, without importing the package's modules, from its command's handler:

- every name the handler (and its module, at module level) imports from the package is traced to
  the module that defines it, through the re-exports of package ``__init__`` files;
- the same is done for every module reached, with its imports at any level (inside functions too);
- an ``importlib.import_module`` call with a computed or relative name counts every module of its
  package;
- a name a package serves lazily from a ``_LAZY`` table (``name -> submodule``, read from its syntax
  tree) is traced to that submodule;
- the packages around a reached module count with their own code only (their ``__init__``).

The hash covers the syntax trees of those modules with docstrings removed, so comments, docstrings
and formatting do not count; any other change does (a change of Python version may change the
trees, and then counts once).

>>> from neuroaffect_workflow.provenance import module_closure, source_hash
>>> "neuroaffect.features.bde" in module_closure(["neuroaffect.features"])
True
>>> len(source_hash(module_closure(["neuroaffect.features"])))
64
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path

__all__ = ["command_hashes", "function_code", "module_closure", "source_hash"]

PACKAGE = "neuroaffect"
#: The neuroaffect/ folder of the installed (or checked-out, editable) package, found without importing it.
_ROOT = Path(importlib.util.find_spec(PACKAGE).submodule_search_locations[0]).resolve()


@functools.lru_cache(maxsize=None)
def _module_file(name: str) -> Path | None:
    """The source file of the package module ``name`` (``a.b`` -> a/b.py or a/b/__init__.py), if any."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    rel = name.split(".")[1:]
    base = _ROOT.joinpath(*rel)
    if rel and base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return base / "__init__.py" if (base / "__init__.py").is_file() else None


def _is_package(name: str) -> bool:
    f = _module_file(name)
    return f is not None and f.name == "__init__.py"


def _package_of(module: str) -> str:
    return module if _is_package(module) else module.rpartition(".")[0]


def _parents(name: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b`` (importing a module runs its packages' ``__init__``)."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@functools.lru_cache(maxsize=None)
def _parse(fname: Path) -> ast.Module:
    return ast.parse(fname.read_text(encoding="utf-8"), filename=str(fname))


def _from_base(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module or ""
    parts = _package_of(module).split(".")
    return ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))


@functools.lru_cache(maxsize=None)
def _defining_module(package: str, name: str, depth: int = 0) -> str:
    """The module that defines ``name`` of ``package``, following its ``__init__``'s re-exports."""
    if depth < 10:
        for node in _parse(_module_file(package)).body:
            if isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if (a.asname or a.name) == name:
                        base = _from_base(node, package)
                        if _module_file(f"{base}.{a.name}"):
                            return f"{base}.{a.name}"
                        if _is_package(base):
                            return _defining_module(base, a.name, depth + 1)
                        return base if _module_file(base) else package
    lazy = _lazy_table(package).get(name)
    if lazy and _module_file(f"{package}.{lazy.lstrip('.')}"):
        return f"{package}.{lazy.lstrip('.')}"  # served by the package's lazy __getattr__ from that module
    return package  # defined in the __init__ itself, or served by a lazy __getattr__ without a table


@functools.lru_cache(maxsize=None)
def _lazy_table(package: str) -> dict:
    """Name -> submodule of a package whose ``__init__`` serves names lazily from a module-level ``_LAZY``
    dict (``{"name": "module", **dict.fromkeys([...], "module")}``); {} when it has none or one that is not
    written with literals (then the whole package counts, see the module docstring)."""
    for node in _parse(_module_file(package)).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            return _literal_table(node.value)
    return {}


def _literal_table(node: ast.AST) -> dict:
    """The dict a ``_LAZY`` assignment builds, read from its syntax tree without running it ({} if unsure)."""
    if not isinstance(node, ast.Dict):
        return {}
    out = {}
    try:
        for key, value in zip(node.keys, node.values):
            if key is not None:
                out[ast.literal_eval(key)] = ast.literal_eval(value)
            elif (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "fromkeys"
                  and isinstance(value.func.value, ast.Name) and value.func.value.id == "dict" and len(value.args) == 2):
                out.update(dict.fromkeys(ast.literal_eval(value.args[0]), ast.literal_eval(value.args[1])))
            else:
                return {}
    except (ValueError, TypeError, SyntaxError):
        return {}
    return out if all(isinstance(k, str) and isinstance(v, str) for k, v in out.items()) else {}


def _resolve(node: ast.AST, module: str) -> list[str]:
    """Package modules one import statement (or ``importlib.import_module`` call) in ``module`` uses."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if _module_file(a.name)]
    if isinstance(node, ast.Call):
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr == "import_module") or not node.args:
            return []
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and not arg.value.startswith("."):
            return [arg.value] if _module_file(arg.value) else []
        pkg = _package_of(module)  # a computed or relative name: any module of the package may be meant
        return [pkg] + [f"{pkg}.{f.stem}" for f in sorted(_module_file(pkg).parent.glob("*.py"))
                        if f.stem != "__init__"]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = _from_base(node, module)
    if not _module_file(base):
        return []
    out = []
    for a in node.names:
        if _module_file(f"{base}.{a.name}"):
            out.append(f"{base}.{a.name}")
        elif a.name == "*" or not _is_package(base):
            out.append(base)
        else:
            out.append(_defining_module(base, a.name))
    return out


@functools.lru_cache(maxsize=None)
def _direct_uses(module: str) -> tuple[str, ...]:
    tree = _parse(_module_file(module))
    return tuple(sorted({m for node in ast.walk(tree) for m in _resolve(node, module)}))


def module_closure(modules) -> list[str]:
    """Every package module whose code running ``modules`` may use, sorted.

    Parameters
    ----------
    modules : iterable of str
        Dotted module names under ``neuroaffect`` (others are ignored).

    Returns
    -------
    closure : list of str
        ``modules``, the modules defining what they import (directly or not, imports inside
        functions included) and the packages around all of those.
    """
    todo = [m for m in modules if _module_file(m)]
    followed: set[str] = set()
    while todo:
        m = todo.pop()
        if m not in followed:
            followed.add(m)
            todo.extend(_direct_uses(m))
    return sorted(followed | {p for m in followed for p in _parents(m)})


def function_code(func) -> list[str]:
    """The package modules whose code ``func`` may run, sorted.

    Parameters
    ----------
    func : function
        A function defined in a ``neuroaffect`` module (e.g. a command's handler).

    Returns
    -------
    modules : list of str
        The defining module and its packages, and the closure (:func:`module_closure`) of what the
        defining module imports at module level and ``func`` imports in its body; imports inside
        the module's other functions do not count.
    """
    import inspect
    import textwrap

    module = func.__module__
    roots: set[str] = set()
    for node in _parse(_module_file(module)).body:  # module level only
        roots.update(_resolve(node, module))
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(func)))):
        roots.update(_resolve(node, module))
    roots -= {module}
    return sorted(set(module_closure(roots)) | {module, *_parents(module)})


@functools.lru_cache(maxsize=None)
def _module_digest(module: str) -> str:
    tree = _parse(_module_file(module))  # the cached tree: dropping its docstrings changes no import
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def source_hash(modules) -> str:
    """sha256 of the code of exactly ``modules`` (no closure is taken; see the module docstring).

    Parameters
    ----------
    modules : iterable of str
        Dotted module names under ``neuroaffect`` (others are ignored), e.g. from
        :func:`module_closure` or :func:`function_code`.

    Returns
    -------
    digest : str
        64 hex digits; equal for equal code whatever the comments, docstrings and formatting.
    """
    h = hashlib.sha256()
    for m in sorted({m for m in modules if _module_file(m)}):
        h.update(f"{m}\0{_module_digest(m)}\n".encode())
    return h.hexdigest()


def _tree_signature() -> str:
    """sha256 of the name, size and modification time of every source file of the package."""
    h = hashlib.sha256()
    for f in sorted(_ROOT.rglob("*.py")):
        st = f.stat()
        h.update(f"{f.relative_to(_ROOT)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


#: Where the workflow keeps :func:`command_hashes`' results: beside Snakemake's own state in the working directory
#: (never inside the package).
CACHE = Path(".snakemake") / "neuroaffect_code_hashes.json"


def _read_cache(cache, signature, commands) -> dict | None:
    """The hashes kept in ``cache`` when they were computed for ``signature`` and ``commands``, else None."""
    try:
        kept = json.loads(Path(cache).read_text(encoding="utf-8"))
        if kept["signature"] == signature and set(kept["hashes"]) == set(commands):
            return dict(kept["hashes"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no cache, or an unreadable one: compute
    return None


def _write_cache(cache, signature, hashes) -> None:
    """Keep ``hashes`` in ``cache`` (written whole, then renamed; a folder that cannot be written is skipped)."""
    cache = Path(cache)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=cache.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"signature": signature, "hashes": hashes}, f, indent=1, sort_keys=True)
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only folder: the hashes are still right, only not kept


def command_hashes(handlers, cache=None) -> dict:
    """Code hash of every command, from its handler.

    Parameters
    ----------
    handlers : mapping of str -> function
        Command -> the function it runs (the ``func`` its parser sets with ``set_defaults``), such as
        :func:`neuroaffect_workflow.commands.command_handlers` gives.
    cache : path-like | None
        A JSON file keeping the hashes with a signature of the package's source files (names, sizes,
        modification times): while no file changes, they are read back instead of computed again.
        None (default): always compute; the workflow passes :data:`CACHE`.

    Returns
    -------
    hashes : dict of str -> str
        Command -> :func:`source_hash` of :func:`function_code` of its handler (64 hex digits).
    """
    signature = _tree_signature() if cache is not None else None
    if cache is not None:
        kept = _read_cache(cache, signature, handlers)
        if kept is not None:
            return kept
    hashes = {name: source_hash(function_code(func)) for name, func in handlers.items()}
    if cache is not None:
        _write_cache(cache, signature, hashes)
    return hashes
