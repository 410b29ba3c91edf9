r"""Bayes-optimal oracle on the planted band powers: an upper bound for trained classifiers.

:func:`oracle_accuracy` gives the accuracy of the Bayes-optimal rule on the exact planted rhythm
log-powers :math:`\ln P_{kcr}` (:mod:`neuroaffect.simulate.eeg`), the only uncertainty being
:math:`\epsilon` - an upper bound for any classifier trained on the simulated signals (with
``baseline=True`` it also sees the baseline's planted powers, for classifiers of
baseline-corrected features). :func:`oracle_accuracies` applies it to every subject of a
simulated dataset, from the ground truth in its ``simulation.json``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from scipy.linalg import cholesky, solve_triangular

from .._utils import check_option
from ..channels import DEAP_EEG_CH_NAMES, EEG_CH_NAMES
from ._core import check_vad, names_key
from ._planted import effect_matrix, geometry, gstar_matrix, trial_noise_cov
from .effects import STATE_SHARE, VAD, SubjectEffects
from .gstar import gstar

__all__ = ["oracle_accuracy", "oracle_accuracies"]

#: Datasets whose trials are corrected by their own label-free baseline by default.
_BASELINE_DATASETS = ("deap", "dreamer", "mahnob")


def oracle_accuracy(
    effects: SubjectEffects,
    vad: np.ndarray,
    target: str,
    ch_names=None,
    *,
    n_draws: int = 2000,
    seed: int = 0,
    baseline: bool = False,
    states: np.ndarray | None = None,
) -> float:
    """Accuracy of the Bayes-optimal classifier on the exact planted band powers.

    The oracle sees, for each trial, the planted ln rhythm powers ``ln P_kcr`` of every channel
    and rhythm (:mod:`neuroaffect.simulate.eeg`), i.e. the label effect plus the trial-level noise
    ``epsilon ~ N(0, Sigma)``, and knows everything else: the subject's gains, ``Sigma``, and the
    set of this subject's trials, their ratings and continuous states (its prior is uniform over
    the given trials). It predicts ``target >= 0`` when the posterior mass of the trials whose
    *rating* has ``target >= 0`` is at least 1/2:

    .. math::

        p(y = 1 \\mid x) = \\frac{\\sum_{j: y_j = 1} N(x; \\mu_j, \\Sigma)}{\\sum_j N(x; \\mu_j, \\Sigma)},
        \\qquad \\mu_j = \\mu_0 + B\\,(v_j, a_j, d_j)^T + G\\,G^*(v_j, a_j)^T,

    with ``(v_j, a_j, d_j)`` the trial's continuous state and ``G`` the planted G* term
    (``gstar_gain`` times the patterns ``U``). Because all means lie in the (at most) 7-D span of
    ``[B, G]``, the whitened problem reduces exactly to seven dimensions
    (``L^{-1} [B, G] = Q R`` with ``Sigma = L L^T``); the accuracy is averaged over
    ``n_draws`` noise draws per trial. Windowing, finite-length spectral estimation, background
    power in each band and artefacts, which a real classifier must also cope with, are ignored:
    this is an upper bound (in expectation) for classifiers trained on the simulated signals.
    With zero gains (``snr = 0``) it equals the majority-class rate.

    Parameters
    ----------
    effects : SubjectEffects
    vad : ndarray, shape (n_trials, 3)
        Normalised ratings of the subject's trials (what the binary target is read from); NaN
        rows are ignored.
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
        nuisance state correlates :data:`~neuroaffect.simulate.effects.STATE_SHARE` with the
        trial's: the noise left given the baseline is ``(1 - STATE_SHARE**2) * Sigma``. Use it
        for classifiers whose features are corrected by the baseline (DEAP, DREAMER, MAHNOB).
    states : ndarray, shape (n_trials, 3) | None
        The continuous normalised states that drove each trial's planted powers (the means), row
        for row with ``vad``; None = ``vad`` (ratings that are the states, e.g. for a sidecar
        written before states were recorded).

    Returns
    -------
    accuracy : float
        In [0, 1].
    """
    check_option("target", target, VAD)
    vad = check_vad(vad)
    states = vad if states is None else check_vad(states)
    if states.shape != vad.shape:
        raise ValueError(f"Invalid value for the 'states' parameter: expected one state per rating, shape "
                         f"{vad.shape}, but got shape {states.shape} instead.")
    keep = np.isfinite(vad).all(axis=1) & np.isfinite(states).all(axis=1)
    vad, states = vad[keep], states[keep]
    if vad.shape[0] == 0:
        raise ValueError("vad holds no trial with finite ratings")
    geom = geometry(names_key(DEAP_EEG_CH_NAMES if ch_names is None else ch_names))
    cov = trial_noise_cov(effects, geom)
    if baseline:
        cov = (1.0 - STATE_SHARE**2) * cov
    chol = cholesky(cov, lower=True)
    design = np.column_stack([effect_matrix(effects, geom), gstar_matrix(effects, geom)])
    whitened = solve_triangular(chol, design, lower=True)
    r = np.linalg.qr(whitened, mode="r")  # (7, 7): whitened means are R @ [state, G*(state)]
    means = np.column_stack([states, gstar(states[:, :2])]) @ r.T  # (n_trials, 7)
    y = vad[:, VAD.index(target)] >= 0
    g = np.random.default_rng(seed)
    correct = 0.0
    for k in range(vad.shape[0]):  # loop over trials only; draws and candidates are vectorised
        z = means[k] + g.standard_normal((int(n_draws), means.shape[1]))
        ll = -0.5 * ((z[:, None, :] - means[None, :, :]) ** 2).sum(-1)
        ll -= ll.max(axis=1, keepdims=True)
        lik = np.exp(ll)
        post = lik[:, y].sum(1) / lik.sum(1)
        correct += np.mean((post >= 0.5) == y[k])
    return float(correct / vad.shape[0])


def oracle_accuracies(sidecar, target: str, ch_names=None, baseline: bool | None = None) -> dict:
    """Oracle accuracy per subject of a simulated dataset, from its ground-truth sidecar.

    The Bayes-optimal binary rule (``target`` normalised rating >= 0) on the exact planted band
    powers (:func:`oracle_accuracy`): an upper bound, in expectation, for classifiers trained on
    the simulated signals.

    Parameters
    ----------
    sidecar : path-like
        ``simulation.json`` written by :func:`neuroaffect.simulate.simulate`.
    target : {'valence', 'arousal', 'dominance'}
    ch_names : sequence of str | None
        EEG channels the classifier sees; None = the dataset's own.
    baseline : bool | None
        Whether the classifier's features are corrected by each trial's own baseline (see
        :func:`oracle_accuracy`); None = whether the dataset records one (DEAP, DREAMER, MAHNOB;
        not SEED).

    Returns
    -------
    acc : dict of int -> float
        Subject number -> oracle accuracy in [0, 1]. Empty for datasets whose labels are not
        ratings (SEED). Each subject's ``states`` (the continuous states that drove its trials)
        give the planted means where the sidecar records them; its ratings give the target.
    """
    card = json.loads(Path(sidecar).read_text())
    names = {f.name for f in dataclasses.fields(SubjectEffects)}
    check_option("target", target, VAD)
    if baseline is None:
        baseline = card["dataset"] in _BASELINE_DATASETS
    out = {}
    for sub in card["subjects"]:
        vad = sub.get("vad", sub.get("ratings_normalised"))
        if vad is None:
            continue
        vad = np.asarray(vad, dtype=float)[:, :3]
        states = np.asarray(sub["states"], dtype=float)[:, :3] if "states" in sub else vad
        effects = SubjectEffects(**{k: v for k, v in sub.items() if k in names})
        out[int(sub["subject"])] = float(oracle_accuracy(
            effects, vad, target, ch_names or EEG_CH_NAMES[card["dataset"]], baseline=bool(baseline),
            states=states))
    return out
