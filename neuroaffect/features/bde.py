r"""Band differential entropy (BDE) of EEG windows: three estimators, vectorised.

For a Gaussian signal of variance :math:`\sigma^2` the differential entropy is

.. math:: h = \tfrac12 \log(2 \pi e \sigma^2),

so every mode estimates one band-limited variance per (trial, window, channel, band) and maps
it through this formula (:func:`variance_to_de`). The modes differ in how the band variance is
obtained:

``filter``
    Zero-phase Butterworth band-pass (SOS design, order ``order``, squared by the
    forward-backward pass) over the whole trial, then the variance of each window.
    ``filter_impl='fft'`` applies the filter's exact squared magnitude response
    :math:`|H(f)|^2` to the FFT of the odd-extended trial (one forward transform, one
    inverse per band); ``filter_impl='sosfiltfilt'`` runs ``scipy.signal.sosfiltfilt``.
    Both are the same zero-phase filter; they differ only in the start-up treatment of the
    first and last ~``_pad_length`` samples of a trial.
``fft``
    Each window is de-meaned, tapered (Hann by default) and transformed; the band variance
    is the Parseval-scaled sum of the one-sided power in the band's bins,
    :math:`\hat\sigma^2_b = \sum_k c_k w_{kb} |X_k|^2 / (N \sum_n w_n^2)` with
    :math:`c_k = 2` off DC and Nyquist and :math:`w_{kb}` = 1 inside the band, 1/2 on a
    bin that falls exactly on an edge (so adjacent bands share it). It estimates the same
    variance as the filters do.
``window-lfilter``
    Order-5 Butterworth (``b, a`` form, designed exactly as TorchEEG does) run causally from
    rest inside each window, as TorchEEG's ``BandDifferentialEntropy`` does window by
    window and channel by channel. A causal filter started from rest on a window of fixed
    length :math:`N` is a fixed linear map: the lower-triangular Toeplitz matrix of its
    first :math:`N` impulse-response samples (:func:`design_window_filters` stacks the bands'
    matrices), so all windows of all channels are filtered by matrix products (float64; the
    band variances equal those of per-window ``lfilter`` calls to ~1e-8 relative, the rounding
    of the recursive ``b, a`` filter itself): one BLAS triangular product per band (``dtrmm``),
    which skips the matrices' zero halves.

Every filter or weight matrix is designed once per (sfreq, band, order, length) and cached.
All modes process chunks of trials on all cores, or on ``OMP_NUM_THREADS`` threads when that
is set (parallel jobs), each chunk's FFTs and matrix products on one thread; a chunk's spectra
and filtered signals are sized to stay in the caches while all bands are computed from them.
Neither the chunking nor the number of threads changes a result.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os

import numpy as np
import scipy.fft as sp_fft
from numpy.lib.stride_tricks import sliding_window_view
from scipy import linalg, signal

from .params import FeatureParams

__all__ = [
    "n_windows", "window_starts", "trials_by_length", "compute_band_variance", "compute_band_de",
    "compute_baseline_variance", "variance_to_de", "design_window_filters",
]

# Working-set budget per chunk of trials: small enough that a chunk's spectra and filtered
# signals stay in the caches while every band is computed from them (one DEAP trial per chunk
# in ``filter`` mode); the results do not depend on it.
_CHUNK_BYTES = 8 * 2**20
_TINY = np.finfo(np.float64).tiny


# --------------------------------------------------------------------------------------------
# windows
# --------------------------------------------------------------------------------------------
def trials_by_length(trials) -> dict[int, np.ndarray]:
    """``{n_times: trial indices}`` of an array (n_trials, n_chans, n_times) or a list of (n_chans, n_times_i)
    trials: one group for an array, else one per length (lengths ascending, indices ascending)."""
    if isinstance(trials, np.ndarray):
        return {int(trials.shape[-1]): np.arange(trials.shape[0])}
    lengths = np.array([np.shape(t)[-1] for t in trials], dtype=np.int64)
    return {int(n): np.flatnonzero(lengths == n) for n in np.unique(lengths)}


def n_windows(n_times: int, window: int, stride: int) -> int:
    """Number of whole windows of ``window`` samples, ``stride`` apart, in ``n_times`` samples."""
    n_times, window, stride = int(n_times), int(window), int(stride)
    return 0 if n_times < window else (n_times - window) // stride + 1


def window_starts(n_times: int, window: int, stride: int) -> np.ndarray:
    """First sample of every window, shape (n_windows,), int64."""
    return np.arange(n_windows(n_times, window, stride), dtype=np.int64) * int(stride)


def _windows_view(x: np.ndarray, window: int, stride: int) -> np.ndarray:
    """(..., n_times) -> read-only view (..., n_windows, window)."""
    nw = n_windows(x.shape[-1], window, stride)
    return sliding_window_view(x, window, axis=-1)[..., : (nw - 1) * stride + 1 : stride, :]


def _fft_workers() -> int:
    """Threads per FFT call: ``OMP_NUM_THREADS`` when it holds a positive integer (the share
    of the cores a process among parallel jobs was given), otherwise all cores (-1)."""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return -1
    return n if n >= 1 else -1


def _trial_chunks(n_trials: int, bytes_per_trial: float):
    step = max(1, int(_CHUNK_BYTES // max(bytes_per_trial, 1)))
    for i in range(0, n_trials, step):
        yield slice(i, min(i + step, n_trials))


def _threads() -> int:
    """Threads a process may use: :func:`_fft_workers`, with "all cores" counted."""
    n = _fft_workers()
    if n >= 1:
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without it
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """threadpoolctl's controller of the BLAS libraries loaded (numpy's and scipy's), or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return None
    return ThreadpoolController()


