"""The ``distill.loss_options.proto_mode`` key: validated by the schema, passed to the student's command."""

import copy
import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "workflow" / "lib") not in sys.path:
    sys.path.insert(0, str(ROOT / "workflow" / "lib"))  # the workflow's tooling (neuroaffect_workflow)
SCHEMA = str(ROOT / "workflow/schemas/config.schema.yaml")


def _validate(cfg):
    from snakemake.utils import validate

    from neuroaffect_workflow.config import check_config

    validate(copy.deepcopy(cfg), SCHEMA)
    check_config(cfg)


def _config(**loss_options):
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg["distill"]["loss_options"] = loss_options
    return cfg


def test_demo_uses_the_per_image_mode_and_the_full_config_the_published_one():
    demo = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    full = yaml.safe_load((ROOT / "config/full.yaml").read_text())
    assert demo["distill"]["loss_options"]["proto_mode"] == "image"
    assert full["distill"].get("loss_options", {}).get("proto_mode", "anchor") == "anchor"


@pytest.mark.slow
def test_proto_mode_is_validated_and_reaches_the_command():
    from snakemake.exceptions import WorkflowError

    from neuroaffect_workflow.commands import student_args

    _validate(_config(proto_mode="anchor"))
    _validate(_config(proto_mode="image", target_temperature=0.05))
    with pytest.raises(WorkflowError, match="per-image"):
        _validate(_config(proto_mode="per-image"))
    args = student_args(_config(proto_mode="image", target_temperature=0.05)["distill"])
    opts = json.loads(args[args.index("--loss-options") + 1])
    assert opts == {"proto_mode": "image", "target_temperature": 0.05}
    # the library takes the same options (what the command hands to train_arm -> train_student -> DistillLoss)
    from neuroaffect.distill import DistillLoss

    assert DistillLoss(None, "B1", **opts).proto_mode == "image"
