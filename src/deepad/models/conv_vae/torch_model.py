"""The convolutional VAE's network: the autoencoder's blocks around a Gaussian posterior.

The ``ConvEncoder`` of ``deepad.models.conv_autoencoder`` outputs the mean and
log-variance of a diagonal Gaussian q(z | x) (log-variance clamped to [-10, 10]); the
``ConvDecoder`` maps a code to the image (Kingma & Welling, ICLR 2014).
"""

from __future__ import annotations

import torch
from torch import nn

from deepad.models.conv_autoencoder.torch_model import ConvDecoder, ConvEncoder


class ConvVAENet(nn.Module):
    """``encode(x) -> (mu, logvar)``; ``forward`` samples z in training, uses mu in eval."""

    def __init__(self, channels: int, image_size: int, width: int, latent_dim: int) -> None:
        super().__init__()
        self.encoder = ConvEncoder(channels, image_size, width, 2 * latent_dim)
        self.decoder = ConvDecoder(channels, image_size, width, latent_dim)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(images).chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(images)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """The decoding of the posterior mean (deterministic): what the map compares with."""
        return self.decoder(self.encode(images)[0])


def negative_elbo(module: ConvVAENet, images: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-image negative ELBO up to a constant, for a Gaussian decoder of variance 1/2:
    squared error summed over pixels and channels + beta * KL(q(z | x) || N(0, I))."""
    reconstructed, mu, logvar = module(images)
    reconstruction = ((reconstructed - images) ** 2).flatten(1).sum(dim=1)
    kl = 0.5 * torch.sum(mu**2 + torch.exp(logvar) - 1.0 - logvar, dim=1)
    return reconstruction + beta * kl
