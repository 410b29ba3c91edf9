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


def _rows(effects: dict, n_seeds=10, sd=0.005, seed=0, only=None):
    """Rows with the arm effects on every endpoint, or on the endpoint ``only`` (the others: no effect)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.4, 0.02, n_seeds)  # the seed's own level, shared by every arm (the pairing)
    rows = []
    for a in ARMS:
        for s in range(n_seeds):
            v = base[s] + effects.get(a, 0.0) + rng.normal(0, sd)
            null = base[s] + rng.normal(0, sd)
            rows.append({"arm": a, "seed": s, **{k: v if only in (None, k) else null
                                                 for k in ("gstar_ccc", "macro_f1", "ccc", "rsa", "pair_acc", "gstar_ccc_backbone")}})
    return rows


def test_the_family_holds_the_preregistered_comparisons(bench):
    pairs = bench.comparisons(ARMS)
    assert pairs[0] == ("oracle", "coordinate")
    assert ("coordinate", "shuffled") in pairs and ("eeg-snr2", "B1") in pairs
    assert {("eeg-snr0", "coordinate"), ("eeg-snr1", "shuffled")} <= set(pairs) and len(pairs) == 9
    assert bench.comparisons(["B1", "coordinate", "oracle"]) == [("oracle", "coordinate")]


def test_power_check_passes_only_when_the_oracle_beats_coordinate(bench):
    seeds = list(range(10))
    assert bench.PRIMARY == "gstar_ccc"
    strong = bench.analyse(_rows({"oracle": 0.05}), ARMS, seeds)
    assert "Power check (oracle > coordinate on (e) G* read-out CCC, Holm p < 0.05): PASSED" in bench.verdict(strong, ARMS)
    # the power check reads the primary endpoint only: an effect on macro-F1 alone does not pass it
    assert "FAILED" in bench.verdict(bench.analyse(_rows({"oracle": 0.05}, only="macro_f1"), ARMS, seeds), ARMS)
    assert "PASSED" in bench.verdict(bench.analyse(_rows({"oracle": 0.05}, only="gstar_ccc"), ARMS, seeds), ARMS)
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


def test_the_eeg_grid_helps_only_with_the_whole_ordering_and_a_slope(bench):
    seeds = list(range(10))
    full = {"oracle": 0.08, "coordinate": 0.02, "eeg-snr1": 0.04, "eeg-snr2": 0.06}
    assert "The EEG grid helps (EEG > coordinate > shuffled, rising with snr): yes." in bench.verdict(
        bench.analyse(_rows(full), ARMS, seeds), ARMS)
    for missing in ({**full, "coordinate": 0.0},                 # coordinate not above shuffled
                    {**full, "eeg-snr1": 0.06, "eeg-snr0": 0.06},  # no rise with snr
                    {**full, "eeg-snr2": 0.02, "eeg-snr1": 0.01}):  # EEG not above coordinate
        text = bench.verdict(bench.analyse(_rows(missing), ARMS, seeds), ARMS)
        assert "PASSED" in text and "helps (EEG > coordinate > shuffled, rising with snr): not shown" in text


def test_grid_rsa_finds_gstar_in_the_oracle_grid_only(bench, tmp_path):
    from neuroaffect.labels import grid_centres, grid_edges
    from neuroaffect.prototypes import grid_arm, load_grid, save_grid_arm
    from neuroaffect.prototypes.io import write_grid_files

    p = np.random.default_rng(0).standard_normal((5, 5, 16))
    counts, filled = np.ones((1, 5, 5), np.int64), np.zeros((5, 5), np.uint8)
    card = {"dim": 16, "grid_size": 5, "sources": ["dreamer"], "bin_edges": grid_edges(5).tolist(),
            "bin_centres": grid_centres(5).tolist(), "filled": filled.tolist(), "counts": {"dreamer": counts[0].tolist()},
            "ordering": {"grid": {"rho": 0.5}}, "teacher": {"dataset": "dreamer"}}
    write_grid_files(tmp_path / "eeg", {"prototypes": (p / np.linalg.norm(p, axis=-1, keepdims=True)).astype(np.float32),
                                        "centres": grid_centres(5), "edges": grid_edges(5), "counts": counts,
                                        "filled": filled}, card)
    paths = {}
    for kind in ("coordinate", "oracle"):
        paths[kind] = tmp_path / kind
        save_grid_arm(grid_arm(load_grid(tmp_path / "eeg"), kind, seed=0), paths[kind])
    rsa = bench.grid_rsa({"B1": None, **paths})
    assert set(rsa) == {"coordinate", "oracle"} and rsa["oracle"]["bins"] == 25
    assert rsa["oracle"]["gstar"] > 0.9 and rsa["coordinate"]["coordinates"] > 0.9
    assert rsa["coordinate"]["gstar"] < 0.5 and rsa["oracle"]["coordinates"] < 0.5


def test_an_endpoint_no_run_scored_is_left_out(bench):
    rows = [{k: v for k, v in r.items() if k != "gstar_ccc_backbone"} for r in _rows({"oracle": 0.05})]
    res = bench.analyse(rows, ARMS, list(range(10)))
    assert "gstar_ccc_backbone" not in res["summary"] and "gstar_ccc" in res["summary"]
    md = bench.markdown(res, ARMS, 10)
    assert "(f) G* read-out from the backbone" not in md and "(e) G* read-out CCC" in md
