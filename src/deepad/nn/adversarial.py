"""The adversarial training loop: two optimisers, alternating discriminator and generator steps.

GAN-style detectors cannot use ``fit_module``'s single optimiser, so this module is its
twin for them: the caller gives the parameters of each side and one loss per side,
``discriminator_loss(module, batch)`` and ``generator_loss(module, batch)``, and each
mini-batch takes one Adam step on the discriminator, then one on the generator
(encoders included). Batching, seeding, auto batch size and epochs, progress display and
the finiteness check behave as in ``fit_module``; inference goes through
``deepad.nn.training.predict_batched`` as for every other network.

GAN losses do not fall monotonically, so they are useless for early stopping. When a
``monitor(module, batch)`` is given (e.g. a reconstruction error), a held-out
``validation_fraction`` of rows is scored with it after every epoch and the weights of
the best epoch are restored at the end; training stops after ``patience`` epochs without
a 0.1% improvement, but never before ``min_epochs``. Without a monitor every epoch runs
and the last weights are kept.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from deepad.nn.training import (
    EarlyStopping,
    auto_batch_size,
    auto_epochs,
    resolve_device,
    seeded,
)

LossFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]


@dataclass
class AdversarialConfig:
    """Settings of ``fit_adversarial``; ``None`` epochs/batch size are chosen from the data.

    ``betas=(0.5, 0.999)`` is the usual GAN choice for Adam (DCGAN, ALAD): a shorter
    momentum memory keeps the two players from overshooting each other.
    """

    epochs: int | None = None
    batch_size: int | None = None
    generator_lr: float = 1e-4
    discriminator_lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    target_steps: int = 3000
    validation_fraction: float = 0.1
    patience: int = 10
    min_epochs: int = 0
    seed: int = 0
    device: str = "cpu"
    verbose: int = 0
    description: str = "adversarial training"


@dataclass
class AdversarialHistory:
    """Per-epoch mean losses of both players, the monitored validation value, where it stopped."""

    discriminator_loss: list[float] = field(default_factory=list)
    generator_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    epochs_run: int = 0


def _split(n_rows: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """(train, validation) row indices; no validation rows when there would be < 32."""
    order = rng.permutation(n_rows)
    n_val = round(n_rows * fraction)
    if fraction <= 0 or n_val < 32:
        return order, np.empty(0, dtype=np.int64)
    return order[n_val:], order[:n_val]


def _check_finite(loss: torch.Tensor, side: str, epoch: int) -> None:
    if not torch.isfinite(loss.detach()):
        raise FloatingPointError(
            f"{side} loss became {loss.item()} at epoch {epoch + 1}; try a smaller learning_rate"
        )


def _mean_monitor(module: nn.Module, monitor: LossFn, data: torch.Tensor, batch: int) -> float:
    module.eval()
    total = 0.0
    with torch.inference_mode():
        for start in range(0, len(data), batch):
            chunk = data[start : start + batch]
            total += float(monitor(module, chunk)) * len(chunk)
    return total / len(data)


def fit_adversarial(
    module: nn.Module,
    *,
    generator_parameters: Iterable[nn.Parameter],
    discriminator_parameters: Iterable[nn.Parameter],
    generator_loss: LossFn,
    discriminator_loss: LossFn,
    data: np.ndarray,
    config: AdversarialConfig,
    monitor: LossFn | None = None,
) -> AdversarialHistory:
    """Train ``module`` in place, alternating discriminator and generator steps per batch.

    The two parameter groups must not overlap. Randomness inside the losses (noise,
    dropout) draws on torch's global RNG, seeded here with ``config.seed`` and restored
    afterwards, so two calls with the same seed give the same weights on CPU.
    """
    generator_parameters = list(generator_parameters)
    discriminator_parameters = list(discriminator_parameters)
    shared = {id(p) for p in generator_parameters} & {id(p) for p in discriminator_parameters}
    if shared:
        raise ValueError("generator and discriminator parameter groups overlap")
    device = resolve_device(config.device)
    rng = np.random.default_rng(config.seed)
    fraction = config.validation_fraction if monitor is not None else 0.0
    train_idx, val_idx = _split(len(data), fraction, rng)
    tensor = torch.as_tensor(data, dtype=torch.float32)
    train = tensor[train_idx].to(device)
    val = tensor[val_idx].to(device) if len(val_idx) else None
    batch_size = config.batch_size or auto_batch_size(len(train))
    epochs = config.epochs or auto_epochs(len(train), batch_size, config.target_steps)
    module.to(device)
    # the optimisers hold references to the (now moved) parameters
    opt_g = torch.optim.Adam(
        generator_parameters,
        lr=config.generator_lr,
        betas=config.betas,
        weight_decay=config.weight_decay,
    )
    opt_d = torch.optim.Adam(
        discriminator_parameters,
        lr=config.discriminator_lr,
        betas=config.betas,
        weight_decay=config.weight_decay,
    )
    history = AdversarialHistory()
    stopping = EarlyStopping(module, config.patience, config.min_epochs)
    show = bool(config.verbose) and sys.stderr.isatty()
    with seeded(config.seed):
        generator = torch.Generator().manual_seed(config.seed)
        progress = tqdm(range(epochs), desc=config.description, disable=not show, leave=False)
        for epoch in progress:
            module.train()
            order = torch.randperm(len(train), generator=generator).to(device)
            d_running = g_running = 0.0
            seen = 0
            for start in range(0, len(train), batch_size):
                batch = train[order[start : start + batch_size]]
                if len(batch) < 2 and len(train) >= 2:  # BatchNorm needs two rows
                    continue
                d_loss = discriminator_loss(module, batch)
                _check_finite(d_loss, "discriminator", epoch)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()

                g_loss = generator_loss(module, batch)
                _check_finite(g_loss, "generator", epoch)
                opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                opt_g.step()
                opt_d.zero_grad(set_to_none=True)  # the generator's backward reached D too

                d_running += float(d_loss.detach()) * len(batch)
                g_running += float(g_loss.detach()) * len(batch)
                seen += len(batch)
            history.discriminator_loss.append(d_running / max(seen, 1))
            history.generator_loss.append(g_running / max(seen, 1))
            if val is None:
                progress.set_postfix(
                    d=f"{history.discriminator_loss[-1]:.4g}",
                    g=f"{history.generator_loss[-1]:.4g}",
                )
                continue
            value = _mean_monitor(module, monitor, val, max(batch_size, 1024))
            history.validation_loss.append(value)
            progress.set_postfix(monitor=f"{value:.4g}")
            if stopping.should_stop(value, epoch):
                break
    history.epochs_run = len(history.generator_loss)
    if val is None:
        history.best_epoch = history.epochs_run - 1
    else:
        history.best_epoch = stopping.best_epoch
        stopping.restore_best()
    module.eval()
    return history
