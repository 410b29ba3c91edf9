r"""Signal core of the simulator: EEG and peripheral signals whose features follow the ratings.

The dataset writers (``simulate/deap.py``, ``dreamer.py``, ``seed.py``, ``mahnob.py``) draw one
:class:`SubjectEffects` per subject, draw that subject's ratings, and call :func:`simulate_eeg`
and :func:`simulate_peripheral` once per signal. Everything is vectorised over trials and
channels and is deterministic for a given random generator.

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
        + \epsilon_{kcr},

where :math:`(v_k, a_k, d_k) \in [-1, 1]^3` are the trial's normalised ratings and the spatial
weights are built from the electrodes' head coordinates (``x`` right, ``y`` anterior, metres),
so they hold for any channel set (DEAP 32, DREAMER 14, SEED 62):

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
  equally learnable from whole trials, see below) is our choice.
* **arousal** (``arousal_gain`` :math:`g_a`) - posterior alpha desynchronisation with arousal
  (Barry et al. 2007) and more beta/gamma with emotional activation (Ray & Cole 1985):
  :math:`W^a_{c,\alpha} = -\mathrm{post}_c` with :math:`\mathrm{post}_c = \sigma((-y_c - 0.04)/0.015)`,
  :math:`W^a_{c,\beta} = 0.6`, :math:`W^a_{c,\gamma} = 0.8` on every channel.
* **dominance** (``dominance_gain`` :math:`g_d`, weaker) - a fronto-central beta/theta ratio
  that rises with felt control (frontal theta/beta ratio falls with attentional control,
  Putman et al. 2010): :math:`W^d_{c,\beta} = -W^d_{c,\theta} = \tfrac12\,\mathrm{fc}_c`, with
  :math:`\mathrm{fc}_c` a Gaussian bump around FCz (4 cm wide). This mapping is our choice.

Rows of ``vad`` that are NaN (baseline segments, no stimulus) get no label effect.

The trial-level variability, unrelated to the labels, is what keeps accuracy well below 100 %:

.. math::

    \epsilon_{kcr} = \sigma_{\mathrm{trial}} (L_\epsilon e_{kr})_c + \sigma_{\mathrm{shared}}\, u_{kr}
        + \gamma_k, \qquad \gamma_k = \sigma_{\mathrm{gain}}\, g_k,

with :math:`e, u, g \sim N(0, 1)` and :math:`L_\epsilon L_\epsilon^T = \exp(-d / 0.03\,\mathrm{m})`
(spatially smooth independent part, a per-trial per-rhythm "state" shared by all channels, and a
per-trial overall gain that also scales the background). The label gains scale with the
signal-to-noise knob: :math:`g = \mathrm{snr}\cdot\sigma_{\mathrm{trial}}\cdot m\cdot s`, with nominal
:math:`m` = 2 (valence, because each hemisphere moves by half), 1 (arousal), 1 (dominance, whose
weights are halved), a subject factor :math:`s = \pm e^{N(0, 0.3^2)}` whose sign is negative with a
small probability (10 % valence, 5 % arousal, 20 % dominance: frontal asymmetry is the least
consistent effect across people). At ``snr = 1`` a full-scale valence or arousal rating moves the
most affected rhythm by one trial-noise SD on average (dominance: half of that).

A trial's nuisance state persists over the seconds before it: the drivers :math:`(e, u, g)` of
trial :math:`k` are :math:`\sqrt{\rho}\, s_k + \sqrt{1 - \rho}\, f`, with :math:`s_k` drawn from the
subject's seed and the trial index only (so the label-free baseline segment simulated for the
same trial index gets the same :math:`s_k`) and :math:`f` fresh. The marginal law of
:math:`\epsilon` is unchanged; a trial and its own baseline correlate :math:`\rho` =
:data:`STATE_SHARE` = 0.7 (our choice), so subtracting a trial's baseline removes part of its
nuisance state (and adds the baseline's own estimation noise).

:data:`DEFAULT_SNR` is calibrated so that per-channel log band power plus logistic regression,
cross-validated over trials, lands near real DEAP (55-70 %). Measured with
``benchmarks/calibrate_simulator.py`` on 10 simulated DEAP subjects (40 one-minute trials,
32 channels, 4-45 Hz, stratified 5-fold CV over trials, balanced accuracy valence / arousal):
snr 0.5 -> 0.62 / 0.58, snr 1 (default) -> 0.69 / 0.71, snr 2 -> 0.87 / 0.83; the oracle below
gives 0.75 / 0.70, 0.87 / 0.82 and 0.96 / 0.93 at those snr.

Artefacts are added in the time domain: eye blinks (an asymmetric bump of ~0.4 s, ~15 per
minute, ``blink_uv`` at Fp1/Fp2, decaying as :math:`\exp(-(d - d_{Fp})/0.03\,\mathrm{m})` with the
distance :math:`d` from the nearer eye) and line noise ``line_noise_uv`` at ``line_freq`` with a
fixed per-channel gain. Blink times are a deterministic function of the subject's ``seed``, the
trial index and the trial's ratings, so the EOG simulated for the same trials shows the same blinks.

Peripheral signals
------------------
See :func:`simulate_peripheral`: ECG (sum-of-Gaussians PQRST, heart rate
:math:`\mathrm{HR}_k = \mathrm{HR}_0 + h\,a_k + N(0, 2.5^2)` bpm, RR intervals with respiratory sinus
arrhythmia and AR(1)-like beat-to-beat variability), PPG (pulses at the same beats, delayed by
the pulse transit time, smaller with arousal), GSR (tonic level plus skin-conductance responses
whose rate grows as :math:`e^{\kappa a_k}`, written as resistance :math:`10^6 / G` Ohm),
respiration (rate 0.2-0.3 Hz, faster with arousal), skin temperature (slow drift, cooler with
arousal), EOG (the same blinks, saccades) and EMG (broadband bursts; zygomaticus more with
valence, trapezius with arousal).

Oracle
------
:func:`oracle_accuracy` gives the accuracy of the Bayes-optimal rule on the exact planted rhythm
log-powers :math:`\ln P_{kcr}`, the only uncertainty being :math:`\epsilon` - an upper bound for
any classifier trained on the simulated signals (with ``baseline=True`` it also sees the
baseline's planted powers, for classifiers of baseline-corrected features).
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg import cholesky, solve_triangular

from .._utils import check_option
from ..channels import DEAP_EEG_CH_NAMES, get_positions

__all__ = [
    "DEFAULT_SNR",
    "STATE_SHARE",
    "RHYTHMS",
    "PERIPHERAL_KINDS",
    "RATING_KINDS",
    "SubjectEffects",
    "draw_subject_effects",
    "draw_ratings",
    "normalise_ratings",
    "simulate_eeg",
    "simulate_peripheral",
    "oracle_accuracy",
]

#: Realistic default of the signal-to-noise knob (its meaning and calibration: module docstring).
DEFAULT_SNR = 1.0

#: Rhythms of the EEG model, in the order of the last axis of the planted log powers.
RHYTHMS = ("theta", "alpha", "beta", "gamma")

PERIPHERAL_KINDS = ("ecg", "ppg", "gsr", "resp", "temp", "eog", "emg")
RATING_KINDS = ("deap", "dreamer", "mahnob")
TARGETS = ("valence", "arousal", "dominance")

# Rhythm centre frequencies (Hz; alpha is the subject's peak) and Gaussian widths (Hz).
_RHYTHM_CENTRE = {"theta": 6.0, "beta": 20.0, "gamma": 38.0}
_RHYTHM_WIDTH = np.array([1.2, 1.0, 4.0, 5.0])
# Aperiodic background density at 0 Hz before the 1/(1 + f)^beta roll-off (µV²/Hz).
_BACKGROUND_DENSITY = 100.0
# Spatial length scales (m): coherence of the signal and smoothness of trial-level noise.
_SIGNAL_LENGTH = 0.08
_NOISE_LENGTH = 0.03
# Eye positions in the template head frame (m), and the Fp-to-eye distance used as reference.
_EYES = np.array([[-0.032, 0.080, -0.040], [0.032, 0.080, -0.040]])
_BLINK_LENGTH = 0.03
# Nominal label gains in units of trial_sd x snr, and the chance that a subject's sign flips.
_NOMINAL_GAIN = {"valence": 2.0, "arousal": 1.0, "dominance": 1.0}
_FLIP_P = {"valence": 0.10, "arousal": 0.05, "dominance": 0.20}
#: Share of the variance of a trial's nuisance state (the trial-level ln-power noise epsilon)
#: that its own label-free baseline segment also carries (their correlation).
STATE_SHARE = 0.7
# Weight of the lateral temporal beta/gamma part of the valence effect, relative to the gain.
_VALENCE_TEMPORAL = 0.3

# Streams of the subject's own seed (subject-constant quantities and shared event timings).
_STREAM_TOPO, _STREAM_BLINK, _STREAM_CARDIAC, _STREAM_LINE, _STREAM_STATE = 11, 12, 13, 14, 15


# --------------------------------------------------------------------------------------------
# Subject effects
# --------------------------------------------------------------------------------------------
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

    def to_dict(self) -> dict:
        """JSON-serialisable dict of every field (plain ``int``/``float``)."""
        return {
            k: (int(v) if isinstance(v, (int, np.integer)) else float(v)) for k, v in asdict(self).items()
        }


def _check_snr(snr):
    if snr is None:
        return DEFAULT_SNR
    try:
        snr = float(snr)
    except (TypeError, ValueError):
        raise TypeError(f"snr must be a non-negative number or None, but got {snr!r}") from None
    if not np.isfinite(snr) or snr < 0:
        raise ValueError(f"snr must be a finite number >= 0, but got {snr!r}")
    return snr


def draw_subject_effects(rng: np.random.Generator, subject: int, snr: float | None = None) -> SubjectEffects:
    """Draw one subject's planted effects.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (consumed).
    subject : int
        Subject number, stored as is.
    snr : float | None
        Signal-to-noise knob (>= 0); ``None`` takes :data:`DEFAULT_SNR`. ``0`` plants no label
        effect at all. Peripheral label effects scale with ``snr / DEFAULT_SNR``.

    Returns
    -------
    effects : SubjectEffects
        Label gains ``snr * trial_sd * nominal * s`` with ``s = ±exp(N(0, 0.3²))`` (sign mostly
        positive), individual alpha frequency ~ N(10, 0.8²) Hz clipped to 8-12.5 Hz, and the
        subject's physiology.
    """
    snr = _check_snr(snr)
    trial_sd = float(rng.uniform(0.30, 0.40))
    gains = {}
    for name in TARGETS:
        sign = -1.0 if rng.random() < _FLIP_P[name] else 1.0
        gains[name] = snr * trial_sd * _NOMINAL_GAIN[name] * sign * float(np.exp(rng.normal(0.0, 0.3)))
    periph = snr / DEFAULT_SNR
    return SubjectEffects(
        subject=int(subject),
        valence_gain=gains["valence"],
        arousal_gain=gains["arousal"],
        dominance_gain=gains["dominance"],
        alpha_peak=float(np.clip(rng.normal(10.0, 0.8), 8.0, 12.5)),
        amplitude=float(np.exp(rng.normal(0.0, 0.2))),
        snr=snr,
        seed=int(rng.integers(0, 2**31 - 1)),
        aperiodic_exponent=float(rng.uniform(1.4, 1.8)),
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
    )


# --------------------------------------------------------------------------------------------
# Ratings
# --------------------------------------------------------------------------------------------
_SCALES = {"deap": (1.0, 9.0, 4), "dreamer": (1.0, 5.0, 3), "mahnob": (1.0, 9.0, 4)}


def draw_ratings(rng: np.random.Generator, n_trials: int, kind: str) -> np.ndarray:
    """Draw self-assessment ratings of one subject.

    Stimuli are balanced over the four valence/arousal quadrants (as DEAP chose its clips);
    the felt rating lands on the intended side 85 % of the time, at a distance from the scale
    midpoint of about half the half-range. Dominance follows valence (r ~ 0.55 before rounding),
    liking follows it more closely (r ~ 0.75); MAHNOB's predictability is unrelated. Both halves of
    the binary split (``>= midpoint``) are always present when ``n_trials >= 2``.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_trials : int
    kind : {'deap', 'dreamer', 'mahnob'}

    Returns
    -------
    ratings : ndarray
        ``'deap'``: float64, shape (n_trials, 4), continuous in [1, 9] (valence, arousal,
        dominance, liking). ``'dreamer'``: float64 integer values, shape (n_trials, 3), in 1..5
        (valence, arousal, dominance). ``'mahnob'``: int64, shape (n_trials, 4), in 1..9
        (valence, arousal, control, predictability).
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

    lo, hi, n_cols = _SCALES[kind]
    mid = 0.5 * (lo + hi)
    ratings = mid + 0.5 * (hi - lo) * latent[:, :n_cols]
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
    if kind == "mahnob":
        return ratings.astype(np.int64)
    return ratings.astype(np.float64)


