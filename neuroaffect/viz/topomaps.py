"""Topographic figures of band-DE features.

Both functions take arrays or feature datasets and a file name, and write a PNG atomically
(matplotlib's Agg canvas; pyplot and its global state are never touched).
"""

from __future__ import annotations

import numpy as np

from ..features.topomap import HEAD_RADIUS, make_topomaps, topomap_grid_for_channels
from ._io import new_figure, save_figure

__all__ = ["plot_label_contrast", "plot_topomap_comparison", "region_masks"]


def region_masks(ch_pos) -> dict:
    """Boolean channel masks from 3-D positions (m; x right, y anterior, MNE head frame).

    Returns ``left_frontal``, ``right_frontal`` (y > 3 cm, |x| > 1 cm) and ``posterior``
    (y < -4 cm), each of shape (n_chans,).
    """
    pos = np.asarray(ch_pos)
    x, y = pos[:, 0], pos[:, 1]
    return {
        "left_frontal": (y > 0.03) & (x < -0.01),
        "right_frontal": (y > 0.03) & (x > 0.01),
        "posterior": y < -0.04,
    }


def _draw_head(ax, clip_radius, pos2d=None, radius=HEAD_RADIUS):
    """Head circle and nose at ``radius`` (as MNE draws them), view fitted to ``clip_radius``."""
    t = np.linspace(0, 2 * np.pi, 101)
    ax.plot(radius * np.cos(t), radius * np.sin(t), color="k", lw=0.8)
    ax.plot([-0.18 * radius, 0, 0.18 * radius], [0.985 * radius, 1.15 * radius, 0.985 * radius],
            color="k", lw=0.8)
    if pos2d is not None:
        ax.plot(pos2d[:, 0], pos2d[:, 1], "k.", ms=2)
    lim = max(clip_radius, 1.15 * radius)
    ax.set_xlim(-1.02 * lim, 1.02 * lim)
    ax.set_ylim(-1.02 * lim, 1.02 * lim)
    ax.set_aspect("equal")
    ax.axis("off")


def _imshow(ax, img, grid, vmin, vmax, cmap):
    img = np.where(grid.inside, img, np.nan)
    r = grid.radius
    return ax.imshow(img, origin="lower", extent=(-r, r, -r, r), vmin=vmin, vmax=vmax, cmap=cmap,
                     interpolation="bilinear")


def _group_names(labels, split) -> dict:
    """Row names of the two groups of each label ("valence high" / "valence low"; SEED: positive / rest)."""
    return {lab: (("positive", "neutral or negative") if lab == "emotion" else (f"{lab} high", f"{lab} low"))
            for lab in labels}


