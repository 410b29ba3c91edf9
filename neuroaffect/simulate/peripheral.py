r"""Peripheral signals of a simulated subject, label-dependent where physiology says so.

:func:`simulate_peripheral`: ECG (sum-of-Gaussians PQRST, heart rate
:math:`\mathrm{HR}_k = \mathrm{HR}_0 + h\,a_k + N(0, 2.5^2)` bpm, RR intervals with respiratory sinus
arrhythmia and AR(1)-like beat-to-beat variability), PPG (pulses at the same beats, delayed by
the pulse transit time, smaller with arousal), GSR (tonic level plus skin-conductance responses
whose rate grows as :math:`e^{\kappa a_k}`, written as resistance :math:`10^6 / G` Ohm),
respiration (rate 0.2-0.3 Hz, faster with arousal), skin temperature (slow drift, cooler with
arousal), EOG (the same blinks as :func:`~neuroaffect.simulate.eeg.simulate_eeg`, saccades) and
EMG (broadband bursts; zygomaticus more with valence, trapezius with arousal). Every signal is
vectorised over trials and deterministic for a given random generator; heart beats and blinks
are a deterministic function of the subject's ``seed``, the trial index and the trial's ratings,
so signals simulated for the same trials share them.
"""

from __future__ import annotations

import numpy as np

from .._utils import check_option
from ._core import (
    STREAM_CARDIAC, blink_train, check_effects, check_signal_args, check_vad, passband_gain, render,
    trial_rng,
)
from .effects import SubjectEffects

__all__ = ["PERIPHERAL_KINDS", "simulate_peripheral"]

#: Signals :func:`simulate_peripheral` draws.
PERIPHERAL_KINDS = ("ecg", "ppg", "gsr", "resp", "temp", "eog", "emg")


def _smooth_noise(rng, n_trials, n_times, sfreq, cutoff):
    """Gaussian noise low-passed below ``cutoff`` Hz, shape (n_trials, n_times).

    Drawn on a coarse grid (40 points per ``1 / cutoff``) at least five ``1 / cutoff`` long,
    then linearly interpolated onto the samples, so a trial shorter than the slow wave shows
    a piece of it (not a compressed copy). Unit variance in expectation, not per trial.
    """
    dt = 0.025 / cutoff
    duration = n_times / sfreq
    n_coarse = 2 * int(np.ceil(0.5 * max(duration + 2 * dt, 5.0 / cutoff) / dt))
    freqs = np.fft.rfftfreq(n_coarse, dt)
    mask = np.exp(-0.5 * (freqs / cutoff) ** 2)
    mask[0] = 0.0
    z = rng.standard_normal((n_trials, 2 * freqs.size)).view(np.complex128) * mask
    coarse = np.fft.irfft(z, n=n_coarse, axis=-1)
    # E|z_f|^2 = 2 mask_f^2; irfft variance = (2 / n^2) * sum over one-sided bins of E|z_f|^2.
    coarse /= np.sqrt(4.0 * np.sum(mask**2)) / n_coarse
    pos = np.arange(n_times) / (sfreq * dt)
    i0 = np.floor(pos).astype(np.int64)
    frac = pos - i0
    return coarse[:, i0] * (1.0 - frac) + coarse[:, i0 + 1] * frac


def _beats(effects: SubjectEffects, vad: np.ndarray, duration: float):
    """Heart beats shared by ECG and PPG of the same trials.

    Returns trial index, beat time (s) and RR interval (s) per beat, each shape (n_beats,).
    RR_n = 60 / HR_k * (1 + 0.03 sin(2 pi f_resp t_n + phi) + 0.03 AR1_n), with
    HR_k = heart_rate + hr_gain * arousal_k + N(0, 2.5²) bpm.
    """
    arousal = np.nan_to_num(vad[:, 1], nan=0.0)
    trials, times, rrs = [], [], []
    for k, row in enumerate(vad):
        g = trial_rng(effects, STREAM_CARDIAC, k, row)
        hr = np.clip(effects.heart_rate + effects.hr_gain * arousal[k] + g.normal(0.0, 2.5), 40.0, 160.0)
        rr0 = 60.0 / hr
        n_max = int(duration / (0.7 * rr0)) + 3
        # AR(1) with coefficient 0.8 via its spectral shape would need a loop; an FIR smoothing of
        # white noise gives the same slow beat-to-beat variability, vectorised.
        w = g.standard_normal(n_max + 8)
        ar = np.convolve(w, 0.8 ** np.arange(9), mode="valid")[:n_max] / np.sqrt(np.sum(0.64 ** np.arange(9)))
        t_approx = np.arange(n_max) * rr0
        rsa = np.sin(2 * np.pi * effects.resp_rate * t_approx + g.uniform(0, 2 * np.pi))
        rr = rr0 * (1.0 + 0.03 * rsa + 0.03 * ar)
        t = g.uniform(0.0, rr0) + np.concatenate([[0.0], np.cumsum(rr[:-1])])
        keep = t < duration + 0.5
        trials.append(np.full(keep.sum(), k))
        times.append(t[keep])
        rrs.append(rr[keep])
    return np.concatenate(trials), np.concatenate(times), np.concatenate(rrs)


