"""The face student's ablation tables (``ablation.md``): FERPlus validation and test per arm beside
the published method's figures and the reference rows (majority class, pixel-logistic, the small CNN
trained with the students' budget), whether every arm beats the references, the cross-dataset sets,
the paired comparison across seeds and what the shuffled-grid control says (``docs/distillation.md``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import atomic_write_json, atomic_write_text
from ..distill.ablation import ARM_LABELS, paired_tests
from .markdown import table_lines, table_row

__all__ = ["PUBLISHED", "ablation_markdown", "write_ablation"]

#: Published figures (FERPlus validation, accuracy / macro-F1 / balanced accuracy, %), and the full
#: arm's cross-dataset figures (accuracy / present-only macro-F1 / balanced accuracy); set beside
#: ours as the published method's, not ours.
PUBLISHED = {
    "ferplus": {"B0": (78.22, 51.29, 49.77), "B1": (82.31, 63.56, 59.28), "B2": (81.48, 64.21, 60.30),
                "B3": (83.06, 64.74, 59.90)},
    "affectnet-mini": {"B3": (76.30, 75.60, 75.77)},
    "ckplus": {"B3": (64.93, 49.33, 52.46)},
}
_SCORES = ("accuracy", "macro_f1", "balanced_accuracy")
#: Table labels of the reference rows (``method`` of :func:`neuroaffect.distill.baseline_rows`' rows).
REFERENCE_LABELS = {"majority": "majority (reference)", "pixel-logistic": "pixel-logistic (reference)",
                    "small-cnn": "small CNN, the students' budget (reference)"}


def _reference_label(method: str) -> str:
    return REFERENCE_LABELS.get(method, f"{method} (reference)")


def _references(results: dict, set_name: str) -> list:
    """The reference rows of one set, in the order they were computed."""
    return [b for b in results["baselines"] if b["set"] == set_name]


def _ms(values, pct=True) -> str:
    """Mean +- std (population) of ``values`` (fractions; ``pct``: written in %), the mean alone for one value."""
    v = np.asarray(values, dtype=float) * (100 if pct else 1)
    return f"{v.mean():.1f} +- {v.std():.1f}" if v.size > 1 else f"{v.mean():.1f}"


def _ferplus_lines(records, results: dict, arms) -> list[str]:
    """The FERPlus table: validation and test per arm, the published column, the reference rows."""
    test = {a: [r for r in results["runs"] if r["arm"] == a and r["set"] == "ferplus-test"] for a in arms}
    rows = []
    for a in arms:
        val = [r["val"] for r in records if r["arm"] == a]
        pub = PUBLISHED["ferplus"].get(a)
        rows.append([ARM_LABELS[a]] + [_ms([v[k] for v in val]) for k in _SCORES]
                    + [_ms([r[k] for r in test[a]]) for k in _SCORES]
                    + [" / ".join(f"{x:.2f}" for x in pub) if pub else ""])
    lines = table_lines(rows, ["arm", "val acc", "val macro-F1", "val bACC", "test acc", "test macro-F1", "test bACC",
                               "published val acc / macro-F1 / bACC"])
    for b in _references(results, "ferplus-test"):
        val = [f"{100 * b['val'][k]:.1f}" for k in _SCORES] if isinstance(b.get("val"), dict) else ["", "", ""]
        lines.append(table_row([_reference_label(b["method"])] + val + [f"{100 * b[k]:.1f}" for k in _SCORES]
                               + [""], tight_empty=True))
    return lines


def _reference_check_lines(results: dict, arms) -> list[str]:
    """Whether every arm's mean FERPlus test macro-F1 is above pixel-logistic's and the small CNN's."""
    out = []
    for b in _references(results, "ferplus-test"):
        if b["method"] not in ("pixel-logistic", "small-cnn"):
            continue
        below = []
        for a in arms:
            vals = [r["macro_f1"] for r in results["runs"] if r["arm"] == a and r["set"] == "ferplus-test"]
            if vals and not np.mean(vals) > b["macro_f1"]:
                below.append(ARM_LABELS[a])
        n = sum(any(r["arm"] == a and r["set"] == "ferplus-test" for r in results["runs"]) for a in arms)
        name = "the small CNN" if b["method"] == "small-cnn" else b["method"]
        out.append(f"Arms above {name} ({100 * b['macro_f1']:.1f}) on FERPlus test macro-F1: {n - len(below)} of {n}"
                   + (f" (not: {', '.join(below)})" if below else "") + ".")
    if any(b["method"] == "small-cnn" for b in _references(results, "ferplus-test")):
        out.append("The small CNN is a plain 3-block CNN trained with the students' data, input size, epochs, "
                   "optimiser and selection and B0's loss: an arm below it learns less than the smallest network "
                   "given the same budget.")
    return ["", " ".join(out)] if out else []


