"""The student's statistics against hand-computed cases: the detectable difference, the bootstrap
over test images, calibration (ECE, NLL) and the seed standard deviation of the ablation tables."""

import numpy as np
import pytest
from scipy import stats

from neuroaffect.training.stats import bootstrap_ci, detectable_difference


def test_detectable_difference_by_hand():
    # n = 10 pairs, two-sided 5 %, 80 % power: d_z = 0.996 (the textbook value, e.g. G*Power's)
    assert detectable_difference(1.0, 10) == pytest.approx(0.996, abs=5e-4)
    # it scales with the spread, and it has the stated power (noncentral t)
    d = detectable_difference(2.5, 5)
    crit = stats.t.ppf(0.975, 4)
    nc = d * np.sqrt(5) / 2.5
    assert stats.nct.sf(crit, 4, nc) + stats.nct.cdf(-crit, 4, nc) == pytest.approx(0.8, abs=1e-8)
    # large n: (z_0.975 + z_0.8) sd / sqrt(n) = (1.95996 + 0.84162) / 100
    assert detectable_difference(1.0, 10_000) == pytest.approx(0.0280158, rel=2e-3)
    assert np.isnan(detectable_difference(1.0, 1)) and detectable_difference(0.0, 3) == 0.0
    with pytest.raises(ValueError, match="alpha"):
        detectable_difference(1.0, 3, power=0.01)


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def test_bootstrap_ci_by_hand():
    # two items 0 and 1: resampled means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so the 2.5 % and
    # 97.5 % quantiles are 0 and 1
    r = bootstrap_ci(_mean, [np.array([0.0, 1.0])])
    assert (r["estimate"], r["ci_low"], r["ci_high"]) == (0.5, 0.0, 1.0)
    # constant data: a degenerate interval; reproducible by seed
    c = bootstrap_ci(_mean, [np.full(5, 3.0)])
    assert (c["ci_low"], c["ci_high"]) == (3.0, 3.0)
    x = np.random.default_rng(0).normal(size=50)
    assert bootstrap_ci(_mean, [x], seed=3) == bootstrap_ci(_mean, [x], seed=3)
    # paired: both arrays resampled with the same indices (a - b is constant 1 here)
    d = bootstrap_ci(lambda a, b, axis=-1: np.mean(a - b, axis=axis), [x + 1.0, x])
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((1.0, 1.0))
    assert np.isnan(bootstrap_ci(_mean, [np.array([1.0])])["ci_low"])
    with pytest.raises(ValueError, match="equal length"):
        bootstrap_ci(_mean, [np.zeros(3), np.zeros(4)])


