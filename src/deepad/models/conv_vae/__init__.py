"""Convolutional VAE: the anomaly map is the per-pixel error of the posterior-mean decoding."""

from deepad.models.conv_vae.detector import ConvVAE

__all__ = ["ConvVAE"]
