"""PatchCore: pretrained patch features and a coreset memory bank (see README.md)."""

from deepad.models.patchcore.detector import PatchCore

__all__ = ["PatchCore"]
