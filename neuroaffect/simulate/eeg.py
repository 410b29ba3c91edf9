r"""EEG of a simulated subject whose band powers follow the trial's ratings.

:func:`simulate_eeg` is vectorised over trials and channels and deterministic for a given random
generator. The subject's planted effects come from
:func:`neuroaffect.simulate.effects.draw_subject_effects`; ``docs/simulator.md`` describes the
model for users.

Model of the EEG
----------------
For trial :math:`k`, channel :math:`c` and frequency :math:`f` the one-sided power spectral
density (µV²/Hz) is

.. math::

    S_{kc}(f) = A^2 \Big[ e^{\gamma_k}\, b_c\, \frac{B_0}{(1 + f)^{\beta}}
              + \sum_{r} P_{kcr}\, \exp\!\Big(-\frac{(f - f_r)^2}{2 w_r^2}\Big) \Big]

with :math:`A` the subject's ``amplitude``, :math:`\beta` its aperiodic (1/f) exponent, :math:`b_c`
a fixed per-channel scale and four rhythms :math:`r` (theta at 6 Hz, alpha at the subject's
``alpha_peak``, beta at 20 Hz, gamma at 38 Hz). The spectrum is realised as

.. math::

    X_{kc}(f) = \sqrt{S_{kc}(f)\, f_s\, n / 4}\; \sum_j L_{cj}\, (a_{kjf} + i\, b_{kjf}),
    \qquad x_{kc}(t) = \mathrm{irfft}(X_{kc}),

where :math:`a, b \sim N(0, 1)` and :math:`L L^T = K`, :math:`K_{ij} = \exp(-d_{ij} / 0.08\,\mathrm{m})`
over the distances between the electrodes' template positions
(:func:`neuroaffect.channels.get_positions`): every frequency has coherence :math:`K_{ij}` between
channels, so neighbouring channels correlate (volume conduction). All trials and channels go
through one FFT; there is no loop over samples.

The rhythm powers carry the planted effects, linearly in log power:

.. math::

    \ln P_{kcr} = \ln P^0_{cr}
        + g_v v_k\, W^{v}_{cr} + g_a a_k\, W^{a}_{cr} + g_d d_k\, W^{d}_{cr}
        + g_G\, (G^*(v_k, a_k)\, U)_{cr} + \epsilon_{kcr},

where :math:`(v_k, a_k, d_k) \in [-1, 1]^3` is the trial's continuous affect state (its written
rating is the state rounded on the dataset's scale, :func:`neuroaffect.simulate.effects.draw_states`)
and the spatial weights are built from the electrodes' head coordinates (``x`` right, ``y``
anterior, metres), so they hold for any channel set (DEAP 32, DREAMER 14, SEED 62):

* **valence** (``valence_gain`` :math:`g_v`) - frontal alpha asymmetry, the approach/withdrawal
  model (Davidson 1992; Coan & Allen 2004): pleasant states go with relatively more left frontal
  activity, i.e. less left frontal alpha, so :math:`\ln\alpha_R - \ln\alpha_L` grows with valence.
  :math:`W^v_{c,\alpha} = \tfrac12\, \mathrm{lat}_c\, \mathrm{front}_c` with
  :math:`\mathrm{lat}_c = \mathrm{clip}(x_c / 0.05\,\mathrm{m}, -1, 1)` and
  :math:`\mathrm{front}_c = \sigma((y_c - 0.035)/0.012)`; ``valence_gain`` is therefore the change of
  the asymmetry :math:`\ln\alpha_R - \ln\alpha_L` of a mirror pair with :math:`|\mathrm{lat}| = 1` and
  :math:`\mathrm{front} = 1` per unit of normalised valence (F3/F4 get about 0.8 of it,
  F7/F8 and AF3/AF4 about 0.67, Fp1/Fp2 about 0.6). Positive emotions also go with more beta and
  gamma power over the lateral temporal cortex (Zheng & Lu 2015; Zheng, Zhu & Lu 2019, the
  stable pattern behind SEED's DE features): :math:`W^v_{c,\beta} = W^v_{c,\gamma} =
  0.3\,\mathrm{temp}_c` with :math:`\mathrm{temp}_c = \mathrm{clip}(|x_c| / 0.085\,\mathrm{m}, 0, 1)^2`
  (T7/T8 about 1, FC5/CP5 about 0.85, F7/F8 and P7/P8 about 0.7, C3/C4 about 0.6, the midline
  0). Its weight (``_VALENCE_TEMPORAL`` = 0.3, chosen so that valence and arousal are about
  equally learnable from whole trials, see :mod:`neuroaffect.simulate.effects`) is our
  choice.
* **arousal** (``arousal_gain`` :math:`g_a`) - posterior alpha desynchronisation with arousal
  (Barry et al. 2007) and more beta/gamma with emotional activation (Ray & Cole 1985):
  :math:`W^a_{c,\alpha} = -\mathrm{post}_c` with :math:`\mathrm{post}_c = \sigma((-y_c - 0.04)/0.015)`,
  :math:`W^a_{c,\beta} = 0.6`, :math:`W^a_{c,\gamma} = 0.8` on every channel.
* **dominance** (``dominance_gain`` :math:`g_d`, weaker) - a fronto-central beta/theta ratio
  that rises with felt control (frontal theta/beta ratio falls with attentional control,
  Putman et al. 2010): :math:`W^d_{c,\beta} = -W^d_{c,\theta} = \tfrac12\,\mathrm{fc}_c`, with
  :math:`\mathrm{fc}_c` a Gaussian bump around FCz (4 cm wide). This mapping is our choice.

* **G*** (``gstar_gain`` :math:`g_G`) - the shared latent structure
  :func:`neuroaffect.simulate.gstar.gstar`, not a linear function of :math:`(v, a)`, written into
  four smooth patterns :math:`U` (one per component and rhythm: a theta and a gamma
  anterior-posterior gradient, a parietal alpha and an anterior beta left-right asymmetry;
  :func:`neuroaffect.simulate._planted.gstar_weights`), with :math:`g_G` following the snr
  (:mod:`neuroaffect.simulate.effects`). Our choice, ``docs/simulator.md``.

Rows of ``vad`` that are NaN (baseline segments, no stimulus) get no label effect and no G*.

The trial-level variability, unrelated to the labels, is what keeps accuracy well below 100 %:

.. math::

    \epsilon_{kcr} = \sigma_{\mathrm{trial}} (L_\epsilon e_{kr})_c + \sigma_{\mathrm{shared}}\, u_{kr}
        + \gamma_k, \qquad \gamma_k = \sigma_{\mathrm{gain}}\, g_k,

with :math:`e, u, g \sim N(0, 1)` and :math:`L_\epsilon L_\epsilon^T = \exp(-d / 0.03\,\mathrm{m})`
(spatially smooth independent part, a per-trial per-rhythm "state" shared by all channels, and a
per-trial overall gain that also scales the background). The label gains :math:`g` scale with the
signal-to-noise knob as described in :mod:`neuroaffect.simulate.effects`.

A trial's nuisance state persists over the seconds before it: the drivers :math:`(e, u, g)` of
trial :math:`k` are :math:`\sqrt{\rho}\, s_k + \sqrt{1 - \rho}\, f`, with :math:`s_k` drawn from the
subject's seed and the trial index only (so the label-free baseline segment simulated for the
same trial index gets the same :math:`s_k`) and :math:`f` fresh. The marginal law of
:math:`\epsilon` is unchanged; a trial and its own baseline correlate :math:`\rho` =
:data:`~neuroaffect.simulate.effects.STATE_SHARE` = 0.7 (our choice), so subtracting a trial's
baseline removes part of its nuisance state (and adds the baseline's own estimation noise).

Real EEG waxes and wanes: the background and rhythms are multiplied by a slow, spatially smooth
envelope :math:`\exp(\sigma_e z(t) - \sigma_e^2)` (``envelope_sd``; :math:`z` a unit Gaussian
process with a correlation time of about 0.4 s and the signal's spatial coherence) whose mean
square is 1, so band powers keep their expectation while the amplitude distribution gets the
heavier tails of real recordings.

Artefacts are added in the time domain (:mod:`neuroaffect.simulate._artefacts`): eye blinks (an
asymmetric bump of ~0.4 s, ~15 per minute, ``blink_uv`` at Fp1/Fp2, decaying as
:math:`\exp(-(d - d_{Fp})/0.03\,\mathrm{m})` with the distance :math:`d` from the nearer eye);
muscle bursts (0.3-1.2 s of noise above 20 Hz on the temporal channels of one side or both,
``burst_rate`` per minute, RMS ``burst_uv`` at T7/T8); electrode pops (a step of about ``pop_uv``
on one channel decaying over 0.05-0.3 s, ``pop_rate`` per minute); and line noise
``line_noise_uv`` at ``line_freq`` with a fixed per-channel gain. ``passband`` and ``notch`` (the
Emotiv EPOC's own 50/60 Hz notches) filter all of them. Blink times are a deterministic function
of the subject's ``seed``, the trial index and the trial's ratings, so the EOG simulated for the
same trials shows the same blinks. How far each of these lands from real recordings, per device
family, is measured by :mod:`neuroaffect.simulate.realism`.
"""

