"""RGNN-style model: simple graph convolution over a learnable symmetric electrode graph."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._base import GraphTokenModel, register_model
from .graph import dense_to_edge_index, inverse_square_adjacency, sym_norm_dense

__all__ = ["RGNN"]


@register_model("rgnn")
class RGNN(GraphTokenModel):
    r"""Graph model in the style of RGNN (Zhong et al., 2022), without its two regularisers.

    The adjacency :math:`A` is symmetric by construction: only its lower
    triangle (diagonal included, :math:`C(C+1)/2` numbers) is learnt and mirrored.
    It starts from local inverse-square links plus negative links between
    left/right homologous electrodes
    (:func:`~neuroaffect.models.graph.inverse_square_adjacency`):

    .. math::
        A_{ij} = \min(1, \delta / d_{ij}^2) - \mathbb{1}[(i, j) \text{ homologous}].

    A simple graph convolution (Wu et al., 2019) propagates the tokens ``K`` hops
    and mixes bands linearly; node features are summed over electrodes:

    .. math::
        S = D^{-1/2} A D^{-1/2},\ D_{ii} = \sum_j |A_{ij}|, \qquad
        H = \mathrm{ReLU}(S^K X \Theta + b), \qquad
        z = \sum_c H_c, \qquad \hat y = W\, \mathrm{Drop}(z) + b_W.

    The degree sums absolute weights so that it stays positive although some
    edges are negative (our choice). The parameters :math:`\Theta, b` live in a
    torch-geometric :class:`~torch_geometric.nn.conv.SGConv` (``self.conv``);
    :meth:`graph_conv` evaluates the propagation with dense algebra (used in
    ``forward``, vmap-safe) and :meth:`graph_conv_pyg` runs the ``SGConv``
    module's own message passing with the same normalised weights. For a
    non-negative adjacency the normalisation equals ``SGConv``'s ``gcn_norm``
    (self loops already in :math:`A`), so the dense path equals ``SGConv``
    itself; both facts are tested. Node-wise domain-adversarial training and
    emotion-aware distribution learning of the original paper are not included.

    Defaults: ``K=2`` hops, 64 hidden units, dropout 0.5; :math:`\delta` chosen
    so that 20 % of electrode pairs start above 0.1.

    Parameters
    ----------
    n_chans : int
        Number of electrodes :math:`C`.
    n_bands : int
        Number of band features per node.
    n_outputs : int
        Number of logits.
    ch_pos : array-like or Tensor, shape (n_chans, 3)
        Electrode positions (required; MNE head frame, +x to the right), used to
        initialise :math:`A` and find homologous pairs.
    K : int
        Number of propagation hops.
    hidden : int
        Output width of the graph convolution (and of the pooled embedding).
    dropout : float
        Dropout probability before ``final_layer``.
    delta : float | None
        Calibration constant in squared position units; ``None``: automatic.

    Attributes
    ----------
    num_features, head_hidden_size : int
        Both ``hidden``.

    Shapes:
        - **input:** ``(batch, n_chans, n_bands)``
        - **forward_features:** ``(batch, hidden)``: node features summed over electrodes
        - **forward_head(pre_logits=True):** ``(batch, hidden)``
        - **output:** ``(batch, n_outputs)`` logits

    References
    ----------
    P. Zhong, D. Wang and C. Miao, "EEG-Based Emotion Recognition Using
    Regularized Graph Neural Networks", IEEE Trans. Affective Computing
    13(3), 2022. F. Wu et al., "Simplifying Graph Convolutional
    Networks", ICML 2019.
    """

    def __init__(
        self,
        n_chans: int,
        n_bands: int,
        n_outputs: int,
        *,
        ch_pos=None,
        K: int = 2,
        hidden: int = 64,
        dropout: float = 0.5,
        delta: float | None = None,
    ):
        super().__init__(n_chans, n_bands, n_outputs)
        pos, K, hidden, dropout = self._graph_args(ch_pos, K, hidden, dropout)
        n = self.n_chans
        adj0 = torch.as_tensor(inverse_square_adjacency(pos, delta=delta), dtype=torch.get_default_dtype())
        rows, cols = torch.tril_indices(n, n)
        # tril_index[i, j] = position of (max(i, j), min(i, j)) in the learnt vector
        tril_index = torch.empty(n, n, dtype=torch.long)
        tril_index[rows, cols] = torch.arange(rows.numel())
        tril_index[cols, rows] = torch.arange(rows.numel())
        self.register_buffer("tril_index", tril_index)
        self.register_buffer("adjacency_init", adj0[rows, cols].clone())
        self.adjacency_weight = nn.Parameter(torch.empty(rows.numel()))
        self.conv = self._pyg_conv("SGConv")(self.n_bands, hidden, K=K, add_self_loops=False)
        self._finish_head(hidden, dropout, hidden)

    @property
    def adjacency(self) -> torch.Tensor:
        """Current symmetric adjacency, shape (n_chans, n_chans)."""
        return self.adjacency_weight[self.tril_index]

    def _norm(self) -> torch.Tensor:
        return sym_norm_dense(self.adjacency, degree="abs")

    def graph_conv(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`S^K X \\Theta + b` with dense algebra (vmap-safe); (batch, C, F) -> (batch, C, hidden)."""
        norm = self._norm()
        for _ in range(self.conv.K):
            x = torch.einsum("ij,bif->bjf", norm, x)  # S symmetric: same as S @ x
        return self.conv.lin(x)

    def graph_conv_pyg(self, x: torch.Tensor) -> torch.Tensor:
        """Reference: ``SGConv``'s message passing with the same normalised edge weights."""
        b, n, f = x.shape
        edge_index, edge_weight = dense_to_edge_index(self._norm(), batch_size=b, self_loops=True)
        h = x.reshape(b * n, f)
        for _ in range(self.conv.K):
            h = self.conv.propagate(edge_index, x=h, edge_weight=edge_weight)
        return self.conv.lin(h).reshape(b, n, -1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Rectified node features summed over electrodes, shape (batch, hidden)."""
        self._check_input(x)
        return F.relu(self.graph_conv(x)).sum(dim=1)

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits (batch, n_outputs), or the dropped-out (batch, hidden) embedding if ``pre_logits``."""
        h = self.drop(feats)
        return h if pre_logits else self.final_layer(h)
