"""``LogDetector``: the contract for log sessions, one score per session.

``fit(X)`` takes sessions of event ids (``deepad.io.logs``: a file with one session per
line, a list of strings or of integer sequences); ``decision_function(X)`` scores each
session, higher = more anomalous. The base maps event ids to tokens once for every log
model: 0 = padding, 1 = an event never seen in training, 2 = end of session, 3.. = the
training events. A random share of the training sessions is held out for conformal
calibration, as for table rows (sessions are exchangeable; windows of one session are not,
so the split is by session).
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import numpy as np

from deepad.io.logs import as_sessions
from deepad.models.unit_base import UnitDetector

PAD, UNKNOWN, END = 0, 1, 2
FIRST_EVENT = 3


class LogDetector(UnitDetector):
    """Base class of the log-session detectors; not used directly."""

    modality: ClassVar[str] = "log"
    unit: ClassVar[str] = "sessions"

    def fit(self, X: Any, y: Any = None, *, calibration_size: int | float | str = "auto") -> Any:
        """Learn normal sessions from ``X``; sessions labelled 1 in ``y`` are left out of
        both training and calibration."""
        self._check_params()
        sessions = as_sessions(X)
        fit_rows, calibration_rows = self._split_units(len(sessions), y, calibration_size)
        events = np.unique(np.concatenate([sessions[i] for i in fit_rows] + [np.empty(0, int)]))
        self.events_ = events.astype(np.int64)
        self.feature_names_in_ = np.asarray(["event_id"], dtype=object)
        self.n_features_in_ = 1
        self.training_rows_ = len(sessions)
        self.training_fingerprint_ = _fingerprint(sessions)
        tokens = self._tokens(sessions)
        self._fit_sessions([tokens[i] for i in fit_rows])
        scores = self._score_sessions(tokens)
        self.decision_scores_ = scores
        self.calibration_rows_ = calibration_rows
        self._start_calibration(scores[calibration_rows], scores[fit_rows])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score per session, float64, higher = more anomalous."""
        self._check_fitted()
        return np.asarray(self._score_sessions(self._tokens(as_sessions(X))), dtype=np.float64)

    # --------------------------------------------------------------- hooks
    def _fit_sessions(self, sessions: list[np.ndarray]) -> None:
        raise NotImplementedError

    def _score_sessions(self, sessions: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------- helpers
    @property
    def vocabulary_size(self) -> int:
        """Tokens the models see: padding, unknown, end, and the training events."""
        return FIRST_EVENT + len(self.events_)

    def _tokens(self, sessions: list[np.ndarray]) -> list[np.ndarray]:
        """Event ids -> tokens (unknown events -> ``UNKNOWN``)."""
        out = []
        for session in sessions:
            position = np.searchsorted(self.events_, session)
            position = np.clip(position, 0, max(len(self.events_) - 1, 0))
            known = self.events_[position] == session if len(self.events_) else np.zeros(0, bool)
            out.append(np.where(known, position + FIRST_EVENT, UNKNOWN).astype(np.int64))
        return out

    def _schema_state(self) -> dict[str, Any]:
        return {"modality": "log", "events": self.events_.tolist()}

    def _restore_schema(self, state: dict[str, Any]) -> None:
        self.events_ = np.asarray(state["events"], dtype=np.int64)


def _fingerprint(sessions: list[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for session in sessions:
        digest.update(session.tobytes())
        digest.update(b"\x00|")
    return "sha256:" + digest.hexdigest()
