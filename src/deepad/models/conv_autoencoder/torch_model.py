"""The convolutional autoencoder's network, and the blocks the convolutional VAE shares.

``ConvEncoder``: ``levels`` stride-2 4x4 convolutions (BatchNorm, LeakyReLU 0.2), ``width``
channels at the first level and twice as many at each next one, then a linear layer from
the flattened (size / 2**levels)^2 grid to a vector. ``ConvDecoder`` mirrors it: a linear
layer back to the grid and stride-2 4x4 transposed convolutions up to the image, with a
sigmoid so reconstructions lie in [0, 1] like the pixels. The dense bottleneck follows
Bergmann et al. (VISAPP 2019): a spatial one lets the network copy defects through.
"""

from __future__ import annotations

import torch
from torch import nn

#: stride-2 levels of the encoder (and decoder): image_size must be a multiple of 2**LEVELS
LEVELS = 4


def _top(image_size: int, width: int, levels: int) -> tuple[int, int]:
    """(channels, grid side) at the bottom of the encoder."""
    return width * 2 ** (levels - 1), image_size // 2**levels


class ConvEncoder(nn.Module):
    """Images (n, channels, s, s) -> vectors (n, out_dim)."""

    def __init__(
        self, channels: int, image_size: int, width: int, out_dim: int, levels: int = LEVELS
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = channels
        for level in range(levels):
            current = width * 2**level
            layers += [
                nn.Conv2d(previous, current, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(current),
                nn.LeakyReLU(0.2),
            ]
            previous = current
        self.features = nn.Sequential(*layers)
        top_channels, grid = _top(image_size, width, levels)
        self.head = nn.Linear(top_channels * grid * grid, out_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images).flatten(1))


class ConvDecoder(nn.Module):
    """Vectors (n, in_dim) -> images (n, channels, s, s) in [0, 1]."""

    def __init__(
        self, channels: int, image_size: int, width: int, in_dim: int, levels: int = LEVELS
    ) -> None:
        super().__init__()
        top_channels, grid = _top(image_size, width, levels)
        self.shape = (top_channels, grid, grid)
        self.head = nn.Sequential(nn.Linear(in_dim, top_channels * grid * grid), nn.LeakyReLU(0.2))
        layers: list[nn.Module] = []
        previous = top_channels
        for level in reversed(range(levels - 1)):
            current = width * 2**level
            layers += [
                nn.ConvTranspose2d(previous, current, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(current),
                nn.LeakyReLU(0.2),
            ]
            previous = current
        layers += [nn.ConvTranspose2d(previous, channels, 4, stride=2, padding=1), nn.Sigmoid()]
        self.features = nn.Sequential(*layers)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.features(self.head(codes).view(-1, *self.shape))


class ConvAutoEncoderNet(nn.Module):
    """``ConvEncoder`` to a ``latent_dim`` code and ``ConvDecoder`` back to the image."""

    def __init__(self, channels: int, image_size: int, width: int, latent_dim: int) -> None:
        super().__init__()
        self.encoder = ConvEncoder(channels, image_size, width, latent_dim)
        self.decoder = ConvDecoder(channels, image_size, width, latent_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images))

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """The reconstruction the anomaly map compares with (here: the forward pass)."""
        return self(images)


def reconstruction_errors(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Per-pixel squared error averaged over channels: (n, 1, s, s)."""
    return ((reconstructions - images) ** 2).mean(dim=1, keepdim=True)
