"""Deep SAD: Deep SVDD that also pushes rows labelled as anomalies away from the centre."""

from deepad.models.deep_sad.detector import DeepSAD

__all__ = ["DeepSAD"]
