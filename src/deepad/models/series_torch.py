"""``TorchSeriesDetector``: what the deep series detectors share on top of ``SeriesDetector``.

A subclass works on windows of ``_input_length()`` consecutive scaled steps
(``(batch, length, channels)`` tensors): it builds a network (``_build_module``), gives a
training loss over a batch of windows (``_loss``) and, for the *last* step of each window,
the per-channel squared error and what the model expected there (``_last_step``). The
score of step t is the mean over channels of that error for the window ending at t, so it
is causal and the per-channel errors divide it exactly (the ``residual`` explanation).

Training windows are all full windows of the training part (stride 1), drawn down to
``max_windows`` at random; training is the shared loop (``deepad.nn.training``) with
early stopping on held-out windows. ``smoothing`` (default 10) scores a step by the mean of
the last that many steps' errors (see ``SeriesDetector``). With ``adapt_every=N`` the
network takes a short fine-tuning pass on the latest steps after every N streamed steps
(``learn_one`` / ``process``): an option for slow drift, off by default, because adapting
also teaches the model a persistent anomaly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.models.series_base import SeriesDetector, check_adapt_every, check_window
from deepad.nn.training import (
    TrainingConfig,
    check_training_params,
    fit_module,
    resolve_device,
    seeded,
    training_config,
)
from deepad.nn.weights import module_arrays, restore_module
from deepad.preprocess.series import left_pad

#: floats per scoring chunk (windows x length x channels), to bound memory on long series
_CHUNK_FLOATS = 1 << 21


class TorchSeriesDetector(SeriesDetector):
    """Shared machinery of the deep series detectors; not used directly."""

    supports_adaptation: ClassVar[bool] = True
    #: ``TrainingConfig`` fields a subclass sets differently from the series defaults
    _training_overrides: ClassVar[dict[str, Any]] = {}
    #: optimizer steps of a default-length training run (series windows overlap heavily,
    #: so fewer steps than for tables are enough)
    _target_steps: ClassVar[int] = 800

    # ---------------------------------------------------------- subclass API
    def _input_length(self) -> int:
        """Steps per window, the scored (last) step included."""
        return int(self.window)

    def _architecture(self, n_channels: int) -> dict[str, Any]:
        raise NotImplementedError

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        raise NotImplementedError

    def _loss(self, module: nn.Module, windows: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _last_step(
        self, module: nn.Module, windows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(squared error, expected value)`` of the last step of each window, each
        ``(batch, channels)`` in scaled units."""
        raise NotImplementedError

    # -------------------------------------------------------------- checks
    def _check_params(self) -> None:
        super()._check_params()
        check_window(self.window)
        check_window(self.smoothing, "smoothing", minimum=1)
        check_adapt_every(self.adapt_every)
        check_training_params(self, ("epochs", "batch_size", "max_windows"))

    def _context_length(self) -> int:
        return self._input_length() - 1

    def _min_fit_steps(self) -> int:
        return self._input_length() + 16

    # -------------------------------------------------------------- training
    def _training_windows(self, scaled: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
        """Full windows of ``scaled``, flattened to rows, at most ``limit`` drawn at random."""
        length = self._input_length()
        view = np.lib.stride_tricks.sliding_window_view(scaled, length, axis=0)
        view = view.transpose(0, 2, 1)  # (windows, length, channels)
        starts = np.arange(len(view))
        if limit is not None and len(starts) > limit:
            starts = np.sort(np.random.default_rng(seed).choice(starts, limit, replace=False))
        return np.ascontiguousarray(view[starts], dtype=np.float32).reshape(len(starts), -1)

    def _config(self, seed: int, epochs: int | None = None) -> TrainingConfig:
        settings: dict[str, Any] = {"target_steps": self._target_steps, "min_epochs": 3}
        settings.update(self._training_overrides)
        if epochs is not None:
            settings["epochs"] = epochs
        return training_config(self, seed, **settings)

    def _window_loss(self, module: nn.Module, rows: torch.Tensor) -> torch.Tensor:
        return self._loss(module, rows.view(len(rows), self._input_length(), -1))

    def _fit_steps(self, scaled: np.ndarray) -> None:
        seed = self._seed()
        self.architecture_ = self._architecture(scaled.shape[1])
        windows = self._training_windows(scaled, self.max_windows, seed)
        with seeded(seed):
            module = self._build_module(self.architecture_)
            self.history_ = fit_module(module, self._window_loss, windows, self._config(seed))
        self.module_ = module.cpu().eval()

    def _adapt(self, recent: np.ndarray) -> None:
        """One short pass (at most 50 steps of 64 windows) over the latest full windows."""
        length = self._input_length()
        if len(recent) < length + 1:
            return
        windows = self._training_windows(recent, 50 * 64, self._seed())
        config = self._config(self._seed(), epochs=1)
        config.validation_fraction = 0.0
        config.batch_size = 64
        module = self.module_.train()
        with seeded(self._seed() + self.stream_seen_):
            fit_module(module, self._window_loss, windows, config)
        self.module_ = module.cpu().eval()

    # --------------------------------------------------------------- scoring
    def _map_windows(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel squared error and expected value of every step (causal windows)."""
        length = self._input_length()
        padded = left_pad(scaled, length - 1)
        n_steps, n_channels = scaled.shape
        chunk = max(1, _CHUNK_FLOATS // (length * n_channels))
        errors = np.empty((n_steps, n_channels))
        expected = np.empty((n_steps, n_channels))
        device = resolve_device(self.device)
        module = self.module_.to(device).eval()
        try:
            with torch.inference_mode():
                for start in range(0, n_steps, chunk):
                    stop = min(start + chunk, n_steps)
                    block = padded[start : stop + length - 1]
                    view = np.lib.stride_tricks.sliding_window_view(block, length, axis=0)
                    windows = torch.tensor(view.transpose(0, 2, 1), dtype=torch.float32)
                    windows = windows.to(device)
                    error, guess = self._last_step(module, windows)
                    errors[start:stop] = error.double().cpu().numpy()
                    expected[start:stop] = guess.double().cpu().numpy()
        finally:
            self.module_ = module.cpu()
        return errors, expected

    def _channel_scores(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._map_windows(scaled)

    # --------------------------------------------------------- persistence
    def _export_series(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"architecture": self.architecture_}, module_arrays(self.module_)

    def _import_series(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.architecture_ = meta["architecture"]
        self.module_ = restore_module(lambda: self._build_module(self.architecture_), arrays)


def auto_hidden(n_channels: int) -> int:
    """Default recurrent / model width: 32 for up to 16 channels, 64 above (CPU-sized)."""
    return 32 if n_channels <= 16 else 64
