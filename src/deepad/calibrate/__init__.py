"""Scores -> p-values, thresholds and decisions with a stated error rate.

- :func:`conformal_p_values`: split-conformal p-values from held-out calibration scores;
  ``P(p <= alpha) <= alpha`` on new normal rows when the calibration rows are clean.
- :func:`benjamini_hochberg`: FDR control over one batch of p-values.
- :class:`SPOT` / :func:`pot_threshold`: peaks-over-threshold (extreme value) thresholds,
  for streams and for rates finer than the calibration rows resolve.
- :func:`novel_peaks`: one alarm per sustained anomaly (causal de-duplication of a stream).
- :class:`Calibrator`: what every detector holds (``det.calibrator_``) and saves.
"""

from deepad.calibrate.alarms import novel_peaks
from deepad.calibrate.calibrator import CalibrationWarning, Calibrator, NotCalibratedError
from deepad.calibrate.conformal import conformal_p_values, conformal_threshold
from deepad.calibrate.evt import SPOT, pot_threshold
from deepad.calibrate.fdr import benjamini_hochberg
from deepad.calibrate.rules import RULES, best_f1_threshold

__all__ = [
    "RULES",
    "SPOT",
    "CalibrationWarning",
    "Calibrator",
    "NotCalibratedError",
    "benjamini_hochberg",
    "best_f1_threshold",
    "conformal_p_values",
    "conformal_threshold",
    "novel_peaks",
    "pot_threshold",
]
