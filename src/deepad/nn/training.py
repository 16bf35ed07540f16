"""One training loop for every torch detector: mini-batches, Adam, early stopping, seeding.

Detectors supply a network and a ``loss_fn(module, batch) -> scalar`` (semi-supervised
ones ``loss_fn(module, batch, targets)`` and a target per row); this module handles
batching, the validation split, early stopping with best-weight restore, progress display
and reproducibility. Inference goes through ``predict_batched``, which never builds
autograd graphs.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

#: ``loss_fn(module, batch)``, or ``loss_fn(module, batch, batch_targets)`` with targets
LossFn = Callable[..., torch.Tensor]


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global RNG seeded, restoring the caller's RNG state after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def auto_batch_size(n_rows: int) -> int:
    """A batch size that gives small data enough steps and large data efficient batches."""
    return int(min(256, max(16, 2 ** round(math.log2(max(n_rows, 1) / 32)))))


def auto_epochs(
    n_rows: int, batch_size: int, target_steps: int = 3000, min_epochs: int = 10
) -> int:
    """Epochs to reach about ``target_steps`` optimizer steps, kept within [min_epochs, 200]."""
    steps_per_epoch = max(1, math.ceil(n_rows / batch_size))
    return int(min(200, max(min_epochs, math.ceil(target_steps / steps_per_epoch))))


@dataclass
class TrainingConfig:
    """Optimisation settings; ``None`` epochs/batch size are chosen from the data size.

    ``None`` epochs run about ``target_steps`` optimizer steps, within [``min_epochs``, 200].
    """

    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    validation_fraction: float = 0.1
    patience: int = 10
    seed: int = 0
    device: str = "cpu"
    verbose: int = 0
    description: str = "training"
    target_steps: int = 3000
    min_epochs: int = 10
    #: with targets: half of each batch drawn, with replacement, from the rows whose target
    #: is 1 (when the training rows hold some, and some others)
    balance_positive: bool = False


@dataclass
class TrainingHistory:
    """Per-epoch losses and where training stopped."""

    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    epochs_run: int = 0


#: ``TrainingConfig`` fields a detector sets from its params of the same name, when it has them
_CONFIG_PARAMS = (
    "epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "validation_fraction",
    "patience",
    "device",
    "verbose",
)


def training_config(detector: Any, seed: int, **settings: Any) -> TrainingConfig:
    """The ``TrainingConfig`` of a detector: its training params (those it has), the seed,
    its class name as description, then ``settings`` (which win)."""
    params = detector.get_params(deep=False)
    values: dict[str, Any] = {name: params[name] for name in _CONFIG_PARAMS if name in params}
    for name in ("epochs", "batch_size"):
        if values.get(name) is not None:
            values[name] = int(values[name])
    values.update(seed=seed, description=type(detector).__name__)
    values.update(settings)
    return TrainingConfig(**values)


def check_training_params(
    detector: object, counts: tuple[str, ...] = ("epochs", "batch_size")
) -> None:
    """ValueError naming the first bad training param of a detector: ``counts`` must be
    positive ints or None (auto), ``validation_fraction`` in [0, 0.5), ``learning_rate`` > 0."""
    for name in counts:
        value = getattr(detector, name)
        if value is not None and (
            not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1
        ):
            raise ValueError(f"{name} must be a positive int or None (auto), got {value!r}")
    fraction = detector.validation_fraction
    if not 0.0 <= fraction < 0.5:
        raise ValueError(f"validation_fraction must be in [0, 0.5), got {fraction!r}")
    rate = detector.learning_rate
    if not rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {rate!r}")


def resolve_device(device: str) -> torch.device:
    """Map "auto" to CUDA when present, and reject devices this machine does not have."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    return resolved


