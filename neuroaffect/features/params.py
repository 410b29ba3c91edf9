"""Feature parameters: one frozen, hashable record of every choice that shapes the features.

Every output file is keyed on :meth:`FeatureParams.hash` of the *resolved* parameters (window
and stride in samples filled in for the recording's sampling rate), so a changed parameter
always changes the key; nothing is trusted because a file exists.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .._utils import check_option, config_hash

__all__ = [
    "BANDS", "RBT_BANDS", "MODES", "PRESETS", "WINDOW_PRESETS", "FeatureParams",
]

#: Default bands in Hz (theta, alpha, beta, gamma), as an immutable mapping name -> (lo, hi).
BANDS = MappingProxyType({
    "theta": (4.0, 8.0), "alpha": (8.0, 14.0), "beta": (14.0, 31.0), "gamma": (31.0, 45.0),
})
#: The bands of the RBTransformer / TorchEEG code (gamma up to 49 Hz).
RBT_BANDS = MappingProxyType({
    "theta": (4.0, 8.0), "alpha": (8.0, 14.0), "beta": (14.0, 31.0), "gamma": (31.0, 49.0),
})
#: Band-DE estimators, see :func:`neuroaffect.features.compute_band_variance`.
MODES = ("filter", "fft", "window-lfilter")
#: Named (window, stride) pairs in samples; ``None`` = one second at the recording's rate.
WINDOW_PRESETS = MappingProxyType({
    "1s": (None, None),
    "rbtransformer": (512, 117),
})
#: Named parameter sets. ``rbtransformer`` reproduces the feature values of the
#: RBTransformer code (TorchEEG's ``BandDifferentialEntropy`` after a per-window z-score).
PRESETS = MappingProxyType({
    "default": MappingProxyType({}),
    "rbtransformer": MappingProxyType({
        "window": 512, "stride": 117, "mode": "window-lfilter", "log_base": "2",
        "bands": RBT_BANDS, "normalize": "window", "baseline_average": "samples",
    }),
})
_LOG_BASES = {"e": math.e, "2": 2.0, "10": 10.0}
_DEFAULT_ORDER = {"filter": 4, "window-lfilter": 5, "fft": None}


def _freeze_bands(bands) -> MappingProxyType:
    if isinstance(bands, str):
        raise TypeError(f"bands must be a mapping name -> (lo, hi) in Hz, got the string {bands!r}")
    items = bands.items() if isinstance(bands, Mapping) else bands
    out = {}
    try:
        for item in items:
            if isinstance(bands, Mapping):
                name, (lo, hi) = item
            else:  # [name, lo, hi] rows, as written by to_dict()
                name, lo, hi = item
            out[str(name)] = (float(lo), float(hi))
    except (TypeError, ValueError):
        raise TypeError(
            f"bands must be a mapping name -> (lo, hi) in Hz or rows [name, lo, hi], got {bands!r}"
        ) from None
    if not out:
        raise ValueError("bands must hold at least one band, got none")
    for name, (lo, hi) in out.items():
        if not (0.0 < lo < hi) or not math.isfinite(hi):
            raise ValueError(f"band {name!r} must satisfy 0 < lo < hi (Hz), got ({lo}, {hi})")
    return MappingProxyType(out)


def _positive_int(name: str, value, allow_none: bool = True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        isinstance(value, float) and value.is_integer()
    ):
        raise TypeError(f"{name} must be a positive integer (samples), got {value!r}")
    value = int(value)
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer (samples), got {value}")
    return value


@dataclass(frozen=True)
class FeatureParams:
    """Every parameter of feature extraction (immutable, hashable, JSON round-trip).

    Parameters
    ----------
    window : int | str | None
        Window length in samples, a name from :data:`WINDOW_PRESETS` (``"rbtransformer"``
        = 512 samples with stride 117) or None for one second at the recording's rate.
    stride : int | None
        Step between window starts in samples; None = ``window`` (no overlap).
    bands : mapping of str -> (float, float)
        Band name -> (lo, hi) in Hz, stored as an immutable mapping (order is kept).
    mode : {'filter', 'fft', 'window-lfilter'}
        ``filter``: zero-phase Butterworth over the whole trial, then per-window variance.
        ``fft``: Parseval-scaled band power of each (tapered) window's spectrum.
        ``window-lfilter``: Butterworth run causally from rest inside each window (TorchEEG).
    log_base : {'e', '2', '10'}
        Base of the logarithm in DE = 0.5 log(2 pi e var) (TorchEEG uses 2).
    order : int | None
        Butterworth order; None = 4 for ``filter`` (8 after the forward-backward pass),
        5 for ``window-lfilter`` (TorchEEG's); unused by ``fft``.
    filter_impl : {'fft', 'sosfiltfilt'}
        How ``filter`` mode applies the zero-phase filter: its squared SOS magnitude
        response in the frequency domain over the odd-extended trial (fast), or
        ``scipy.signal.sosfiltfilt`` (reference). They agree away from the trial edges.
    taper : {'hann', 'boxcar'}
        Window function of ``fft`` mode.
    normalize : {'off', 'window'}
        ``window`` z-scores each window over all channels and samples before the band DE
        (the RBTransformer code's ``Normalize``); the baseline segment likewise.
    baseline : {'subtract', 'off'}
        Subtract the baseline's band DE from every window's band DE (when the recording
        has a baseline; the output's ``baseline_applied`` attribute says whether it did).
    baseline_average : {'power', 'samples'}
        How the baseline's 1-s segments become one: ``power`` averages their band variances;
        ``samples`` averages the segments sample by sample first (TorchEEG / RBTransformer).
    baseline_segment : int | None
        Baseline segment length in samples; None = one second.
    topo : bool
        Compute topographic maps.
    topo_size : int | (int, int)
        Map height and width in pixels.
    topo_interp : {'cubic', 'linear'}
        Interpolant of the maps (``cubic`` = Clough-Tocher, MNE's default).
    outside : {'zero', 'nan'}
        Value of map pixels outside the head.
    physio : bool
        Compute physiological features when the recording has peripheral signals.
    physio_context : float
        Seconds around each window's centre over which event-based physiological features
        (HRV, skin-conductance response count) are computed.
    scale_uv : bool
        Compute DE on microvolt values (as TorchEEG does on DEAP's microvolt data).
    raw : bool
        Also store the raw windows (µV, the same windows as the band DE) for raw-signal models
        such as EEGNet (:func:`~neuroaffect.features.raw.extract_raw_windows`); baseline-corrected
        by the baseline's per-channel mean when ``baseline="subtract"`` and the recording has one.
    raw_band : (float, float) | None
        Zero-phase Butterworth band-pass of the raw windows in Hz (``None``: unfiltered).
        ``raw`` and ``raw_band`` enter the parameter hash only when ``raw`` is on.
    """

    window: int | str | None = None
    stride: int | None = None
    bands: Mapping[str, tuple] = field(default_factory=lambda: BANDS)
    mode: str = "filter"
    log_base: str = "e"
    order: int | None = None
    filter_impl: str = "fft"
    taper: str = "hann"
    normalize: str = "off"
    baseline: str = "subtract"
    baseline_average: str = "power"
    baseline_segment: int | None = None
    topo: bool = True
    topo_size: int | tuple = 32
    topo_interp: str = "cubic"
    outside: str = "zero"
    physio: bool = True
    physio_context: float = 10.0
    scale_uv: bool = True
    raw: bool = False
    raw_band: tuple | None = (1.0, 45.0)

    def __post_init__(self):
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen dataclass)
        window, stride = self.window, self.stride
        if isinstance(window, str):
            check_option("window", window, WINDOW_PRESETS)
            window, preset_stride = WINDOW_PRESETS[window]
            stride = preset_stride if stride is None else stride
        put("window", _positive_int("window", window))
        put("stride", _positive_int("stride", stride))
        put("bands", _freeze_bands(self.bands))
        check_option("mode", self.mode, MODES)
        base = "e" if self.log_base is None else str(self.log_base)
        base = {"2.0": "2", "10.0": "10", str(math.e): "e"}.get(base, base)
        check_option("log_base", base, _LOG_BASES)
        put("log_base", base)
        order = _DEFAULT_ORDER[self.mode] if self.order is None else self.order
        if self.mode == "fft":
            order = None  # unused: keep it out of the hash
        else:
            order = _positive_int("order", order, allow_none=False)
        put("order", order)
        check_option("filter_impl", self.filter_impl, ("fft", "sosfiltfilt"))
        check_option("taper", self.taper, ("hann", "boxcar"))
        check_option("normalize", self.normalize, ("off", "window"))
        check_option("baseline", self.baseline, ("subtract", "off"))
        check_option("baseline_average", self.baseline_average, ("power", "samples"))
        put("baseline_segment", _positive_int("baseline_segment", self.baseline_segment))
        if self.raw_band is not None:
            try:
                lo, hi = (float(v) for v in self.raw_band)
            except (TypeError, ValueError):
                raise ValueError(f"Invalid value for the 'raw_band' parameter: expected (low, high) in Hz or None, "
                                 f"but got {self.raw_band!r} instead.") from None
            if not 0 < lo < hi:
                raise ValueError(f"Invalid value for the 'raw_band' parameter: expected 0 < low < high, but got "
                                 f"{self.raw_band!r} instead.")
            put("raw_band", (lo, hi))
        for k in ("topo", "physio", "scale_uv", "raw"):
            v = getattr(self, k)
            if not isinstance(v, bool):
                raise TypeError(f"{k} must be True or False, got {v!r}")
        size = self.topo_size
        size = (size, size) if isinstance(size, (int, float)) and not isinstance(size, bool) else size
        try:
            size = tuple(_positive_int("topo_size", s, allow_none=False) for s in size)
        except TypeError:
            raise TypeError(f"topo_size must be an int or (height, width), got {self.topo_size!r}") from None
        if len(size) != 2 or min(size) < 2:
            raise ValueError(f"topo_size must be (height, width) with sides >= 2, got {self.topo_size!r}")
        put("topo_size", size)
        check_option("topo_interp", self.topo_interp, ("cubic", "linear"))
        check_option("outside", self.outside, ("zero", "nan"))
        ctx = float(self.physio_context)
        if not ctx > 0 or not math.isfinite(ctx):
            raise ValueError(f"physio_context must be a positive number of seconds, got {self.physio_context!r}")
        put("physio_context", ctx)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | None = None) -> "FeatureParams":
        """Build from a plain config mapping; ``preset`` names a :data:`PRESETS` entry that
        the other keys override. Unknown keys raise ``ValueError``."""
        cfg = dict(cfg or {})
        preset = cfg.pop("preset", "default")
        check_option("preset", preset, PRESETS)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(cfg) - names)
        if unknown:
            raise ValueError(
                f"Unknown feature parameter(s) {unknown}; allowed are {sorted(names | {'preset'})}"
            )
        merged = {**PRESETS[preset], **cfg}
        return cls(**merged)

    @classmethod
    def preset(cls, name: str, **overrides) -> "FeatureParams":
        """A named parameter set (see :data:`PRESETS`) with ``overrides``."""
        return cls.from_dict({"preset": name, **overrides})

    @classmethod
    def coerce(cls, params) -> "FeatureParams":
        """Accept a :class:`FeatureParams`, a config mapping or None (defaults)."""
        if isinstance(params, cls):
            return params
        if params is None or isinstance(params, Mapping):
            return cls.from_dict(params)
        raise TypeError(f"params must be a FeatureParams or a mapping, got {type(params).__name__}")

    # -- derived ---------------------------------------------------------------------------
    def resolve(self, sfreq: float) -> "FeatureParams":
        """Fill in window, stride and baseline segment (samples) for ``sfreq`` (Hz), and check
        that every band lies below the Nyquist frequency."""
        sfreq = float(sfreq)
        if not sfreq > 0:
            raise ValueError(f"sfreq must be positive, got {sfreq}")
        one_s = int(round(sfreq))
        window = self.window or one_s
        nyq = sfreq / 2.0
        for name, (lo, hi) in self.bands.items():
            if hi >= nyq:
                raise ValueError(
                    f"band {name!r} ({lo}-{hi} Hz) must lie below the Nyquist frequency "
                    f"{nyq} Hz of a {sfreq} Hz recording"
                )
        return dataclasses.replace(
            self, window=window, stride=self.stride or window,
            baseline_segment=self.baseline_segment or one_s,
        )

    @property
    def band_names(self) -> tuple:
        return tuple(self.bands)

    @property
    def log_factor(self) -> float:
        """1 / ln(base): multiply natural-log DE by this."""
        return 1.0 / math.log(_LOG_BASES[self.log_base])

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dict; ``from_dict(to_dict())`` gives back an equal object.
        Bands become rows ``[name, lo, hi]`` so that their order survives key sorting."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["bands"] = [[k, lo, hi] for k, (lo, hi) in self.bands.items()]
        out["topo_size"] = list(self.topo_size)
        if self.raw:
            out["raw_band"] = None if self.raw_band is None else list(self.raw_band)
        else:  # off: keep the hash of earlier parameter sets
            del out["raw"], out["raw_band"]
        return out

    def hash(self) -> str:
        """sha256 of :meth:`to_dict` (stable across processes and key order)."""
        return config_hash(self.to_dict())

    def __hash__(self):
        return hash(json.dumps(self.to_dict(), sort_keys=True))