def normalise_ratings(ratings, lo: float, hi: float) -> np.ndarray:
    """Map ratings on ``[lo, hi]`` linearly to ``[-1, 1]``.

    DEAP/MAHNOB: ``(s - 5) / 4`` with ``lo, hi = 1, 9``; DREAMER: ``(s - 3) / 2`` with ``1, 5``.
    NaN stays NaN (no stimulus).

    Parameters
    ----------
    ratings : array-like, any shape
    lo, hi : float
        Ends of the rating scale, ``lo < hi``.

    Returns
    -------
    norm : ndarray of float64, same shape as ``ratings``
    """
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"the rating scale needs finite lo < hi, but got lo={lo!r}, hi={hi!r}")
    r = np.asarray(ratings, dtype=np.float64)
    return 2.0 * (r - lo) / (hi - lo) - 1.0


# --------------------------------------------------------------------------------------------
# Geometry and planted features
# --------------------------------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _readonly(**arrays):
    for a in arrays.values():
        a.setflags(write=False)
    return arrays


@lru_cache(maxsize=16)
def _geometry(ch_names: tuple) -> dict:
    """Positions, spatial weights and Cholesky factors of one channel set (cached, read-only)."""
    pos = get_positions(ch_names)
    x, y = pos[:, 0], pos[:, 1]
    dist = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    jitter = 1e-6 * np.eye(len(ch_names))
    chol_signal = cholesky(np.exp(-dist / _SIGNAL_LENGTH) + jitter, lower=True)
    noise_kernel = np.exp(-dist / _NOISE_LENGTH) + jitter
    front = _sigmoid((y - 0.035) / 0.012)
    post = _sigmoid((-y - 0.04) / 0.015)
    lat = np.clip(x / 0.05, -1.0, 1.0)
    fc = np.exp(-0.5 * ((x / 0.04) ** 2 + ((y - 0.02) / 0.04) ** 2))
    temporal = np.clip(np.abs(x) / 0.085, 0.0, 1.0) ** 2
    eye_dist = np.linalg.norm(pos[:, None, :] - _EYES[None], axis=-1).min(axis=1)
    ref = np.linalg.norm(np.array([-0.029, 0.084, -0.007]) - _EYES[0])  # Fp1 to the left eye
    blink = np.minimum(np.exp(-(eye_dist - ref) / _BLINK_LENGTH), 1.2)
    # Weights of the planted effects, shape (3 [v, a, d], n_chans, n_rhythms).
    n = len(ch_names)
    w = np.zeros((3, n, len(RHYTHMS)))
    w[0, :, 1] = 0.5 * lat * front
    w[0, :, 2] = _VALENCE_TEMPORAL * temporal
    w[0, :, 3] = _VALENCE_TEMPORAL * temporal
    w[1, :, 1] = -post
    w[1, :, 2] = 0.6
    w[1, :, 3] = 0.8
    w[2, :, 2] = 0.5 * fc
    w[2, :, 0] = -0.5 * fc
    # Baseline rhythm peak densities before subject jitter (µV²/Hz), shape (n_chans, n_rhythms).
    base = np.column_stack([
        2.0 * (0.6 + 0.8 * fc),
        20.0 * (0.25 + post),
        0.6 * (0.8 + 0.4 * _sigmoid((0.03 - np.abs(y)) / 0.02)),
        0.10 * (0.7 + 0.6 * temporal),
    ])
    return _readonly(
        pos=pos, dist=dist, chol_signal=chol_signal, noise_kernel=noise_kernel,
        chol_noise=cholesky(noise_kernel, lower=True), weights=w, base=base, blink=blink,
    )


