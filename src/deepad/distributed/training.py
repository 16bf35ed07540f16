"""``fit``: train a torch table detector data-parallel on Ray Train; the same bundle comes out.

Everything but the gradient steps runs as ``detector.fit`` always does, in this process:
the preprocessing is learned, the calibration rows are held out, the network is built and
seeded. Then the training rows are split in ``num_workers`` shards and Ray Train starts one
worker per shard with a torch.distributed (gloo) process group. Every worker starts from
the same weights, takes the same number of steps per epoch on its own shard (batches of
``batch_size / num_workers`` rows, so a step sees about one local batch in all), and after
each backward pass the gradients are averaged over the workers with an all-reduce, as
PyTorch's DistributedDataParallel does, so all workers keep identical weights. Validation
(the same held-out rows everywhere) decides early stopping identically on every worker;
worker 0 hands the best weights back as a safetensors checkpoint. Scoring and calibration
then run here, so the bundle is the one a local fit writes.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepad.distributed.scoring import _cores, ray_session
from deepad.nn.training import TrainingConfig, TrainingHistory, _split, auto_batch_size, auto_epochs

_WEIGHTS = "model.safetensors"


def fit(
    detector: Any,
    X: Any,
    y: Any = None,
    *,
    num_workers: int = 2,
    address: str | None = None,
    calibration_size: int | float | str = "auto",
) -> Any:
    """Fit ``detector`` (a torch table detector) on ``X`` with ``num_workers`` Ray Train
    workers; returns the fitted detector, saved like any other."""
    from deepad.models.torch_base import TorchDetector

    if not isinstance(detector, TorchDetector):
        raise ValueError(
            f"{type(detector).__name__} does not train data-parallel; fit it on a sample of "
            "the rows instead (deepad.distributed.sample_rows, deepad fit --sample N)"
        )
    if detector.uses_labels:
        raise ValueError(f"{type(detector).__name__} learns from labels; fit it on one machine")
    if not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"num_workers must be a positive int, got {num_workers!r}")
    with ray_session(address, max(num_workers + 1, _cores())):
        try:
            detector._trainer = lambda module, loss, data, config, targets=None: _train(
                module, loss, data, config, num_workers
            )
            detector.fit(X, y, calibration_size=calibration_size)
        finally:
            detector.__dict__.pop("_trainer", None)
    return detector


def _train(
    module: torch.nn.Module,
    loss_fn: Any,
    data: np.ndarray,
    config: TrainingConfig,
    num_workers: int,
) -> TrainingHistory:
    """``fit_module``'s job, on Ray Train; ``module`` ends with the best weights."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from safetensors.torch import load_file

    rng = np.random.default_rng(config.seed)
    train_idx, val_idx = _split(len(data), config.validation_fraction, rng, keep=None)
    batch_size = config.batch_size or auto_batch_size(len(train_idx))
    epochs = config.epochs or auto_epochs(
        len(train_idx), batch_size, config.target_steps, config.min_epochs
    )
    shards = np.array_split(rng.permutation(train_idx), num_workers)
    settings = {
        "module": module.cpu(),
        "loss_fn": loss_fn,
        "shards": [ray.put(np.ascontiguousarray(data[s], dtype=np.float32)) for s in shards],
        "validation": ray.put(np.ascontiguousarray(data[val_idx], dtype=np.float32)),
        "steps": max(1, math.ceil(max(len(s) for s in shards) / max(1, batch_size // num_workers))),
        "epochs": int(epochs),
        "patience": int(config.patience),
        "learning_rate": float(config.learning_rate),
        "weight_decay": float(config.weight_decay),
        "seed": int(config.seed),
    }
    with tempfile.TemporaryDirectory(prefix="deepad-ray-train-") as storage:
        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config=settings,
            scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=False),
            run_config=RunConfig(storage_path=storage, name="deepad-fit"),
        )
        result = trainer.fit()
        if result.checkpoint is None:
            raise RuntimeError("Ray Train returned no weights; see the Ray logs above")
        with result.checkpoint.as_directory() as folder:
            module.load_state_dict(load_file(str(Path(folder) / _WEIGHTS)))
    metrics = result.metrics
    history = TrainingHistory()
    history.train_loss = list(metrics["train_loss"])
    history.validation_loss = list(metrics["validation_loss"])
    history.epochs_run = len(history.train_loss)
    history.best_epoch = int(metrics["best_epoch"])
    module.eval()
    return history


def _worker_loop(settings: dict[str, Any]) -> None:
    """One Ray Train worker: its shard, averaged gradients, identical early stopping."""
    import ray
    import ray.train
    import torch.distributed as dist
    from safetensors.torch import save_file

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.set_num_threads(1)
    module: torch.nn.Module = settings["module"]
    loss_fn = settings["loss_fn"]
    rows = torch.from_numpy(ray.get(settings["shards"][rank]))
    validation = torch.from_numpy(ray.get(settings["validation"]))
    parameters = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(
        parameters, lr=settings["learning_rate"], weight_decay=settings["weight_decay"]
    )
    generator = torch.Generator().manual_seed(settings["seed"] + rank)
    train_loss, validation_loss = [], []
    best, best_epoch, waited = math.inf, 0, 0
    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    for epoch in range(settings["epochs"]):
        module.train()
        order = torch.randperm(len(rows), generator=generator)
        running, seen = 0.0, 0
        for batch_rows in torch.tensor_split(order, settings["steps"]):
            batch = rows[batch_rows]
            loss = loss_fn(module, batch) if len(batch) > 1 else None
            optimizer.zero_grad(set_to_none=False)
            if loss is not None:
                loss.backward()
                running += float(loss.detach()) * len(batch)
                seen += len(batch)
            _average_gradients(parameters, world, dist)
            optimizer.step()
        module.eval()
        with torch.no_grad():
            monitored = float(loss_fn(module, validation)) if len(validation) > 1 else running
        train_loss.append(running / max(seen, 1))
        validation_loss.append(monitored)
        if monitored < best * (1 - 1e-3):
            best, best_epoch, waited = monitored, epoch, 0
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            waited += 1
            if waited >= settings["patience"]:
                break
    metrics = {
        "train_loss": train_loss,
        "validation_loss": validation_loss,
        "best_epoch": best_epoch,
    }
    if rank == 0:
        with tempfile.TemporaryDirectory() as folder:
            save_file(
                {k: v.contiguous() for k, v in best_state.items()}, str(Path(folder) / _WEIGHTS)
            )
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
    else:
        ray.train.report(metrics)


def _average_gradients(parameters: list[torch.nn.Parameter], world: int, dist: Any) -> None:
    """Average the gradients over the workers in one all-reduce of one flat tensor (every
    worker sends every gradient, zeros where a parameter got none)."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for parameter in parameters:
        size = parameter.numel()
        parameter.grad = flat[offset : offset + size].view_as(parameter).clone()
        offset += size
