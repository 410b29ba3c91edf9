"""The face student's ablation tables (``ablation.md``): FERPlus validation and test per arm beside
the published method's figures and the reference rows (majority class, pixel-logistic, the small CNN
trained with the students' budget), intervals over seeds and over test images, whether every arm
beats the references, calibration (ECE, NLL), the cross-dataset sets, the paired comparisons across
seeds with Holm's correction and the detectable difference, what KD adds and what the grid arms
allow to say, per-class precision / recall / F1 and the confusion matrices (``docs/distillation.md``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import atomic_write_json, atomic_write_text
from ..distill.ablation import ARM_LABELS, image_intervals, paired_tests, select_run
from ..labels import FER_CLASSES
from ..training import mean_ci
from .markdown import format_cell, table_lines, table_row
from .proto_targets import proto_target_lines

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
    """Mean +- sample SD (ddof=1) of ``values`` (fractions; ``pct``: written in %), the mean alone for one value."""
    s = mean_ci(np.asarray(values, dtype=float) * (100 if pct else 1))
    if s["n"] == 0:
        return ""
    return f"{s['mean']:.1f} +- {s['sd']:.1f}" if s["n"] > 1 else f"{s['mean']:.1f}"


def _seed_ci(values) -> str:
    """The 95 % t interval of the mean over seeds, in %, or "" with fewer than two seeds."""
    s = mean_ci(np.asarray(values, dtype=float) * 100)
    return f"[{s['ci_low']:.1f}, {s['ci_high']:.1f}]" if s["n"] > 1 else ""


def _image_ci(iv) -> str:
    """A bootstrap interval over test images (:func:`~neuroaffect.distill.ablation.bootstrap_macro_f1`), in %."""
    if not iv or not np.isfinite(iv.get("ci_low", np.nan)):
        return ""
    return f"[{100 * iv['ci_low']:.1f}, {100 * iv['ci_high']:.1f}]"


def _intervals(results: dict) -> dict:
    """Bootstrap intervals over test images of every arm and reference, per set: ``{set: {"arms", "references"}}``.

    FERPlus test: 8-way macro-F1; the cross-dataset sets: present-only macro-F1.
    """
    out = {}
    for name in results.get("sets", {}):
        present = name != "ferplus-test"
        out[name] = {"arms": image_intervals(results["runs"], results["sets"], name, present=present),
                     "references": image_intervals(results.get("baselines", []), results["sets"], name, key="method",
                                                   present=present)}
    return out


def _ferplus_lines(records, results: dict, arms, iv: dict) -> list[str]:
    """The FERPlus table: validation and test per arm, intervals of test macro-F1, published column, references."""
    test = {a: [r for r in results["runs"] if r["arm"] == a and r["set"] == "ferplus-test"] for a in arms}
    boot = iv.get("ferplus-test", {"arms": {}, "references": {}})
    rows = []
    for a in arms:
        val = [r["val"] for r in records if r["arm"] == a]
        pub = PUBLISHED["ferplus"].get(a)
        rows.append([ARM_LABELS[a]] + [_ms([v[k] for v in val]) for k in _SCORES]
                    + [_ms([r[k] for r in test[a]]) for k in _SCORES]
                    + [_seed_ci([r["macro_f1"] for r in test[a]]), _image_ci(boot["arms"].get(a))]
                    + [" / ".join(f"{x:.2f}" for x in pub) if pub else ""])
    lines = table_lines(rows, ["arm", "val acc", "val macro-F1", "val bACC", "test acc", "test macro-F1", "test bACC",
                               "test macro-F1 95 % CI, seeds", "test macro-F1 95 % CI, images",
                               "published val acc / macro-F1 / bACC"])
    for b in _references(results, "ferplus-test"):
        val = [f"{100 * b['val'][k]:.1f}" for k in _SCORES] if isinstance(b.get("val"), dict) else ["", "", ""]
        lines.append(table_row([_reference_label(b["method"])] + val + [f"{100 * b[k]:.1f}" for k in _SCORES]
                               + ["", _image_ci(boot["references"].get(b["method"])), ""], tight_empty=True))
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


def _cross_lines(results: dict, arms, cross, iv: dict) -> list[str]:
    """The cross-dataset table (present-only macro-F1 and its bootstrap interval over the set's images), the
    published full-arm figures, the classes present."""
    keys = ("accuracy", "present_macro_f1", "balanced_accuracy")
    rows = []
    for a in arms:
        cells = [ARM_LABELS[a]]
        for s in cross:
            rs = [r for r in results["runs"] if r["arm"] == a and r["set"] == s]
            cells += [_ms([r[k] for r in rs]) for k in keys] + [_image_ci(iv.get(s, {}).get("arms", {}).get(a))]
        rows.append(cells)
    methods = list(dict.fromkeys(b["method"] for b in results["baselines"] if b["set"] in cross))
    for method in methods:
        cells = [_reference_label(method)]
        for s in cross:
            b = next((b for b in results["baselines"] if b["method"] == method and b["set"] == s), None)
            cells += ["" if b is None else f"{100 * b[k]:.1f}" for k in keys]
            cells.append(_image_ci(iv.get(s, {}).get("references", {}).get(method)))
        rows.append(cells)
    lines = ["", "## Cross-dataset (present-only macro-F1: averaged over the classes present in the set)", ""]
    lines += table_lines(rows, ["arm"] + [f"{s} {t}" for s in cross for t in
                                          ("acc", "present-only macro-F1", "bACC", "present-only macro-F1 95 % CI, images")])
    pubs = [f"{s}: " + " / ".join(f"{x:.2f}" for x in PUBLISHED[s]["B3"]) for s in cross if s in PUBLISHED]
    if pubs:
        lines += ["", "Published full-arm cross-dataset figures (their protocol, accuracy / macro-F1 / bACC): "
                  + "; ".join(pubs) + "."]
    lines += ["", "Classes present: " + "; ".join(f"{s} ({results['sets'][s].get('n', '?')} images): "
                                                 f"{', '.join(results['sets'][s].get('classes', []))}" for s in cross)
              + ". The image intervals resample the set's images (percentile bootstrap, 2,000 resamples, the same "
                "images for every seed of an arm): they show what the set's size alone leaves open."]
    return lines


def _calibration_lines(results: dict, arms, set_name: str = "ferplus-test") -> list[str]:
    """ECE, NLL and over-confidence per arm (mean +- SD over seeds) and of the references with probabilities."""
    runs = {a: [r for r in results["runs"] if r["arm"] == a and r["set"] == set_name and "ece" in r] for a in arms}
    refs = [b for b in _references(results, set_name) if "ece" in b]
    if not any(runs.values()) and not refs:
        return []
    keys = (("ece", False), ("nll", False), ("overconfident", True), ("mean_confidence", True), ("accuracy", True))

    def cell(values, pct):
        s = mean_ci(np.asarray(values, dtype=float) * (100 if pct else 1))
        digits = 1 if pct else 3
        return "" if s["n"] == 0 else (f"{s['mean']:.{digits}f}" + (f" +- {s['sd']:.{digits}f}" if s["n"] > 1 else ""))

    rows = [[ARM_LABELS[a]] + [cell([r[k] for r in rs], pct) for k, pct in keys] for a, rs in runs.items() if rs]
    rows += [[_reference_label(b["method"])] + [cell([b[k]], pct) for k, pct in keys] for b in refs]
    lines = ["", f"## Calibration ({set_name})", ""]
    lines += table_lines(rows, ["arm", "ECE", "NLL (nats)", "top probability > 0.99 (%)", "mean top probability (%)",
                                "accuracy (%)"])
    lines += ["", "ECE: expected calibration error of the top-class probability over 15 equal-width bins (the "
                  "bins' accuracy against their mean probability, weighted by their share of images); NLL: mean "
                  "negative log-likelihood of the true class. Reliability diagram of every arm (seeds pooled): "
                  "`reliability.png` beside this table (in the workflow's report)."]
    return lines


def _per_class_lines(results: dict, arms, set_name: str) -> list[str]:
    """Per-class precision / recall / F1 of every arm (mean over seeds) and reference, in %, on one set."""
    runs = {a: [r for r in results["runs"] if r["arm"] == a and r["set"] == set_name and "per_class" in r]
            for a in arms}
    cols = {a: [r["per_class"] for r in rs] for a, rs in runs.items() if rs}
    cols.update({f"{b['method']} (ref.)": [b["per_class"]] for b in _references(results, set_name)
                 if "per_class" in b and b["method"] != "majority"})
    if not cols:
        return []
    support = next(iter(cols.values()))[0]["support"]
    rows = []
    for k, name in enumerate(FER_CLASSES):
        cells = [name, support[k]]
        for pcs in cols.values():
            cells.append(" / ".join(f"{100 * np.mean([pc[m][k] for pc in pcs]):.0f}" for m in ("precision", "recall",
                                                                                           "f1")))
        rows.append(cells)
    lines = ["", f"## Per-class precision / recall / F1 ({set_name}, %, mean over seeds)", ""]
    lines += table_lines(rows, ["class", "images", *cols])
    return lines


def _confusion_lines(records, results: dict, arms) -> list[str]:
    """The confusion matrices (counts) of the deployed arm's selected run, one per set, as Markdown."""
    arm = "B3" if "B3" in arms else (arms[0] if arms else None)
    if arm is None or not any(r["arm"] == arm for r in records):
        return []
    seed = select_run(records, arm)["seed"]
    cms = [(r["set"], r["confusion"]) for r in results["runs"]
           if r["arm"] == arm and r["seed"] == seed and r.get("confusion") is not None]
    if not cms:
        return []
    lines = ["", f"## Confusion matrices ({ARM_LABELS.get(arm, arm)}, seed {seed}: best FERPlus validation "
                 "macro-F1; counts, rows true class, columns predicted)"]
    for name, cm in cms:
        lines += ["", f"{name}:", ""]
        lines += table_lines([[c, *row] for c, row in zip(FER_CLASSES, cm)], ["true class", *FER_CLASSES])
    return lines


def _interval(t: dict) -> str:
    lo, hi = t.get("ci_low", float("nan")), t.get("ci_high", float("nan"))
    return "" if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{100 * lo:+.2f}, {100 * hi:+.2f}]"