def _names_key(ch_names) -> tuple:
    if isinstance(ch_names, str):
        raise TypeError("ch_names must be a sequence of channel names, not a single string")
    names = tuple(str(c) for c in ch_names)
    if not names:
        raise ValueError("ch_names must hold at least one channel name, but got none")
    return names


def _channel_jitter(effects: SubjectEffects, ch_names: tuple, stream: int, size: int) -> np.ndarray:
    """Subject-constant standard-normal draws per channel, shape (n_chans, size).

    Seeded by the subject's seed and each channel's (upper-case) name, so the same subject gets
    the same values in every call and in every channel set that holds the channel.
    """
    out = np.empty((len(ch_names), size))
    for i, name in enumerate(ch_names):
        key = zlib.crc32(name.upper().encode())
        out[i] = np.random.default_rng([effects.seed, stream, key]).standard_normal(size)
    return out


def _check_vad(vad) -> np.ndarray:
    vad = np.asarray(vad, dtype=np.float64)
    if vad.ndim != 2 or vad.shape[1] != 3:
        raise ValueError(
            "vad must have shape (n_trials, 3) (normalised valence, arousal, dominance), "
            f"but got shape {vad.shape}"
        )
    if vad.shape[0] < 1:
        raise ValueError("vad must hold at least one trial, but got shape (0, 3)")
    if np.isinf(vad).any():
        raise ValueError("vad must be finite or NaN (NaN = no stimulus), but it holds Inf")
    finite = vad[np.isfinite(vad)]
    if finite.size and (finite.min() < -1.0 - 1e-9 or finite.max() > 1.0 + 1e-9):
        raise ValueError(
            "vad must be normalised to [-1, 1] (see normalise_ratings), but it spans "
            f"[{finite.min():.3g}, {finite.max():.3g}]"
        )
    return vad


