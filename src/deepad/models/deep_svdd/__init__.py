"""Deep SVDD: map normal rows close to a centre; distance to it is the score."""

from deepad.models.deep_svdd.detector import DeepSVDD

__all__ = ["DeepSVDD"]
