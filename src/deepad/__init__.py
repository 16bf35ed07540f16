"""deepad: anomaly detection with deep learning, one estimator contract for every model.

det = deepad.AutoEncoder(random_state=0).fit(X_train)
scores = det.decision_function(X_new)   # higher = more anomalous
det.save("model"); det = deepad.load("model")
"""

from deepad._version import __version__
from deepad.bundle import BundleError, load
from deepad.core.base import BaseDetector
from deepad.models import (
    DETECTORS,
    ECOD,
    KNN,
    PCA,
    VAE,
    AutoEncoder,
    DeepSVDD,
    IsolationForest,
)

__all__ = [
    "DETECTORS",
    "ECOD",
    "KNN",
    "PCA",
    "VAE",
    "AutoEncoder",
    "BaseDetector",
    "BundleError",
    "DeepSVDD",
    "IsolationForest",
    "__version__",
    "load",
]
