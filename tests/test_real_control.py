"""The real-signal positive control: eyes closed against eyes open through the whole pipeline.

PhysioNet eegmmidb subject 1 (run 1 eyes open, run 2 eyes closed; ``tests/data/real/eegmmidb``)
is read by the reader for users' own recordings, turned into band DE and maps, windowed and
classified under trial-holdout by the logistic row and DGCNN (few epochs), beside the majority
row and the drift control (``benchmarks/real_control.py``, whose table is in ``docs/real.md``).
Alpha over O1/Oz/O2 must be higher with the eyes closed, both in the pipeline's band DE and in
a plain Welch estimate computed here from the EDF files, and in the alpha maps over the back of
the head, and both classifiers must beat the majority row.
"""

import importlib.util
import logging
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest
from scipy import signal
from scipy.integrate import trapezoid

from neuroaffect.report import sweep_markdown

ROOT = Path(__file__).resolve().parent.parent
EEGMMIDB = ROOT / "tests" / "data" / "real" / "eegmmidb"
EYE_STATE = ROOT / "tests" / "data" / "real" / "eye_state" / "eeg_eye_state.arff"
OCC = ("O1", "Oz", "O2")

if not (EEGMMIDB / "labels.csv").is_file():
    pytest.skip(f"{EEGMMIDB} holds no labels.csv", allow_module_level=True)