from __future__ import annotations

import functools

import numpy as np

from ._artefacts import add_electrode_pops, add_muscle_bursts, amplitude_envelope, notch_gain
from ._core import (
    STREAM_LINE, STREAM_TOPO, blink_train, check_effects, check_signal_args, check_vad, names_key,
    passband_gain,
)
from ._planted import channel_jitter, geometry, planted_log_power
from .effects import SubjectEffects

__all__ = ["simulate_eeg"]

# Rhythm centre frequencies (Hz; alpha is the subject's peak) and Gaussian widths (Hz).
_RHYTHM_CENTRE = {"theta": 6.0, "beta": 20.0, "gamma": 38.0}
_RHYTHM_WIDTH = np.array([1.2, 1.0, 4.0, 5.0])
# Aperiodic background density at 0 Hz before the 1/(1 + f)^beta roll-off (µV²/Hz).
_BACKGROUND_DENSITY = 100.0


# --------------------------------------------------------------------------------------------
# EEG
# --------------------------------------------------------------------------------------------
def _background_and_rhythms(rng, vad, names, geom, sfreq, n_times, effects, band_gain):
    """Spatially coherent 1/f background plus rhythms, shape (n_trials, n_chans, n_times), µV."""
    n_trials, n_chans = vad.shape[0], len(names)
    # Spectral densities (µV²/Hz), shape (n_trials, n_chans, n_freqs).
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    log_power, log_gain = planted_log_power(rng, effects, vad, geom, names)
    centres = np.array([_RHYTHM_CENTRE["theta"], effects.alpha_peak, _RHYTHM_CENTRE["beta"],
                        _RHYTHM_CENTRE["gamma"]])
    shapes = np.exp(-0.5 * ((freqs[None, :] - centres[:, None]) / _RHYTHM_WIDTH[:, None]) ** 2)
    background = _BACKGROUND_DENSITY / (1.0 + freqs) ** effects.aperiodic_exponent
    background[0] = 0.0
    bg_chan = np.exp(0.15 * channel_jitter(effects, names, STREAM_TOPO + 100, 1)[:, 0])
    density = np.matmul(np.exp(log_power), shapes)
    density += np.exp(log_gain)[:, None, None] * bg_chan[None, :, None] * background[None, None, :]
    scale = np.sqrt(density * (effects.amplitude**2 * sfreq * n_times / 4.0)) * band_gain
    scale[..., 0] = 0.0
    # Spatially coherent complex white noise: L @ (a + ib), drawn as interleaved float32.
    white = rng.standard_normal((n_trials, n_chans, 2 * freqs.size), dtype=np.float32)
    mixed = np.matmul(geom["chol_signal"].astype(np.float32), white)
    spectrum = mixed.astype(np.float64).view(np.complex128)
    spectrum *= scale
    x = np.fft.irfft(spectrum, n=n_times, axis=-1)
    if effects.envelope_sd > 0:
        x *= amplitude_envelope(rng, geom["chol_signal"], n_trials, n_times, sfreq, effects.envelope_sd)
    return x


