"""Variational autoencoder: anomalies are rows with a low evidence lower bound."""

from deepad.models.vae.detector import VAE

__all__ = ["VAE"]
