"""``LogDetector``: the contract for log sessions, one score per session.

``fit(X)`` takes sessions of event ids (``deepad.io.logs``: a file with one session per
line, a list of strings or of integer sequences), or raw logs (a text file, a list of
lines, or a table with ``message_column``) when the detector has a session rule
(``session_regex``, ``session_window`` or ``session_column``; see
``deepad.preprocess.log_sessions.LOG_OPTIONS``): then templates are learned with Drain
and travel in the bundle.
``decision_function(X)`` scores each session, higher = more anomalous; ``read(X)`` gives
the sessions themselves (keys, event ids, source lines) in the same order. The base
maps event ids to tokens once for every log model: 0 = padding, 1 = an event never
seen in training, 2 = end of session, 3.. = the training events. A random share of the
training sessions is held out for conformal calibration, as for table rows (sessions are
exchangeable; windows of one session are not, so the split is by session).
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from deepad.io.logs import as_sessions, read_templates
from deepad.models.unit_base import UnitDetector
from deepad.preprocess.log_sessions import (
    READER_OPTIONS,
    LogReader,
    LogSessions,
    reader_from_options,
)

PAD, UNKNOWN, END = 0, 1, 2
FIRST_EVENT = 3
#: raw lines quoted in explanations are cut to this many characters
_SHOWN_CHARS = 200
#: the event id explanations give the end of a session
END_EVENT = -2


class LogDetector(UnitDetector):
    """Base class of the log-session detectors; not used directly."""

    modality: ClassVar[str] = "log"
    unit: ClassVar[str] = "sessions"

    def fit(self, X: Any, y: Any = None, *, calibration_size: int | float | str = "auto") -> Any:
        """Learn normal sessions from ``X``; sessions labelled 1 in ``y`` are left out of
        both training and calibration."""
        self._check_params()
        self.reader_ = reader_from_options(self._reader_options())
        if self.reader_ is None:
            sessions = as_sessions(X)
            self.templates_ = read_templates(self.templates)
        else:
            sessions = self.reader_.fit_read(X).events
            self.templates_ = self.reader_.templates()
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
        return self.score_sessions(self.read(X))

    def read(self, X: Any) -> LogSessions:
        """The sessions of ``X`` as this detector sees them: keys, event ids and (for raw
        logs) the 0-based lines each event came from, in scoring order."""
        self._check_fitted()
        if self.reader_ is not None:
            return self.reader_.read(X)
        events = as_sessions(X)
        return LogSessions(
            keys=[str(i) for i in range(len(events))],
            events=events,
            lines=[np.full(len(e), -1) for e in events],
            total_lines=len(events),
            templates=self.templates_,
        )

    def score_sessions(self, sessions: LogSessions) -> np.ndarray:
        """Scores of sessions already read with ``read`` (reading once, scoring often)."""
        self._check_fitted()
        return np.asarray(self._score_sessions(self._tokens(sessions.events)), dtype=np.float64)

    def template(self, event: int) -> str:
        """The template text of an event id ("event N" when no templates are known)."""
        return self.templates_.get(int(event), f"event {int(event)}")

    def explain(self, X: Any, *, top: int = 3, method: str = "auto") -> Any:
        """The events that raised each session's score: a ``deepad.explain.
        SessionExplanation`` whose contributions add up to the scores (``top`` sets how
        many culprits its readable form lists). ``X`` may be sessions ``read`` already."""
        from deepad.explain.result import check_top
        from deepad.explain.sessions import EVENT_COLUMNS, SessionExplanation

        check_top(top)
        if method not in ("auto", "events"):
            raise ValueError(f"{type(self).__name__} explains sessions with method='events'")
        sessions = X if isinstance(X, LogSessions) else self.read(X)
        tokens = self._tokens(sessions.events)
        culprits = self._explain_tokens(tokens)
        rows = [self._describe(sessions, *row) for row in culprits]
        events = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
        return SessionExplanation(
            scores=np.asarray(self._score_sessions(tokens), dtype=np.float64),
            keys=sessions.keys,
            events=events,
            threshold=float(self.threshold_),
            top_k=top,
        )

    # --------------------------------------------------------------- hooks
    def _fit_sessions(self, sessions: list[np.ndarray]) -> None:
        raise NotImplementedError

    def _score_sessions(self, sessions: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _explain_tokens(self, sessions: list[np.ndarray]) -> list[tuple[int, int, int, float, str]]:
        """Culprits as (session, position or -1, token, contribution, detail)."""
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

    def _describe(
        self,
        sessions: LogSessions,
        index: int,
        position: int,
        token: int,
        contribution: float,
        detail: str,
    ) -> tuple[Any, ...]:
        """One culprit as an ``EVENT_COLUMNS`` row: event id, template and source line."""
        events, lines, line = sessions.events[index], sessions.lines[index], 0
        if 0 <= position < len(events):
            event, line = int(events[position]), int(lines[position]) + 1
        elif position >= len(events):
            event = END_EVENT
        else:  # a whole-session count: point at the event's first line
            event = int(self.events_[token - FIRST_EVENT]) if token >= FIRST_EVENT else -1
            known = np.isin(events, self.events_)
            hits = np.flatnonzero(events == event if token >= FIRST_EVENT else ~known)
            if len(hits):
                event, line = int(events[hits[0]]), int(lines[hits[0]]) + 1
        if event == END_EVENT:
            template = "(end of session)"
        elif token == UNKNOWN:  # a template the input names, else the raw line
            text = sessions.text[line - 1] if line > 0 and sessions.text else None
            if text is not None and len(text) > _SHOWN_CHARS:
                text = text[:_SHOWN_CHARS] + "..."
            template = self.templates_.get(event, text or f"(event {event}, new)")
        else:
            template = self.template(event)
        return (index, sessions.keys[index], position, line, event, template, contribution, detail)

    def _reader_options(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in READER_OPTIONS}

    def _check_params(self) -> None:
        super()._check_params()
        rules = (self.session_regex, self.session_window, self.session_column)
        if self.templates is not None and any(rule is not None for rule in rules):
            raise ValueError("templates apply to id sessions; raw logs learn their own")

    def _schema_state(self) -> dict[str, Any]:
        return {
            "modality": "log",
            "events": self.events_.tolist(),
            "templates": {str(k): v for k, v in self.templates_.items()},
            "reader": None if self.reader_ is None else self.reader_.state(),
        }

    def _restore_schema(self, state: dict[str, Any]) -> None:
        self.events_ = np.asarray(state["events"], dtype=np.int64)
        self.templates_ = {int(k): str(v) for k, v in state.get("templates", {}).items()}
        reader = state.get("reader")
        self.reader_ = None if reader is None else LogReader.from_state(reader)


def _fingerprint(sessions: list[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for session in sessions:
        digest.update(session.tobytes())
        digest.update(b"\x00|")
    return "sha256:" + digest.hexdigest()
