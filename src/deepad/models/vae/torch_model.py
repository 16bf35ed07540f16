"""The VAE network: an MLP encoder to a diagonal Gaussian posterior and an MLP decoder."""

from __future__ import annotations

import torch
from torch import nn

from deepad.nn.blocks import mlp


class VAENet(nn.Module):
    """``encode(x) -> (mu, logvar)``, ``decode(z) -> x_hat`` (mean of a unit-variance Gaussian)."""

    def __init__(
        self, n_features: int, hidden_dims: list[int], latent_dim: int, dropout: float
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = mlp(n_features, hidden_dims, 2 * latent_dim, dropout=dropout)
        self.decoder = mlp(latent_dim, list(reversed(hidden_dims)), n_features, dropout=dropout)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar


def negative_elbo(module: VAENet, x: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-row negative ELBO, up to a constant: squared error / 2 + beta * KL(q || N(0, I))."""
    x_hat, mu, logvar = module(x)
    reconstruction = 0.5 * torch.sum((x_hat - x) ** 2, dim=1)
    kl = 0.5 * torch.sum(mu**2 + torch.exp(logvar) - 1.0 - logvar, dim=1)
    return reconstruction + beta * kl
