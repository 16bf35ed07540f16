"""Stress tests: how far a fitted table detector's scores and decisions move when its
input is disturbed in the ways real data gets disturbed.

``stress_test(detector, X)`` scores ``X`` as given, then under each perturbation:

- **noise**: Gaussian noise on every numeric column, at ``noise_levels`` (0.01, 0.1, 0.5)
  times that column's training spread (the preprocessor's scale): small noise should
  move little, and never flip decisions wholesale;
- **missing feature**: one column at a time set to missing (the preprocessor imputes
  it); the column that moves decisions most is named;
- **unit change**: one numeric column at a time multiplied by ``unit_factor`` (1000,
  grams read as milligrams). This is a real change of the data; the report says how
  loudly the detector notices it (a unit slip should be flagged, not absorbed);
- **duplicated rows**: the rows twice, in shuffled order: every copy must get the
  score of its original (scoring is row-wise, independent of batch and order).

For each it reports the Spearman rank correlation with the clean scores, the median
absolute score change over the clean scores' interquartile range, the share of rows
whose decision flipped and the flagged share before and after. The line noise must stay
under (``noise_ok``): noise up to ``SMALL_NOISE`` (a tenth of the spread) flips at most
``WHOLESALE_SHARE`` (5%) of the decisions; larger levels are reported, not judged.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from deepad.core.jsonable import json_ready
from deepad.io.tables import as_table

NOISE_LEVELS = (0.01, 0.1, 0.5)
UNIT_FACTOR = 1000.0
#: noise up to this multiple of the spread must not flip more than ``WHOLESALE_SHARE``
SMALL_NOISE = 0.1
WHOLESALE_SHARE = 0.05


@dataclass
class StressResult:
    """One perturbation: what it did to the scores and the decisions."""

    perturbation: str
    detail: str
    rank_correlation: float
    median_change_iqr: float
    flipped: float
    flagged_before: float
    flagged_after: float
    #: for per-column perturbations: the column this result is for (the worst one)
    column: str | None = None


@dataclass
class StressReport:
    """All perturbations of one run; ``to_frame()`` for a table, ``to_dict()`` for JSON."""

    rows: int
    results: list[StressResult]
    wholesale: float
    noise_ok: bool
    duplicates_identical: bool
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.results])

    def to_dict(self) -> dict[str, Any]:
        return json_ready(asdict(self))


def stress_test(
    detector: Any,
    X: Any,
    *,
    noise_levels: tuple[float, ...] = NOISE_LEVELS,
    unit_factor: float = UNIT_FACTOR,
    seed: int = 0,
    max_rows: int = 5000,
) -> StressReport:
    """Disturb ``X`` in each way listed in the module docstring; see :class:`StressReport`.

    At most ``max_rows`` rows are used (a seeded sample), so a large file stays quick.
    """
    if getattr(detector, "modality", "table") != "table" or not hasattr(detector, "preprocessor_"):
        raise ValueError("stress tests need a fitted table detector (a bundle of `deepad fit`)")
    if not all(level > 0 for level in noise_levels):
        raise ValueError(f"noise levels must be positive multiples of the spread: {noise_levels}")
    if not unit_factor > 0 or unit_factor == 1:
        raise ValueError(f"unit_factor must be positive and not 1, got {unit_factor!r}")
    rng = np.random.default_rng(seed)
    frame = detector.preprocessor_.select_columns(as_table(X)).reset_index(drop=True)
    if len(frame) < 2:
        raise ValueError(f"stress tests need at least 2 rows, got {len(frame)}")
    notes = []
    if len(frame) > max_rows:
        frame = frame.iloc[np.sort(rng.choice(len(frame), max_rows, replace=False))]
        frame = frame.reset_index(drop=True)
        notes.append(f"a seeded sample of {max_rows} rows was used")
    specs = detector.preprocessor_.columns_
    numeric = [s for s in specs if s.kind == "numeric"]
    with warnings.catch_warnings():  # imputed columns warn by design here
        warnings.simplefilter("ignore")
        base = _Outcome.of(detector, frame)
        results = []
        for level in noise_levels:
            noisy = frame.copy()
            for spec in numeric:
                values = pd.to_numeric(noisy[spec.name], errors="coerce").to_numpy(float)
                noisy[spec.name] = values + rng.normal(0.0, level * spec.scale, len(values))
            results.append(base.compare(detector, noisy, "noise", f"{level:g} x spread"))
        results.append(_worst_column(base, detector, frame, specs, "missing feature", _missing))
        if numeric:
            scale = _scaler(unit_factor)
            results.append(
                _worst_column(
                    base, detector, frame, numeric, f"unit change x{unit_factor:g}", scale
                )
            )
        order = rng.permutation(2 * len(frame))
        doubled = pd.concat([frame, frame], ignore_index=True).iloc[order]
        scores = detector.decision_function(doubled.reset_index(drop=True))
        back = np.empty_like(scores)
        back[order] = scores
        identical = bool(np.array_equal(back[: len(frame)], base.scores)) and bool(
            np.array_equal(back[len(frame) :], base.scores)
        )
        first = base.against(
            detector, back[: len(frame)], "duplicated rows", "every row twice, shuffled"
        )
        first.flagged_after = float(np.mean(detector.calibrator_.decide(back)))  # both copies
        results.append(first)
    noise_ok = all(
        r.flipped <= WHOLESALE_SHARE
        for r, level in zip(results, noise_levels, strict=False)
        if level <= SMALL_NOISE
    )
    return StressReport(len(frame), results, WHOLESALE_SHARE, noise_ok, identical, notes)


@dataclass
class _Outcome:
    scores: np.ndarray
    flags: np.ndarray
    iqr: float
    flagged: float

    @classmethod
    def of(cls, detector: Any, frame: pd.DataFrame) -> _Outcome:
        scores = detector.decision_function(frame)
        flags = detector.calibrator_.decide(scores)
        q1, q3 = np.quantile(scores, [0.25, 0.75])
        return cls(scores, flags, float(q3 - q1), float(np.mean(flags)))

    def compare(
        self, detector: Any, frame: pd.DataFrame, what: str, detail: str, column: str | None = None
    ) -> StressResult:
        return self.against(detector, detector.decision_function(frame), what, detail, column)

    def against(
        self, detector: Any, scores: np.ndarray, what: str, detail: str, column: str | None = None
    ) -> StressResult:
        """How ``scores`` of the disturbed rows (in the clean rows' order) moved."""
        flags = detector.calibrator_.decide(scores)
        return StressResult(
            what,
            detail,
            _spearman(self.scores, scores),
            _median_change(self, scores),
            float(np.mean(flags != self.flags)),
            self.flagged,
            float(np.mean(flags)),
            column,
        )


def _worst_column(base, detector, frame, specs, what, change) -> StressResult:
    """The perturbation applied to each column in turn; the result of the column that
    flipped most decisions (ties: the lowest rank correlation)."""
    results = []
    for spec in specs:
        changed = frame.copy()
        changed[spec.name] = change(changed[spec.name])
        results.append(base.compare(detector, changed, what, "", column=str(spec.name)))
    worst = max(results, key=lambda r: (r.flipped, -_finite(r.rank_correlation)))
    flips = [r.flipped for r in results]
    worst.detail = (
        f"worst of {len(results)} columns; median column flips {float(np.median(flips)):.1%}"
    )
    return worst


def _missing(column: pd.Series) -> pd.Series:
    return pd.Series([np.nan] * len(column), index=column.index, dtype=object if
                     column.dtype == object else float)  # fmt: skip


def _scaler(factor: float):
    def scale(column: pd.Series) -> pd.Series:
        return pd.to_numeric(column, errors="coerce") * factor

    return scale


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _median_change(base: _Outcome, scores: np.ndarray) -> float:
    change = float(np.median(np.abs(scores - base.scores)))
    return change / base.iqr if base.iqr > 0 else (0.0 if change == 0 else float("inf"))


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -2.0
