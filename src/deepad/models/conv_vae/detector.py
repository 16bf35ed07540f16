"""``ConvVAE``: the anomaly map is the per-pixel error of a convolutional VAE's decoding."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from deepad.models.conv_autoencoder.detector import ReconstructionImageDetector
from deepad.models.conv_vae.torch_model import ConvVAENet, negative_elbo


class ConvVAE(ReconstructionImageDetector):
    """Convolutional variational autoencoder (Kingma & Welling, ICLR 2014) on good images.

    The encoder and decoder are ``ConvAutoEncoder``'s, around a diagonal Gaussian
    posterior of ``latent_dim`` dimensions; training minimises the negative ELBO (squared
    error summed over the pixels + ``beta`` * KL to N(0, I), per pixel). Scoring decodes
    the posterior mean, so maps are deterministic: the map is the squared error per pixel
    of that decoding (averaged over channels), blurred with a Gaussian of ``blur_sigma``
    pixels, and the image score is the map's maximum (the KL term is left out, so score
    and map share units). ``image_size`` must be a multiple of 16.
    """

    summary: ClassVar[str] = "convolutional VAE, per-pixel error of the posterior-mean decoding"

    def __init__(
        self,
        image_size: int = 128,
        width: int = 32,
        latent_dim: int = 64,
        beta: float = 1.0,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        validation_fraction: float = 0.1,
        patience: int = 10,
        blur_sigma: float = 2.0,
        contamination: float = 0.1,
        device: str = "cpu",
        verbose: int = 0,
        random_state: int | None = 0,
    ) -> None:
        self.image_size = image_size
        self.width = width
        self.latent_dim = latent_dim
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.blur_sigma = blur_sigma
        self.contamination = contamination
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        beta = self.beta
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
            raise ValueError(f"beta must be a number >= 0, got {beta!r}")

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return ConvVAENet(**architecture)

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        pixels = batch[0].numel()
        return torch.mean(negative_elbo(module, batch, float(self.beta))) / pixels
