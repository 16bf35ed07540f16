"""``KNN``: distance to the k-th nearest training row (or the mean over the k nearest)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from deepad.core.base import BaseDetector


class KNN(BaseDetector):
    """k-nearest-neighbour distance (Ramaswamy et al., 2000), a strong one-class baseline.

    Training rows are scored against the others (a row is not its own neighbour); new rows
    against all training rows. The training rows are kept, so bundles grow with the data.
    """

    summary = "k-nearest-neighbour distance; the baseline to beat when trained on clean normals"
    native_explain_methods = ("neighbours",)
    default_explain_method = "neighbours"

    def __init__(
        self, n_neighbors: int = 5, method: str = "largest", contamination: float = 0.1
    ) -> None:
        self.n_neighbors = n_neighbors
        self.method = method
        self.contamination = contamination

    def _check_params(self) -> None:
        super()._check_params()
        if not isinstance(self.n_neighbors, (int, np.integer)) or self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be a positive int, got {self.n_neighbors!r}")
        if self.method not in ("largest", "mean"):
            raise ValueError(f"method must be 'largest' or 'mean', got {self.method!r}")

    def _index(self, reference: np.ndarray) -> NearestNeighbors:
        return NearestNeighbors(n_neighbors=int(self.n_neighbors)).fit(reference)

    def _reduce(self, distances: np.ndarray) -> np.ndarray:
        return distances[:, -1] if self.method == "largest" else distances.mean(axis=1)

    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        if len(features) <= self.n_neighbors:
            raise ValueError(
                f"KNN with n_neighbors={self.n_neighbors} needs more than "
                f"{self.n_neighbors} training rows, got {len(features)}"
            )
        self.reference_ = features
        self.index_ = self._index(features)

    def _training_scores(self, features: np.ndarray) -> np.ndarray:
        distances, _ = self.index_.kneighbors()  # excludes each row itself
        return self._reduce(distances)

    def _score_features(self, features: np.ndarray) -> np.ndarray:
        distances, _ = self.index_.kneighbors(features)
        return self._reduce(distances)

    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {"reference_": self.reference_}

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.reference_ = arrays["reference_"]
        self.index_ = self._index(self.reference_)

    def _explain_features(
        self, features: np.ndarray, method: str, baseline: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        # distance d = sqrt(sum_j (x_j - n_j)^2) splits exactly as sum_j (x_j - n_j)^2 / d,
        # for the k-th neighbour ("largest") or averaged over the k ("mean")
        distances, indices = self.index_.kneighbors(features)
        rows = features.astype(np.float64)
        if self.method == "largest":
            distances, indices = distances[:, -1:], indices[:, -1:]
        contributions = np.zeros_like(rows)
        for i in range(indices.shape[1]):
            squared = (rows - self.reference_[indices[:, i]]) ** 2
            safe = np.where(distances[:, i] > 0, distances[:, i], np.inf)
            contributions += squared / safe[:, None]
        contributions /= indices.shape[1]
        nearest = self.index_.kneighbors(features, n_neighbors=1, return_distance=False)
        return contributions, self.reference_[nearest[:, 0]]
