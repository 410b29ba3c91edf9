"""One experiment or one sweep from a dataset name to written results, in one call each.

>>> from neuroaffect import pipeline, report
>>> res = pipeline.experiment("deap", 1, "valence", "binary", "dgcnn", root="data/sim/deap/deap")  # doctest: +SKIP
>>> print(report.experiment_text(res))                                                           # doctest: +SKIP
>>> pipeline.write_result(res, "results/experiments/deap_1_valence")                             # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path

from .._utils import atomic_write_json, atomic_write_text, code_version, config_hash
from .data import load_windows

__all__ = ["experiment", "sweep", "write_result"]


def _metadata(dataset, target, task, model, protocol, control, subjects, cfg, source, **extra) -> dict:
    meta = {"dataset": dataset, "target": target, "task": task, "model": model, "protocol": protocol,
            "control": bool(control), "subjects": [int(s) for s in subjects], "code_version": code_version(),
            "train_config": cfg.resolved(), "source": source.describe(), "inputs": source.to_dict(),
            **({"class_names": list(source.class_names)} if source.class_names else {}), **extra}
    meta["config_hash"] = config_hash({k: v for k, v in meta.items() if k not in ("code_version",)})
    return meta


def _plan(model: str, protocol: str, train_cfg, kind, drift_control: bool) -> tuple:
    """The training configuration (``train_cfg``, else the protocol's :meth:`TrainConfig.for_protocol
    <neuroaffect.training.TrainConfig.for_protocol>`) and the input kind (``kind``, else the model's), after
    checking that the drift control suits ``protocol``."""
    from ..models import model_entrypoint
    from ..training import TrainConfig
    from ..training.drift import check_drift_protocol

    if drift_control:
        check_drift_protocol(protocol)
    cfg = TrainConfig.for_protocol(protocol) if train_cfg is None else train_cfg
    if kind is None:
        kind = getattr(model_entrypoint(model), "input_kind", "tokens")
    return cfg, kind


def _check_single_dataset(protocol: str) -> None:
    """Refuse ``cross-dataset`` in the one-dataset calls: it has its own (:func:`~neuroaffect.pipeline.cross_dataset`)."""
    if protocol == "cross-dataset":
        raise ValueError("Invalid value for the 'protocol' parameter: 'cross-dataset' trains on one dataset and "
                         "tests on another; call pipeline.cross_dataset(source, target, ...) (command line: "
                         "neuroaffect cross-dataset) instead of a one-dataset sweep or experiment")


def sweep(dataset, target: str, task: str, model: str, protocol: str = "trial-holdout", *, root=None,
          features=None, subjects=None, n_folds=None, train_cfg=None, feature_params=None, control=False,
          batched=True, checkpoint_dir=None, loss=None, progress=False, model_kwargs=None, kind=None,
          read_kwargs=None, drift_control=False):
    """All subjects x folds of one (dataset, target, task, model, protocol), with provenance.

    Loads the windows (:func:`~neuroaffect.pipeline.load_windows`), runs
    :func:`neuroaffect.training.run_sweep` and returns its :class:`~neuroaffect.training.SweepResult`
    with ``result.metadata`` set (dataset, target, task, model, protocol, subjects, the training
    configuration as run, the data source and the sha256 of every input, a config hash).
    ``kind`` defaults to the model's input kind (tokens, raw windows or maps). ``dataset`` is a
    name (``"custom"``: a user's own recordings under ``root``, reader options in ``read_kwargs``) or
    in-memory feature datasets (see :func:`~neuroaffect.pipeline.load_windows`). ``drift_control``
    adds the drift rows (:func:`neuroaffect.training.drift.add_drift_rows`).
    """
    from ..training import run_sweep
    from ..training.drift import add_drift_rows, drift_class_names

    _check_single_dataset(protocol)
    cfg, kind = _plan(model, protocol, train_cfg, kind, drift_control)
    windows, source = load_windows(dataset, target, task, root=root, features=features, subjects=subjects,
                                   params=feature_params, kind=kind, progress=progress, read_kwargs=read_kwargs)
    dataset = source.dataset
    t0 = time.perf_counter()
    result = run_sweep(windows, model, model_kwargs, protocol, n_folds, cfg, batched=batched,
                       checkpoint_dir=checkpoint_dir, control=control, loss=loss, progress=progress,
                       inputs=source.inputs)
    result.metadata = _metadata(dataset, target, task, model, protocol, control, windows.subjects, cfg, source,
                                train_seconds=time.perf_counter() - t0)
    if drift_control:
        add_drift_rows(result, windows, protocol, n_folds, subjects=subjects,
                       class_names=drift_class_names(dataset, task))
    return result


def experiment(dataset, subject, target: str = "valence", task: str = "binary", model: str = "rbtransformer",
               protocol: str = "trial-holdout", *, root=None, features=None, n_folds=None, train_cfg=None,
               feature_params=None, control=False, batched=True, checkpoint_dir=None, loss=None, progress=False,
               model_kwargs=None, kind=None, read_kwargs=None, drift_control=False):
    """One subject-dependent experiment (``subject=None``: all subjects pooled, ``rbt-pooled`` only).

    ``dataset`` is a name (``"custom"``: a user's own recordings under ``root``, with reader
    options such as ``{"labels": "labels.csv", "classes": ["state"]}`` in ``read_kwargs``), or
    in-memory feature datasets (:func:`neuroaffect.features.extract_features`), as
    :func:`~neuroaffect.pipeline.load_windows` takes them.

    ``loso`` and ``rbt-pooled`` load every subject (the others train); the other protocols load
    the subject alone. Returns an :class:`~neuroaffect.training.ExperimentResult` whose
    ``metadata`` carries the data source and provenance. ``drift_control`` adds the drift rows
    (:func:`neuroaffect.training.drift.add_drift_rows`: two halves of each condition's trials).
    """
    from ..training import run_experiment
    from ..training.drift import add_drift_rows, drift_class_names

    _check_single_dataset(protocol)
    cfg, kind = _plan(model, protocol, train_cfg, kind, drift_control)
    subjects = None if protocol in ("loso", "rbt-pooled") or subject is None else [int(subject)]
    windows, source = load_windows(dataset, target, task, root=root, features=features, subjects=subjects,
                                   params=feature_params, kind=kind, progress=progress, read_kwargs=read_kwargs)
    dataset = source.dataset
    meta = _metadata(dataset, target, task, model, protocol, control, windows.subjects, cfg, source,
                     subject=None if subject is None else int(subject))
    result = run_experiment(windows, subject, model, protocol, n_folds, cfg, model_kwargs=model_kwargs,
                            batched=batched, checkpoint_dir=checkpoint_dir, control=control, metadata=meta,
                            loss=loss, progress=progress, inputs=source.inputs)
    if drift_control:
        add_drift_rows(result, windows, protocol, n_folds, subjects=None if subject is None else [int(subject)],
                       class_names=drift_class_names(dataset, task))
    return result


def write_result(result, stem, md=None) -> list[Path]:
    """Write a sweep or experiment result as ``stem.json``, ``stem.csv`` and ``stem.md`` (atomically);
    ``md`` also writes the Markdown there (e.g. a report folder).

    The JSON holds the metadata (source and provenance), the configuration, every fold's
    records and leakage figures, the summaries, the confusion matrix and the learning curves.
    The Markdown (:func:`neuroaffect.report.result_markdown`) is the summary table at window and
    trial level with the data source above it (a ``cross-dataset`` result:
    :func:`neuroaffect.report.transfer_markdown`).
    """
    from ..report import result_markdown, transfer_markdown

    stem = Path(stem)
    sw = getattr(result, "sweep", result)
    meta = getattr(result, "metadata", None) or {}
    text = transfer_markdown(result) if meta.get("protocol") == "cross-dataset" else result_markdown(result)
    out = [atomic_write_json(stem.with_name(stem.name + ".json"), {"metadata": meta, **result.to_dict()}),
           sw.to_csv(stem.with_name(stem.name + ".csv")),
           atomic_write_text(stem.with_name(stem.name + ".md"), text)]
    if md is not None:
        out.append(atomic_write_text(md, text))
    return out
