"""Per-dataset summaries: subjects, trials, channels, rates and label histograms."""

from __future__ import annotations

from collections import Counter

import numpy as np

__all__ = ["summarize_dataset", "summary_markdown"]


def summarize_dataset(dataset: str, root, **read_kwargs) -> dict:
    """Read every subject of ``dataset`` under ``root`` (one at a time) and summarise.

    ``read_kwargs`` go to the reader (``custom``: :func:`neuroaffect.io.read_custom`'s options).

    ``root`` takes every form :func:`neuroaffect.io.iter_recordings` takes, a single-subject
    root (one DEAP ``sNN.dat``, SEED session file or MAHNOB session) included.

    Returns
    -------
    summary : dict
        ``n_subjects``, ``subjects`` (per-subject :meth:`Recording.summary`), and totals:
        ``n_trials``, channel names, EEG and peripheral rates, trial-length range in
        seconds, label histograms over all trials.
    """
    from . import iter_recordings

    per_subject, hist, ranges = [], {}, {}
    n_trials, lengths, ch_names, sfreq, periph = 0, [], None, None, {}
    for rec in iter_recordings(dataset, root, **read_kwargs):
        s = rec.summary()
        per_subject.append(s)
        n_trials += rec.n_trials
        lengths.extend((rec.n_times / rec.sfreq).tolist())
        ch_names, sfreq = list(rec.ch_names), rec.sfreq
        periph.update({k: v["sfreq"] for k, v in s["peripheral"].items()})
        for name, lab in s["labels"].items():
            hist.setdefault(name, Counter()).update(lab["histogram"])
            ranges[name] = lab["range"]
            hist[name]["unlabeled"] += lab["n_unlabeled"]
    if not per_subject:
        raise FileNotFoundError(f"{root}: expected {dataset} subjects, found none")
    return {
        "dataset": dataset,
        "root": str(root),
        "n_subjects": len(per_subject),
        "n_trials": n_trials,
        "n_chans": len(ch_names),
        "ch_names": ch_names,
        "sfreq": sfreq,
        "peripheral_sfreq": periph,
        "trial_seconds": {"min": float(np.min(lengths)), "max": float(np.max(lengths))},
        "labels": {
            k: {"range": ranges[k], "histogram": {str(a): int(b) for a, b in sorted(v.items(), key=str)}}
            for k, v in hist.items()
        },
        "subjects": per_subject,
    }


def _class_label(dataset: str, code) -> str:
    """A histogram key as written: a rating as is, a class code with its name (SEED: 'negative (-1)')."""
    from ..labels import RATING_RANGE, class_names, make_labels

    if dataset in RATING_RANGE:
        return str(code)
    try:
        index = int(make_labels(np.array([float(code)]), dataset, "multiclass")[0])
        return f"{class_names(dataset, 'multiclass')[index]} ({code})"
    except (ValueError, KeyError, IndexError):
        return str(code)


def summary_markdown(summary: dict) -> str:
    """Render :func:`summarize_dataset` output as a short Markdown report."""
    s = summary
    lines = [
        f"# {s['dataset']} summary",
        "",
        f"- root: `{s['root']}`",
        f"- subjects: {s['n_subjects']}, trials: {s['n_trials']}",
        f"- EEG: {s['n_chans']} channels at {s['sfreq']:g} Hz; trial length "
        f"{s['trial_seconds']['min']:.1f}-{s['trial_seconds']['max']:.1f} s",
        "- peripheral: " + (", ".join(f"{k} @ {v:g} Hz" for k, v in s["peripheral_sfreq"].items()) or "none"),
        "",
        "| label | range | histogram (rounded value: trials) |",
        "|---|---|---|",
    ]
    for k, v in s["labels"].items():
        h = ", ".join(f"{_class_label(s['dataset'], a)}: {b}" for a, b in v["histogram"].items() if b)
        lines.append(f"| {k} | [{v['range'][0]:g}, {v['range'][1]:g}] | {h} |")
    lines += ["", "| subject | trials | sessions | samples per trial |", "|---|---|---|---|"]
    for sub in s["subjects"]:
        nt = sub["n_times"]
        lines.append(f"| {sub['subject']} | {sub['n_trials']} | {sub['sessions']} | {nt['min']}-{nt['max']} |")
    return "\n".join(lines) + "\n"
