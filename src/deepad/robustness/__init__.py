"""Robustness of fitted detectors: stress tests under noise, missing columns, unit changes
and duplicated rows (``stress_test``), and evasion of known anomalies within a budget
(``evasion_curve``)."""

from deepad.robustness.evasion import EvasionPoint, EvasionReport, evasion_curve
from deepad.robustness.stress import StressReport, StressResult, stress_test

__all__ = [
    "EvasionPoint",
    "EvasionReport",
    "StressReport",
    "StressResult",
    "evasion_curve",
    "stress_test",
]
