"""The detector contract every deepad model keeps."""

from deepad.core.base import BaseDetector, NotFittedError

__all__ = ["BaseDetector", "NotFittedError"]