def _single_threaded_blas():
    """Context in which BLAS calls run on one thread each (restored on exit)."""
    import contextlib

    controller = _blas_controller()
    return contextlib.nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


def _for_chunks(fn, chunks) -> None:
    """Call ``fn(chunk)`` for every chunk of trials, on :func:`_threads` threads.

    Each call writes its own trials of the output, so the results do not depend on the number
    of threads; numpy and scipy's FFTs release the GIL, so the chunks run in parallel.
    """
    chunks = list(chunks)
    n = min(_threads(), len(chunks))
    if n <= 1:
        for sl in chunks:
            fn(sl)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(n) as pool:
        for _ in pool.map(fn, chunks):
            pass


# --------------------------------------------------------------------------------------------
# filter design (cached)
# --------------------------------------------------------------------------------------------
def _bands_key(params: FeatureParams) -> tuple:
    return tuple((float(lo), float(hi)) for lo, hi in params.bands.values())


@functools.lru_cache(maxsize=256)
def _design_sos(sfreq: float, lo: float, hi: float, order: int) -> np.ndarray:
    return signal.butter(order, [lo, hi], btype="bandpass", fs=sfreq, output="sos")


@functools.lru_cache(maxsize=256)
def _design_ba(sfreq: float, lo: float, hi: float, order: int):
    # exactly TorchEEG's butter_bandpass: cut-offs normalised by the Nyquist frequency
    nyq = 0.5 * sfreq
    return signal.butter(order, [lo / nyq, hi / nyq], btype="band")


@functools.lru_cache(maxsize=64)
def _pad_length(sfreq: float, bands: tuple, order: int) -> int:
    """Samples after which every band's causal impulse response holds < 1e-12 of its energy."""
    n = int(60 * sfreq)
    imp = np.zeros(n)
    imp[0] = 1.0
    pad = 3 * (2 * order + 1)
    for lo, hi in bands:
        e = signal.sosfilt(_design_sos(sfreq, lo, hi, order), imp) ** 2
        tail = np.cumsum(e[::-1])[::-1] / e.sum()
        pad = max(pad, int(np.argmax(tail < 1e-12)) if (tail < 1e-12).any() else n)
    return pad


