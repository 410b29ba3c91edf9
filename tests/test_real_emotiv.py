"""A real Emotiv EPOC recording through the DREAMER layout, reader and MNE.

The ``spkit`` wheel ships 16 s of real 14-channel Emotiv EEG at 128 Hz in DREAMER's channel
order (``spkit/data/files/EEG16SecData.pkl``, a pickle of ``[X (2048, 14), ch_names]``, in uV).
It is loaded with the project's restricted unpickler, written into a DREAMER.mat of the real
layout as subject 1's clips, read back, and checked for exact values and a 1/f spectrum.
"""

import importlib.metadata

import numpy as np
import pytest

from neuroaffect.channels import DREAMER_CH_NAMES
from neuroaffect.io._pickle import safe_load
from neuroaffect.io.dreamer import read_dreamer
from neuroaffect.simulate import dreamer as sim

_RESOURCE = "spkit/data/files/EEG16SecData.pkl"


def _locate():
    try:
        path = importlib.metadata.distribution("spkit").locate_file(_RESOURCE)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("spkit is not installed (pip install --no-deps spkit)", allow_module_level=True)
    if not path.is_file():
        pytest.skip(f"spkit has no {_RESOURCE}", allow_module_level=True)
    return path


PKL = _locate()
# Clip k holds the first 2048 - 64 k samples (16 s down to 7.5 s): unequal lengths, as in DREAMER.
CLIP_LEN = [2048 - 64 * k for k in range(18)]


@pytest.fixture(scope="module")
def real():
    x, ch_names = safe_load(PKL, encoding="latin1")
    x = np.asarray(x)
    assert x.shape == (2048, 14) and x.dtype == np.float64
    assert tuple(ch_names) == DREAMER_CH_NAMES
    return x


@pytest.fixture(scope="module")
def recs(real, tmp_path_factory):
    subj1 = sim.simulate_subject(0, 1, "tiny")
    subj1["eeg_stimuli"] = [real[:n] for n in CLIP_LEN]
    subj2 = sim.simulate_subject(0, 2, "tiny")
    path = sim.write_dreamer_mat(tmp_path_factory.mktemp("emotiv") / "DREAMER.mat", [subj1, subj2])
    return read_dreamer(path)


def _band_power(epochs, lo, hi):
    spec = epochs.compute_psd(method="welch", fmin=1.0, fmax=45.0, n_fft=256, verbose=False)
    psd, freqs = spec.get_data(return_freqs=True)  # (n_epochs, n_chans, n_freqs), V^2/Hz
    return psd[..., (freqs >= lo) & (freqs < hi)].mean(axis=(0, -1)), psd.mean(axis=0), freqs


def _slopes(psd, freqs):
    """Log-log slope of each channel's spectrum over 2-40 Hz, shape (n_chans,)."""
    keep = (freqs >= 2) & (freqs <= 40)
    return np.polyfit(np.log(freqs[keep]), np.log(psd[:, keep]).T, 1)[0]


def test_real_values_survive_exactly(real, recs):
    rec = recs[0]
    assert rec.ch_names == DREAMER_CH_NAMES and rec.sfreq == 128.0
    assert [t.shape for t in rec.eeg] == [(14, n) for n in CLIP_LEN]
    for k, n in enumerate(CLIP_LEN):
        np.testing.assert_array_equal(rec.eeg[k], real[:n].T * 1e-6)
    np.testing.assert_allclose(rec.eeg[0] * 1e6, real.T, rtol=1e-12, atol=0)


def test_real_spectrum_has_1_over_f_shape(recs):
    epochs = recs[0].to_epochs(crop=True, baseline=False, peripheral=False)  # the clips' EEG
    assert len(epochs) == 18 and epochs.get_data().shape == (18, 14, min(CLIP_LEN))
    theta, psd, freqs = _band_power(epochs, 4.0, 8.0)
    gamma, _, _ = _band_power(epochs, 30.0, 45.0)
    # More power at 4-8 Hz than at 30-45 Hz on every channel, by several times typically.
    assert (theta > gamma).all() and np.median(theta / gamma) > 5, theta / gamma
    slopes = _slopes(psd, freqs)
    assert ((slopes > -3.0) & (slopes < -0.5)).all(), slopes


def test_simulated_spectrum_is_in_the_range_of_the_real_one(recs):
    """The simulator's Emotiv-like EEG (subject 2) shows the same 1/f shape as the real signal."""
    real_epochs, sim_epochs = (r.to_epochs(crop=True, baseline=False, peripheral=False) for r in recs[:2])
    theta, psd, freqs = _band_power(sim_epochs, 4.0, 8.0)
    gamma, _, _ = _band_power(sim_epochs, 30.0, 45.0)
    assert (theta > gamma).all() and np.median(theta / gamma) > 5, theta / gamma
    slopes = _slopes(psd, freqs)
    assert ((slopes > -3.0) & (slopes < -0.5)).all(), slopes
    # Overall 1-45 Hz power within a factor of 10 of the real recording's.
    real_pow = _band_power(real_epochs, 1.0, 45.0)[0].mean()
    sim_pow = _band_power(sim_epochs, 1.0, 45.0)[0].mean()
    assert 0.1 < sim_pow / real_pow < 10, (sim_pow, real_pow)