def _cross_lines(results: dict, arms, cross) -> list[str]:
    """The cross-dataset table (present-only macro-F1), the published full-arm figures, the classes present."""
    keys = ("accuracy", "present_macro_f1", "balanced_accuracy")
    rows = []
    for a in arms:
        cells = [ARM_LABELS[a]]
        for s in cross:
            rs = [r for r in results["runs"] if r["arm"] == a and r["set"] == s]
            cells += [_ms([r[k] for r in rs]) for k in keys]
        rows.append(cells)
    methods = list(dict.fromkeys(b["method"] for b in results["baselines"] if b["set"] in cross))
    for method in methods:
        cells = [_reference_label(method)]
        for s in cross:
            b = next((b for b in results["baselines"] if b["method"] == method and b["set"] == s), None)
            cells += ["" if b is None else f"{100 * b[k]:.1f}" for k in keys]
        rows.append(cells)
    lines = ["", "## Cross-dataset (present-only macro-F1: averaged over the classes present in the set)", ""]
    lines += table_lines(rows, ["arm"] + [f"{s} {t}" for s in cross for t in ("acc", "present-only macro-F1", "bACC")])
    pubs = [f"{s}: " + " / ".join(f"{x:.2f}" for x in PUBLISHED[s]["B3"]) for s in cross if s in PUBLISHED]
    if pubs:
        lines += ["", "Published full-arm cross-dataset figures (their protocol, accuracy / macro-F1 / bACC): "
                  + "; ".join(pubs) + "."]
    lines += ["", "Classes present: " + "; ".join(f"{s} ({results['sets'][s]['n']} images): "
                                                 f"{', '.join(results['sets'][s]['classes'])}" for s in cross) + "."]
    return lines


def _interval(t: dict) -> str:
    lo, hi = t.get("ci_low", float("nan")), t.get("ci_high", float("nan"))
    return "" if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{100 * lo:+.2f}, {100 * hi:+.2f}]"


def _control_lines(by: dict) -> list[str]:
    """What the grid arms allow to say: the power check (oracle over coordinate-only) first, then the EEG grid.

    No verdict is drawn from a comparison that could not have seen an effect, and a non-significant
    difference is never read as "no information" (``docs/distillation.md``, "The transfer experiment").
    """
    def fig(t):
        return f"{100 * t['mean_difference']:+.2f} points, p {t['p']:.3f}, Holm {t.get('p_holm', float('nan')):.3f}, {t['n_seeds']} seed(s)"

    power, ctrl = by.get("B3-oracle - B3-coordinate"), by.get("B3 - B3-shuffled")
    if ctrl is None and power is None:
        return []
    if (power or ctrl)["n_seeds"] < 2:
        return ["", "Grid arms: one seed allows no test, so this run cannot tell whether any grid helps more than "
                    "another (benchmarks/bench_transfer.py runs the powered experiment)."]
    lines = [""]
    if power is not None:
        passed = power["mean_difference"] > 0 and power["p"] < 0.05
        lines.append(f"Power check: the oracle grid {'beat' if passed else 'did not beat'} the coordinate-only grid "
                     f"(B3-oracle - B3-coordinate {fig(power)}).")
        if not passed:
            lines.append("This run could not have seen a transfer: nothing is concluded about the EEG grid.")
            return lines
    if ctrl is not None:
        found = ctrl["p"] < 0.05
        word = ("better" if ctrl["mean_difference"] > 0 else "worse") if found else "no difference detected"
        lines.append(f"EEG grid against the shuffled grid: {word} (B3 - B3-shuffled {fig(ctrl)})"
                     + ("." if found else "; a difference not detected is not shown to be absent "
                                          "(bench_transfer.py tests equivalence)."))
    return lines