@functools.lru_cache(maxsize=64)
def _zero_phase_gain(sfreq: float, bands: tuple, order: int, nfft: int) -> np.ndarray:
    """|H_b(f)|^2 at the rfft frequencies of length ``nfft``, shape (n_bands, nfft // 2 + 1)."""
    freqs = np.fft.rfftfreq(nfft, 1.0 / sfreq)
    out = np.empty((len(bands), freqs.size), np.float32)
    for i, (lo, hi) in enumerate(bands):
        _, h = signal.sosfreqz(_design_sos(sfreq, lo, hi, order), worN=freqs, fs=sfreq)
        out[i] = np.abs(h) ** 2
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=64)
def design_window_filters(sfreq: float, bands: tuple, order: int, n: int) -> np.ndarray:
    """Stacked causal filter matrices of ``window-lfilter`` mode.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    bands : tuple of (float, float)
        Band edges in Hz.
    order : int
        Butterworth order (``b, a`` design as in TorchEEG).
    n : int
        Window length in samples.

    Returns
    -------
    m : ndarray, shape (n, n_bands * n), float64
        ``windows @ m`` = every window filtered from rest by every band, i.e. block ``b`` is
        the transpose of the lower-triangular Toeplitz matrix of the band's first ``n``
        impulse-response samples.
    """
    imp = np.zeros(n)
    imp[0] = 1.0
    out = np.empty((n, len(bands) * n))
    for i, (lo, hi) in enumerate(bands):
        h = signal.lfilter(*_design_ba(sfreq, lo, hi, order), imp)
        out[:, i * n:(i + 1) * n] = linalg.toeplitz(h, np.zeros(n)).T
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=64)
def _window_filter_blocks(sfreq: float, bands: tuple, order: int, n: int) -> tuple:
    """Each band's (n, n) block of :func:`design_window_filters` (upper triangular), in Fortran
    order for BLAS."""
    m = design_window_filters(sfreq, bands, order, n)
    return tuple(np.asfortranarray(m[:, i * n:(i + 1) * n]) for i in range(len(bands)))


@functools.lru_cache(maxsize=64)
def _fft_band_weights(sfreq: float, bands: tuple, n: int, taper: str):
    """Taper (n,) and Parseval-scaled band weights (n // 2 + 1, n_bands) of ``fft`` mode."""
    w = signal.get_window("hann" if taper == "hann" else "boxcar", n, fftbins=True)
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    onesided = np.full(freqs.size, 2.0)
    onesided[0] = 1.0
    if n % 2 == 0:
        onesided[-1] = 1.0
    scale = onesided / (n * np.sum(w**2))
    weights = np.zeros((freqs.size, len(bands)))
    tol = 1e-9 * sfreq
    for i, (lo, hi) in enumerate(bands):
        inside = (freqs > lo + tol) & (freqs < hi - tol)
        edge = (np.abs(freqs - lo) <= tol) | (np.abs(freqs - hi) <= tol)
        weights[:, i] = (inside + 0.5 * edge) * scale
    w32, wt32 = w.astype(np.float32), weights.astype(np.float32)
    w32.setflags(write=False)
    wt32.setflags(write=False)
    return w32, wt32


