"""deepad: anomaly detection with deep learning, one estimator contract for every model.

det = deepad.AutoEncoder(random_state=0).fit(X_train)
scores = det.decision_function(X_new)   # higher = more anomalous
why = det.explain(X_new).text()         # "amount = 9,800 (typical 12-450); ..."
det.save("model"); det = deepad.load("model")
"""

from deepad._version import __version__
from deepad.bundle import BundleError, load
from deepad.core.base import BaseDetector
from deepad.explain import Explanation
from deepad.models import (
    AEGMM,
    ALAD,
    DETECTORS,
    DTE,
    ECOD,
    GOAD,
    KNN,
    PCA,
    VAE,
    Auto,
    AutoEncoder,
    DeepSAD,
    DeepSVDD,
    DevNet,
    IsolationForest,
)

__all__ = [
    "AEGMM",
    "ALAD",
    "DETECTORS",
    "DTE",
    "ECOD",
    "GOAD",
    "KNN",
    "PCA",
    "VAE",
    "Auto",
    "AutoEncoder",
    "BaseDetector",
    "BundleError",
    "DeepSAD",
    "DeepSVDD",
    "DevNet",
    "Explanation",
    "IsolationForest",
    "__version__",
    "load",
]