def _effect_matrix(effects: SubjectEffects, geom: dict) -> np.ndarray:
    """Planted ln-power change per unit of (v, a, d), shape (n_chans * n_rhythms, 3)."""
    g = np.array([effects.valence_gain, effects.arousal_gain, effects.dominance_gain])
    w = geom["weights"] * g[:, None, None]
    return w.reshape(3, -1).T


def _trial_noise_cov(effects: SubjectEffects, geom: dict) -> np.ndarray:
    """Covariance of the trial-level ln-power noise epsilon, over (channel, rhythm) pairs.

    Returns
    -------
    cov : ndarray, shape (n_chans * n_rhythms, n_chans * n_rhythms)
        Features ordered channel-major (index ``c * n_rhythms + r``).
    """
    n_chans, n_r = geom["base"].shape
    eye_r = np.eye(n_r)
    cov = effects.trial_sd**2 * np.kron(geom["noise_kernel"], eye_r)
    cov += effects.shared_sd**2 * np.kron(np.ones((n_chans, n_chans)), eye_r)
    cov += effects.gain_sd**2
    return cov


def _planted_log_power(rng, effects, vad, geom, ch_names):
    """ln of the rhythm peak densities, shape (n_trials, n_chans, n_rhythms), and ln gain (n_trials,)."""
    n_trials = vad.shape[0]
    n_chans, n_r = geom["base"].shape
    base = np.log(geom["base"]) + 0.2 * _channel_jitter(effects, ch_names, _STREAM_TOPO, n_r)
    labels = np.nan_to_num(vad, nan=0.0)
    label_effect = (labels @ _effect_matrix(effects, geom).T).reshape(n_trials, n_chans, n_r)
    # Standard-normal drivers of epsilon per trial: n_r * n_chans (local), n_r (shared), 1 (gain).
    n_z = n_r * n_chans + n_r + 1
    z = rng.standard_normal((n_trials, n_z))
    if STATE_SHARE > 0:
        state = np.stack([_trial_state_rng(effects, k).standard_normal(n_z) for k in range(n_trials)])
        z = np.sqrt(STATE_SHARE) * state + np.sqrt(1.0 - STATE_SHARE) * z
    e = z[:, : n_r * n_chans].reshape(n_trials, n_r, n_chans)
    local = np.einsum("ij,krj->kir", geom["chol_noise"], e)
    shared = z[:, n_r * n_chans : -1].reshape(n_trials, 1, n_r)
    gain = effects.gain_sd * z[:, -1]
    eps = effects.trial_sd * local + effects.shared_sd * shared + gain[:, None, None]
    return base[None] + label_effect + eps, gain


