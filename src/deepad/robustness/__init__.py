"""Robustness of fitted detectors: stress tests under noise, missing columns, unit changes
and duplicated rows (``stress_test``)."""

from deepad.robustness.stress import StressReport, StressResult, stress_test

__all__ = ["StressReport", "StressResult", "stress_test"]
