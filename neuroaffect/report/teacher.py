"""The EEG teacher's tables: its cross-validated error beside the baselines on the same folds, and the final
teacher beside the baselines on its held-out windows (``docs/prototypes.md``, "The teacher's error")."""

from __future__ import annotations

import math

from .markdown import format_cell, table_lines

__all__ = ["teacher_cv_markdown", "teacher_holdout_markdown"]

_METRICS = ("rmse", "pearson_r", "ccc")


def _interval(mean, low, high) -> str:
    """``0.513 [0.449, 0.578]``; the interval left out where it is undefined (one subject)."""
    def num(x):  # rounded first, so that -1e-17 is written 0.000, not -0.000
        return format_cell(None if x is None else round(float(x), 3) + 0.0, ".3f")

    text = num(mean)
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return text
    return f"{text} [{num(low)}, {num(high)}]"


def _cv_cell(row: dict, m: str) -> str:
    if f"{m}_ci_low" in row:
        return _interval(row[f"{m}_mean"], row[f"{m}_ci_low"], row[f"{m}_ci_high"])
    return f"{row[m + '_mean']:.3f} +- {row[m + '_std']:.3f}"  # a summary written before the intervals


def teacher_cv_markdown(table: list, title: str = "") -> str:
    """The teacher's cross-validated error beside its baselines, as Markdown (``cv_markdown`` of ``teacher.json``).

    Parameters
    ----------
    table : list of dict
        :class:`~neuroaffect.prototypes.teacher.TeacherCV` ``table``: per target, level and row
        (``teacher``, ``ridge``, ``mean``, ``shuffled labels``), ``rmse``, ``pearson_r`` and ``ccc`` as
        ``_mean``, ``_std`` (ddof=1), ``_ci_low`` and ``_ci_high`` over subjects (normalised
        valence/arousal units); the baselines' ``ccc_diff`` (teacher - row) with its interval and
        ``p_holm``. Rows without intervals (older summaries) are written as mean +- std.
    title : str
        A ``###`` heading above the table (none when empty).

    Returns
    -------
    md : str
        The table and a caption saying how every figure was computed.
    """
    rows = []
    for r in table:
        diff = _interval(r["ccc_diff"], r.get("ccc_diff_ci_low"), r.get("ccc_diff_ci_high")) if "ccc_diff" in r \
            else ""
        rows.append([r["target"], r["level"], r["row"], *(_cv_cell(r, m) for m in _METRICS), diff,
                     format_cell(r.get("p_holm"), ".3f", missing="")])
    lines = [f"### {title}", ""] if title else []
    lines += table_lines(rows, ["target", "level", "row", "RMSE", "Pearson r", "CCC", "teacher - row, CCC",
                                "p (Holm)"], tight_empty=True)
    n = max((r.get("n_subjects", 0) for r in table), default=0)
    n_cmp = sum("p_holm" in r for r in table)
    if any("_ci_low" in k for r in table for k in r):
        shuffled = any(r["row"] == "shuffled labels" for r in table)
        lines += ["", f"Each cell: mean over {n} subjects [95 % t interval over subjects, SD with ddof 1]. r and CCC "
                  "are computed once per subject over all its pooled out-of-fold predictions (window level: its "
                  "windows; trial level: its trials, each the mean of its windows' predictions), never per test "
                  "fold. Rows on the same folds: ridge on the flattened maps (penalty chosen by a trial-grouped "
                  "inner cross-validation on the training folds) and the mean predictor (each training fold's mean; "
                  "its pooled r is negative by construction, since a fold's training mean moves against its test "
                  "trials' ratings, and its CCC near 0)" + (
                      "; shuffled labels: the same teacher trained on labels permuted across the subject's training "
                      "trials (same seeds and epochs)" if shuffled else
                      "; no shuffled-label row (only the grid's teacher has one)") + ". Last columns: the paired "
                  "difference of the teacher's CCC and the row's over subjects, and its paired t-test, "
                  f"Holm-corrected across the {n_cmp} comparisons of this table. Intervals over so few subjects are "
                  "wide (a t interval of r can pass +-1): read them as what these data can and cannot tell apart."]
    return "\n".join(lines) + "\n"


def teacher_holdout_markdown(table: list) -> str:
    """The final teacher and its baselines on the held-out windows, and what the comparison says.

    Parameters
    ----------
    table : list of dict
        :func:`~neuroaffect.prototypes.teacher_eval.holdout_table`: per target, level and row
        (``teacher``, ``ridge``, ``mean``), ``rmse``, ``pearson_r``, ``ccc`` with ``_ci_low`` /
        ``_ci_high``; the ``mean`` row's ``rmse_diff`` (teacher - mean) with its interval and
        ``teacher_worse_than_mean``.

    Returns
    -------
    md : str
        The table, its caption, and one line per target and level where the teacher's RMSE is above the
        mean predictor's (or one line saying it is below it everywhere).
    """
    rows = [[r["target"], r["level"], r["row"], *(_interval(r[m], r.get(f"{m}_ci_low"), r.get(f"{m}_ci_high"))
                                                  for m in _METRICS)] for r in table]
    lines = table_lines(rows, ["target", "level", "row", "RMSE", "Pearson r", "CCC"])
    lines += ["", "Held-out windows pooled over subjects (trial level: each held-out trial's rating against the mean "
              "of its windows' predictions). Baselines fitted on the final teacher's training windows only: the "
              "mean predictor (their mean rating) and ridge on the flattened maps. Brackets: 95 % percentile "
              "bootstrap interval over the held-out trials. Pooled over subjects, these figures are not those "
              "of the cross-validated table, which are computed per subject.", ""]
    worse = [r for r in table if r["row"] == "mean" and r.get("teacher_worse_than_mean")]
    for r in worse:
        diff = _interval(r["rmse_diff"], r.get("rmse_diff_ci_low"), r.get("rmse_diff_ci_high"))
        low = r.get("rmse_diff_ci_low")
        if low is not None and math.isfinite(low) and low > 0:  # the whole interval above 0
            lines.append(f"- **The final teacher is worse than the mean predictor** on {r['target']} ({r['level']} "
                         f"level): RMSE difference teacher - mean {diff}.")
        else:
            lines.append(f"- The final teacher's RMSE is above the mean predictor's on {r['target']} ({r['level']} "
                         f"level), by {diff}: an interval that holds 0, so not shown to be worse.")
    if not worse:
        lines.append("- The final teacher's RMSE is below the mean predictor's on every target and level.")
    teacher = {(r["target"], r["level"]): r for r in table if r["row"] == "teacher"}
    for r in table:
        t = teacher.get((r["target"], r["level"]))
        if r["row"] == "ridge" and t is not None and r["rmse"] < t["rmse"]:
            lines.append(f"- Ridge on the same maps has a lower RMSE than the teacher on {r['target']} "
                         f"({r['level']} level): {r['rmse']:.3f} against {t['rmse']:.3f}.")
    return "\n".join(lines) + "\n"
