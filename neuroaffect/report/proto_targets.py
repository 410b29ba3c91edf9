"""How peaked each arm's Proto-KD target was: mode, T_p and mean normalised target entropy (``ablation.md``).

A Proto-KD target near uniform (normalised entropy near 1, as the published class-anchor target at
T_p = 5) pulls every embedding the same way whatever the grid holds; the table says, per arm, how far
from uniform the run's targets were (``docs/distillation.md``, "Loss").
"""

from __future__ import annotations

import re

import numpy as np

from .markdown import table_lines

__all__ = ["proto_target_lines", "proto_target_rows"]

_TP = re.compile(r"target_temperature=([-+0-9.eE]+)")
#: Table words of the Proto-KD modes (``neuroaffect.distill.PROTO_MODES``).
MODE_WORDS = {"anchor": "class anchor (published)", "image": "each image's V/A (ours)"}


def _target_temperature(record: dict) -> float | None:
    """T_p of a run, from its loss description (``DistillLoss.__repr__`` in the training record)."""
    m = _TP.search(str((record.get("record") or {}).get("loss", "")))
    return float(m.group(1)) if m else None


def proto_target_rows(records) -> list[dict]:
    """One row per arm whose runs have a Proto-KD term: its mode, T_p and the target entropy over seeds.

    Parameters
    ----------
    records : list of dict
        :func:`neuroaffect.pipeline.train_arm` records: ``arm``, ``seed``, ``proto_target_entropy``
        (the mean normalised entropy ``H(q_pro) / log K`` of the Proto-KD targets of the run's training
        images for its grid and mode, :meth:`neuroaffect.distill.ProtoKD.target_entropy`; ``None``
        without Proto-KD) and ``record`` (``proto_mode`` and ``loss``, whose ``target_temperature`` is T_p).

    Returns
    -------
    rows : list of dict
        In the records' arm order: ``arm``, ``mode``, ``target_temperature`` (squared normalised
        V/A units; ``None`` when the record does not say), ``entropy`` (mean over seeds, unitless in
        [0, 1], 1 = uniform), ``entropy_min`` and ``entropy_max`` over seeds, ``n_seeds``.
    """
    by: dict = {}
    for r in records:
        h = r.get("proto_target_entropy")
        if h is None:
            continue
        rec = r.get("record") or {}
        key = (r["arm"], rec.get("proto_mode"), _target_temperature(r))
        by.setdefault(key, []).append(float(h))
    out = []
    for (arm, mode, tp), hs in by.items():
        h = np.asarray(hs)
        out.append({"arm": arm, "mode": mode, "target_temperature": tp, "entropy": float(h.mean()),
                    "entropy_min": float(h.min()), "entropy_max": float(h.max()), "n_seeds": int(h.size)})
    return out


def proto_target_lines(records, labels: dict | None = None) -> list[str]:
    """The "Proto-KD targets" section of the ablation page (Markdown lines; none without a Proto-KD arm).

    Parameters
    ----------
    records : list of dict
        See :func:`proto_target_rows`.
    labels : dict | None
        Arm -> table label (default :data:`neuroaffect.distill.ablation.ARM_LABELS`).
    """
    if labels is None:
        from ..distill.ablation import ARM_LABELS as labels
    rows = proto_target_rows(records)
    if not rows:
        return []
    cells = [[labels.get(r["arm"], r["arm"]), MODE_WORDS.get(r["mode"], str(r["mode"])),
              "" if r["target_temperature"] is None else f"{r['target_temperature']:g}", f"{r['entropy']:.3f}",
              "" if r["n_seeds"] < 2 else f"{r['entropy_min']:.3f}-{r['entropy_max']:.3f}", r["n_seeds"]]
             for r in rows]
    lines = ["", "## Proto-KD targets", ""]
    lines += table_lines(cells, ["arm", "target from", "T_p", "mean normalised entropy", "range over seeds",
                                 "seeds"])
    lines += ["", "Normalised entropy H(q_pro) / log K of each training image's Proto-KD target (the 8 class "
                  "targets in the class-anchor mode), averaged over the training set, then over seeds: 1 is a "
                  "uniform target over the bins, which pulls every embedding alike whatever the grid holds. T_p "
                  "is fixed, not tuned (docs/distillation.md, \"Loss\")."]
    return lines
