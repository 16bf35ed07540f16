"""DevNet: a scalar scorer trained to put labelled anomalies far above a Gaussian prior."""

from deepad.models.devnet.detector import DevNet

__all__ = ["DevNet"]