def test_ece_and_nll_by_hand():
    from neuroaffect.distill.evaluate import calibration_metrics

    # top-class probabilities 0.9 (right), 0.9 (wrong), 0.7 (right), 0.45 (wrong); 15 bins of width 1/15:
    # 0.9 -> bin (13/15, 14/15], 0.7 -> (10/15, 11/15], 0.45 -> (6/15, 7/15]
    # ECE = 2/4 |0.5 - 0.9| + 1/4 |1 - 0.7| + 1/4 |0 - 0.45| = 0.2 + 0.075 + 0.1125 = 0.3875
    proba = np.array([[0.9, 0.05, 0.05], [0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.45, 0.35, 0.2]])
    y = np.array([0, 1, 1, 2])
    c = calibration_metrics(y, proba)
    assert c["ece"] == pytest.approx(0.3875)
    assert c["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.1, 0.7, 0.2])))
    assert c["overconfident"] == 0.0 and c["mean_confidence"] == pytest.approx(0.7375)
    rel = c["reliability"]
    assert len(rel["edges"]) == 16 and sum(rel["count"]) == 4
    assert rel["count"][13] == 2 and rel["correct"][13] == 1 and rel["confidence_sum"][13] == pytest.approx(1.8)
    # perfectly confident and right: ECE 0; one-hot and wrong: NLL large, every prediction over 0.99
    assert calibration_metrics([0, 1], np.eye(2))["ece"] == 0.0
    wrong = calibration_metrics([1, 0], np.eye(2))
    assert wrong["ece"] == 1.0 and wrong["nll"] > 20 and wrong["overconfident"] == 1.0
    with pytest.raises(ValueError, match="'proba'"):
        calibration_metrics([0, 3], np.eye(2))


def test_macro_f1_statistic_matches_sklearn_and_the_bootstrap_shows_a_small_set():
    from sklearn.metrics import f1_score

    from neuroaffect.distill.ablation import bootstrap_macro_f1, macro_f1_statistic

    rng = np.random.default_rng(0)
    y = rng.integers(0, 8, 300)
    preds = [np.where(rng.random(300) < 0.6, y, rng.integers(0, 8, 300)) for _ in range(3)]
    stat = macro_f1_statistic(range(8))
    ref = np.mean([f1_score(y, p, labels=range(8), average="macro", zero_division=0) for p in preds])
    assert float(stat(y, *preds)) == pytest.approx(ref)
    # vectorised over resamples: row b is the statistic of resample b
    idx = rng.integers(0, 300, (4, 300))
    got = stat(y[idx], *[p[idx] for p in preds])
    assert got.shape == (4,) and got[2] == pytest.approx(float(stat(y[idx[2]], *[p[idx[2]] for p in preds])))
    # present-only: the classes of y_true alone (sklearn's labels=present classes)
    y5 = y % 5
    assert float(macro_f1_statistic(range(5))(y5, preds[0])) == pytest.approx(
        f1_score(y5, preds[0], labels=range(5), average="macro", zero_division=0))
    # 56 images (CK+'s size) give a much wider interval than 560 of the same accuracy
    small = bootstrap_macro_f1(y[:56], [p[:56] for p in preds])
    big = bootstrap_macro_f1(np.tile(y[:56], 10), [np.tile(p[:56], 10) for p in preds])
    assert small["estimate"] == pytest.approx(big["estimate"])
    assert small["ci_low"] < small["estimate"] < small["ci_high"]
    assert (small["ci_high"] - small["ci_low"]) > 2.5 * (big["ci_high"] - big["ci_low"])
    assert small["n_items"] == 56 and small["n_runs"] == 3


def _runs(arm, values, set_name="ferplus-test"):
    return [{"arm": arm, "seed": s, "set": set_name, "accuracy": v, "macro_f1": v, "balanced_accuracy": v,
             "present_macro_f1": v} for s, v in enumerate(values)]


def test_ablation_table_seed_sd_is_ddof_1_with_a_t_interval():
    from neuroaffect.report import ablation_markdown

    # test macro-F1 0.4, 0.5, 0.6: mean 50.0, SD (ddof=1) 10.0 (ddof=0 would give 8.2), 95 % t interval
    # 50 +- t(0.975, 2) 10 / sqrt 3 = 50 +- 24.8 -> [25.2, 74.8]
    recs = [{"arm": "B0", "seed": s, "val": {"accuracy": v, "macro_f1": v, "balanced_accuracy": v}}
            for s, v in enumerate((0.4, 0.5, 0.6))]
    md = ablation_markdown(recs, {"runs": _runs("B0", (0.4, 0.5, 0.6)), "baselines": [],
                                  "sets": {"ferplus-test": {}}})
    row = next(line for line in md.splitlines() if line.startswith("| B0 CE |"))
    assert "50.0 +- 10.0" in row and "+- 8.2" not in row and "[25.2, 74.8]" in row


def test_ablation_shows_calibration_per_class_confusion_and_image_intervals():
    from neuroaffect.distill.evaluate import calibration_metrics, fer_metrics
    from neuroaffect.report import ablation_markdown

    rng = np.random.default_rng(1)
    y = rng.integers(0, 8, 56)
    runs, recs = [], []
    for arm in ("B0", "B1"):
        for s in range(2):
            pred = np.where(rng.random(56) < 0.7, y, rng.integers(0, 8, 56))
            proba = np.full((56, 8), 0.02)
            proba[np.arange(56), pred] = 0.86
            runs.append({"arm": arm, "seed": s, "set": "ferplus-test", **fer_metrics(y, pred),
                         **calibration_metrics(y, proba), "pred": pred.tolist()})
            recs.append({"arm": arm, "seed": s, "val": {"accuracy": 0.5, "macro_f1": 0.5, "balanced_accuracy": 0.5}})
    md = ablation_markdown(recs, {"runs": runs, "baselines": [],
                                  "sets": {"ferplus-test": {"n": 56, "labels": y.tolist()}}})
    assert "## Calibration (ferplus-test)" in md and "15 equal-width bins" in md
    cal = next(line for line in md.splitlines() if line.startswith("| B1 + KD |") and "+-" in line and "0.8" in line)
    assert cal
    assert "## Per-class precision / recall / F1 (ferplus-test" in md and "| happiness |" in md
    assert "## Confusion matrices (B0 CE, seed 0" in md  # no B3: the first arm and "| true class | neutral |" in md
    assert "| B1 - B0 | 2 |" in md and "KD (B1 - B0):" in md
    ferplus = next(line for line in md.splitlines() if line.startswith("| B0 CE |"))
    assert ferplus.count("[") == 2  # the interval over seeds and the one over the 56 images


def test_per_class_precision_recall_f1_by_hand():
    from neuroaffect.distill.evaluate import fer_metrics

    pc = fer_metrics([0, 0, 1, 1], [0, 1, 1, 1])["per_class"]
    # class 0: precision 1/1, recall 1/2, F1 2/3; class 1: precision 2/3, recall 2/2, F1 0.8; others 0
    assert pc["precision"][:2] == pytest.approx([1.0, 2 / 3]) and pc["recall"][:2] == pytest.approx([0.5, 1.0])
    assert pc["f1"][:2] == pytest.approx([2 / 3, 0.8]) and pc["support"] == [2, 2, 0, 0, 0, 0, 0, 0]
    assert pc["f1"][2:] == [0.0] * 6


@pytest.mark.slow  # torch and the face loader
def test_reference_rows_carry_calibration_where_there_are_probabilities():
    from neuroaffect.distill.evaluate import baseline_rows
    from neuroaffect.io.faces import FaceSet

    def faces(n, seed):
        rng = np.random.default_rng(seed)
        y = np.arange(n) % 4
        img = np.clip(y[:, None, None] * 30 + rng.normal(10, 5, (n, 8, 8)), 0, 255).astype(np.uint8)
        return FaceSet("ferplus", labels=y, split=["train"] * n, images=img)

    rows = {r["method"]: r for r in baseline_rows(faces(40, 0), {"test": faces(16, 1)}, size=8)}
    assert "ece" not in rows["majority"] and len(rows["majority"]["pred"]) == 16
    lr = rows["pixel-logistic"]
    assert 0 <= lr["ece"] <= 1 and lr["nll"] > 0 and lr["pred"] == [0, 1, 2, 3] * 4  # brightness tells the class
