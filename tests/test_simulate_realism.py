"""The simulated datasets stay in the range of real EEG of their device family.

The real ranges are pinned in :data:`neuroaffect.simulate.realism.REAL_RANGES` (measured on real
recordings by ``benchmarks/calibrate_simulator.py``; which recordings, and the margins, are
documented there and in ``docs/simulator.md``); this test needs no real file. The metric
functions are first checked against signals whose value is known in closed form.
"""

from __future__ import annotations

import numpy as np
import pytest
from simulate_helpers import one_blas_thread  # noqa: F401  (autouse fixture)

from neuroaffect.io import read_dataset, read_seed
from neuroaffect.simulate import seed as sim_seed
from neuroaffect.simulate import simulate
from neuroaffect.simulate.realism import METRICS, PROFILES, real_range, realism_metrics

FS = 128.0
NAMES = ("FP1", "FP2", "F3", "F4", "T7", "T8", "O1", "O2")


def _coloured(rng, n_chans, n_times, density):
    """Gaussian noise whose one-sided PSD is ``density(f)`` (µV²/Hz), shape (n_chans, n_times)."""
    f = np.fft.rfftfreq(n_times, 1.0 / FS)
    spec = rng.standard_normal((n_chans, f.size)) + 1j * rng.standard_normal((n_chans, f.size))
    spec *= np.sqrt(density(f) * FS * n_times / 4.0)
    spec[:, 0] = 0.0
    return np.fft.irfft(spec, n=n_times, axis=-1)


# ------------------------------------------------------------------------------------------
# The metrics, on signals with known values
# ------------------------------------------------------------------------------------------
def test_exponent_of_a_power_law():
    rng = np.random.default_rng(0)
    for beta in (1.0, 1.7):
        x = _coloured(rng, 8, int(120 * FS), lambda f: 100.0 / np.maximum(f, 0.1) ** beta)
        m = realism_metrics([x], FS, NAMES)
        assert abs(m["exponent"] - beta) < 0.05, (beta, m["exponent"])
        assert abs(m["offset"] - 2.0) < 0.1, m["offset"]  # log10(100) at 1 Hz


def test_alpha_share_and_peak_of_a_band():
    rng = np.random.default_rng(1)
    # Flat density b everywhere, a in 9-11 Hz: share = (2 a + 5 b) / (2 a + 36 b) over 4-40 Hz.
    a, b = 20.0, 1.0
    x = _coloured(rng, 8, int(120 * FS), lambda f: np.where((f >= 9) & (f <= 11), a + b, b))
    m = realism_metrics([x], FS, NAMES)
    assert abs(m["alpha_share"] - (2 * a + 5 * b) / (2 * a + 36 * b)) < 0.03, m["alpha_share"]
    assert 9.0 <= m["alpha_peak"] <= 11.0


def test_amplitude_correlation_kurtosis_of_white_noise():
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 10.0, (8, int(120 * FS)))
    m = realism_metrics([x], FS, NAMES)
    # 1-40 Hz of white noise at 128 Hz keeps 39/64 of its variance.
    assert abs(m["amplitude_uv"] / (10.0 * np.sqrt(39 / 64)) - 1.0) < 0.05, m["amplitude_uv"]
    # Independent channels after a common average reference correlate -1 / (n - 1).
    assert abs(m["correlation"] + 1.0 / 7.0) < 0.02, m["correlation"]
    assert abs(m["kurtosis"]) < 0.1  # a 4-s segment of 1-40 Hz noise: median slightly below 0
    assert np.isnan(m["dc_uv"])
    assert 0.5 < m["line_ratio"] < 2.0
    assert m["spikes_per_min"] == 0.0 and m["bursts_per_min"] == 0.0 and m["blinks_per_min"] < 1.0