# --------------------------------------------------------------------------------------------
# per-window variance helpers
# --------------------------------------------------------------------------------------------
def _window_var(y: np.ndarray, window: int, stride: int, nw: int) -> np.ndarray:
    """Variance (ddof 0) of each window of ``y`` (..., n_times) -> (..., nw), float64."""
    if nw == 0:
        return np.empty(y.shape[:-1] + (0,))
    if stride == window:
        v = y[..., : nw * window].reshape(y.shape[:-1] + (nw, window))
        if v.dtype != np.float64:  # one conversion, then both sums on float64 (same values)
            v = v.astype(np.float64)
        s1 = v.sum(-1) / window
        s2 = np.einsum("...i,...i->...", v, v) / window
        return np.maximum(s2 - s1 * s1, 0.0)
    n = (nw - 1) * stride + window
    c1 = np.zeros(y.shape[:-1] + (n + 1,))
    c2 = np.zeros_like(c1)
    np.cumsum(y[..., :n], axis=-1, dtype=np.float64, out=c1[..., 1:])
    np.cumsum(np.square(y[..., :n], dtype=np.float64), axis=-1, out=c2[..., 1:])
    st = np.arange(nw) * stride
    s1 = (c1[..., st + window] - c1[..., st]) / window
    s2 = (c2[..., st + window] - c2[..., st]) / window
    return np.maximum(s2 - s1 * s1, 0.0)


def _window_std(x: np.ndarray, window: int, stride: int, nw: int, scale: float) -> np.ndarray:
    """Std (ddof 0) over channels and samples of each window: (n, c, T) -> (n, nw)."""
    xs = np.multiply(x, scale, dtype=np.float64)
    n = (nw - 1) * stride + window
    c1 = np.zeros((x.shape[0], n + 1))
    c2 = np.zeros_like(c1)
    np.cumsum(xs[..., :n].sum(1), axis=-1, out=c1[:, 1:])
    np.cumsum(np.square(xs[..., :n]).sum(1), axis=-1, out=c2[:, 1:])
    st = np.arange(nw) * stride
    cnt = window * x.shape[1]
    m = (c1[:, st + window] - c1[:, st]) / cnt
    var = (c2[:, st + window] - c2[:, st]) / cnt - m * m
    std = np.sqrt(np.maximum(var, 0.0))
    std[std == 0] = 1.0  # as the RBTransformer code's Normalize does
    return std


# --------------------------------------------------------------------------------------------
# the three modes
# --------------------------------------------------------------------------------------------
def _odd_extend(buf: np.ndarray, pad: int) -> np.ndarray:
    """Fill the ``pad`` first and last samples of ``buf`` (..., T + 2 pad), whose middle holds
    the signal, with its odd extension (as ``scipy.signal.filtfilt`` pads)."""
    if pad:
        x = buf[..., pad:-pad]
        np.subtract(2 * x[..., :1], x[..., pad:0:-1], out=buf[..., :pad])
        np.subtract(2 * x[..., -1:], x[..., -2:-pad - 2:-1], out=buf[..., -pad:])
    return buf


def _var_filter(x, sfreq, p: FeatureParams, scale: float) -> np.ndarray:
    n, c, t = x.shape
    bands = _bands_key(p)
    nb, w, s = len(bands), p.window, p.stride
    nw = n_windows(t, w, s)
    out = np.empty((n, nw, c, nb))
    if p.filter_impl == "sosfiltfilt":
        for sl in _trial_chunks(n, c * t * 8 * 3):
            xc = np.multiply(x[sl], scale, dtype=np.float64)
            for b, (lo, hi) in enumerate(bands):
                y = signal.sosfiltfilt(_design_sos(sfreq, lo, hi, p.order), xc, axis=-1)
                out[sl, :, :, b] = _window_var(y, w, s, nw).transpose(0, 2, 1)
        return out
    pad = min(t - 1, _pad_length(sfreq, bands, p.order))
    nfft = sp_fft.next_fast_len(t + 2 * pad, real=True)
    gain = _zero_phase_gain(sfreq, bands, p.order, nfft)

    def chunk(sl):
        # the odd-extended trial, zero-padded to nfft in place (no copy inside the FFT call)
        ext = np.empty(x[sl].shape[:-1] + (nfft,), np.float32)
        np.multiply(x[sl], scale, out=ext[..., pad:pad + t], casting="same_kind")
        _odd_extend(ext[..., :t + 2 * pad], pad)
        ext[..., t + 2 * pad:] = 0.0
        spec = sp_fft.rfft(ext, axis=-1, workers=1)
        del ext
        filtered = np.empty_like(spec)
        for b in range(nb):
            np.multiply(spec, gain[b], out=filtered)
            y = sp_fft.irfft(filtered, nfft, axis=-1, workers=1)
            out[sl, :, :, b] = _window_var(y[..., pad:pad + t], w, s, nw).transpose(0, 2, 1)

    _for_chunks(chunk, _trial_chunks(n, c * nfft * 4 * 6))
    return out