# PQRST as Gaussians: (offset from R in s, or None for the QT-scaled T wave), amplitude µV, width s.
_PQRST = (("P", -0.17, 120.0, 0.025), ("Q", -0.028, -90.0, 0.008), ("R", 0.0, 1100.0, 0.010),
          ("S", 0.028, -220.0, 0.009), ("T", None, 300.0, 0.045))


def _ecg(rng, effects, vad, sfreq, n_times):
    n_trials, duration = vad.shape[0], n_times / sfreq
    trial, t, rr = _beats(effects, vad, duration)
    amp = np.exp(rng.normal(0.0, 0.15)) * (1.0 + 0.03 * rng.standard_normal(t.size))
    ecg = np.zeros((n_trials, n_times))
    for _, offset, a, width in _PQRST:
        centre = t + (0.4 * np.sqrt(rr) - 0.12 if offset is None else offset)
        ecg += render(n_trials, n_times, sfreq, trial, centre, (-4 * width, 4 * width),
                      lambda tau, a=a, w=width: (a * amp)[:, None] * np.exp(-0.5 * (tau / w) ** 2))
    ecg += 60.0 * _smooth_noise(rng, n_trials, n_times, sfreq, 0.3)  # baseline wander
    ecg += 10.0 * rng.standard_normal((n_trials, n_times))
    return ecg


def _ppg(rng, effects, vad, sfreq, n_times):
    n_trials, duration = vad.shape[0], n_times / sfreq
    arousal = np.nan_to_num(vad[:, 1], nan=0.0)
    trial, t, rr = _beats(effects, vad, duration)
    transit = 0.25 + 0.01 * rng.standard_normal(t.size)
    # Vasoconstriction: smaller pulses with arousal.
    amp = np.exp(-0.2 * (effects.hr_gain / 6.0) * arousal[trial] + 0.05 * rng.standard_normal(t.size))

    def pulse(tau):
        systolic = np.exp(-0.5 * ((tau - 0.10) / 0.06) ** 2)
        dicrotic = 0.35 * np.exp(-0.5 * ((tau - 0.33) / 0.08) ** 2)
        return amp[:, None] * (systolic + dicrotic)

    ppg = render(n_trials, n_times, sfreq, trial, t + transit, (-0.2, 0.8), pulse)
    ppg += 0.3 * _smooth_noise(rng, n_trials, n_times, sfreq, 0.3)
    ppg += 0.02 * rng.standard_normal((n_trials, n_times))
    return ppg


def _gsr(rng, effects, vad, sfreq, n_times):
    n_trials, duration = vad.shape[0], n_times / sfreq
    arousal = np.nan_to_num(vad[:, 1], nan=0.0)
    rate = effects.scr_rate / 60.0 * np.exp(effects.scr_gain * arousal)  # responses per second
    counts = rng.poisson(rate * (duration + 10.0))
    trial = np.repeat(np.arange(n_trials), counts)
    onset = rng.uniform(-10.0, duration, trial.size)
    amp = np.exp(rng.normal(np.log(0.3), 0.5, trial.size))  # µS
    tau_r, tau_d = 0.75, 2.5
    t_peak = np.log(tau_d / tau_r) * tau_r * tau_d / (tau_d - tau_r)
    norm = np.exp(-t_peak / tau_d) - np.exp(-t_peak / tau_r)

    def scr(tau):
        tt = np.clip(tau, 0.0, None)
        return amp[:, None] * np.where(tau > 0, (np.exp(-tt / tau_d) - np.exp(-tt / tau_r)) / norm, 0.0)

    phasic = render(n_trials, n_times, sfreq, trial, onset, (0.0, 20.0), scr)
    tonic = effects.scl * np.exp(0.1 * effects.scr_gain * arousal + rng.normal(0.0, 0.1, n_trials))
    t = np.arange(n_times) / sfreq
    slope = rng.normal(0.0, 0.002, n_trials)  # µS per second
    drift = 0.03 * _smooth_noise(rng, n_trials, n_times, sfreq, 0.02)
    conductance = tonic[:, None] * (1.0 + drift) + slope[:, None] * t[None, :] + phasic
    conductance = np.clip(conductance, 0.2, None)
    return 1e6 / conductance  # Ohm


