"""The table of a cross-dataset run: the pooled scores of the model and its reference rows on the target,
and the same per target subject (mean +- std across them), under the run's channels and parameters
(``docs/protocols.md``, "cross-dataset").
"""

from __future__ import annotations

import numpy as np

from ..training.metrics import format_mean_std
from .markdown import table_lines
from .sweeps import leakage_sentence

__all__ = ["transfer_markdown"]

#: Metrics of the pooled table, with their titles: proportions in %, kappa and AUROC as they are.
_POOLED = (("accuracy", "accuracy (%)"), ("macro_f1", "macro-F1 (%)"), ("balanced_accuracy", "balanced accuracy (%)"),
           ("cohen_kappa", "Cohen's kappa"), ("weighted_f1", "weighted F1 (%)"), ("auroc", "AUROC"))
_PERCENT = {"accuracy", "macro_f1", "balanced_accuracy", "weighted_f1"}


def _pct(v) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{100 * float(v):.1f}"


def _cell(metric: str, v) -> str:
    if metric in _PERCENT:
        return _pct(v)
    return "-" if v is None or not np.isfinite(v) else f"{float(v):.3f}"


def _pooled_table(sw, level: str, n_trials: int | None = None) -> list[str]:
    """One row per model and reference row: its score on all target windows (or trials) at once.

    ``n_trials``: the number of target trials the trial-level rows vote over (the frame counts windows).
    """
    frame = sw.to_frame(level)
    rows = [[str(r["model"])] + [_cell(m, r.get(m)) for m, _ in _POOLED] + [str(int(r["n_test"]))]
            + ([] if n_trials is None else [str(n_trials)]) for _, r in frame.iterrows()]
    return table_lines(rows, ["row"] + [t for _, t in _POOLED] + ["n test windows"]
                       + ([] if n_trials is None else ["n test trials"]))


def _sd(x: np.ndarray) -> float:
    """Sample standard deviation (ddof 1); NaN for fewer than two subjects."""
    return float(x.std(ddof=1)) if x.size > 1 else float("nan")


def _subject_table(per_subject: list, level: str) -> list[str]:
    """Mean +- std (ddof 1) across target subjects of each row's accuracy and balanced accuracy."""
    here = [r for r in per_subject if r["level"] == level]
    models = list(dict.fromkeys(r["model"] for r in here))
    rows = []
    for m in models:
        acc = np.array([r["accuracy"] for r in here if r["model"] == m], dtype=float)
        bal = np.array([r["balanced_accuracy"] for r in here if r["model"] == m], dtype=float)
        rows.append([m, format_mean_std(acc.mean(), _sd(acc)), format_mean_std(bal.mean(), _sd(bal)),
                     str(acc.size)])
    return table_lines(rows, ["row", "accuracy", "balanced accuracy", "n target subjects"])


def transfer_markdown(result) -> str:
    """Markdown of a ``cross-dataset`` result (:func:`neuroaffect.pipeline.cross_dataset`).

    Parameters
    ----------
    result : SweepResult
        With the ``metadata`` the pipeline sets: ``source_dataset``, ``target_dataset``, ``target``,
        ``task``, ``model``, ``ch_names``, ``feature_params_hash``, ``source`` (description),
        ``per_target_subject``.

    Returns
    -------
    md : str
        Title, what trained and what was tested, the pooled table at window and trial level, the
        per-subject table, and both leakage figures.
    """
    meta = result.metadata or {}
    src, tgt = meta.get("source_dataset", "?"), meta.get("target_dataset", "?")
    chans = meta.get("ch_names", [])
    lines = [f"# Cross-dataset: {src} -> {tgt}, {meta.get('target')} ({meta.get('task')}), {meta.get('model')}", "",
             f"One model trained on every {src} window ({meta.get('n_source_windows')} windows) and tested on every "
             f"{tgt} window ({meta.get('n_target_windows')} windows of subjects "
             f"{meta.get('target_subjects')}), pooled; the reference rows are fitted on the same {src} windows. "
             f"Channels: the {len(chans)} both datasets have, in {src}'s order ({', '.join(chans)}); features of "
             f"parameters {str(meta.get('feature_params_hash', ''))[:12]} for both; labels by each dataset's own "
             f"{meta.get('task')} rule.", ""]
    if meta.get("source"):
        lines += [f"Data: {meta['source']}.", ""]
    for level in ("window", "trial"):
        if result.to_frame(level).empty:
            continue
        per = meta.get("per_target_subject") or []
        n_trials = sum(int(r["n"]) for r in per if r["level"] == "trial" and r["model"] == per[0]["model"]) \
            if level == "trial" and any(r["level"] == "trial" and "n" in r for r in per) else None
        lines += [f"## {level} level, pooled over the target's subjects", "", *_pooled_table(result, level, n_trials),
                  ""]
        if any(r["level"] == level for r in per):
            lines += [f"Per target subject ({level} level), mean ± std across subjects:", "",
                      *_subject_table(per, level), ""]
    lines += [f"Leakage: {leakage_sentence(result.folds)} (the datasets share no trial).", ""]
    return "\n".join(lines)