def _var_fft(x, sfreq, p: FeatureParams, scale: float) -> np.ndarray:
    n, c, t = x.shape
    bands = _bands_key(p)
    w, s = p.window, p.stride
    nw = n_windows(t, w, s)
    taper, weights = _fft_band_weights(sfreq, bands, w, p.taper)
    out = np.empty((n, nw, c, len(bands)))

    def chunk(sl):
        xw = np.multiply(_windows_view(x[sl], w, s), scale, dtype=np.float32)  # (k, c, nw, w)
        xw -= xw.mean(-1, keepdims=True)
        xw *= taper
        spec = sp_fft.rfft(xw, axis=-1, workers=1)
        del xw
        power = np.square(spec.real) + np.square(spec.imag)
        del spec
        out[sl] = (power @ weights).transpose(0, 2, 1, 3)

    with _single_threaded_blas():
        _for_chunks(chunk, _trial_chunks(n, c * nw * w * 4 * 4))
    return out


def _var_window_lfilter(x, sfreq, p: FeatureParams, scale: float) -> np.ndarray:
    n, c, t = x.shape
    bands = _bands_key(p)
    nb, w, s = len(bands), p.window, p.stride
    nw = n_windows(t, w, s)
    blocks = _window_filter_blocks(sfreq, bands, p.order, w)
    out = np.empty((n, nw, c, nb))

    def chunk(sl):
        xw = np.multiply(_windows_view(x[sl], w, s), scale, dtype=np.float64)  # (k, c, nw, w)
        if p.normalize == "window":
            m = xw.mean(axis=(1, 3), keepdims=True)
            sd = xw.std(axis=(1, 3), keepdims=True)
            sd[sd == 0] = 1.0
            xw -= m
            xw /= sd
        rows = xw.reshape(-1, w)
        # one buffer per chunk, filtered in place band after band: no array is allocated (and its
        # pages faulted in) per band, and BLAS gets Fortran-ordered memory it needs not copy
        y = np.empty_like(rows)
        s1, s2 = np.empty(len(rows)), np.empty(len(rows))
        for b, block in enumerate(blocks):
            # rows @ block, with BLAS's triangular product: the block's zero half is skipped
            np.copyto(y, rows)
            yb = linalg.blas.dtrmm(1.0, block, y.T, side=0, lower=0, trans_a=1, overwrite_b=1).T  # y itself
            np.sum(yb, axis=-1, out=s1)
            s1 /= w
            np.einsum("...i,...i->...", yb, yb, out=s2)
            s2 /= w
            out[sl, :, :, b] = np.maximum(s2 - s1 * s1, 0.0).reshape(xw.shape[:-1]).transpose(0, 2, 1)

    with _single_threaded_blas():  # the chunks are the parallel work (BLAS's own threads stall on busy cores)
        _for_chunks(chunk, _trial_chunks(n, c * nw * w * 8 * 3))
    return out


_MODES = {"filter": _var_filter, "fft": _var_fft, "window-lfilter": _var_window_lfilter}


# --------------------------------------------------------------------------------------------
# public
# --------------------------------------------------------------------------------------------
def _check_eeg(x, what="eeg") -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"{what} must have shape (n_trials, n_chans, n_times), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{what} must hold floating-point samples, got dtype {x.dtype}")
    return x