def simulate_eeg(
    rng: np.random.Generator,
    vad: np.ndarray,
    ch_names,
    sfreq: float,
    n_times: int,
    effects: SubjectEffects,
    *,
    line_freq: float | None = 50.0,
    blinks: bool = True,
    line_noise_uv: float = 1.0,
    passband: tuple | None = None,
    notch=None,
    artefacts: bool = True,
    onset: int | None = None,
    fade_s: float = 0.5,
) -> np.ndarray:
    """Simulate one subject's EEG whose band powers follow the trials' ratings.

    See the module docstring for the model (spectrum, planted effects, noise, artefacts).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (consumed); the same state gives the same array.
    vad : ndarray, shape (n_trials, 3)
        Each trial's continuous state: normalised valence, arousal, dominance in [-1, 1]; a NaN
        row means "no stimulus" (baseline segment) and gets no label effect and no G*.
    ch_names : sequence of str, length n_chans
        EEG channel names with a 10-05 template position (case-insensitive; CB1/CB2 allowed).
    sfreq : float
        Sampling rate in Hz.
    n_times : int
        Samples per trial.
    effects : SubjectEffects
        The subject's planted effects (:func:`~neuroaffect.simulate.effects.draw_subject_effects`).
    line_freq : float | None
        Mains frequency in Hz; None (or >= Nyquist) adds no line noise.
    blinks : bool
        Add eye blinks on frontal channels.
    line_noise_uv : float
        Line-noise amplitude in µV (per-channel gains between 0.5 and 1.5 of it). Pass a small
        value for data distributed already filtered (DEAP, SEED).
    passband : (float | None, float | None) | None
        Zero-phase 4th-order Butterworth-like band-pass applied to the whole signal (background,
        rhythms, blinks and line noise), e.g. ``(4.0, 45.0)`` for DEAP's preprocessed data.
    notch : sequence of float | None
        Narrow notches (Hz) applied like ``passband``, e.g. the Emotiv EPOC's built-in 50 and 60 Hz
        (:data:`neuroaffect.simulate._artefacts.EMOTIV_NOTCH`).
    artefacts : bool
        Add the subject's muscle bursts on temporal channels and electrode pops (rates and sizes
        in ``effects``; the amplitude envelope is part of the background and always applied).
    onset : int | None
        Stimulus onset in samples, for arrays that hold a pre-trial baseline and the trial in one
        piece (DEAP's 384 + 7680 samples): samples before ``onset`` come from an independent
        label-free (neutral) realisation and the two are joined by an equal-power
        (cos/sin) crossfade of ``fade_s`` seconds centred on ``onset``, so the record stays
        continuous and its variance constant. None = the label effect everywhere.
    fade_s : float
        Crossfade length in seconds (``onset`` only).

    Returns
    -------
    eeg : ndarray of float64, shape (n_trials, n_chans, n_times)
        EEG in microvolts.
    """
    vad = check_vad(vad)
    sfreq, n_times = check_signal_args(sfreq, n_times)
    check_effects(effects)
    line_noise_uv, fade_s = _check_noise_and_onset(line_noise_uv, onset, fade_s, n_times)
    names = names_key(ch_names)
    geom = geometry(names)
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    band_gain = _filters_gain(freqs, passband, notch)

    eeg = _background_and_rhythms(rng, vad, names, geom, sfreq, n_times, effects, band_gain)
    if onset is not None and onset > 0:
        _crossfade_neutral(eeg, rng, vad, names, geom, sfreq, effects, passband, notch, onset, fade_s)
    if blinks:
        train = blink_train(effects, vad, sfreq, n_times)
        if passband is not None:
            train = np.fft.irfft(np.fft.rfft(train, axis=-1) * band_gain, n=n_times, axis=-1)
        eeg += (effects.blink_uv * geom["blink"])[None, :, None] * train[:, None, :]
    if artefacts:
        # the recording's filters on any frequency grid (None: unfiltered)
        band = None if passband is None and not notch else functools.partial(_filters_gain, passband=passband,
                                                                              notch=notch)
        if effects.burst_rate > 0:
            add_muscle_bursts(eeg, rng, geom["temporal"] ** 1.5, geom["pos"][:, 0], sfreq, effects.burst_rate,
                              effects.burst_uv, band)
        if effects.pop_rate > 0:
            add_electrode_pops(eeg, rng, sfreq, effects.pop_rate, effects.pop_uv, band)
    if line_freq is not None and line_noise_uv > 0 and 0 < float(line_freq) < sfreq / 2:
        _add_line_noise(eeg, rng, effects, names, sfreq, float(line_freq), line_noise_uv, freqs, band_gain)
    return eeg


