"""The grid's report: figures and a Markdown summary (teacher error, occupancy, ordering, support), and
the teacher's cross-validated error table (``docs/prototypes.md``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import atomic_write_text
from ..prototypes.grid import pairwise_cosine
from .markdown import table_lines, table_row
from .teacher import teacher_cv_markdown, teacher_holdout_markdown

__all__ = ["grid_summary_markdown", "teacher_cv_markdown", "write_prototype_report"]


def _occupancy_table(counts: dict, total_filled) -> list[str]:
    lines = []
    for name, c in counts.items():
        c = np.asarray(c)
        lines.append(f"- {name}: {int(c.sum())} windows in {int((c > 0).sum())} of {c.size} bins")
    lines.append(f"- bins copied from a neighbour (empty): {int(np.asarray(total_filled).sum())}")
    return lines


def _grid_markdown(counts, centres) -> list[str]:
    """Members per bin, arousal rows from the top, valence columns."""
    n = len(centres)
    rows = [[f"{centres[j]:+.1f}"] + [str(int(counts[i][j])) for i in range(n)] for j in reversed(range(n))]
    return table_lines(rows, ["arousal \\ valence"] + [f"{c:+.1f}" for c in centres])


def _ci(o, key: str) -> str:
    """``[low, high]`` of the bootstrap interval of statistic ``key`` of an ordering result (empty without one)."""
    boot = (o or {}).get("bootstrap") or {}
    c = boot.get(key)
    return f"[{c['ci_low']:.3f}, {c['ci_high']:.3f}]" if c and np.isfinite(c["ci_low"]) else ""


def _ordering_line(name, o) -> str:
    if o is None:
        return table_row([name, "", "", "", ""], tight_empty=True)
    return table_row([name, f"{o['rho']:.3f}", _ci(o, "pooled"), f"{o['p_value']:.4f}", o["n_bins"]])


def _axis_line(name, o) -> str:
    cells = [name]
    for key in ("valence_given_arousal", "arousal_given_valence"):
        a = (o or {}).get(key)
        cells += ["", "", ""] if a is None else [f"{a['rho']:.3f}", _ci(o, key), a["n_pairs"]]
    return table_row(cells, tight_empty=True)


def _figures(result, out: Path) -> tuple[list[Path], list]:
    """Draw the grid's figures into ``out``; return the files and the final teacher's held-out metrics."""
    from ..training.metrics import regression_metrics
    from ..viz import plot_grid_occupancy, plot_prototype_geometry, plot_teacher_fit

    g = result.grid
    files = []
    panels = [(f"{name} members", c, g.centres, None) for name, c in g.counts.items()]
    panels.append(("all members (* = copied)", g.total_counts(), g.centres, g.filled))
    plot_grid_occupancy(panels, out / "occupancy.png", suptitle=f"{g.n} x {g.n} grid occupancy")
    files.append(out / "occupancy.png")
    sizes = [(f"{k} x {k}", b.total_counts(), b.centres, b.filled) for k, b in sorted(result.ablation.items())]
    sizes.insert(len(sizes) // 2, (f"{g.n} x {g.n}", g.total_counts(), g.centres, g.filled))
    plot_grid_occupancy(sizes, out / "occupancy_sizes.png", suptitle="occupancy by grid size (all members)")
    files.append(out / "occupancy_sizes.png")
    plot_prototype_geometry(g.prototypes, g.centres, out / "geometry.png", ordering=result.ordering["grid"],
                            title="exported grid")
    files.append(out / "geometry.png")
    if result.control is not None:
        plot_prototype_geometry(result.control.prototypes, result.control.centres, out / "geometry_control.png",
                                ordering=result.ordering.get("control"), title="shuffled-label control")
        files.append(out / "geometry_control.png")
    true, pred = result.held["true"], result.held["pred"]
    metrics = [regression_metrics(true[:, j], pred[:, j]) for j in range(2)]
    plot_teacher_fit(true, pred, out / "teacher_fit.png", metrics=metrics,
                     title="final teacher on its held-out trials (windows)")
    files.append(out / "teacher_fit.png")
    return files, metrics


def _gate_row(name: str, g: dict, by: str = "prediction") -> list:
    """One source's row of the gate table (``_gate_summary`` figures of ``prototypes.build``)."""
    key = "" if by == "prediction" else "_true"
    rate = f"{100 * g['passed'] / g['windows']:.1f} %" if g.get("windows") else "-"
    where = [f"{g[f'bins_{w}{key}']['inner']} / {g[f'bins_{w}{key}']['outer']}" if f"bins_{w}{key}" in g else "-"
             for w in ("all", "passed")]
    med = g.get("spread_median", float("nan"))
    return [name, by, g.get("windows", 0), g.get("passed", 0), rate, "-" if not np.isfinite(med) else f"{med:.4f}",
            *where]


