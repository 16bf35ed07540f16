"""GOAD: classify which random affine transformation was applied; doubt is the score."""

from deepad.models.goad.detector import GOAD

__all__ = ["GOAD"]
