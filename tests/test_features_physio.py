"""Physiological features recovered from synthetic signals of known rate (neurokit2)."""

import logging
import warnings

import numpy as np
import pytest

from neuroaffect.features import compute_physio_features
from neuroaffect.io.base import Peripheral

nk = pytest.importorskip("neurokit2")
FS = 128.0
DUR = 60


def one(sig, fs, unit, kind):
    return Peripheral(np.asarray(sig)[None, None], float(fs), unit, kind)


@pytest.fixture(scope="module")
def signals():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "ecg": nk.ecg_simulate(duration=DUR, sampling_rate=256, heart_rate=72, random_state=1),
            "ppg": nk.ppg_simulate(duration=DUR, sampling_rate=128, heart_rate=85, random_state=2),
            "eda": nk.eda_simulate(duration=DUR, sampling_rate=128, scr_number=4, drift=0.0, random_state=3),
            "rsp": nk.rsp_simulate(duration=DUR, sampling_rate=128, respiratory_rate=15, random_state=4),
        }


def test_heart_rate_from_ecg_at_its_own_rate(signals):
    """DREAMER-like: ECG at 256 Hz, EEG windows at 128 Hz; 72 bpm within 2 bpm."""
    v, names, units = compute_physio_features(
        {"ecg": one(signals["ecg"], 256, "uV", "ecg")}, FS, [DUR * 128], 128, 128)
    assert names == ("hr", "hrv_rmssd") and units == ("bpm", "ms")
    assert v.shape == (1, 60, 2)
    hr = v[0, :, 0]
    assert np.isfinite(hr).all()
    assert abs(np.median(hr) - 72) < 2
    assert np.isfinite(v[0, :, 1]).all() and (v[0, :, 1] > 0).all()


def test_heart_rate_from_plethysmograph(signals):
    """DEAP-like: pulse from the plethysmograph when there is no ECG; 85 bpm within 3 bpm."""
    v, names, _ = compute_physio_features(
        {"ppg": one(signals["ppg"], 128, "a.u.", "ppg")}, FS, [DUR * 128], 128, 128)
    assert names == ("hr", "hrv_rmssd")
    assert abs(np.nanmedian(v[0, :, 0]) - 85) < 3


def test_gsr_response_count_and_tonic_level(signals):
    """4 simulated skin-conductance responses; resistance in Ohm becomes conductance in uS."""
    eda = signals["eda"]
    per = {"gsr": one(1e6 / eda, 128, "Ohm", "gsr")}
    whole = DUR * 128
    v, names, units = compute_physio_features(per, FS, [whole], whole, whole)
    assert names == ("gsr_tonic", "scr_count") and units == ("uS", "count")
    assert v[0, 0, 1] == 4
    assert eda.min() - 0.1 < v[0, 0, 0] < eda.mean() + 0.1
    # per 1-s window: counts within the 10-s context never exceed the total
    v1, _, _ = compute_physio_features(per, FS, [whole], 128, 128, context=10.0)
    assert v1.shape == (1, 60, 2)
    assert v1[0, :, 1].max() <= 4 and v1[0, :, 1].sum() > 0
    # a conductance given in uS is taken as it is
    v2, _, _ = compute_physio_features({"gsr": one(eda, 128, "uS", "gsr")}, FS, [whole], whole, whole)
    np.testing.assert_allclose(v2[0, 0, 0], v[0, 0, 0], rtol=1e-3)


def test_respiration_rate(signals):
    v, names, _ = compute_physio_features(
        {"resp": one(signals["rsp"], 128, "a.u.", "resp")}, FS, [DUR * 128], 128, 128)
    assert names == ("resp_rate",)
    assert abs(np.nanmedian(v[0, :, 0]) - 15) < 1


def test_missing_modalities_are_absent(signals):
    v, names, units = compute_physio_features({}, FS, [DUR * 128], 128, 128)
    assert names == () and v.shape == (1, 60, 0)
    per = {"temp": one(np.full(DUR * 128, 33.0), 128, "degC", "temp"),
           "resp": one(signals["rsp"], 128, "a.u.", "resp")}
    assert compute_physio_features(per, FS, [DUR * 128], 128, 128)[1] == ("resp_rate",)
    # ECG preferred over the plethysmograph when both exist
    per = {"ppg": one(signals["ppg"], 128, "a.u.", "ppg"), "ecg": one(signals["ecg"], 256, "uV", "ecg")}
    v, names, _ = compute_physio_features(per, FS, [DUR * 128], 128, 128)
    assert abs(np.median(v[0, :, 0]) - 72) < 2


def test_failed_detection_gives_nan_not_zero():
    flat = one(np.zeros(DUR * 128), 128, "a.u.", "ppg")
    with pytest.warns(RuntimeWarning, match="detection failed"):
        v, names, _ = compute_physio_features({"ppg": flat}, FS, [DUR * 128], 128, 128)
    assert names == ("hr", "hrv_rmssd") and np.isnan(v).all()