def _gate_lines(result) -> list[str]:
    """The support gate: how it samples, pass rates per source and where the passing windows land."""
    card = result.card
    gate, labelled = card["support_gate"], card["support_gate"].get("labelled")
    dataset, support = card["sources"][0], card["sources"][-1]
    bd = gate.get("block_dropout", 0.0)
    how = (f"dropout p {bd:g} after each convolution stage and p {gate.get('head_dropout', 0):g} before the head: "
           "the passes differ in their embedding" if bd > 0 else
           "dropout before the head only: the spread is a deterministic weighted norm of the embedding, "
           "sqrt(p / (1 - p) sum_j W_kj^2 z_j^2), not an uncertainty")
    lines = ["", "## Support gate", "",
             f"{gate['passed']} of {gate['windows']} support windows passed (MC dropout, {gate['samples']} passes, "
             f"{how}; mean std over valence and arousal <= {gate['threshold']:.4f}, the {gate['quantile']:g} "
             "quantile on the labelled held-out windows, so about that share of them passes by construction).", ""]
    rows = [] if labelled is None else [_gate_row(f"{dataset} (labelled, held out)", labelled),
                                        _gate_row(f"{dataset} (labelled, held out)", labelled, "label")]
    rows.append(_gate_row(f"{support} (support)", gate))
    lines += table_lines(rows, ["source", "bins by", "windows", "passed", "pass rate", "median spread",
                                "all: inner / outer", "passed: inner / outer"])
    rho = (labelled or {}).get("spread_error_rho")
    if rho is not None:
        lines += ["", "On the labelled held-out windows, Spearman's rho between the MC spread and the absolute error "
                  f"of the MC-mean prediction (mean over valence and arousal) is {rho:.3f}: an uncertainty that tells "
                  "which windows the teacher gets wrong gives a clearly positive value."]
    lines += ["", "Inner bins: the (n - 2)^2 bins off the border; outer: the ring of 4 (n - 1) border bins (a "
              "prediction outside [-1, 1]^2 counts in the border bin the grid puts it in). Support windows are placed by the teacher's "
              "MC-mean prediction. A support pass rate far from the labelled one, or a higher median spread, is "
              "what a gate that registers the shift between the two recordings shows."]
    return lines


def _support_and_ordering(result) -> list[str]:
    """The support gate, the ordering tables (pooled with bootstrap intervals, per axis) and the with/without-support
    comparison."""
    g, card = result.grid, result.card
    with_sup = pairwise_cosine(g.prototypes)
    only = pairwise_cosine(result.labelled_only.prototypes)
    same_bin = np.sum(g.prototypes.reshape(-1, g.dim) * result.labelled_only.prototypes.reshape(-1, g.dim), axis=1)
    o = result.ordering
    boot = (o.get("labelled_only") or {}).get("bootstrap") or {}
    names = [("exported (labelled + support)", "grid"), ("labelled only", "labelled_only"),
             ("shuffled-label control", "control"), ("shuffled-label control + its support", "control_with_support")]
    unit = (f"{boot['n_resamples']} resamples of the {boot['n_groups']} hold-out trials within each of "
            f"{boot['n_strata']} subjects" if boot else "not computed: no subject with two hold-out trials")
    return [*_gate_lines(result), "", "## Ordering", "",
            "Spearman rho between bin distance on the valence/arousal plane and prototype cosine distance, over "
            f"non-empty bins; 95 % percentile bootstrap interval ({unit}; support members held fixed); one-sided "
            f"permutation p ({card['config']['n_permutations']} shuffles of bin positions).", "",
            *table_lines([], ["grid", "rho", "95 % interval", "p", "bins"]),
            *[_ordering_line(label, o.get(key)) for label, key in names], "",
            "Per axis: valence given arousal is the same rho over the pairs of bins in one arousal row (distance "
            "|v_i - v_j|), the rows pooled; arousal given valence over the pairs in one valence column. The pooled "
            "rho mixes the two: it can be large while one axis carries no order.", "",
            *table_lines([], ["grid", "valence given arousal: rho", "95 % interval", "pairs",
                              "arousal given valence: rho", "95 % interval", "pairs"]),
            *[_axis_line(label, o.get(key)) for label, key in names], "",
            "What the permutation p can claim: that the prototypes are not a random assignment of these vectors to "
            "these bin positions. It cannot claim that EEG orders valence and arousal in people: the null treats the "
            f"{(o.get('labelled_only') or {}).get('n_bins', '?')} non-empty bins as exchangeable, but they are built "
            f"from {card['teacher']['n_holdout_trials']} hold-out trials of "
            f"{boot.get('n_strata', 'a few')} subjects, so neighbouring bins share subjects and trials, and "
            "support members sit in the bins of the teacher's own predictions. The bootstrap interval is the spread "
            "over these subjects' trials; with this few subjects no interval over subjects is possible, and neither "
            "figure generalises to other people.", "",
            "The labelled-only row is the test of the EEG: its members sit in the bins of their true ratings. Support "
            "members sit in the bins of the teacher's own predictions, which are a linear read-out of the same "
            "embedding, so they order a grid by construction: the control with its support shows how much.", "",
            "With and without support: mean cosine similarity of a bin's two prototypes "
            f"{float(same_bin.mean()):.3f} (min {float(same_bin.min()):.3f}); mean absolute change of the "
            f"between-bin similarity matrix {float(np.abs(with_sup - only).mean()):.3f}."]