def _passband_gain(freqs, passband, order=4):
    """Zero-phase Butterworth-like magnitude response on ``freqs`` (Hz); ones when None."""
    gain = np.ones_like(freqs)
    if passband is None:
        return gain
    try:
        lo, hi = passband
    except (TypeError, ValueError):
        raise ValueError(f"passband must be None or a (low, high) pair in Hz, but got {passband!r}") from None
    with np.errstate(divide="ignore"):
        if lo is not None and lo > 0:
            gain = gain / np.sqrt(1.0 + (float(lo) / freqs) ** (2 * order))
        if hi is not None:
            gain = gain / np.sqrt(1.0 + (freqs / float(hi)) ** (2 * order))
    return np.nan_to_num(gain)


def _check_signal_args(sfreq, n_times):
    try:
        sfreq = float(sfreq)
    except (TypeError, ValueError):
        raise TypeError(f"sfreq must be a number in Hz, but got {sfreq!r}") from None
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise ValueError(f"sfreq must be a positive number of Hz, but got {sfreq!r}")
    if isinstance(n_times, bool) or not isinstance(n_times, (int, np.integer)) or n_times < 2:
        raise ValueError(f"n_times must be an integer >= 2, but got {n_times!r}")
    return sfreq, int(n_times)


# --------------------------------------------------------------------------------------------
# Events rendered onto a (n_trials, n_times) grid
# --------------------------------------------------------------------------------------------
def _trial_state_rng(effects: SubjectEffects, k: int) -> np.random.Generator:
    """Generator of trial ``k``'s nuisance state, shared by its baseline and stimulus segments."""
    return np.random.default_rng([effects.seed, _STREAM_STATE, int(k)])


