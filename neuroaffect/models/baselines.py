"""Baselines every result table sets beside the neural models.

- :class:`MajorityClassifier`: always predicts the most frequent training class.
- :class:`LogisticTokens`: standardised logistic regression on flattened DE tokens.
- :class:`EEGNetBaseline` (``"eegnet"``) and :class:`ShallowFBCSPNetBaseline`
  (``"shallowfbcspnet"``): braindecode's EEGNet and ShallowFBCSPNet on raw
  windows (``input_kind = "raw"``, input ``(batch, n_chans, n_times)``). They
  are registered only when braindecode is installed, and braindecode (which
  imports MNE) is imported only when a model is built.

The first two follow the scikit-learn estimator API (``fit`` / ``predict`` /
``predict_proba`` / ``score``) and are deterministic.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn.utils import parametrize

from ._base import _check_positive_int, register_model
from ._compat import upstream_import_warnings_ignored

__all__ = ["EEGNetBaseline", "LogisticTokens", "MajorityClassifier", "RawBaseline", "ShallowFBCSPNetBaseline"]


def _check_xy(X, y=None):
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(
            f"Invalid value for the 'X' parameter: expected an array of shape (n_samples, ...), "
            f"but got shape {X.shape} instead."
        )
    if y is None:
        return X
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"Invalid value for the 'y' parameter: expected shape ({X.shape[0]},) to match X, "
            f"but got shape {y.shape} instead."
        )
    if y.size == 0:
        raise ValueError("Invalid value for the 'y' parameter: expected at least one sample, but got none.")
    return X, y


class MajorityClassifier(ClassifierMixin, BaseEstimator):
    """Predict the most frequent training class; probabilities are the training class frequencies.

    Ties go to the smallest label (``np.unique`` order), so the result is
    deterministic.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        Sorted training labels.
    class_prior_ : ndarray, shape (n_classes,)
        Training frequency of each class.
    majority_ : scalar
        The predicted class.
    """

    def fit(self, X, y):
        """Count classes in ``y`` (shape (n_samples,)); ``X`` only fixes the sample count."""
        X, y = _check_xy(X, y)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.class_prior_ = counts / counts.sum()
        self.majority_ = self.classes_[int(np.argmax(counts))]
        return self

    def predict(self, X):
        """The majority class for every sample: shape (n_samples,)."""
        check_is_fitted(self, "majority_")
        X = _check_xy(X)
        return np.full(X.shape[0], self.majority_, dtype=self.classes_.dtype)

    def predict_proba(self, X):
        """Training class frequencies for every sample: shape (n_samples, n_classes)."""
        check_is_fitted(self, "class_prior_")
        X = _check_xy(X)
        return np.tile(self.class_prior_, (X.shape[0], 1))


class LogisticTokens(ClassifierMixin, BaseEstimator):
    """L2-regularised logistic regression on flattened, standardised tokens.

    ``X`` of shape ``(n_samples, n_chans, n_bands)`` (or any trailing shape) is
    flattened to ``(n_samples, n_chans * n_bands)``, z-scored per feature with
    statistics of the training set, and fed to scikit-learn's
    ``LogisticRegression`` (L-BFGS, deterministic).

    Parameters
    ----------
    C : float
        Inverse regularisation strength.
    max_iter : int
        L-BFGS iteration limit.
    class_weight : dict | "balanced" | None
        Passed to ``LogisticRegression``.

    Attributes
    ----------
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted ``StandardScaler`` + ``LogisticRegression``.
    classes_ : ndarray, shape (n_classes,)
    """

    def __init__(self, C: float = 1.0, max_iter: int = 1000, class_weight=None):
        self.C = C
        self.max_iter = max_iter
        self.class_weight = class_weight

    @staticmethod
    def _flatten(X):
        X = _check_xy(X)
        return X.reshape(X.shape[0], -1)

    def fit(self, X, y):
        """Fit on tokens ``X`` (n_samples, ...) and labels ``y`` (n_samples,)."""
        X, y = _check_xy(X, y)
        self.pipeline_ = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight=self.class_weight),
        )
        self.pipeline_.fit(X.reshape(X.shape[0], -1), y)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict(self, X):
        """Predicted labels, shape (n_samples,)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(self._flatten(X))

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(self._flatten(X))

    def decision_function(self, X):
        """Logits (n_samples, n_classes) or, for two classes, (n_samples,)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.decision_function(self._flatten(X))


# --- raw-signal baselines from braindecode ------------------------------------------------

# braindecode 1.8.1's EEGNet warns on its own default head (``final_layer_with_constraint=False``)
# and names a replacement argument that 1.8.1 does not accept yet; there is nothing to act on.
_EEGNET_HEAD_WARNING = r"Parameter 'final_layer_with_constraint=False' is deprecated"


def _braindecode_class(names: tuple) -> type:
    """Import ``braindecode.models`` (and with it MNE) and return the first of its classes ``names``."""
    try:
        with upstream_import_warnings_ignored():
            models = importlib.import_module("braindecode.models")
    except ImportError as err:
        raise ImportError(
            f"The {names[0]} baseline needs braindecode (pip install 'neuroaffect[braindecode]', or "
            f"`make install` for the pinned environment), which could not be imported: {err}"
        ) from err
    for name in names:
        if hasattr(models, name):
            return getattr(models, name)
    raise ImportError(f"braindecode.models has none of {list(names)}: this braindecode version is not supported.")


class _MaxNorm(nn.Module):
    r"""Max-norm weight parametrisation written with elementwise operations.

    Equals braindecode's ``MaxNormParametrize`` (``w.renorm(2, 0, max_norm)``), value
    and gradient: every slice ``w[i]`` whose L2 norm exceeds ``max_norm`` is scaled
    by ``max_norm / (norm + 1e-7)``. ``torch.vmap`` has no batching rule for
    ``renorm`` (it falls back to a slow loop over the stacked models, with a
    warning); this form needs none.
    """

    def __init__(self, max_norm: float):
        super().__init__()
        self.max_norm = max_norm

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        norm = torch.linalg.vector_norm(w, dim=tuple(range(1, w.ndim)), keepdim=True)
        return w * torch.where(norm > self.max_norm, self.max_norm / (norm + 1e-7), torch.ones_like(norm))


class RawBaseline(nn.Module):
    """A braindecode network on raw EEG windows, behind the package's model contract.

    Subclasses name the braindecode class in ``_braindecode_names`` (the first
    that the installed braindecode has is used). The network is
    built by braindecode itself, with braindecode's defaults and initialisation;
    its layers become this module's children under braindecode's names, so that
    parameter names, state dicts and parameter counts equal those of the
    braindecode model (``model.load_state_dict(net.state_dict())`` works both
    ways) and the classifier is ``final_layer``. The one change: max-norm weight
    constraints are evaluated by :class:`_MaxNorm` (same values and gradients),
    so that the model runs under ``torch.vmap``.

    braindecode (which imports MNE) is imported when a model is built, never by
    ``import neuroaffect.models``.

    Batched training: the networks batch-normalise. In training mode batch norm
    updates its running statistics in place; under ``torch.vmap`` over
    :func:`torch.func.functional_call` this works when the buffers are stacked
    like the parameters (as :func:`~neuroaffect.models.stack_models` does): each
    model's slice of the stacked buffers receives exactly the update a separate
    training step of that model makes. With buffers passed unbatched
    (``in_dims=None``) torch refuses the in-place update.

    Parameters
    ----------
    n_chans : int
        Number of EEG channels.
    n_outputs : int
        Number of logits.
    n_times : int
        Samples per window (required; braindecode sizes the classifier from it).
    n_bands : int | None
        Ignored: raw windows carry no bands. Accepted so that
        ``create_model(name, n_chans=..., n_bands=..., n_outputs=..., n_times=...)``
        builds every registered model.
    **kwargs
        Passed to the braindecode class (e.g. ``drop_prob``).

    Attributes
    ----------
    feature_shape : tuple of int
        Shape of one sample's feature map, the input of ``final_layer``.
    num_features, head_hidden_size : int
        Both ``prod(feature_shape)``: the width of :meth:`forward_features` and of
        ``forward_head(..., pre_logits=True)``.

    Shapes:
        - **input:** ``(batch, n_chans, n_times)``, raw EEG (e.g. in µV, see
          :func:`neuroaffect.features.raw.extract_raw_windows`)
        - **forward_features:** ``(batch, num_features)``, the flattened feature map
        - **output:** ``(batch, n_outputs)`` logits
    """

    requires_ch_pos = False
    input_kind = "raw"
    _braindecode_names: tuple = ()

    def __init__(self, n_chans: int, n_outputs: int, n_times: int | None = None, *, n_bands: int | None = None,
                 **kwargs):
        super().__init__()
        self.n_chans = _check_positive_int("n_chans", n_chans)
        self.n_outputs = _check_positive_int("n_outputs", n_outputs)
        if n_times is None:
            raise ValueError(
                f"Invalid value for the 'n_times' parameter: {type(self).__name__} reads raw windows and needs "
                "their length in samples, but got None instead."
            )
        self.n_times = _check_positive_int("n_times", n_times)
        self._net_kwargs = dict(kwargs)
        net = self._build()
        if list(net._modules)[-1:] != ["final_layer"]:
            raise RuntimeError(
                f"braindecode's {type(net).__name__} does not end with 'final_layer' "
                f"(its layers: {list(net._modules)}); this braindecode version is not supported."
            )
        for name, module in net.named_children():
            self.add_module(name, module)
        was_training = self.training
        self.eval()  # no dropout, no batch-norm update: nothing drawn from the RNG, no state changed
        with torch.no_grad():
            feats = self._features(torch.zeros(1, self.n_chans, self.n_times))
        self.train(was_training)
        self.feature_shape = tuple(feats.shape[1:])
        self.num_features = int(feats[0].numel())
        self.head_hidden_size = self.num_features

    def _build(self) -> nn.Module:
        """A new braindecode network (drawing its initial weights from the torch RNG)."""
        cls = _braindecode_class(self._braindecode_names)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_EEGNET_HEAD_WARNING, category=DeprecationWarning)
            net = cls(n_chans=self.n_chans, n_outputs=self.n_outputs, n_times=self.n_times, **self._net_kwargs)
        for module in net.modules():
            if parametrize.is_parametrized(module):
                for plist in module.parametrizations.values():
                    for i, p in enumerate(plist):
                        if type(p).__name__ == "MaxNormParametrize":
                            plist[i] = _MaxNorm(p.max_norm)
        return net

    def reset_parameters(self) -> None:
        """Re-initialise parameters and buffers as braindecode does (drawing from the torch RNG).

        ``torch.manual_seed(s); model.reset_parameters()`` gives the state that
        building the model right after ``torch.manual_seed(s)`` gives.
        """
        self.load_state_dict(self._build().state_dict())

    def _check_input(self, x: torch.Tensor) -> None:
        # static shapes: safe under torch.vmap
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.n_chans, self.n_times):
            raise ValueError(
                f"{type(self).__name__} expected input of shape (batch, {self.n_chans}, {self.n_times}) "
                f"(batch, n_chans, n_times), but got shape {tuple(x.shape)} instead."
            )

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        for name, module in self.named_children():
            if name == "final_layer":
                break
            x = module(x)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened feature map before ``final_layer``: (batch, n_chans, n_times) -> (batch, num_features)."""
        self._check_input(x)
        return self._features(x).flatten(1)

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits (batch, n_outputs) from flattened features (batch, num_features).

        With ``pre_logits`` the features are returned unchanged; ``final_layer``
        itself reads them reshaped to ``(batch, *feature_shape)``.
        """
        if pre_logits:
            return feats
        return self.final_layer(feats.unflatten(1, self.feature_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, n_outputs), from raw windows of shape (batch, n_chans, n_times)."""
        return self.forward_head(self.forward_features(x))

    def extra_repr(self) -> str:
        return f"n_chans={self.n_chans}, n_outputs={self.n_outputs}, n_times={self.n_times}"


