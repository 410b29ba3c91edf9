"""Training data container and the label rules (docs/protocols.md)."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaffect.training import WindowSet, make_labels, make_synthetic_windows, n_label_classes


@pytest.mark.parametrize(
    "dataset, task, values, expected",
    [
        ("deap", "binary", [1.0, 4.99, 5.0, 9.0, 6.3], [0, 0, 1, 1, 1]),
        ("mahnob", "binary", [1, 4, 5, 9], [0, 0, 1, 1]),
        ("dreamer", "binary", [1, 2, 3, 4, 5], [0, 0, 1, 1, 1]),
        ("deap", "multiclass", [1.0, 1.99, 2.0, 5.5, 8.99, 9.0], [0, 0, 1, 4, 7, 8]),
        ("dreamer", "multiclass", [1, 2, 3, 4, 5], [0, 1, 2, 3, 4]),
        ("seed", "multiclass", [-1, 0, 1, 1], [0, 1, 2, 2]),
        ("seed-iv", "multiclass", [0, 1, 2, 3], [0, 1, 2, 3]),
    ],
)
def test_label_rules(dataset, task, values, expected):
    out = make_labels(np.asarray(values, dtype=float), dataset, task)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, expected)
    assert out.max() < n_label_classes(dataset, task)


def test_label_class_counts():
    assert n_label_classes("deap", "multiclass") == 9
    assert n_label_classes("dreamer", "multiclass") == 5
    assert n_label_classes("seed", "multiclass") == 3
    assert n_label_classes("deap", "binary") == 2


@pytest.mark.parametrize(
    "dataset, task, values, match",
    [
        ("deap", "binary", [5.0, np.nan], r"NaN means unlabelled.*first: nan at index 1"),
        ("deap", "multiclass", [0.5, 3.0], r"ratings in \[1, 9\].*first: 0.5 at index 0"),
        ("dreamer", "binary", [2.5], r"integer scores 1-5.*first: 2.5"),
        ("dreamer", "multiclass", [6], r"integer scores 1-5"),
        ("seed", "multiclass", [2], r"codes in \{-1, 0, 1\}"),
        ("seed", "binary", [1], r"no 'binary' labels are defined for 'seed'"),
        ("mahnob", "multiclass", [3], r"no 'multiclass' labels are defined for 'mahnob'"),
        ("deep", "binary", [3], r"Allowed values are 'deap'.*but got 'deep'"),
        ("deap", "multi", [3], r"Allowed values are 'binary', 'multiclass'"),
    ],
)
def test_label_errors(dataset, task, values, match):
    with pytest.raises(ValueError, match=match):
        make_labels(values, dataset, task)


def _ws(**over):
    kw = dict(X=np.zeros((4, 3, 2)), y=[0, 0, 1, 1], trial=[0, 0, 1, 1], subject=[1, 1, 1, 1],
              session=[0, 0, 0, 0], start=[0, 10, 0, 10], win_len=10, ch_pos=None)
    kw.update(over)
    return WindowSet(**kw)


def test_windowset_converts_and_describes():
    ws = _ws()
    assert ws.X.dtype == np.float32 and ws.y.dtype == np.int64 and ws.start.dtype == np.int64
    assert (ws.n_windows, ws.n_chans, ws.n_bands, ws.n_outputs) == (4, 3, 2, 2)
    sub = ws.subset([2, 3])
    assert sub.n_windows == 2 and sub.n_outputs == 2 and set(sub.trial) == {1}
    table = ws.trial_table()
    np.testing.assert_array_equal(table["trial"], [0, 1])
    np.testing.assert_array_equal(table["n_windows"], [2, 2])


@pytest.mark.parametrize(
    "over, match",
    [
        (dict(y=[0, 1, 1, 1]), r"field 'y'.*one value per trial.*trial 0"),
        (dict(subject=[1, 2, 1, 1]), r"field 'subject'.*trial 0"),
        (dict(y=[0, 0, 1]), r"field 'y'.*shape \(4,\)"),
        (dict(X=np.full((4, 3, 2), np.nan)), r"field 'X'.*24 NaN/Inf"),
        (dict(win_len=0), r"field 'win_len'"),
        (dict(start=[0, -1, 0, 1]), r"field 'start'"),
        (dict(trial=[0.5, 0, 1, 1]), r"field 'trial'.*integers"),
        (dict(ch_pos=np.zeros((2, 3))), r"field 'ch_pos'.*\(3, 3\)"),
        (dict(n_classes=1), r"field 'n_classes'"),
        (dict(y=[0, 0, 5, 5], n_classes=3), r"below n_classes=3"),
    ],
)
def test_windowset_refuses_bad_fields(over, match):
    with pytest.raises(ValueError, match=match):
        _ws(**over)


def test_synthetic_windows_layout():
    ws = make_synthetic_windows(n_subjects=2, n_trials=6, n_windows=5, n_chans=4, n_sessions=2, stride=64)
    assert ws.n_windows == 2 * 2 * 6 * 5
    assert np.unique(ws.trial).size == 24
    assert set(ws.trial_number) == set(range(1, 7))
    np.testing.assert_array_equal(ws.start[:5], np.arange(5) * 64)
    # balanced classes per subject and session
    t = ws.trial_table()
    assert np.all(np.bincount(t["y"]) == 12)


def test_windowset_is_a_torch_dataset():
    import torch

    ws = make_synthetic_windows(n_subjects=1, n_trials=4, n_windows=5, n_chans=3, n_bands=2, seed=0)
    assert isinstance(ws, torch.utils.data.Dataset) and len(ws) == 20
    x, y = ws[7]
    assert x.shape == (3, 2) and x.dtype == torch.float32 and y.dtype == torch.int64 and int(y) == ws.y[7]
    xb, yb = next(iter(torch.utils.data.DataLoader(ws, batch_size=8)))
    assert xb.shape == (8, 3, 2) and torch.equal(yb, torch.as_tensor(ws.y[:8]))
    reg = make_synthetic_windows(n_subjects=1, n_trials=4, n_windows=5, n_chans=3, n_bands=2, regression=True)
    assert reg[0][1].dtype == torch.float32


def test_dataset_registry_is_one_list():
    """The schema, the CLI and the simulator name the datasets of neuroaffect.labels and no others."""
    from pathlib import Path

    import yaml

    from neuroaffect.cli import build_parser
    from neuroaffect.labels import CUSTOM, DATASETS
    from neuroaffect.simulate import DATASETS as SIM

    schema = yaml.safe_load((Path(__file__).resolve().parent.parent / "workflow/schemas/config.schema.yaml").read_text())
    # the workflow's datasets: the simulated ones, and a user's own recordings (data.custom)
    assert schema["properties"]["datasets"]["items"]["enum"] == [*DATASETS, CUSTOM]
    assert set(schema["properties"]["data"]["propertyNames"]["enum"]) == {*DATASETS, CUSTOM}
    assert tuple(SIM) == DATASETS
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for cmd in ("simulate", "summarize", "features", "experiment", "sweep"):
        opt = next(a for a in sub.choices[cmd]._actions if a.dest == "dataset")
        eeg = tuple(c for c in opt.choices if c not in ("ferplus", "affectnet-mini", "ckplus"))
        # a user's own recordings ("custom") are read and summarised, never simulated
        assert eeg == (DATASETS if cmd == "simulate" else DATASETS + (CUSTOM,)), cmd
