"""MLP autoencoder: anomalies are rows the network cannot reconstruct."""

from deepad.models.autoencoder.detector import AutoEncoder

__all__ = ["AutoEncoder"]
