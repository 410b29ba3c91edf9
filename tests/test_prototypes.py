"""The prototype grid: binning by hand, empty-bin filling, the ordering test, export and the checked loader,
numpy-only loading, byte-identical exports from two fresh processes, and the CLI end to end."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuroaffect.labels import grid_cells, grid_centres, grid_edges
from neuroaffect.prototypes import (
    ARRAYS, SCHEMA_VERSION, GridFormatError, build_grid, load_grid, ordering_test, pairwise_cosine,
)
from neuroaffect.prototypes.io import write_grid_files

ROOT = Path(__file__).resolve().parent.parent


def test_grid_geometry():
    np.testing.assert_allclose(grid_centres(5), [-0.8, -0.4, 0.0, 0.4, 0.8])
    np.testing.assert_allclose(grid_edges(5), [-1, -0.6, -0.2, 0.2, 0.6, 1])
    # DREAMER's five scores (normalised) fall in five different bins; edges go to the upper bin; outside clips
    iv, _ = grid_cells([-1.0, -0.5, 0.0, 0.5, 1.0, -0.6, 0.2, 1.7, -3.0], np.zeros(9))
    assert iv.tolist() == [0, 1, 2, 3, 4, 1, 3, 4, 0]
    iv, ia = grid_cells([np.nan, 0.0], [0.0, np.nan])
    assert iv.tolist() == [-1, -1] and ia.tolist() == [-1, -1]
    assert grid_centres(3).tolist() == pytest.approx([-2 / 3, 0, 2 / 3])


def test_prototypes_by_hand_and_filled_bins():
    # two members in bin (0, 0), one in bin (4, 4): everything else copies its nearest non-empty bin
    emb = np.array([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 2.0]])
    g = build_grid({"a": (emb, [-0.9, -0.8, 0.9], [-0.9, -0.7, 0.8])}, 5)
    expected = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)  # mean of the unit vectors, normalised again
    np.testing.assert_allclose(g.prototypes[0, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(g.prototypes[4, 4], [0, 0, 1], rtol=1e-6)
    assert g.counts["a"][0, 0] == 2 and g.counts["a"][4, 4] == 1 and g.counts["a"].sum() == 3
    assert g.filled.sum() == 23 and not g.filled[0, 0] and not g.filled[4, 4]
    # (1, 0) is nearer (0, 0); (3, 4) nearer (4, 4); (2, 2) is equally far from both: the first in bin order wins
    np.testing.assert_allclose(g.prototypes[1, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(g.prototypes[3, 4], [0, 0, 1], rtol=1e-6)
    assert g.source_of_fill[2, 2].tolist() == [0, 0]
    np.testing.assert_allclose(np.linalg.norm(g.prototypes, axis=-1), 1.0, rtol=1e-6)
    # two sources are kept apart in the counts and pooled in the prototypes
    g2 = build_grid({"a": (emb[:1], [-0.9], [-0.9]), "b": (emb[1:2], [-0.8], [-0.7])}, 5)
    assert g2.counts["a"][0, 0] == 1 and g2.counts["b"][0, 0] == 1
    np.testing.assert_allclose(g2.prototypes[0, 0], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="every bin is empty"):
        build_grid({"a": (emb, [np.nan] * 3, [0.0] * 3)}, 5)


def test_mc_dropout_spread_comes_from_dropout_alone():
    """MC-dropout passes keep dropout on: a teacher with dropout (in its blocks and before its head)
    gives a spread that shrinks as its dropout does, reproducible from the seed; without dropout every
    pass equals the eval-mode prediction and the spread is 0. The teacher is left in eval mode."""
    import torch

    from neuroaffect.models import create_model
    from neuroaffect.prototypes.teacher import mc_dropout_predict

    X = np.random.default_rng(0).standard_normal((6, 4, 16, 16)).astype(np.float32)
    spreads = {}
    for p in (0.0, 0.1, 0.5):
        torch.manual_seed(0)
        model = create_model("topoteacher", n_chans=1, n_bands=4, n_outputs=2, size=16, width=4, embed_dim=8,
                             dropout=p, block_dropout=p)
        mean, std = mc_dropout_predict(model, X, n_samples=30, seed=3)
        assert mean.shape == std.shape == (6, 2) and not model.training
        spreads[p] = float(std.mean())
        mean2, std2 = mc_dropout_predict(model, X, n_samples=30, seed=3)
        np.testing.assert_array_equal(mean, mean2)
        np.testing.assert_array_equal(std, std2)
        if p == 0.0:
            with torch.no_grad():
                ref = model(torch.as_tensor(X)).numpy()
            np.testing.assert_allclose(mean, ref, rtol=1e-5, atol=1e-6)
            assert (std < 1e-6).all()  # identical passes (up to the rounding of their mean)
    assert 0 < spreads[0.1] < spreads[0.5]


def _ordered(n=5, d=16, noise=0.0, seed=0):
    """Prototypes that vary smoothly with the bin's (v, a): ordered by construction."""
    rng = np.random.default_rng(seed)
    c = grid_centres(n)
    v, a = np.meshgrid(c, c, indexing="ij")
    basis = rng.standard_normal((3, d))
    p = v[..., None] * basis[0] + a[..., None] * basis[1] + 0.3 * basis[2] + noise * rng.standard_normal((n, n, d))
    return p / np.linalg.norm(p, axis=-1, keepdims=True), c


