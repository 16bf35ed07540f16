"""``DevNet`` detector: score = deviation of a learned scalar score from a Gaussian prior."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from deepad.models.devnet.torch_model import DeviationNet, deviation_loss
from deepad.models.torch_base import FEW_LABEL_TRAINING, TorchDetector

#: reference scores drawn from the N(0, 1) prior, as in the paper
N_REFERENCE = 5000


class DevNet(TorchDetector):
    """Deviation Networks (Pang, Shen & van den Hengel, KDD 2019).

    An MLP gives each row one score, read as its deviation from the mean of 5,000 draws
    of a N(0, 1) prior, in units of their standard deviation. The deviation loss pulls
    unlabelled rows to deviation 0 and pushes rows labelled 1 in ``fit(X, y)`` (known
    anomalies) to at least ``margin``. Rows labelled 0 or -1 both count as unlabelled
    (the anomalies hidden among them are the contamination the method tolerates). Half of
    every batch is drawn, with replacement, from the labelled anomalies, as in the paper.

    The score is the absolute deviation (the paper uses the signed one): training puts
    normal rows at 0 from both sides, so a row far below the reference is as unlike them
    as one far above, and rows far outside the training data (whose signed score is an
    arbitrary extrapolation) do not come out as the most normal.

    DevNet needs at least one row labelled 1; without, use an unsupervised detector.
    ``epochs=None`` runs about 150 optimizer steps (at least one epoch) instead of the
    usual 3,000: trained longer, the network memorises the few labelled anomalies and test
    AUROC falls (see README). ``validation_fraction`` defaults to 0 (no early stopping):
    the held-out rows would all be unlabelled, and their loss is lowest when the anomalies
    hidden among them score low, the opposite of what DevNet should learn. When set, rows
    labelled 1 are never held out.
    """

    summary = "Deviation Network, scalar scores; learns from a few rows labelled 1 in y (required)"
    uses_labels = True
    _training_overrides = FEW_LABEL_TRAINING
    requires_labels = True

    def __init__(
        self,
        hidden_dims: list[int] | None = None,
        margin: float = 5.0,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        validation_fraction: float = 0.0,
        patience: int = 10,
        contamination: float = 0.1,
        device: str = "cpu",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.hidden_dims = hidden_dims
        self.margin = margin
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
        if not (isinstance(self.margin, (int, float)) and self.margin > 0):
            raise ValueError(f"margin must be > 0, got {self.margin!r}")

    def _architecture(self, n_features: int) -> dict[str, Any]:
        hidden = [20] if self.hidden_dims is None else [int(w) for w in self.hidden_dims]
        return {"n_features": n_features, "hidden_dims": hidden}

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return DeviationNet(**architecture)

    def _prepare(self, module: nn.Module, features: np.ndarray, seed: int) -> None:
        draws = np.random.default_rng(seed).standard_normal(N_REFERENCE)
        module.set_reference(torch.as_tensor(draws, dtype=torch.float32))

    def _targets(self, labels: np.ndarray | None) -> np.ndarray | None:
        if labels is None or not (labels == 1).any():
            raise ValueError(
                "DevNet needs at least one row labelled 1 in y; "
                "use an unsupervised detector otherwise"
            )
        if (labels == 1).all():
            raise ValueError(
                "DevNet needs rows labelled 0 or -1 in y as well, to learn what normal is"
            )
        return (labels == 1).astype(np.int64)

    def _loss(
        self, module: nn.Module, batch: torch.Tensor, targets: torch.Tensor | None = None
    ) -> torch.Tensor:
        assert targets is not None  # _targets always gives some
        return deviation_loss(module(batch), targets, float(self.margin))

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return module(batch).abs()
