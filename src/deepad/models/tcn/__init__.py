"""TCN: causal dilated convolutions predict each step; the error is the score."""

from deepad.models.tcn.detector import TCN

__all__ = ["TCN"]
