"""USAD: two adversarially trained autoencoders over short windows; error per step."""

from deepad.models.usad.detector import USAD

__all__ = ["USAD"]
