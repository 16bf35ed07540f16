"""``PCA``: squared reconstruction error outside the principal subspace of the training data."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA as _SkPCA

from deepad.core.base import BaseDetector


class PCA(BaseDetector):
    """Principal component reconstruction error (the SPE / Q statistic).

    ``n_components`` is an int, a fraction of variance to keep (default 0.95), or None
    for all but one component.
    """

    summary = "PCA reconstruction error; linear and fast; good on correlated sensor readings"
    #: integrated gradients in closed form: exact for this quadratic score, and it names the
    #: shifted column more often than the residual, which PCA spreads over correlated ones
    native_explain_methods = ("integrated_gradients", "residual")
    default_explain_method = "integrated_gradients"

    def __init__(
        self,
        n_components: int | float | None = 0.95,
        contamination: float = 0.1,
    ) -> None:
        self.n_components = n_components
        self.contamination = contamination

    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        max_rank = min(features.shape) - 1
        if max_rank < 1:
            raise ValueError(
                "PCA needs at least 2 rows and 2 encoded features to leave a residual, "
                f"got {features.shape}"
            )
        n_components = self.n_components if self.n_components is not None else max_rank
        if isinstance(n_components, (int, np.integer)) and not 1 <= n_components <= max_rank:
            raise ValueError(f"n_components must be in [1, {max_rank}], got {n_components}")
        model = _SkPCA(n_components=n_components, svd_solver="full").fit(
            features.astype(np.float64)
        )
        components = model.components_[:max_rank]
        self.mean_ = model.mean_
        self.components_ = components

    def _score_features(self, features: np.ndarray) -> np.ndarray:
        centred = features.astype(np.float64) - self.mean_
        residual = centred - (centred @ self.components_.T) @ self.components_
        return np.sum(residual**2, axis=1)

    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {"mean_": self.mean_, "components_": self.components_}

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.mean_ = arrays["mean_"]
        self.components_ = arrays["components_"]

    def _explain_features(
        self, features: np.ndarray, method: str, baseline: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        rows = features.astype(np.float64)
        if method == "integrated_gradients":
            # score = (x - m)' Q (x - m) with Q = I - C'C; its gradient is linear in x, so the
            # path integral from the baseline b is the gradient at the midpoint, exactly
            midpoint = (rows + baseline) / 2.0 - self.mean_
            gradient = 2.0 * (midpoint - (midpoint @ self.components_.T) @ self.components_)
            return (rows - baseline) * gradient, None
        # the squared residual per feature; the score is their sum
        centred = rows - self.mean_
        residual = centred - (centred @ self.components_.T) @ self.components_
        return residual**2, rows - residual
