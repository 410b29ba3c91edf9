"""One training task in a fresh process, optionally killed with SIGKILL in the middle of an epoch.

``python interrupted_run.py TASKS MODE WORKDIR OUT_JSON``

- TASKS: comma-separated, of ``sweep`` (a batched sweep with a checkpoint folder), ``teacher``
  (``make_teacher``: the final teacher and its control from feature files) and ``student``
  (``train_student``, arm B3); each works in ``WORKDIR/<task>``.
- MODE: ``run`` trains each task to the end (resuming whatever checkpoint its folder holds) and
  writes ``{task: summary}`` as JSON to OUT_JSON; ``kill`` (one task) trains with a global
  optimiser-step hook that, once the task's first checkpoint exists, sends this process SIGKILL at
  the second optimiser step after it: in the middle of the next epoch, with no chance to clean up.

The summary holds what a result records (metrics, histories, the ``resumed_from`` fields) and the
content checksums (:func:`~neuroaffect.training.checkpoint.checkpoint_checksum`) of the final
checkpoints, so a resumed run can be compared with an uninterrupted one in every weight and
statistic.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the reliability package

from neuroaffect._utils import content_sha256  # noqa: E402
from neuroaffect.training import TrainConfig  # noqa: E402
from neuroaffect.training.checkpoint import checkpoint_checksum, read_checkpoint  # noqa: E402
from reliability.tamper import TINY_DGCNN, _tiny_windows, make_feature_file, make_grid  # noqa: E402


def _content(path) -> str:
    return checkpoint_checksum(read_checkpoint(path))


def _arm_kill(first_checkpoint: Path) -> None:
    """SIGKILL this process at the second optimiser step after ``first_checkpoint`` appears."""
    seen = {"steps": 0}

    def hook(optimizer, args, kwargs):
        if seen["steps"] or first_checkpoint.exists():
            seen["steps"] += 1
            if seen["steps"] == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    from torch.optim.optimizer import register_optimizer_step_post_hook

    register_optimizer_step_post_hook(hook)


def sweep(work: Path, kill: bool) -> dict:
    from neuroaffect.training import run_sweep

    ckdir = work / "checkpoints"
    if kill:
        _arm_kill(ckdir / "group-000.pt")
    res = run_sweep(_tiny_windows(), "dgcnn", TINY_DGCNN, n_folds=2, baselines=(), checkpoint_dir=ckdir,
                    train_cfg=TrainConfig(epochs=3, batch_size=8, device="cpu"))
    return {"records": res.records, "histories": res.histories,
            "resumed_from": [f["resumed_from"] for f in res.folds],
            "proba": content_sha256([p.proba for p in res.predictions]),
            "checkpoints": {p.name: _content(p) for p in sorted(ckdir.glob("*.pt"))}}


def teacher(work: Path, kill: bool) -> dict:
    from neuroaffect.prototypes import PrototypeConfig
    from neuroaffect.prototypes.build import make_teacher

    feats = [make_feature_file(work / "features", seed=s, n_trials=8, n_times=512, subject=s) for s in (1, 2)]
    out = work / "teacher"
    if kill:
        _arm_kill(out / "teacher.pt")
    cfg = PrototypeConfig(cv_folds=0, holdout=0.5, mc_samples=2, n_permutations=1,
                          model_kwargs={"width": 8, "embed_dim": 8})
    summary = make_teacher(feats, "deap", out, cfg, TrainConfig(epochs=3, batch_size=8, device="cpu"))
    assert json.loads((out / "teacher.json").read_text()) == json.loads(json.dumps(summary, default=str))
    drop = ("seconds", "code_version", "summary_sha256")  # timings; the commit (others may commit while a test
    # runs); the checksum of the summary, which covers both
    return {"summary": {k: v for k, v in summary.items() if not k.startswith(drop)},
            "checkpoints": {n: _content(out / f"{n}.pt") for n in ("teacher", "control")}}


def _faces(n, split, seed, size=10):
    from neuroaffect.io.faces import FaceSet

    rng = np.random.default_rng(seed)
    y = np.arange(n) % 8
    img = np.clip(y[:, None, None] * 28 + rng.normal(20, 12, (n, size, size)), 0, 255).astype(np.uint8)
    votes = rng.random((n, 8)).astype(np.float32)
    votes[np.arange(n), y] += 4
    return FaceSet("ferplus", labels=y, split=[split] * n, images=img, soft_labels=votes)


def student(work: Path, kill: bool) -> dict:
    from neuroaffect.distill import train_student
    from neuroaffect.prototypes import load_grid

    grid = load_grid(make_grid(work / "grid"))
    ckpt = work / "student.pt"
    if kill:
        _arm_kill(ckpt)
    cfg = TrainConfig(epochs=3, batch_size=4, lr=1e-3, weight_decay=0.05, grad_clip=1.0, label_smoothing=0.055,
                      standardize=False, eval_batch_size=8, device="cpu")
    res = train_student(_faces(16, "train", 0), _faces(8, "val", 1), grid, "B3", cfg, in_size=8, checkpoint=ckpt,
                        loss_options={"ramp": (0.0, 0.5)})
    return {"record": res.record, "history": res.history, "selected_epoch": res.selected_epoch,
            "weights": content_sha256({k: v.numpy() for k, v in res.model.state_dict().items()}),
            "checkpoints": {p.name: _content(p) for p in (ckpt,)}}


def main(argv) -> None:
    tasks, mode, work, out = argv
    torch.set_num_threads(1)
    summary = {}
    for task in tasks.split(","):
        d = Path(work) / task
        d.mkdir(parents=True, exist_ok=True)
        summary[task] = {"sweep": sweep, "teacher": teacher, "student": student}[task](d, mode == "kill")
        if mode == "kill":
            raise SystemExit(f"{task}: the run ended without being killed")
    Path(out).write_text(json.dumps(summary, sort_keys=True, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
