"""Argument checks, the model registry and the base class every token model shares.

Every neural model of the package takes the same three named arguments,
``n_chans``, ``n_bands`` and ``n_outputs``, reads band-differential-entropy
tokens of shape ``(batch, n_chans, n_bands)`` (one token per electrode) and
names its classification layer ``final_layer``. Models are looked up by name in
a small registry (``create_model``, ``list_models``, ``register_model``), so the
training layer never imports a model class directly.
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np
import torch
from torch import nn

from .._utils import check_option, check_positive_int

__all__ = [
    "GraphTokenModel",
    "TokenModel",
    "create_model",
    "list_models",
    "model_entrypoint",
    "model_spec",
    "register_model",
]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


# --- argument checks ---------------------------------------------------------------------

def _check_positive_int(name: str, value) -> int:
    """Return ``value`` as ``int`` if it is a positive integer, else raise ``ValueError``."""
    return check_positive_int(name, value)


def _check_probability(name: str, value) -> float:
    """Return ``value`` as ``float`` if it lies in [0, 1), else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(
            f"Invalid value for the {name!r} parameter: expected a probability in [0, 1), "
            f"but got {value!r} instead."
        )
    return float(value)


def _check_positions(ch_pos, n_chans: int) -> np.ndarray:
    """Check electrode positions against ``n_chans``.

    Parameters
    ----------
    ch_pos : array-like or torch.Tensor, shape (n_chans, 3)
        Electrode positions (any unit; MNE head coordinates, metres, with +x
        pointing to the right ear).
    n_chans : int
        Number of electrodes the model was built for.

    Returns
    -------
    pos : ndarray of float64, shape (n_chans, 3)
    """
    if ch_pos is None:
        raise ValueError(
            "Invalid value for the 'ch_pos' parameter: graph models need electrode "
            f"positions of shape ({n_chans}, 3), but got None instead."
        )
    if isinstance(ch_pos, torch.Tensor):
        ch_pos = ch_pos.detach().cpu().numpy()
    try:
        pos = np.asarray(ch_pos, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"Invalid value for the 'ch_pos' parameter: expected a numeric array of shape "
            f"({n_chans}, 3), but got {type(ch_pos).__name__} instead."
        ) from None
    if pos.shape != (n_chans, 3):
        raise ValueError(
            f"Invalid value for the 'ch_pos' parameter: expected shape ({n_chans}, 3) "
            f"to match n_chans={n_chans}, but got shape {pos.shape} instead."
        )
    if not np.all(np.isfinite(pos)):
        raise ValueError(
            "Invalid value for the 'ch_pos' parameter: expected finite positions, but got "
            f"{int((~np.isfinite(pos)).sum())} NaN/Inf value(s) instead."
        )
    return pos


# --- registry ----------------------------------------------------------------------------