def _p(t: dict) -> float:
    """The Holm-corrected p of a comparison (its raw p where no correction was applied)."""
    return t.get("p_holm", t["p"])


def _undetected(t: dict) -> str:
    """The words for a difference not detected: undetectable at this power, with the power stated."""
    det = t.get("detectable", float("nan"))
    power = (f" (these {t['n_seeds']} seeds detect, with 80 % power at a two-sided 5 % level, a difference of "
             f"{100 * det:.2f} points or more)") if np.isfinite(det) else ""
    return "undetectable at this power" + power


def _control_lines(by: dict) -> list[str]:
    """What the grid arms allow to say: the power check (oracle over coordinate-only) first, then the EEG grid.

    No verdict is drawn from a comparison that could not have seen an effect; a non-significant
    difference is "undetectable at this power" with that power stated, never read as the grid
    carrying nothing (``docs/distillation.md``, "The transfer experiment"). Significance is Holm's,
    over the table's comparisons.
    """
    def fig(t):
        return (f"{100 * t['mean_difference']:+.2f} points, p {t['p']:.3f}, Holm {t.get('p_holm', float('nan')):.3f}, "
                f"{t['n_seeds']} seed(s)")

    power, ctrl = by.get("B3-oracle - B3-coordinate"), by.get("B3 - B3-shuffled")
    if ctrl is None and power is None:
        return []
    if (power or ctrl)["n_seeds"] < 2:
        return ["", "Grid arms: one seed allows no test, so this run cannot tell whether any grid helps more than "
                    "another (benchmarks/bench_transfer.py runs the powered experiment)."]
    lines = [""]
    if power is not None:
        passed = power["mean_difference"] > 0 and _p(power) < 0.05
        lines.append(f"Power check: the oracle grid {'beat' if passed else 'did not beat'} the coordinate-only grid "
                     f"(B3-oracle - B3-coordinate {fig(power)}).")
        if not passed:
            lines.append("This run could not have seen a transfer: nothing is concluded about the EEG grid.")
            return lines
    if ctrl is not None:
        found = _p(ctrl) < 0.05
        word = ("better" if ctrl["mean_difference"] > 0 else "worse") if found else _undetected(ctrl)
        lines.append(f"EEG grid against the shuffled grid: {word} (B3 - B3-shuffled {fig(ctrl)})"
                     + ("." if found else "; a difference not detected is not shown to be absent "
                                          "(bench_transfer.py tests equivalence)."))
    return lines


