"""The grid arms of the transfer experiment (shuffled, coordinate-only, oracle) as exported grid files, and
the arms of the ablation that train against them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from neuroaffect.distill.ablation import (ARM_LABELS, CONTROL_ARM, GRID_ARMS, ablation_arms, arm_grid, check_arm,
                                          paired_tests)
from neuroaffect.labels import grid_centres, grid_edges
from neuroaffect.prototypes import ARM_KINDS, PrototypeGrid, grid_arm, load_grid, save_grid_arm
from neuroaffect.prototypes.io import write_grid_files
from neuroaffect.simulate.gstar import coordinate_prototypes, gstar, gstar_prototypes

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "workflow" / "lib") not in sys.path:
    sys.path.insert(0, str(ROOT / "workflow" / "lib"))  # the workflow's tooling (neuroaffect_workflow)


def _export(out, prototypes, counts, filled, sources=("dreamer", "mahnob")) -> PrototypeGrid:
    """An exported grid of the given arrays, with the card's own copies of counts and flags, loaded back."""
    n, dim = prototypes.shape[0], prototypes.shape[-1]
    card = {"dim": dim, "grid_size": n, "sources": list(sources), "bin_edges": grid_edges(n).tolist(),
            "bin_centres": grid_centres(n).tolist(), "filled": filled.astype(int).tolist(),
            "counts": {s: counts[i].tolist() for i, s in enumerate(sources)}, "ordering": {"grid": {"rho": 0.5}},
            "teacher": {"dataset": "dreamer"}}
    write_grid_files(out, {"prototypes": prototypes.astype(np.float32), "centres": grid_centres(n),
                           "edges": grid_edges(n), "counts": counts.astype(np.int64),
                           "filled": filled.astype(np.uint8)}, card)
    return load_grid(out)


@pytest.fixture(scope="module")
def eeg(tmp_path_factory):
    """A 5 x 5, 16-d grid with two empty bins copying a neighbour (as the exporter fills them)."""
    rng = np.random.default_rng(0)
    p = rng.standard_normal((5, 5, 16))
    p /= np.linalg.norm(p, axis=-1, keepdims=True)
    counts = rng.integers(1, 9, (2, 5, 5))
    counts[:, 0, 0] = counts[:, 4, 4] = 0
    p[0, 0], p[4, 4] = p[0, 1], p[4, 3]
    filled = counts.sum(0) == 0
    return _export(tmp_path_factory.mktemp("eeg"), p, counts, filled)


@pytest.mark.parametrize("kind", ARM_KINDS[1:])
def test_each_arm_keeps_the_bins_and_names_itself(eeg, kind, tmp_path):
    arm = grid_arm(eeg, kind, seed=1)
    assert isinstance(arm, PrototypeGrid) and arm.prototypes.dtype == np.float32
    assert arm.prototypes.shape == eeg.prototypes.shape and arm.dim == eeg.dim == arm.card["dim"]
    np.testing.assert_array_equal(arm.centres, eeg.centres)
    np.testing.assert_array_equal(arm.edges, eeg.edges)
    np.testing.assert_allclose(np.linalg.norm(arm.prototypes.astype(np.float64), axis=-1), 1.0, atol=1e-6)
    assert arm.card["arm"]["kind"] == kind and arm.card["arm"]["seed"] == 1
    assert arm.card["arm"]["source_sha256"] == eeg.sha256 != arm.sha256
    assert "ordering" not in arm.card  # the source's figures describe the source's arrangement
    assert eeg.card.get("arm") is None  # the source is untouched
    # the arm is a grid file a student can load, named by the same checksum
    paths = save_grid_arm(arm, tmp_path / kind)
    back = load_grid(paths["card"].parent)
    assert back.sha256 == arm.sha256 and back.card == arm.card
    np.testing.assert_array_equal(back.prototypes, arm.prototypes)
    np.testing.assert_array_equal(back.filled, arm.filled)
    np.testing.assert_array_equal(back.counts, arm.counts)
    assert json.loads((tmp_path / kind / "card.json").read_text())["arm"]["kind"] == kind


def test_eeg_arm_is_the_grid_itself(eeg):
    assert grid_arm(eeg, "eeg") is eeg and grid_arm(eeg.path, "eeg").sha256 == eeg.sha256


