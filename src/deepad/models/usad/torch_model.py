"""USAD's network: one encoder, two decoders (MLPs) over a flattened window."""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn


def _mlp(sizes: list[int], *, last_activation: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class USADNet(nn.Module):
    """Encoder ``E`` (``n_inputs -> hidden... -> latent``, ReLU after every layer as in the
    paper) and decoders ``D1``, ``D2`` (mirrored, linear output: the inputs are robustly
    scaled, not min-max scaled, so the paper's final sigmoid is left out).

    ``AE1 = D1(E(w))``, ``AE2 = D2(E(w))``; ``AE2(AE1(w)) = D2(E(D1(E(w))))``.
    """

    def __init__(self, n_inputs: int, hidden_sizes: list[int], latent_size: int) -> None:
        super().__init__()
        widths = [n_inputs, *hidden_sizes, latent_size]
        self.encoder = _mlp(widths, last_activation=True)
        self.decoder1 = _mlp(widths[::-1], last_activation=False)
        self.decoder2 = _mlp(widths[::-1], last_activation=False)

    def generator_parameters(self) -> list[nn.Parameter]:
        """``E`` and ``D1``: they minimise the first loss."""
        return [*self.encoder.parameters(), *self.decoder1.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """``D2``: it minimises the second loss."""
        return list(self.decoder2.parameters())

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(AE1(w), AE2(w), AE2(AE1(w)))`` for flattened windows ``(batch, n_inputs)``."""
        latent = self.encoder(windows)
        first = self.decoder1(latent)
        return first, self.decoder2(latent), self.decoder2(self.encoder(first))
