"""Monitoring: drift of new data against what a detector was trained on.

``feature_drift(det.preprocessor_, new_df)``: per input column, how far the new values
moved from the training distribution the bundle remembers, with a test and a flag;
``channel_drift(series_det, new_df)`` the same per channel of a series detector.
``DriftMonitor(det).observe(frame, scores, p_values, flags)``: tumbling windows of
scored rows, each tested (per column, all columns together, scores, flagged share) into
a ``WindowReport`` with its alerts; the tests themselves are in ``deepad.monitor.stats``.
"""

from deepad.monitor.drift import channel_drift, feature_drift
from deepad.monitor.window import DriftMonitor, WindowReport

__all__ = ["DriftMonitor", "WindowReport", "channel_drift", "feature_drift"]
