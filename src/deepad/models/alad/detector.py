"""``ALAD`` detector: adversarially learned anomaly detection on tables."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.models.alad.torch_model import (
    ALADNet,
    discriminator_loss,
    generator_loss,
    reconstruction_error,
)
from deepad.models.torch_base import TorchDetector
from deepad.nn.adversarial import AdversarialConfig, fit_adversarial
from deepad.nn.training import seeded

#: optimizer steps of a default-length run (``epochs=None``); GAN steps cost about three
#: autoencoder steps, and 1,500 scored as well as 3,000 on Cardio, WBC and Thyroid
TARGET_STEPS = 1500


class ALAD(TorchDetector):
    """ALAD (Zenati et al., ICDM 2018): a BiGAN with cycle-consistency discriminators.

    An encoder ``E`` and a generator ``G`` are trained against three spectrally
    normalised discriminators, on ``(x, z)``, ``(x, x')`` and ``(z, z')`` pairs. The score
    of a row is the L1 distance between the hidden activations of the ``(x, x')``
    discriminator on ``(x, x)`` and on ``(x, G(E(x)))``: higher = more anomalous.
    ``feature_layers="last"`` (default) reads the last hidden layer, as in the paper;
    ``"all"`` sums the (unit-averaged) distance over every hidden layer.

    Parameters left as ``None`` are chosen from the data: encoder/generator widths and
    latent size from the encoded width (the discriminators reuse the encoder widths),
    batch size and epochs from the row count (about 1,500 steps). ``learning_rate`` drives
    both players' Adam (betas 0.5, 0.999). GAN losses do not fall steadily, so by default
    every epoch runs (``patience=None``); with ``patience`` set, training stops when the
    reconstruction error of a held-out ``validation_fraction`` of rows stops improving,
    and the best epoch's weights are kept.
    """

    #: trained by its own adversarial loop, not the shared one, so it is not fine-tuned
    fine_tunable: ClassVar[bool] = False

    summary = "ALAD, a BiGAN with cycle critics; critic-feature distance to the reconstruction"

    def __init__(
        self,
        hidden_dims: list[int] | None = None,
        latent_dim: int | None = None,
        discriminator_dims: list[int] | None = None,
        dropout: float = 0.2,
        spectral_norm: bool = True,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float = 1e-4,
        validation_fraction: float = 0.1,
        patience: int | None = None,
        feature_layers: str = "last",
        contamination: float = 0.1,
        device: str = "cpu",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.discriminator_dims = discriminator_dims
        self.dropout = dropout
        self.spectral_norm = spectral_norm
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.feature_layers = feature_layers
        self.contamination = contamination
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.patience is not None and (
            not isinstance(self.patience, (int, np.integer)) or self.patience < 1
        ):
            raise ValueError(f"patience must be a positive int or None, got {self.patience!r}")
        if self.feature_layers not in ("all", "last"):
            raise ValueError(f"feature_layers must be 'all' or 'last', got {self.feature_layers!r}")

    def _architecture(self, n_features: int) -> dict[str, Any]:
        base = super()._architecture(n_features)
        disc = self.discriminator_dims
        return {
            **base,
            "discriminator_dims": list(base["hidden_dims"]) if disc is None else list(disc),
            "dropout": float(self.dropout),
            "spectral_norm": bool(self.spectral_norm),
        }

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return ALADNet(**architecture)

    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        seed = self._seed()
        self.architecture_ = self._architecture(features.shape[1])
        config = AdversarialConfig(
            epochs=None if self.epochs is None else int(self.epochs),
            batch_size=None if self.batch_size is None else int(self.batch_size),
            generator_lr=self.learning_rate,
            discriminator_lr=self.learning_rate,
            target_steps=TARGET_STEPS,
            validation_fraction=self.validation_fraction,
            patience=int(self.patience) if self.patience is not None else 1,
            seed=seed,
            device=self.device,
            verbose=self.verbose,
            description=type(self).__name__,
        )
        with seeded(seed):
            net = self._build_module(self.architecture_)
        self.history_ = fit_adversarial(
            net,
            generator_parameters=net.generator_parameters(),
            discriminator_parameters=net.discriminator_parameters(),
            generator_loss=generator_loss,
            discriminator_loss=discriminator_loss,
            data=features,
            config=config,
            monitor=None if self.patience is None else reconstruction_error,
        )
        self.module_ = net.cpu().eval()

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return module(batch, last_layer_only=self.feature_layers == "last")
