"""All detectors, and the name -> class registry that the CLI and bundle loader use."""

from __future__ import annotations

from deepad.core.base import BaseDetector
from deepad.models.aegmm import AEGMM
from deepad.models.alad import ALAD
from deepad.models.auto import Auto
from deepad.models.autoencoder import AutoEncoder
from deepad.models.conv_autoencoder import ConvAutoEncoder
from deepad.models.conv_vae import ConvVAE
from deepad.models.deep_sad import DeepSAD
from deepad.models.deep_svdd import DeepSVDD
from deepad.models.deeplog import DeepLog
from deepad.models.devnet import DevNet
from deepad.models.dte import DTE
from deepad.models.ecod import ECOD
from deepad.models.event_counts import EventCounts
from deepad.models.goad import GOAD
from deepad.models.iforest import IsolationForest
from deepad.models.knn import KNN
from deepad.models.lstm_autoencoder import LSTMAutoEncoder
from deepad.models.lstm_forecaster import LSTMForecaster
from deepad.models.matrix_profile import HybridDiscord, MatrixProfile
from deepad.models.patchcore import PatchCore
from deepad.models.pca import PCA
from deepad.models.rolling_zscore import RollingZScore
from deepad.models.semantic_log import SemanticLog
from deepad.models.series_transformer import SeriesTransformer
from deepad.models.tcn import TCN
from deepad.models.usad import USAD
from deepad.models.vae import VAE

#: the table detectors by class name (the tabular benchmark and ``Auto`` choose from these)
TABLE_DETECTORS: dict[str, type[BaseDetector]] = {
    cls.__name__: cls
    for cls in (
        Auto,
        AutoEncoder,
        VAE,
        DeepSVDD,
        DTE,
        ALAD,
        AEGMM,
        GOAD,
        IsolationForest,
        KNN,
        PCA,
        ECOD,
        DeepSAD,
        DevNet,
    )
}

#: the time-series detectors by class name (one score per time step, streaming API)
SERIES_DETECTORS: dict[str, type[BaseDetector]] = {
    cls.__name__: cls
    for cls in (
        RollingZScore,
        MatrixProfile,
        HybridDiscord,
        LSTMForecaster,
        LSTMAutoEncoder,
        SeriesTransformer,
        TCN,
        USAD,
    )
}

#: the image detectors by class name (one score per image plus a pixel anomaly map)
IMAGE_DETECTORS: dict[str, type[BaseDetector]] = {
    cls.__name__: cls for cls in (PatchCore, ConvAutoEncoder, ConvVAE)
}

#: the log detectors by class name (one score per session of event ids)
LOG_DETECTORS: dict[str, type[BaseDetector]] = {
    cls.__name__: cls for cls in (DeepLog, SemanticLog, EventCounts)
}

#: every detector by class name; bundles may only name classes listed here
DETECTORS: dict[str, type[BaseDetector]] = {
    **TABLE_DETECTORS,
    **SERIES_DETECTORS,
    **IMAGE_DETECTORS,
    **LOG_DETECTORS,
}


def get_detector_class(name: str) -> type[BaseDetector]:
    """Look a detector class up by name, case-insensitively, with a helpful error."""
    for key, cls in DETECTORS.items():
        if key.lower() == name.lower():
            return cls
    raise ValueError(f"unknown detector {name!r}; choose one of {sorted(DETECTORS)}")


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
    "ConvAutoEncoder",
    "ConvVAE",
    "DeepLog",
    "DeepSAD",
    "DeepSVDD",
    "DevNet",
    "EventCounts",
    "HybridDiscord",
    "IsolationForest",
    "LSTMAutoEncoder",
    "LSTMForecaster",
    "MatrixProfile",
    "PatchCore",
    "RollingZScore",
    "SemanticLog",
    "SeriesTransformer",
    "get_detector_class",
]
