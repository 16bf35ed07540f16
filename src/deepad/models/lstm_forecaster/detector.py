"""``LSTMForecaster``: next-step prediction error of a stacked LSTM (LSTM-AD, Malhotra 2015)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepad.models.lstm_forecaster.torch_model import LSTMForecasterNet
from deepad.models.series_torch import TorchSeriesDetector, auto_hidden


class LSTMForecaster(TorchSeriesDetector):
    """An LSTM reads the ``window - 1`` steps before t and predicts step t; the score of t
    is the mean squared prediction error over the channels (causal).

    Training uses every position of each window (teacher forcing: position j predicts
    j + 1), so one window teaches ``window - 1`` predictions. ``hidden_size=None`` picks
    32 for up to 16 channels, 64 above.
    """

    summary = "LSTM next-step forecaster; prediction error per time step"

    def __init__(
        self,
        window: int = 32,
        smoothing: int = 10,
        hidden_size: int | None = None,
        num_layers: int = 2,
        dropout: float = 0.1,
        epochs: int | None = None,
        batch_size: int | None = None,
        max_windows: int | None = 20000,
        learning_rate: float = 2e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.1,
        patience: int = 5,
        adapt_every: int | None = None,
        contamination: float = 0.1,
        device: str = "cpu",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.window = window
        self.smoothing = smoothing
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_windows = max_windows
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.adapt_every = adapt_every
        self.contamination = contamination
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _architecture(self, n_channels: int) -> dict[str, Any]:
        hidden = self.hidden_size if self.hidden_size is not None else auto_hidden(n_channels)
        return {
            "n_channels": n_channels,
            "hidden_size": int(hidden),
            "num_layers": int(self.num_layers),
            "dropout": float(self.dropout),
        }

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return LSTMForecasterNet(**architecture)

    def _loss(self, module: nn.Module, windows: torch.Tensor) -> torch.Tensor:
        return torch.mean((module(windows[:, :-1]) - windows[:, 1:]) ** 2)

    def _last_step(
        self, module: nn.Module, windows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        guess = module(windows[:, :-1])[:, -1]
        return (guess - windows[:, -1]) ** 2, guess