def _trial_rng(effects: SubjectEffects, stream: int, k: int, row: np.ndarray) -> np.random.Generator:
    """Generator of trial ``k``'s shared event timings (blinks, beats): same trial, same events."""
    key = zlib.crc32(np.nan_to_num(row, nan=9.0).astype("<f8").tobytes())
    return np.random.default_rng([effects.seed, stream, int(k), key])


def _render(n_trials, n_times, sfreq, trial, centre, support, shape):
    """Sum of events on a grid, shape (n_trials, n_times).

    ``trial``, ``centre`` (s) have shape (n_events,); ``support`` = (t0, t1) in seconds around
    each centre; ``shape(tau)`` takes tau of shape (n_events, n_offsets) (seconds relative to the
    centre) and returns the event values there (already scaled).
    """
    out = np.zeros(n_trials * n_times)
    if len(centre) == 0:
        return out.reshape(n_trials, n_times)
    offs = np.arange(int(np.floor(support[0] * sfreq)), int(np.ceil(support[1] * sfreq)) + 1)
    idx = np.rint(np.asarray(centre) * sfreq).astype(np.int64)[:, None] + offs[None, :]
    tau = idx / sfreq - np.asarray(centre)[:, None]
    val = shape(tau)
    ok = (idx >= 0) & (idx < n_times)
    flat = (np.asarray(trial, dtype=np.int64)[:, None] * n_times + idx)[ok]
    out += np.bincount(flat, weights=val[ok], minlength=n_trials * n_times)
    return out.reshape(n_trials, n_times)


def _blink_shape(tau, tp=0.12):
    """Blink waveform, peak 1 at ``tp`` s: fast rise, slower fall (~0.4 s wide)."""
    t = np.clip(tau, 0.0, None) / tp
    return np.where(tau > 0, t**2 * np.exp(2.0 * (1.0 - t)), 0.0)


def _blink_events(effects: SubjectEffects, vad: np.ndarray, duration: float):
    """Blink trial indices, times (s) and relative amplitudes, shared by EEG and EOG."""
    trials, times, amps = [], [], []
    mean_gap = 60.0 / max(effects.blink_rate, 1e-3)
    for k, row in enumerate(vad):
        g = _trial_rng(effects, _STREAM_BLINK, k, row)
        n_max = int(duration / 0.4) + 2
        gaps = 0.4 + g.exponential(max(mean_gap - 0.4, 0.1), n_max)
        t = g.uniform(-mean_gap, 0.0) + np.cumsum(gaps)
        a = np.exp(g.normal(0.0, 0.25, n_max))
        keep = (t > -1.0) & (t < duration)
        trials.append(np.full(keep.sum(), k))
        times.append(t[keep])
        amps.append(a[keep])
    return np.concatenate(trials), np.concatenate(times), np.concatenate(amps)


def _blink_train(effects, vad, sfreq, n_times):
    """Blink waveform per trial in units of ``blink_uv`` at Fp1/Fp2, shape (n_trials, n_times)."""
    trial, t, a = _blink_events(effects, vad, n_times / sfreq)
    return _render(vad.shape[0], n_times, sfreq, trial, t, (0.0, 1.0),
                   lambda tau: a[:, None] * _blink_shape(tau))


