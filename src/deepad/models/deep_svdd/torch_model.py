"""The Deep SVDD network: a bias-free MLP and the hypersphere centre it is pulled to.

Biases are left out on purpose (Ruff et al., 2018): with them the network can map
every input to the centre and the objective collapses to a trivial solution.
"""

from __future__ import annotations

import torch
from torch import nn

from deepad.nn.blocks import mlp


class DeepSVDDNet(nn.Module):
    """``forward(x)`` returns the squared distance of ``phi(x)`` to the centre ``c``."""

    def __init__(self, n_features: int, hidden_dims: list[int], latent_dim: int) -> None:
        super().__init__()
        self.encoder = mlp(n_features, hidden_dims, latent_dim, bias=False, activation=nn.LeakyReLU)
        self.register_buffer("center", torch.zeros(latent_dim))

    @torch.no_grad()
    def set_center(self, x: torch.Tensor, eps: float = 0.1) -> None:
        """Centre = mean embedding of ``x``; tiny coordinates are pushed to +-eps."""
        center = self.encoder(x).mean(dim=0)
        center[(center.abs() < eps) & (center < 0)] = -eps
        center[(center.abs() < eps) & (center >= 0)] = eps
        self.center.copy_(center)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum((self.encoder(x) - self.center) ** 2, dim=1)
