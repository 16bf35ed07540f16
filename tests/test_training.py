"""The shared torch training loop: progress display, early stopping, auto sizes."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import torch
from torch import nn

import deepad
from deepad.nn.training import (
    TrainingConfig,
    auto_batch_size,
    auto_epochs,
    fit_module,
    predict_batched,
    resolve_device,
)


def _mse(module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    return torch.mean((module(batch) - batch) ** 2)


@pytest.fixture
def data() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("verbose", "tty", "shown"), [(1, True, True), (1, False, False), (0, True, False)]
)
def test_progress_bar_only_on_a_terminal_when_verbose(monkeypatch, data, verbose, tty, shown):
    stream = _FakeTTY() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    deepad.AutoEncoder(epochs=2, verbose=verbose, random_state=0).fit(data)
    assert ("AutoEncoder" in stream.getvalue()) is shown


def test_early_stopping_stops_and_restores_best_weights(data):
    torch.manual_seed(0)
    module = nn.Linear(4, 4)
    config = TrainingConfig(epochs=500, patience=3, learning_rate=0.05, seed=0)
    history = fit_module(module, _mse, data, config)
    assert history.epochs_run < 500
    assert history.best_epoch == int(np.argmin(history.validation_loss))
    assert history.epochs_run == history.best_epoch + 1 + config.patience
    # the restored weights give the best validation loss that was recorded
    # (the loop holds out the first 10% of a permutation drawn with the seed)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    val = torch.as_tensor(data[order[:40]])
    with torch.inference_mode():
        assert float(_mse(module, val)) == pytest.approx(min(history.validation_loss), rel=1e-5)


def test_too_few_rows_train_without_validation():
    tiny = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    history = fit_module(nn.Linear(3, 3), _mse, tiny, TrainingConfig(epochs=5, seed=0))
    assert history.validation_loss == []
    assert history.epochs_run >= 1


def test_diverging_training_raises_clear_error(data):
    def exploding(module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return torch.mean(module(batch)) * float("inf")

    with pytest.raises(FloatingPointError, match="smaller learning_rate"):
        fit_module(nn.Linear(4, 1), exploding, data, TrainingConfig(epochs=2))


def test_predict_batched_builds_no_graph_and_matches_one_pass(data):
    module = nn.Linear(4, 2)
    seen_grad_mode = []

    def forward(batch: torch.Tensor) -> torch.Tensor:
        seen_grad_mode.append(torch.is_grad_enabled())
        return module(batch).sum(dim=1)

    batched = predict_batched(forward, data, batch_size=64)
    with torch.no_grad():
        whole = module(torch.as_tensor(data)).sum(dim=1).double().numpy()
    np.testing.assert_allclose(batched, whole, rtol=1e-6)
    assert batched.dtype == np.float64
    assert len(seen_grad_mode) == 7 and not any(seen_grad_mode)


def test_auto_sizes_follow_the_data():
    assert auto_batch_size(100) == 16
    assert auto_batch_size(1_000_000) == 256
    assert auto_epochs(100, 16) == 200  # small data: capped
    assert auto_epochs(1_000_000, 256) == 10  # big data: floor
    assert 10 < auto_epochs(5_000, 128) < 200


def test_cuda_request_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
