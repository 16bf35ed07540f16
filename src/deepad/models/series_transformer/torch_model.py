"""The series Transformer: a small causal, pre-norm Transformer that predicts the next step."""

from __future__ import annotations

import torch
from torch import nn


class _Block(nn.Module):
    """Pre-norm layer: ``x + attention(norm(x))``, then ``x + feedforward(norm(x))``.

    Built from ``nn.MultiheadAttention`` (not ``nn.TransformerEncoderLayer``) so that the
    attention weights can be returned.
    """

    def __init__(self, d_model: int, num_heads: int, feedforward: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = nn.MultiheadAttention(
            d_model, num_heads, dropout=dropout, batch_first=True
        )
        self.norm2 = nn.LayerNorm(d_model)
        self.feedforward = nn.Sequential(
            nn.Linear(d_model, feedforward),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(feedforward, d_model),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        *,
        last_only: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``last_only``: compute only the last position (it sees every position, so no mask)."""
        normed = self.norm1(x)
        query, residual, query_mask = normed, x, mask
        if last_only:
            query, residual, query_mask = normed[:, -1:], x[:, -1:], None
        attended, weights = self.attention(
            query,
            normed,
            normed,
            attn_mask=query_mask,
            need_weights=need_weights,
            average_attn_weights=True,
        )
        x = residual + self.dropout(attended)
        x = x + self.dropout(self.feedforward(self.norm2(x)))
        return x, weights


class SeriesTransformerNet(nn.Module):
    """Maps steps ``x_0 .. x_{k-1}`` to predictions of ``x_1 .. x_k`` (causal mask: position
    j sees positions 0..j only)."""

    def __init__(
        self,
        n_channels: int,
        length: int,
        d_model: int,
        num_layers: int,
        num_heads: int,
        feedforward: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(n_channels, d_model)
        self.position = nn.Parameter(torch.randn(length, d_model) * 0.02)
        self.input_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            _Block(d_model, num_heads, feedforward, dropout) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_channels)
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal_mask", causal, persistent=False)

    def forward(
        self, steps: torch.Tensor, *, last_only: bool = False, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predictions ``(batch, positions, channels)`` (only the last position with
        ``last_only``) and, with ``need_weights``, the last layer's head-averaged attention
        ``(batch, positions, length)``."""
        length = steps.shape[1]
        x = self.input_dropout(self.embed(steps) + self.position[:length])
        mask = self.causal_mask[:length, :length]
        weights = None
        for i, block in enumerate(self.blocks):
            last = i == len(self.blocks) - 1
            x, weights = block(
                x, mask, last_only=last_only and last, need_weights=need_weights and last
            )
        return self.head(self.norm(x)), weights
