"""``SeriesTransformer``: next-step prediction error of a small causal Transformer."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.models.series_torch import TorchSeriesDetector, auto_hidden
from deepad.models.series_transformer.torch_model import SeriesTransformerNet
from deepad.nn.training import TrainingConfig, resolve_device
from deepad.preprocess.series import left_pad

#: windows per attention chunk
_ATTENTION_CHUNK = 2048


class SeriesTransformer(TorchSeriesDetector):
    """A causal Transformer reads the ``window - 1`` steps before t and predicts step t;
    the score of t is the mean squared prediction error over the channels (causal).

    Pre-norm layers (``num_layers``, ``num_heads``, feed-forward width ``2 * d_model``)
    with a learned positional embedding; a causal mask lets position j see positions
    0..j only, so training uses every position of each window (position j predicts
    j + 1), like ``LSTMForecaster``. ``d_model=None`` picks 32 for up to 16 channels, 64
    above. ``attention(X)`` returns, for each step, how the last layer's
    prediction of that step weighed the steps before it.
    """

    summary = "causal Transformer next-step forecaster; prediction error, inspectable attention"
    #: attention over ~50 positions is costly on a CPU: smaller batches, fewer steps
    _default_batch_size: ClassVar[int] = 64
    _target_steps: ClassVar[int] = 200

    def __init__(
        self,
        window: int = 50,
        smoothing: int = 10,
        d_model: int | None = None,
        num_layers: int = 2,
        num_heads: int = 4,
        dropout: float = 0.1,
        epochs: int | None = None,
        batch_size: int | None = None,
        max_windows: int | None = 5000,
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
        self.d_model = d_model
        self.num_layers = num_layers
        self.num_heads = num_heads
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

    # ------------------------------------------------------------- public
    def attention(self, X: Any) -> np.ndarray:
        """Last-layer attention (averaged over heads) of each step's prediction.

        Row i belongs to row i of ``X`` (its order, like ``decision_function``): the
        weights that the position predicting that step gave to the ``window - 1`` steps
        before it, oldest first; each row sums to 1. As in ``decision_function``, the
        first steps of ``X`` see its first row repeated in place of missing history.
        """
        self._check_fitted()
        series = self._series(X)
        scaled = self.scaler_.transform(series.values)
        length = self._input_length()
        padded = left_pad(scaled, length - 1)
        n_steps = len(scaled)
        out = np.empty((n_steps, length - 1))
        device = resolve_device(self.device)
        module = self.module_.to(device).eval()
        try:
            with torch.inference_mode():
                for start in range(0, n_steps, _ATTENTION_CHUNK):
                    stop = min(start + _ATTENTION_CHUNK, n_steps)
                    block = padded[start : stop + length - 1]
                    view = np.lib.stride_tricks.sliding_window_view(block, length, axis=0)
                    windows = torch.as_tensor(
                        np.ascontiguousarray(view.transpose(0, 2, 1)[:, :-1]),
                        dtype=torch.float32,
                    ).to(device)
                    _, weights = module(windows, last_only=True, need_weights=True)
                    out[start:stop] = weights[:, -1].double().cpu().numpy()
        finally:
            self.module_ = module.cpu()
        return series.to_input_order(out)

    # --------------------------------------------------------------- hooks
    def _check_params(self) -> None:
        super()._check_params()
        for name in ("num_layers", "num_heads"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        d_model = self.d_model
        if d_model is not None and (
            not isinstance(d_model, (int, np.integer))
            or isinstance(d_model, bool)
            or d_model < 1
            or d_model % self.num_heads
        ):
            raise ValueError(
                f"d_model must be None (auto) or a positive multiple of num_heads "
                f"({self.num_heads}), got {d_model!r}"
            )
        if (
            isinstance(self.dropout, bool)
            or not isinstance(self.dropout, (int, float))
            or not 0.0 <= self.dropout < 1.0
        ):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def _config(self, seed: int, epochs: int | None = None) -> TrainingConfig:
        config = super()._config(seed, epochs)
        if config.batch_size is None:
            config.batch_size = self._default_batch_size
        return config

    def _architecture(self, n_channels: int) -> dict[str, Any]:
        d_model = self.d_model
        if d_model is None:
            d_model = auto_hidden(n_channels)
            d_model = -(-d_model // self.num_heads) * self.num_heads
        return {
            "n_channels": n_channels,
            "length": self._input_length() - 1,
            "d_model": int(d_model),
            "num_layers": int(self.num_layers),
            "num_heads": int(self.num_heads),
            "feedforward": 2 * int(d_model),
            "dropout": float(self.dropout),
        }

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return SeriesTransformerNet(**architecture)

    def _loss(self, module: nn.Module, windows: torch.Tensor) -> torch.Tensor:
        predictions, _ = module(windows[:, :-1])
        return torch.mean((predictions - windows[:, 1:]) ** 2)

    def _last_step(
        self, module: nn.Module, windows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        predictions, _ = module(windows[:, :-1], last_only=True)
        guess = predictions[:, -1]
        return (guess - windows[:, -1]) ** 2, guess
