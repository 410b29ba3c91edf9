"""Physiological features on real recordings, against references computed here by other means.

- MIT-BIH Arrhythmia Database record 100 (first 300 s, lead MLII, 360 Hz): heart rate per 10-s
  window within 1 beat/min of the rate from the cardiologists' beat annotations, and RMSSD
  within 5 % of the annotated beats' RMSSD (whole record, and per 60-s window).
- BioSPPy's example signals: the plethysmograph's pulse rate, the skin conductance's tonic level
  and response count, and the breathing rate, each against a plain scipy computation below.

The data and their licences are in ``tests/data/real/mitbih`` and ``tests/data/real/biosppy``.
"""

import pathlib

import numpy as np
import pytest
from scipy import signal

from neuroaffect.features import compute_physio_features
from neuroaffect.io.base import Peripheral

wfdb = pytest.importorskip("wfdb")
nk = pytest.importorskip("neurokit2")

DATA = pathlib.Path(__file__).parent / "data" / "real"
EEG_FS = 128.0  # the EEG rate the windows are counted in (any rate would do)
# Beat annotation codes (MIT-BIH): every symbol that marks a heartbeat, not a rhythm or noise label.
BEATS = set("NLRBAaJSVrFejnE/fQ")


def one(sig, fs, unit, kind):
    return {kind: Peripheral(np.asarray(sig, dtype=np.float64)[None, None], float(fs), unit, kind)}


def opensignals(name):
    """(samples, rate in Hz) of a BioSPPy OpenSignals text file, rate read from its header."""
    path = DATA / "biosppy" / name
    head = [line for line in path.read_text().splitlines()[:8] if line.startswith("#")]
    fs = float(next(line for line in head if "Sampling Rate" in line).split("=")[-1])
    return np.loadtxt(path, comments="#"), fs


@pytest.fixture(scope="module")
def mitbih():
    rec = wfdb.rdrecord(str(DATA / "mitbih" / "100"))
    ann = wfdb.rdann(str(DATA / "mitbih" / "100"), "atr")
    fs = float(rec.fs)
    beats = np.asarray(ann.sample)[np.isin(ann.symbol, list(BEATS))] / fs  # s
    assert rec.sig_name == ["MLII"] and fs == 360
    assert beats.size == 371  # 370 normal beats and 1 atrial premature beat
    return rec.p_signal[:, 0] * 1e3, fs, beats  # uV


def test_heart_rate_per_window_matches_the_annotated_beats(mitbih):
    """Each 10-s window's rate: the time average of 60 / RR over the window (RR the interval
    between the annotated beats that encloses each instant), within 1 beat/min."""
    ecg, fs, beats = mitbih
    n_times = int(ecg.size / fs * EEG_FS)
    win = int(10 * EEG_FS)
    v, names, _ = compute_physio_features(one(ecg, fs, "uV", "ecg"), EEG_FS, [n_times], win, win)
    assert names == ("hr", "hrv_rmssd") and v.shape == (1, 30, 2)
    rr = np.diff(beats)
    ref = []
    for k in range(v.shape[1]):
        t = np.arange(k * 10.0, k * 10.0 + 10.0, 1e-3)
        j = np.searchsorted(beats, t)  # t lies in (beats[j - 1], beats[j]]
        ok = (j > 0) & (j < beats.size)
        ref.append(np.mean(60.0 / rr[j[ok] - 1]))
    ref = np.asarray(ref)
    assert 60 < ref.min() and ref.max() < 90  # record 100: sinus rhythm near 75 beats/min
    np.testing.assert_array_less(np.abs(v[0, :, 0] - ref), 1.0)


def test_rmssd_matches_the_annotated_beats(mitbih):
    """RMSSD of the annotated RR intervals (ms), whole record and per 60-s window, within 5 %."""
    ecg, fs, beats = mitbih
    n_times = int(ecg.size / fs * EEG_FS)
    rr = np.diff(beats)
    whole, _, _ = compute_physio_features(one(ecg, fs, "uV", "ecg"), EEG_FS, [n_times], n_times,
                                          n_times, context=300.0)
    ref = np.sqrt(np.mean(np.diff(rr) ** 2)) * 1e3
    assert 20 < ref < 100
    assert abs(whole[0, 0, 1] / ref - 1) < 0.05
    win = int(60 * EEG_FS)
    v, _, _ = compute_physio_features(one(ecg, fs, "uV", "ecg"), EEG_FS, [n_times], win, win, context=60.0)
    for k in range(v.shape[1]):
        # successive differences dated at the later beat, as many as end within the window
        t = beats[2:]
        d = np.diff(rr)[(t >= 60 * k) & (t <= 60 * k + 60)]
        ref_k = np.sqrt(np.mean(d ** 2)) * 1e3
        assert abs(v[0, k, 1] / ref_k - 1) < 0.05, (k, v[0, k, 1], ref_k)


