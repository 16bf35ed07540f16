"""``BaseDetector``: the scikit-learn-style contract shared by every detector.

Subclasses implement three hooks on the *encoded* float matrix (the preprocessing
captured at fit time is handled here, once):

- ``_fit_features(Z, labels)``: learn the model (``labels`` is None unless the class sets
  ``uses_labels``; then 1 = known anomaly, 0 = known normal, -1 = unknown);
- ``_score_features(Z)``: anomaly scores, higher = more anomalous;
- ``_export_model()`` / ``_import_model(meta, arrays)``: the learned state as JSON plus
  NumPy arrays, so bundles never need pickle.

Optionally ``_training_scores(Z)`` when scores on the training rows differ from scoring
new rows (k-NN excludes each row from its own neighbours).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from deepad.io.tables import as_table
from deepad.preprocess.tabular import TabularPreprocessor, fingerprint_table


class BaseDetector(BaseEstimator):
    """Base class of all detectors: fit, decision_function, predict, save.

    Scores follow PyOD's convention (higher = more anomalous). ``predict`` flags rows
    whose score exceeds ``threshold_``, the ``1 - contamination`` quantile of the
    training scores.
    """

    #: what one row of input is; recorded in bundles so loaders need no hints
    modality: ClassVar[str] = "table"
    #: one line for ``deepad models``
    summary: ClassVar[str] = ""
    #: semi-supervised detectors learn from ``y`` in fit; the others ignore it
    uses_labels: ClassVar[bool] = False
    #: detectors that cannot fit at all without rows labelled 1 in ``y``
    requires_labels: ClassVar[bool] = False

    # ------------------------------------------------------------ contract
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Learn normal behaviour from ``X``.

        ``y`` (optional) labels rows: 1 = known anomaly, 0 = known normal, -1 = unknown.
        Semi-supervised detectors (``uses_labels``) learn from it; unsupervised ones ignore
        it (for the one-class setting, fit them on the rows known to be normal).
        """
        self._check_params()
        table = as_table(X)
        labels = None if y is None else _check_labels(y, len(table))
        preprocessor = TabularPreprocessor().fit(table)
        features = preprocessor.transform(table)
        self.preprocessor_ = preprocessor
        self.n_features_in_ = table.shape[1]
        self.feature_names_in_ = np.asarray(table.columns, dtype=object)
        self.training_rows_ = len(table)
        self.training_fingerprint_ = fingerprint_table(table)
        self._fit_features(features, labels if self.uses_labels else None)
        scores = self._training_scores(features)
        self.decision_scores_ = np.asarray(scores, dtype=np.float64)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - self.contamination))
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score per row, float64, higher = more anomalous."""
        self._check_fitted()
        features = self.preprocessor_.transform(X)
        return np.asarray(self._score_features(features), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """1 for rows scoring above the fitted threshold, else 0 (int64)."""
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit, then return the 0/1 labels of the training rows."""
        return (self.fit(X, y).decision_scores_ > self.threshold_).astype(np.int64)

    def save(self, path: str | Path, **lineage: Any) -> Path:
        """Write this fitted detector as a bundle directory; see ``deepad.load``."""
        from deepad.bundle import save_bundle  # bundle sits above models

        return save_bundle(self, path, lineage=lineage)

    # --------------------------------------------------------------- hooks
    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        raise NotImplementedError

    def _score_features(self, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _training_scores(self, features: np.ndarray) -> np.ndarray:
        return self._score_features(features)

    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        raise NotImplementedError

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------- helpers
    def _check_params(self) -> None:
        """Validate shared params; subclasses extend with their own checks."""
        contamination = self.contamination
        if not isinstance(contamination, (int, float)) or not 0.0 < contamination <= 0.5:
            raise ValueError(f"contamination must be in (0, 0.5], got {contamination!r}")

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) before scoring"
            )

    def _seed(self) -> int:
        """The integer seed for this fit: ``random_state``, or a fresh one when None."""
        if self.random_state is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        if isinstance(self.random_state, (int, np.integer)) and not isinstance(
            self.random_state, bool
        ):
            return int(self.random_state)
        raise ValueError(f"random_state must be an int or None, got {self.random_state!r}")


def _check_labels(y: Any, n_rows: int) -> np.ndarray:
    """``y`` as an int64 array of 1 / 0 / -1, one per row, or a ValueError saying why not."""
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n_rows:
        raise ValueError(
            f"y must be 1-D with one entry per row of X ({n_rows}), got shape {labels.shape}"
        )
    if labels.dtype.kind not in "biuf":
        raise ValueError(f"y must be numeric (1 / 0 / -1), got dtype {labels.dtype}")
    unexpected = labels[~np.isin(labels, (-1, 0, 1))]
    if unexpected.size:
        raise ValueError(
            "y must hold 1 (known anomaly), 0 (known normal) or -1 (unknown); "
            f"found {sorted(set(unexpected.tolist()))[:5]}"
        )
    return labels.astype(np.int64)