def _control_module():
    spec = importlib.util.spec_from_file_location("real_control", ROOT / "benchmarks" / "real_control.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


rc = _control_module()


def welch_alpha(root: Path, channels) -> pd.DataFrame:
    """Per trial of ``labels.csv`` and channel: mean log alpha power (8-14 Hz) of 1-s Welch
    segments, from the files read by MNE directly (not by the project's reader)."""
    table = pd.read_csv(root / "labels.csv")
    rows = []
    for fname, rows_of_file in table.groupby("file"):
        raw = mne.io.read_raw(root / fname, preload=True, verbose="error")
        raw.rename_channels(lambda c: c.strip(".").upper())
        fs = raw.info["sfreq"]
        picks = [c.upper() for c in channels if c.upper() in raw.ch_names]
        x = raw.get_data(picks=picks) * 1e6
        for _, r in rows_of_file.iterrows():
            seg = x[:, int(round(r.onset * fs)):int(round((r.onset + r.duration) * fs))]
            f, p = signal.welch(seg, fs, nperseg=int(fs))
            band = (f >= 8) & (f < 14)
            rows.append({"eyes": r.eyes, **{c: float(np.log(trapezoid(p[i, band], f[band])))
                                            for i, c in enumerate(picks)}})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def control():
    logging.getLogger("neuroaffect").setLevel(logging.WARNING)
    return rc.run_control(EEGMMIDB, model="dgcnn", epochs=10, n_folds=5)


@pytest.mark.slow
def test_alpha_is_higher_with_eyes_closed(control):
    a = control["alpha"]
    assert a["channels"] == list(OCC) and a["n_open"] == a["n_closed"] == 10
    assert a["diff"] > 0.5 and a["p"] < 1e-3  # closed - open, nats of DE
    ds = control["features"]
    y = ds["eyes"].values
    alpha = ds["bde"].sel(band="alpha").mean("window")
    for ch in OCC:
        v = alpha.sel(channel=ch).values
        assert v[y == 1].mean() > v[y == 0].mean() + 0.3, ch
    # the same effect from a plain Welch estimate on the EDF files: DE differences are half the
    # log power ratio (DE = 0.5 ln(2 pi e var)); channel means agree within 0.25 nats
    w = welch_alpha(EEGMMIDB, OCC)
    closed, opened = w[w.eyes == "closed"], w[w.eyes == "open"]
    for ch in ("O1", "OZ", "O2"):
        half_log_ratio = 0.5 * (closed[ch].mean() - opened[ch].mean())
        assert half_log_ratio > 0.3
        de = alpha.sel(channel={"OZ": "Oz"}.get(ch, ch)).values
        assert abs((de[y == 1].mean() - de[y == 0].mean()) - half_log_ratio) < 0.25, ch


def test_alpha_map_is_higher_at_the_back_with_eyes_closed(control):
    """The topographic alpha maps: closed minus open is larger over the back of the head (MNE head
    frame, y < -5 cm) than over the front (y > 5 cm), and positive there."""
    ds = control["features"]
    y = ds["eyes"].values
    alpha = ds["topo"].sel(band="alpha").mean("window")
    diff = (alpha[y == 1].mean("trial") - alpha[y == 0].mean("trial")).values  # (y, x)
    inside = ds["topo_inside"].values.astype(bool)
    ypos = np.broadcast_to(ds["y"].values[:, None], diff.shape)
    back, front = diff[inside & (ypos < -0.05)].mean(), diff[inside & (ypos > 0.05)].mean()
    assert back > 0.5 and back > front + 0.3


def test_classified_above_the_majority_row(control):
    res = control["result"]
    majority = rc.accuracy(res, "majority")
    assert majority == pytest.approx(0.5)  # 10 trials each, stratified folds
    for row in ("dgcnn", "logistic"):
        assert rc.accuracy(res, row) > majority + 0.3, row
        assert rc.accuracy(res, row, level="trial") > majority + 0.3, row
    assert all(f["trial_overlap"] == 0 for f in res.sweep.folds)


def test_drift_rows_and_table(control):
    res = control["result"]
    names = set(res.table("window")["model"])
    assert {"logistic (drift: open)", "logistic (drift: closed)"} <= names
    md = sweep_markdown(res.sweep, "window")
    assert "Drift control (window level" in md and "logistic (drift: open)" in md
    tab = rc.table({"eegmmidb": control})
    assert tab.count("\n") == 3 and "| eegmmidb (O1/Oz/O2) | 10 / 10 |" in tab


@pytest.mark.skipif(not EYE_STATE.is_file(), reason=f"{EYE_STATE} is absent")
def test_eye_state_folder_and_its_alpha_figures(tmp_path):
    """The Emotiv Eye State recording as a custom dataset: one trial per 2 s of each run of one
    eye state, in time order; its alpha figures agree with a plain Welch estimate (this recording
    shows no clear occipital alpha rise, see docs/real.md, so only agreement is asserted)."""
    root = rc.eye_state_folder(EYE_STATE, tmp_path / "eye_state")
    table = pd.read_csv(root / "labels.csv")
    assert (table["duration"] == 2.0).all() and (np.diff(table["onset"]) > 0).all()
    from neuroaffect.features import extract_features
    from neuroaffect.io import read_custom

    rec = read_custom(root, classes=rc.CLASSES, **rc.READ_KWARGS["eye_state"])[0]
    ds = extract_features(rec)
    a = rc.alpha_effect(ds)
    assert a["channels"] == ["O1", "O2"] and a["n_open"] + a["n_closed"] == len(table)
    assert np.isfinite([a["diff"], a["cohen_d"], a["p"]]).all()


@pytest.mark.slow
def test_drift_control_through_the_experiment_api(control):
    """``pipeline.experiment(..., drift_control=True)`` adds the same drift rows as the control;
    a protocol that holds out whole subjects is refused before any training."""
    from neuroaffect import pipeline
    from neuroaffect.training import TrainConfig

    cfg = TrainConfig(epochs=2, batch_size=64, device="cpu", amp=False)
    res = pipeline.experiment([control["features"]], 1, "eyes", "binary", "dgcnn", n_folds=5, train_cfg=cfg,
                              drift_control=True)
    ours = res.table("window").set_index("model").filter(like="(drift:", axis=0)
    theirs = control["result"].table("window").set_index("model").filter(like="(drift:", axis=0)
    assert len(ours) == len(theirs) == 10  # 2 conditions x 5 folds
    np.testing.assert_array_equal(ours["balanced_accuracy"].to_numpy(), theirs["balanced_accuracy"].to_numpy())
    names = res.metadata.get("class_names") or ["class 0", "class 1"]  # the labels table's classes, when known
    assert res.sweep.config["drift_control"]["rows"] == [f"logistic (drift: {c})" for c in names]
    with pytest.raises(ValueError, match="drift control"):
        pipeline.experiment([control["features"]], 1, "eyes", "binary", "dgcnn", "loso", train_cfg=cfg,
                            drift_control=True)


@pytest.mark.slow
def test_drift_control_from_the_command_line(tmp_path, capsys):
    """``neuroaffect experiment --drift-control`` prints the drift rows and the verdict and writes
    them into the result files; with ``--protocol loso`` it stops before reading anything."""
    from neuroaffect.cli import main

    out = tmp_path / "eyes"
    args = ["experiment", "--dataset", "custom", "--root", str(EEGMMIDB), "--subject", "1", "--target", "eyes",
            "--task", "binary", "--classes", "eyes=open,closed", "--model", "dgcnn", "--epochs", "1", "--folds", "5",
            "--device", "cpu", "--no-progress", "--drift-control", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "logistic (drift: " in printed and "Drift control (window level" in printed
    md = (tmp_path / "eyes.md").read_text()
    assert md.count("Drift control (") == 2  # window and trial level
    assert main(args + ["--protocol", "loso"]) == 2
    assert "drift control" in capsys.readouterr().err
