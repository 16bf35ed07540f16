"""``UnitDetector``: what the image and log bases share, one score per exchangeable unit.

Images and sessions are scored whole, and unlike the time steps of a series they are
exchangeable, so calibration holds out a random share of them, as for table rows. Units
labelled 1 in ``y`` are kept out of both training and calibration. Subclasses give
``_export_state`` / ``_import_state`` for their learned state; the held-out rows travel
with it in the bundle.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from deepad.calibrate.split import calibration_split
from deepad.core.base import BaseDetector, _check_labels


class UnitDetector(BaseDetector):
    """Base of the image and log detectors; not used directly."""

    #: what one unit is called in messages ("images", "sessions")
    unit: ClassVar[str] = "units"
    #: fewest normal units the model can learn from
    min_fit_units: ClassVar[int] = 2

    def _split_units(
        self, n_units: int, y: Any, calibration_size: int | float | str
    ) -> tuple[np.ndarray, np.ndarray]:
        """(training units, calibration units): units labelled 1 in ``y`` go to neither."""
        labels = None if y is None else _check_labels(y, n_units)
        normal = np.arange(n_units) if labels is None else np.flatnonzero(labels != 1)
        name, minimum = type(self).__name__, self.min_fit_units
        if len(normal) < minimum:
            raise ValueError(
                f"{name} needs at least {minimum} normal {self.unit} to fit; got {len(normal)}"
            )
        fit_local, calibration_local = calibration_split(
            len(normal), None, calibration_size, self._split_seed()
        )
        if len(fit_local) < minimum:
            raise ValueError(
                f"{name} needs at least {minimum} training {self.unit}; {len(calibration_local)} "
                f"of the {len(normal)} normal {self.unit} were held out for calibration; pass a "
                "smaller calibration_size, or 0"
            )
        return normal[fit_local], normal[calibration_local]

    def _export_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        raise NotImplementedError

    def _import_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = self._export_state()
        return meta, {**arrays, "calibration_rows": np.asarray(self.calibration_rows_)}

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.calibration_rows_ = np.asarray(arrays.pop("calibration_rows", np.empty(0)))
        self._import_state(meta, arrays)
