"""The AEGMM compression network: an MLP autoencoder whose code and errors feed a GMM.

Zong et al. (2018) describe each row by its low-dimensional code ``z_c`` together with
two reconstruction features, the relative Euclidean distance and the cosine similarity
between ``x`` and ``x_hat``; a Gaussian mixture over those features gives the score.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepad.nn.blocks import mlp

#: keeps the log finite for a perfect reconstruction and the cosine for all-zero rows
EPS = 1e-6


class AEGMMNet(nn.Module):
    """Encoder ``in -> hidden... -> latent`` (linear code), mirrored decoder back to ``in``."""

    def __init__(
        self, n_features: int, hidden_dims: list[int], latent_dim: int, dropout: float
    ) -> None:
        super().__init__()
        self.encoder = mlp(n_features, hidden_dims, latent_dim, dropout=dropout, activation=nn.Tanh)
        self.decoder = mlp(
            latent_dim, list(reversed(hidden_dims)), n_features, dropout=dropout, activation=nn.Tanh
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``[z_c, log RMS reconstruction error, cosine similarity]`` per row, the GMM's input."""
        z = self.encoder(x)
        x_hat = self.decoder(z)
        return torch.cat([z, reconstruction_features(x, x_hat)], dim=1)


def reconstruction_features(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Two columns: ``log(||x - x_hat|| / sqrt(d))`` and ``cos(x, x_hat)``.

    DAGMM's error feature is the relative distance ``||x - x_hat|| / ||x||``. Our inputs
    are z-scored, so ``||x||`` is itself a measure of how unusual a row is: dividing by it
    shrinks the error of exactly the far-out rows, and blows it up for rows at the training
    mean (``||x||`` near 0). We divide by ``sqrt(d)`` instead, the norm of a typical
    z-scored row, i.e. the root-mean-square error in units of the training standard
    deviation, and take its log so that its skewed distribution is closer to the Gaussian
    shape the mixture assumes.
    """
    scale = math.sqrt(x.shape[1])
    error = torch.log(torch.linalg.vector_norm(x - x_hat, dim=1) / scale + EPS)
    cosine = torch.nn.functional.cosine_similarity(x, x_hat, dim=1, eps=EPS)
    return torch.stack([error, cosine], dim=1)