def _kd_lines(by: dict) -> list[str]:
    """What KD adds (B1 - B0), stated only as far as the test goes."""
    t = by.get("B1 - B0")
    if t is None or t["n_seeds"] < 2:
        return []
    found = _p(t) < 0.05
    word = ("KD helps" if t["mean_difference"] > 0 else "KD hurts") if found else f"the effect of KD is {_undetected(t)}"
    return ["", f"KD (B1 - B0): {word} ({100 * t['mean_difference']:+.2f} points, 95 % CI {_interval(t)}, p "
                f"{t['p']:.3f}, Holm {_p(t):.3f}, {t['n_seeds']} seeds)"
                + ("." if found else "; a difference not detected is not shown to be absent.")]


def _paired_lines(tests: list) -> list[str]:
    """The paired comparisons across seeds, what KD adds and what the grid arms allow to say."""
    lines = ["", "## Paired comparison across seeds (FERPlus test macro-F1)", ""]
    rows = [[t["comparison"], t["n_seeds"], f"{100 * t['mean_difference']:+.2f}", _interval(t),
             format_cell(100 * t.get("sd", float("nan")), ".2f"), f"{t['t']:.2f}", f"{t['p']:.3f}",
             f"{t.get('p_holm', float('nan')):.3f}", format_cell(100 * t.get("detectable", float("nan")), ".2f")]
            for t in tests]
    lines += table_lines(rows, ["comparison", "seeds", "mean difference (points)", "95 % CI", "SD of differences",
                                "t", "p", "p (Holm)", "detectable difference (points)"])
    lines += ["", "Paired t-tests over seeds, Holm's correction over the comparisons of this table; SD with ddof=1. "
                  "The last column is the smallest difference a two-sided 5 % test over these seeds detects with "
                  "80 % power at the observed SD: a difference below it is undetectable at this power, not absent."]
    by = {t["comparison"]: t for t in tests}
    return lines + _kd_lines(by) + _control_lines(by)