def test_kurtosis_of_a_scale_mixture():
    """Half of each 4-s segment at SD 1, half at SD 3: excess kurtosis 3 (1 + 81) / 2 / 25 - 3 = 1.92."""
    rng = np.random.default_rng(3)
    n = int(4 * FS)
    env = np.tile(np.r_[np.ones(n // 2), 3.0 * np.ones(n // 2)], 40)
    x = rng.standard_normal((8, env.size)) * env
    assert abs(realism_metrics([x], FS, NAMES)["kurtosis"] - 1.92) < 0.3


def test_line_spikes_blinks_and_dc_are_counted():
    rng = np.random.default_rng(4)
    n = int(60 * FS)
    t = np.arange(n) / FS
    x = rng.normal(0.0, 5.0, (8, n)) + 4000.0
    spikes = x.copy()
    spikes[:, [1000, 3000, 5000]] += 400.0  # three spikes
    line = x + 5.0 * np.sin(2 * np.pi * 50.0 * t)
    blinks = x.copy()
    for k in range(12):  # 12 blinks on FP1/FP2 in one minute
        blinks[:2] += 150.0 * np.exp(-0.5 * ((t - 2.5 - 4.8 * k) / 0.1) ** 2)
    assert realism_metrics([spikes], FS, NAMES)["spikes_per_min"] == 3.0
    m = realism_metrics([blinks], FS, NAMES, dc=True)
    assert m["blinks_per_min"] == 12.0 and m["spikes_per_min"] == 0.0
    assert abs(m["dc_uv"] - 4000.0) < 5.0
    assert realism_metrics([line], FS, NAMES)["line_ratio"] > 50.0


def test_metrics_refuse_short_or_mismatched_pieces():
    with pytest.raises(ValueError, match="at least 4 s"):
        realism_metrics([np.zeros((8, 100))], FS, NAMES)
    with pytest.raises(ValueError, match="8 channels"):
        realism_metrics([np.zeros((3, 1000))], FS, NAMES)


# ------------------------------------------------------------------------------------------
# The simulated datasets, against the pinned real ranges
# ------------------------------------------------------------------------------------------
_PASSBAND = {"deap": (4.0, 45.0)}


def _pieces(rec):
    out = [np.asarray(t) * 1e6 for t in rec.eeg]
    if rec.baseline is not None:
        out += [np.asarray(b) * 1e6 for b in rec.baseline]
    return out


@pytest.mark.parametrize("dataset", ["dreamer", "deap", "seed", "seed-iv", "mahnob"])
@pytest.mark.slow
def test_simulated_dataset_is_in_the_real_range(dataset, tmp_path, monkeypatch):
    # SEED's and SEED-IV's tiny trials (1-4 s) are shorter than the 4-s segments the ranges were
    # measured with: the same tiny sizes with 5-s trials here.
    for name in ("SCALES", "SEED_IV_SCALES"):
        tiny = getattr(sim_seed, name)["tiny"]
        scales = dict(getattr(sim_seed, name), tiny=type(tiny)(tiny.n_subjects, tiny.n_sessions,
                                                                  (5,) * len(tiny.trial_s)))
        monkeypatch.setattr(sim_seed, name, scales)
    if dataset == "seed-iv":
        recs = read_seed(sim_seed.write_seed_iv(tmp_path, scale="tiny", seed=0), variant="seed-iv")
    else:
        recs = read_dataset(dataset, simulate(dataset, "tiny", tmp_path, seed=0))
    per_subject = [realism_metrics(_pieces(r), r.sfreq, r.ch_names, passband=_PASSBAND.get(dataset),
                                   dc=dataset == "dreamer") for r in recs]
    out = []
    for metric in METRICS:
        rng = real_range(dataset, metric)
        if rng is None:
            continue
        value = float(np.median([m[metric] for m in per_subject]))
        if not rng[0] <= value <= rng[1]:
            out.append(f"{metric} = {value:.3g} outside the real range {rng} ({PROFILES[dataset]})")
    assert not out, f"simulated {dataset}: " + "; ".join(out)
