"""The prototype grid from a dataset name to an exported, reported grid, in two calls.

>>> from neuroaffect import pipeline
>>> pipeline.train_teacher("results/prototypes/teacher", root="data/sim/dreamer/dreamer")     # doctest: +SKIP
>>> pipeline.export_prototypes("results/prototypes/grid", "results/prototypes/teacher",
...                            root="data/sim/dreamer/dreamer",
...                            support_root="data/sim/mahnob/mahnob")                        # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["export_prototypes", "feature_datasets", "labelled_only_card", "train_teacher"]


def feature_datasets(dataset: str, *, root=None, features=None, params=None, progress=False):
    """Feature datasets of every subject (read from files, or computed in memory from ``root``, by
    :func:`neuroaffect.features.load_features`) and their provenance
    (:func:`~neuroaffect.pipeline.feature_provenance`)."""
    from ..features import load_features

    if features is None and root is None:
        raise ValueError(f"{dataset}: expected a dataset root or feature files, but got neither")
    loaded = load_features(dataset, root=root, features=features, params=params, progress=progress)
    if not loaded.datasets:
        raise ValueError(f"{features or root}: expected {dataset} feature datasets, but found none")
    return loaded.datasets, loaded.inputs


def train_teacher(out, dataset: str = "dreamer", *, root=None, features=None, feature_params=None, config=None,
                  train_cfg=None, progress=False, final: bool = True) -> dict:
    """Cross-validate the topomap teacher and train the final teacher and its control into ``out``.

    ``config`` is a :class:`~neuroaffect.prototypes.PrototypeConfig` (or a dict of its fields);
    ``train_cfg`` a :class:`~neuroaffect.training.TrainConfig`. Returns the summary written to
    ``out/teacher.json`` (CV table and its Markdown, :func:`neuroaffect.report.teacher_cv_markdown`;
    hold-out trials, timings). ``final=False``: cross-validation only.
    """
    from ..prototypes.build import PrototypeConfig, make_teacher
    from ..prototypes.teacher import write_teacher_summary
    from ..report import teacher_cv_markdown
    from ..training import TrainConfig

    cfg = config if isinstance(config, PrototypeConfig) else PrototypeConfig(**(config or {}))
    dsets, inputs = feature_datasets(dataset, root=root, features=features, params=feature_params, progress=progress)
    summary = make_teacher(dsets, dataset, Path(out), cfg, train_cfg or TrainConfig(), inputs=inputs,
                           progress=progress, final=final)
    if "cv" not in summary:
        return summary
    return write_teacher_summary(Path(out) / "teacher.json",
                                 {**summary, "cv_markdown": teacher_cv_markdown(summary["cv"])})


def export_prototypes(out, teacher, dataset: str = "dreamer", *, root=None, features=None, support: str = "mahnob",
                      support_root=None, support_features=None, feature_params=None, support_params=None,
                      config=None, report=None, deap_cv=None, labelled_out=None):
    """Build the grid from the final teacher in ``teacher``, export it to ``out``, and (with ``report``)
    write its figures and summary there.

    With ``labelled_out``, the same teacher's **labelled-only grid** (its held-out labelled windows
    alone, no support window; ``GridResult.labelled_only``, built in the same pass) is exported there
    too, with the card of :func:`labelled_only_card`: the grid of the face student's ``B3-labelled``
    arm (``docs/distillation.md``, "Grid arms"). It costs no second pass over the data.

    Returns
    -------
    result : GridResult
    """
    from ..prototypes.build import PrototypeConfig, export_prototype_grid, make_grid
    from ..prototypes.teacher import read_teacher_summary
    from ..report import write_prototype_report

    cfg = config if isinstance(config, PrototypeConfig) else PrototypeConfig(**(config or {}))
    labelled, inputs = feature_datasets(dataset, root=root, features=features, params=feature_params)
    sup, sup_inputs = [], {}
    if support_root is not None or support_features is not None:
        sup, sup_inputs = feature_datasets(support, root=support_root, features=support_features,
                                           params=support_params)
    result = make_grid(teacher, labelled, dataset, cfg, support=sup, support_name=support,
                       inputs={dataset: inputs, support: sup_inputs})
    export_prototype_grid(result, out)
    if labelled_out is not None:
        from ..prototypes.io import write_grid_files

        card = labelled_only_card(result)
        write_grid_files(labelled_out, result.labelled_only.arrays(card["sources"]), card)
    if report is not None:
        summary = read_teacher_summary(Path(teacher) / "teacher.json")
        extra = read_teacher_summary(deap_cv) if deap_cv else None
        write_prototype_report(result, report, teacher_summary=summary, deap_cv=extra)
    return result



def labelled_only_card(result) -> dict:
    """The card of the labelled-only grid (``result.labelled_only``) from the exported grid's (``result.card``).

    The same teacher, bins, configuration and provenance; ``sources`` only the labelled dataset, with
    the labelled-only grid's ``counts`` and ``filled``; the support gate recorded as unused (no window
    seen or passed); ``ordering`` the labelled-only grid's own (:func:`neuroaffect.prototypes.grid.ordering_test`);
    ``inputs`` the labelled dataset's; and ``labelled_only: true``.

    Parameters
    ----------
    result : GridResult
        Of :func:`neuroaffect.prototypes.build.make_grid`.

    Returns
    -------
    card : dict
        A new dict, before the checksums :func:`neuroaffect.prototypes.io.write_grid_files` adds.
    """
    card, grid = result.card, result.labelled_only
    dataset = card["sources"][0]
    gate = {k: v for k, v in card["support_gate"].items() if k in ("method", "samples", "quantile", "threshold")}
    return {**card, "sources": [dataset], "counts": {dataset: grid.counts[dataset].tolist()},
            "filled": grid.filled.astype(int).tolist(), "ordering": {"grid": result.ordering["labelled_only"]},
            "inputs": {dataset: (card.get("inputs") or {}).get(dataset)},
            "support_gate": {**gate, "windows": 0, "passed": 0, "used": False}, "labelled_only": True}
