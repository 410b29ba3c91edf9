"""The labelled-only grid beside the exported one (the grid of the face student's B3-labelled arm,
``docs/distillation.md``, "Grid arms"): its card, and that it is the grid an export without support gives."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from neuroaffect.pipeline.prototypes import labelled_only_card
from neuroaffect.prototypes import load_grid
from neuroaffect.prototypes.grid import build_grid
from neuroaffect.prototypes.io import write_grid_files


def _members(rng, n, spread):
    return rng.normal(size=(n, 4)), rng.uniform(-spread, spread, n), rng.uniform(-spread, spread, n)


def test_labelled_only_card_keeps_the_labelled_members_and_drops_the_support(tmp_path):
    rng = np.random.default_rng(0)
    labelled = {"dreamer": _members(rng, 30, 0.5)}  # the centre only: outer bins empty without support
    full = build_grid({**labelled, "mahnob": _members(rng, 40, 1.0)}, 3)
    only = build_grid(labelled, 3)
    card = {"sources": ["dreamer", "mahnob"], "dim": 4, "grid_size": 3, "bin_edges": full.edges.tolist(),
            "bin_centres": full.centres.tolist(), "counts": {k: v.tolist() for k, v in full.counts.items()},
            "filled": full.filled.astype(int).tolist(), "ordering": {"grid": {"rho": 0.5}, "labelled_only": {"rho": 0.2}},
            "support_gate": {"method": "MC dropout", "samples": 4, "quantile": 0.5, "threshold": 0.1, "windows": 40,
                             "passed": 20, "labelled": {"pass_rate": 0.5}},
            "inputs": {"dreamer": {"a": 1}, "mahnob": {"b": 2}}, "teacher": {"role": "teacher"}}
    result = SimpleNamespace(card=card, labelled_only=only, ordering=card["ordering"])
    out = labelled_only_card(result)
    assert out["sources"] == ["dreamer"] and out["labelled_only"] is True and out["teacher"] == {"role": "teacher"}
    assert out["counts"] == {"dreamer": only.counts["dreamer"].tolist()} == {"dreamer": card["counts"]["dreamer"]}
    assert out["filled"] == only.filled.astype(int).tolist() and sum(map(sum, out["filled"])) > 0
    assert out["ordering"] == {"grid": {"rho": 0.2}} and out["inputs"] == {"dreamer": {"a": 1}}
    assert out["support_gate"] == {"method": "MC dropout", "samples": 4, "quantile": 0.5, "threshold": 0.1,
                                   "windows": 0, "passed": 0, "used": False}
    assert card["sources"] == ["dreamer", "mahnob"]  # the exported grid's card is not changed
    write_grid_files(tmp_path / "g", only.arrays(out["sources"]), out)
    g = load_grid(tmp_path / "g")  # the loader's checks of counts and filled against the card pass
    np.testing.assert_array_equal(g.prototypes, only.prototypes)
    assert not np.array_equal(g.prototypes, full.prototypes)


@pytest.mark.slow
def test_the_labelled_only_grid_is_the_grid_of_an_export_without_support(sim_root, tmp_path, one_torch_thread):
    from neuroaffect.pipeline import export_prototypes, train_teacher
    from neuroaffect.training import TrainConfig

    dreamer, mahnob = sim_root("dreamer"), sim_root("mahnob")
    cfg = {"cv_folds": 0, "mc_samples": 2, "n_permutations": 20, "holdout": 0.5, "model_kwargs": {"width": 2,
                                                                                                "embed_dim": 8}}
    fp = {"physio": False}
    train_teacher(tmp_path / "teacher", "dreamer", root=dreamer, feature_params=fp, config=cfg,
                  train_cfg=TrainConfig(epochs=1, batch_size=32, device="cpu"))
    export_prototypes(tmp_path / "grid", tmp_path / "teacher", "dreamer", root=dreamer, support_root=mahnob,
                      feature_params=fp, support_params={**fp, "window": 256, "stride": 256}, config=cfg,
                      labelled_out=tmp_path / "labelled")
    export_prototypes(tmp_path / "nosupport", tmp_path / "teacher", "dreamer", root=dreamer, feature_params=fp,
                      config=cfg)
    grid, labelled, plain = (load_grid(tmp_path / d) for d in ("grid", "labelled", "nosupport"))
    assert grid.card["support_gate"]["passed"] > 0 and labelled.card["labelled_only"] is True
    assert labelled.sha256 == plain.sha256 != grid.sha256  # the same teacher's grid without the support windows
    np.testing.assert_array_equal(labelled.counts[0], grid.counts[0])  # the same labelled members
    card = json.loads((tmp_path / "labelled" / "card.json").read_text())
    assert card["sources"] == ["dreamer"] and card["teacher"] == grid.card["teacher"]


def test_the_labelled_arm_refuses_a_grid_that_is_not_the_labelled_only_one(random_grid, tmp_path):
    from neuroaffect.io.faces import FaceSet
    from neuroaffect.pipeline import train_arm

    faces = FaceSet("ferplus", labels=np.arange(16) % 8, split=["train"] * 8 + ["val"] * 8,
                    images=np.zeros((16, 8, 8), np.uint8))
    grid = random_grid(dim=4)  # a grid whose card does not say labelled_only
    for g in (grid, grid.path, None):
        with pytest.raises(ValueError, match="'grid' parameter.*'B3-labelled'.*labelled-only grid"):
            train_arm(faces, g, "B3-labelled", 0, tmp_path / "run", epochs=1, device="cpu", in_size=8)
    assert not (tmp_path / "run" / "record.json").exists()