def _paired_lines(tests: list) -> list[str]:
    """The paired comparison across seeds, and what the grid arms allow to say (:func:`_control_lines`)."""
    lines = ["", "## Paired comparison across seeds (FERPlus test macro-F1)", ""]
    rows = [[t["comparison"], t["n_seeds"], f"{100 * t['mean_difference']:+.2f}", _interval(t), f"{t['t']:.2f}",
             f"{t['p']:.3f}", f"{t.get('p_holm', float('nan')):.3f}"] for t in tests]
    lines += table_lines(rows, ["comparison", "seeds", "mean difference (points)", "95 % CI", "t", "p", "p (Holm)"])
    lines += _control_lines({t["comparison"]: t for t in tests})
    return lines


def ablation_markdown(records, results: dict, *, scale_note: str = "") -> str:
    """The ablation and cross-dataset tables (Markdown).

    Parameters
    ----------
    records : list of dict
        One per trained (arm, seed): ``arm``, ``seed``, ``val`` (FERPlus validation accuracy,
        macro_f1, balanced_accuracy, fractions).
    results : dict
        :func:`neuroaffect.pipeline.evaluate_students`' ``runs`` (one row per arm, seed and set),
        ``baselines`` (majority and pixel-logistic rows per set) and ``sets`` (size and classes).
    scale_note : str
        A sentence under the title (e.g. the run's scale).

    Returns
    -------
    md : str
        Figures in % (mean +- std over seeds), the published method's in their own column.
    """
    arms = [a for a in ARM_LABELS if any(r["arm"] == a for r in records)]
    seeds = sorted({r["seed"] for r in records})
    lines = ["# Distilled FER student: ablation", ""]
    if scale_note:
        lines += [scale_note, ""]
    lines += [f"Arms x seeds {len(arms)} x {len(seeds)} (seeds {seeds}). Every checkpoint was chosen by macro-F1 "
              "on FERPlus validation; test and cross-dataset sets were evaluated once, after all training. "
              "Figures: mean +- std over seeds, %. The published column is the published method's own "
              "(FERPlus validation), not ours.", "", "## FERPlus", ""]
    lines += _ferplus_lines(records, results, arms)
    lines += _reference_check_lines(results, arms)
    cross = [s for s in results["sets"] if s != "ferplus-test"]
    if cross:
        lines += _cross_lines(results, arms, cross)
    tests = paired_tests(results["runs"])
    if tests:
        lines += _paired_lines(tests)
    return "\n".join(lines) + "\n"


def write_ablation(records, results, out, *, scale_note: str = "") -> list:
    """Write ``out/ablation.md`` (:func:`ablation_markdown`) and ``out/ablation.json`` (every row, the
    paired tests) atomically; return the paths."""
    out = Path(out)
    md = ablation_markdown(records, results, scale_note=scale_note)
    return [atomic_write_text(out / "ablation.md", md),
            atomic_write_json(out / "ablation.json", {"records": [{k: v for k, v in r.items() if k != "history"}
                                                                  for r in records], **results,
                                                      "paired": paired_tests(results["runs"])})]