# --------------------------------------------------------------------------------------------
# EEG
# --------------------------------------------------------------------------------------------
def _background_and_rhythms(rng, vad, names, geom, sfreq, n_times, effects, band_gain):
    """Spatially coherent 1/f background plus rhythms, shape (n_trials, n_chans, n_times), µV."""
    n_trials, n_chans = vad.shape[0], len(names)
    # Spectral densities (µV²/Hz), shape (n_trials, n_chans, n_freqs).
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    log_power, log_gain = _planted_log_power(rng, effects, vad, geom, names)
    centres = np.array([_RHYTHM_CENTRE["theta"], effects.alpha_peak, _RHYTHM_CENTRE["beta"],
                        _RHYTHM_CENTRE["gamma"]])
    shapes = np.exp(-0.5 * ((freqs[None, :] - centres[:, None]) / _RHYTHM_WIDTH[:, None]) ** 2)
    background = _BACKGROUND_DENSITY / (1.0 + freqs) ** effects.aperiodic_exponent
    background[0] = 0.0
    bg_chan = np.exp(0.15 * _channel_jitter(effects, names, _STREAM_TOPO + 100, 1)[:, 0])
    density = np.matmul(np.exp(log_power), shapes)
    density += np.exp(log_gain)[:, None, None] * bg_chan[None, :, None] * background[None, None, :]
    scale = np.sqrt(density * (effects.amplitude**2 * sfreq * n_times / 4.0)) * band_gain
    scale[..., 0] = 0.0
    # Spatially coherent complex white noise: L @ (a + ib), drawn as interleaved float32.
    white = rng.standard_normal((n_trials, n_chans, 2 * freqs.size), dtype=np.float32)
    mixed = np.matmul(geom["chol_signal"].astype(np.float32), white)
    spectrum = mixed.astype(np.float64).view(np.complex128)
    spectrum *= scale
    return np.fft.irfft(spectrum, n=n_times, axis=-1)


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
        Normalised valence, arousal, dominance in [-1, 1]; a NaN row means "no stimulus"
        (baseline segment) and gets no label effect.
    ch_names : sequence of str, length n_chans
        EEG channel names with a 10-05 template position (case-insensitive; CB1/CB2 allowed).
    sfreq : float
        Sampling rate in Hz.
    n_times : int
        Samples per trial.
    effects : SubjectEffects
        The subject's planted effects (:func:`draw_subject_effects`).
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
    vad = _check_vad(vad)
    sfreq, n_times = _check_signal_args(sfreq, n_times)
    if not isinstance(effects, SubjectEffects):
        raise TypeError(f"effects must be a SubjectEffects, but got {type(effects).__name__}")
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
    names = _names_key(ch_names)
    geom = _geometry(names)
    n_trials = vad.shape[0]
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    band_gain = _passband_gain(freqs, passband)

    eeg = _background_and_rhythms(rng, vad, names, geom, sfreq, n_times, effects, band_gain)
    if onset is not None and onset > 0:
        # The neutral realisation is only needed up to the end of the crossfade.
        m = min(n_times, onset + int(np.ceil(0.5 * fade_s * sfreq)) + 1)
        gain_m = _passband_gain(np.fft.rfftfreq(m, 1.0 / sfreq), passband)
        neutral = _background_and_rhythms(rng, np.full_like(vad, np.nan), names, geom, sfreq, m,
                                          effects, gain_m)
        t = (np.arange(m) - onset) / sfreq
        phase = 0.5 * np.pi * np.clip(t / fade_s + 0.5, 0.0, 1.0)
        eeg[..., :m] = eeg[..., :m] * np.sin(phase) + neutral * np.cos(phase)

    if blinks:
        train = _blink_train(effects, vad, sfreq, n_times)
        if passband is not None:
            train = np.fft.irfft(np.fft.rfft(train, axis=-1) * band_gain, n=n_times, axis=-1)
        eeg += (effects.blink_uv * geom["blink"])[None, :, None] * train[:, None, :]
    if line_freq is not None and line_noise_uv > 0 and 0 < float(line_freq) < sfreq / 2:
        line_freq = float(line_freq)
        chan_gain = 1.0 + 0.5 * np.tanh(_channel_jitter(effects, names, _STREAM_LINE, 1)[:, 0])
        phase = rng.uniform(0.0, 2 * np.pi, n_trials)
        t = np.arange(n_times) / sfreq
        wave = np.sin(2 * np.pi * line_freq * t[None, :] + phase[:, None])
        amp = line_noise_uv * float(np.interp(line_freq, freqs, band_gain))
        eeg += amp * chan_gain[None, :, None] * wave[:, None, :]
    return eeg


