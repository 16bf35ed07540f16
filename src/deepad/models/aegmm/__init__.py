"""AEGMM: autoencoder code and reconstruction errors scored by a Gaussian mixture."""

from deepad.models.aegmm.detector import AEGMM, gmm_log_likelihood

__all__ = ["AEGMM", "gmm_log_likelihood"]