def _resp(rng, effects, vad, sfreq, n_times):
    n_trials = vad.shape[0]
    arousal = np.nan_to_num(vad[:, 1], nan=0.0)
    rate = effects.resp_rate + effects.resp_gain * arousal + rng.normal(0.0, 0.015, n_trials)
    rate = np.clip(rate, 0.1, 0.6)
    inst = rate[:, None] * (1.0 + 0.1 * _smooth_noise(rng, n_trials, n_times, sfreq, 0.05))
    phase = 2 * np.pi * np.cumsum(inst, axis=-1) / sfreq + rng.uniform(0, 2 * np.pi, (n_trials, 1))
    depth = 1.0 + 0.15 * _smooth_noise(rng, n_trials, n_times, sfreq, 0.05)
    wave = depth * (np.sin(phase) + 0.25 * np.sin(2 * phase + 0.6))
    return wave + 0.2 * _smooth_noise(rng, n_trials, n_times, sfreq, 0.02) + 0.02 * rng.standard_normal(
        (n_trials, n_times))


def _temp(rng, effects, vad, sfreq, n_times):
    n_trials = vad.shape[0]
    arousal = np.nan_to_num(vad[:, 1], nan=0.0)
    t = np.arange(n_times) / sfreq
    level = effects.skin_temp + rng.normal(0.0, 0.15, n_trials)
    # Cooling (vasoconstriction) develops over tens of seconds with arousal.
    trend = effects.temp_gain * arousal[:, None] * (1.0 - np.exp(-t[None, :] / 30.0))
    drift = rng.normal(0.0, 0.003, (n_trials, 1)) * t[None, :]
    return level[:, None] + trend + drift + 0.02 * _smooth_noise(rng, n_trials, n_times, sfreq, 0.05) \
        + 0.003 * rng.standard_normal((n_trials, n_times))


def _eog(rng, effects, vad, sfreq, n_times, component):
    n_trials, duration = vad.shape[0], n_times / sfreq
    train = blink_train(effects, vad, sfreq, n_times)
    # Saccades: gaze jumps between fixations (0.2-1 s), ~15 µV per degree, smoothed over ~30 ms.
    n_fix = int(duration / 0.2) + 2
    fix = 0.2 + rng.exponential(0.35, (n_trials, n_fix))
    onsets = np.cumsum(fix, axis=1) - fix[:, :1]
    gaze = 15.0 * np.clip(rng.normal(0.0, 6.0, (n_trials, n_fix)), -20.0, 20.0)
    # Piecewise-constant gaze, vectorised over trials: offset each trial onto its own time span.
    span = float(onsets.max()) + duration + 1.0
    flat_onsets = (onsets + span * np.arange(n_trials)[:, None]).ravel()
    t = np.arange(n_times) / sfreq
    flat_t = (t[None, :] + span * np.arange(n_trials)[:, None]).ravel()
    idx = np.searchsorted(flat_onsets, flat_t, side="right") - 1
    steps = gaze.ravel()[np.maximum(idx, 0)].reshape(n_trials, n_times)
    # Gaussian smoothing (SD 15 ms) in the frequency domain.
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    smooth = np.exp(-0.5 * (2 * np.pi * freqs * 0.015) ** 2)
    steps = np.fft.irfft(np.fft.rfft(steps - steps.mean(axis=1, keepdims=True), axis=-1) * smooth, n=n_times)
    if component == "vertical":
        eog = 2.5 * effects.blink_uv * train + 0.3 * steps
    else:
        eog = 0.1 * effects.blink_uv * train + steps
    eog += 20.0 * _smooth_noise(rng, n_trials, n_times, sfreq, 0.1)
    return eog + 5.0 * rng.standard_normal((n_trials, n_times))


