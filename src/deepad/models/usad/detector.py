"""``USAD``: unsupervised anomaly detection on multivariate series (Audibert et al., KDD 2020)."""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.models.series_torch import TorchSeriesDetector
from deepad.models.usad.torch_model import USADNet
from deepad.nn.adversarial import AdversarialConfig, fit_adversarial
from deepad.nn.training import auto_batch_size, auto_epochs, seeded


class _EpochCounter:
    """The paper's epoch n (from 1) for the loss weights, counted from the optimizer steps.

    ``fit_adversarial`` takes one step on each side per batch and tells the losses
    nothing else, so the epoch is ``first + steps // steps_per_epoch``; the discriminator
    loss (called first for each batch) and the generator loss of a batch share it.
    """

    def __init__(self, steps_per_epoch: int, first: int = 1) -> None:
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.first = first
        self.steps = 0

    @property
    def epoch(self) -> int:
        return self.first + self.steps // self.steps_per_epoch


def _steps_per_epoch(n_rows: int, validation_fraction: float, batch_size: int) -> int:
    """Batches ``fit_adversarial`` runs per epoch (its split; it skips a last batch of 1)."""
    n_val = round(n_rows * validation_fraction)
    n_train = n_rows if validation_fraction <= 0 or n_val < 32 else n_rows - n_val
    steps = math.ceil(n_train / batch_size)
    return steps - 1 if n_train % batch_size == 1 and n_train >= 2 else steps