def test_shuffled_arm_moves_vectors_flags_and_counts_together(tmp_path):
    """A 2 x 2 hand case: bin (0, 0) is empty and copies bin (0, 1); the other three have members."""
    p = np.zeros((2, 2, 3))
    p[0, 1] = p[0, 0] = [1, 0, 0]
    p[1, 0], p[1, 1] = [0, 1, 0], [0, 0, 1]
    counts = np.array([[[0, 2], [3, 4]]])
    g = _export(tmp_path / "g", p, counts, counts[0] == 0, sources=("dreamer",))
    for seed in range(20):
        s = grid_arm(g, "shuffled", seed)
        perm = np.asarray(s.card["arm"]["permutation"])
        assert sorted(perm) == [0, 1, 2, 3]
        np.testing.assert_array_equal(s.as_array(), g.as_array()[perm])
        np.testing.assert_array_equal(s.filled.ravel(), g.filled.ravel()[perm])  # the flag follows its vector
        np.testing.assert_array_equal(s.counts.reshape(1, 4), g.counts.reshape(1, 4)[:, perm])
        assert not np.any(np.all(s.as_array() == g.as_array(), axis=1))  # no bin keeps its own vector (the copy too)
        assert s.card["filled"] == s.filled.astype(int).tolist() and s.card["counts"]["dreamer"] == s.counts[0].tolist()
        assert s.card["teacher"] == g.card["teacher"]  # the EEG provenance stays: the arm holds the EEG's vectors
    # the empty bin (the copy) moved with its flag: it is flagged wherever the copied vector landed
    s = grid_arm(g, "shuffled", 3)
    k = int(np.flatnonzero(s.filled.ravel())[0])
    assert s.counts.reshape(-1)[k] == 0 and np.array_equal(s.as_array()[k], [1, 0, 0])
    np.testing.assert_array_equal(grid_arm(g, "shuffled", 3).prototypes, s.prototypes)  # seeded


def test_shuffled_arm_of_a_grid_with_copied_bins(eeg):
    s = grid_arm(eeg, "shuffled", 5)
    assert not np.any(np.all(s.as_array() == eeg.as_array(), axis=1))
    assert grid_arm(eeg, "shuffled", 6).sha256 != s.sha256
    assert s.filled.sum() == eeg.filled.sum() == 2 and np.array_equal(s.filled, s.counts.sum(0) == 0)


def test_an_unshufflable_grid_is_refused(tmp_path):
    p = np.zeros((2, 2, 3))
    p[..., 0] = 1  # every bin holds the same vector: no permutation can move it
    with pytest.raises(ValueError, match="repeat another's vector"):
        grid_arm(_export(tmp_path / "g", p, np.ones((1, 2, 2)), np.zeros((2, 2), bool), ("a",)), "shuffled")


@pytest.mark.parametrize("kind, make", [("coordinate", coordinate_prototypes), ("oracle", gstar_prototypes)])
def test_fixed_arms_are_a_function_of_the_bins_and_the_seed_only(eeg, kind, make, tmp_path):
    a = grid_arm(eeg, kind, seed=2)
    np.testing.assert_allclose(a.as_array(), make(eeg.bin_centres(), eeg.dim, 2), atol=1e-6)
    np.testing.assert_array_equal(grid_arm(eeg, kind, seed=2).prototypes, a.prototypes)  # deterministic
    assert grid_arm(eeg, kind, seed=3).sha256 != a.sha256
    # another source grid with the same bins and width, different prototypes: the same arm
    rng = np.random.default_rng(9)
    q = rng.standard_normal((5, 5, 16))
    other = _export(tmp_path / "other", q / np.linalg.norm(q, axis=-1, keepdims=True), np.ones((2, 5, 5)),
                    np.zeros((5, 5), bool))
    assert other.sha256 != eeg.sha256
    np.testing.assert_array_equal(grid_arm(other, kind, seed=2).prototypes, a.prototypes)
    assert not a.filled.any() and a.counts.shape == (1, 5, 5) and (a.counts == 1).all()
    assert a.card["sources"] == [kind] and "teacher" not in a.card and "licence" in a.card


def test_oracle_arm_holds_gstar_geometry(eeg):
    """The oracle's cosines are those of [G*(c), 1] at the bin centres (an isometry of G*)."""
    o = grid_arm(eeg, "oracle").as_array().astype(np.float64)
    f = np.c_[gstar(eeg.bin_centres()), np.ones(25)]
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    np.testing.assert_allclose(o @ o.T, f @ f.T, atol=1e-5)