# --------------------------------------------------------------------------------------------
# Peripheral signals
# --------------------------------------------------------------------------------------------
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
        g = _trial_rng(effects, _STREAM_CARDIAC, k, row)
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
        ecg += _render(n_trials, n_times, sfreq, trial, centre, (-4 * width, 4 * width),
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

    ppg = _render(n_trials, n_times, sfreq, trial, t + transit, (-0.2, 0.8), pulse)
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

    phasic = _render(n_trials, n_times, sfreq, trial, onset, (0.0, 20.0), scr)
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
    train = _blink_train(effects, vad, sfreq, n_times)
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

    envelope = 2.0 + _render(n_trials, n_times, sfreq, trial, onset, (0.0, 1.5), burst)
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    hp = _passband_gain(freqs, (20.0, None))
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
        * ``eog`` (µV): the same blinks as :func:`simulate_eeg` (``component='vertical'``,
          2.5 x ``blink_uv``) or mostly saccades (``component='horizontal'``).
        * ``emg`` (µV): >20 Hz broadband noise under bursts, more frequent with valence
          (``muscle='zygomaticus'``) or arousal (``muscle='trapezius'``).
    sfreq : float
        Sampling rate in Hz.
    n_times : int
        Samples per trial.
    effects : SubjectEffects
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
    vad = _check_vad(vad)
    sfreq, n_times = _check_signal_args(sfreq, n_times)
    if not isinstance(effects, SubjectEffects):
        raise TypeError(f"effects must be a SubjectEffects, but got {type(effects).__name__}")
    if kind == "eog":
        out = _eog(rng, effects, vad, sfreq, n_times, component)
    elif kind == "emg":
        out = _emg(rng, effects, vad, sfreq, n_times, muscle)
    else:
        out = {"ecg": _ecg, "ppg": _ppg, "gsr": _gsr, "resp": _resp, "temp": _temp}[kind](
            rng, effects, vad, sfreq, n_times)
    return np.ascontiguousarray(out, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Oracle
# --------------------------------------------------------------------------------------------
def oracle_accuracy(
    effects: SubjectEffects,
    vad: np.ndarray,
    target: str,
    ch_names=None,
    *,
    n_draws: int = 2000,
    seed: int = 0,
    baseline: bool = False,
) -> float:
    """Accuracy of the Bayes-optimal classifier on the exact planted band powers.

    The oracle sees, for each trial, the planted ln rhythm powers ``ln P_kcr`` of every channel
    and rhythm (module docstring), i.e. the label effect plus the trial-level noise
    ``epsilon ~ N(0, Sigma)``, and knows everything else: the subject's gains, ``Sigma``, and the
    set of this subject's ratings (its prior is uniform over the given trials). It predicts
    ``target >= 0`` when the posterior mass of the trials with ``target >= 0`` is at least 1/2:

    .. math::

        p(y = 1 \\mid x) = \\frac{\\sum_{j: y_j = 1} N(x; \\mu_j, \\Sigma)}{\\sum_j N(x; \\mu_j, \\Sigma)},
        \\qquad \\mu_j = \\mu_0 + B\\,(v_j, a_j, d_j)^T.

    Because all means lie in the 3-D span of ``B``, the whitened problem reduces exactly to
    three dimensions (``L^{-1} B = Q R`` with ``Sigma = L L^T``); the accuracy is averaged over
    ``n_draws`` noise draws per trial. Windowing, finite-length spectral estimation, background
    power in each band and artefacts, which a real classifier must also cope with, are ignored:
    this is an upper bound (in expectation) for classifiers trained on the simulated signals.
    With zero gains (``snr = 0``) it equals the majority-class rate.

    Parameters
    ----------
    effects : SubjectEffects
    vad : ndarray, shape (n_trials, 3)
        Normalised ratings of the subject's trials; NaN rows are ignored.
    target : {'valence', 'arousal', 'dominance'}
        Binary target ``normalised rating >= 0`` (rating >= 5 on 1-9, score >= 3 on 1-5).
    ch_names : sequence of str | None
        The EEG channel set the classifier would see (more channels average more noise);
        None = DEAP's 32 channels.
    n_draws : int
        Monte-Carlo noise draws per trial.
    seed : int
        Seed of those draws (the result is deterministic).
    baseline : bool
        The oracle also sees the planted powers of each trial's own label-free baseline, whose
        nuisance state correlates :data:`STATE_SHARE` with the trial's: the noise left given the
        baseline is ``(1 - STATE_SHARE**2) * Sigma``. Use it for classifiers whose features are
        corrected by the baseline (DEAP, DREAMER, MAHNOB).

    Returns
    -------
    accuracy : float
        In [0, 1].
    """
    check_option("target", target, TARGETS)
    vad = _check_vad(vad)
    vad = vad[np.isfinite(vad).all(axis=1)]
    if vad.shape[0] == 0:
        raise ValueError("vad holds no trial with finite ratings")
    geom = _geometry(_names_key(DEAP_EEG_CH_NAMES if ch_names is None else ch_names))
    cov = _trial_noise_cov(effects, geom)
    if baseline:
        cov = (1.0 - STATE_SHARE**2) * cov
    chol = cholesky(cov, lower=True)
    whitened = solve_triangular(chol, _effect_matrix(effects, geom), lower=True)
    r = np.linalg.qr(whitened, mode="r")  # (3, 3): whitened means are R @ vad
    means = vad @ r.T  # (n_trials, 3)
    y = vad[:, TARGETS.index(target)] >= 0
    g = np.random.default_rng(seed)
    correct = 0.0
    for k in range(vad.shape[0]):  # loop over trials only; draws and candidates are vectorised
        z = means[k] + g.standard_normal((int(n_draws), 3))
        ll = -0.5 * ((z[:, None, :] - means[None, :, :]) ** 2).sum(-1)
        ll -= ll.max(axis=1, keepdims=True)
        lik = np.exp(ll)
        post = lik[:, y].sum(1) / lik.sum(1)
        correct += np.mean((post >= 0.5) == y[k])
    return float(correct / vad.shape[0])
