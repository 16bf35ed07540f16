"""``VAE`` detector: score = negative ELBO of a row, with the posterior mean at scoring time."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from deepad.models.torch_base import TorchDetector
from deepad.models.vae.torch_model import VAENet, negative_elbo


class VAE(TorchDetector):
    """Variational autoencoder (Kingma & Welling, 2014) scored by its negative ELBO.

    Training samples the latent code; scoring uses the posterior mean, so scores are
    deterministic. ``beta`` weighs the KL term (beta-VAE); 1.0 is the plain ELBO.

    ``trim_fraction`` (0 = off) makes training robust to anomalies in the training data:
    that share of training rows, those an IsolationForest finds most isolated, is left
    out before training (``trimmed_rows_`` counts them; about twice the expected
    contamination, e.g. 0.2; see ``deepad.models.trimming``).
    """

    summary = "variational autoencoder, negative ELBO; smooth scores, good on noisy numeric data"
    native_explain_methods = ("residual",)
    default_explain_method = "residual"  # as for the AutoEncoder (docs/benchmarks.md)

    def __init__(
        self,
        hidden_dims: list[int] | None = None,
        latent_dim: int | None = None,
        beta: float = 1.0,
        dropout: float = 0.0,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-5,
        validation_fraction: float = 0.1,
        patience: int = 10,
        trim_fraction: float = 0.0,
        contamination: float = 0.1,
        device: str = "cpu",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.beta = beta
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.trim_fraction = trim_fraction
        self.contamination = contamination
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta!r}")

    def _architecture(self, n_features: int) -> dict[str, Any]:
        return {**super()._architecture(n_features), "dropout": float(self.dropout)}

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return VAENet(**architecture)

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return torch.mean(negative_elbo(module, batch, self.beta)) / batch.shape[1]

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return negative_elbo(module, batch, self.beta)

    def _explain_features(
        self, features: np.ndarray, method: str, baseline: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        # the reconstruction half of the negative ELBO; the KL term is the remainder
        return self._residual_explanation(features, 0.5)
