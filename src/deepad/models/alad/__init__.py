"""ALAD: adversarially learned anomaly detection (BiGAN with cycle-consistency critics)."""

from deepad.models.alad.detector import ALAD

__all__ = ["ALAD"]