class EEGNetBaseline(RawBaseline):
    """EEGNet (Lawhern et al., 2018) on raw EEG windows: braindecode's ``EEGNet``.

    A compact CNN: a temporal convolution (``F1`` filters), a depthwise spatial
    convolution under a max-norm constraint (depth multiplier ``D``), a separable
    convolution (``F2`` filters) and a convolutional classifier
    (``final_layer``), with batch normalisation, ELU, average pooling and
    dropout. All defaults are braindecode's (``F1=8, D=2, kernel_length=64,
    drop_prob=0.25``). Registered as ``"eegnet"``; see :class:`RawBaseline` for
    the arguments, shapes and batched training.

    References
    ----------
    V. J. Lawhern et al., "EEGNet: a compact convolutional neural network for
    EEG-based brain-computer interfaces", J. Neural Eng. 15:056013, 2018.
    """

    _braindecode_names = ("EEGNet", "EEGNetv4")  # braindecode 1.0 names it EEGNetv4


class ShallowFBCSPNetBaseline(RawBaseline):
    """Shallow ConvNet (Schirrmeister et al., 2017) on raw EEG windows: braindecode's ``ShallowFBCSPNet``.

    A temporal then a spatial convolution (40 filters each, kernel 25 samples),
    batch normalisation, squaring, mean pooling (75 samples, stride 15), log and
    dropout, then a convolutional classifier (``final_layer``): a learnt
    filter-bank common-spatial-pattern pipeline. All defaults are braindecode's;
    windows need at least ``25 + 75 - 1 = 99`` samples. Registered as
    ``"shallowfbcspnet"``; see :class:`RawBaseline` for the arguments, shapes and
    batched training.

    References
    ----------
    R. T. Schirrmeister et al., "Deep learning with convolutional neural networks
    for EEG decoding and visualization", Human Brain Mapping 38(11):5391-5420, 2017.
    """

    _braindecode_names = ("ShallowFBCSPNet",)


if importlib.util.find_spec("braindecode") is not None:  # registration without importing it
    register_model("eegnet")(EEGNetBaseline)
    register_model("shallowfbcspnet")(ShallowFBCSPNetBaseline)
