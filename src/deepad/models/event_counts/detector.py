"""``EventCounts``: how many times each event occurs in a session, scored by PCA or IForest.

This is the baseline every log-anomaly paper compares with (Xu et al., SOSP 2009): a
session becomes a vector of event counts, centred on the training mean;
``method="pca"`` scores the squared distance from the principal subspace that keeps
``variance`` of the training variance (the SPE / Q statistic), ``method="iforest"`` an
Isolation Forest on the same vectors. Events never seen in training share one column
(zero in training), so each adds its count squared to the PCA score.

``weighting="tfidf"`` weights columns by inverse document frequency, as Xu et al. did. It
is not the default: an event present in every session gets weight 0, so a block with two
replicas instead of three looks normal; on HDFS it cut AUROC from 0.998 to 0.941.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.decomposition import PCA

from deepad.models.iforest import IsolationForest
from deepad.models.log_base import FIRST_EVENT, UNKNOWN, LogDetector

_METHODS = ("pca", "iforest")
_WEIGHTINGS = ("count", "tfidf")


class EventCounts(LogDetector):
    """Count-vector baseline: PCA residual (default) or Isolation Forest on event counts.

    The raw-log options (``session_regex`` ...) are ``deepad.preprocess.log_sessions.LOG_OPTIONS``.
    """

    summary: ClassVar[str] = "event-count vectors per session; PCA residual or IForest"

    def __init__(
        self,
        method: str = "pca",
        variance: float = 0.95,
        weighting: str = "count",
        n_estimators: int = 200,
        contamination: float = 0.1,
        random_state: int | None = 0,
        session_regex: str | None = None,
        session_window: int | str | None = None,
        session_step: int | str | None = None,
        time_regex: str | None = None,
        content_regex: str | None = None,
        message_column: str | None = None,
        session_column: str | None = None,
        masks: list | None = None,
        templates: dict | str | None = None,
    ) -> None:
        self.method = method
        self.variance = variance
        self.weighting = weighting
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.random_state = random_state
        self.session_regex = session_regex
        self.session_window = session_window
        self.session_step = session_step
        self.time_regex = time_regex
        self.content_regex = content_regex
        self.message_column = message_column
        self.session_column = session_column
        self.masks = masks
        self.templates = templates

    def _check_params(self) -> None:
        super()._check_params()
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        if not isinstance(self.variance, (int, float)) or not 0 < self.variance < 1:
            raise ValueError(f"variance must be in (0, 1), got {self.variance!r}")
        if self.weighting not in _WEIGHTINGS:
            raise ValueError(f"weighting must be one of {_WEIGHTINGS}, got {self.weighting!r}")
        n = self.n_estimators
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n_estimators must be a positive int, got {n!r}")

    # --------------------------------------------------------------- hooks
    def _fit_sessions(self, sessions: list[np.ndarray]) -> None:
        counts = self.count_matrix(sessions)
        if self.weighting == "tfidf":
            present = np.count_nonzero(counts, axis=0)
            weights = np.log(len(sessions) / np.maximum(present, 1))
            weights[0] = weights[1:].max(initial=np.log(max(len(sessions), 2)))  # never seen
        else:
            weights = np.ones(counts.shape[1])
        self.weights_ = weights
        weighted = counts * weights
        self.mean_ = weighted.mean(axis=0)
        centred = weighted - self.mean_
        if self.method == "pca":
            components = min(centred.shape) if min(centred.shape) > 1 else 1
            pca = PCA(n_components=components, svd_solver="full").fit(centred)
            keep = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), self.variance))
            self.components_ = pca.components_[: keep + 1].astype(np.float64)
        else:  # deepad's forest: the same scores, and tree arrays a bundle can hold
            self.forest_ = self._forest()
            self.forest_._fit_features(centred)

    def _score_sessions(self, sessions: list[np.ndarray]) -> np.ndarray:
        return self._score_vectors(self.count_matrix(sessions))

    def count_matrix(self, sessions: list[np.ndarray]) -> np.ndarray:
        """(sessions, 1 + training events): column 0 counts never-seen events, column j
        the j-th training event."""
        width = self.vocabulary_size - FIRST_EVENT + 1
        lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64, count=len(sessions))
        tokens = np.concatenate([*sessions, np.empty(0, np.int64)])
        columns = np.where(tokens == UNKNOWN, 0, tokens - FIRST_EVENT + 1)
        rows = np.repeat(np.arange(len(sessions)), lengths)
        flat = np.bincount(rows * width + columns, minlength=len(sessions) * width)
        return flat.reshape(len(sessions), width).astype(np.float64)

    def _score_vectors(self, counts: np.ndarray) -> np.ndarray:
        centred = counts * self.weights_ - self.mean_
        if self.method == "pca":
            residual = centred - (centred @ self.components_.T) @ self.components_
            return np.einsum("ij,ij->i", residual, residual)
        return self.forest_._score_features(centred)

    def _explain_tokens(self, sessions: list[np.ndarray]) -> list[tuple[int, int, int, float, str]]:
        """PCA: each event's squared residual (they sum to the score). IForest: how much
        the score drops when the event's count is set to its training mean."""
        counts = self.count_matrix(sessions)
        centred = counts * self.weights_ - self.mean_
        typical = self.mean_ / self.weights_
        if self.method == "pca":
            residual = centred - (centred @ self.components_.T) @ self.components_
            terms = residual**2
        else:
            base = self.forest_._score_features(centred)
            terms = np.zeros_like(centred)
            for column in range(centred.shape[1]):
                moved = centred.copy()
                moved[:, column] = 0.0
                terms[:, column] = base - self.forest_._score_features(moved)
        rows = []
        for index, column in zip(*np.nonzero(terms > 1e-12 * max(terms.max(), 1.0)), strict=True):
            token = UNKNOWN if column == 0 else int(column) + FIRST_EVENT - 1
            detail = f"count {int(counts[index, column])}, typical {typical[column]:.3g}"
            rows.append((int(index), -1, token, float(terms[index, column]), detail))
        return rows

    def _forest(self) -> IsolationForest:
        return IsolationForest(n_estimators=int(self.n_estimators), random_state=self._seed())

    def _export_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {"weights": self.weights_, "mean": self.mean_}
        if self.method == "pca":
            return {}, {**arrays, "components": self.components_}
        meta, forest = self.forest_._export_model()
        return {"forest": meta}, {**arrays, **{f"forest.{k}": v for k, v in forest.items()}}

    def _import_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.weights_, self.mean_ = arrays.pop("weights"), arrays.pop("mean")
        if self.method == "pca":
            self.components_ = arrays["components"]
            return
        self.forest_ = self._forest()
        forest = {k.removeprefix("forest."): v for k, v in arrays.items()}
        self.forest_._import_model(meta["forest"], forest)
