"""The dataset summary page (``reports/summary/<dataset>.md``): subjects, trials, channels, rates,
label histograms and one row per subject, from :func:`neuroaffect.io.summary.summarize_dataset`.
"""

from __future__ import annotations

import numpy as np

from .markdown import table_lines

__all__ = ["summary_markdown"]


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
    """Render :func:`~neuroaffect.io.summary.summarize_dataset` output as a short Markdown report.

    Parameters
    ----------
    summary : dict
        ``dataset``, ``root``, ``n_subjects``, ``n_trials``, ``n_chans``, ``sfreq`` (Hz),
        ``peripheral_sfreq`` (name -> Hz), ``trial_seconds`` (``min``, ``max``, s), ``labels``
        (name -> ``range``, ``histogram``) and ``subjects`` (per subject: ``subject``,
        ``n_trials``, ``sessions``, ``n_times`` ``min`` / ``max`` in samples).

    Returns
    -------
    md : str
    """
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
    ]
    labels = [[k, f"[{v['range'][0]:g}, {v['range'][1]:g}]",
               ", ".join(f"{_class_label(s['dataset'], a)}: {b}" for a, b in v["histogram"].items() if b)]
              for k, v in s["labels"].items()]
    lines += table_lines(labels, ["label", "range", "histogram (rounded value: trials)"])
    subjects = [[sub["subject"], sub["n_trials"], sub["sessions"], f"{sub['n_times']['min']}-{sub['n_times']['max']}"]
                for sub in s["subjects"]]
    lines += [""] + table_lines(subjects, ["subject", "trials", "sessions", "samples per trial"])
    return "\n".join(lines) + "\n"
