"""How learnable the simulator's planted effects are, against its signal-to-noise knob.

For each snr, simulate DEAP-like subjects (32 channels, 128 Hz, 40 trials of ``--seconds`` s, the
ratings DEAP-style), compute per-channel ln band power (Welch, theta/alpha/beta/gamma) over each
trial and score a standardised logistic regression with stratified 5-fold CV over trials
(balanced accuracy, so chance is 0.5). Prints, per snr, the subject mean of valence and arousal,
and the planted-feature Bayes oracle (:func:`neuroaffect.simulate.oracle.oracle_accuracy`).
These are the figures quoted in ``neuroaffect/simulate/effects.py``.

Run::

    python benchmarks/calibrate_simulator.py --subjects 10 --seconds 60 --snr 0.5 1 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.signal import welch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neuroaffect.channels import DEAP_EEG_CH_NAMES
from neuroaffect.labels import normalise_ratings
from neuroaffect.simulate import DEFAULT_SNR, draw_subject_effects, oracle_accuracy, simulate_eeg
from neuroaffect.simulate.effects import draw_ratings

BANDS = ((4, 8), (8, 14), (14, 31), (31, 45))
FS = 128


def log_band_power(x):
    """ln Welch band power, shape (n_trials, n_chans * n_bands)."""
    f, p = welch(x, fs=FS, nperseg=2 * FS, axis=-1)
    bp = np.stack([p[..., (f >= lo) & (f < hi)].mean(-1) for lo, hi in BANDS], axis=-1)
    return np.log(bp).reshape(len(x), -1)


def score(features, y):
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(clf, features, y, cv=cv, scoring="balanced_accuracy").mean()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--snr", type=float, nargs="+", default=[0.5, 1.0, 2.0],
                    help="multiples of DEFAULT_SNR")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n_times = int(args.seconds * FS)
    print(f"{args.subjects} subjects x 40 trials x {args.seconds:g} s, 32 channels; balanced accuracy, "
          "5-fold CV over trials")
    print(f"{'snr':>5} {'valence':>8} {'arousal':>8} {'oracle v':>9} {'oracle a':>9} {'s':>6}")
    for mult in args.snr:
        t0 = time.perf_counter()
        rng = np.random.default_rng(args.seed)
        acc = {"valence": [], "arousal": []}
        orc = {"valence": [], "arousal": []}
        for s in range(args.subjects):
            eff = draw_subject_effects(rng, s + 1, mult * DEFAULT_SNR)
            vad = normalise_ratings(draw_ratings(rng, 40, "deap")[:, :3], "deap")
            x = simulate_eeg(rng, vad, DEAP_EEG_CH_NAMES, FS, n_times, eff, passband=(4.0, 45.0))
            feats = log_band_power(x)
            for i, target in enumerate(acc):
                acc[target].append(score(feats, (vad[:, i] >= 0).astype(int)))
                orc[target].append(oracle_accuracy(eff, vad, target, n_draws=500))
        print(f"{mult:5.2f} {np.mean(acc['valence']):8.3f} {np.mean(acc['arousal']):8.3f} "
              f"{np.mean(orc['valence']):9.3f} {np.mean(orc['arousal']):9.3f} "
              f"{time.perf_counter() - t0:6.1f}")


if __name__ == "__main__":
    main()
