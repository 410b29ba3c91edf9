"""Geometry of a channel set and the planted ln rhythm powers of the EEG model.

Shared by :func:`neuroaffect.simulate.eeg.simulate_eeg`, which turns the planted powers into
signals, and :func:`neuroaffect.simulate.oracle.oracle_accuracy`, which classifies them. The
model (spatial weights, trial-level noise, the state a trial shares with its baseline) is
described in :mod:`neuroaffect.simulate.eeg`.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
from scipy.linalg import cholesky

from ..channels import get_positions
from ._core import STREAM_STATE, STREAM_TOPO
from .effects import RHYTHMS, STATE_SHARE, SubjectEffects
from .gstar import GSTAR_DIM, gstar

# Spatial length scales (m): coherence of the signal and smoothness of trial-level noise.
_SIGNAL_LENGTH = 0.08
_NOISE_LENGTH = 0.03
# Eye positions in the template head frame (m), and the Fp-to-eye distance used as reference.
_EYES = np.array([[-0.032, 0.080, -0.040], [0.032, 0.080, -0.040]])
_BLINK_LENGTH = 0.03
# Weight of the lateral temporal beta/gamma part of the valence effect, relative to the gain.
_VALENCE_TEMPORAL = 0.3
# Length (m) of the anterior-posterior gradient of the G* patterns: tanh(y / _GSTAR_GRADIENT).
_GSTAR_GRADIENT = 0.05


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _readonly(**arrays):
    for a in arrays.values():
        a.setflags(write=False)
    return arrays


@lru_cache(maxsize=16)
def geometry(ch_names: tuple) -> dict:
    """Positions, spatial weights and Cholesky factors of one channel set (cached, read-only).

    Parameters
    ----------
    ch_names : tuple of str, length n_chans
        Channel names with a 10-05 template position (:func:`neuroaffect.channels.get_positions`).

    Returns
    -------
    geom : dict of str -> ndarray
        ``pos`` (n_chans, 3) template positions in m; ``dist`` (n_chans, n_chans) distances in m;
        ``chol_signal`` and ``chol_noise`` (n_chans, n_chans), lower Cholesky factors of the
        signal coherence and of ``noise_kernel`` (n_chans, n_chans), the spatial correlation of
        the trial-level noise; ``weights`` (3, n_chans, n_rhythms), the planted ln-power change
        per unit of (v, a, d) before the subject's gains; ``base`` (n_chans, n_rhythms), rhythm
        peak densities in µV²/Hz before subject jitter; ``blink`` (n_chans,), blink amplitude
        relative to Fp1/Fp2; ``temporal`` (n_chans,), lateral weight in [0, 1] (1 at T7/T8, 0 on the
        midline); ``gstar_weights`` (4, n_chans, n_rhythms), the patterns ``U`` that carry the
        components of G* (:func:`gstar_weights`).
    """
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
        temporal=temporal, gstar_weights=gstar_weights(pos),
    )


def gstar_weights(pos: np.ndarray) -> np.ndarray:
    """Spatial patterns ``U`` that carry the four components of G*, shape (4, n_chans, n_rhythms).

    Smooth functions of the template head coordinates (``x`` right, ``y`` anterior, m), each on
    one rhythm, each with values in [-1, 1] and none a pattern of the linear valence, arousal or
    dominance effects (our choice, no literature claim):

    * ``U_1``: theta, anterior-posterior gradient ``tanh(y / 0.05 m)`` (frontal theta up,
      posterior down);
    * ``U_2``: alpha, parietal left-right asymmetry ``lat * sigmoid((-y - 0.02) / 0.015)``;
    * ``U_3``: beta, anterior left-right asymmetry ``lat * sigmoid(y / 0.02)``;
    * ``U_4``: gamma, anterior-posterior gradient ``tanh(y / 0.05 m)``,

    with ``lat = clip(x / 0.05 m, -1, 1)``. The asymmetries are odd in ``x``, so they are
    orthogonal to the (even) arousal and temporal valence patterns on a symmetric montage.

    Parameters
    ----------
    pos : ndarray, shape (n_chans, 3)
        Template electrode positions in m.

    Returns
    -------
    u : ndarray, shape (4, n_chans, n_rhythms)
        ln-power change per unit of each G* component, before the subject's ``gstar_gain``.
    """
    x, y = pos[:, 0], pos[:, 1]
    lat = np.clip(x / 0.05, -1.0, 1.0)
    gradient = np.tanh(y / _GSTAR_GRADIENT)
    u = np.zeros((GSTAR_DIM, len(pos), len(RHYTHMS)))
    u[0, :, RHYTHMS.index("theta")] = gradient
    u[1, :, RHYTHMS.index("alpha")] = lat * _sigmoid((-y - 0.02) / 0.015)
    u[2, :, RHYTHMS.index("beta")] = lat * _sigmoid(y / 0.02)
    u[3, :, RHYTHMS.index("gamma")] = gradient
    return u


def channel_jitter(effects: SubjectEffects, ch_names: tuple, stream: int, size: int) -> np.ndarray:
    """Subject-constant standard-normal draws per channel, shape (n_chans, size).

    Seeded by the subject's seed and each channel's (upper-case) name, so the same subject gets
    the same values in every call and in every channel set that holds the channel.
    """
    out = np.empty((len(ch_names), size))
    for i, name in enumerate(ch_names):
        key = zlib.crc32(name.upper().encode())
        out[i] = np.random.default_rng([effects.seed, stream, key]).standard_normal(size)
    return out


def effect_matrix(effects: SubjectEffects, geom: dict) -> np.ndarray:
    """Planted ln-power change per unit of (v, a, d), shape (n_chans * n_rhythms, 3)."""
    g = np.array([effects.valence_gain, effects.arousal_gain, effects.dominance_gain])
    w = geom["weights"] * g[:, None, None]
    return w.reshape(3, -1).T


def gstar_matrix(effects: SubjectEffects, geom: dict) -> np.ndarray:
    """Planted ln-power change per unit of each G* component, shape (n_chans * n_rhythms, 4)."""
    return (effects.gstar_gain * geom["gstar_weights"]).reshape(GSTAR_DIM, -1).T


def planted_effect(effects: SubjectEffects, vad: np.ndarray, geom: dict) -> np.ndarray:
    """Planted ln-power change of each trial: linear (v, a, d) effects plus the G* term.

    ``g_v v W^v + g_a a W^a + g_d d W^d + g_G (G*(v, a) @ U)``, with ``U`` the geometry's
    ``gstar_weights``.

    Parameters
    ----------
    effects : SubjectEffects
    vad : ndarray, shape (n_trials, 3)
        Continuous normalised states; a row with NaN valence or arousal gets no G* term, and
        NaN entries no linear effect (baselines: all NaN, no effect at all).
    geom : dict
        :func:`geometry` of the channel set.

    Returns
    -------
    effect : ndarray, shape (n_trials, n_chans, n_rhythms)
        Natural-log power units.
    """
    n_trials = vad.shape[0]
    n_chans, n_r = geom["base"].shape
    effect = np.nan_to_num(vad, nan=0.0) @ effect_matrix(effects, geom).T
    va = vad[:, :2]
    rows = np.isfinite(va).all(axis=1)
    if effects.gstar_gain != 0 and rows.any():
        effect[rows] += gstar(va[rows]) @ gstar_matrix(effects, geom).T
    return effect.reshape(n_trials, n_chans, n_r)


def trial_noise_cov(effects: SubjectEffects, geom: dict) -> np.ndarray:
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


def trial_state_rng(effects: SubjectEffects, k: int) -> np.random.Generator:
    """Generator of trial ``k``'s nuisance state, shared by its baseline and stimulus segments."""
    return np.random.default_rng([effects.seed, STREAM_STATE, int(k)])


