"""Per-dataset summaries: subjects, trials, channels, rates and label histograms (as data; the
Markdown: :func:`neuroaffect.report.summary_markdown`)."""

from __future__ import annotations

from collections import Counter

import numpy as np

__all__ = ["summarize_dataset"]


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