def test_pulse_rate_from_a_real_plethysmograph():
    """BioSPPy PPG (20 s): mean rate within 2 beats/min of a count of the band-passed pulse peaks."""
    ppg, fs = opensignals("ppg.txt")
    n_times = int(ppg.size / fs * EEG_FS)
    v, _, _ = compute_physio_features(one(ppg, fs, "a.u.", "ppg"), EEG_FS, [n_times], n_times, n_times)
    q = signal.sosfiltfilt(signal.butter(2, [0.5, 5.0], "band", fs=fs, output="sos"), ppg)
    pk, _ = signal.find_peaks(q, distance=int(0.3 * fs), prominence=np.std(q))
    ref = 60.0 * (pk.size - 1) / ((pk[-1] - pk[0]) / fs)
    assert 60 < ref < 120
    assert abs(v[0, 0, 0] - ref) < 2.0


@pytest.fixture(scope="module")
def eda():
    adc, fs = opensignals("eda.txt")
    return adc / 2**12 * 3.3 / 0.132, fs  # BITalino EDA sensor: ADC -> uS


def test_skin_conductance_tonic_level(eda):
    """Per 10-s window, the tonic level within 0.02 uS of a 0.05-Hz zero-phase low-pass of the
    signal, and within 0.1 uS of neurokit2's median-smoothing decomposition (another method)."""
    x, fs = eda
    n_times = int(x.size / fs * EEG_FS)
    win = int(10 * EEG_FS)
    v, names, units = compute_physio_features(one(x, fs, "uS", "gsr"), EEG_FS, [n_times], win, win)
    assert names == ("gsr_tonic", "scr_count") and units == ("uS", "count") and v.shape == (1, 15, 2)
    low = signal.sosfiltfilt(signal.butter(2, 0.05, "low", fs=fs, output="sos"), x)
    ref = low[: 15 * int(10 * fs)].reshape(15, -1).mean(1)
    np.testing.assert_array_less(np.abs(v[0, :, 0] - ref), 0.02)
    smooth = nk.eda_phasic(x, sampling_rate=fs, method="smoothmedian")["EDA_Tonic"].to_numpy()
    ref2 = smooth[: 15 * int(10 * fs)].reshape(15, -1).mean(1)
    np.testing.assert_array_less(np.abs(v[0, :, 0] - ref2), 0.1)
    # the recording's shape: falling to its lowest near 50 s, then raised by responses
    assert np.argmin(v[0, :, 0]) in (4, 5) and v[0, 7, 0] > v[0, 4, 0] + 1.0


def test_skin_conductance_response_count(eda):
    """Responses over the 150 s within 2 of a trough-to-peak count (a rise of at least 0.02 uS
    of the 1-Hz low-passed signal), and none in the 50 s of steady decline at the start."""
    x, fs = eda
    n_times = int(x.size / fs * EEG_FS)
    whole, _, _ = compute_physio_features(one(x, fs, "uS", "gsr"), EEG_FS, [n_times], n_times,
                                          n_times, context=150.0)
    low = signal.sosfiltfilt(signal.butter(2, 1.0, "low", fs=fs, output="sos"), x)
    pk, _ = signal.find_peaks(low, prominence=0.02)
    assert 4 <= pk.size <= 7
    assert abs(whole[0, 0, 1] - pk.size) <= 2
    win = int(10 * EEG_FS)
    v, _, _ = compute_physio_features(one(x, fs, "uS", "gsr"), EEG_FS, [n_times], win, win, context=10.0)
    assert (v[0, :5, 1] == 0).all() and v[0, 5:, 1].sum() >= pk.size - 2


def test_breathing_rate():
    """BioSPPy respiration (60 s, irregular breathing): mean rate within 3 breaths/min of a count
    of the breaths (peaks of the 1-Hz low-passed trace, at least 1.5 s apart, prominence above
    0.3 SD; detectors disagree by about that much on this trace), and no 1-s window faster than
    the hand count's fastest breath allows (a trough split in two read as 94 breaths/min)."""
    x, fs = opensignals("resp.txt")
    n_times = int(x.size / fs * EEG_FS)
    v, names, _ = compute_physio_features(one(x, fs, "a.u.", "resp"), EEG_FS, [n_times], n_times, n_times)
    assert names == ("resp_rate",)
    low = signal.sosfiltfilt(signal.butter(2, 1.0, "low", fs=fs, output="sos"), x)
    pk, _ = signal.find_peaks(low, prominence=0.3 * np.std(low), distance=int(1.5 * fs))
    ref = 60.0 * (pk.size - 1) / ((pk[-1] - pk[0]) / fs)
    assert 12 < ref < 25
    assert abs(v[0, 0, 0] - ref) < 3.0
    fastest = 60.0 / (np.diff(pk).min() / fs)  # breaths/min
    v1, _, _ = compute_physio_features(one(x, fs, "a.u.", "resp"), EEG_FS, [n_times], int(EEG_FS), int(EEG_FS))
    assert np.isfinite(v1).all() and v1.max() < fastest + 3.0
