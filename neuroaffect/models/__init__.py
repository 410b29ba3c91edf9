"""Models over band-differential-entropy tokens, and the baselines set beside them.

Every token model is built as ``Model(n_chans, n_bands, n_outputs, **kwargs)``,
reads tokens of shape ``(batch, n_chans, n_bands)``, names its classifier
``final_layer`` and splits its forward pass into ``forward_features(x)`` and
``forward_head(feats, pre_logits=False)``. Models are created by name:

>>> from neuroaffect.models import create_model, list_models
>>> list_models()  # with braindecode installed
['dgcnn', 'eegnet', 'rbtransformer', 'rgnn', 'shallowfbcspnet']
>>> model = create_model("rbtransformer", n_chans=32, n_bands=4, n_outputs=2)

The topomap teacher (``topoteacher``, ``input_kind == "maps"``) reads band-wise scalp maps
``(batch, n_bands, size, size)`` and regresses valence and arousal; its penultimate layer is the
embedding the prototype grid is made of.

The raw-signal baselines (``model_entrypoint(name).input_kind == "raw"``:
braindecode's EEGNet and ShallowFBCSPNet) read windows of shape
``(batch, n_chans, n_times)`` instead, need ``n_times`` and ignore ``n_bands``:
``create_model("eegnet", n_chans=32, n_bands=4, n_outputs=2, n_times=128)``.

Graph models (``model_entrypoint(name).requires_ch_pos``) also need electrode
positions, ``ch_pos`` of shape ``(n_chans, 3)``, passed in by the caller: this
package never reads files and never imports MNE.
"""

from ._base import TokenModel, create_model, list_models, model_entrypoint, model_spec, register_model
from .baselines import EEGNetBaseline, LogisticTokens, MajorityClassifier, RawBaseline, ShallowFBCSPNetBaseline
from .batched import stack_models
from .dgcnn import DGCNN
from .graph import find_homologous_pairs, gaussian_knn_adjacency, inverse_square_adjacency
from .rbtransformer import RBTransformer
from .rgnn import RGNN
from .teacher import TopoTeacher

__all__ = [
    "DGCNN",
    "EEGNetBaseline",
    "LogisticTokens",
    "MajorityClassifier",
    "RBTransformer",
    "RGNN",
    "RawBaseline",
    "ShallowFBCSPNetBaseline",
    "TokenModel",
    "TopoTeacher",
    "create_model",
    "find_homologous_pairs",
    "gaussian_knn_adjacency",
    "inverse_square_adjacency",
    "list_models",
    "model_entrypoint",
    "model_spec",
    "register_model",
    "stack_models",
]
