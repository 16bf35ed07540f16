"""Torch building blocks and the one training loop every deep detector uses."""

from deepad.nn.blocks import mlp
from deepad.nn.training import TrainingConfig, fit_module, predict_batched, seeded

__all__ = ["TrainingConfig", "fit_module", "mlp", "predict_batched", "seeded"]