def ablation_markdown(records, results: dict, *, scale_note: str = "") -> str:
    """The ablation, calibration, per-class, confusion and cross-dataset tables (Markdown).

    Parameters
    ----------
    records : list of dict
        One per trained (arm, seed): ``arm``, ``seed``, ``val`` (FERPlus validation accuracy,
        macro_f1, balanced_accuracy, fractions).
    results : dict
        :func:`neuroaffect.pipeline.evaluate_students`' ``runs`` (one row per arm, seed and set, with
        ``pred``, ``per_class`` and the calibration figures where evaluated), ``baselines``
        (majority, pixel-logistic, small-CNN rows per set) and ``sets`` (size, classes, ``labels``).
    scale_note : str
        A sentence under the title (e.g. the run's scale).

    Returns
    -------
    md : str
        Figures in % (mean +- SD over seeds, ddof=1, with the 95 % t interval over seeds and the
        95 % bootstrap interval over test images), the published method's in their own column.
    """
    arms = [a for a in ARM_LABELS if any(r["arm"] == a for r in records)]
    seeds = sorted({r["seed"] for r in records})
    iv = _intervals(results)
    lines = ["# Distilled FER student: ablation", ""]
    if scale_note:
        lines += [scale_note, ""]
    lines += [f"Arms x seeds {len(arms)} x {len(seeds)} (seeds {seeds}). Every checkpoint was chosen by macro-F1 "
              "on FERPlus validation; test and cross-dataset sets were evaluated once, after all training. "
              "Figures: mean +- SD over seeds (ddof=1), %; intervals: 95 % t over seeds (two seeds or more) and "
              "95 % percentile bootstrap over the test images (2,000 resamples, the same images for every seed "
              "of an arm: the uncertainty a small test set alone leaves). The published column is the published "
              "method's own (FERPlus validation), not ours.", "", "## FERPlus", ""]
    lines += _ferplus_lines(records, results, arms, iv)
    lines += _reference_check_lines(results, arms)
    lines += proto_target_lines(records)
    lines += _calibration_lines(results, arms)
    cross = [s for s in results["sets"] if s != "ferplus-test"]
    if cross:
        lines += _cross_lines(results, arms, cross, iv)
    tests = paired_tests(results["runs"])
    if tests:
        lines += _paired_lines(tests)
    for name in results["sets"]:
        lines += _per_class_lines(results, arms, name)
    lines += _confusion_lines(records, results, arms)
    return "\n".join(lines) + "\n"


def write_ablation(records, results, out, *, scale_note: str = "") -> list:
    """Write ``out/ablation.md`` (:func:`ablation_markdown`) and ``out/ablation.json`` (every row, the
    paired tests, the bootstrap intervals over test images) atomically; return the paths."""
    out = Path(out)
    md = ablation_markdown(records, results, scale_note=scale_note)
    return [atomic_write_text(out / "ablation.md", md),
            atomic_write_json(out / "ablation.json", {"records": [{k: v for k, v in r.items() if k != "history"}
                                                                  for r in records], **results,
                                                      "paired": paired_tests(results["runs"]),
                                                      "image_intervals": _intervals(results)})]
