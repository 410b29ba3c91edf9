"""The sign of the simulator's planted effects, measured on its EEG with a plain Welch spectrum.

``docs/simulator.md``: valence raises ``ln alpha_right - ln alpha_left`` at frontal mirror pairs
(frontal alpha asymmetry, Davidson 1992); arousal lowers posterior alpha (Barry et al. 2007).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.signal import welch

from neuroaffect.simulate.effects import draw_subject_effects
from neuroaffect.simulate.eeg import simulate_eeg

CH = ("F3", "F4", "F7", "F8", "Cz", "O1", "O2", "Oz")
SFREQ, N_TIMES, N_TRIALS = 128.0, 512, 60


def _alpha(effects, valence, arousal, seed):
    vad = np.zeros((N_TRIALS, 3))
    vad[:, 0], vad[:, 1] = valence, arousal
    x = simulate_eeg(np.random.default_rng(seed), vad, CH, SFREQ, N_TIMES, effects, line_freq=None, blinks=False)
    f, pxx = welch(x, fs=SFREQ, nperseg=256, axis=-1)  # (trials, channels, freqs)
    band = (f >= effects.alpha_peak - 1.5) & (f <= effects.alpha_peak + 1.5)
    return np.log(pxx[..., band].mean(-1))  # ln alpha power, (trials, channels)


def _effects(valence_gain, arousal_gain):
    e = draw_subject_effects(np.random.default_rng(11), subject=1, snr=1.0)
    return dataclasses.replace(e, valence_gain=valence_gain, arousal_gain=arousal_gain, dominance_gain=0.0)


def _split(effects, which, seed):
    """ln alpha of trials alternating between -1 and +1 on one rating, the other at 0."""
    signs = np.where(np.arange(N_TRIALS) % 2 == 0, 1.0, -1.0)
    v, a = (signs, 0.0) if which == "valence" else (0.0, signs)
    la = _alpha(effects, v, a, seed)
    return la[signs > 0], la[signs < 0]


@pytest.mark.parametrize("gain", [1.0, -1.0])
def test_frontal_alpha_asymmetry_grows_with_valence(gain):
    hi, lo = _split(_effects(gain, 0.0), "valence", seed=3)
    right, left = [CH.index(c) for c in ("F4", "F8")], [CH.index(c) for c in ("F3", "F7")]

    def asym(la):
        return la[:, right].mean(1) - la[:, left].mean(1)

    diff = asym(hi).mean() - asym(lo).mean()
    se = np.sqrt(asym(hi).var(ddof=1) / len(hi) + asym(lo).var(ddof=1) / len(lo))
    assert np.sign(diff) == np.sign(gain) and abs(diff) > 3 * se, (diff, se)


@pytest.mark.parametrize("gain", [1.0, -1.0])
def test_posterior_alpha_falls_with_arousal(gain):
    hi, lo = _split(_effects(0.0, gain), "arousal", seed=4)
    post = [CH.index(c) for c in ("O1", "O2", "Oz")]
    diff = hi[:, post].mean() - lo[:, post].mean()
    se = np.sqrt(hi[:, post].mean(1).var(ddof=1) / len(hi) + lo[:, post].mean(1).var(ddof=1) / len(lo))
    assert np.sign(diff) == -np.sign(gain) and abs(diff) > 3 * se, (diff, se)


def test_drawn_subjects_mostly_carry_the_documented_signs():
    """Most drawn subjects have positive gains (sign flips 10 % valence, 5 % arousal)."""
    gains = np.array([[e.valence_gain, e.arousal_gain] for e in
                      (draw_subject_effects(np.random.default_rng(s), subject=s) for s in range(200))])
    share = (gains > 0).mean(0)
    assert 0.8 < share[0] < 0.97 and 0.88 < share[1] <= 1.0
