"""Feature figures: PNGs written atomically; the planted effect shows in the summary."""

import numpy as np
import pytest

from neuroaffect.channels import DEAP_EEG_CH_NAMES, get_positions
from neuroaffect.features import extract_features
from neuroaffect.io.base import Recording
from neuroaffect.viz import plot_label_contrast, plot_topomap_comparison, region_masks

PNG = b"\x89PNG\r\n\x1a\n"


def planted_recording(n_trials=12, seconds=8, seed=0):
    """Alpha (10 Hz) on right-frontal channels grows with valence, on posterior channels
    falls with arousal; everything else is white noise."""
    rng = np.random.default_rng(seed)
    fs, n = 128, 128 * seconds
    t = np.arange(n) / fs
    regions = region_masks(get_positions(DEAP_EEG_CH_NAMES))
    val = np.tile([2.0, 8.0], n_trials // 2)
    aro = np.repeat([2.0, 8.0], n_trials // 2)
    eeg = rng.standard_normal((n_trials, 32, n))
    for k in range(n_trials):
        amp = np.ones(32)
        amp[regions["right_frontal"]] += 2.0 * (val[k] > 5)
        amp[regions["posterior"]] += 2.0 * (aro[k] < 5)
        phase = rng.uniform(0, 2 * np.pi, 32)[:, None]
        eeg[k] += amp[:, None] * np.sin(2 * np.pi * 10 * t + phase)
    return Recording(dataset="deap", subject=1, eeg=1e-6 * eeg, sfreq=fs, ch_names=DEAP_EEG_CH_NAMES,
                     labels={"valence": val, "arousal": aro},
                     label_range={"valence": (1, 9), "arousal": (1, 9)})


@pytest.mark.slow
def test_label_contrast_figure_shows_planted_effect(tmp_path):
    ds = extract_features(planted_recording(), dict(physio=False, topo=False))
    out = tmp_path / "fig" / "contrast.png"
    s = plot_label_contrast(ds, out)
    assert out.read_bytes()[:8] == PNG
    assert [p.name for p in out.parent.iterdir()] == ["contrast.png"]
    v, a = s["valence"], s["arousal"]
    assert (v["n_high"], v["n_low"]) == (6, 6)
    assert v["frontal_alpha_asymmetry_high"] - v["frontal_alpha_asymmetry_low"] > 0.3
    assert a["posterior_alpha_low"] - a["posterior_alpha_high"] > 0.3
    assert abs(a["frontal_alpha_asymmetry_high"] - a["frontal_alpha_asymmetry_low"]) < 0.15


def test_topomap_comparison_figure(tmp_path):
    rng = np.random.default_rng(1)
    out = tmp_path / "cmp.png"
    corrs = plot_topomap_comparison(rng.standard_normal((2, 32)), DEAP_EEG_CH_NAMES, out,
                                    titles=["a", "b"])
    assert out.read_bytes()[:8] == PNG
    assert len(corrs) == 2 and min(corrs) > 0.999
