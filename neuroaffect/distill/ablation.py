"""The ablation's science: its arms, the selection of a run on FERPlus validation, and the paired tests.

Order of work (``docs/distillation.md``; the orchestration is :mod:`neuroaffect.pipeline.faces`):

1. :func:`neuroaffect.pipeline.train_arm` trains one (arm, seed): the arms of
   :data:`~neuroaffect.distill.losses.ARMS` (B0 CE, B1 + KD, B2 + Proto-KD, B3 full) and the
   control :data:`CONTROL_ARM` (the full loss against the grid with its prototypes permuted over
   the bins). The epoch kept is the one of best FERPlus **validation** macro-F1 (:func:`select_run`
   picks the deployable seed the same way); nothing reads a test or cross-dataset set.
2. :func:`neuroaffect.pipeline.evaluate_students` evaluates every trained student once on the
   FERPlus test split and the cross-dataset sets (AffectNet-mini, CK+), beside the majority-class
   and pixel-logistic rows.
3. :func:`neuroaffect.report.ablation_markdown` writes the tables: mean +- std over seeds, the
   paired comparison of B3 against B0 and B1 across seeds (:func:`paired_tests`), the published
   figures in their own column, and what the control says about the grid.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ARM_LABELS", "CONTROL_ARM", "ablation_arms", "check_arm", "paired_tests", "select_run"]

#: The control arm: the full loss (B3) against the grid with its prototypes permuted over the bins.
CONTROL_ARM = "B3-shuffled"
#: Table labels of the arms of the ablation and the control (keys: :func:`ablation_arms`).
ARM_LABELS = {"B0": "B0 CE", "B1": "B1 + KD", "B2": "B2 + Proto-KD", "B3": "B3 full (+ D-Geo)",
              CONTROL_ARM: "B3 full, shuffled grid (control)"}


def ablation_arms() -> tuple:
    """The arms of the ablation: those of :data:`~neuroaffect.distill.losses.ARMS`, then :data:`CONTROL_ARM`."""
    from .losses import ARMS

    return (*ARMS, CONTROL_ARM)


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
    """B3 against B0 and B1 (and against the control) across seeds: mean difference, paired t, p."""
    from scipy.stats import ttest_rel

    by = {}
    for r in rows:
        if r["set"] == set_name:
            by.setdefault(r["arm"], {})[r["seed"]] = r[metric]
    out = []
    for other in ("B0", "B1", CONTROL_ARM):
        if "B3" not in by or other not in by:
            continue
        seeds = sorted(set(by["B3"]) & set(by[other]))
        a = np.array([by["B3"][s] for s in seeds])
        b = np.array([by[other][s] for s in seeds])
        t, p = (ttest_rel(a, b) if len(seeds) >= 2 and np.any(a != b) else (np.nan, np.nan))
        out.append({"comparison": f"B3 - {other}", "set": set_name, "metric": metric, "n_seeds": len(seeds),
                    "mean_difference": float(np.mean(a - b)) if seeds else np.nan, "t": float(t), "p": float(p)})
    return out