def grid_summary_markdown(result, metrics: list, *, teacher_summary: dict | None = None,
                          deap_cv: dict | None = None) -> str:
    """The grid's ``summary.md``: teacher error, the final teacher's held-out fit, occupancy, support, ordering.

    Parameters
    ----------
    result : GridResult
        :func:`~neuroaffect.prototypes.make_grid`'s result.
    metrics : list of dict
        The final teacher's ``rmse``, ``pearson_r`` and ``ccc`` on its held-out windows, valence then arousal.
    teacher_summary, deap_cv : dict | None
        ``teacher.json`` of the teacher and of a second cross-validated source (their ``cv_markdown``).

    Returns
    -------
    md : str
    """
    g, card = result.grid, result.card
    lines = ["# Prototype grid", "",
             f"{g.n} x {g.n} bins of side {2 / g.n:.2f} on normalised valence/arousal, D = {g.dim}; one final "
             "teacher's embeddings of trials it never trained on (true labels) plus MC-dropout-gated "
             "unlabelled support windows (predicted labels). Figures: occupancy.png, occupancy_sizes.png, "
             "geometry.png, geometry_control.png, teacher_fit.png.", ""]
    src = teacher_summary or {}
    if src.get("cv_markdown"):
        lines += [f"## Teacher error, {src.get('dataset')} ({card['config']['cv_folds']}-fold over trials within "
                  "subject, pooled out-of-fold predictions)", "", src["cv_markdown"]]
    if deap_cv and deap_cv.get("cv_markdown"):
        lines += [f"## Teacher error, second source: {deap_cv.get('dataset')}", "", deap_cv["cv_markdown"]]
    lines += ["## Final teacher on its held-out windows", ""]
    if src.get("holdout"):
        lines += [teacher_holdout_markdown(src["holdout"]).rstrip("\n")]
    else:
        lines += table_lines([[name, f"{m['rmse']:.3f}", f"{m['pearson_r']:.3f}", f"{m['ccc']:.3f}"]
                              for name, m in zip(("valence", "arousal"), metrics)],
                             ["target", "RMSE", "Pearson r", "CCC"])
    lines += ["", "## Occupancy", ""] + _occupancy_table(g.counts, g.filled) + ["", "All members:", ""]
    lines += _grid_markdown(g.total_counts(), g.centres)
    for k, b in sorted(result.ablation.items()):
        lines += ["", f"{k} x {k}: {int((b.total_counts() > 0).sum())} of {k * k} bins occupied."]
    lines += _support_and_ordering(result)
    return "\n".join(lines) + "\n"


def write_prototype_report(result, out, *, teacher_summary: dict | None = None,
                           deap_cv: dict | None = None) -> list[Path]:
    """Write the grid's figures and ``summary.md`` (:func:`grid_summary_markdown`) into ``out``; return the
    files written.

    Figures: ``occupancy.png`` (per source and total), ``occupancy_sizes.png`` (grid sizes of the
    ablation), ``geometry.png`` (cosine similarity and PCA of the exported grid),
    ``geometry_control.png`` (the shuffled-label control's), ``teacher_fit.png`` (predicted against
    true valence/arousal on held-out windows).
    """
    out = Path(out)
    files, metrics = _figures(result, out)
    text = grid_summary_markdown(result, metrics, teacher_summary=teacher_summary, deap_cv=deap_cv)
    atomic_write_text(out / "summary.md", text)
    files.append(out / "summary.md")
    return files
