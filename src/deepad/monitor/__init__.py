"""Monitoring: drift of new data against what a detector was trained on.

``feature_drift(det.preprocessor_, new_df)``: per input column, how far the new values
moved from the training distribution the bundle remembers, with a test and a flag.
"""

from deepad.monitor.drift import feature_drift

__all__ = ["feature_drift"]
