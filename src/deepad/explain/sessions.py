"""``SessionExplanation``: the events that broke a log session's learned pattern.

Log detectors explain in score units, like tables: DeepLog's score counts misses, so each
missed event contributes 1 (with the events it expected instead); EventCounts' PCA score
is a sum of squared residuals per event, so each event contributes its own term. The
contributions of a session add up to its score. Raw logs also name the source line.
The readable forms (``top``, ``text``) leave out culprits under 1% of their session's
score; ``events`` keeps them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepad.explain.result import format_number

#: culprits below this share of their session's score are left out of top() and text()
MIN_SHARE = 0.01
#: columns of ``SessionExplanation.events``
EVENT_COLUMNS = (
    "session",
    "key",
    "position",
    "line",
    "event",
    "template",
    "contribution",
    "detail",
)


@dataclass
class SessionExplanation:
    """Scores of sessions and, per session, the events that raised them.

    - ``scores``, ``keys``: one per session;
    - ``events``: one row per culprit (``EVENT_COLUMNS``): session index and key, position
      in the session (-1 for a whole-session count), 1-based source line (0 when not
      known), event id, template, contribution in score units, and what was expected;
    - ``threshold``: the detector's threshold when explained.
    """

    scores: np.ndarray
    keys: list[str]
    events: pd.DataFrame
    threshold: float
    top_k: int = 3
    method: str = "events"

    def for_session(self, index: int, *, notable: bool = False) -> pd.DataFrame:
        """Culprits of one session, largest contribution first (``notable``: only those of
        at least ``MIN_SHARE`` of its score)."""
        frame = self._notable() if notable else self.events
        rows = frame[frame["session"] == index]
        return rows.sort_values(["contribution", "position"], ascending=[False, True])

    def _notable(self) -> pd.DataFrame:
        share = self.scores[self.events["session"].to_numpy(dtype=np.int64)] * MIN_SHARE
        return self.events[self.events["contribution"].to_numpy() >= share]

    def top(self) -> pd.DataFrame:
        """One row per session: key, score, flagged, and its ``top_k`` culprits as text."""
        ranked = self._notable().sort_values(
            ["session", "contribution", "position"], ascending=[True, False, True]
        )
        ranked = ranked.groupby("session", sort=False).head(self.top_k)
        texts = ranked.assign(text=[_culprit(row) for row in ranked.itertuples()])
        columns: dict[str, list[str]] = {f"culprit_{k + 1}": [] for k in range(self.top_k)}
        by_session = texts.groupby("session")["text"].apply(list).to_dict()
        for index in range(len(self.scores)):
            found = by_session.get(index, [])
            for k in range(self.top_k):
                columns[f"culprit_{k + 1}"].append(found[k] if k < len(found) else "")
        return pd.DataFrame(
            {
                "session": self.keys,
                "score": self.scores,
                "flagged": self.scores > self.threshold,
                **columns,
            }
        )

    def text(self, index: int) -> str:
        """A readable account of one session."""
        score = self.scores[index]
        verdict = "flagged" if score > self.threshold else "not flagged"
        head = (
            f"session {self.keys[index]}: score {format_number(score)} ({verdict}; threshold "
            f"{format_number(self.threshold)})"
        )
        culprits = self.for_session(index, notable=True).head(self.top_k)
        if culprits.empty:
            return head + "\n  every event was as expected"
        return "\n".join([head, *("  " + _culprit(row) for row in culprits.itertuples())])


def _culprit(row: object) -> str:
    where = f"line {row.line}: " if row.line > 0 else ""
    at = f" at position {row.position + 1}" if row.position >= 0 else ""
    return f"{where}{row.template!r}{at} (+{format_number(row.contribution)}; {row.detail})"