def _filters_gain(freqs: np.ndarray, passband, notch) -> np.ndarray:
    """Amplitude gain of the recording's band-pass and notches at ``freqs`` (Hz), same shape."""
    return passband_gain(freqs, passband) * notch_gain(freqs, notch)


def _check_noise_and_onset(line_noise_uv, onset, fade_s, n_times: int) -> tuple[float, float]:
    """Validated ``(line_noise_uv, fade_s)`` of :func:`simulate_eeg` (µV, s); ``onset`` checked in [0, n_times]."""
    line_noise_uv = float(line_noise_uv)
    if not np.isfinite(line_noise_uv) or line_noise_uv < 0:
        raise ValueError(f"line_noise_uv must be a finite number >= 0, but got {line_noise_uv!r}")
    if onset is not None:
        if isinstance(onset, bool) or not isinstance(onset, (int, np.integer)) or not 0 <= onset <= n_times:
            raise ValueError(
                f"onset must be None or an integer sample in [0, n_times={n_times}], but got {onset!r}"
            )
        fade_s = float(fade_s)
        if not (np.isfinite(fade_s) and fade_s > 0):
            raise ValueError(f"fade_s must be a positive number of seconds, but got {fade_s!r}")
    return line_noise_uv, fade_s


def _crossfade_neutral(eeg, rng, vad, names, geom, sfreq: float, effects, passband, notch, onset: int,
                       fade_s: float) -> None:
    """Before ``onset``, replace ``eeg`` (n_trials, n_chans, n_times) µV in place by a label-free realisation,
    joined by an equal-power crossfade of ``fade_s`` seconds centred on ``onset``."""
    n_times = eeg.shape[-1]
    # The neutral realisation is only needed up to the end of the crossfade.
    m = min(n_times, onset + int(np.ceil(0.5 * fade_s * sfreq)) + 1)
    f_m = np.fft.rfftfreq(m, 1.0 / sfreq)
    gain_m = _filters_gain(f_m, passband, notch)
    neutral = _background_and_rhythms(rng, np.full_like(vad, np.nan), names, geom, sfreq, m,
                                      effects, gain_m)
    t = (np.arange(m) - onset) / sfreq
    phase = 0.5 * np.pi * np.clip(t / fade_s + 0.5, 0.0, 1.0)
    eeg[..., :m] = eeg[..., :m] * np.sin(phase) + neutral * np.cos(phase)


def _add_line_noise(eeg, rng, effects, names, sfreq: float, line_freq: float, line_noise_uv: float,
                    freqs: np.ndarray, band_gain: np.ndarray) -> None:
    """Add mains noise at ``line_freq`` Hz to ``eeg`` in place: a random phase per trial, per-channel gains between
    0.5 and 1.5, its amplitude ``line_noise_uv`` µV times the recording's filter gain at that frequency."""
    n_trials, _, n_times = eeg.shape
    chan_gain = 1.0 + 0.5 * np.tanh(channel_jitter(effects, names, STREAM_LINE, 1)[:, 0])
    phase = rng.uniform(0.0, 2 * np.pi, n_trials)
    t = np.arange(n_times) / sfreq
    wave = np.sin(2 * np.pi * line_freq * t[None, :] + phase[:, None])
    amp = line_noise_uv * float(np.interp(line_freq, freqs, band_gain))
    eeg += amp * chan_gain[None, :, None] * wave[:, None, :]
