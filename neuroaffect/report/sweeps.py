"""The tables of one sweep or one experiment: mean +- std per model beside its reference rows, the
per-fold text report that ``neuroaffect experiment`` prints, and the Markdown of ``write_result``
(``docs/protocols.md`` explains the rows and the leakage figures).
"""

from __future__ import annotations

import numpy as np

from ..training.metrics import format_mean_std
from ..training.protocols import POOLED
from ..training.results import PERCENT, drift_sentence
from .markdown import table_lines

__all__ = ["METRIC_TITLES", "auroc_sentence", "experiment_text", "leakage_sentence", "result_markdown",
           "sweep_markdown"]

#: Column titles of the metrics.
METRIC_TITLES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "balanced_accuracy": "balanced accuracy",
                 "cohen_kappa": "Cohen's kappa", "weighted_f1": "weighted F1", "auroc": "AUROC",
                 "rmse": "RMSE", "pearson_r": "Pearson r", "ccc": "CCC"}


def leakage_sentence(folds: list[dict]) -> str:
    """Both leakage figures of a set of folds, trial overlap first (the headline).

    ``folds``: per fold, ``trial_overlap`` and ``sample_overlap`` (fractions of its test windows).
    """
    to = np.array([f["trial_overlap"] for f in folds], dtype=float)
    so = np.array([f["sample_overlap"] for f in folds], dtype=float)
    return (f"trial overlap (test windows whose trial also has training windows) {100 * to.mean():.1f} % "
            f"(max {100 * to.max():.1f} %); sample overlap (test windows sharing samples with a training "
            f"window) {100 * so.mean():.1f} % (max {100 * so.max():.1f} %)")


def _mean_std(metric: str, mean: float, std: float) -> str:
    """A metric's mean +- std as a table gives it (in % for the fractions of ``PERCENT``; ``-`` when
    undefined on every fold)."""
    if not np.isfinite(mean):
        return "-"
    return format_mean_std(mean, std, percent=metric in PERCENT)


def auroc_sentence(records, level: str) -> str:
    """Where AUROC is undefined: one sentence per reason over the ``level`` rows ('' when defined everywhere).

    ``records``: metric rows (``model``, ``level``, ``auroc``, ``auroc_note``), as in
    ``SweepResult.records``.
    """
    rows = [r for r in records if r.get("level") == level and "auroc" in r]
    bad = [r for r in rows if r.get("auroc") is None or not np.isfinite(r["auroc"])]
    if not bad:
        return ""
    by = {}
    for r in bad:
        by.setdefault(str(r.get("auroc_note") or "undefined"), set()).add(str(r["model"]))
    why = "; ".join(f"{note} ({', '.join(sorted(models))})" for note, models in by.items())
    return (f"AUROC is undefined (-) on {len(bad)} of {len(rows)} fold rows: {why}; a model's AUROC mean ± std "
            "is over the folds where it is defined.")


def sweep_markdown(result, level: str = "window", per_subject: bool = False) -> str:
    """Markdown table of mean +- std per model (percent for classification), both leakage figures under it.

    Parameters
    ----------
    result : SweepResult
        A :func:`~neuroaffect.training.run_sweep` result.
    level : {"window", "trial"}
        Which rows: every test window scored alone, or the vote (mean) of a test trial's windows.
    per_subject : bool
        Add a second table: each subject's fold-mean of the first metric for every row (not for
        pooled protocols).

    Returns
    -------
    md : str
    """
    s = result.summary(level)
    unit = "folds" if result.pooled else "subjects"
    titles = [METRIC_TITLES[m] for m in result.metrics]
    rows = [[model] + [_mean_std(m, row[f"{m}_mean"], row[f"{m}_std"]) for m in result.metrics]
            + [int(row["n_units"])] for model, row in s.iterrows()]
    lines = table_lines(rows, ["model", *titles, f"n {unit}"])
    n_subj = len({f["subject"] for f in result.folds})
    where = "pooled subjects" if result.pooled else f"{n_subj} subject(s)"
    lines += ["", f"{result.protocol}, {level} level, {len(result.folds)} folds over {where}; "
                  f"{leakage_sentence(result.folds)}."]
    if per_subject and not result.pooled:
        ps = result.per_subject(level)
        pct = result.metrics[0] in PERCENT
        rows = [[subj] + [f"{100 * v:.1f}" if pct else f"{v:.3f}" for v in row] for subj, row in ps.iterrows()]
        lines += [""] + table_lines(rows, ["subject", *ps.columns])
    for extra in (auroc_sentence(result.records, level), drift_sentence(result.records, level)):
        if extra:
            lines += ["", extra]
    return "\n".join(lines) + "\n"