class USAD(TorchSeriesDetector):
    """USAD (Audibert et al., KDD 2020): an encoder ``E`` and two decoders ``D1``, ``D2``
    over flattened windows of ``window`` steps, trained as two autoencoders that also
    play an adversarial game.

    With ``W`` a window and ``n`` the epoch (from 1), ``E`` and ``D1`` minimise
    ``1/n |W - D1(E(W))|^2 + (1 - 1/n) |W - D2(E(D1(E(W))))|^2`` while ``D2`` minimises
    ``1/n |W - D2(E(W))|^2 - (1 - 1/n) |W - D2(E(D1(E(W))))|^2`` (squared errors
    averaged over the window's values): early epochs mostly reconstruct, later ones
    mostly play. ``n`` is counted from the optimizer steps (batches per epoch are known
    in advance). Early stopping watches ``AE1``'s reconstruction error on held-out
    windows (the adversarial losses do not fall steadily).

    The score of step t is per step rather than per window: over the channels of the
    window's last step, the mean of ``alpha * (w - AE1(w))^2 + beta * (w - AE2(AE1(w)))^2``
    (the paper's score, restricted to the last step, so it is causal and the
    per-channel parts sum to it). ``latent_size=None`` picks an eighth of the window's
    values (4 to 64); the hidden layers have half and a quarter of them, as in the paper.
    """

    summary = "USAD, two adversarially trained window autoencoders; reconstruction error per step"
    #: a step runs the encoder twice and the decoders three times, for both players
    _target_steps: ClassVar[int] = 500

    def __init__(
        self,
        window: int = 10,
        smoothing: int = 10,
        latent_size: int | None = None,
        alpha: float = 0.5,
        beta: float = 0.5,
        epochs: int | None = None,
        batch_size: int | None = None,
        max_windows: int | None = 20000,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.1,
        patience: int = 5,
        adapt_every: int | None = None,
        contamination: float = 0.1,
        device: str = "cpu",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.window = window
        self.smoothing = smoothing
        self.latent_size = latent_size
        self.alpha = alpha
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_windows = max_windows
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.adapt_every = adapt_every
        self.contamination = contamination
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # -------------------------------------------------------------- checks
    def _check_params(self) -> None:
        super()._check_params()
        latent = self.latent_size
        if latent is not None and (
            isinstance(latent, bool) or not isinstance(latent, (int, np.integer)) or latent < 1
        ):
            raise ValueError(f"latent_size must be a positive int or None (auto), got {latent!r}")
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if self.alpha + self.beta <= 0:
            raise ValueError(
                f"alpha and beta cannot both be 0 (got alpha={self.alpha!r}, beta={self.beta!r})"
            )
        patience = self.patience
        if (
            isinstance(patience, bool)
            or not isinstance(patience, (int, np.integer))
            or patience < 1
        ):
            raise ValueError(f"patience must be a positive int, got {patience!r}")

    # ------------------------------------------------------------ network
    def _architecture(self, n_channels: int) -> dict[str, Any]:
        n_inputs = self._input_length() * n_channels
        latent = self.latent_size
        if latent is None:
            latent = min(64, max(4, n_inputs // 8))
        return {
            "n_inputs": int(n_inputs),
            "hidden_sizes": [max(n_inputs // 2, int(latent)), max(n_inputs // 4, int(latent))],
            "latent_size": int(latent),
        }

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return USADNet(**architecture)

    def _loss(self, module: nn.Module, windows: torch.Tensor) -> torch.Tensor:
        """``AE1``'s reconstruction error (the early-stopping monitor)."""
        rows = windows.reshape(len(windows), -1)
        first = module.decoder1(module.encoder(rows))
        return torch.mean((rows - first) ** 2)

    def _map_windows(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores in float64 (a float64 copy of the network): float32 matrix products round
        differently with the batch size, and a step must score the same in a batch, in
        ``process`` and alone in ``score_one``."""
        trained = self.module_
        self.module_ = copy.deepcopy(trained).double()
        try:
            return super()._map_windows(scaled)
        finally:
            self.module_ = trained

    def _last_step(
        self, module: nn.Module, windows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        windows = windows.to(next(module.parameters()).dtype)
        shape = windows.shape
        first, _, both = module(windows.reshape(shape[0], -1))
        first = first.view(shape)[:, -1]
        both = both.view(shape)[:, -1]
        target = windows[:, -1]
        error = self.alpha * (target - first) ** 2 + self.beta * (target - both) ** 2
        return error, first

    # ------------------------------------------------------------ training
    def _train(
        self,
        module: USADNet,
        rows: np.ndarray,
        config: AdversarialConfig,
        first_epoch: int,
        monitor: bool,
    ) -> Any:
        fraction = config.validation_fraction if monitor else 0.0
        counter = _EpochCounter(
            _steps_per_epoch(len(rows), fraction, config.batch_size), first_epoch
        )

        def reconstructions(net: USADNet, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
            first, second, both = net(batch)
            return (
                torch.mean((batch - first) ** 2),
                torch.mean((batch - second) ** 2),
                torch.mean((batch - both) ** 2),
            )

        def discriminator_loss(net: USADNet, batch: torch.Tensor) -> torch.Tensor:
            weight = 1.0 / counter.epoch
            _, second, both = reconstructions(net, batch)
            return weight * second - (1.0 - weight) * both

        def generator_loss(net: USADNet, batch: torch.Tensor) -> torch.Tensor:
            weight = 1.0 / counter.epoch
            first, _, both = reconstructions(net, batch)
            counter.steps += 1  # this batch's last call
            return weight * first + (1.0 - weight) * both

        history = fit_adversarial(
            module,
            generator_parameters=module.generator_parameters(),
            discriminator_parameters=module.discriminator_parameters(),
            generator_loss=generator_loss,
            discriminator_loss=discriminator_loss,
            data=rows,
            config=config,
            monitor=self._window_loss if monitor else None,
        )
        if counter.steps != history.epochs_run * counter.steps_per_epoch:
            raise RuntimeError(  # fit_adversarial batches differently than assumed here
                f"USAD's epoch count is off: {counter.steps} steps in {history.epochs_run} "
                f"epochs of {counter.steps_per_epoch}"
            )
        self.epochs_trained_ = first_epoch - 1 + history.epochs_run
        return history

    def _adversarial_config(
        self, seed: int, n_rows: int, epochs: int | None = None
    ) -> AdversarialConfig:
        n_train = n_rows - round(n_rows * self.validation_fraction)
        batch_size = self.batch_size or auto_batch_size(n_train)
        if epochs is None:  # about _target_steps steps, at least 3 epochs (as the base)
            epochs = self.epochs or auto_epochs(n_train, batch_size, self._target_steps, 3)
        return AdversarialConfig(
            epochs=epochs,
            batch_size=batch_size,
            generator_lr=self.learning_rate,
            discriminator_lr=self.learning_rate,
            betas=(0.9, 0.999),  # the authors' code: plain Adam
            weight_decay=self.weight_decay,
            target_steps=self._target_steps,
            validation_fraction=self.validation_fraction,
            patience=int(self.patience),
            min_epochs=3,
            seed=seed,
            device=self.device,
            verbose=self.verbose,
            description=type(self).__name__,
        )

    def _fit_steps(self, scaled: np.ndarray) -> None:
        seed = self._seed()
        self.architecture_ = self._architecture(scaled.shape[1])
        rows = self._training_windows(scaled, self.max_windows, seed)
        with seeded(seed):
            module = self._build_module(self.architecture_)
        config = self._adversarial_config(seed, len(rows))
        self.history_ = self._train(module, rows, config, first_epoch=1, monitor=True)
        self.module_ = module.cpu().eval()

    def _adapt(self, recent: np.ndarray) -> None:
        """One epoch (at most 50 batches of 64 windows) continuing the schedule's n."""
        if len(recent) < self._input_length() + 1:
            return
        seed = self._seed()
        rows = self._training_windows(recent, 50 * 64, seed)
        config = self._adversarial_config(seed + self.stream_seen_, len(rows), epochs=1)
        config.validation_fraction = 0.0
        config.batch_size = 64
        module = self.module_
        self._train(module, rows, config, first_epoch=self.epochs_trained_ + 1, monitor=False)
        self.module_ = module.cpu().eval()

    # --------------------------------------------------------- persistence
    def _export_series(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super()._export_series()
        return {**meta, "epochs_trained": int(self.epochs_trained_)}, arrays

    def _import_series(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._import_series(meta, arrays)
        self.epochs_trained_ = int(meta.get("epochs_trained", 1))
