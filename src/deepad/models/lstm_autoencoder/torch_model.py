"""The LSTM autoencoder's network: an LSTM encoder to a latent vector, an LSTM decoder back."""

from __future__ import annotations

import torch
from torch import nn


class LSTMAutoEncoderNet(nn.Module):
    """Window ``(batch, length, channels)`` -> latent vector -> reconstructed window.

    The encoder's last hidden state is projected to ``latent_size``; the decoder reads
    that latent vector repeated at every position and writes the window *backwards*
    (its first output is the window's last step), as in EncDec-AD (Malhotra et al.,
    2016). Reconstructing the last step, the one a window scores, therefore takes a
    single decoder step.
    """

    def __init__(
        self,
        n_channels: int,
        hidden_size: int,
        latent_size: int,
        num_layers: int,
        dropout: float,
    ) -> None:
        super().__init__()
        inner_dropout = dropout if num_layers > 1 else 0.0
        self.encoder = nn.LSTM(
            n_channels, hidden_size, num_layers=num_layers, batch_first=True, dropout=inner_dropout
        )
        self.to_latent = nn.Linear(hidden_size, latent_size)
        self.decoder = nn.LSTM(
            latent_size, hidden_size, num_layers=num_layers, batch_first=True, dropout=inner_dropout
        )
        self.head = nn.Linear(hidden_size, n_channels)

    def encode(self, window: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.encoder(window)
        return self.to_latent(hidden[-1])

    def forward(self, window: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Reconstruction of the window's last ``steps`` steps (all by default), in time
        order, ``(batch, steps, channels)``."""
        latent = self.encode(window)
        steps = window.shape[1] if steps is None else steps
        decoded, _ = self.decoder(latent.unsqueeze(1).expand(-1, steps, -1))
        return self.head(decoded).flip(1)