def test_arm_errors_name_the_problem(eeg):
    with pytest.raises(ValueError, match="'kind' parameter.*'oracle'"):
        grid_arm(eeg, "snr0")
    with pytest.raises(ValueError, match="'seed' parameter"):
        grid_arm(eeg, "oracle", seed=-1)
    with pytest.raises(TypeError, match="PrototypeGrid"):
        grid_arm(None, "oracle")
    with pytest.raises(ValueError, match="real grid.*'shuffled' arm"):
        grid_arm(grid_arm(eeg, "shuffled"), "oracle")


def test_ablation_arms_and_labels_include_the_grid_arms():
    arms = ablation_arms()
    assert arms == ("B0", "B1", "B2", "B3", "B3-shuffled", "B3-coordinate", "B3-oracle", "B3-labelled")
    assert CONTROL_ARM == "B3-shuffled" and set(GRID_ARMS) == set(arms[4:7]) and list(ARM_LABELS) == list(arms)
    assert arm_grid("B3-labelled", 7) == ("B3", "eeg", 0)  # the labelled-only grid, trained against as given
    assert arm_grid("B3-shuffled", 7) == ("B3", "shuffled", 7)  # a new permutation per seed
    assert arm_grid("B3-oracle", 7) == ("B3", "oracle", 0) and arm_grid("B3-coordinate", 7) == ("B3", "coordinate", 0)
    assert arm_grid("B2", 7) == ("B2", "eeg", 0)
    with pytest.raises(ValueError, match="B3-oracle"):
        check_arm("B3-snr0")


def test_paired_tests_compare_b3_with_every_grid_arm_and_the_table_shows_them():
    from neuroaffect.report import ablation_markdown

    rng = np.random.default_rng(0)
    arms = ablation_arms()
    rows = [{"arm": a, "seed": s, "set": "ferplus-test", "macro_f1": 0.5 + 0.01 * i + 0.01 * rng.random(),
             "accuracy": 0.5, "balanced_accuracy": 0.5} for i, a in enumerate(arms) for s in range(3)]
    tests = paired_tests(rows)
    assert [t["comparison"] for t in tests] == ["B3 - B0", "B3 - B1", "B1 - B0", "B3 - B3-shuffled",
                                                "B3 - B3-coordinate", "B3 - B3-oracle", "B3-oracle - B3-coordinate"]
    assert all(t["detectable"] > 0 for t in tests)  # the smallest difference these 3 seeds could detect
    assert all(t["n_seeds"] == 3 and np.isfinite(t["p"]) for t in tests)
    assert all(t["p"] <= t["p_holm"] <= 1 for t in tests)
    records = [{"arm": a, "seed": s, "val": {"accuracy": 0.5, "macro_f1": 0.5, "balanced_accuracy": 0.5}}
               for a in arms for s in range(3)]
    md = ablation_markdown(records, {"runs": rows, "baselines": [], "sets": {"ferplus-test": {}}})
    for a in arms:
        assert f"| {ARM_LABELS[a]} |" in md, a
    assert "| B3 - B3-oracle | 3 |" in md and "| B3 - B3-coordinate | 3 |" in md
    assert "Power check: the oracle grid" in md and "no information" not in md


def test_no_verdict_on_the_eeg_grid_when_the_power_check_fails():
    from neuroaffect.report.ablation import _control_lines

    def t(d, p):
        return {"mean_difference": d, "p": p, "p_holm": p, "n_seeds": 10}

    failed = "\n".join(_control_lines({"B3-oracle - B3-coordinate": t(0.001, 0.6), "B3 - B3-shuffled": t(0.0, 0.9)}))
    assert "did not beat" in failed and "nothing is concluded" in failed and "shuffled" not in failed
    passed = "\n".join(_control_lines({"B3-oracle - B3-coordinate": t(0.05, 0.001), "B3 - B3-shuffled": t(0.0, 0.9)}))
    assert "beat the coordinate-only" in passed and "undetectable at this power" in passed and "not shown" in passed
    reversed_ = "\n".join(_control_lines({"B3-oracle - B3-coordinate": t(-0.05, 0.001),
                                           "B3 - B3-shuffled": t(0.0, 0.9)}))
    assert "did not beat" in reversed_ and "nothing is concluded" in reversed_


