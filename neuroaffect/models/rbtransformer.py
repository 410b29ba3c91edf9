"""RBTransformer: self-attention across electrodes over band-differential-entropy tokens."""

from __future__ import annotations

import torch
from torch import nn

from ._base import TokenModel, _check_positive_int, _check_probability, register_model

__all__ = ["RBTransformer", "InterCorticalAttention", "InterCorticalBlock"]


class InterCorticalAttention(nn.Module):
    r"""Multi-head self-attention over electrodes.

    .. math::
        [Q, K, V] = H W_{qkv}, \qquad
        \mathrm{head}_h = \mathrm{softmax}\!\left(Q_h K_h^\top / \sqrt{d_h}\right) V_h, \qquad
        \mathrm{out} = [\mathrm{head}_1, \dots, \mathrm{head}_{n_h}]\, W_o + b_o

    :math:`W_{qkv}` has no bias; dropout acts on the attention weights and on the
    output. The attention matrix is ``n_chans x n_chans``: every electrode
    attends to every other.

    Parameters
    ----------
    embed_dim : int
        Token width :math:`d`.
    n_heads : int
        Number of heads :math:`n_h`.
    head_dim : int
        Width per head :math:`d_h` (inner width ``n_heads * head_dim``).
    dropout : float
        Dropout probability.

    Shapes:
        - **input:** ``(batch, n_chans, embed_dim)``
        - **output:** ``(batch, n_chans, embed_dim)``
    """

    def __init__(self, embed_dim: int, n_heads: int, head_dim: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = head_dim
        self.scale = head_dim ** -0.5
        inner = n_heads * head_dim
        self.qkv = nn.Linear(embed_dim, 3 * inner, bias=False)
        self.attn_drop = nn.Dropout(dropout)
        self.proj = nn.Linear(inner, embed_dim)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        # (b, n, 3, h, d) -> three tensors of shape (b, h, n, d)
        q, k, v = self.qkv(x).reshape(b, n, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        out = self.attn_drop(attn) @ v  # (b, h, n, d)
        out = out.transpose(1, 2).reshape(b, n, self.n_heads * self.head_dim)
        return self.proj_drop(self.proj(out))


class InterCorticalBlock(nn.Module):
    r"""Pre-norm transformer block: attention over electrodes, then a GELU feed-forward.

    .. math::
        H' = H + \mathrm{Attn}(\mathrm{LN}_1(H)), \qquad
        H'' = H' + W_2\, \mathrm{Drop}(\mathrm{GELU}(W_1 \mathrm{LN}_2(H') + b_1)) + b_2

    with dropout also after :math:`W_2`.

    Parameters
    ----------
    embed_dim, n_heads, head_dim : int
        See :class:`InterCorticalAttention`.
    mlp_dim : int
        Hidden width of the feed-forward network.
    dropout : float
        Dropout probability.

    Shapes:
        - **input:** ``(batch, n_chans, embed_dim)``
        - **output:** ``(batch, n_chans, embed_dim)``
    """

    def __init__(self, embed_dim: int, n_heads: int, head_dim: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim)
        self.attn = InterCorticalAttention(embed_dim, n_heads, head_dim, dropout)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.mlp = nn.Sequential(
            nn.Linear(embed_dim, mlp_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, embed_dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


@register_model("rbtransformer")
class RBTransformer(TokenModel):
    r"""RBTransformer (Bhatnagar et al., 2025): a transformer whose tokens are electrodes.

    Each electrode's band-DE vector :math:`x_c \in \mathbb{R}^{F}` becomes a token

    .. math::
        h_c^{(0)} = \mathrm{Drop}(W_e x_c + b_e + e_c),

    where :math:`e_c` is a learnable electrode-identity embedding (the only
    positional information: electrodes are told apart by identity, not
    geometry). ``depth`` pre-norm blocks (:class:`InterCorticalBlock`) let every
    electrode attend to every other. The tokens are averaged over electrodes,
    layer-normalised and classified by an MLP

    .. math::
        z = \frac{1}{C} \sum_c h_c^{(L)}, \qquad
        \hat y = W_4\, \phi(W_3\, \phi(W_2\, \phi(W_1 \mathrm{LN}(z))))

    with :math:`\phi` = GELU followed by dropout (biases omitted above).

    Defaults follow the published configuration: ``embed_dim=128``, ``depth=4``,
    6 heads of width 32 with a bias-free QKV projection (128 -> 3 * 192) and an
    output projection 192 -> 128, feed-forward 128 -> 128 -> 128, dropout 0.1 and
    head 128 -> 256 -> 256 -> 128 -> ``n_outputs``. With 4 bands the model has
    :math:`660\,480 + 128\,C + 129\,n_{out}` parameters (664,834 for DEAP's 32
    channels and 2 classes). The electrode embedding is drawn from
    :math:`\mathcal{N}(0, 1)`, as in the authors' code; linear and LayerNorm
    layers use PyTorch's default initialisation.

    Parameters
    ----------
    n_chans : int
        Number of electrodes :math:`C`.
    n_bands : int
        Number of frequency bands :math:`F` per token.
    n_outputs : int
        Number of logits.
    embed_dim : int
        Token width (default 128).
    depth : int
        Number of attention blocks (default 4).
    n_heads : int
        Attention heads per block (default 6).
    head_dim : int
        Width per head (default 32).
    mlp_dim : int
        Hidden width of each block's feed-forward network (default 128).
    dropout : float
        Dropout probability everywhere (default 0.1).

    Attributes
    ----------
    num_features : int
        Width of :meth:`forward_features` (``embed_dim``).
    head_hidden_size : int
        Width of ``forward_head(..., pre_logits=True)`` (``embed_dim``).

    Shapes:
        - **input:** ``(batch, n_chans, n_bands)``
        - **forward_features:** ``(batch, embed_dim)``: electrode-averaged tokens
        - **forward_head(pre_logits=True):** ``(batch, embed_dim)``
        - **output:** ``(batch, n_outputs)`` logits

    References
    ----------
    N. K. Bhatnagar et al., "A Brain Wave Encodes a Thousand Tokens: Modeling
    Inter-Cortical Neural Interactions for Effective EEG-based Emotion
    Recognition", arXiv:2511.13954, 2025.
    """

    def __init__(
        self,
        n_chans: int,
        n_bands: int,
        n_outputs: int,
        *,
        embed_dim: int = 128,
        depth: int = 4,
        n_heads: int = 6,
        head_dim: int = 32,
        mlp_dim: int = 128,
        dropout: float = 0.1,
    ):
        super().__init__(n_chans, n_bands, n_outputs)
        embed_dim = _check_positive_int("embed_dim", embed_dim)
        depth = _check_positive_int("depth", depth)
        n_heads = _check_positive_int("n_heads", n_heads)
        head_dim = _check_positive_int("head_dim", head_dim)
        mlp_dim = _check_positive_int("mlp_dim", mlp_dim)
        dropout = _check_probability("dropout", dropout)
        self.embed_dim = embed_dim
        self.num_features = embed_dim
        self.head_hidden_size = embed_dim

        self.token_proj = nn.Linear(n_bands, embed_dim)
        self.electrode_embedding = nn.Parameter(torch.empty(1, n_chans, embed_dim))
        self.embed_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            InterCorticalBlock(embed_dim, n_heads, head_dim, mlp_dim, dropout) for _ in range(depth)
        )
        self.head_norm = nn.LayerNorm(embed_dim)
        self.head = nn.Sequential(
            nn.Linear(embed_dim, 2 * embed_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(2 * embed_dim, 2 * embed_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(2 * embed_dim, embed_dim),
            nn.GELU(),
            nn.Dropout(dropout),
        )
        self.final_layer = nn.Linear(embed_dim, n_outputs)
        self._rewind_rng()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            nn.init.normal_(self.electrode_embedding, mean=0.0, std=1.0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Electrode-averaged tokens after the attention blocks, shape (batch, embed_dim)."""
        self._check_input(x)
        h = self.embed_drop(self.token_proj(x) + self.electrode_embedding)
        for block in self.blocks:
            h = block(h)
        return h.mean(dim=1)

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits (batch, n_outputs), or the (batch, embed_dim) penultimate layer if ``pre_logits``."""
        h = self.head(self.head_norm(feats))
        return h if pre_logits else self.final_layer(h)