def _fold_block(exp, level: str, leak: dict) -> list[str]:
    """One level of :func:`experiment_text`: per-fold first metric, then mean +- std of every metric."""
    sw = exp.sweep
    metrics, first = sw.metrics, sw.metrics[0]
    pct = first in PERCENT
    df = exp.table(level)
    if df.empty:
        return []
    models = list(dict.fromkeys(df["model"]))
    vals = df.pivot_table(index="fold", columns="model", values=first, aggfunc="first")[models]
    w = {m: max(10, len(m) + 2) for m in models}
    lines = ["", f"{level} level: {METRIC_TITLES[first]}{' (%)' if pct else ''} per fold",
             f"{'fold':<6}{'trial ovl':>10}{'sample ovl':>11}" + "".join(f"{m:>{w[m]}}" for m in models)]
    for fold, row in vals.iterrows():
        to, so = leak.get(fold, (float("nan"), float("nan")))
        lines.append(f"{fold:<6}{100 * to:>9.1f}%{100 * so:>10.1f}%" + "".join(
            (f"{100 * row[m]:>{w[m]}.1f}" if pct else f"{row[m]:>{w[m]}.3f}") for m in models))
    s = exp.summary(level)
    mw = max(len(m) for m in models) + 2
    lines += ["", f"{level} level: mean ± std over folds" + (" (%)" if pct else ""),
              f"{'model':<{mw}}" + "".join(f"{METRIC_TITLES[m]:>20}" for m in metrics)]
    for model, row in s.iterrows():
        lines.append(f"{model:<{mw}}" + "".join(
            f"{_mean_std(m, row[f'{m}_mean'], row[f'{m}_std']):>20}" for m in metrics))
    note = auroc_sentence(sw.records, level)
    return lines + (["", note] if note else [])


def experiment_text(exp, levels=("window", "trial")) -> str:
    """Plain-text report of one experiment: the data source, then per level the per-fold first
    metric of every row with both leakage figures, and mean +- std of each metric.

    Parameters
    ----------
    exp : ExperimentResult
        A :func:`~neuroaffect.training.run_experiment` result.
    levels : sequence of {"window", "trial"}

    Returns
    -------
    text : str
        What ``neuroaffect experiment`` prints.
    """
    sw = exp.sweep
    who = "all subjects pooled" if exp.subject is None or exp.subject == POOLED else f"subject {exp.subject}"
    what = "regression" if sw.is_regression else f"{sw.n_classes} classes"
    lines = [f"{exp.model_name} | {who} | {exp.protocol} ({exp.n_folds} folds) | {what}"]
    src = exp.metadata.get("source")
    if src:
        lines.append(f"data: {src}")
    leak = {f["fold"]: (f["trial_overlap"], f["sample_overlap"]) for f in sw.folds}
    for level in levels:
        lines += _fold_block(exp, level, leak)
    lines += ["", f"leakage: {leakage_sentence(sw.folds)}"]
    return "\n".join(lines) + "\n"


def result_markdown(result) -> str:
    """The Markdown of a sweep or experiment result: its title, the data source, then the summary
    table (:func:`sweep_markdown`) at window and trial level.

    Parameters
    ----------
    result : SweepResult | ExperimentResult
        With ``metadata`` (dataset, target, task, model, protocol, source) when known.

    Returns
    -------
    md : str
        What :func:`~neuroaffect.pipeline.write_result` writes as ``stem.md``.
    """
    sw = getattr(result, "sweep", result)
    meta = getattr(result, "metadata", None) or {}
    head = " ".join(str(meta.get(k, "")) for k in ("dataset", "target", "task", "model", "protocol")).strip()
    lines = [f"# {head}", ""] if head else []
    if meta.get("source"):
        lines += [f"Data: {meta['source']}.", ""]
    for level in ("window", "trial"):
        if not sw.to_frame(level).empty:
            lines += [f"## {level} level", "", sweep_markdown(sw, level)]
    return "\n".join(lines)
