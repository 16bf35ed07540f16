"""All detectors, and the name -> class registry that the CLI and bundle loader use."""

from __future__ import annotations

from deepad.core.base import BaseDetector
from deepad.models.autoencoder import AutoEncoder
from deepad.models.deep_svdd import DeepSVDD
from deepad.models.ecod import ECOD
from deepad.models.iforest import IsolationForest
from deepad.models.knn import KNN
from deepad.models.pca import PCA
from deepad.models.vae import VAE

#: every detector by class name; bundles may only name classes listed here
DETECTORS: dict[str, type[BaseDetector]] = {
    cls.__name__: cls for cls in (AutoEncoder, VAE, DeepSVDD, IsolationForest, KNN, PCA, ECOD)
}


def get_detector_class(name: str) -> type[BaseDetector]:
    """Look a detector class up by name, case-insensitively, with a helpful error."""
    for key, cls in DETECTORS.items():
        if key.lower() == name.lower():
            return cls
    raise ValueError(f"unknown detector {name!r}; choose one of {sorted(DETECTORS)}")


__all__ = [
    "DETECTORS",
    "ECOD",
    "KNN",
    "PCA",
    "VAE",
    "AutoEncoder",
    "DeepSVDD",
    "IsolationForest",
    "get_detector_class",
]
