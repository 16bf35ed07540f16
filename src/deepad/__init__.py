"""deepad: anomaly detection with deep learning, one estimator contract for every model.

det = deepad.AutoEncoder(random_state=0).fit(X_train)
scores = det.decision_function(X_new)   # higher = more anomalous
why = det.explain(X_new).text()         # "amount = 9,800 (typical 12-450); ..."
det.save("model"); det = deepad.load("model")

The names below load on first use, so ``import deepad.runtime`` (the ONNX Runtime path
for exported models) never imports torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from deepad._version import __version__

__all__ = [
    "AEGMM",
    "ALAD",
    "DETECTORS",
    "DTE",
    "ECOD",
    "GOAD",
    "IMAGE_DETECTORS",
    "KNN",
    "LOG_DETECTORS",
    "PCA",
    "SERIES_DETECTORS",
    "TABLE_DETECTORS",
    "TCN",
    "USAD",
    "VAE",
    "Auto",
    "AutoEncoder",
    "BaseDetector",
    "BundleError",
    "ConvAutoEncoder",
    "ConvVAE",
    "DeepLog",
    "DeepSAD",
    "DeepSVDD",
    "DevNet",
    "EventCounts",
    "Explanation",
    "HybridDiscord",
    "IsolationForest",
    "LSTMAutoEncoder",
    "LSTMForecaster",
    "MatrixProfile",
    "PatchCore",
    "RollingZScore",
    "SemanticLog",
    "SeriesTransformer",
    "__version__",
    "load",
]

#: the module that defines each public name other than __version__
_HOMES = {"BaseDetector": "deepad.core.base", "Explanation": "deepad.explain"}
_HOMES.update(dict.fromkeys(("BundleError", "load"), "deepad.bundle"))


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name, "deepad.models" if name in __all__ else None)
    if module is None:
        raise AttributeError(f"module 'deepad' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
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
        IMAGE_DETECTORS,
        KNN,
        LOG_DETECTORS,
        PCA,
        SERIES_DETECTORS,
        TABLE_DETECTORS,
        TCN,
        USAD,
        VAE,
        Auto,
        AutoEncoder,
        ConvAutoEncoder,
        ConvVAE,
        DeepLog,
        DeepSAD,
        DeepSVDD,
        DevNet,
        EventCounts,
        HybridDiscord,
        IsolationForest,
        LSTMAutoEncoder,
        LSTMForecaster,
        MatrixProfile,
        PatchCore,
        RollingZScore,
        SemanticLog,
        SeriesTransformer,
    )
