"""Convolutional autoencoder: the anomaly map is the per-pixel reconstruction error."""

from deepad.models.conv_autoencoder.detector import ConvAutoEncoder

__all__ = ["ConvAutoEncoder"]
