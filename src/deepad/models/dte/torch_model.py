"""The DTE network and the variance-only diffusion process it learns to invert in time.

Forward process (Livernoche et al., ICLR 2024): x_t = x_0 + sqrt(1 - alpha_bar_t) * eps,
with a linear beta schedule. The network sees x_t and classifies which of ``n_bins``
equal slices of [0, T) the step t came from.
"""

from __future__ import annotations

import torch
from torch import nn

from deepad.nn.blocks import mlp


class DiffusionTimeNet(nn.Module):
    """MLP classifier over diffusion-time bins, with the noise schedule as buffers."""

    def __init__(
        self,
        n_features: int,
        hidden_dims: list[int],
        n_steps: int,
        n_bins: int,
        dropout: float,
        beta_start: float = 1e-4,
        beta_end: float = 1e-2,
    ) -> None:
        super().__init__()
        self.n_steps = n_steps
        self.n_bins = n_bins
        self.classifier = mlp(n_features, hidden_dims, n_bins, dropout=dropout)
        alpha_bar = torch.cumprod(1.0 - torch.linspace(beta_start, beta_end, n_steps), dim=0)
        self.register_buffer("noise_std", torch.sqrt(1.0 - alpha_bar))

    def noised(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise each row at a uniformly drawn step; return (x_t, bin of t)."""
        steps = torch.randint(0, self.n_steps, (x.shape[0],), device=x.device)
        x_t = x + self.noise_std[steps].unsqueeze(1) * torch.randn_like(x)
        bins = torch.clamp(steps * self.n_bins // self.n_steps, max=self.n_bins - 1)
        return x_t, bins

    def expected_bin(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted diffusion time of ``x`` as the expected bin index (the score)."""
        probabilities = torch.softmax(self.classifier(x), dim=1)
        return probabilities @ torch.arange(self.n_bins, dtype=x.dtype, device=x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x)
