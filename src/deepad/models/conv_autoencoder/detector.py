"""``ConvAutoEncoder``: the anomaly map is the per-pixel error of a convolutional autoencoder.

``ReconstructionImageDetector`` holds what every reconstruction-based image detector
shares (params checks, training through ``deepad.nn.training.fit_module``, the raw
reconstruction-error map, bundles; ``ImageDetector`` blurs it and takes its maximum as the
score); ``ConvAutoEncoder`` and ``ConvVAE`` differ only in their network and loss.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.models.conv_autoencoder.torch_model import (
    LEVELS,
    ConvAutoEncoderNet,
    reconstruction_errors,
)
from deepad.models.image_base import ImageDetector
from deepad.nn.training import (
    check_training_params,
    fit_module,
    resolve_device,
    seeded,
    training_config,
)
from deepad.nn.weights import module_arrays, restore_module


class ReconstructionImageDetector(ImageDetector):
    """Shared machinery of the image detectors scored by reconstruction error; not used
    directly. Subclasses give ``_build_module(architecture)`` (a module with
    ``reconstruct(images)``) and ``_loss(module, batch)``, and list their params."""

    _size_multiple: ClassVar[int] = 2**LEVELS
    #: ``TrainingConfig`` fields for the auto schedule (epochs=None)
    _training_overrides: ClassVar[dict[str, Any]] = {"target_steps": 1000, "min_epochs": 5}

    # ---------------------------------------------------------- subclass API
    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        raise NotImplementedError

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # ---------------------------------------------------------------- params
    def _check_params(self) -> None:
        super()._check_params()
        check_training_params(self)
        for name in ("width", "latent_dim", "patience"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(self.weight_decay, (int, float)) or not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        try:
            resolve_device(self.device)  # ValueError when CUDA is asked for but absent
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"device must be 'cpu', 'cuda' or 'auto', got {self.device!r}"
            ) from exc
        self._seed()  # a ValueError naming random_state when it is not an int or None

    # --------------------------------------------------------------- hooks
    def _fit_images(self, pixels: np.ndarray) -> None:
        seed = self._seed()
        self.architecture_ = {
            "channels": int(pixels.shape[1]),
            "image_size": int(pixels.shape[-1]),
            "width": int(self.width),
            "latent_dim": int(self.latent_dim),
        }
        config = training_config(self, seed, **self._training_overrides)
        with seeded(seed):
            module = self._build_module(self.architecture_)
            self.history_ = fit_module(module, self._loss, pixels, config)
        self.module_ = module.cpu().eval()

    def _raw_maps(self, pixels: np.ndarray) -> torch.Tensor:
        """Squared error per pixel, averaged over channels (the base blurs it)."""
        device = resolve_device(self.device)
        module = self.module_.to(device).eval()
        try:
            with torch.inference_mode():
                batch = torch.from_numpy(np.ascontiguousarray(pixels)).to(device)
                return reconstruction_errors(batch, module.reconstruct(batch)).cpu()
        finally:
            self.module_ = module.cpu()

    def _export_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"architecture": self.architecture_}, module_arrays(self.module_)

    def _import_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.architecture_ = dict(meta["architecture"])
        self.module_ = restore_module(lambda: self._build_module(self.architecture_), arrays)


class ConvAutoEncoder(ReconstructionImageDetector):
    """Convolutional autoencoder trained to reconstruct good images; the error shows defects.

    Four stride-2 convolutions (``width`` channels, doubling) down to a dense
    ``latent_dim`` code and mirrored transposed convolutions back, trained with the mean
    squared error. The anomaly map is the squared error per pixel (averaged over
    channels), blurred with a Gaussian of ``blur_sigma`` pixels; the image score is the
    map's maximum. ``image_size`` must be a multiple of 16. ``epochs=None`` trains about
    1,000 optimizer steps (at least 5 epochs), stopping early on a held-out
    ``validation_fraction`` of the training images.
    """

    summary: ClassVar[str] = "convolutional autoencoder, per-pixel reconstruction error"

    def __init__(
        self,
        image_size: int = 128,
        width: int = 32,
        latent_dim: int = 64,
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

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return ConvAutoEncoderNet(**architecture)

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return torch.mean((module(batch) - batch) ** 2)
