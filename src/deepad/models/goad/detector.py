"""``GOAD`` detector: classify which random affine map was applied; doubt is the score."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.models.goad.torch_model import (
    GOADNet,
    center_triplet_loss,
    classification_loss,
    transform_log_probs,
)
from deepad.models.torch_base import TorchDetector
from deepad.nn.training import predict_batched

#: hidden widths of the feature extractor when ``hidden_dims`` is None
DEFAULT_HIDDEN = (32,)


class GOAD(TorchDetector):
    """GOAD (Bergman & Hoshen, ICLR 2020): transformation classification for general data.

    Every row is mapped by ``n_transforms`` fixed random affine maps drawn from
    ``random_state``; a shared MLP embeds each copy and is trained to tell which map made
    it (cross-entropy) with GOAD's centre triplet loss on the embeddings. After training,
    the centre of each map's embeddings over the training rows is stored. The score of a
    row is ``-sum_m log P(m | T(x, m))``, the probability coming from a softmax over minus
    the squared distances of ``f(T(x, m))`` to the centres: higher = more anomalous.
    """

    summary = "GOAD, random affine maps of each row; doubt about which map was applied is the score"

    _training_overrides: ClassVar[dict[str, Any]] = {"target_steps": 1000}
    #: a chunk holds (rows, M, M) float64 distances: 32 MiB at M = 64
    _score_batch_size: ClassVar[int] = 1024
    #: its many transformations make large gradient batches slow: on satellite (36 columns)
    #: integrated gradients of 1,000 rows cost 24x scoring in chunks of 512 rows, 10x in 64
    _gradient_chunk_rows: ClassVar[int] = 64

    def __init__(
        self,
        n_transforms: int = 64,
        transform_dim: int = 32,
        hidden_dims: list[int] | None = None,
        feature_dim: int = 8,
        margin: float = 1.0,
        triplet_weight: float = 0.1,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        validation_fraction: float = 0.1,
        patience: int = 10,
        contamination: float = 0.1,
        device: str = "cpu",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.n_transforms = n_transforms
        self.transform_dim = transform_dim
        self.hidden_dims = hidden_dims
        self.feature_dim = feature_dim
        self.margin = margin
        self.triplet_weight = triplet_weight
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

    # ----------------------------------------------------------- validation
    def _check_params(self) -> None:
        super()._check_params()
        if not _is_int(self.n_transforms) or self.n_transforms < 2:
            raise ValueError(f"n_transforms must be an int >= 2, got {self.n_transforms!r}")
        for name in ("transform_dim", "feature_dim"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.hidden_dims is not None and (
            isinstance(self.hidden_dims, (str, bytes))
            or not all(_is_int(w) and w >= 1 for w in self.hidden_dims)
        ):
            raise ValueError(
                "hidden_dims must be a list of positive ints, or None for one hidden layer "
                f"of {DEFAULT_HIDDEN[0]}, got {self.hidden_dims!r}"
            )
        for name in ("margin", "triplet_weight"):
            value = getattr(self, name)
            if not _is_real(value) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")

    # ------------------------------------------------------------- network
    def _architecture(self, n_features: int) -> dict[str, Any]:
        hidden = DEFAULT_HIDDEN if self.hidden_dims is None else self.hidden_dims
        return {
            "n_features": n_features,
            "n_transforms": int(self.n_transforms),
            "transform_dim": int(self.transform_dim),
            "hidden_dims": [int(width) for width in hidden],
            "feature_dim": int(self.feature_dim),
        }

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return GOADNet(**architecture)

    def _prepare(self, module: nn.Module, features: np.ndarray, seed: int) -> None:
        """Draw the affine maps from the seed: ``W_m ~ N(0, 1/d)``, ``b_m ~ N(0, 1)``.

        With z-scored inputs each coordinate of ``W_m x`` has about unit variance, like
        ``b_m``. The offsets matter: without them every map sends the training mean to 0,
        so the most typical rows are the hardest to classify (see README).
        """
        n_transforms, n_features, transform_dim = module.transforms.shape
        rng = np.random.default_rng([seed, 0x60AD])
        weights = rng.standard_normal((n_transforms, n_features, transform_dim))
        weights /= math.sqrt(n_features)
        offsets = rng.standard_normal((n_transforms, transform_dim))
        module.set_transforms(
            torch.as_tensor(weights, dtype=torch.float32),
            torch.as_tensor(offsets, dtype=torch.float32),
        )

    def _loss(
        self, module: nn.Module, batch: torch.Tensor, targets: torch.Tensor | None = None
    ) -> torch.Tensor:
        z, logits = module(batch)
        loss = classification_loss(logits)
        if self.triplet_weight > 0:
            loss = loss + self.triplet_weight * center_triplet_loss(z, float(self.margin))
        return loss

    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        super()._fit_features(features)
        self._set_centers(features)

    def _fine_tune_features(
        self, features: np.ndarray, labels: np.ndarray | None, epochs: int
    ) -> None:
        super()._fine_tune_features(features, labels, epochs)
        self._set_centers(features)

    def _set_centers(self, features: np.ndarray) -> None:
        """c_m: mean feature of each transformation over all training rows, final weights."""
        module = self.module_
        z = predict_batched(
            lambda rows: module.features(rows.double()), features, batch_size=self._score_batch_size
        )
        self.module_.set_centers(torch.as_tensor(z.mean(axis=0), dtype=torch.float32))

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        log_probs = transform_log_probs(module.distances(module.features(batch.double())))
        return -log_probs.sum(dim=1)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