def test_ordering_test_finds_order_and_only_order():
    p, c = _ordered()
    r = ordering_test(p, c, n_permutations=300)
    assert r["rho"] > 0.8 and r["n_pairs"] == 300
    # no shuffled grid comes near: p = (1 + 0) / (1 + 300), never 0
    assert r["p_value"] == 1 / 301
    # the same prototypes in shuffled bins: no order left
    rng = np.random.default_rng(1)
    rhos = []
    for s in range(20):
        q = p.reshape(25, -1)[rng.permutation(25)].reshape(p.shape)
        rhos.append(ordering_test(q, c, n_permutations=50, seed=s)["rho"])
    assert abs(np.mean(rhos)) < 0.1
    q = p.reshape(25, -1)[np.random.default_rng(5).permutation(25)].reshape(p.shape)
    r = ordering_test(q, c, n_permutations=300)
    assert r["p_value"] > 0.05 and 301 * r["p_value"] == pytest.approx(round(301 * r["p_value"]))
    # the mask drops bins, and fewer than three give no figure
    mask = np.zeros((5, 5), bool)
    mask[0, :2] = True
    assert np.isnan(ordering_test(p, c, mask)["rho"])
    sim = pairwise_cosine(p)
    assert sim.shape == (25, 25) and np.allclose(np.diag(sim), 1.0)


def _export(tmp_path, name="g"):
    p, c = _ordered(3, 8)
    arrays = {"prototypes": p.astype(np.float32), "centres": c, "edges": grid_edges(3),
              "counts": np.ones((2, 3, 3), np.int64), "filled": np.zeros((3, 3), np.uint8)}
    out = tmp_path / name
    write_grid_files(out, arrays, {"dim": 8, "sources": ["dreamer", "mahnob"]})
    return out, arrays


def test_export_round_trip_lookup_and_soft_assignment(tmp_path):
    out, arrays = _export(tmp_path)
    for path in (out, out / "grid.npz", out / "grid.safetensors", out / "card.json"):
        g = load_grid(path)
        np.testing.assert_array_equal(g.prototypes, arrays["prototypes"])
        np.testing.assert_array_equal(g.counts, arrays["counts"])
    card = json.loads((out / "card.json").read_text())
    assert card["schema_version"] == SCHEMA_VERSION and set(card["arrays_sha256"]) == set(ARRAYS)
    assert g.sha256 == card["arrays_sha256"]["prototypes"]
    np.testing.assert_array_equal(g.lookup(0.9, -0.9), arrays["prototypes"][2, 0])
    assert g.lookup([0.0, 0.9], [0.0, 0.9]).shape == (2, 8)
    w = g.soft_assign(0.66, 0.0, temperature=0.05)
    assert w.shape == (9,) and w.sum() == pytest.approx(1.0) and int(np.argmax(w)) == 2 * 3 + 1
    assert g.soft_assign([0.0, 0.5], [0.0, 0.5]).sum(axis=1) == pytest.approx([1.0, 1.0])
    wide = g.soft_assign(0.66, 0.0, temperature=100.0)
    assert wide.max() - wide.min() < 0.01  # a high temperature spreads the weight evenly
    assert np.linalg.norm(g.soft_prototype(0.2, 0.3)) == pytest.approx(1.0)
    t = g.tensor()
    assert tuple(t.shape) == (3, 3, 8)
    with pytest.raises(ValueError, match="temperature"):
        g.soft_assign(0, 0, temperature=0)


