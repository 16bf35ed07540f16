"""``LSTMAutoEncoder``: reconstruction error of an LSTM encoder-decoder (after EncDec-AD)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.models.lstm_autoencoder.torch_model import LSTMAutoEncoderNet
from deepad.models.series_torch import TorchSeriesDetector, auto_hidden
from deepad.nn.training import TrainingConfig


class LSTMAutoEncoder(TorchSeriesDetector):
    """An LSTM encodes the ``window`` steps ending at t into a latent vector, an LSTM
    decoder reconstructs the window from it; the score of t is the mean squared
    reconstruction error of step t over the channels (causal: the window ends at t).

    Training minimises the squared error over the whole window. The decoder reads the
    latent vector repeated and writes the window backwards, so scoring a step takes the
    encoder pass and one decoder step. ``hidden_size=None`` picks 32 for up to 16
    channels, 64 above; ``latent_size=None`` a quarter of it (at least 8).
    """

    summary = "LSTM encoder-decoder; window reconstruction error of each time step"
    #: each step runs the LSTMs over 2 x window positions: smaller batches, fewer steps
    _default_batch_size: ClassVar[int] = 64
    _target_steps: ClassVar[int] = 400

    def __init__(
        self,
        window: int = 50,
        smoothing: int = 10,
        hidden_size: int | None = None,
        latent_size: int | None = None,
        num_layers: int = 1,
        dropout: float = 0.1,
        epochs: int | None = None,
        batch_size: int | None = None,
        max_windows: int | None = 10000,
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
        self.latent_size = latent_size
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

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("hidden_size", "latent_size"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1
            ):
                raise ValueError(f"{name} must be a positive int or None (auto), got {value!r}")
        if (
            not isinstance(self.num_layers, (int, np.integer))
            or isinstance(self.num_layers, bool)
            or self.num_layers < 1
        ):
            raise ValueError(f"num_layers must be a positive int, got {self.num_layers!r}")
        if (
            isinstance(self.dropout, bool)
            or not isinstance(self.dropout, (int, float))
            or not 0.0 <= self.dropout < 1.0
        ):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def _config(self, seed: int, epochs: int | None = None) -> TrainingConfig:
        config = super()._config(seed, epochs)
        if config.batch_size is None:
            config.batch_size = self._default_batch_size
        return config

    def _architecture(self, n_channels: int) -> dict[str, Any]:
        hidden = self.hidden_size if self.hidden_size is not None else auto_hidden(n_channels)
        latent = self.latent_size if self.latent_size is not None else max(8, int(hidden) // 4)
        return {
            "n_channels": n_channels,
            "hidden_size": int(hidden),
            "latent_size": int(latent),
            "num_layers": int(self.num_layers),
            "dropout": float(self.dropout),
        }

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return LSTMAutoEncoderNet(**architecture)

    def _loss(self, module: nn.Module, windows: torch.Tensor) -> torch.Tensor:
        return torch.mean((module(windows) - windows) ** 2)

    def _last_step(
        self, module: nn.Module, windows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        guess = module(windows, steps=1)[:, -1]
        return (guess - windows[:, -1]) ** 2, guess