def plot_label_contrast(ds, fname, labels=("valence", "arousal"), split: float = 0.0,
                        title: str | None = None) -> dict:
    """Per-band maps of mean band DE for high vs low ratings, and their difference.

    Parameters
    ----------
    ds : xarray.Dataset
        Features of one subject (:func:`neuroaffect.features.extract_features`); needs
        ``bde`` and the normalised labels (``<label>_norm``).
    fname : path-like
        PNG to write.
    labels : sequence of str
        Labels to contrast, one block of three rows (high, low, high - low) each.
    split : float
        Threshold on the normalised label: high = ``>= split`` (DEAP: rating >= 5).
    title : str | None
        Figure title (default: dataset and subject).

    Returns
    -------
    summary : dict
        Per label: trial counts, and the alpha-band indices the simulator plants: frontal
        asymmetry (mean right-frontal minus left-frontal alpha DE) and posterior alpha DE,
        for the high and the low group.
    """
    from ..channels import get_layout_2d

    names = [str(c) for c in ds["channel"].values]
    bands = [str(b) for b in ds["band"].values]
    grid = topomap_grid_for_channels(names, 64, "cubic", "nan")
    pos2d = get_layout_2d(names)
    regions = region_masks(ds["ch_pos"].values)
    bde = ds["bde"].values  # (trial, window, channel, band)
    per_trial = np.nanmean(bde, axis=1)  # (trial, channel, band)
    fig = new_figure((2.1 * len(bands) + 0.6, 2.0 * 3 * len(labels) + 0.6))
    axes = fig.subplots(3 * len(labels), len(bands), squeeze=False)
    summary = {}
    alpha = bands.index("alpha") if "alpha" in bands else None
    per_label = []
    for label in labels:
        key = f"{label}_norm"
        if key not in ds.coords:
            raise ValueError(f"the features hold no label {key!r}; have {list(ds.coords)}")
        v = ds.coords[key].values
        hi_m, lo_m = v >= split, v < split
        if not hi_m.any() or not lo_m.any():
            raise ValueError(f"{label}: need trials on both sides of {split}, got {hi_m.sum()} high "
                             f"and {lo_m.sum()} low")
        high, low = np.nanmean(per_trial[hi_m], axis=0), np.nanmean(per_trial[lo_m], axis=0)
        maps = make_topomaps(np.stack([high, low, high - low]).transpose(0, 2, 1), grid)  # (3, band, H, W)
        info = {"n_high": int(hi_m.sum()), "n_low": int(lo_m.sum())}
        if alpha is not None:
            for grp, m in (("high", high), ("low", low)):
                a = m[:, alpha]
                info[f"frontal_alpha_asymmetry_{grp}"] = float(
                    a[regions["right_frontal"]].mean() - a[regions["left_frontal"]].mean())
                info[f"posterior_alpha_{grp}"] = float(a[regions["posterior"]].mean())
        summary[label] = info
        per_label.append(maps)
    stack = np.stack(per_label)  # (label, 3, band, H, W)
    names_hl = _group_names(labels, split)
    for b, band in enumerate(bands):
        # one colour scale per band, shared by every label: the levels, and a symmetric one for differences
        lo_v, hi_v = np.nanmin(stack[:, :2, b]), np.nanmax(stack[:, :2, b])
        dlim = np.nanmax(np.abs(stack[:, 2, b])) or 1.0
        for li, label in enumerate(labels):
            info = summary[label]
            hi_name, lo_name = names_hl[label]
            for r, (row_name, vmin, vmax, cmap) in enumerate((
                (f"{hi_name} (n={info['n_high']})", lo_v, hi_v, "viridis"),
                (f"{lo_name} (n={info['n_low']})", lo_v, hi_v, "viridis"),
                (f"{hi_name} - {lo_name.split(' ')[-1] if label != 'emotion' else 'rest'}", -dlim, dlim, "RdBu_r"),
            )):
                ax = axes[3 * li + r, b]
                im = _imshow(ax, stack[li, r, b], grid, vmin, vmax, cmap)
                _draw_head(ax, grid.radius, pos2d)
                if r == 0 and li == 0:
                    ax.set_title(band, fontsize=9)
                if b == 0:
                    ax.text(-0.05, 0.5, row_name, rotation=90, va="center", ha="right", fontsize=8,
                            transform=ax.transAxes)
                fig.colorbar(im, ax=ax, shrink=0.7)
    unit = ds["bde"].attrs.get("units", "")
    rule = ("positive clips against neutral and negative ones" if "emotion" in labels
            else f"high = normalised rating >= {split:g}")
    lines = [title or f"{ds.attrs.get('dataset', '')} subject {ds.attrs.get('subject', '')}: "
             f"mean band DE ({unit}), {rule}; one colour scale per band"]
    if alpha is not None:
        for label, info in summary.items():
            lines.append(
                f"{label}: frontal alpha asymmetry R-L high {info['frontal_alpha_asymmetry_high']:+.3f}, "
                f"low {info['frontal_alpha_asymmetry_low']:+.3f}; posterior alpha high "
                f"{info['posterior_alpha_high']:+.3f}, low {info['posterior_alpha_low']:+.3f}")
    fig.suptitle("\n".join(lines), fontsize=9)
    save_figure(fig, fname)
    return summary