def test_a_built_grid_and_its_loaded_export_are_one_grid(tmp_path):
    """GridBuild.arrays are what the export holds, and GridBuild.to_grid is the loader's grid in memory."""
    rng = np.random.default_rng(1)
    g = build_grid({"dreamer": (rng.normal(size=(40, 6)), rng.uniform(-1, 1, 40), rng.uniform(-1, 1, 40)),
                    "mahnob": (rng.normal(size=(10, 6)), rng.uniform(-1, 1, 10), rng.uniform(-1, 1, 10))}, 3)
    write_grid_files(tmp_path, g.arrays(["mahnob", "dreamer"]), {"dim": 6, "sources": ["mahnob", "dreamer"]})
    loaded, mem = load_grid(tmp_path), g.to_grid(card={"sources": ["mahnob", "dreamer"]})
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(mem, name), getattr(loaded, name))
        assert getattr(mem, name).dtype == getattr(loaded, name).dtype
    np.testing.assert_array_equal(loaded.counts[0], g.counts["mahnob"])
    np.testing.assert_array_equal(mem.lookup([0.5, -0.9], [0.1, 0.9]), loaded.lookup([0.5, -0.9], [0.1, 0.9]))
    assert g.to_grid().card["sources"] == ["dreamer", "mahnob"] and g.to_grid().path is None


def test_pipeline_exports_every_orchestration_call():
    """The module docstrings' examples: ``pipeline.<call>`` for the EEG, grid and face-student steps."""
    from neuroaffect import pipeline

    for name in ("experiment", "sweep", "train_teacher", "export_prototypes", "train_arm", "evaluate_students",
                 "export_student"):
        assert callable(getattr(pipeline, name)) and name in pipeline.__all__


@pytest.mark.parametrize("fname", ["grid.npz", "grid.safetensors", "card.json"])
def test_one_changed_byte_is_refused(tmp_path, fname):
    out, _ = _export(tmp_path)
    f = out / fname
    data = bytearray(f.read_bytes())
    # a byte inside the payload: the last prototype value (npz, safetensors) or a digit of a checksum (card)
    if fname == "card.json":
        text = f.read_text()
        i = text.index('"prototypes": "') + len('"prototypes": "')
        data[i] = ord("0") if text[i] != "0" else ord("1")
    else:
        i = len(data) - 30 if fname == "grid.safetensors" else data.index(b"filled.npy") - 200
        data[i] ^= 0x55
    f.write_bytes(bytes(data))
    target = out if fname == "card.json" else f
    with pytest.raises(GridFormatError, match=fname.replace(".", r"\.") if fname != "card.json" else "grid"):
        load_grid(target)


def test_a_changed_card_field_is_refused(tmp_path):
    """An edit of the card that keeps it valid JSON and leaves the arrays alone (here the list of
    sources) no longer matches the card's own checksum: refused, naming card.json."""
    out, _ = _export(tmp_path)
    card = json.loads((out / "card.json").read_text())
    card["sources"] = ["dreamer"]
    (out / "card.json").write_text(json.dumps(card, indent=1))
    for target in (out, out / "grid.npz"):
        with pytest.raises(GridFormatError, match=r"card\.json: expected content sha256.*changed after export"):
            load_grid(target)


