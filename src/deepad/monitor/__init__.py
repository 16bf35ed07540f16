"""Monitoring: drift of new data against what a detector was trained on.

``feature_drift(det.preprocessor_, new_df)``: per input column, how far the new values
moved from the training distribution the bundle remembers, with a test and a flag;
``channel_drift(series_det, new_df)`` the same per channel of a series detector.
"""

from deepad.monitor.drift import channel_drift, feature_drift

__all__ = ["channel_drift", "feature_drift"]
