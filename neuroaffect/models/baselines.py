"""Baselines every result table sets beside the neural models.

- :class:`MajorityClassifier`: always predicts the most frequent training class.
- :class:`LogisticTokens`: standardised logistic regression on flattened DE tokens.
- :class:`EEGNetBaseline`: braindecode's EEGNet on raw windows; registered as
  ``"eegnet"`` only when braindecode is installed, and braindecode (which
  imports MNE) is imported only when the model is built.

The first two follow the scikit-learn estimator API (``fit`` / ``predict`` /
``predict_proba`` / ``score``) and are deterministic.
"""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._base import _check_positive_int, register_model

__all__ = ["EEGNetBaseline", "LogisticTokens", "MajorityClassifier"]


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


def _braindecode_eegnet_class():
    try:
        models = importlib.import_module("braindecode.models")
    except ImportError as err:
        raise ImportError(
            "EEGNetBaseline needs braindecode (pip install 'neuroaffect[braindecode]'), "
            f"which could not be imported: {err}"
        ) from err
    cls = getattr(models, "EEGNet", None) or getattr(models, "EEGNetv4", None)
    if cls is None:
        raise ImportError("braindecode.models has neither EEGNet nor EEGNetv4.")
    return cls


class EEGNetBaseline(nn.Module):
    """EEGNet (Lawhern et al., 2018) on raw EEG windows, from braindecode.

    A compact CNN: a temporal convolution (``F1`` filters), a depthwise spatial
    convolution (depth multiplier ``D``), a separable convolution (``F2``
    filters) and a linear classifier, with batch normalisation, ELU, average
    pooling and dropout. All defaults are braindecode's.

    Unlike the token models, it reads raw windows; ``n_bands`` is accepted so
    that every registered model shares one signature, and is ignored.

    Parameters
    ----------
    n_chans : int
        Number of EEG channels.
    n_bands : int
        Ignored (raw windows carry no bands).
    n_outputs : int
        Number of logits.
    n_times : int
        Samples per window (required).
    **kwargs
        Passed to braindecode's ``EEGNet`` (e.g. ``drop_prob``, ``F1``, ``D``).

    Shapes:
        - **input:** ``(batch, n_chans, n_times)`` volts or standardised units
        - **output:** ``(batch, n_outputs)`` logits

    References
    ----------
    V. J. Lawhern et al., "EEGNet: a compact convolutional neural network for
    EEG-based brain-computer interfaces", J. Neural Eng. 15:056013, 2018.
    """

    requires_ch_pos = False
    input_kind = "raw"

    def __init__(self, n_chans: int, n_bands: int, n_outputs: int, *, n_times: int | None = None, **kwargs):
        super().__init__()
        self.n_chans = _check_positive_int("n_chans", n_chans)
        self.n_bands = _check_positive_int("n_bands", n_bands)
        self.n_outputs = _check_positive_int("n_outputs", n_outputs)
        if n_times is None:
            raise ValueError("Invalid value for the 'n_times' parameter: EEGNet needs the window length in samples, but got None.")
        self.n_times = _check_positive_int("n_times", n_times)
        self._net_kwargs = dict(kwargs)
        self.net = self._build()

    def _build(self) -> nn.Module:
        cls = _braindecode_eegnet_class()
        return cls(n_chans=self.n_chans, n_outputs=self.n_outputs, n_times=self.n_times, **self._net_kwargs)

    @property
    def final_layer(self) -> nn.Module:
        """braindecode's classification layer (same module, not a copy)."""
        return self.net.final_layer

    def reset_parameters(self) -> None:
        """Rebuild the network, so that braindecode's own initialisation applies again."""
        self.net = self._build()

    def forward(self, x):
        """Logits (batch, n_outputs) from raw windows (batch, n_chans, n_times)."""
        return self.net(x)


if importlib.util.find_spec("braindecode") is not None:  # registration without importing it
    register_model("eegnet")(EEGNetBaseline)