def _split(
    n_rows: int, fraction: float, rng: np.random.Generator, keep: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Shuffled (train, validation) row indices; rows where ``keep`` is True stay in train."""
    order = rng.permutation(n_rows)
    candidates = order if keep is None else order[~keep[order]]
    n_val = round(len(candidates) * fraction)
    if fraction <= 0 or n_val < 32:  # too few rows to judge generalisation on
        return order, np.empty(0, dtype=np.int64)
    return order[~np.isin(order, candidates[:n_val])], candidates[:n_val]


def _mean_loss(
    module: nn.Module,
    loss_fn: LossFn,
    data: torch.Tensor,
    targets: torch.Tensor | None,
    batch: int,
) -> float:
    module.eval()
    total = 0.0
    with torch.inference_mode():
        for start in range(0, len(data), batch):
            chunk = data[start : start + batch]
            extra = () if targets is None else (targets[start : start + batch],)
            total += float(loss_fn(module, chunk, *extra)) * len(chunk)
    return total / len(data)


class EarlyStopping:
    """Best monitored value and weights so far, and whether patience has run out.

    An epoch counts as an improvement when it beats the best value by 0.1%; training
    stops after ``patience`` epochs without one, but not before ``min_epochs`` epochs.
    """

    def __init__(self, module: nn.Module, patience: int, min_epochs: int = 0) -> None:
        self.module = module
        self.patience = patience
        self.min_epochs = min_epochs
        self.best_value = math.inf
        self.best_epoch = 0
        self.best_state = copy.deepcopy(module.state_dict())
        self.stale = 0

    def should_stop(self, value: float, epoch: int) -> bool:
        """Record epoch ``epoch``'s monitored ``value``; True when training should stop."""
        best = self.best_value
        if value < best - 1e-3 * abs(best) or not math.isfinite(best):
            self.best_value, self.best_epoch, self.stale = value, epoch, 0
            self.best_state = copy.deepcopy(self.module.state_dict())
            return False
        self.stale += 1
        return self.stale >= self.patience and epoch + 1 >= self.min_epochs

    def restore_best(self) -> None:
        """Put the weights of the best epoch back into the module."""
        self.module.load_state_dict(self.best_state)


def fit_module(
    module: nn.Module,
    loss_fn: LossFn,
    data: np.ndarray,
    config: TrainingConfig,
    targets: np.ndarray | None = None,
) -> TrainingHistory:
    """Train ``module`` in place on the rows of ``data`` and return its history.

    A ``validation_fraction`` of rows is held out for early stopping (``patience`` epochs
    without a 0.1% improvement); the best weights seen are restored at the end.

    ``targets`` (optional, one per row) are passed to the loss as
    ``loss_fn(module, batch, batch_targets)`` and travel with their rows through the split
    and the shuffling. Rows whose target is 1 are taken to be the rare labelled ones (known
    anomalies): they are never held out, because a handful of them is worth more as
    training signal than as a noisy validation score, so early stopping judges the loss on
    held-out rows of the other targets only. With ``config.balance_positive`` each batch
    is half rows of the other targets (one pass over them is an epoch) and half rows with
    target 1, drawn with replacement (batches are plain when there are no such rows).
    """
    device = resolve_device(config.device)
    rng = np.random.default_rng(config.seed)
    positive = None if targets is None else np.asarray(targets) == 1
    train_idx, val_idx = _split(len(data), config.validation_fraction, rng, keep=positive)
    tensor = torch.as_tensor(data, dtype=torch.float32)
    train = tensor[train_idx].to(device)
    val = tensor[val_idx].to(device) if len(val_idx) else None
    train_targets = val_targets = None
    if targets is not None:
        target_tensor = torch.as_tensor(np.asarray(targets))
        train_targets = target_tensor[train_idx].to(device)
        val_targets = target_tensor[val_idx].to(device) if len(val_idx) else None
    batch_size = config.batch_size or auto_batch_size(len(train))
    # an epoch is one pass over `pool`, `step` rows a batch; balancing adds as many positives
    pool, step, positives = torch.arange(len(train)), batch_size, None
    if config.balance_positive and positive is not None:
        in_train = positive[train_idx]
        if 0 < in_train.sum() < len(in_train):
            pool = torch.as_tensor(np.flatnonzero(~in_train))
            positives = torch.as_tensor(np.flatnonzero(in_train))
            step = max(1, batch_size // 2)
    epochs = config.epochs or auto_epochs(len(pool), step, config.target_steps, config.min_epochs)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(
        module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    module.to(device)
    history = TrainingHistory()
    stopping = EarlyStopping(module, config.patience)
    show = bool(config.verbose) and sys.stderr.isatty()
    progress = tqdm(range(epochs), desc=config.description, disable=not show, leave=False)
    for epoch in progress:
        module.train()
        order = pool[torch.randperm(len(pool), generator=generator)]
        running, seen = 0.0, 0
        for start in range(0, len(order), step):
            rows = order[start : start + step]
            if positives is not None:
                drawn = torch.randint(len(positives), (len(rows),), generator=generator)
                rows = torch.cat([rows, positives[drawn]])
            rows = rows.to(device)
            batch = train[rows]
            if len(batch) < 2 and len(train) >= 2:  # BatchNorm needs two rows
                continue
            extra = () if train_targets is None else (train_targets[rows],)
            loss = loss_fn(module, batch, *extra)
            if not torch.isfinite(loss.detach()):
                raise FloatingPointError(
                    f"training loss became {loss.item()} at epoch {epoch + 1}; "
                    "try a smaller learning_rate"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += float(loss.detach()) * len(batch)
            seen += len(batch)
        history.train_loss.append(running / max(seen, 1))
        monitored = history.train_loss[-1]
        if val is not None:
            monitored = _mean_loss(module, loss_fn, val, val_targets, max(batch_size, 1024))
            history.validation_loss.append(monitored)
        progress.set_postfix(loss=f"{monitored:.4g}")
        if stopping.should_stop(monitored, epoch):
            break
    history.epochs_run = len(history.train_loss)
    history.best_epoch = stopping.best_epoch
    stopping.restore_best()
    module.eval()
    return history


def predict_batched(
    fn: Callable[[torch.Tensor], torch.Tensor],
    data: np.ndarray,
    *,
    batch_size: int = 4096,
    device: str = "cpu",
) -> np.ndarray:
    """Apply ``fn`` to ``data`` in chunks without autograd; return a float64 NumPy array."""
    target = resolve_device(device)
    tensor = torch.as_tensor(data, dtype=torch.float32)
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(tensor), batch_size):
            outputs.append(fn(tensor[start : start + batch_size].to(target)).double().cpu())
    return torch.cat(outputs).numpy()