def planted_log_power(rng, effects, vad, geom, ch_names):
    """Planted ln rhythm powers of a subject's trials (label effect, G* term, trial-level noise).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the trials' fresh noise (consumed).
    effects : SubjectEffects
    vad : ndarray, shape (n_trials, 3)
        Continuous normalised states (:func:`planted_effect`); NaN rows get no label effect.
    geom : dict
        :func:`geometry` of ``ch_names``.
    ch_names : tuple of str, length n_chans

    Returns
    -------
    log_power : ndarray, shape (n_trials, n_chans, n_rhythms)
        ln of the rhythm peak densities (µV²/Hz, before the subject's ``amplitude``).
    log_gain : ndarray, shape (n_trials,)
        ln of each trial's overall gain (also applied to the background).
    """
    n_trials = vad.shape[0]
    n_chans, n_r = geom["base"].shape
    base = np.log(geom["base"]) + 0.2 * channel_jitter(effects, ch_names, STREAM_TOPO, n_r)
    base[:, RHYTHMS.index("alpha")] += np.log(effects.alpha_power)
    label_effect = planted_effect(effects, vad, geom)
    # Standard-normal drivers of epsilon per trial: n_r * n_chans (local), n_r (shared), 1 (gain).
    n_z = n_r * n_chans + n_r + 1
    z = rng.standard_normal((n_trials, n_z))
    if STATE_SHARE > 0:
        state = np.stack([trial_state_rng(effects, k).standard_normal(n_z) for k in range(n_trials)])
        z = np.sqrt(STATE_SHARE) * state + np.sqrt(1.0 - STATE_SHARE) * z
    e = z[:, : n_r * n_chans].reshape(n_trials, n_r, n_chans)
    local = np.einsum("ij,krj->kir", geom["chol_noise"], e)
    shared = z[:, n_r * n_chans : -1].reshape(n_trials, 1, n_r)
    gain = effects.gain_sd * z[:, -1]
    eps = effects.trial_sd * local + effects.shared_sd * shared + gain[:, None, None]
    return base[None] + label_effect + eps, gain

