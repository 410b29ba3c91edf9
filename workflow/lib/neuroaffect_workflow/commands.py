"""Which ``neuroaffect`` command each workflow rule runs, and how config values become its arguments.

Declared tables, not text matching: :data:`RULE_COMMANDS` names the command of every rule that runs one
(the workflow gives those rules the command's code hash as a param, ``docs/workflow.md``, "Freshness");
:data:`COMMAND_PARSERS` names the public function of :mod:`neuroaffect.cli` that adds each command's
parser, whose ``set_defaults(func=...)`` gives the handler that is hashed; :data:`CONFIG_FLAGS` lists, per
command, the config keys passed to it as ``--key value`` (the flag is the key with ``-`` for ``_``).

>>> from neuroaffect_workflow.commands import config_args
>>> config_args("train-teacher", {"batch_size": 64, "lr": None, "epochs": 3})
['--epochs', '3', '--batch-size', '64']
"""

from __future__ import annotations

import argparse
import importlib
import json
from types import MappingProxyType

__all__ = ["COMMAND_PARSERS", "CONFIG_FLAGS", "READER_FLAGS", "RULE_COMMANDS", "command_handlers", "config_args",
           "custom_args", "student_args"]

#: Rule -> the ``neuroaffect`` command its shell runs (the rules that run none, the root checks, are absent).
RULE_COMMANDS = MappingProxyType({
    "simulate": "simulate", "simulate_faces": "simulate", "summarize": "summarize",
    "extract_features": "features", "plot_feature_maps": "plot-features",
    "run_sweep": "sweep", "plot_sweep": "plot-sweep", "cross_dataset": "cross-dataset", "tabulate_results": "tabulate",
    "train_teacher": "train-teacher", "cross_validate_teacher": "train-teacher",
    "export_prototypes": "export-prototypes",
    "train_student": "train-student", "evaluate_students": "evaluate-students", "export_student": "export-student",
    "render_summary_html": "render-html", "render_sweep_html": "render-html", "render_results_html": "render-html",
    "render_grid_html": "render-html", "render_ablation_html": "render-html",
    "render_performance_html": "render-html",
    "tabulate_benchmarks": "tabulate-benchmarks", "compose_readme": "compose-readme",
})

#: Command -> ``module:function`` of :mod:`neuroaffect.cli` adding its parser (which sets its handler); every
#: command of the command line (a test holds this table to ``neuroaffect.cli``'s).
COMMAND_PARSERS = MappingProxyType({
    "simulate": "data:add_simulate", "summarize": "data:add_summarize", "features": "data:add_features",
    "plot-features": "data:add_plot_features",
    "experiment": "train:add_experiment", "sweep": "train:add_sweep", "plot-sweep": "train:add_plot_sweep",
    "cross-dataset": "train:add_cross_dataset", "tabulate": "train:add_tabulate",
    "train-teacher": "prototypes:add_train_teacher", "export-prototypes": "prototypes:add_export_prototypes",
    "train-student": "distill:add_train_student", "evaluate-students": "distill:add_evaluate_students",
    "export-student": "distill:add_export_student", "predict-faces": "distill:add_predict_faces",
    "render-html": "report:add_render_html", "tabulate-benchmarks": "report:add_tabulate_benchmarks",
    "compose-readme": "report:add_compose_readme",
})

#: Command -> the config keys passed to it as ``--key value`` when set (in this order).
CONFIG_FLAGS = MappingProxyType({
    "train-teacher": ("epochs", "batch_size", "lr", "weight_decay", "device"),
    "train-student": ("epochs", "batch_size", "lr", "weight_decay", "grad_clip", "device"),
})
#: The single-valued reader options of ``data.custom`` (summarize, features and sweep take them alike).
READER_FLAGS = ("montage", "duration", "eeg_limit_uv")


def command_handlers(commands=None) -> dict:
    """Command -> the function it runs, read from each command's parser (its ``set_defaults(func=...)``).

    Parameters
    ----------
    commands : iterable of str | None
        Commands of :data:`COMMAND_PARSERS`; None (default): all of them.

    Returns
    -------
    handlers : dict of str -> function
    """
    handlers = {}
    for command in COMMAND_PARSERS if commands is None else commands:
        if command not in COMMAND_PARSERS:
            raise ValueError(f"expected a command of {sorted(COMMAND_PARSERS)}, but got {command!r}")
        module, adder = COMMAND_PARSERS[command].split(":")
        sub = argparse.ArgumentParser(prog="neuroaffect").add_subparsers()
        getattr(importlib.import_module(f"neuroaffect.cli.{module}"), adder)(sub)
        if command not in sub.choices or sub.choices[command].get_default("func") is None:
            raise ValueError(f"neuroaffect.cli.{module}.{adder}: expected it to add the command {command!r} "
                             f"with a handler (set_defaults(func=...)), but it added {sorted(sub.choices)}")
        handlers[command] = sub.choices[command].get_default("func")
    return handlers


def config_args(command: str, values: dict) -> list:
    """``--key value`` of the keys of ``values`` that :data:`CONFIG_FLAGS` passes to ``command``, a list.

    Parameters
    ----------
    command : str
        A command of :data:`CONFIG_FLAGS`.
    values : dict
        A config section (e.g. ``prototypes.train``); unset (None or absent) keys give no argument.

    Returns
    -------
    args : list of str
        Quoted one by one in the rule's command (``{params.x:q}``).
    """
    return _flags(CONFIG_FLAGS[command], values)


def _flags(keys, values: dict) -> list:
    """``--key value`` (``-`` for ``_`` in the key) of the set ``keys`` of ``values``, in the order of ``keys``."""
    return [item for k in keys if values.get(k) is not None for item in (f"--{k.replace('_', '-')}", str(values[k]))]


def student_args(distill: dict) -> list:
    """The student's arguments from the ``distill:`` section: its training flags, then the model's."""
    args = config_args("train-student", distill.get("train", {}))
    args += _flags(("arch", "in_size"), distill)  # left out: the student's own defaults (distill.student)
    if distill.get("imagenet_stem"):
        args.append("--imagenet-stem")
    if distill.get("augment") is False:
        args.append("--no-augment")
    if distill.get("loss_options"):
        args += ["--loss-options", json.dumps(distill["loss_options"])]
    return args


def custom_args(custom: dict) -> list:
    """The reader options of a user's own recordings (``data.custom``) as command arguments, a list.

    Parameters
    ----------
    custom : dict
        The ``data.custom`` section (``labels``, ``ratings``, ``classes``, ``channels``, ``exclude``, the
        single-valued options of :data:`READER_FLAGS` and ``bad_samples``).
    """
    c = custom
    args = ["--labels", c["labels"]] if c.get("labels") else []
    args += [a for name, (lo, hi) in c.get("ratings", {}).items() for a in ("--rating", f"{name}={lo}:{hi}")]
    args += [a for name, order in c.get("classes", {}).items()
             for a in ("--classes", name + (f"={','.join(order)}" if order else ""))]
    args += [a for old, new in c.get("channels", {}).items() for a in ("--channel", f"{old}={new}")]
    args += [a for name in c.get("exclude", []) for a in ("--exclude", name)]
    args += _flags(READER_FLAGS, c)
    if c.get("bad_samples", "refuse") != "refuse":
        args += ["--bad-samples", c["bad_samples"]]
    return args