def register_model(name: str) -> Callable:
    """Class decorator adding a model to the registry under ``name``.

    Parameters
    ----------
    name : str
        Lower-case registry name, e.g. ``"rbtransformer"``.

    Returns
    -------
    decorator : callable
        Returns the decorated class (or factory) unchanged.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"Invalid value for the 'name' parameter: expected a non-empty str, but got {name!r}.")

    def decorator(obj):
        if name in _REGISTRY and _REGISTRY[name] is not obj:
            raise ValueError(
                f"A model named {name!r} is already registered ({_REGISTRY[name].__name__}); "
                f"cannot register {obj.__name__} under the same name."
            )
        _REGISTRY[name] = obj
        return obj

    return decorator


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_REGISTRY)


def model_entrypoint(name: str) -> Callable[..., nn.Module]:
    """The class (or factory) registered under ``name``.

    Its class attributes tell callers what to feed it: ``requires_ch_pos``
    (graph models need electrode positions) and ``input_kind`` (``"tokens"``
    for ``(batch, n_chans, n_bands)`` inputs, ``"raw"`` for raw windows).
    """
    check_option("name", name, list_models())
    return _REGISTRY[name]


def create_model(name: str, *, n_chans: int, n_bands: int, n_outputs: int, **kwargs) -> nn.Module:
    """Build a registered model.

    Parameters
    ----------
    name : str
        One of :func:`list_models`.
    n_chans : int
        Number of electrodes (tokens per sample).
    n_bands : int
        Number of frequency bands (features per token).
    n_outputs : int
        Number of logits (classes) the head produces.
    **kwargs
        Model-specific options, e.g. ``ch_pos`` for the graph models.

    Returns
    -------
    model : torch.nn.Module
        A freshly initialised model (initialisation follows the global torch seed). Its
        ``model_spec`` attribute records ``name`` and the arguments, so that a checkpoint can
        rebuild it.
    """
    model = model_entrypoint(name)(n_chans=n_chans, n_bands=n_bands, n_outputs=n_outputs, **kwargs)
    # what rebuilds this model later (checkpoints record it; see neuroaffect.training.load_model)
    model.model_spec = {"name": name, "kwargs": {"n_chans": n_chans, "n_bands": n_bands, "n_outputs": n_outputs,
                                                 **kwargs}}
    return model


def model_spec(model: nn.Module) -> dict | None:
    """``{"name", "kwargs"}`` that :func:`create_model` built ``model`` from, or ``None``."""
    return getattr(model, "model_spec", None)


# --- base class --------------------------------------------------------------------------

class TokenModel(nn.Module):
    """Common skeleton of the token models.

    Subclasses build their layers, set ``num_features`` (width of
    :meth:`forward_features`) and ``head_hidden_size`` (width of
    ``forward_head(..., pre_logits=True)``), implement :meth:`forward_features`
    and :meth:`forward_head`, and end ``__init__`` with
    ``self._rewind_rng(); self.reset_parameters()``. Rewinding the torch RNG to
    where construction started makes the initial weights exactly those that
    ``torch.manual_seed(s); model.reset_parameters()`` gives later (e.g. between
    cross-validation folds).

    Parameters
    ----------
    n_chans, n_bands, n_outputs : int
        Positive integers (see :func:`create_model`).
    """

    requires_ch_pos = False
    input_kind = "tokens"

    def __init__(self, n_chans: int, n_bands: int, n_outputs: int):
        super().__init__()
        self.n_chans = _check_positive_int("n_chans", n_chans)
        self.n_bands = _check_positive_int("n_bands", n_bands)
        self.n_outputs = _check_positive_int("n_outputs", n_outputs)
        self._rng_at_init = torch.random.get_rng_state()

    def _rewind_rng(self) -> None:
        """Reset the CPU RNG to its state when ``__init__`` began (layer constructors drew from it)."""
        torch.random.set_rng_state(self.__dict__.pop("_rng_at_init"))

    def _check_input(self, x: torch.Tensor) -> None:
        # Shapes are static Python ints, so this check is safe under torch.vmap
        # (where ``x`` shows its per-model shape) and torch.compile.
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.n_chans, self.n_bands):
            raise ValueError(
                f"{type(self).__name__} expected input of shape (batch, {self.n_chans}, "
                f"{self.n_bands}) (batch, n_chans, n_bands), but got shape {tuple(x.shape)} instead."
            )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, n_outputs), from tokens of shape (batch, n_chans, n_bands)."""
        return self.forward_head(self.forward_features(x))

    def reset_parameters(self) -> None:
        """Re-initialise every parameter (as at construction, drawing from the torch RNG)."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def extra_repr(self) -> str:
        return f"n_chans={self.n_chans}, n_bands={self.n_bands}, n_outputs={self.n_outputs}"


class GraphTokenModel(TokenModel):
    """Common skeleton of the graph token models (DGCNN, RGNN): a learnable electrode graph and a head.

    Subclasses check their arguments with :meth:`_graph_args`, register the buffer ``adjacency_init`` and the
    parameter ``adjacency_weight`` (its learnable form, started from it), build the graph convolution from
    :meth:`_pyg_conv` and end ``__init__`` with :meth:`_finish_head`, which adds ``drop`` and ``final_layer``
    (in that order, after the subclass's own layers, so the parameter order and the ``state_dict`` keys stay
    those of the models' first versions) and draws the initial weights.
    """

    requires_ch_pos = True

    def _graph_args(self, ch_pos, K, hidden, dropout) -> tuple:
        """Checked ``(positions (n_chans, 3), K, hidden, dropout)``."""
        pos = _check_positions(ch_pos, self.n_chans)
        K = _check_positive_int("K", K)
        hidden = _check_positive_int("hidden", hidden)
        dropout = _check_probability("dropout", dropout)
        return pos, K, hidden, dropout

    @staticmethod
    def _pyg_conv(name: str) -> type:
        """The torch-geometric convolution class ``name`` (imported here: torch-geometric is slow to import)."""
        from ._compat import upstream_import_warnings_ignored

        with upstream_import_warnings_ignored():  # torch-geometric's own FutureWarning, see _compat
            import torch_geometric.nn as pyg_nn

        return getattr(pyg_nn, name)

    def _finish_head(self, hidden: int, dropout: float, num_features: int) -> None:
        """Add dropout and ``final_layer`` (hidden -> n_outputs), set the widths, draw the initial weights."""
        self.drop = nn.Dropout(dropout)
        self.final_layer = nn.Linear(hidden, self.n_outputs)
        self.num_features = num_features
        self.head_hidden_size = hidden
        self._rewind_rng()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every layer and restart the learnable graph from ``adjacency_init``."""
        super().reset_parameters()
        with torch.no_grad():
            self.adjacency_weight.copy_(self.adjacency_init)