def compute_band_variance(x, sfreq: float, params=None, *, scale: float = 1.0) -> np.ndarray:
    """Band-limited variance of every window, channel and band.

    Parameters
    ----------
    x : ndarray, shape (n_trials, n_chans, n_times)
        Signal (float32 or float64) in any unit; ``scale`` converts it (e.g. 1e6: V -> uV).
    sfreq : float
        Sampling rate in Hz.
    params : FeatureParams | dict | None
        Mode, bands, window/stride, order, taper, normalisation (see
        :class:`~neuroaffect.features.FeatureParams`); resolved for ``sfreq``.
    scale : float
        Factor applied to ``x`` before anything else.

    Returns
    -------
    var : ndarray, shape (n_trials, n_windows, n_chans, n_bands), float64
        Band variance in (unit of ``x`` times ``scale``) squared; with
        ``normalize='window'`` in units of each window's own variance.
    """
    p = FeatureParams.coerce(params).resolve(sfreq)
    x = _check_eeg(x)
    var = _MODES[p.mode](x, float(sfreq), p, float(scale))
    if p.normalize == "window" and p.mode != "window-lfilter":
        nw = var.shape[1]
        if nw:
            std = _window_std(x, p.window, p.stride, nw, float(scale))
            var /= np.square(std)[:, :, None, None]
    return var


def variance_to_de(var, log_base: str = "e") -> np.ndarray:
    """Differential entropy 0.5 log(2 pi e var) of Gaussian signals of variance ``var``.

    Zero variances are clipped to the smallest normal float64 so that DE stays finite.
    """
    factor = FeatureParams(log_base=log_base).log_factor
    var = np.maximum(np.asarray(var, dtype=np.float64), _TINY)
    return 0.5 * np.log(2 * math.pi * math.e * var) * factor


def compute_band_de(x, sfreq: float, params=None, *, scale: float = 1.0) -> np.ndarray:
    """Band differential entropy of every window: :func:`compute_band_variance` then
    :func:`variance_to_de` in ``params.log_base``.

    Returns
    -------
    de : ndarray, shape (n_trials, n_windows, n_chans, n_bands), float64
    """
    p = FeatureParams.coerce(params)
    return variance_to_de(compute_band_variance(x, sfreq, p, scale=scale), p.log_base)


def compute_baseline_variance(baseline, sfreq: float, params=None, *, scale: float = 1.0) -> np.ndarray:
    """Band variance of each trial's baseline, reduced to one segment.

    The baseline's leading whole segments of ``baseline_segment`` samples (1 s by default;
    DEAP: 3, DREAMER: 61) are combined as ``params.baseline_average`` says: ``power``
    averages their band variances, ``samples`` averages the segments sample by sample and
    takes the band variance of that one segment (TorchEEG / RBTransformer).

    Parameters
    ----------
    baseline : ndarray, shape (n_trials, n_chans, n_base)
    sfreq : float
        Sampling rate in Hz.
    params : FeatureParams | dict | None
    scale : float
        Factor applied to ``baseline`` first.

    Returns
    -------
    var : ndarray, shape (n_trials, n_chans, n_bands), float64
    """
    p = FeatureParams.coerce(params).resolve(sfreq)
    base = _check_eeg(baseline, "baseline")
    seg = p.baseline_segment
    n_seg = base.shape[-1] // seg
    if n_seg == 0:
        raise ValueError(
            f"baseline must hold at least one {seg}-sample segment, got {base.shape[-1]} samples"
        )
    base = base[..., : n_seg * seg]

    q = dataclasses.replace(p, window=seg, stride=seg)
    if p.baseline_average == "samples":
        avg = base.reshape(base.shape[:2] + (n_seg, seg)).mean(axis=2)
        return compute_band_variance(avg, sfreq, q, scale=scale)[:, 0]
    return compute_band_variance(base, sfreq, q, scale=scale).mean(axis=1)
