"""The LSTM forecaster's network: a stacked LSTM over the window, a linear head per step."""

from __future__ import annotations

import torch
from torch import nn


class LSTMForecasterNet(nn.Module):
    """Maps steps ``x_0 .. x_{k-1}`` to predictions of ``x_1 .. x_k`` (one per position)."""

    def __init__(self, n_channels: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            n_channels,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden_size, n_channels)

    def forward(self, steps: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(steps)
        return self.head(hidden)