def test_unequal_trials_pad_with_nan(signals):
    ecg = signals["ecg"]
    per = {"ecg": Peripheral([ecg[None], ecg[None, : 256 * 30]], 256.0, "uV", "ecg")}
    v, _, _ = compute_physio_features(per, FS, [DUR * 128, 30 * 128], 128, 128)
    assert v.shape == (2, 60, 2)
    assert np.isfinite(v[1, :30, 0]).all() and np.isnan(v[1, 30:]).all()


def test_trials_too_short_for_the_rate_give_nan_without_warning(signals, caplog):
    """6 s of breathing at 15 /min hold 1.5 breaths: NaN by design, logged, never warned."""
    short = 6 * 128
    per = {"resp": one(signals["rsp"][:short], 128, "a.u.", "resp")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.INFO, logger="neuroaffect.features.physio"):
            v, names, _ = compute_physio_features(per, FS, [short], 128, 128)
    assert names == ("resp_rate",) and v.shape == (1, 6, 1) and np.isnan(v).all()
    assert "too short" in caplog.text and "'resp' trial 0" in caplog.text


def test_genuine_failures_on_long_trials_are_still_warned(signals):
    flat = one(np.zeros(DUR * 128), 128, "a.u.", "resp")
    with pytest.warns(RuntimeWarning, match=r"detection failed for 1 .*'resp' trial 0"):
        v, _, _ = compute_physio_features({"resp": flat}, FS, [DUR * 128], 128, 128)
    assert np.isnan(v).all()
    # a bad signal is reported whatever the trial length
    bad_gsr = one(-np.ones(6 * 128), 128, "Ohm", "gsr")
    with pytest.warns(RuntimeWarning, match="non-positive skin resistance"):
        compute_physio_features({"gsr": bad_gsr}, FS, [6 * 128], 128, 128)


@pytest.mark.parametrize("dataset", ["deap", "dreamer", "mahnob"])
def test_simulated_extraction_is_warning_free(dataset, sim_root):
    from neuroaffect.features import extract_features
    from neuroaffect.io import read_dataset

    rec = read_dataset(dataset, sim_root(dataset), subjects=[1])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = extract_features(rec, dict(topo=False))
    assert "physio" in ds.data_vars


def _ecg_with_beats(beats, n, fs):
    """Synthetic ECG (uV): a narrow R wave with Q and S dips at each given sample, and a T wave."""
    t = np.arange(n)
    ecg = np.zeros(n)
    for b in beats:
        def wave(at, width, height):
            return height * np.exp(-0.5 * ((t - b - at * fs) / (width * fs)) ** 2)

        ecg += wave(0.0, 0.008, 1.0) + wave(-0.02, 0.006, -0.15) + wave(0.02, 0.006, -0.2) + wave(0.25, 0.04, 0.25)
    return 1e3 * ecg


def test_heart_rate_and_rmssd_equal_known_values():
    """Beats at known samples (256 Hz): 20 s of intervals alternating 200 and 230 samples, then
    constant 215-sample intervals. Every successive difference in the first part is 30 samples,
    so RMSSD is 30 / 256 s = 117.1875 ms exactly; in the second part it is 0 and the heart rate
    60 * 256 / 215 bpm. Every window also equals a plain per-window reference written here."""
    fs, dur, context = 256, 60, 10.0
    rr = np.r_[np.tile([200, 230], 12), np.full(60, 215)]
    beats = np.cumsum(np.r_[100, rr])
    beats = beats[beats < dur * fs - 64]
    v, names, _ = compute_physio_features({"ecg": one(_ecg_with_beats(beats, dur * fs, fs), fs, "uV", "ecg")},
                                          FS, [dur * 128], 128, 128, context)
    assert names == ("hr", "hrv_rmssd")
    hr, rmssd = v[0, :, 0].astype(np.float64), v[0, :, 1].astype(np.float64)
    switch = beats[24] / fs  # last beat of the alternating part (s)
    centres = np.arange(dur) + 0.5
    alternating = centres + context / 2 < switch
    regular = centres - context / 2 > switch + 2 * 215 / fs
    assert alternating.sum() >= 10 and regular.sum() >= 30
    np.testing.assert_allclose(rmssd[alternating], 30 / 256 * 1e3, rtol=1e-6)
    np.testing.assert_allclose(rmssd[regular], 0.0, atol=1e-3)
    np.testing.assert_allclose(hr[regular], 60 * 256 / 215, rtol=1e-5)
    # the plain reference: successive differences timed at their last beat, within the context span
    t = beats / fs
    ref = np.full(dur, np.nan)
    for w, c in enumerate(centres):
        lo, hi = max(c - context / 2, 0.0), min(c + context / 2, float(dur))
        d = [(t[k + 2] - t[k + 1]) - (t[k + 1] - t[k]) for k in range(len(t) - 2) if lo <= t[k + 2] <= hi]
        if len(d) >= 2:
            ref[w] = 1e3 * np.sqrt(np.mean(np.square(d)))
    np.testing.assert_allclose(rmssd, ref, rtol=1e-5, atol=1e-3)
