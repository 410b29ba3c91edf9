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
3. :func:`neuroaffect.report.ablation_markdown` writes the tables: mean +- SD (ddof=1) and the 95 %
   t interval over seeds, the 95 % bootstrap interval over test images (:func:`image_intervals`:
   small sets such as CK+'s 56 images show it), the paired comparisons across seeds with Holm's
   correction over the table (:func:`paired_tests`: B1 - B0, B3 against B0, B1 and every grid arm,
   the power check) and the smallest difference the seeds could detect, the published figures in
   their own column, and what the control says about the grid.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ARM_LABELS", "CONTROL_ARM", "GRID_ARMS", "SOURCE_GRID_ARMS", "ablation_arms", "arm_grid",
           "bootstrap_macro_f1", "check_arm",
           "image_intervals", "macro_f1_statistic", "paired_tests", "pooled_reliability", "select_run"]

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

    B3 against B0 and B1, B1 - B0 (what KD adds), B3 against every grid arm of :data:`GRID_ARMS`,
    and the power check ``B3-oracle - B3-coordinate`` (the oracle grid must beat the coordinate-only
    one before a null on the EEG grid means anything; ``docs/distillation.md``). Each row:
    ``comparison``, ``n_seeds``, ``mean_difference`` with its 95 % t interval (``ci_low``,
    ``ci_high``), ``sd`` of the differences (ddof=1), paired ``t``, ``p``, ``p_holm`` (Holm over the
    rows returned) and ``detectable``: the smallest difference a two-sided 5 % test over these seeds
    detects with 80 % power at this spread (:func:`neuroaffect.training.detectable_difference`; NaN
    with fewer than 2 seeds).
    """
    from ..training import detectable_difference, holm, paired_test

    by = {}
    for r in rows:
        if r["set"] == set_name:
            by.setdefault(r["arm"], {})[r["seed"]] = r[metric]
    pairs = ([("B3", "B0"), ("B3", "B1"), ("B1", "B0")] + [("B3", other) for other in GRID_ARMS]
             + [("B3-oracle", "B3-coordinate")])
    out = []
    for one, other in pairs:
        if one not in by or other not in by:
            continue
        seeds = sorted(set(by[one]) & set(by[other]))
        res = paired_test([by[one][s] for s in seeds], [by[other][s] for s in seeds])
        out.append({"comparison": f"{one} - {other}", "set": set_name, "metric": metric, "n_seeds": len(seeds),
                    "mean_difference": res["mean_difference"], "ci_low": res["ci_low"], "ci_high": res["ci_high"],
                    "sd": res["sd"], "t": res["t"], "p": res["p"],
                    "detectable": detectable_difference(res["sd"], res["n"])})
    for t, p in zip(out, holm([t["p"] for t in out])):
        t["p_holm"] = float(p)
    return out


def macro_f1_statistic(classes, n_classes: int = 8):
    """Macro-F1 as a vectorised statistic of ``(y_true, *y_preds)``: the mean over the prediction arrays.

    Per prediction array, F1 of each class of ``classes`` from the confusion counts
    (``2 tp / (2 tp + fp + fn)``, 0 where that is 0/0, as scikit-learn's ``zero_division=0``),
    averaged over ``classes``; then the mean over the arrays (the seeds of one arm, scored on the
    same images). With ``classes = range(8)`` it is the 8-way macro-F1, with the set's present classes
    the present-only one.

    Parameters
    ----------
    classes : sequence of int
        The classes averaged over.
    n_classes : int
        K: labels and predictions are ``0 .. K - 1``.

    Returns
    -------
    statistic : callable
        ``statistic(y_true, *y_preds, axis=-1)``, arrays of shape (..., n_images) -> shape (...)
        (the ``vectorized`` convention of ``scipy.stats.bootstrap``).
    """
    cls = np.asarray(list(classes), dtype=np.int64)
    k = int(n_classes)

    def statistic(y_true, *y_preds, axis=-1):
        t = np.moveaxis(np.asarray(y_true, dtype=np.int64), axis, -1)
        lead, n = t.shape[:-1], t.shape[-1]
        rows = int(np.prod(lead, dtype=np.int64))
        offset = (np.arange(rows, dtype=np.int64) * k * k)[:, None]
        scores = []
        for y_pred in y_preds:
            p = np.moveaxis(np.asarray(y_pred, dtype=np.int64), axis, -1).reshape(rows, n)
            cm = np.bincount((offset + t.reshape(rows, n) * k + p).ravel(), minlength=rows * k * k).reshape(rows, k, k)
            tp = np.diagonal(cm, axis1=1, axis2=2)[:, cls].astype(np.float64)
            den = cm.sum(2)[:, cls] + cm.sum(1)[:, cls]
            f1 = np.divide(2.0 * tp, den, out=np.zeros_like(tp), where=den > 0)
            scores.append(f1.mean(1))
        return np.mean(scores, axis=0).reshape(lead)

    return statistic


def bootstrap_macro_f1(y_true, y_preds, *, present: bool = False, n_classes: int = 8, n_resamples: int = 2000,
                       level: float = 0.95, seed: int = 0) -> dict:
    """Percentile bootstrap over the images of the mean macro-F1 of several runs on one set.

    The images are resampled with replacement, the same images for every run (the runs of one arm
    over seeds), and the statistic is :func:`macro_f1_statistic` (over all ``n_classes`` classes,
    or with ``present`` over the classes present in ``y_true``); see
    :func:`neuroaffect.training.bootstrap_ci`. The interval is the spread that the choice of test
    images alone gives: on a set of 56 images it is wide whatever the number of seeds.

    Parameters
    ----------
    y_true : array-like of int, shape (n_images,)
    y_preds : sequence of array-like of int, each shape (n_images,)
        The runs' predictions on the same images in the same order.
    present : bool
    n_classes, n_resamples, level, seed
        See :func:`macro_f1_statistic` and :func:`neuroaffect.training.bootstrap_ci`.

    Returns
    -------
    result : dict
        ``estimate`` (fraction), ``ci_low``, ``ci_high``, ``n_items``, ``n_resamples``, ``method``, ``n_runs``.
    """
    from ..training import bootstrap_ci

    y = np.asarray(y_true, dtype=np.int64)
    classes = np.unique(y) if present else np.arange(n_classes)
    preds = [np.asarray(p, dtype=np.int64) for p in y_preds]
    if not preds:
        raise ValueError("Invalid value for the 'y_preds' parameter: expected at least one run's predictions, but "
                         "got none.")
    res = bootstrap_ci(macro_f1_statistic(classes, n_classes), [y, *preds], n_resamples=n_resamples, level=level,
                       seed=seed)
    return {**res, "n_runs": len(preds)}


def image_intervals(rows, sets: dict, set_name: str, *, key: str = "arm", present: bool = False,
                    n_resamples: int = 2000, seed: int = 0) -> dict:
    """The bootstrap interval over test images (:func:`bootstrap_macro_f1`) of each arm (or method) on one set.

    Parameters
    ----------
    rows : list of dict
        Evaluation rows with ``set``, ``key`` (``"arm"`` for the students' rows, ``"method"`` for the
        reference rows) and ``pred`` (the predictions, :func:`neuroaffect.distill.evaluate_student`);
        rows without ``pred`` are skipped.
    sets : dict
        ``{set name: {"labels": list of int, ...}}`` (:func:`neuroaffect.pipeline.evaluate_students`'
        ``sets``); a set without ``labels`` gives ``{}``.
    set_name : str
    key : str
    present : bool
        Present-only macro-F1 (the cross-dataset figure) instead of the 8-way one.

    Returns
    -------
    intervals : dict
        ``{arm: bootstrap_macro_f1 result}`` over the seeds of each arm.
    """
    labels = (sets.get(set_name) or {}).get("labels")
    if labels is None:
        return {}
    by = {}
    for r in rows:
        if r.get("set") == set_name and r.get("pred") is not None:
            by.setdefault(r[key], []).append(r["pred"])
    return {name: bootstrap_macro_f1(labels, preds, present=present, n_resamples=n_resamples, seed=seed)
            for name, preds in by.items()}


def pooled_reliability(rows, set_name: str = "ferplus-test", *, key: str = "arm") -> dict:
    """Reliability bins of each arm on one set, its seeds pooled (the reliability diagram's input).

    Parameters
    ----------
    rows : list of dict
        Evaluation rows with ``set``, ``key`` and ``reliability``
        (:func:`neuroaffect.distill.calibration_metrics`); rows without it are skipped.
    set_name, key : str

    Returns
    -------
    curves : dict
        ``{ARM_LABELS[arm] (or the name): {"edges", "count", "confidence_sum", "correct", "ece", "n_runs"}}``,
        counts and sums added over the seeds; ``ece`` that of the pooled predictions.
    """
    out = {}
    for r in rows:
        rel = r.get("reliability")
        if r.get("set") != set_name or not isinstance(rel, dict):
            continue
        name = ARM_LABELS.get(r[key], r[key])
        c = out.setdefault(name, {"edges": list(rel["edges"]), "count": 0, "confidence_sum": 0, "correct": 0,
                                  "n_runs": 0})
        for k in ("count", "confidence_sum", "correct"):
            c[k] = np.add(c[k], rel[k])
        c["n_runs"] += 1
    for c in out.values():
        c["ece"] = float(np.abs(c["correct"] - c["confidence_sum"]).sum() / max(c["count"].sum(), 1))
        c.update({k: np.asarray(c[k]).tolist() for k in ("count", "confidence_sum", "correct")})
    return out
