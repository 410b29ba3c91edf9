"""The exported student's model card: its metrics (no seed), its limitations, and where its training faces
came from (``docs/distillation.md``, "Predicting faces")."""

import json
import shutil

import pytest
import torch
import yaml

from neuroaffect.distill import FERStudent, fer_metrics, save_student
from neuroaffect.report import student_card
from neuroaffect.report.student import limitations

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    return FERStudent(arch="resnet8", in_size=16, proj_dim=6).eval()  # small: a fast fixture


def _export(student, out, **kw):
    row = {"arm": "B3", "seed": 3, "set": "ferplus-test", **fer_metrics([0, 1, 2, 2], [0, 1, 1, 2])}
    paths = save_student(student, out, card=student_card, metrics={"ferplus-val": fer_metrics([0, 1], [0, 1]),
                                                                   "ferplus-test": row},
                         training={"arm": "B3", "train": {"seed": 3}}, **kw)
    return json.loads(paths["config"].read_text()), paths["card"].read_text()


def test_the_card_lists_metrics_without_the_seed_and_states_its_limitations(student, tmp_path):
    config, card = _export(student, tmp_path / "sim", grid_sha256="0" * 64, faces="simulated")
    front = yaml.safe_load(card.split("---")[1])
    assert "seed" not in front["metrics"] and "n" not in front["metrics"]
    assert {"accuracy", "macro_f1", "balanced_accuracy"} <= set(front["metrics"])
    assert "seed" not in config["metrics"]["ferplus-test"] and config["metrics"]["ferplus-test"]["accuracy"] == 0.75
    evaluation = card.split("## Evaluation")[1].split("##")[0]
    assert "seed" not in evaluation and "| ferplus-test |" in evaluation
    lim = card.split("## Limitations")[1].split("## Licence")[0]
    assert "Trained on SIMULATED faces" in lim and "224 px" in lim and "from scratch" in lim
    assert "arm B3, seed 3" in lim  # the seed is said where it belongs, not as a metric
    assert "valence/arousal read-out" in lim and "unvalidated" in lim
    assert config["trained_on_faces"] == "simulated"


def test_limitations_follow_the_export(student, tmp_path):
    base = {"kwargs": {"arch": "resnet8", "in_size": 48}, "grid_sha256": None}
    items = limitations({**base, "trained_on_faces": "real"})
    assert items[0].startswith("Trained on the FERPlus files") and "resnet8" in items[1] and "48 x 48" in items[1]
    assert not any("read-out" in x for x in items)  # no grid, no valence/arousal read-out to warn about
    assert limitations(base)[0].startswith("Where its training faces came from was not recorded")
    assert any("unvalidated" in x for x in limitations({**base, "grid_sha256": "a" * 64}))


def test_training_faces_are_simulated_when_the_root_has_the_simulators_sidecar(sim_root, tmp_path):
    from neuroaffect.pipeline.faces import _faceset

    root = sim_root("ferplus")
    faces, found = _faceset(root)
    assert found == "simulated" and len(faces) > 0
    real = tmp_path / "ferplus"
    real.mkdir()
    for f in root.iterdir():
        if f.is_file() and f.suffix == ".csv":
            shutil.copy2(f, real / f.name)
    assert _faceset(real)[1] == "real"  # the same files without the sidecar above them
    assert _faceset(faces)[1] == "unknown"  # a set in memory says nothing of its source
