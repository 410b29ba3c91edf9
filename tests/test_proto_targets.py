"""The ablation page's Proto-KD target table: mode, T_p and the mean normalised target entropy per arm."""

import math

import numpy as np
import pytest

from neuroaffect.report.proto_targets import proto_target_lines, proto_target_rows


def _rec(arm, seed, h, mode="image", tp=0.05):
    loss = f"DistillLoss(arm='B3', proto_mode={mode!r}, target_temperature={tp!r}, geo_cap=0.25)"
    return {"arm": arm, "seed": seed, "proto_target_entropy": h, "record": {"proto_mode": mode, "loss": loss},
            "val": {"accuracy": 0.5, "macro_f1": 0.5, "balanced_accuracy": 0.5}}


def test_rows_by_hand():
    records = [_rec("B0", 0, None), _rec("B2", 0, 0.30), _rec("B2", 1, 0.50),
               _rec("B3", 0, 0.997, mode="anchor", tp=5.0)]
    rows = proto_target_rows(records)
    assert [r["arm"] for r in rows] == ["B2", "B3"]  # B0 has no Proto-KD term
    b2, b3 = rows
    assert b2["entropy"] == pytest.approx(0.40) and (b2["entropy_min"], b2["entropy_max"]) == (0.30, 0.50)
    assert b2["mode"] == "image" and b2["target_temperature"] == 0.05 and b2["n_seeds"] == 2
    assert b3["target_temperature"] == 5.0 and b3["n_seeds"] == 1
    md = "\n".join(proto_target_lines(records))
    assert "## Proto-KD targets" in md
    assert "| B2 + Proto-KD | each image's V/A (ours) | 0.05 | 0.400 | 0.300-0.500 | 2 |" in md
    assert "| B3 full (+ D-Geo) | class anchor (published) | 5 | 0.997 |  | 1 |" in md
    assert proto_target_lines([_rec("B0", 0, None)]) == []


def test_the_entropy_it_reports_is_prototkd_s():
    """A hand case of what the records hold: two bins, a target (0.5, 0.5) has normalised entropy 1."""
    import torch

    from neuroaffect.distill import ProtoKD

    pk = ProtoKD(torch.eye(2), np.array([[-0.5, 0.0], [0.5, 0.0]]), mode="image", target_temperature=0.1)
    h = pk.target_entropy(np.array([[0.0, 0.0], [0.5, 0.0]]))
    q = np.exp(-np.array([0.0, 1.0]) / 0.1)
    q /= q.sum()  # (0.5, 0) is at squared distances 0 and 1 from the two centres
    assert h[0] == pytest.approx(1.0) and h[1] == pytest.approx(-(q * np.log(q)).sum() / math.log(2))


def test_the_ablation_page_shows_the_table():
    from neuroaffect.report import ablation_markdown

    records = [_rec("B2", 0, 0.3), _rec("B3", 0, 0.3)]
    rows = [{"arm": r["arm"], "seed": 0, "set": "ferplus-test", "macro_f1": 0.5, "accuracy": 0.5,
             "balanced_accuracy": 0.5} for r in records]
    md = ablation_markdown(records, {"runs": rows, "baselines": [], "sets": {"ferplus-test": {}}})
    assert "## Proto-KD targets" in md and "| B2 + Proto-KD | each image's V/A (ours) | 0.05 | 0.300 |" in md
