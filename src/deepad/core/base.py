"""``BaseDetector``: the scikit-learn-style contract shared by every detector.

Subclasses implement three hooks on the *encoded* float matrix (the preprocessing
captured at fit time is handled here, once):

- ``_fit_features(Z, labels)``: learn the model (``labels`` is None unless the class sets
  ``uses_labels``; then 1 = known anomaly, 0 = known normal, -1 = unknown);
- ``_score_features(Z)``: anomaly scores, higher = more anomalous;
- ``_export_model()`` / ``_import_model(meta, arrays)``: the learned state as JSON plus
  NumPy arrays, so bundles never need pickle.

Explanations work for every detector through model-agnostic ablation; a class with an
exact or cheaper method of its own lists it in ``native_explain_methods`` and implements
``_explain_features(Z, method)``.

Optionally ``_training_scores(Z)`` when scores on the training rows differ from scoring
new rows (k-NN excludes each row from its own neighbours).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from deepad.calibrate.calibrator import CalibrationWarning, Calibrator
from deepad.calibrate.split import calibration_split
from deepad.io.tables import as_table
from deepad.preprocess.reference import DriftReference
from deepad.preprocess.tabular import (
    MissingValueWarning,
    TabularPreprocessor,
    fingerprint_table,
)


class BaseDetector(BaseEstimator):
    """Base class of all detectors: fit, decision_function, predict, save.

    Scores follow PyOD's convention (higher = more anomalous). ``predict`` flags rows
    whose score exceeds ``threshold_``, set by the calibrator's active rule (by default:
    conformal p-value <= ``contamination``; see :meth:`set_threshold`).
    """

    #: what one row of input is; recorded in bundles so loaders need no hints
    modality: ClassVar[str] = "table"
    #: one line for ``deepad models``
    summary: ClassVar[str] = ""
    #: semi-supervised detectors learn from ``y`` in fit; the others ignore it
    uses_labels: ClassVar[bool] = False
    #: detectors that cannot fit at all without rows labelled 1 in ``y``
    requires_labels: ClassVar[bool] = False
    #: explanation methods this class computes itself (``_explain_features``)
    native_explain_methods: ClassVar[tuple[str, ...]] = ()
    #: what ``explain(X, method="auto")`` uses; model-agnostic unless a subclass knows better
    default_explain_method: ClassVar[str] = "ablation"

    # ------------------------------------------------------------ contract
    def fit(self, X: Any, y: Any = None, *, calibration_size: int | float | str = "auto") -> Any:
        """Learn normal behaviour from ``X``, holding out calibration rows for p-values.

        ``y`` (optional) labels rows: 1 = known anomaly, 0 = known normal, -1 = unknown.
        Semi-supervised detectors (``uses_labels``) learn from it; unsupervised ones ignore
        it (for the one-class setting, fit them on the rows known to be normal). Rows
        labelled 1 are never used for calibration.

        ``calibration_size`` rows (``"auto"``: 20% of the rows, at most 2,000; a fraction;
        a count; or 0 for none) are drawn at random and kept out of training; their scores
        make the conformal p-values, and ``predict`` then flags rows with p-value <=
        ``contamination``: at most that share of new normal rows, if the calibration rows
        were normal. With ``calibration_size=0`` the threshold is PyOD's in-sample
        ``1 - contamination`` quantile until :meth:`calibrate` is called.
        ``calibration_rows_`` holds the positions in ``X`` of the rows that calibrate.
        """
        self._check_params()
        table = as_table(X)
        labels = None if y is None else _check_labels(y, len(table))
        known_anomalies = None if labels is None else labels == 1
        fit_rows, calibration_rows = calibration_split(
            len(table),
            known_anomalies if self.uses_labels else None,  # theirs are too few to spare
            calibration_size,
            self._split_seed(),
        )
        fit_table = table.iloc[fit_rows]
        preprocessor = TabularPreprocessor().fit(fit_table)
        features = preprocessor.transform(fit_table)
        self.preprocessor_ = preprocessor
        self.n_features_in_ = table.shape[1]
        self.feature_names_in_ = np.asarray(table.columns, dtype=object)
        self.training_rows_ = len(table)
        self.training_fingerprint_ = fingerprint_table(table)
        self.drift_reference_ = DriftReference.fit(
            preprocessor, fit_table, features, self._split_seed()
        )
        fit_labels = labels[fit_rows] if self.uses_labels and labels is not None else None
        try:
            self._fit_features(features, fit_labels)
        except ValueError as exc:  # e.g. "needs more rows": say where the missing rows went
            if not len(calibration_rows):
                raise
            raise ValueError(
                f"{exc} ({len(calibration_rows)} of the {len(table)} rows were held out for "
                "calibration; pass a smaller calibration_size, or 0)"
            ) from exc
        scores = np.empty(len(table), dtype=np.float64)
        scores[fit_rows] = self._training_scores(features)
        if len(calibration_rows):
            with warnings.catch_warnings():  # gaps there are reported when scoring, not here
                warnings.simplefilter("ignore", MissingValueWarning)
                calibration_features = preprocessor.transform(table.iloc[calibration_rows])
            scores[calibration_rows] = self._score_features(calibration_features)
        self.decision_scores_ = scores
        if known_anomalies is not None:
            calibration_rows = calibration_rows[~known_anomalies[calibration_rows]]
        self.calibration_rows_ = calibration_rows
        self._start_calibration(scores[calibration_rows], scores)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score per row, float64, higher = more anomalous."""
        self._check_fitted()
        features = self.preprocessor_.transform(X)
        return np.asarray(self._score_features(features), dtype=np.float64)

    def predict(self, X: Any, *, fpr: float | None = None, fdr: float | None = None) -> np.ndarray:
        """1 for flagged rows, else 0 (int64), by the active threshold rule.

        ``fpr=alpha`` flags rows with conformal p-value <= alpha for this call; ``fdr=q``
        applies Benjamini-Hochberg to this batch's p-values, so that the expected share of
        false alarms among the flagged rows is at most q. See :meth:`set_threshold`.
        """
        scores = self.decision_function(X)  # checks fitted first
        return self.calibrator_.decide(scores, fpr=fpr, fdr=fdr)

    def fit_predict(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit, then return the 0/1 labels of the training rows (by the active rule)."""
        self.fit(X, y, **fit_params)
        return (self.decision_scores_ > self.threshold_).astype(np.int64)

    def p_values(self, X: Any) -> np.ndarray:
        """Conformal p-value per row: the share of calibration rows scoring at least as high.

        Small means unusual. On a new normal row, ``P(p <= alpha) <= alpha`` for every
        alpha when the calibration rows were normal and unseen by training.
        """
        self._check_fitted()
        return self.calibrator_.p_values(self.decision_function(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, 2)`` array: column 1 is "how unusual" = 1 - p-value, column 0 the p-value.

        Column 1 is the share of calibration rows this row outscores; it is not the
        probability that the row is an anomaly, which would need the base rate of anomalies.
        """
        p = self.p_values(X)
        return np.column_stack([p, 1.0 - p])

    def calibrate(self, X: Any, y: Any = None) -> Any:
        """Replace the calibration rows with ``X`` (rows this detector never trained on).

        Rows labelled 1 in ``y`` are left out. The active rule is kept and its threshold
        recomputed on the new scores, e.g. after fitting with ``calibration_size=0``, to
        calibrate on a vetted clean sample, or to drop the anomalies an analyst found among
        the highest-scoring calibration rows (``X_train[det.calibration_rows_]`` with their
        labels; see the README's "Thresholds").
        """
        self._check_fitted()
        scores = self.decision_function(X)
        kept = np.arange(len(scores))
        if y is not None:
            kept = np.flatnonzero(_check_labels(y, len(scores)) != 1)
            scores = scores[kept]
        if scores.size == 0:
            raise ValueError("calibrate needs at least one row not labelled 1")
        self.calibration_rows_ = kept
        self.calibrator_ = self.calibrator_.recalibrated(scores)
        if self.calibrator_.rule in ("fpr", "fdr"):
            self._warn_if_unreachable()
        self.threshold_ = self.calibrator_.threshold
        return self

    def set_threshold(
        self,
        *,
        fpr: float | None = None,
        fdr: float | None = None,
        contamination: float | None = None,
        evt: float | None = None,
        best_f1: tuple[Any, Any] | None = None,
        score: float | None = None,
        confidence: float | None = None,
    ) -> Any:
        """Choose the rule ``predict`` uses; give exactly one.

        ``fpr=alpha``: p-value <= alpha (false-positive rate on new normal rows <= alpha on
        average over calibration draws); with ``confidence=c`` as well, a stricter
        threshold whose false-positive rate is <= alpha for a share c of the draws.
        ``fdr=q``: Benjamini-Hochberg over each predicted batch. ``contamination=c``: PyOD's
        ``1 - c`` quantile of the training scores. ``evt=q``: peaks-over-threshold estimate
        of the ``1 - q`` quantile of the calibration scores, for q finer than they resolve.
        ``best_f1=(X, y)``: the F1-maximising threshold on labelled rows. ``score=t``: flag
        scores above t.
        """
        self._check_fitted()
        given = {
            name: value
            for name, value in {
                "fpr": fpr,
                "fdr": fdr,
                "contamination": contamination,
                "evt": evt,
                "best_f1": best_f1,
                "score": score,
            }.items()
            if value is not None
        }
        if len(given) != 1:
            raise ValueError(
                "set_threshold takes exactly one of fpr, fdr, contamination, evt, best_f1, "
                f"score; got {sorted(given) or 'none'}"
            )
        (rule, level), context = next(iter(given.items())), {}
        if rule in ("contamination", "evt"):  # evt falls back on them without calibration
            context["training_scores"] = self.decision_scores_
        elif rule == "best_f1":
            if not isinstance(level, (tuple, list)) or len(level) != 2:
                raise ValueError("best_f1 takes a pair (X, y) of labelled rows")
            X_labelled, y_labelled = level
            context["labelled"] = (self.decision_function(X_labelled), np.asarray(y_labelled))
            level = None
        self.calibrator_.set_rule(rule, level, confidence=confidence, **context)
        if rule in ("fpr", "fdr"):
            self._warn_if_unreachable()
        self.threshold_ = self.calibrator_.threshold
        return self

    def explain(self, X: Any, *, top: int = 3, method: str = "auto") -> Any:
        """Which input columns made each row's score: a ``deepad.explain.Explanation``.

        Contributions are per input column (categorical columns folded back from their
        encoding), in score units, positive = pushed the score up. ``top`` sets how many
        contributors the readable form lists ("amount = 9,800 (typical 12-450)").
        ``method="auto"`` picks this detector's own method (``default_explain_method``);
        ``deepad.explain.available_methods(det)`` lists the others.
        """
        from deepad.explain import explain  # explain sits above models

        return explain(self, X, top=top, method=method)

    def save(self, path: str | Path, **lineage: Any) -> Path:
        """Write this fitted detector as a bundle directory; see ``deepad.load``."""
        from deepad.bundle import save_bundle  # bundle sits above models

        return save_bundle(self, path, lineage=lineage)

    # --------------------------------------------------------------- hooks
    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        raise NotImplementedError

    def _score_features(self, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _training_scores(self, features: np.ndarray) -> np.ndarray:
        return self._score_features(features)

    def _explain_features(
        self, features: np.ndarray, method: str, baseline: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """A native method's per-encoded-feature contributions, and the encoded rows the
        model expected instead (or None); only for ``native_explain_methods``. ``baseline``
        is the encoded typical row, for methods that measure from a reference; ``groups``
        maps each encoded feature to its input column, for methods that move a column's
        features together (a per-column value may sit on the column's first feature)."""
        raise NotImplementedError

    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        raise NotImplementedError

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------- helpers
    def _start_calibration(
        self, calibration_scores: np.ndarray, training_scores: np.ndarray
    ) -> None:
        """The fitted calibrator: p-value <= contamination on the held-out scores, or PyOD's
        in-sample quantile of the training scores when nothing was held out."""
        self.calibrator_ = Calibrator(calibration_scores)
        if len(calibration_scores):
            self.calibrator_.set_rule("fpr", float(self.contamination))
            self._warn_if_unreachable()
        else:
            self.calibrator_.set_rule(
                "contamination", float(self.contamination), training_scores=training_scores
            )
        self.threshold_ = self.calibrator_.threshold

    def _schema_state(self) -> dict[str, Any]:
        """The input schema and preprocessing state, as JSON, for the bundle manifest."""
        return self.preprocessor_.to_dict()

    def _restore_schema(self, state: dict[str, Any]) -> None:
        """Inverse of ``_schema_state`` (bundle loading)."""
        self.preprocessor_ = TabularPreprocessor.from_dict(state)

    def _check_params(self) -> None:
        """Validate shared params; subclasses extend with their own checks."""
        contamination = self.contamination
        if not isinstance(contamination, (int, float)) or not 0.0 < contamination <= 0.5:
            raise ValueError(f"contamination must be in (0, 0.5], got {contamination!r}")

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) before scoring"
            )

    def _split_seed(self) -> int | None:
        """Seed of the calibration split: ``random_state`` when the detector has one, else 0."""
        if "random_state" not in self._get_param_names():
            return 0
        return None if self.random_state is None else self._seed()

    def _warn_if_unreachable(self) -> None:
        """Warn when the active fpr / fdr level is finer than the calibration rows resolve."""
        calibrator = self.calibrator_
        alpha = calibrator.level
        if calibrator.confidence is not None and calibrator.threshold == np.inf:
            warnings.warn(
                f"with {calibrator.n_calibration} calibration rows no threshold keeps the "
                f"false-positive rate <= {alpha:g} at {calibrator.confidence:.0%} confidence, "
                "so nothing is flagged; hold out more rows (calibration_size) or call "
                "calibrate() with more normal rows",
                CalibrationWarning,
                stacklevel=3,
            )
        elif alpha is not None and calibrator.n_calibration and alpha < calibrator.smallest_p_value:
            warnings.warn(
                f"{calibrator.n_calibration} calibration rows give p-values no smaller than "
                f"1/{calibrator.n_calibration + 1} = {calibrator.smallest_p_value:.3g}, so a level "
                f"of {alpha:g} flags nothing; hold out more rows (calibration_size), call "
                "calibrate() with more normal rows, or use set_threshold(evt=...)",
                CalibrationWarning,
                stacklevel=3,
            )

    def _seed(self) -> int:
        """The integer seed for this fit: ``random_state``, or a fresh one when None."""
        if self.random_state is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        if isinstance(self.random_state, (int, np.integer)) and not isinstance(
            self.random_state, bool
        ):
            return int(self.random_state)
        raise ValueError(f"random_state must be an int or None, got {self.random_state!r}")


def _check_labels(y: Any, n_rows: int) -> np.ndarray:
    """``y`` as an int64 array of 1 / 0 / -1, one per row, or a ValueError saying why not."""
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n_rows:
        raise ValueError(
            f"y must be 1-D with one entry per row of X ({n_rows}), got shape {labels.shape}"
        )
    if labels.dtype.kind not in "biuf":
        raise ValueError(f"y must be numeric (1 / 0 / -1), got dtype {labels.dtype}")
    unexpected = labels[~np.isin(labels, (-1, 0, 1))]
    if unexpected.size:
        raise ValueError(
            "y must hold 1 (known anomaly), 0 (known normal) or -1 (unknown); "
            f"found {sorted(set(unexpected.tolist()))[:5]}"
        )
    return labels.astype(np.int64)
