"""The autoencoder network: an MLP encoder to a bottleneck and a mirrored decoder."""

from __future__ import annotations

import torch
from torch import nn

from deepad.nn.blocks import mlp


class AutoEncoderNet(nn.Module):
    """Encoder ``in -> hidden... -> latent`` and decoder ``latent -> reversed(hidden) -> in``."""

    def __init__(
        self, n_features: int, hidden_dims: list[int], latent_dim: int, dropout: float
    ) -> None:
        super().__init__()
        self.encoder = mlp(n_features, hidden_dims, latent_dim, dropout=dropout)
        self.decoder = mlp(latent_dim, list(reversed(hidden_dims)), n_features, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.relu(self.encoder(x)))
