"""DTE: diffusion time estimation; anomalies look like data that has been noised for longer."""

from deepad.models.dte.detector import DTE

__all__ = ["DTE"]