def _faces(n, seed, size=10):
    from neuroaffect.io.faces import FaceSet

    rng = np.random.default_rng(seed)
    y = np.arange(n) % 8
    img = np.clip(y[:, None, None] * 28 + rng.normal(20, 12, (n, size, size)), 0, 255).astype(np.uint8)
    votes = rng.random((n, 8)).astype(np.float32)
    votes[np.arange(n), y] += 4
    return FaceSet("ferplus", labels=y, split=["train"] * (n - 8) + ["val"] * 8, images=img, soft_labels=votes)


@pytest.mark.slow
def test_train_arm_of_the_oracle_writes_its_grid_and_a_student_that_names_it(eeg, tmp_path, one_torch_thread):
    from neuroaffect.distill import load_student, shuffled_grid
    from neuroaffect.pipeline import train_arm

    assert shuffled_grid(eeg, 5).sha256 == grid_arm(eeg, "shuffled", 5).sha256  # distill's control grid is this arm

    rec = train_arm(_faces(24, 0), eeg.path, "B3-oracle", 4, tmp_path / "run", epochs=1, batch_size=16,
                    device="cpu", in_size=8)
    arm = load_grid(tmp_path / "run" / "grid")
    assert arm.sha256 == grid_arm(eeg, "oracle", 0).sha256 == rec["grid_sha256"] != eeg.sha256  # seed 0, not 4
    assert rec["arm"] == "B3-oracle" and rec["grid_arm"]["kind"] == "oracle" and rec["record"]["loss_arm"] == "B3"
    saved = json.loads((tmp_path / "run" / "record.json").read_text())
    student = load_student(tmp_path / "run" / "student", record=saved)  # the export is the run the record names
    assert student.grid_sha256 == arm.sha256
    with pytest.raises(ValueError, match="derives its grid"):
        train_arm(_faces(24, 0), None, "B3-coordinate", 0, tmp_path / "none", epochs=1, device="cpu", in_size=8)


def test_schema_takes_the_controls_list():
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    full = yaml.safe_load((ROOT / "config/full.yaml").read_text())
    assert cfg["distill"]["controls"] == ["shuffled", "coordinate", "oracle"]  # the demo: labelled is full's
    assert full["distill"]["controls"] == ["shuffled", "coordinate", "oracle", "labelled"]
    schema = str(ROOT / "workflow/schemas/config.schema.yaml")
    validate(cfg, schema)
    validate(full, schema)
    for bad in (["snr0"], ["oracle", "oracle"], "oracle"):
        cfg["distill"]["controls"] = bad
        with pytest.raises(WorkflowError):
            validate(cfg, schema)


@pytest.mark.slow
@pytest.mark.parametrize("distill, arms", [
    ({}, ["B0", "B1", "B2", "B3", "B3-shuffled", "B3-coordinate", "B3-oracle"]),  # as shipped
    ({"controls": ["shuffled", "coordinate", "oracle", "labelled"]},
     ["B0", "B1", "B2", "B3", "B3-shuffled", "B3-coordinate", "B3-oracle", "B3-labelled"]),  # as config/full.yaml
    ({"controls": ["labelled"], "arms": ["B3"]}, ["B3", "B3-labelled"]),  # the labelled-only grid's arm
    ({"controls": None, "control": True}, ["B0", "B1", "B2", "B3", "B3-shuffled"]),  # the older switch
    ({"controls": ["oracle"], "arms": ["B3"]}, ["B3", "B3-oracle"]),
])
def test_workflow_plans_one_student_per_arm_and_control(tmp_path, distill, arms):
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    for k, v in distill.items():
        if v is None:
            cfg["distill"].pop(k, None)
        else:
            cfg["distill"][k] = v
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    bin_ = Path(sys.executable).parent
    res = subprocess.run([str(bin_ / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                          "--cores", "1", "-n", "-p"], capture_output=True, text=True, timeout=900,
                         env={"PATH": f"{bin_}:/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg"})
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-3000:]
    planned = sorted(set(re.findall(r"train-student .*?--arm (\S+)", res.stdout)))
    assert planned == sorted(arms)
    grids = set(re.findall(r"train-student .*?--grid (\S+) --arm B3-labelled", res.stdout))
    assert grids == ({"results/prototypes/grid_labelled"} if "B3-labelled" in arms else set())
