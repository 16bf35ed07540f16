"""Explanations checked against known causes: anomalies injected into normal rows.

Take normal test rows, shift ``k`` chosen columns of each by ``shift`` training standard
deviations (sign at random), explain the corrupted rows and count how many of the ``k``
columns are among the ``k`` largest contributions: the hit rate at k = number corrupted.
A random ranking scores ``k / n_columns`` on average.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

#: shift of each corrupted column, in training standard deviations
DEFAULT_SHIFT = 5.0


@dataclass(frozen=True)
class Injected:
    """Corrupted rows and, per row, the positions of the columns that were shifted."""

    rows: np.ndarray
    corrupted: np.ndarray  # (n, k) column positions


def inject_shifts(
    normal_rows: np.ndarray,
    training_rows: np.ndarray,
    n_corrupted: int,
    *,
    shift: float = DEFAULT_SHIFT,
    seed: int = 0,
) -> Injected:
    """Shift ``n_corrupted`` distinct random columns of each row by ``+-shift`` std.

    Standard deviations come from ``training_rows``; constant columns are never chosen,
    since a shift there has no scale to be measured in.
    """
    std = training_rows.std(axis=0)
    eligible = np.flatnonzero(std > 1e-12)
    if n_corrupted < 1 or n_corrupted > len(eligible):
        raise ValueError(
            f"n_corrupted must be in [1, {len(eligible)}] (non-constant columns), got {n_corrupted}"
        )
    rng = np.random.default_rng(seed)
    rows = np.array(normal_rows, dtype=np.float64, copy=True)
    corrupted = np.stack(
        [rng.choice(eligible, size=n_corrupted, replace=False) for _ in range(len(rows))]
    )
    signs = rng.choice([-1.0, 1.0], size=corrupted.shape)
    at = np.arange(len(rows))[:, None]
    rows[at, corrupted] += signs * shift * std[corrupted]
    return Injected(rows, corrupted)


def hit_rate(ranked: np.ndarray, corrupted: np.ndarray) -> float:
    """Mean share of each row's ``k`` corrupted columns among its ``k`` top-ranked ones
    (``ranked``: column positions, largest contribution first, as ``Explanation.ranked``)."""
    k = corrupted.shape[1]
    hits = [len(set(t[:k]) & set(c)) / k for t, c in zip(ranked, corrupted, strict=True)]
    return float(np.mean(hits))


def injected_hit_rates(
    detector: Any,
    training_rows: np.ndarray,
    normal_rows: np.ndarray,
    methods: list[str],
    *,
    corrupted_counts: tuple[int, ...] = (1, 2, 3),
    shift: float = DEFAULT_SHIFT,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Hit rate per explanation method and number of corrupted columns, for a fitted
    ``detector``; one record each, with the seconds the explanations took."""
    records = []
    for k in corrupted_counts:
        injected = inject_shifts(normal_rows, training_rows, k, shift=shift, seed=seed + k)
        for method in methods:
            start = time.perf_counter()
            explanation = detector.explain(injected.rows, method=method)
            seconds = time.perf_counter() - start
            records.append(
                {
                    "method": explanation.method,
                    "corrupted": k,
                    "hit_rate": hit_rate(explanation.ranked(k), injected.corrupted),
                    "random": k / normal_rows.shape[1],
                    "seconds": seconds,
                    "rows": len(normal_rows),
                }
            )
    return records