def _emg(rng, effects, vad, sfreq, n_times, muscle):
    n_trials, duration = vad.shape[0], n_times / sfreq
    drive = np.nan_to_num(vad[:, 0] if muscle == "zygomaticus" else 0.7 * vad[:, 1], nan=0.0)
    rate = (4.0 if muscle == "zygomaticus" else 3.0) / 60.0 * np.exp(effects.emg_gain * drive)
    counts = rng.poisson(rate * (duration + 2.0))
    trial = np.repeat(np.arange(n_trials), counts)
    onset = rng.uniform(-2.0, duration, trial.size)
    length = rng.uniform(0.3, 1.5, trial.size)
    amp = np.exp(rng.normal(np.log(15.0), 0.4, trial.size))

    def burst(tau):
        inside = (tau >= 0) & (tau <= length[:, None])
        hann = np.sin(np.pi * np.clip(tau, 0, None) / length[:, None]) ** 2
        return amp[:, None] * np.where(inside, hann, 0.0)

    envelope = 2.0 + render(n_trials, n_times, sfreq, trial, onset, (0.0, 1.5), burst)
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    hp = passband_gain(freqs, (20.0, None))
    carrier = np.fft.irfft(rng.standard_normal((n_trials, 2 * freqs.size)).view(np.complex128) * hp,
                           n=n_times, axis=-1)
    carrier /= carrier.std(axis=-1, keepdims=True)
    return envelope * carrier


def simulate_peripheral(
    rng: np.random.Generator,
    vad: np.ndarray,
    kind: str,
    sfreq: float,
    n_times: int,
    effects: SubjectEffects,
    *,
    component: str = "vertical",
    muscle: str = "zygomaticus",
) -> np.ndarray:
    """Simulate one peripheral signal of one subject, label-dependent where physiology says so.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (consumed).
    vad : ndarray, shape (n_trials, 3)
        Normalised valence, arousal, dominance in [-1, 1]; NaN rows = no stimulus (neutral).
    kind : {'ecg', 'ppg', 'gsr', 'resp', 'temp', 'eog', 'emg'}
        * ``ecg`` (µV): Gaussian P, Q, R (~1.1 mV), S, T waves per beat, T placed by Bazett's
          QT = 0.4 sqrt(RR); heart rate ``heart_rate + hr_gain * arousal`` (+ trial noise, SD
          2.5 bpm) with respiratory sinus arrhythmia and beat-to-beat variability; baseline wander.
        * ``ppg`` (arbitrary units, pulse height ~1): a systolic and a dicrotic wave at every heart
          beat (the same beats as ``ecg`` for the same trials and duration), 0.25 s transit time;
          pulses shrink with arousal.
        * ``gsr`` (Ohm, skin resistance as DEAP stores it): ``1e6 / G`` with conductance ``G``
          (µS) = tonic level (higher with arousal) + bi-exponential skin-conductance responses
          (rise 0.75 s, decay 2.5 s) at ``scr_rate * exp(scr_gain * arousal)`` per minute.
        * ``resp`` (arbitrary units, amplitude ~1): breathing at ``resp_rate + resp_gain *
          arousal`` Hz with slowly varying rate and depth.
        * ``temp`` (degC): skin temperature with slow drift, cooling with arousal.
        * ``eog`` (µV): the same blinks as :func:`~neuroaffect.simulate.eeg.simulate_eeg`
          (``component='vertical'``, 2.5 x ``blink_uv``) or mostly saccades
          (``component='horizontal'``).
        * ``emg`` (µV): >20 Hz broadband noise under bursts, more frequent with valence
          (``muscle='zygomaticus'``) or arousal (``muscle='trapezius'``).
    sfreq : float
        Sampling rate in Hz.
    n_times : int
        Samples per trial.
    effects : SubjectEffects
        The subject's planted effects (:func:`~neuroaffect.simulate.effects.draw_subject_effects`).
    component : {'vertical', 'horizontal'}
        EOG derivation (``kind='eog'`` only).
    muscle : {'zygomaticus', 'trapezius'}
        EMG site (``kind='emg'`` only).

    Returns
    -------
    signal : ndarray of float64, shape (n_trials, n_times)
    """
    check_option("kind", kind, PERIPHERAL_KINDS)
    check_option("component", component, ("vertical", "horizontal"))
    check_option("muscle", muscle, ("zygomaticus", "trapezius"))
    vad = check_vad(vad)
    sfreq, n_times = check_signal_args(sfreq, n_times)
    check_effects(effects)
    if kind == "eog":
        out = _eog(rng, effects, vad, sfreq, n_times, component)
    elif kind == "emg":
        out = _emg(rng, effects, vad, sfreq, n_times, muscle)
    else:
        out = {"ecg": _ecg, "ppg": _ppg, "gsr": _gsr, "resp": _resp, "temp": _temp}[kind](
            rng, effects, vad, sfreq, n_times)
    return np.ascontiguousarray(out, dtype=np.float64)