def plot_topomap_comparison(values, ch_names, fname, *, size: int = 32, interp: str = "cubic",
                            titles=None) -> list:
    """Our matrix-product maps beside ``mne.viz.plot_topomap`` for the same values.

    Parameters
    ----------
    values : ndarray, shape (n_maps, n_chans) or (n_chans,)
        Channel values, one map per row.
    ch_names : sequence of str, length n_chans
    fname : path-like
        PNG to write.
    size : int
        Grid size of both (our ``H = W``, MNE's ``res``).
    interp : {'cubic', 'linear'}
    titles : sequence of str | None
        Row titles.

    Returns
    -------
    corrs : list of float
        Pearson correlation between our map and MNE's image inside the head, per row
        (also printed in the figure).
    """
    import mne

    from ..channels import get_layout_2d

    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    pos2d = get_layout_2d(list(ch_names))
    grid = topomap_grid_for_channels(ch_names, size, interp, "nan")
    ours = make_topomaps(values, grid).astype(np.float64)
    fig = new_figure((9.0, 2.9 * len(values) + 0.4))
    axes = fig.subplots(len(values), 3, squeeze=False)
    corrs = []
    for i, v in enumerate(values):
        vmin, vmax = v.min(), v.max()
        im, _ = mne.viz.plot_topomap(v, pos2d, res=size, show=False, axes=axes[i, 0], contours=0,
                                     image_interp=interp, vlim=(vmin, vmax), cmap="viridis")
        theirs = np.asarray(im.get_array(), dtype=np.float64)
        inside = grid.inside
        r = float(np.corrcoef(ours[i][inside], theirs[inside])[0, 1])
        corrs.append(r)
        _imshow(axes[i, 1], ours[i], grid, vmin, vmax, "viridis")
        _draw_head(axes[i, 1], grid.radius, pos2d)
        diff = np.where(inside, ours[i] - theirs, np.nan)
        dlim = max(np.nanmax(np.abs(diff)), 1e-12)
        imd = _imshow(axes[i, 2], diff, grid, -dlim, dlim, "RdBu_r")
        _draw_head(axes[i, 2], grid.radius)
        fig.colorbar(imd, ax=axes[i, 2], shrink=0.7)
        name = titles[i] if titles is not None else f"map {i}"
        axes[i, 0].set_title(f"{name}: mne.viz.plot_topomap", fontsize=8)
        axes[i, 1].set_title(f"ours (W @ values, {size}x{size}), r = {r:.6f}", fontsize=8)
        axes[i, 2].set_title(f"ours - mne (max |d| = {dlim:.2g})", fontsize=8)
    save_figure(fig, fname)
    return corrs


def plot_feature_figures(ds, contrast=None, comparison=None) -> list[str]:
    """The feature figures of one subject's feature dataset; returns one line per figure written.

    Parameters
    ----------
    ds : xarray.Dataset
        A feature dataset (:func:`neuroaffect.features.read_features`).
    contrast : path-like | None
        PNG of the high vs low label maps (valence and arousal split at 0 of their normalised
        scale; SEED: positive vs the other clips).
    comparison : path-like | None
        PNG of our maps of the mean band DE beside ``mne.viz.plot_topomap``'s.
    """
    out = []
    if contrast:
        if "valence" in ds.coords:
            labels, split = ("valence", "arousal"), 0.0
        else:  # SEED: positive (1) vs the rest
            labels, split = ("emotion",), 0.5
        plot_label_contrast(ds, contrast, labels=labels, split=split)
        out.append(f"wrote {contrast}")
    if comparison:
        values = np.nanmean(ds["bde"].values, axis=(0, 1)).T  # (n_bands, n_chans)
        corr = plot_topomap_comparison(values, list(ds["channel"].values), comparison, titles=list(ds["band"].values))
        out.append(f"wrote {comparison}; correlation with mne.viz.plot_topomap per band: {corr}")
    return out
