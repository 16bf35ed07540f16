"""``Calibrator``: a detector's scores -> p-values, and the rule that turns them into 0/1.

Every detector holds one (``det.calibrator_``), filled at ``fit`` with the scores of the
calibration rows it held out, and saved in its bundle. The model only produces scores;
everything about thresholds lives here, so each rule behaves the same for every model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

from deepad.calibrate.conformal import (
    as_scores,
    conformal_p_values,
    conformal_threshold,
    fpr_spread,
    smallest_p_value,
)
from deepad.calibrate.fdr import benjamini_hochberg
from deepad.calibrate.rules import (
    RULES,
    best_f1_threshold,
    check_rate,
    contamination_threshold,
)


class CalibrationWarning(UserWarning):
    """A threshold level the calibration rows cannot reach, so it would flag nothing."""


class NotCalibratedError(NotFittedError):
    """p-values or a rule that needs calibration scores, on a detector that has none."""


class Calibrator:
    """Calibration scores plus the active threshold rule.

    ``calibration_scores`` are scores of rows the model did not train on (empty when the
    detector was fitted with ``calibration_size=0`` and never calibrated). ``rule`` is one
    of :data:`deepad.calibrate.rules.RULES`, ``level`` its alpha / q / contamination,
    ``threshold`` the score above which a row is flagged (for ``fdr``: the bound for a
    batch of one row; a larger batch is decided by Benjamini-Hochberg). ``confidence``
    (``fpr`` only, else None) makes the FPR bound hold for that share of calibration
    draws rather than on average.
    """

    def __init__(
        self,
        calibration_scores: np.ndarray,
        rule: str = "score",
        level: float | None = None,
        threshold: float = math.inf,
        confidence: float | None = None,
    ) -> None:
        self.calibration_scores = np.sort(as_scores(calibration_scores, "calibration scores"))
        self.rule = rule
        self.level = level
        self.threshold = float(threshold)
        self.confidence = confidence

    # ------------------------------------------------------------ reading
    @property
    def n_calibration(self) -> int:
        """How many calibration scores the p-values are computed from."""
        return int(self.calibration_scores.size)

    @property
    def smallest_p_value(self) -> float:
        """``1 / (m + 1)``: no row can get a smaller p-value, so no alpha below it flags."""
        return smallest_p_value(self.n_calibration)

    def p_values(self, scores: np.ndarray) -> np.ndarray:
        """Conformal p-value per score (small = unusual); see :mod:`.conformal`."""
        self._require_calibration("p-values")
        return conformal_p_values(self.calibration_scores, scores)

    def decide(
        self, scores: np.ndarray, *, fpr: float | None = None, fdr: float | None = None
    ) -> np.ndarray:
        """0/1 per score: by the active rule, or by ``fpr`` / ``fdr`` given for this call."""
        values = np.asarray(scores, dtype=np.float64)
        if fpr is not None and fdr is not None:
            raise ValueError("give fpr or fdr, not both")
        if fpr is not None:
            threshold = self.rule_threshold("fpr", check_rate(fpr, "fpr"))
            return (values > threshold).astype(np.int64)
        if fdr is not None or self.rule == "fdr":
            q = check_rate(fdr if fdr is not None else self.level, "fdr")
            return benjamini_hochberg(self.p_values(values), q).astype(np.int64)
        return (values > self.threshold).astype(np.int64)

    def describe(self, rule: str | None = None, level: float | None = None) -> str:
        """One line: the active rule, its level and what it promises.

        ``rule`` and ``level`` describe a rule given for one call instead (``decide(fpr=)``
        or ``decide(fdr=)``), which never carries a confidence.
        """
        confidence = self.confidence
        if rule is None:
            rule, level = self.rule, self.level
        else:
            confidence = None
        text_level = "" if level is None else f"{RULES[rule]}={level:g}"
        if confidence is not None:
            text_level += f" at {confidence:.0%} confidence"
        promise = {
            "fpr": "false-positive rate on new normal rows <= alpha"
            + (
                " on average"
                if confidence is None
                else f" for {confidence:.0%} of calibration draws"
            ),
            "fdr": "expected share of false alarms among flagged rows <= q (per batch)",
            "contamination": "flags that share of the training rows (no promise on new data)",
            "evt": "extreme-value estimate of the 1 - q score quantile (no finite-sample promise)",
            "best_f1": "best F1 on the labelled rows it was chosen on",
            "score": "a fixed score threshold",
        }[rule]
        text = f"{rule} {text_level}".strip() + f": {promise}"
        if rule == "fpr" and self.n_calibration:
            low, high = fpr_spread(self.n_calibration, level, confidence=confidence)
            text += (
                f"; with {self.n_calibration} calibration rows one fit's rate "
                f"lies in {low:.2%}-{high:.2%} for 90% of draws"
            )
        return text

    # ------------------------------------------------------------ setting
    def rule_threshold(
        self,
        rule: str,
        level: Any = None,
        *,
        training_scores: np.ndarray | None = None,
        labelled: tuple[np.ndarray, np.ndarray] | None = None,
        confidence: float | None = None,
    ) -> float:
        """The score threshold ``rule`` at ``level`` gives (``fdr``: for a batch of one)."""
        if confidence is not None and rule != "fpr":
            raise ValueError(
                f"confidence goes with fpr only, not {rule!r}: set_threshold(fpr=..., "
                "confidence=...)"
            )
        if rule in ("fpr", "fdr"):
            self._require_calibration(f"the {rule} rule")
            return conformal_threshold(self.calibration_scores, level, confidence)
        if rule == "contamination":
            if training_scores is None:
                raise ValueError("the contamination rule needs the training scores")
            return contamination_threshold(training_scores, level)
        if rule == "evt":
            from deepad.calibrate.evt import pot_threshold, rule_level

            source = self.calibration_scores if self.n_calibration else training_scores
            if source is None or len(source) == 0:
                raise NotCalibratedError("the evt rule needs calibration or training scores")
            return pot_threshold(source, level, level=rule_level(len(source)))
        if rule == "best_f1":
            if labelled is None:
                raise ValueError("the best_f1 rule needs labelled rows: best_f1=(X, y)")
            return best_f1_threshold(*labelled)
        if rule == "score":
            value = float(level)
            if not math.isfinite(value):
                raise ValueError(f"a score threshold must be finite, got {level!r}")
            return value
        raise ValueError(f"unknown threshold rule {rule!r}; choose from {list(RULES)}")

    def set_rule(
        self, rule: str, level: Any = None, confidence: float | None = None, **context: Any
    ) -> Calibrator:
        """Make ``rule`` at ``level`` the active one (validated), and return self."""
        if confidence is not None:
            confidence = check_rate(confidence, "confidence")
        if rule in ("fpr", "fdr", "evt"):
            level = check_rate(level, {"fpr": "fpr", "fdr": "fdr", "evt": "evt q"}[rule])
        elif rule == "contamination":
            level = check_rate(level, "contamination", upper=0.5 + 1e-12)
        threshold = self.rule_threshold(rule, level, confidence=confidence, **context)
        self.rule = rule
        self.level = None if rule in ("best_f1", "score") else float(level)
        self.threshold = threshold
        self.confidence = confidence
        return self

    def recalibrated(self, calibration_scores: np.ndarray) -> Calibrator:
        """A calibrator on new calibration scores with this one's rule: ``fpr``, ``fdr``
        and ``evt`` thresholds are recomputed from them; the other rules do not depend on
        calibration rows and keep their threshold."""
        fresh = Calibrator(calibration_scores)
        if self.rule in ("fpr", "fdr", "evt"):
            fresh.set_rule(self.rule, self.level, confidence=self.confidence)
        else:
            fresh.rule, fresh.level, fresh.threshold = self.rule, self.level, self.threshold
        return fresh

    # ------------------------------------------------------------ bundles
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able description and arrays, for bundles (no pickle)."""
        meta = {
            "rule": self.rule,
            "level": self.level,
            "value": self.threshold if math.isfinite(self.threshold) else str(self.threshold),
            "calibration_rows": self.n_calibration,
            "confidence": self.confidence,
        }
        return meta, {"calibration_scores": self.calibration_scores}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Calibrator:
        """Inverse of :meth:`state`."""
        rule = meta["rule"]
        if rule not in RULES:
            raise ValueError(f"unknown threshold rule {rule!r} in the bundle")
        confidence = meta.get("confidence")
        return cls(
            arrays["calibration_scores"],
            rule,
            meta["level"],
            float(meta["value"]),
            None if confidence is None else check_rate(confidence, "confidence"),
        )

    def _require_calibration(self, what: str) -> None:
        if self.n_calibration == 0:
            raise NotCalibratedError(
                f"{what} need calibration scores, and this detector has none (it was fitted "
                "with calibration_size=0): call det.calibrate(X_normal) with rows it did not "
                "train on, or refit with calibration_size='auto'"
            )
