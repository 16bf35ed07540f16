"""The TCN's network: causal dilated 1-D convolutions without padding, in residual blocks."""

from __future__ import annotations

import torch
from torch import nn


def receptive_field(kernel_size: int, dilations: list[int]) -> int:
    """Steps one output sees: ``1 + sum((kernel_size - 1) * d)``."""
    return 1 + sum((kernel_size - 1) * int(d) for d in dilations)


class _Block(nn.Module):
    """``relu(x + mix(relu(conv_d(x))))`` with a *valid* dilated convolution: the output is
    ``(kernel_size - 1) * dilation`` steps shorter, and the residual drops as many of
    the oldest steps, so output j still ends at the same step as input j + shift."""

    def __init__(self, width: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.shift = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(width, width, kernel_size, dilation=dilation)
        self.mix = nn.Conv1d(width, width, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.mix(torch.relu(self.conv(x)))
        return torch.relu(x[:, :, self.shift :] + self.dropout(z))


class TCNNet(nn.Module):
    """Steps ``(batch, length, channels)`` -> ``(batch, length - R + 1, channels)``, where
    output j predicts the step after input steps ``j .. j + R - 1`` (R the receptive
    field): fully convolutional, so any length >= R works."""

    def __init__(
        self,
        n_channels: int,
        hidden_size: int,
        kernel_size: int,
        dilations: list[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.receptive_field = receptive_field(kernel_size, dilations)
        self.embed = nn.Conv1d(n_channels, hidden_size, 1)
        self.blocks = nn.Sequential(
            *(_Block(hidden_size, kernel_size, int(d), dropout) for d in dilations)
        )
        self.head = nn.Conv1d(hidden_size, n_channels, 1)

    def forward(self, steps: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.embed(steps.transpose(1, 2)))
        return self.head(x).transpose(1, 2)
