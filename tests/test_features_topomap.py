"""Topographic maps: one precomputed matrix, checked against mne.viz.plot_topomap."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from neuroaffect.channels import DEAP_EEG_CH_NAMES, DREAMER_CH_NAMES, SEED_CH_NAMES, get_layout_2d
from neuroaffect.features import make_topomap_grid, make_topomaps, topomap_grid_for_channels

# Stated threshold: our maps correlate with MNE's topomap image (same values, same 32 x 32
# grid, pixels inside the head) above 0.999; the cubic interpolant is linear in the data only
# up to the tolerance of its iterative gradient estimate, the linear one exactly.
MNE_CORR_MIN = 0.999


def mne_image(values, pos, res, interp):
    import mne

    fig = Figure()
    ax = fig.add_subplot()
    im, _ = mne.viz.plot_topomap(values, pos, res=res, show=False, axes=ax, contours=0,
                                 sensors=False, image_interp=interp)
    return np.asarray(im.get_array(), dtype=float)


@pytest.mark.parametrize("names", [DEAP_EEG_CH_NAMES, DREAMER_CH_NAMES, SEED_CH_NAMES],
                         ids=["deap", "dreamer", "seed"])
@pytest.mark.parametrize("interp", ["cubic", "linear"])
def test_maps_match_mne_plot_topomap(names, interp):
    pos = get_layout_2d(names)
    grid = make_topomap_grid(pos, 32, interp=interp)
    rng = np.random.default_rng(0)
    for _ in range(2):
        v = rng.standard_normal(len(names))
        ours = make_topomaps(v, grid).astype(float)
        theirs = mne_image(v, pos, 32, interp)
        inside = grid.inside
        assert np.isfinite(theirs[inside]).all()
        assert np.corrcoef(ours[inside], theirs[inside])[0, 1] > MNE_CORR_MIN
        np.testing.assert_allclose(ours[inside], theirs[inside], atol=1e-3 * np.abs(v).max())


def test_maps_differ_from_a_wrong_layout():
    """The comparison can fail: maps made with mirrored positions do not match MNE's."""
    pos = get_layout_2d(DEAP_EEG_CH_NAMES)
    v = pos[:, 0] * 10 + np.random.default_rng(1).standard_normal(len(pos)) * 0.1  # left-right gradient
    wrong = make_topomaps(v, make_topomap_grid(pos * [-1, 1], 32)).astype(float)
    inside = make_topomap_grid(pos, 32).inside
    assert np.corrcoef(wrong[inside], mne_image(v, pos, 32, "cubic")[inside])[0, 1] < 0.5


@pytest.mark.parametrize("interp", ["cubic", "linear"])
def test_matrix_rows_sum_to_one_inside_and_vanish_outside(interp):
    grid = topomap_grid_for_channels(DEAP_EEG_CH_NAMES, 32, interp, "zero")
    m = grid.matrix
    assert m.shape == (32 * 32, 32)
    inside = grid.inside.ravel()
    assert 0.6 < inside.mean() < 0.85  # a disc in a square: pi / 4
    np.testing.assert_allclose(m[inside].sum(axis=1), 1.0, atol=1e-6)
    assert np.all(m[~inside] == 0)
    nan_grid = topomap_grid_for_channels(DEAP_EEG_CH_NAMES, 32, interp, "nan")
    assert np.isnan(nan_grid.matrix[~inside]).all()
    assert np.isfinite(nan_grid.matrix[inside]).all()
    np.testing.assert_array_equal(nan_grid.matrix[inside], m[inside])
    maps = make_topomaps(np.ones((2, 32)), nan_grid)
    assert np.isnan(maps[:, ~grid.inside]).all()
    np.testing.assert_allclose(maps[:, grid.inside], 1.0, atol=1e-5)


def test_exact_at_sensor_positions():
    """At each sensor the interpolant returns that sensor's value; on the pixel grid the
    nearest pixel is dominated by its sensor as far as the grid resolution allows."""
    from scipy.interpolate import CloughTocher2DInterpolator

    from neuroaffect.features.topomap import _border_mean_matrix, _extra_points

    pos = get_layout_2d(DEAP_EEG_CH_NAMES)
    extra, tri = _extra_points(pos, 0.095 * max(1, np.linalg.norm(pos, axis=1).max() * 1.01 / 0.095))
    vals = np.concatenate([np.eye(32), _border_mean_matrix(tri, 32, len(extra))])
    at_sensors = CloughTocher2DInterpolator(tri, vals)(pos[:, 0], pos[:, 1])
    np.testing.assert_allclose(at_sensors, np.eye(32), atol=1e-9)
    # on a fine grid, the pixel nearest each sensor weights that sensor the most
    grid = make_topomap_grid(pos, 128)
    xx, yy = np.meshgrid(grid.x, grid.y)
    for k, (px, py) in enumerate(pos):
        pix = np.argmin((xx - px) ** 2 + (yy - py) ** 2)
        assert np.argmax(grid.matrix[pix]) == k
        assert grid.matrix[pix, k] > 0.8


def test_orientation_front_is_up():
    """Rows run from the back of the head (row 0) to the nose, columns from left to right."""
    grid = topomap_grid_for_channels(DEAP_EEG_CH_NAMES, 32)
    names = list(DEAP_EEG_CH_NAMES)
    v = np.zeros(32)
    v[names.index("Fp1")] = 1.0
    m = make_topomaps(v, grid)
    r, c = np.unravel_index(np.argmax(m), m.shape)
    assert r > 24 and c < 16  # front, left


def test_make_topomaps_shapes_and_errors():
    grid = topomap_grid_for_channels(DREAMER_CH_NAMES, (24, 20))
    assert grid.shape == (24, 20)
    maps = make_topomaps(np.zeros((3, 5, 4, 14)), grid)
    assert maps.shape == (3, 5, 4, 24, 20) and maps.dtype == np.float32
    with pytest.raises(ValueError, match="14 channels"):
        make_topomaps(np.zeros((3, 13)), grid)
    with pytest.raises(ValueError, match="Invalid value for the 'outside' parameter"):
        make_topomap_grid(get_layout_2d(DREAMER_CH_NAMES), 32, outside="mean")
