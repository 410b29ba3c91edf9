"""Tables over many sweep results, with the simulator's oracle where the data are simulated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import atomic_write_text

__all__ = ["results_table", "results_markdown", "tabulate"]

_KEY = ("dataset", "target", "task", "model", "protocol")


def results_table(sweeps, sidecars=()) -> tuple[pd.DataFrame, dict]:
    """One row per (sweep, level, row of its summary), plus the oracle row of simulated binary sweeps.

    Parameters
    ----------
    sweeps : sequence of path-like
        Sweep JSON results (:func:`~neuroaffect.pipeline.write_result`).
    sidecars : sequence of path-like
        ``simulation.json`` files of simulated datasets (for the oracle row and the snr).

    Returns
    -------
    table : pandas.DataFrame
        Columns: dataset, target, task, model, protocol, level, row, the metrics (mean and
        std), ``vs_reference`` (accuracy minus the majority row's, or the mean row's CCC gap),
        ``trial_overlap`` and ``sample_overlap`` (fractions).
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
        to = float(np.mean([fo["trial_overlap"] for fo in res["folds"]]))
        so = float(np.mean([fo["sample_overlap"] for fo in res["folds"]]))
        regression = res.get("task") == "regression"
        first = "ccc" if regression else "accuracy"
        ref_row = "mean" if regression else "majority"
        for level in ("window", "trial"):
            summary = res["summary"].get(level, {})
            ref = summary.get(ref_row, {}).get(f"{first}_mean", np.nan)
            for model, m in summary.items():
                row = {**key, "level": level, "row": model, "trial_overlap": to, "sample_overlap": so,
                       "vs_reference": _num(m[f"{first}_mean"]) - _num(ref)}
                row.update({k: _num(v) for k, v in m.items() if k != "n_units"})
                rows.append(row)
        if meta["dataset"] in cards and meta["task"] == "binary" and meta["target"] in ("valence", "arousal",
                                                                                      "dominance"):
            acc = np.array(list(oracle_accuracies(cards[meta["dataset"]], meta["target"]).values()))
            rows.append({**key, "level": "trial", "row": "oracle (simulator ground truth)",
                         "accuracy_mean": acc.mean(), "accuracy_std": acc.std()})
    return pd.DataFrame(rows), snrs


def _num(v):
    return np.nan if v is None else float(v)


def results_markdown(df: pd.DataFrame, snrs: dict) -> str:
    """The table of :func:`results_table` as Markdown, with its protocol note and both leakage figures."""
    from ..simulate import DEFAULT_SNR

    lines = ["# Results (mean +- std over subjects)", "",
             "Window level: every test window scored on its own; trial level: the majority vote of a test "
             "trial's windows (regression: their mean prediction). `vs majority`: accuracy minus the "
             "majority-class row's, in points (regression: CCC minus the predict-the-mean row's). Trial "
             "overlap: test windows whose trial also has training windows (0 % means no test trial was "
             "trained on); sample overlap: test windows sharing samples with a training window. The oracle "
             "is the Bayes rule on the simulator's planted band powers (an upper bound).", ""]
    if snrs:
        lines += ["Simulated data, planted effect size (snr; " + f"{DEFAULT_SNR:g} = the realistic default, "
                  "calibrated to honest DEAP accuracies): "
                  + ", ".join(f"{d} {v:g}" for d, v in sorted(snrs.items())) + ".", ""]
    lines += ["| dataset | target | task | model | protocol | level | row | accuracy % | vs majority | macro-F1 % "
              "| balanced acc. % | trial overlap % | sample overlap % |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def pct(v):
        return "" if pd.isna(v) else f"{100 * v:.1f}"

    def pts(v):
        return "" if pd.isna(v) else f"{100 * v:+.1f}"

    for r in df.to_dict("records"):
        if r["task"] == "regression":
            acc = f"CCC {r.get('ccc_mean', np.nan):.3f} +- {r.get('ccc_std', np.nan):.3f}"
            cells = [acc, pts(r.get("vs_reference")), f"RMSE {r.get('rmse_mean', np.nan):.3f}",
                     f"r {r.get('pearson_r_mean', np.nan):.3f}"]
        else:
            cells = [f"{pct(r.get('accuracy_mean'))} +- {pct(r.get('accuracy_std'))}", pts(r.get("vs_reference")),
                     pct(r.get("macro_f1_mean")), pct(r.get("balanced_accuracy_mean"))]
        lines.append(f"| {r['dataset']} | {r['target']} | {r['task']} | {r['model']} | {r['protocol']} | "
                     f"{r['level']} | {r['row']} | " + " | ".join(cells)
                     + f" | {pct(r.get('trial_overlap'))} | {pct(r.get('sample_overlap'))} |")
    return "\n".join(lines) + "\n"


def tabulate(sweeps, out, sidecars=()) -> str:
    """Write ``out.md`` and ``out.csv`` (atomically) from sweep results; return the Markdown."""
    df, snrs = results_table(sweeps, sidecars)
    out = Path(out)
    atomic_write_text(out.with_suffix(".csv"), df.to_csv(index=False))
    md = results_markdown(df, snrs)
    atomic_write_text(out.with_suffix(".md"), md)
    return md
