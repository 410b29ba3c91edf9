r"""Planted ground truth of a simulated subject, and the self-assessment ratings that drive it.

The dataset writers (``simulate/deap.py``, ``dreamer.py``, ``seed.py``, ``mahnob.py``) draw one
:class:`SubjectEffects` per subject, draw that subject's ratings (:func:`draw_ratings`),
normalise them to ``[-1, 1]`` with :func:`neuroaffect.labels.normalise_ratings`, and call
:func:`~neuroaffect.simulate.eeg.simulate_eeg` and
:func:`~neuroaffect.simulate.peripheral.simulate_peripheral` once per signal. Everything is
deterministic for a given random generator. How the effects shape the EEG is described in
:mod:`neuroaffect.simulate.eeg` (and in ``docs/simulator.md``).

Label gains
-----------
The label gains :math:`g_v, g_a, g_d` scale with the signal-to-noise knob:
:math:`g = \mathrm{snr}\cdot\sigma_{\mathrm{trial}}\cdot m\cdot D\cdot s`, with nominal :math:`m`
= 2.4 (valence, because each hemisphere moves by half, and the eyes-open alpha of real EEG hides
the asymmetry in more background), 1 (arousal), 1 (dominance, whose weights are halved), a
device-family scale :math:`D` (1 for research amplifiers, 1.35 for the Emotiv EPOC, whose flatter
spectrum buries the rhythms deeper in the background) and a subject factor
:math:`s = \pm e^{N(0, 0.3^2)}` whose sign is negative with a small probability (10 % valence, 5 %
arousal, 20 % dominance: frontal asymmetry is the least consistent effect across people).

The gain of the shared latent structure G* (:mod:`neuroaffect.simulate.gstar`) follows the same
knob without a subject factor or sign: :math:`g_G = \mathrm{snr}\cdot\sigma_{\mathrm{trial}}
\cdot m_G\cdot D` with :math:`m_G` = :data:`GSTAR_NOMINAL` (no random draw, so every other
planted quantity of a subject is what it was before G* was planted).

Continuous affect state
-----------------------
Each trial has a continuous state ``(v, a, d)`` in :math:`[-1, 1]^3` (normalised valence,
arousal, dominance; :func:`draw_states`); the planted EEG and peripheral effects follow it. The
rating a dataset writes is the state on the dataset's scale, rounded as the scale records it
(DREAMER 1-5 and MAHNOB-HCI 1-9: to the nearest integer, ``rint(mid + half * state)``; DEAP: to
two decimals), so a written integer rating stands for an interval of states.

Calibration
-----------
:data:`DEFAULT_SNR` is calibrated so that per-channel log band power plus logistic regression,
cross-validated over trials, lands near real DEAP (55-70 %). Measured with
``benchmarks/calibrate_simulator.py snr`` on 10 simulated subjects (40 trials of 30 s, stratified
5-fold CV over trials, balanced accuracy valence / arousal), DEAP-like (32 channels, 4-45 Hz):
snr 0.5 -> 0.55 / 0.57, snr 1 (default) -> 0.68 / 0.67, snr 2 -> 0.86 / 0.83 (oracle,
:func:`neuroaffect.simulate.oracle.oracle_accuracy`: 0.76 / 0.70, 0.89 / 0.83, 0.96 / 0.94);
DREAMER-like (14 channels, Emotiv): 0.57 / 0.55, 0.69 / 0.63, 0.82 / 0.81. The same subjects on
the simulator before it was calibrated to real EEG gave 0.68 / 0.67 (DEAP-like) and 0.68 / 0.64
(DREAMER-like) at snr 1: ``docs/simulator.md`` has the table. With G* planted (and the continuous
states) the same benchmark gives 0.67 / 0.69 (DEAP-like) and 0.66 / 0.61 (DREAMER-like) at snr 1;
the oracle, which also reads G*, 0.95 / 0.93.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .._utils import check_option
from ..labels import LABEL_NAMES, RATING_RANGE

__all__ = [
    "DEFAULT_SNR",
    "GSTAR_NOMINAL",
    "STATE_SHARE",
    "RHYTHMS",
    "RATING_KINDS",
    "VAD",
    "DEVICES",
    "SubjectEffects",
    "draw_subject_effects",
    "draw_ratings",
    "draw_states",
]

#: Realistic default of the signal-to-noise knob (its meaning and calibration: module docstring).
DEFAULT_SNR = 1.0

#: Rhythms of the EEG model, in the order of the last axis of the planted log powers.
RHYTHMS = ("theta", "alpha", "beta", "gamma")

#: Share of the variance of a trial's nuisance state (the trial-level ln-power noise epsilon)
#: that its own label-free baseline segment also carries (their correlation).
STATE_SHARE = 0.7

#: Datasets whose labels are self-assessment ratings (:func:`draw_ratings`), with their scales
#: in :data:`neuroaffect.labels.RATING_RANGE`.
RATING_KINDS = tuple(RATING_RANGE)

#: Columns of every ``vad`` array: normalised valence, arousal, dominance in [-1, 1].
VAD = ("valence", "arousal", "dominance")

#: Device families the simulator mimics (see ``docs/simulator.md``): ``research`` (the wet
#: research amplifiers of DEAP, SEED and MAHNOB-HCI) and ``emotiv`` (the Emotiv EPOC of DREAMER).
#: Each gives the range of the 1/f exponent drawn per subject, calibrated so that the fitted
#: exponent (:mod:`neuroaffect.simulate.realism`) lands in the family's real range.
DEVICES = ("research", "emotiv")
#: Each also scales the subject's amplitude and alpha power (real eyes-open video watching has far
#: less alpha than eyes-closed rest).
_EXPONENT = {"research": (1.85, 2.15), "emotiv": (1.0, 1.2)}
_AMPLITUDE = {"research": 2.0, "emotiv": 0.65}
_ALPHA_POWER = {"research": 0.45, "emotiv": 0.8}
#: ... and scales the label gains, so that ``snr`` means the same learnability in both families
#: (the Emotiv's flatter spectrum buries the planted rhythms deeper in the background).
_GAIN_SCALE = {"research": 1.0, "emotiv": 1.35}

# Nominal label gains in units of trial_sd x snr, and the chance that a subject's sign flips.
_NOMINAL_GAIN = {"valence": 2.4, "arousal": 1.0, "dominance": 1.0}
_FLIP_P = {"valence": 0.10, "arousal": 0.05, "dominance": 0.20}
#: Nominal gain of the G* term in units of trial_sd x snr (``docs/simulator.md``, "The shared structure G*").
GSTAR_NOMINAL = 1.0


@dataclass(frozen=True)
class SubjectEffects:
    """The planted ground truth of one simulated subject.

    Attributes
    ----------
    subject : int
        Subject number (1-based, as the dataset numbers them).
    valence_gain : float
        Frontal alpha asymmetry effect: change of ``ln(alpha_right) - ln(alpha_left)`` per unit of
        normalised valence at a mirror pair with full laterality and frontality weights (F3/F4 get
        about 0.8 of it); natural-log power units.
    arousal_gain : float
        Posterior alpha decrease (``-arousal_gain`` ln-power per unit arousal at occipital sites),
        with beta (x 0.6) and gamma (x 0.8) increases on every channel.
    dominance_gain : float
        Fronto-central beta/theta ratio: ``ln(beta) - ln(theta)`` at FCz changes by
        ``dominance_gain`` per unit of normalised dominance.
    alpha_peak : float
        Individual alpha frequency in Hz.
    amplitude : float
        Overall amplitude scale of the EEG (dimensionless; 1 gives a median channel RMS of about
        13-14 µV before blinks and line noise).
    snr : float
        The signal-to-noise knob the gains were drawn with.
    seed : int
        Seed of the subject-constant quantities (per-channel baseline power, line-noise gains)
        and of event timings shared between signals (blinks, heart beats).
    aperiodic_exponent : float
        Exponent ``beta`` of the 1/(1 + f)^beta background power spectrum.
    trial_sd : float
        SD of the spatially smooth, per channel and rhythm trial-level ln-power noise.
    shared_sd : float
        SD of the trial-level ln-power noise shared by all channels (per rhythm).
    gain_sd : float
        SD of the trial-level ln-power gain shared by all channels, rhythms and background.
    blink_rate : float
        Blinks per minute.
    blink_uv : float
        Blink amplitude at Fp1/Fp2 in µV.
    heart_rate : float
        Heart rate at neutral arousal, beats per minute.
    hr_gain : float
        Heart-rate change in bpm per unit of normalised arousal.
    scl : float
        Tonic skin conductance level in µS.
    scr_rate : float
        Skin-conductance responses per minute at neutral arousal.
    scr_gain : float
        Change of ln(SCR rate) per unit arousal.
    resp_rate : float
        Breathing rate at neutral arousal in Hz.
    resp_gain : float
        Breathing-rate change in Hz per unit arousal.
    skin_temp : float
        Skin temperature in degC.
    temp_gain : float
        Skin-temperature change in degC per unit arousal (negative: vasoconstriction).
    emg_gain : float
        Change of ln(EMG burst rate) per unit valence (zygomaticus) or arousal (trapezius).
    envelope_sd : float
        SD of the ln amplitude envelope that makes the EEG wax and wane (heavier tails).
    burst_rate : float
        Muscle bursts on temporal channels per minute.
    burst_uv : float
        RMS of a muscle burst at T7/T8 in µV.
    pop_rate : float
        Electrode pops per minute (over all channels).
    pop_uv : float
        Typical size of an electrode pop in µV.
    alpha_power : float
        Multiplier of the alpha rhythm's peak density on every channel.
    gstar_gain : float
        Gain ``g_G`` of the G* term: ``ln P_kcr`` moves by ``g_G (G*(v_k, a_k) @ U)_cr``
        (:func:`neuroaffect.simulate._planted.geometry`'s ``gstar_weights`` ``U``); natural-log
        power units per unit of G*. 0 (the default, and what sidecars written before G* read as)
        plants no G*.
    """

    subject: int
    valence_gain: float
    arousal_gain: float
    dominance_gain: float
    alpha_peak: float
    amplitude: float
    snr: float
    seed: int = 0
    aperiodic_exponent: float = 1.6
    trial_sd: float = 0.35
    shared_sd: float = 0.25
    gain_sd: float = 0.10
    blink_rate: float = 15.0
    blink_uv: float = 120.0
    heart_rate: float = 70.0
    hr_gain: float = 5.0
    scl: float = 5.0
    scr_rate: float = 3.0
    scr_gain: float = 1.0
    resp_rate: float = 0.25
    resp_gain: float = 0.04
    skin_temp: float = 32.0
    temp_gain: float = -0.3
    emg_gain: float = 1.0
    envelope_sd: float = 0.0
    burst_rate: float = 0.0
    burst_uv: float = 10.0
    pop_rate: float = 0.0
    pop_uv: float = 80.0
    alpha_power: float = 1.0
    gstar_gain: float = 0.0

    def to_dict(self) -> dict:
        """JSON-serialisable dict of every field (plain ``int``/``float``)."""
        return {
            k: (int(v) if isinstance(v, (int, np.integer)) else float(v)) for k, v in asdict(self).items()
        }


def _check_snr(snr) -> float:
    """The signal-to-noise knob as a float: ``None`` -> :data:`DEFAULT_SNR`, else finite and >= 0.

    Raises
    ------
    TypeError
        If ``snr`` is not a number.
    ValueError
        If ``snr`` is negative, NaN or infinite.
    """
    if snr is None:
        return DEFAULT_SNR
    try:
        snr = float(snr)
    except (TypeError, ValueError):
        raise TypeError(f"snr must be a non-negative number or None, but got {snr!r}") from None
    if not np.isfinite(snr) or snr < 0:
        raise ValueError(f"snr must be a finite number >= 0, but got {snr!r}")
    return snr


def draw_subject_effects(rng: np.random.Generator, subject: int, snr: float | None = None, *,
                         device: str = "research") -> SubjectEffects:
    """Draw one subject's planted effects.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (consumed).
    subject : int
        Subject number, stored as is.
    snr : float | None
        Signal-to-noise knob (>= 0); ``None`` takes :data:`DEFAULT_SNR`. ``0`` plants no label
        effect at all (nor G*). Peripheral label effects scale with ``snr / DEFAULT_SNR``.
    device : {'research', 'emotiv'}
        Device family (:data:`DEVICES`): the range of the 1/f exponent, the amplitude and alpha
        power scales.

    Returns
    -------
    effects : SubjectEffects
        Label gains ``snr * trial_sd * nominal * D * s`` with ``D`` the device family's scale and
        ``s = ±exp(N(0, 0.3²))`` (sign mostly positive), individual alpha frequency ~ N(10, 0.8²) Hz
        clipped to 8-12.5 Hz, the G* gain ``snr * trial_sd * GSTAR_NOMINAL * D`` (no draw), and the
        subject's physiology and artefacts. The draws are in a fixed
        order whatever the ``device``, so a subject differs between families only by the
        family's ranges and scales (1/f exponent, amplitude, alpha power, label gains).
    """
    snr = _check_snr(snr)
    check_option("device", device, DEVICES)
    trial_sd = float(rng.uniform(0.30, 0.40))
    gains = {}
    for name in VAD:
        sign = -1.0 if rng.random() < _FLIP_P[name] else 1.0
        gains[name] = (snr * trial_sd * _NOMINAL_GAIN[name] * _GAIN_SCALE[device] * sign
                       * float(np.exp(rng.normal(0.0, 0.3))))
    periph = snr / DEFAULT_SNR
    return SubjectEffects(
        subject=int(subject),
        valence_gain=gains["valence"],
        arousal_gain=gains["arousal"],
        dominance_gain=gains["dominance"],
        alpha_peak=float(np.clip(rng.normal(10.0, 0.8), 8.0, 12.5)),
        amplitude=_AMPLITUDE[device] * float(np.exp(rng.normal(0.0, 0.2))),
        snr=snr,
        seed=int(rng.integers(0, 2**31 - 1)),
        aperiodic_exponent=float(rng.uniform(*_EXPONENT[device])),
        trial_sd=trial_sd,
        shared_sd=float(rng.uniform(0.20, 0.30)),
        gain_sd=float(rng.uniform(0.05, 0.15)),
        blink_rate=float(np.clip(rng.normal(15.0, 4.0), 5.0, 30.0)),
        blink_uv=float(np.clip(rng.normal(120.0, 25.0), 60.0, 200.0)),
        heart_rate=float(np.clip(rng.normal(70.0, 8.0), 50.0, 95.0)),
        hr_gain=periph * float(np.clip(rng.normal(6.0, 1.5), 3.0, 10.0)),
        scl=float(np.exp(rng.normal(np.log(5.0), 0.4))),
        scr_rate=float(rng.uniform(2.0, 5.0)),
        scr_gain=periph * float(rng.uniform(0.8, 1.3)),
        resp_rate=float(rng.uniform(0.20, 0.30)),
        resp_gain=periph * float(rng.uniform(0.03, 0.06)),
        skin_temp=float(rng.normal(32.0, 1.0)),
        temp_gain=-periph * float(rng.uniform(0.1, 0.4)),
        emg_gain=periph * float(rng.uniform(0.8, 1.3)),
        envelope_sd=float(rng.uniform(0.15, 0.25)),
        burst_rate=float(rng.uniform(1.0, 4.0)),
        burst_uv=float(rng.uniform(10.0, 25.0)),
        pop_rate=float(rng.uniform(1.0, 3.0)),
        pop_uv=float(rng.uniform(50.0, 120.0)),
        alpha_power=_ALPHA_POWER[device] * float(np.exp(rng.normal(0.0, 0.2))),
        gstar_gain=snr * trial_sd * GSTAR_NOMINAL * _GAIN_SCALE[device],
    )


def draw_ratings(rng: np.random.Generator, n_trials: int, kind: str) -> np.ndarray:
    """Draw self-assessment ratings of one subject: the ratings of :func:`draw_states`.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_trials : int
    kind : {'deap', 'dreamer', 'mahnob', 'amigos'}

    Returns
    -------
    ratings : ndarray
        As :func:`draw_states` returns them (the same draws from ``rng``).
    """
    return draw_states(rng, n_trials, kind)[0]


def draw_states(rng: np.random.Generator, n_trials: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Draw one subject's continuous affect states and the self-assessment ratings they give.

    Stimuli are balanced over the four valence/arousal quadrants (as DEAP chose its clips);
    the felt state lands on the intended side 85 % of the time, at a distance from the scale
    midpoint of about half the half-range. Dominance follows valence (r ~ 0.55 before rounding),
    liking follows it more closely (r ~ 0.75); MAHNOB's predictability is unrelated. The written
    rating is the state on the scale, ``mid + half * state``, rounded as the scale records it (to
    the nearest integer except for DEAP's continuous sliders). Both halves of the binary split
    (``>= midpoint``) are always present when ``n_trials >= 2``: when one half is empty, one
    trial's rating is moved one step (0.5 on DEAP's scale) across the midpoint and its state set
    to that rating, normalised. The scale of each kind is
    :data:`neuroaffect.labels.RATING_RANGE`, its columns :data:`neuroaffect.labels.LABEL_NAMES`.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (consumed; the same draws whatever is returned).
    n_trials : int
    kind : {'deap', 'dreamer', 'mahnob', 'amigos'}

    Returns
    -------
    ratings : ndarray
        ``'deap'``: float64, shape (n_trials, 4), continuous in [1, 9] (valence, arousal,
        dominance, liking). ``'dreamer'``: float64 integer values, shape (n_trials, 3), in 1..5
        (valence, arousal, dominance). ``'mahnob'``: int64, shape (n_trials, 4), in 1..9
        (valence, arousal, control, predictability). ``'amigos'``: float64 integer values,
        shape (n_trials, 4), on its scale.
    states : ndarray of float64, shape (n_trials, 3)
        The continuous normalised (valence, arousal, dominance) in [-1, 1] that the ratings
        record: ``ratings[:, :3]`` normalised differs from it by at most half a scale step
        (DEAP: not at all, before its two-decimal rounding).
    """
    check_option("kind", kind, RATING_KINDS)
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, but got {n_trials!r}")
    n = int(n_trials)
    quadrants = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=float)
    signs = quadrants[np.resize(np.arange(4), n)]
    signs = signs[rng.permutation(n)]
    flips = np.where(rng.random((n, 2)) < 0.15, -1.0, 1.0)
    mags = np.clip(np.abs(rng.normal(0.5, 0.25, (n, 2))), 0.05, 1.0)
    va = signs * flips * mags
    dom = np.clip(0.5 * va[:, 0] + rng.normal(0.0, 0.4, n), -1.0, 1.0)
    if kind == "mahnob":
        fourth = np.clip(rng.normal(0.2, 0.5, n), -1.0, 1.0)
    else:
        fourth = np.clip(0.7 * va[:, 0] + rng.normal(0.0, 0.35, n), -1.0, 1.0)
    latent = np.column_stack([va, dom, fourth])
    states = latent[:, :3].copy()

    lo, hi = (float(v) for v in RATING_RANGE[kind])
    n_cols = len(LABEL_NAMES[kind])
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    ratings = mid + half * latent[:, :n_cols]
    if kind != "deap":
        ratings = np.rint(ratings)
    ratings = np.clip(ratings, lo, hi)
    if n >= 2:  # both halves of the binary split in valence and arousal
        for col in (0, 1):
            high = ratings[:, col] >= mid
            if high.all() or not high.any():
                k = int(rng.integers(n))
                step = 0.5 if kind == "deap" else 1.0
                ratings[k, col] = mid - step if high.all() else mid + step
                states[k, col] = (ratings[k, col] - mid) / half
    if kind == "mahnob":
        return ratings.astype(np.int64), states
    return ratings.astype(np.float64), states
