"""``TorchDetector``: what every PyTorch detector shares on top of ``BaseDetector``.

A subclass builds its network from the encoded input width (``_build_module``), gives a
training loss (``_loss``) and a per-row score (``_score_batch``). Training, seeding,
batched inference and the (de)serialisation of weights are handled here. Semi-supervised
subclasses (``uses_labels``) also turn the labels of ``fit(X, y)`` into per-row training
targets (``_targets``), which then reach ``_loss`` as a third argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.core.base import BaseDetector
from deepad.models.adversarial import EXPOSURE_WEIGHT, check_adversarial_budget, exposure_loss
from deepad.models.trimming import check_trim_fraction, trusted_rows
from deepad.nn.training import (
    TrainingConfig,
    check_training_params,
    fit_module,
    predict_batched,
    resolve_device,
    seeded,
    training_config,
)
from deepad.nn.weights import module_arrays, restore_module


def auto_widths(n_features: int) -> tuple[list[int], int]:
    """Default hidden widths and bottleneck size for an MLP over ``n_features`` inputs.

    Two hidden layers of width about twice the input (between 32 and 256), halving, and
    a bottleneck of about a quarter of the input (between 2 and 32).
    """
    first = int(min(256, max(32, 2 ** math.ceil(math.log2(max(n_features, 2) * 2)))))
    latent = int(min(32, max(2, round(n_features / 4))))
    return [first, max(first // 2, latent)], latent


#: training schedule of the detectors that learn from a few labelled anomalies: half of
#: each batch drawn from the rows labelled 1, and a short budget (about 150 steps), since
#: longer training memorises the few labels and AUROC falls (DeepSAD/DevNet READMEs)
FEW_LABEL_TRAINING: dict[str, Any] = {
    "balance_positive": True,
    "target_steps": 150,
    "min_epochs": 1,
}


class TorchDetector(BaseDetector):
    """Shared machinery of the deep detectors; not used directly."""

    #: ``TrainingConfig`` fields a subclass sets differently from the shared defaults
    _training_overrides: ClassVar[dict[str, Any]] = {}
    #: rows per inference chunk in ``_score_features``
    _score_batch_size: ClassVar[int] = 4096
    #: the score is a differentiable torch function of the encoded row (``_score_tensor``)
    differentiable: ClassVar[bool] = True
    #: rows per integrated-gradients batch (each row goes through once per quadrature step)
    _gradient_chunk_rows: ClassVar[int] = 512
    default_explain_method: ClassVar[str] = "integrated_gradients"
    #: training is the shared loop over ``_loss``, so it can resume (fine-tuning after pruning)
    fine_tunable: ClassVar[bool] = True

    def _check_params(self) -> None:
        super()._check_params()
        check_training_params(self)
        if hasattr(self, "trim_fraction"):
            check_trim_fraction(self.trim_fraction)
        if hasattr(self, "adversarial_budget"):
            check_adversarial_budget(self.adversarial_budget)

    # ---------------------------------------------------------- subclass API
    def _architecture(self, n_features: int) -> dict[str, Any]:
        """JSON description of the network, enough for ``_build_module`` to rebuild it.

        The default covers the MLP detectors: input width, hidden widths and bottleneck,
        each from the params when set and from ``auto_widths`` otherwise.
        """
        hidden, latent = auto_widths(n_features)
        return {
            "n_features": n_features,
            "hidden_dims": list(self.hidden_dims) if self.hidden_dims is not None else hidden,
            "latent_dim": int(self.latent_dim) if self.latent_dim is not None else latent,
        }

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        raise NotImplementedError

    def _loss(
        self, module: nn.Module, batch: torch.Tensor, targets: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean training loss of ``batch``; ``targets`` only when ``_targets`` gives some."""
        raise NotImplementedError

    def _targets(self, labels: np.ndarray | None) -> np.ndarray | None:
        """Per-row training targets from the fit labels, or None to train without (default).

        ``labels`` is None unless the class sets ``uses_labels`` and ``fit`` got a ``y``.
        """
        return None

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _prepare(self, module: nn.Module, features: np.ndarray, seed: int) -> None:
        """Hook run after the network is built and before training (e.g. set a centre)."""

    # -------------------------------------------------------------- training
    def _training_config(self, seed: int, description: str | None = None) -> TrainingConfig:
        return training_config(
            self, seed, description=description or type(self).__name__, **self._training_overrides
        )

    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        seed = self._seed()
        targets = self._targets(labels)
        features, targets = self._trimmed(features, targets, seed)
        self.architecture_ = self._architecture(features.shape[1])
        with seeded(seed):
            module = self._build_module(self.architecture_)
            self._prepare(module, features, seed)
            config = self._training_config(seed)
            train = getattr(self, "_trainer", None) or fit_module  # deepad.distributed.fit
            loss = self._training_loss()
            self.history_ = train(module, loss, features, config, targets=targets)
        self.module_ = module.cpu().eval()

    def _fine_tune_features(
        self, features: np.ndarray, labels: np.ndarray | None, epochs: int
    ) -> None:
        """Resume training the fitted network for ``epochs`` (e.g. after pruning it)."""
        seed = self._seed()
        config = replace(self._training_config(seed), epochs=int(epochs))
        module = self.module_.train()
        features, targets = self._trimmed(features, self._targets(labels), seed)
        loss = self._training_loss()
        self.history_ = fit_module(module, loss, features, config, targets=targets)
        self.module_ = module.cpu().eval()

    def _training_loss(self) -> Callable[..., torch.Tensor]:
        """The loss training minimises: ``_loss``, plus the exposure term of
        ``deepad.models.adversarial`` when ``adversarial_budget`` is set."""
        return self._exposed_loss if getattr(self, "adversarial_budget", 0.0) else self._loss

    def _exposed_loss(
        self, module: nn.Module, batch: torch.Tensor, *targets: torch.Tensor
    ) -> torch.Tensor:
        loss = self._loss(module, batch, *targets)
        budget = float(self.adversarial_budget)
        if torch.is_grad_enabled():
            return loss + EXPOSURE_WEIGHT * exposure_loss(self._score_batch, module, batch, budget)
        # validation: early stopping judges the whole objective (the plain loss alone
        # rises as the exposure term is learnt, and stopping would keep an untrained
        # network), on the same pseudo-anomalies each epoch
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            exposure = exposure_loss(self._score_batch, module, batch, budget)
        return loss + EXPOSURE_WEIGHT * exposure

    def _trimmed(
        self, features: np.ndarray, targets: np.ndarray | None, seed: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The rows to train on under ``trim_fraction`` (all rows when it is 0 or unset);
        ``trimmed_rows_`` says how many were left out."""
        fraction = getattr(self, "trim_fraction", 0.0)
        self.trimmed_rows_ = 0
        if not fraction:
            return features, targets
        rows = trusted_rows(features, fraction, seed, targets)
        self.trimmed_rows_ = len(features) - len(rows)
        return features[rows], None if targets is None else targets[rows]

    def _score_features(self, features: np.ndarray) -> np.ndarray:
        return self._map_batched(self._score_batch, features)

    def _map_batched(
        self, fn: Callable[[nn.Module, torch.Tensor], torch.Tensor], features: np.ndarray
    ) -> np.ndarray:
        """``fn(module, batch)`` over the encoded rows in chunks on the chosen device."""
        device = resolve_device(self.device)
        if device.type == "cpu":  # the fitted module lives on the CPU: no moves per call
            return predict_batched(
                lambda batch: fn(self.module_, batch),
                features,
                batch_size=self._score_batch_size,
                device="cpu",
            )
        module = self.module_.to(device)
        try:
            return predict_batched(
                lambda batch: fn(module, batch),
                features,
                batch_size=self._score_batch_size,
                device=str(device),
            )
        finally:
            self.module_ = module.cpu()

    def _residual_explanation(
        self, features: np.ndarray, weight: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """``weight * (reconstruction - row)**2`` per encoded feature, and the
        reconstruction (the first output of ``module_``): the ``residual`` method."""

        def reconstruct(module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
            output = module(batch)
            return output[0] if isinstance(output, tuple) else output

        reconstruction = self._map_batched(reconstruct, features)
        return weight * (reconstruction - features) ** 2, reconstruction

    def _score_tensor(self, batch: torch.Tensor) -> torch.Tensor:
        """Scores of an encoded float32 batch with autograd on, for gradient explanations."""
        self.module_.eval()
        return self._score_batch(self.module_, batch)

    def _scoring_module(self) -> nn.Module:
        """The whole score as one torch module of the encoded float32 rows (eval mode),
        for ONNX export; a detector that finishes its score outside torch overrides it."""
        return _ScoreModule(self._score_batch, self.module_.eval())

    # --------------------------------------------------------- persistence
    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"architecture": self.architecture_}, module_arrays(self.module_)

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.architecture_ = meta["architecture"]
        self.module_ = restore_module(lambda: self._build_module(self.architecture_), arrays)


class _ScoreModule(nn.Module):
    """``score_batch(network, rows)`` as a module of its own, so it can be traced."""

    def __init__(
        self, score_batch: Callable[[nn.Module, torch.Tensor], torch.Tensor], network: nn.Module
    ) -> None:
        super().__init__()
        self.network = network
        self._score_batch = score_batch

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self._score_batch(self.network, rows)
