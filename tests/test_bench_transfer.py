"""The transfer benchmark's analysis: the comparison family, Holm, TOST, the dose-response slope and the verdict."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_transfer", ROOT / "benchmarks" / "bench_transfer.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ARMS = ["B1", "eeg-snr0", "eeg-snr1", "eeg-snr2", "shuffled", "coordinate", "oracle"]


def _rows(effects: dict, n_seeds=10, sd=0.005, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(0.4, 0.02, n_seeds)  # the seed's own level, shared by every arm (the pairing)
    rows = []
    for a in ARMS:
        for s in range(n_seeds):
            v = base[s] + effects.get(a, 0.0) + rng.normal(0, sd)
            rows.append({"arm": a, "seed": s, "macro_f1": v, "ccc": v, "rsa": v, "pair_acc": v})
    return rows


def test_the_family_holds_the_preregistered_comparisons(bench):
    pairs = bench.comparisons(ARMS)
    assert pairs[0] == ("oracle", "coordinate")
    assert ("coordinate", "shuffled") in pairs and ("eeg-snr2", "B1") in pairs
    assert {("eeg-snr0", "coordinate"), ("eeg-snr1", "shuffled")} <= set(pairs) and len(pairs) == 9
    assert bench.comparisons(["B1", "coordinate", "oracle"]) == [("oracle", "coordinate")]


def test_power_check_passes_only_when_the_oracle_beats_coordinate(bench):
    seeds = list(range(10))
    strong = bench.analyse(_rows({"oracle": 0.05}), ARMS, seeds)
    assert "Power check (oracle > coordinate on macro-F1, Holm p < 0.05): PASSED" in bench.verdict(strong, ARMS)
    worse = bench.analyse(_rows({"oracle": -0.05}), ARMS, seeds)  # significant, but the wrong way
    assert "FAILED" in bench.verdict(worse, ARMS)
    null = bench.analyse(_rows({}), ARMS, seeds)
    text = bench.verdict(null, ARMS)
    assert "FAILED" in text and "No verdict on the EEG grid" in text


def test_holm_tost_and_dose_response(bench):
    seeds = list(range(10))
    res = bench.analyse(_rows({"oracle": 0.05, "eeg-snr1": 0.02, "eeg-snr2": 0.04}), ARMS, seeds)
    tests = {(t["a"], t["b"]): t for t in res["tests"]["macro_f1"]}
    assert all(t["p"] <= t["p_holm"] <= 1 for t in tests.values())
    # eeg-snr0 equals coordinate: equivalent within the 1-point margin; eeg-snr2 is 4 points above: not equivalent
    assert tests[("eeg-snr0", "coordinate")]["tost_p_holm"] < 0.05
    assert tests[("eeg-snr2", "coordinate")]["tost_p_holm"] > 0.5 and tests[("eeg-snr2", "coordinate")]["p_holm"] < 0.05
    slope = res["slope"]["macro_f1"]
    assert slope["mean_difference"] == pytest.approx(0.02, abs=0.005) and slope["p"] < 0.05
    md = bench.markdown(res, ARMS, 10)
    assert "| oracle |" in md and "Dose-response" in md and "PASSED" in md
