"""The deviation network and deviation loss (Pang et al., KDD 2019)."""

from __future__ import annotations

import torch
from torch import nn

from deepad.nn.blocks import mlp


class DeviationNet(nn.Module):
    """An MLP to one score per row, returned as its deviation from a reference.

    ``forward(x)`` is ``(phi(x) - mean) / std`` with the mean and standard deviation of
    reference scores drawn from the prior (``set_reference``); both are buffers, so they
    are saved with the weights.
    """

    def __init__(self, n_features: int, hidden_dims: list[int]) -> None:
        super().__init__()
        self.scorer = mlp(n_features, hidden_dims, 1)
        self.register_buffer("reference_mean", torch.zeros(1))
        self.register_buffer("reference_std", torch.ones(1))

    @torch.no_grad()
    def set_reference(self, draws: torch.Tensor) -> None:
        """Set the reference from scores drawn from the prior (e.g. 5000 draws of N(0, 1))."""
        self.reference_mean.fill_(float(draws.mean()))
        self.reference_std.fill_(float(draws.std()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.scorer(x).squeeze(1) - self.reference_mean) / self.reference_std


def deviation_loss(deviation: torch.Tensor, targets: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean deviation loss: ``|dev|`` for unlabelled rows (0), ``max(0, margin - dev)`` for
    labelled anomalies (1), so normal rows score near the reference mean and labelled
    anomalies at least ``margin`` reference standard deviations above it.
    """
    return torch.mean(
        torch.where(targets == 1, torch.clamp(margin - deviation, min=0.0), deviation.abs())
    )
