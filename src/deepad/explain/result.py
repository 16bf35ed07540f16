"""``Explanation``: the one result type of ``explain``, with a readable form.

Rows are what the detector scores (table rows; later time steps, with channels as
columns); columns are the input columns, categorical ones folded back from their one-hot
encoding. A positive contribution pushed the row's score up (towards anomalous).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Explanation:
    """Per-column contributions to each row's anomaly score, and how to read them.

    - ``contributions``: DataFrame (rows x input columns), in score units.
    - ``values``: the input values that were explained, same shape.
    - ``expected``: what the model expected instead (its reconstruction, or the nearest
      normal row), in input units, when the method has one; else None.
    - ``typical``: per column, the typical training values as text ("12-450", "US 62%").
    - ``remainder``: the part of each score the contributions do not account for
      (score - sum of contributions): 0 for exact decompositions, the baseline's score for
      integrated gradients, interactions for ablation.
    """

    method: str
    scores: np.ndarray
    contributions: pd.DataFrame
    values: pd.DataFrame
    typical: dict[str, str]
    expected: pd.DataFrame | None = None
    top_k: int = 3
    notes: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.contributions)

    @property
    def remainder(self) -> np.ndarray:
        """Score minus the sum of the contributions, per row."""
        return self.scores - self.contributions.to_numpy().sum(axis=1)

    def ranked(self, k: int | None = None) -> np.ndarray:
        """Column positions of each row's ``k`` largest contributions, largest first.

        Ties are broken by column order, so the ranking is deterministic.
        """
        k = self._k(k)
        values = self.contributions.to_numpy()
        order = np.argsort(-values, axis=1, kind="stable")
        return order[:, :k]

    def top(self, k: int | None = None) -> pd.DataFrame:
        """One row per explained row: score, then for i = 1..k ``feature_i``,
        ``contribution_i``, ``share_i`` (of the row's positive contributions), ``value_i``,
        ``typical_i`` (and ``expected_i`` when the method has one), then ``explanation``.

        Contributors that did not push the score up are left blank.
        """
        k = self._k(k)
        names = np.asarray(self.contributions.columns, dtype=object)
        contributions = self.contributions.to_numpy()
        positive = np.clip(contributions, 0.0, None).sum(axis=1)
        ranked = self.ranked(k)
        out: dict[str, list[object]] = {"score": list(self.scores)}
        texts: list[list[str]] = [[] for _ in range(len(self))]
        for i in range(k):
            columns: dict[str, list[object]] = {
                f"feature_{i + 1}": [],
                f"contribution_{i + 1}": [],
                f"share_{i + 1}": [],
                f"value_{i + 1}": [],
                f"typical_{i + 1}": [],
            }
            if self.expected is not None:
                columns[f"expected_{i + 1}"] = []
            for row in range(len(self)):
                j = ranked[row, i] if i < ranked.shape[1] else None
                value = contributions[row, j] if j is not None else 0.0
                if j is None or not value > 0:
                    for column in columns.values():
                        column.append(None)
                    continue
                name = names[j]
                shown = format_value(self.values.iat[row, j])
                columns[f"feature_{i + 1}"].append(name)
                columns[f"contribution_{i + 1}"].append(float(value))
                columns[f"share_{i + 1}"].append(float(value / positive[row]))
                columns[f"value_{i + 1}"].append(shown)
                columns[f"typical_{i + 1}"].append(self.typical[name])
                expected = None
                if self.expected is not None:
                    expected = format_value(self.expected.iat[row, j])
                    columns[f"expected_{i + 1}"].append(expected)
                texts[row].append(describe_contributor(name, shown, self.typical[name], expected))
            out.update(columns)
        out["explanation"] = ["; ".join(parts) for parts in texts]
        return pd.DataFrame(out, index=self.contributions.index)

    def text(self, k: int | None = None) -> list[str]:
        """The readable form per row: ``"amount = 9,800 (typical 12-450); ..."``, with
        ``expected 310; `` before ``typical`` when the method has expected values."""
        return list(self.top(k)["explanation"])

    def _k(self, k: int | None) -> int:
        return min(check_top(self.top_k if k is None else k), self.contributions.shape[1])


def describe_contributor(name: str, value: str, typical: str, expected: str | None) -> str:
    """One contributor in words: ``amount = 9,800 (expected 310; typical 12-450)``."""
    context = f"typical {typical}"
    if expected is not None:
        context = f"expected {expected}; {context}"
    return f"{name} = {value} ({context})"


def check_top(k: object) -> int:
    """``k`` as a positive int (how many contributors or rows to list), or a ValueError."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"top must be a positive int, got {k!r}")
    return int(k)


def format_number(value: float) -> str:
    """A number as people write it: ``9,800``, ``12.5``, ``0.0312``, ``1.2e-07``."""
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude == 0 or magnitude >= 1e-3:
        return f"{value:.3g}"
    return f"{value:.2g}"


def format_value(value: object) -> str:
    """One input cell for display: numbers via ``format_number``, gaps as ``missing``."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "missing"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return format_number(float(value))
    return str(value)
