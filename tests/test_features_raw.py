"""Raw EEG windows: the vectorised cutter against a plain per-trial, per-window reference."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import signal

from neuroaffect.channels import EEG_CH_NAMES
from neuroaffect.features.raw import extract_raw_windows
from neuroaffect.io import Recording

SFREQ = 128.0
N_CHANS = 5


def _recording(lengths, *, baseline_len=None, equal=False, seed=0):
    """A DEAP-like recording (volts) with trials of the given lengths and an optional baseline."""
    rng = np.random.default_rng(seed)
    eeg = [rng.normal(0.0, 20e-6, (N_CHANS, n)) + rng.normal(0.0, 50e-6, (N_CHANS, 1)) for n in lengths]
    base = None
    if baseline_len is not None:
        base = [rng.normal(0.0, 20e-6, (N_CHANS, baseline_len)) + 30e-6 for _ in lengths]
    if equal:
        eeg = np.stack(eeg)
        base = None if base is None else np.stack(base)
    return Recording(dataset="deap", subject=1, eeg=eeg, sfreq=SFREQ, ch_names=EEG_CH_NAMES["deap"][:N_CHANS],
                     baseline=base)


def _reference(rec, window, stride, l_freq=None, h_freq=None, order=4, baseline=False):
    """Plain loops: per trial correct, filter (each channel alone), scale; then copy window by window."""
    lengths = [trial.shape[-1] for trial in rec.eeg]
    counts = [0 if n < window else (n - window) // stride + 1 for n in lengths]
    out = np.full((len(lengths), max(counts), N_CHANS, window), np.nan)
    for i, trial in enumerate(rec.eeg):
        x = np.array(trial, dtype=np.float64)
        if baseline:
            for c in range(N_CHANS):
                x[c] = x[c] - np.mean(rec.baseline[i][c])
        if l_freq is not None or h_freq is not None:
            if l_freq is not None and h_freq is not None:
                sos = signal.butter(order, [l_freq, h_freq], btype="bandpass", fs=SFREQ, output="sos")
            elif l_freq is not None:
                sos = signal.butter(order, l_freq, btype="highpass", fs=SFREQ, output="sos")
            else:
                sos = signal.butter(order, h_freq, btype="lowpass", fs=SFREQ, output="sos")
            for c in range(N_CHANS):
                x[c] = signal.sosfiltfilt(sos, x[c])
        x = x * 1e6
        for j in range(counts[i]):
            out[i, j] = x[:, j * stride: j * stride + window]
    return out, np.array(counts)


@pytest.mark.parametrize("equal", [True, False])
@pytest.mark.parametrize(
    "window, stride, l_freq, h_freq, baseline",
    [
        (128, 128, None, None, False),
        (128, 64, 4.0, 45.0, True),
        (100, 37, 1.0, None, False),
        (64, 16, None, 30.0, True),
    ],
)
def test_matches_plain_reference(equal, window, stride, l_freq, h_freq, baseline):
    lengths = [640] * 4 if equal else [640, 500, 640, 260, 90]
    rec = _recording(lengths, baseline_len=384, equal=equal)
    eeg_before = [np.array(t, copy=True) for t in rec.eeg]
    windows, n_win, win_start = extract_raw_windows(rec, window, stride, l_freq=l_freq, h_freq=h_freq,
                                                    baseline=baseline)
    ref, ref_n = _reference(rec, window, stride, l_freq, h_freq, baseline=baseline)
    assert windows.dtype == np.float32 and n_win.dtype == np.int64 and win_start.dtype == np.int64
    assert windows.shape == ref.shape == (len(lengths), ref_n.max(), N_CHANS, window)
    np.testing.assert_array_equal(n_win, ref_n)
    np.testing.assert_array_equal(win_start, np.arange(ref_n.max()) * stride)
    np.testing.assert_array_equal(np.isnan(windows), np.isnan(ref))
    np.testing.assert_allclose(windows, ref.astype(np.float32), rtol=1e-5, atol=1e-3)  # µV
    for before, after in zip(eeg_before, rec.eeg):
        np.testing.assert_array_equal(before, after)  # the recording is not modified


def test_units_windows_and_padding():
    rec = _recording([300, 200, 50])
    windows, n_win, win_start = extract_raw_windows(rec, 100, 50)
    np.testing.assert_array_equal(n_win, [5, 3, 0])
    np.testing.assert_array_equal(win_start, [0, 50, 100, 150, 200])
    # window j of trial i is the trial's samples [50 j, 50 j + 100), in µV
    np.testing.assert_allclose(windows[0, 4], rec.eeg[0][:, 200:300] * 1e6, rtol=1e-6)
    np.testing.assert_allclose(windows[1, 2], rec.eeg[1][:, 100:200] * 1e6, rtol=1e-6)
    assert np.isnan(windows[1, 3:]).all() and np.isnan(windows[2]).all()
    assert not np.isnan(windows[0]).any() and not np.isnan(windows[1, :3]).any()
    # stride defaults to the window: adjacent, non-overlapping windows
    _, n_win, win_start = extract_raw_windows(rec, 100)
    np.testing.assert_array_equal(n_win, [3, 2, 0])
    np.testing.assert_array_equal(win_start, [0, 100, 200])


def test_baseline_correction_and_band_pass_act_as_documented():
    rec = _recording([1280] * 3, baseline_len=384, equal=True)
    raw, _, _ = extract_raw_windows(rec, 128)
    corrected, _, _ = extract_raw_windows(rec, 128, baseline=True)
    offset = rec.baseline.mean(axis=-1) * 1e6  # (n_trials, n_chans), µV
    np.testing.assert_allclose(raw - corrected, np.broadcast_to(offset[:, None, :, None], raw.shape), atol=1e-3)
    # a 10 Hz sinusoid passes a 8-12 Hz band-pass, a 30 Hz one does not
    t = np.arange(2560) / SFREQ
    eeg = np.stack([np.stack([np.sin(2 * np.pi * f * t) * 10e-6 for f in (10.0, 30.0, 10.0, 30.0, 10.0)])])
    rec = Recording(dataset="deap", subject=1, eeg=eeg, sfreq=SFREQ, ch_names=EEG_CH_NAMES["deap"][:N_CHANS])
    w, _, _ = extract_raw_windows(rec, 256, l_freq=8.0, h_freq=12.0)
    rms = np.sqrt(np.mean(w[0, 2:-2] ** 2, axis=(0, 2)))  # µV, away from the edges
    np.testing.assert_allclose(rms[[0, 2, 4]], 10 / np.sqrt(2), rtol=1e-3)
    assert (rms[[1, 3]] < 0.01).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(window=0), "'window'.*positive int.*got 0"),
        (dict(window=128, stride=2.5), "'stride'.*positive int.*got 2.5"),
        (dict(window=128, l_freq=70.0), "'l_freq'.*Nyquist frequency 64 Hz.*got 70.0"),
        (dict(window=128, l_freq=0.0), "'l_freq'.*got 0.0"),
        (dict(window=128, l_freq=20.0, h_freq=10.0), "'h_freq'.*above l_freq=20 Hz.*got 10 Hz"),
        (dict(window=128, filter_order=0), "'filter_order'.*got 0"),
        (dict(window=128, baseline="yes"), "'baseline'.*True or False.*got 'yes'"),
        (dict(window=128, baseline=True), r"'baseline'.*rec\.baseline is None"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        extract_raw_windows(_recording([640, 640]), **kwargs)


def test_short_trials_and_mismatched_baselines_are_refused():
    rec = _recording([640, 20])
    with pytest.raises(ValueError, match=r"'rec\.eeg'.*edge padding of 27 samples.*20 samples \(trial 1\)"):
        extract_raw_windows(rec, 16, l_freq=4.0, h_freq=30.0)
    extract_raw_windows(rec, 32, l_freq=4.0, h_freq=30.0)  # the short trial has no window: not filtered
    rec = _recording([640, 640], baseline_len=100)
    rec.baseline = [b[:3] for b in rec.baseline]
    with pytest.raises(ValueError, match=r"'rec\.baseline'.*\(n_trials, 5, n_times\).*\(3, 100\)"):
        extract_raw_windows(rec, 128, baseline=True)


@pytest.mark.slow
def test_module_does_not_import_torch():
    code = (
        "import sys\n"
        "import neuroaffect.features.raw\n"
        "print(sorted({'torch', 'torch_geometric', 'mne'} & set(sys.modules)))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
