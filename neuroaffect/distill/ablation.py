"""The ablation's science: its arms, the selection of a run on FERPlus validation, and the paired tests.

Order of work (``docs/distillation.md``; the orchestration is :mod:`neuroaffect.pipeline.faces`):

1. :func:`neuroaffect.pipeline.train_arm` trains one (arm, seed): the arms of
   :data:`~neuroaffect.distill.losses.ARMS` (B0 CE, B1 + KD, B2 + Proto-KD, B3 full) and the
   grid arms of :data:`GRID_ARMS`: the full loss against a grid derived from the EEG grid by
   :func:`neuroaffect.prototypes.grid_arm` (:data:`CONTROL_ARM`, the shuffled grid: prototypes and
   flags permuted over the bins; ``B3-coordinate``, prototypes a fixed function of the bin centres;
   ``B3-oracle``, the simulators' shared structure G* at the bin centres). The epoch kept is the
   one of best FERPlus **validation** macro-F1 (:func:`select_run` picks the deployable seed the
   same way); nothing reads a test or cross-dataset set.
2. :func:`neuroaffect.pipeline.evaluate_students` evaluates every trained student once on the
   FERPlus test split and the cross-dataset sets (AffectNet-mini, CK+), beside the majority-class
   and pixel-logistic rows.
3. :func:`neuroaffect.report.ablation_markdown` writes the tables: mean +- std over seeds, the
   paired comparison of B3 against B0, B1 and every grid arm across seeds (:func:`paired_tests`), the
   published figures in their own column, and what the control says about the grid.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ARM_LABELS", "CONTROL_ARM", "GRID_ARMS", "SOURCE_GRID_ARMS", "ablation_arms", "arm_grid", "check_arm",
           "paired_tests", "select_run"]

#: The control arm: the full loss (B3) against the grid with its prototypes permuted over the bins.
CONTROL_ARM = "B3-shuffled"
#: The grid arms: the full loss (B3) against a grid of :func:`neuroaffect.prototypes.grid_arm`, by the
#: kind of grid (the negative control, the coordinate-only grid, the positive control G*).
GRID_ARMS = {CONTROL_ARM: "shuffled", "B3-coordinate": "coordinate", "B3-oracle": "oracle"}
#: Arms of the full loss (B3) against another grid of the teacher pipeline, given as the run's grid as it
#: is (not derived from the EEG grid): ``B3-labelled``, the labelled-only grid (the same teacher, no
#: support windows; ``export-prototypes --labelled-out``). Described beside the others, outside the
#: paired tests' family (``docs/distillation.md``, "Grid arms").
SOURCE_GRID_ARMS = {"B3-labelled": "labelled"}
#: Table labels of the arms of the ablation and the grid arms (keys: :func:`ablation_arms`).
ARM_LABELS = {"B0": "B0 CE", "B1": "B1 + KD", "B2": "B2 + Proto-KD", "B3": "B3 full (+ D-Geo)",
              CONTROL_ARM: "B3 full, shuffled grid (control)",
              "B3-coordinate": "B3 full, coordinate-only grid (control)",
              "B3-oracle": "B3 full, oracle G* grid (positive control)",
              "B3-labelled": "B3 full, labelled-only EEG grid (no support windows)"}


def ablation_arms() -> tuple:
    """The arms of the ablation: those of :data:`~neuroaffect.distill.losses.ARMS`, :data:`GRID_ARMS`, then
    :data:`SOURCE_GRID_ARMS`."""
    from .losses import ARMS

    return (*ARMS, *GRID_ARMS, *SOURCE_GRID_ARMS)


def arm_grid(arm: str, seed: int) -> tuple:
    """The loss arm and the grid an ablation arm trains against: ``(loss_arm, kind, grid_seed)``.

    Parameters
    ----------
    arm : str
        One of :func:`ablation_arms`.
    seed : int
        The run's seed.

    Returns
    -------
    loss_arm : str
        The arm of :data:`~neuroaffect.distill.losses.ARMS` whose loss is trained (``"B3"`` for a grid arm).
    kind : str
        The :func:`neuroaffect.prototypes.grid_arm` kind (``"eeg"`` for the arms of ``ARMS`` and of
        :data:`SOURCE_GRID_ARMS`: the grid given is trained against as it is).
    grid_seed : int
        The run's seed for the shuffled grid (a new permutation per seed), 0 for the fixed grids
        (coordinate, oracle: one grid for every seed) and the EEG grid.
    """
    kind = GRID_ARMS.get(check_arm(arm), "eeg")
    loss_arm = "B3" if arm in GRID_ARMS or arm in SOURCE_GRID_ARMS else arm
    return loss_arm, kind, (int(seed) if kind == "shuffled" else 0)


def check_arm(arm: str) -> str:
    """``arm`` if it is one of :func:`ablation_arms`, else a ValueError naming them."""
    arms = ablation_arms()
    if arm not in arms:
        raise ValueError(f"Invalid value for the 'arm' parameter. Allowed values are {list(arms)}, but got "
                         f"{arm!r} instead.")
    return arm


def select_run(records, arm: str = "B3") -> dict:
    """The run of ``arm`` with the best FERPlus **validation** macro-F1 (the deployable student)."""
    runs = [r for r in records if r["arm"] == arm]
    if not runs:
        raise ValueError(f"no run of arm {arm!r} among {sorted({r['arm'] for r in records})}")
    return max(runs, key=lambda r: (r["val"]["macro_f1"], -r["seed"]))


def paired_tests(rows, metric: str = "macro_f1", set_name: str = "ferplus-test") -> list:
    """Paired comparisons across seeds, with Holm's correction over the table's comparisons.

    B3 against B0, B1 and every grid arm of :data:`GRID_ARMS`, and the power check
    ``B3-oracle - B3-coordinate`` (the oracle grid must beat the coordinate-only one before a null on
    the EEG grid means anything; ``docs/distillation.md``). Each row: ``comparison``, ``n_seeds``,
    ``mean_difference`` with its 95 % t interval (``ci_low``, ``ci_high``), paired ``t``, ``p`` and
    ``p_holm``.
    """
    from ..training import holm, paired_test

    by = {}
    for r in rows:
        if r["set"] == set_name:
            by.setdefault(r["arm"], {})[r["seed"]] = r[metric]
    pairs = [("B3", other) for other in ("B0", "B1", *GRID_ARMS)] + [("B3-oracle", "B3-coordinate")]
    out = []
    for one, other in pairs:
        if one not in by or other not in by:
            continue
        seeds = sorted(set(by[one]) & set(by[other]))
        res = paired_test([by[one][s] for s in seeds], [by[other][s] for s in seeds])
        out.append({"comparison": f"{one} - {other}", "set": set_name, "metric": metric, "n_seeds": len(seeds),
                    "mean_difference": res["mean_difference"], "ci_low": res["ci_low"], "ci_high": res["ci_high"],
                    "t": res["t"], "p": res["p"]})
    for t, p in zip(out, holm([t["p"] for t in out])):
        t["p_holm"] = float(p)
    return out
