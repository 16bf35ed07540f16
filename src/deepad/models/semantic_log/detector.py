"""``SemanticLog``: DeepLog's next-event misses, with events read by the meaning of their
template text instead of by id (as LogAnomaly's template vectors, Meng et al., IJCAI 2019).

Each template is embedded once, at fit time, with all-MiniLM-L6-v2
(``deepad.nn.text_encoder``, offline); the LSTM reads those frozen vectors through a
learned projection, and the vectors travel in the bundle, so scoring needs no encoder.
An event that never occurred in training but has a template (id sessions with
``templates=`` naming more events than training saw) is read by its vector, so the
context after it stays meaningful, but it still counts as a miss itself: a semantically
close new message ("Interrupted" beside "terminating") is not excused for being close.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from deepad.models.deeplog.detector import DeepLog
from deepad.models.log_base import END, FIRST_EVENT, UNKNOWN
from deepad.models.semantic_log.torch_model import SemanticNextEventLSTM

#: what the end-of-session token is embedded as
END_SENTENCE = "end of session"


class SemanticLog(DeepLog):
    """Next-event LSTM over sentence embeddings of the templates; score = misses.

    Takes DeepLog's parameters. Needs a template per training event: raw logs (with a
    session rule) give them, id sessions need ``templates=`` (a CSV or a mapping).
    """

    summary: ClassVar[str] = "next-event LSTM over MiniLM template embeddings; score = misses"

    def _fit_sessions(self, sessions: list[np.ndarray]) -> None:
        from deepad.nn.text_encoder import DIMENSION, encode_templates

        missing = [int(e) for e in self.events_ if int(e) not in self.templates_]
        if missing:
            raise ValueError(
                f"SemanticLog needs the template text of every event; none for event(s) "
                f"{missing[:10]}: fit on raw logs with a session rule, or pass templates="
            )
        extra = self._extra_events()
        texts = [END_SENTENCE] + [self.templates_[int(e)] for e in [*self.events_, *extra]]
        table = np.zeros((self.vocabulary_size + len(extra), DIMENSION), dtype=np.float32)
        rows = [END, *range(FIRST_EVENT, len(table))]
        table[rows] = encode_templates(texts)
        self._table = torch.from_numpy(table)
        try:
            super()._fit_sessions(sessions)
        finally:
            del self._table

    def _new_module(self) -> torch.nn.Module:
        from deepad.nn.text_encoder import DIMENSION

        extra = len(self._extra_events())
        module = SemanticNextEventLSTM(**self.architecture_, width=DIMENSION, extra=extra)
        table = getattr(self, "_table", None)
        if table is not None:
            module.table.copy_(table)
        return module

    def _extra_events(self) -> list[int]:
        """Events with a template that never occurred in training, in id order."""
        known = set(self.events_.tolist())
        return sorted(e for e in self.templates_ if e not in known)

    def _tokens(self, sessions: list[np.ndarray]) -> list[np.ndarray]:
        """Known events as in DeepLog; events with a template but no training occurrence
        get the tokens after the known ones."""
        tokens = super()._tokens(sessions)
        extra = {e: self.vocabulary_size + i for i, e in enumerate(self._extra_events())}
        if not extra:
            return tokens
        for session, token in zip(sessions, tokens, strict=True):
            for position in np.flatnonzero(token == UNKNOWN):
                token[position] = extra.get(int(session[position]), UNKNOWN)
        return tokens

    def _windows(self, sessions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As DeepLog's, with the targets of events unseen in training set to UNKNOWN (a
        miss whatever the model predicts)."""
        inputs, targets, owners = super()._windows(sessions)
        targets = np.where(targets >= self.vocabulary_size, UNKNOWN, targets)
        return inputs, targets, owners