def test_truncated_missing_and_future_files_are_refused(tmp_path):
    out, _ = _export(tmp_path)
    (out / "grid.npz").write_bytes((out / "grid.npz").read_bytes()[:500])
    with pytest.raises(GridFormatError, match=r"grid\.npz: expected"):
        load_grid(out / "grid.npz")
    (out / "grid.safetensors").write_bytes((out / "grid.safetensors").read_bytes()[:100])
    with pytest.raises(GridFormatError, match=r"grid\.safetensors: expected"):
        load_grid(out)
    out2, _ = _export(tmp_path, "g2")
    card = json.loads((out2 / "card.json").read_text())
    card["schema_version"] = SCHEMA_VERSION + 1
    (out2 / "card.json").write_text(json.dumps(card))
    with pytest.raises(GridFormatError, match="schema version"):
        load_grid(out2 / "grid.npz")
    with pytest.raises(GridFormatError, match="card.json: expected the card"):
        load_grid(tmp_path / "nowhere")
    out3, _ = _export(tmp_path, "g3")
    (out3 / "card.json").write_text("{not json")
    with pytest.raises(GridFormatError, match="card.json: expected a JSON card"):
        load_grid(out3)
    # a pickled object array inside the npz is refused (np.load without pickle)
    out4, arrays = _export(tmp_path, "g4")
    np.savez(out4 / "grid.npz", **{**arrays, "counts": np.array([object()], dtype=object)})
    with pytest.raises(GridFormatError, match="no pickled objects"):
        load_grid(out4 / "grid.npz")


def test_loader_needs_only_numpy(tmp_path):
    out, _ = _export(tmp_path)
    code = ("import sys\n"
            "for m in ('torch', 'safetensors', 'mne', 'xarray', 'snakemake'): sys.modules[m] = None\n"
            "from neuroaffect.prototypes import load_grid\n"
            f"g = load_grid({str(out)!r})\n"
            "print(g.path.name, g.prototypes.shape)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "grid.npz (3, 3, 8)"


def _sha(folder):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(Path(folder).iterdir()) if f.is_file()}


@pytest.mark.slow
def test_cli_export_is_byte_identical_across_fresh_processes(sim_root, tmp_path):
    """Same config and seed: the same grid files, byte for byte, from two fresh processes on CPU."""
    dreamer, mahnob = sim_root("dreamer"), sim_root("mahnob")
    config = json.dumps({"cv_folds": 2, "mc_samples": 4, "n_permutations": 50, "holdout": 0.5,
                         "model_kwargs": {"width": 4, "embed_dim": 16}})
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        teach = [sys.executable, "-m", "neuroaffect", "train-teacher", "--root", str(dreamer), "--out",
                 str(out / "teacher"), "--epochs", "2", "--batch-size", "16", "--device", "cpu", "--config", config,
                 "--feature-params", '{"physio": false}']
        res = subprocess.run(teach, capture_output=True, text=True, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        exp = [sys.executable, "-m", "neuroaffect", "export-prototypes", "--root", str(dreamer), "--support-root",
               str(mahnob), "--teacher", str(out / "teacher"), "--out", str(out / "grid"), "--config", config,
               "--feature-params", '{"physio": false}', "--report", str(out / "report")]
        res = subprocess.run(exp, capture_output=True, text=True, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert "ordering rho" in res.stdout and "labelled only" in res.stdout and "shuffled-label control" in res.stdout
        outs.append(out)
    assert _sha(outs[0] / "grid") == _sha(outs[1] / "grid")
    g = load_grid(outs[0] / "grid")
    card = g.card
    assert g.n == 5 and g.dim == 16 and card["sources"] == ["dreamer", "mahnob"]
    assert card["teacher"]["architecture"]["name"] == "topoteacher"
    assert card["teacher"]["checkpoint_sha256"] == hashlib.sha256(
        (outs[0] / "teacher" / "teacher.pt").read_bytes()).hexdigest()
    assert set(card["ordering"]) >= {"grid", "labelled_only", "control"}
    assert any(k.endswith("s01.dat") or "DREAMER.mat" in k for k in card["inputs"]["dreamer"]["raw_inputs"])
    assert "licen" in card["licence"]
    for fig in ("occupancy.png", "occupancy_sizes.png", "geometry.png", "geometry_control.png", "teacher_fit.png"):
        assert (outs[0] / "report" / fig).read_bytes()[:4] == b"\x89PNG"
    summary = (outs[0] / "report" / "summary.md").read_text()
    assert "Ordering" in summary and "Support gate" in summary and "| valence | window | teacher |" in summary
