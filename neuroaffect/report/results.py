"""The results table over many sweep results: one row per sweep with its reference rows beside it, and
the protocol comparison that explains pooled-split headlines (``reports/results.md``).

Every table states its protocol and carries the majority (regression: training mean), logistic
(ridge), chance and shuffled-label rows next to the model, at window and trial level, with both
leakage figures; the simulator's oracle where the data are simulated.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import atomic_write_text
from .markdown import table_lines

__all__ = ["comparison_markdown", "metric_rows", "metrics_markdown", "results_markdown", "results_table", "tabulate"]

_KEY = ("dataset", "target", "task", "model", "protocol")
#: Column titles of :func:`results_markdown`.
_RESULT_TITLES = ("dataset", "target", "task", "protocol", "model", "score", "margin", "majority / mean",
                  "logistic / ridge", "chance", "shuffled", "oracle", "trial overlap %", "sample overlap %")
#: The classification metrics of a sweep JSON (``training.metrics.METRICS``, spelled here so that
#: tabulating imports neither torch nor the training package) and their column titles.
METRICS = ("accuracy", "macro_f1", "balanced_accuracy", "cohen_kappa", "weighted_f1", "auroc")
_METRIC_TITLES = ("accuracy", "macro-F1", "balanced accuracy", "Cohen's kappa", "weighted F1", "AUROC")
#: Metrics given in % (the others with three decimals).
PERCENT = {"accuracy", "macro_f1", "balanced_accuracy", "weighted_f1"}
#: Suffix of the shuffled-label control's row name in a sweep JSON.
CONTROL_SUFFIX = " (shuffled labels)"
#: Column titles of :func:`comparison_markdown` (each protocol's four cells after the key).
_COMPARISON_TITLES = ("dataset", "target", "task", "model", "trial-holdout", "majority", "trial ovl", "sample ovl",
                      "rbt-pooled", "majority", "trial ovl", "sample ovl")


def _nan_if_none(v) -> float:
    """A JSON number as a float, ``None`` (a missing figure) as NaN."""
    return np.nan if v is None else float(v)


def results_table(sweeps, sidecars=()) -> tuple[pd.DataFrame, dict]:
    """One row per (sweep, level): the model's headline metric beside every reference row.

    Parameters
    ----------
    sweeps : sequence of path-like
        Sweep JSON results (:func:`~neuroaffect.pipeline.write_result`).
    sidecars : sequence of path-like
        ``simulation.json`` files of simulated datasets (for the oracle and the snr).

    Returns
    -------
    table : pandas.DataFrame
        Columns: dataset, target, task, model, protocol, level, ``metric`` (accuracy, or CCC for
        regression), ``model_value`` and ``model_std``, ``majority`` / ``mean``, ``logistic`` /
        ``ridge``, ``chance``, ``shuffled`` (NaN when no control ran), ``oracle`` (trial level of
        simulated binary sweeps), ``margin`` (model minus the majority or mean row), the other
        metrics of the model (``macro_f1``, ``balanced_accuracy``, ``cohen_kappa``, ``weighted_f1``,
        ``auroc`` or ``rmse``, ``pearson_r``; NaN where the sweep has no such figure),
        ``trial_overlap`` and ``sample_overlap`` (fractions), ``n_subjects``, ``snr``, ``simulated``.
    snrs : dict of str -> float
        Planted effect size per simulated dataset.
    """
    from ..simulate import DEFAULT_SNR, oracle_accuracies

    cards, snrs = {}, {}
    for f in sidecars:
        card = json.loads(Path(f).read_text())
        cards[card["dataset"]] = f
        snrs[card["dataset"]] = DEFAULT_SNR if card.get("snr") is None else float(card["snr"])
    rows = []
    for f in sweeps:
        res = json.loads(Path(f).read_text())
        meta = res["metadata"]
        key = {k: meta[k] for k in _KEY}
        regression = res.get("task") == "regression"
        metric = "ccc" if regression else "accuracy"
        ref, lin = ("mean", "ridge") if regression else ("majority", "logistic")
        model, ctrl = res["model"], res["model"] + CONTROL_SUFFIX
        oracle = np.nan
        if meta["dataset"] in cards and meta["task"] == "binary" and meta["target"] in ("valence", "arousal",
                                                                                      "dominance"):
            oracle = float(np.mean(list(oracle_accuracies(cards[meta["dataset"]], meta["target"]).values())))
        for level in ("window", "trial"):
            s = res["summary"].get(level, {})
            if model not in s:
                continue

            def get(row, m=metric, stat="mean"):
                return _nan_if_none(s.get(row, {}).get(f"{m}_{stat}"))

            row = {**key, "level": level, "metric": metric, "model_value": get(model), "model_std": get(model, stat="std"),
                   "reference": get(ref), "linear": get(lin), "chance": get("chance"), "shuffled": get(ctrl),
                   "oracle": oracle if level == "trial" else np.nan,
                   "margin": get(model) - get(ref),
                   "trial_overlap": float(np.mean([fo["trial_overlap"] for fo in res["folds"]])),
                   "sample_overlap": float(np.mean([fo["sample_overlap"] for fo in res["folds"]])),
                   "n_subjects": int(s[model].get("n_units") or 0), "snr": snrs.get(meta["dataset"], np.nan),
                   "simulated": meta["dataset"] in cards, "reference_row": ref, "linear_row": lin}
            for m in (("rmse", "pearson_r") if regression else METRICS[1:]):
                row[m] = get(model, m)
            rows.append(row)
    return pd.DataFrame(rows), snrs


def _fmt(v, metric, signed=False) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if metric in PERCENT:
        return f"{100 * v:+.1f}" if signed else f"{100 * v:.1f}"
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def _pair(df: pd.DataFrame, col: str, metric: str, signed=False) -> str:
    """``window / trial`` of one column."""
    by = {r["level"]: r[col] for _, r in df.iterrows()}
    return f"{_fmt(by.get('window'), metric, signed)} / {_fmt(by.get('trial'), metric, signed)}"


def results_markdown(df: pd.DataFrame, snrs: dict, every: pd.DataFrame | None = None) -> str:
    """The table of :func:`results_table` as Markdown: one row per sweep, window / trial in every cell.

    With ``every`` (:func:`metric_rows`), the table of every classification metric of every row
    (:func:`metrics_markdown`) follows it.
    """
    from ..simulate import DEFAULT_SNR

    lines = ["# Results (mean over subjects; every cell: window level / trial level)", "",
             "Window level scores every test window on its own; trial level the majority vote of a test trial's "
             "windows (regression: their mean). Classification cells are accuracy in %; regression cells are "
             "CCC. `score` is the model's; `majority` / `mean` is the reference fitted on the training fold; "
             "`logistic` / `ridge` a linear model on the flattened inputs; `shuffled` the same model trained on "
             "labels permuted across trials (must sit at chance); `margin` is the model minus the majority (mean) "
             "row, in points. The oracle is "
             "the Bayes rule on the simulator's planted band powers (an upper bound, trial level). Trial overlap: "
             "test windows whose trial also has training windows (the headline leakage figure: 0 % means no test "
             "trial was trained on); sample overlap: test windows sharing samples with a training window.", ""]
    if snrs:
        lines += ["Simulated data, planted effect size (snr; " + f"{DEFAULT_SNR:g} = the realistic default, "
                  "calibrated to honest DEAP accuracies): "
                  + ", ".join(f"{d} {v:g}" for d, v in sorted(snrs.items())) + ".", ""]
    rows = []
    for key, g in df.groupby(list(_KEY), sort=False) if not df.empty else ():
        metric = g["metric"].iloc[0]
        d = dict(zip(_KEY, key))
        oracle = g["oracle"].dropna()
        rows.append([d["dataset"], d["target"], d["task"], d["protocol"], d["model"], _pair(g, "model_value", metric),
                     _pair(g, "margin", metric, True), _pair(g, "reference", metric), _pair(g, "linear", metric),
                     _pair(g, "chance", metric), _pair(g, "shuffled", metric),
                     _fmt(oracle.iloc[0] if len(oracle) else np.nan, metric),
                     f"{100 * g['trial_overlap'].iloc[0]:.1f}", f"{100 * g['sample_overlap'].iloc[0]:.1f}"])
    lines += table_lines(rows, _RESULT_TITLES)
    if df.empty:
        return "\n".join(lines) + "\n"
    if every is not None and not every.empty:
        lines += ["", metrics_markdown(every)]
    cmp_md = comparison_markdown(df)
    if cmp_md:
        lines += ["", cmp_md]
    return "\n".join(lines) + "\n"


def comparison_markdown(df: pd.DataFrame) -> str:
    """The same model and data under ``trial-holdout`` and ``rbt-pooled``, side by side ('' when none).

    This is the table that explains the field's 99 % headlines: a pooled window split puts windows of
    every test trial into training (trial overlap ~100 %), and accuracy rises with it.
    """
    if df.empty:
        return ""
    keys = ["dataset", "target", "task", "model"]
    rows = []
    for key, g in df.groupby(keys, sort=False):
        protos = set(g["protocol"])
        if not {"trial-holdout", "rbt-pooled"} <= protos:
            continue
        metric = g["metric"].iloc[0]
        cells = [str(k) for k in key]
        for p in ("trial-holdout", "rbt-pooled"):
            h = g[g["protocol"] == p]
            cells += [_pair(h, "model_value", metric), _pair(h, "reference", metric),
                      f"{100 * h['trial_overlap'].iloc[0]:.1f}", f"{100 * h['sample_overlap'].iloc[0]:.1f}"]
        rows.append(cells)
    if not rows:
        return ""
    head = ["## Protocol comparison: the same model and data, trial-held-out against pooled windows", "",
            "trial-holdout: no window of a test trial is trained on; rbt-pooled: the RBTransformer paper's split, "
            "windows of all trials pooled and split at random, so every test trial also trains. Cells: model and "
            "majority (window / trial level), trial overlap %, sample overlap %.", ""]
    return "\n".join(head + table_lines(rows, _COMPARISON_TITLES)) + "\n"


def tabulate(sweeps, out, sidecars=()) -> str:
    """Write ``out.md`` and ``out.csv`` (atomically) from sweep results; return the Markdown."""
    df, snrs = results_table(sweeps, sidecars)
    out = Path(out)
    atomic_write_text(out.with_suffix(".csv"), df.to_csv(index=False))
    md = results_markdown(df, snrs, metric_rows(sweeps))
    atomic_write_text(out.with_suffix(".md"), md)
    return md


def metric_rows(sweeps) -> pd.DataFrame:
    """Every classification metric of every row of classification sweeps, window and trial level.

    Parameters
    ----------
    sweeps : sequence of path-like
        Sweep JSON results (regression sweeps are skipped).

    Returns
    -------
    table : pandas.DataFrame
        One row per (sweep, level, row): dataset, target, task, model, protocol, level, ``row``
        (the model, ``majority``, ``logistic``, ``chance``, ``shuffled``: the rows the sweep has),
        then the mean over subjects (folds for pooled protocols) of each metric of
        :data:`METRICS` (NaN where undefined or absent), and
        ``auroc_undefined`` / ``n_rows``: the fold rows whose AUROC is undefined, of all.
    """
    rows = []
    for f in sweeps:
        res = json.loads(Path(f).read_text())
        if res.get("task") == "regression":
            continue
        key = {k: res["metadata"][k] for k in _KEY}
        model = res["model"]
        names = {model: model, "majority": "majority", "logistic": "logistic", "chance": "chance",
                 model + CONTROL_SUFFIX: "shuffled"}
        for level in ("window", "trial"):
            s = res["summary"].get(level, {})
            for name, label in names.items():
                if name not in s:
                    continue
                recs = [r for r in res.get("records", []) if r.get("level") == level and r.get("model") == name]
                row = {**key, "level": level, "row": label}
                row.update({m: _nan_if_none(s[name].get(f"{m}_mean")) for m in METRICS})
                row["auroc_undefined"] = sum(1 for r in recs if "auroc" in r and r["auroc"] is None)
                row["n_rows"] = len(recs)
                rows.append(row)
    return pd.DataFrame(rows)


def metrics_markdown(every: pd.DataFrame) -> str:
    """The table of :func:`metric_rows`: per sweep and row, each metric as window / trial level."""
    keys = list(_KEY) + ["row"]
    rows, undefined = [], []
    for key, g in every.groupby(keys, sort=False):
        d = dict(zip(keys, key))
        rows.append([d["dataset"], d["target"], d["task"], d["protocol"], d["model"], d["row"]]
                    + [_pair(g, m, m) for m in METRICS])
        n_bad, n = int(g["auroc_undefined"].sum()), int(g["n_rows"].sum())
        if n_bad:
            undefined.append(f"{d['dataset']} {d['target']} {d['task']} {d['model']} {d['protocol']}, "
                             f"{d['row']}: {n_bad} of {n}")
    lines = ["## Every metric of every row (classification)", "",
             "Mean over subjects (over folds for pooled protocols) of each fold's figure; every cell: window "
             "level / trial level. Accuracy, macro-F1, balanced accuracy and weighted F1 in %; Cohen's kappa "
             "and AUROC (one-vs-rest, macro average over classes, from the class probabilities; trial level: "
             "the mean of a trial's window probabilities) as fractions. Chance is analytic: kappa 0, AUROC 0.5. "
             "The majority row's constant probabilities give AUROC 0.5 and kappa 0.", ""]
    lines += table_lines(rows, ("dataset", "target", "task", "protocol", "model", "row",
                                *_METRIC_TITLES))
    if undefined:
        lines += ["", "AUROC undefined (a test fold lacks a class, or the row has no class scores) on some fold "
                  "rows, window and trial level together; the mean is over the others: " + "; ".join(undefined)
                  + "."]
    return "\n".join(lines) + "\n"
