"""``DTE`` detector: score = the diffusion time a classifier estimates for a clean row."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from deepad.models.dte.torch_model import DiffusionTimeNet
from deepad.models.torch_base import TorchDetector, auto_widths


class DTE(TorchDetector):
    """Diffusion Time Estimation, categorical variant (Livernoche et al., ICLR 2024).

    Training rows are noised with a diffusion process for a random number of steps and a
    classifier learns to tell how long; a row far from the training data looks as if it
    had been noised for a long time, so its estimated diffusion time is its score.
    """

    summary = "diffusion time estimation (DTE-C); leads published one-class tabular results"

    def __init__(
        self,
        hidden_dims: list[int] | None = None,
        n_steps: int = 400,
        n_bins: int = 7,
        dropout: float = 0.5,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 5e-4,
        validation_fraction: float = 0.0,
        patience: int = 50,
        contamination: float = 0.1,
        device: str = "cpu",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.hidden_dims = hidden_dims
        self.n_steps = n_steps
        self.n_bins = n_bins
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.contamination = contamination
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        if not isinstance(self.n_bins, int) or self.n_bins < 2:
            raise ValueError(f"n_bins must be an int >= 2, got {self.n_bins!r}")
        if not isinstance(self.n_steps, int) or self.n_steps < self.n_bins:
            raise ValueError(f"n_steps must be an int >= n_bins, got {self.n_steps!r}")

    def _architecture(self, n_features: int) -> dict[str, Any]:
        width = auto_widths(n_features)[0][0]  # the paper's 256-512-256 shape, sized to the data
        hidden = (
            list(self.hidden_dims) if self.hidden_dims is not None else [width, 2 * width, width]
        )
        return {
            "n_features": n_features,
            "hidden_dims": hidden,
            "n_steps": int(self.n_steps),
            "n_bins": int(self.n_bins),
            "dropout": float(self.dropout),
        }

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return DiffusionTimeNet(**architecture)

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        noisy, bins = module.noised(batch)
        return F.cross_entropy(module(noisy), bins)

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return module.expected_bin(batch)
