"""``TCN``: next-step prediction error of a causal dilated convolution network."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.models.series_torch import TorchSeriesDetector
from deepad.models.tcn.torch_model import TCNNet, receptive_field
from deepad.nn.training import TrainingConfig, resolve_device
from deepad.preprocess.series import left_pad

#: predictions per training window: windows are ``R + _TRAIN_PREDICTIONS`` steps long
_TRAIN_PREDICTIONS = 64
#: dilations with ``dilations=None``: receptive field 63 with kernel 3
DEFAULT_DILATIONS = (1, 2, 4, 8, 16)
#: outputs per fully convolutional scoring pass
_SCORE_CHUNK = 8192


class TCN(TorchSeriesDetector):
    """A temporal convolution network (Bai et al., 2018) predicts step t from the R steps
    before it; the score of t is the mean squared prediction error over the channels.

    Residual blocks of one dilated causal convolution each (``kernel_size``; one block
    per entry of ``dilations``, None for 1, 2, 4, 8, 16), with *valid* convolutions (no
    padding), so the receptive field is ``R = 1 + sum((kernel_size - 1) * d)`` (63 by
    default) and the window is ``R + 1`` steps (``window``: read-only, it follows from
    the architecture). Being fully convolutional, one pass over a long series (in
    chunks) scores every step, and one training window of ``R + 64`` steps teaches 64
    predictions. ``hidden_size=None`` picks 32 for up to 16 channels, 64 above.
    """

    summary = "temporal convolution network forecaster; prediction error per time step"
    #: a training window holds 64 predictions, so small batches carry enough signal
    _default_batch_size: ClassVar[int] = 32
    _target_steps: ClassVar[int] = 400

    def __init__(
        self,
        dilations: list[int] | None = None,
        smoothing: int = 10,
        kernel_size: int = 3,
        hidden_size: int | None = None,
        dropout: float = 0.1,
        epochs: int | None = None,
        batch_size: int | None = None,
        max_windows: int | None = 5000,
        learning_rate: float = 2e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.1,
        patience: int = 5,
        adapt_every: int | None = None,
        contamination: float = 0.1,
        device: str = "cpu",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.dilations = dilations
        self.smoothing = smoothing
        self.kernel_size = kernel_size
        self.hidden_size = hidden_size
        self.dropout = dropout
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

    @property
    def window(self) -> int:
        """Steps per scored window: the receptive field plus the scored step."""
        return self._input_length()

    # --------------------------------------------------------------- hooks
    def _input_length(self) -> int:
        return receptive_field(int(self.kernel_size), self._dilations()) + 1

    def _dilations(self) -> list[int]:
        chosen = DEFAULT_DILATIONS if self.dilations is None else self.dilations
        return [int(d) for d in chosen]

    def _check_params(self) -> None:
        kernel = self.kernel_size
        if isinstance(kernel, bool) or not isinstance(kernel, (int, np.integer)) or kernel < 2:
            raise ValueError(f"kernel_size must be an int >= 2, got {kernel!r}")
        dilations = self.dilations
        if dilations is not None and (
            isinstance(dilations, (str, bytes))
            or not isinstance(dilations, (list, tuple))
            or not dilations
            or any(
                isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
                for d in dilations
            )
        ):
            raise ValueError(
                f"dilations must be None or a non-empty list of positive ints, got {dilations!r}"
            )
        hidden = self.hidden_size
        if hidden is not None and (
            isinstance(hidden, bool) or not isinstance(hidden, (int, np.integer)) or hidden < 1
        ):
            raise ValueError(f"hidden_size must be a positive int or None (auto), got {hidden!r}")
        if (
            isinstance(self.dropout, bool)
            or not isinstance(self.dropout, (int, float))
            or not 0.0 <= self.dropout < 1.0
        ):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        super()._check_params()  # the window it checks follows from the values above

    def _architecture(self, n_channels: int) -> dict[str, Any]:
        hidden = self.hidden_size
        if hidden is None:
            hidden = 32 if n_channels <= 16 else 64
        return {
            "n_channels": n_channels,
            "hidden_size": int(hidden),
            "kernel_size": int(self.kernel_size),
            "dilations": self._dilations(),
            "dropout": float(self.dropout),
        }

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return TCNNet(**architecture)

    def _config(self, seed: int, epochs: int | None = None) -> TrainingConfig:
        config = super()._config(seed, epochs)
        if config.batch_size is None:
            config.batch_size = self._default_batch_size
        return config

    def _training_windows(self, scaled: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
        """Windows of ``R + 64`` steps (fewer when the series is short), flattened."""
        length = min(self._input_length() - 1 + _TRAIN_PREDICTIONS, len(scaled))
        view = np.lib.stride_tricks.sliding_window_view(scaled, length, axis=0)
        view = view.transpose(0, 2, 1)
        starts = np.arange(len(view))
        if limit is not None and len(starts) > limit:
            starts = np.sort(np.random.default_rng(seed).choice(starts, limit, replace=False))
        return np.ascontiguousarray(view[starts], dtype=np.float32).reshape(len(starts), -1)

    def _window_loss(self, module: nn.Module, rows: torch.Tensor) -> torch.Tensor:
        return self._loss(module, rows.view(len(rows), -1, self.architecture_["n_channels"]))

    def _loss(self, module: nn.Module, windows: torch.Tensor) -> torch.Tensor:
        reach = self._input_length() - 1
        return torch.mean((module(windows[:, :-1]) - windows[:, reach:]) ** 2)

    def _last_step(
        self, module: nn.Module, windows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        windows = windows.to(next(module.parameters()).dtype)
        guess = module(windows[:, :-1])[:, -1]
        return (guess - windows[:, -1]) ** 2, guess

    # ------------------------------------------------- fully convolutional scoring
    def _map_windows(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The base's one-window-per-step scoring (kept as the reference the fully
        convolutional path is tested against), in float64 like that path."""
        trained = self.module_
        self.module_ = copy.deepcopy(trained).double()
        try:
            return super()._map_windows(scaled)
        finally:
            self.module_ = trained

    def _map_convolution(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel squared error and prediction of every step, from one network pass
        per chunk over the left-padded series (the same numbers as one window per step).

        In float64 (a float64 copy of the network): float32 convolutions round differently
        with the length of the input, and a step must score the same in a long series, in
        ``process`` and alone in ``score_one``.
        """
        reach = self._input_length() - 1
        n_steps, n_channels = scaled.shape
        inputs = left_pad(scaled, reach)[:-1]  # output j predicts scaled[j] from inputs[j:j+R]
        errors = np.empty((n_steps, n_channels))
        expected = np.empty((n_steps, n_channels))
        device = resolve_device(self.device)
        module = copy.deepcopy(self.module_).double().to(device).eval()
        with torch.inference_mode():
            for start in range(0, n_steps, _SCORE_CHUNK):
                stop = min(start + _SCORE_CHUNK, n_steps)
                # float32 first, as the windowed path rounds its inputs, then float64
                block = torch.as_tensor(inputs[None, start : stop + reach - 1], dtype=torch.float32)
                target = torch.as_tensor(scaled[start:stop], dtype=torch.float32)
                block, target = block.double().to(device), target.double().to(device)
                guess = module(block)[0]
                errors[start:stop] = ((guess - target) ** 2).cpu().numpy()
                expected[start:stop] = guess.cpu().numpy()
        return errors, expected

    def _channel_scores(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._map_convolution(scaled)
