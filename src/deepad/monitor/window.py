"""``DriftMonitor``: tumbling windows of scored rows, tested against the training data.

Every ``window`` rows (500) the monitor closes a window and tests it against what the
detector's bundle remembers of its training data (:class:`~deepad.preprocess.reference.
DriftReference`) and its calibration scores:

- **per input column** (tables): numeric columns by a KS test against the CDF of the 101
  stored training quantiles, with the PSI over ten training bins (plus a bin for missing
  values) as the size of the shift; a change in the share of missing values is tested
  too (chi-square, Bonferroni-combined with the KS p-value). Categorical columns by a
  chi-square test of the category counts against the training shares, with the total
  variation distance as the size;
- **multivariate** (tables): a kernel two-sample test (MMD) between the bundle's encoded
  training sample (up to 256 rows) and up to 256 encoded rows of the window: drift in
  the joint distribution that no column shows alone;
- **scores**: the conformal p-values of the window against Uniform(0, 1) (normal traffic
  gives uniform p-values), and the flagged count against the rate the threshold rule
  states (``fpr``/``contamination``/``evt``/``fdr``: its level; other rules: the share of
  calibration scores above the threshold).

Decision rule. The tests of one window form one family at level ``alpha`` (0.01):
Bonferroni over its m = (numeric + categorical columns + MMD + score uniformity) tests,
so on normal traffic a window raises any drift alert with probability at most about
``alpha``. A column is drifted when its p-value is below ``alpha / m`` AND the shift is
large enough to matter: PSI at least ``psi_floor`` (0.2, the usual "significant shift"
line) for numeric columns, share distance above 0.1 for categorical ones (on big windows
the tests alone flag shifts too small to act on). The MMD is drifted when its p-value is
below ``alpha / m``, the scores when the uniformity p-value is. An anomaly burst is
raised when the binomial p-value is below ``alpha`` and the flagged share exceeds twice
the stated rate. One alert per kind per window; the feature alert names the drifted
columns worst (highest PSI) first.

Bundles saved before drift references were kept have no quantiles or training sample:
their numeric columns are tested with :func:`~deepad.monitor.drift.feature_drift`'s
share outside the training 5-95% range (at ``alpha / m``), with no PSI and no MMD, and
the report says so in ``notes``. Series, image and log detectors get the score tests
only (series with a frame also get :func:`~deepad.monitor.drift.channel_drift` per
channel). Time steps of a series are not independent, so there the uniformity test is
too quick to reject; read its alerts as "look", not as a calibrated rate.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepad.core.jsonable import json_ready
from deepad.monitor.drift import (
    MIN_DISTANCE,
    category_counts,
    channel_drift,
    feature_drift,
)
from deepad.monitor.stats import (
    burst_test,
    chi_square,
    ks_quantiles,
    mmd_test,
    psi,
    psi_cells,
    share_distance,
    uniformity_test,
)
from deepad.preprocess.tabular import MissingValueWarning, numeric_values

#: permutations of one window's MMD test (a gamma tail refines p-values below 1/501)
PERMUTATIONS = 500
#: encoded window rows the MMD compares with the training sample
MMD_ROWS = 256
#: a burst needs the flagged share above this multiple of the stated rate
BURST_FACTOR = 2.0

#: one buffered batch: raw frame (or None), scores, p-values, flags
Chunk = tuple[pd.DataFrame | None, np.ndarray, np.ndarray, np.ndarray]

ALERT_KINDS = ("feature_drift", "multivariate_drift", "score_drift", "anomaly_burst")


@dataclass
class WindowReport:
    """The tests of one closed window, and the alerts they raise.

    ``index`` counts windows from 1; ``start`` is the position of the window's first row
    among all rows observed (0-based); ``tests`` the size m of the Bonferroni family;
    ``reference`` what the columns were compared with: ``"quantiles"`` (the bundle's drift
    reference), ``"range"`` (an older bundle: the 5-95% training range) or ``"none"``
    (no feature tests). ``to_dict()`` is JSON-ready (NaN as None).
    """

    index: int
    rows: int
    features: list[dict[str, Any]]
    multivariate: dict[str, Any]
    score: dict[str, Any]
    alerts: list[dict[str, Any]]
    drifted: bool
    start: int = 0
    alpha: float = 0.01
    tests: int = 0
    reference: str = "none"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON types; NaN and infinities become None."""
        return json_ready(asdict(self))

    @property
    def drifted_features(self) -> list[str]:
        """Names of the drifted columns, worst first."""
        return [f["column"] for f in self.features if f.get("drifted")]


class DriftMonitor:
    """Tumbling-window drift tests and alerts for one fitted detector.

    ``window`` rows per window; ``alpha`` the false-alarm level of one window's drift
    tests together; ``psi_floor`` the PSI a numeric column must also reach to count as
    drifted; ``seed`` makes the MMD subsamples and permutations reproducible. See the
    module docstring for the tests and the decision rule. Thread-safe: ``observe`` may
    be called from several threads; windows close in the order rows arrive.
    """

    def __init__(
        self,
        detector: Any,
        *,
        window: int = 500,
        alpha: float = 0.01,
        psi_floor: float = 0.2,
        seed: int = 0,
    ) -> None:
        if int(window) != window or window < 2:
            raise ValueError(f"window must be a whole number of rows >= 2, got {window!r}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        if not psi_floor >= 0.0:
            raise ValueError(f"psi_floor must be >= 0, got {psi_floor!r}")
        self.detector = detector
        self.window = int(window)
        self.alpha = float(alpha)
        self.psi_floor = float(psi_floor)
        self.seed = int(seed)
        self.table = getattr(detector, "modality", "table") == "table"
        self.drift_reference = getattr(detector, "drift_reference_", None) if self.table else None
        self.expected_share = stated_rate(detector)
        self._lock = threading.Lock()  # the buffer and the counters
        self._testing = threading.Lock()  # one window's tests at a time, in order
        self._closing = 0
        self._chunks: list[Chunk] = []
        self._buffered = 0
        self._seen = 0
        self._windows = 0
        self._last: WindowReport | None = None

    # ------------------------------------------------------------ reading
    @property
    def last(self) -> WindowReport | None:
        """The newest closed window's report, or None before the first."""
        with self._lock:
            return self._last

    @property
    def windows(self) -> int:
        """How many windows have closed."""
        with self._lock:
            return self._windows

    @property
    def buffered(self) -> int:
        """Rows waiting for the current window to fill."""
        with self._lock:
            return self._buffered

    # ------------------------------------------------------------ feeding
    def observe(
        self,
        frame: pd.DataFrame | None,
        scores: np.ndarray,
        p_values: np.ndarray | None,
        flags: np.ndarray,
    ) -> list[WindowReport]:
        """Buffer scored rows; return the report of every window they close (0 or more).

        ``frame`` holds the raw input rows (None when only scores are at hand, e.g. a
        series stream: that window gets the score tests only); ``p_values`` None are
        computed from ``scores`` with the detector's calibrator, when it has one.
        """
        frame, scores, p_values, flags = self._check(frame, scores, p_values, flags)
        reports = []
        # windows are tested one at a time, in order, under their own lock: readers of
        # ``last``, ``windows`` and ``buffered`` never wait for a test to finish
        with self._testing:
            with self._lock:
                if len(scores):
                    self._chunks.append((frame, scores, p_values, flags))
                    self._buffered += len(scores)
                due = []
                while self._buffered >= self.window:
                    due.append((self._take(self.window), self._closing + 1, self._seen))
                    self._closing += 1
                    self._seen += self.window
            for parts, index, start in due:
                report = self._test(*parts, index=index, start=start)
                with self._lock:
                    self._windows, self._last = index, report
                reports.append(report)
        return reports

    def report(
        self,
        frame: pd.DataFrame | None,
        scores: np.ndarray,
        p_values: np.ndarray | None,
        flags: np.ndarray,
        *,
        index: int = 1,
        start: int = 0,
    ) -> WindowReport:
        """Test the given rows as one window, whatever their number; the monitor's own
        windows, ``last`` and ``windows`` are left as they are."""
        frame, scores, p_values, flags = self._check(frame, scores, p_values, flags)
        if not len(scores):
            raise ValueError("a window needs at least one row")
        return self._test(frame, scores, p_values, flags, index=index, start=start)

    # ------------------------------------------------------------ internals
    def _check(
        self,
        frame: pd.DataFrame | None,
        scores: np.ndarray,
        p_values: np.ndarray | None,
        flags: np.ndarray,
    ) -> Chunk:
        scores = np.asarray(scores, dtype=np.float64).ravel()
        flags = np.asarray(flags).ravel().astype(np.int64)
        n = len(scores)
        if p_values is None:
            calibrator = getattr(self.detector, "calibrator_", None)
            if calibrator is not None and calibrator.n_calibration:
                p_values = calibrator.p_values(scores)
            else:
                p_values = np.full(n, np.nan)
        p_values = np.asarray(p_values, dtype=np.float64).ravel()
        if len(flags) != n or len(p_values) != n:
            raise ValueError(
                f"{n} scores, {len(p_values)} p-values and {len(flags)} flags: one each per row"
            )
        if frame is not None:
            if len(frame) != n:
                raise ValueError(f"{len(frame)} rows in the frame but {n} scores")
            if self.table:  # keep only the training columns, refused early when some lack
                frame = self.detector.preprocessor_.select_columns(frame)
            frame = frame.reset_index(drop=True)
        return frame, scores, p_values, flags

    def _take(self, count: int) -> Chunk:
        """The first ``count`` buffered rows as one chunk, removed from the buffer (lock
        held). The window's frame is None unless every row came with one."""
        taken: list[Chunk] = []
        rest: list[Chunk] = []
        need = count
        for chunk in self._chunks:
            size = len(chunk[1])
            if need >= size:
                taken.append(chunk)
                need -= size
            elif need > 0:
                taken.append(_slice(chunk, 0, need))
                rest.append(_slice(chunk, need, size))
                need = 0
            else:
                rest.append(chunk)
        self._chunks = rest
        self._buffered -= count
        frames = [c[0] for c in taken]
        joined = None if any(f is None for f in frames) else pd.concat(frames, ignore_index=True)
        scores, p_values, flags = (np.concatenate([c[i] for c in taken]) for i in (1, 2, 3))
        return joined, scores, p_values, flags

    def _test(
        self,
        frame: pd.DataFrame | None,
        scores: np.ndarray,
        p_values: np.ndarray,
        flags: np.ndarray,
        *,
        index: int,
        start: int,
    ) -> WindowReport:
        notes: list[str] = []
        has_p = bool(np.isfinite(p_values).any())
        detector = self.detector
        reference_kind = "none"
        columns: list[Any] = []
        channels: list[str] = []
        mmd_possible = False
        if self.table and frame is not None:
            columns = list(detector.preprocessor_.columns_)
            ref = self.drift_reference
            reference_kind = "quantiles" if ref is not None else "range"
            mmd_possible = ref is not None and ref.sample.size > 0
            if ref is None:
                notes.append(
                    "this bundle was saved before drift references were kept: numeric columns "
                    "are tested on their share outside the training 5-95% range (no PSI, no "
                    "KS) and there is no multivariate test; refit to get them"
                )
        elif self.table:
            notes.append("no input rows came with these scores: score tests only")
        elif getattr(detector, "modality", None) == "series" and frame is not None:
            channels = [str(c) for c in detector.channels_]
            reference_kind = "range"
        else:
            notes.append(
                f"a {getattr(detector, 'modality', '?')} detector: score tests only "
                "(feature tests need a table)"
            )
        tests = len(columns) + len(channels) + int(mmd_possible) + int(has_p)
        level = self.alpha / max(tests, 1)

        if columns and self.drift_reference is not None:
            features = []
            for spec in columns:
                features.append(self._column(spec, frame[spec.name], level))
                time.sleep(0)  # let other threads (a service's request loop) run between tests
        elif columns:
            features = _range_features(feature_drift(detector.preprocessor_, frame, alpha=level))
        elif channels:
            features = _range_features(channel_drift(detector, frame, alpha=level), "channel")
        else:
            features = []
        features.sort(key=_severity_order)

        multivariate = {"mmd": None, "p_value": None, "drifted": False, "rows": 0}
        if mmd_possible:
            multivariate = self._mmd(frame, level, index)

        score = self._score(p_values, flags, has_p, level)
        alerts = self._alerts(features, multivariate, score, len(scores))
        drifted = any(a["kind"] != "anomaly_burst" for a in alerts)
        return WindowReport(
            index=index,
            rows=len(scores),
            features=features,
            multivariate=multivariate,
            score=score,
            alerts=alerts,
            drifted=drifted,
            start=start,
            alpha=self.alpha,
            tests=tests,
            reference=reference_kind,
            notes=notes,
        )

    def _column(self, spec: Any, series: pd.Series, level: float) -> dict[str, Any]:
        if spec.kind != "numeric":
            observed, shares = category_counts(spec, series)
            if not spec.shares:
                statistic, p_value, distance, size = math.nan, 1.0, math.nan, math.nan
            else:
                statistic, p_value = chi_square(shares, observed)
                distance, size = share_distance(shares, observed), psi(shares, observed)
            return {
                "column": spec.name,
                "kind": "categorical",
                "test": "chi-square",
                "psi": size,
                "ks_statistic": None,
                "chi_square": statistic,
                "distance": distance,
                "p_value": p_value,
                "drifted": bool(p_value < level and distance > MIN_DISTANCE),
            }
        ref = self.drift_reference.column(spec.name)
        values = numeric_values(spec, series)
        present = values[np.isfinite(values)]
        missing = int(values.size - present.size)
        record: dict[str, Any] = {"column": spec.name, "kind": "numeric", "test": "ks"}
        if ref is None or not ref.quantiles:
            return {**record, "psi": None, "ks_statistic": None, "p_value": 1.0,
                    "drifted": False}  # fmt: skip
        cell_shares, cell_counts = psi_cells(ref.quantiles, ref.edges, ref.shares, present)
        expected = np.append(cell_shares * (1.0 - ref.missing), ref.missing)
        size = psi(expected, np.append(cell_counts, missing))
        reference_rows = round(self.drift_reference.rows * (1.0 - ref.missing))
        statistic, p_value = ks_quantiles(ref.quantiles, present, reference_rows=reference_rows)
        if ref.missing > 0 or missing:  # did the share of gaps move? (Bonferroni of two)
            _, p_missing = chi_square(
                np.array([1.0 - ref.missing, ref.missing]), np.array([present.size, missing])
            )
            p_value = min(1.0, 2.0 * min(p_value, p_missing))
        shift = (float(present.mean()) - spec.mean) / spec.scale if present.size else math.nan
        return {
            **record,
            "psi": size,
            "ks_statistic": statistic,
            "p_value": p_value,
            "mean_shift": shift,
            "missing_share": missing / max(values.size, 1),
            "expected_missing_share": ref.missing,
            "drifted": bool(p_value < level and size >= self.psi_floor),
        }

    def _mmd(self, frame: pd.DataFrame, level: float, index: int) -> dict[str, Any]:
        seed = int(np.random.SeedSequence([self.seed, index]).generate_state(1)[0])
        rng = np.random.default_rng(seed)
        rows = frame
        if len(frame) > MMD_ROWS:
            rows = frame.iloc[np.sort(rng.choice(len(frame), size=MMD_ROWS, replace=False))]
        with warnings.catch_warnings():  # gaps are the column tests' business here
            warnings.simplefilter("ignore", MissingValueWarning)
            encoded = self.detector.preprocessor_.transform(rows)
        value, p_value = mmd_test(
            self.drift_reference.sample, encoded, permutations=PERMUTATIONS, seed=seed
        )
        return {
            "mmd": value,
            "p_value": p_value,
            "drifted": bool(p_value < level),
            "rows": len(encoded),
        }

    def _score(
        self, p_values: np.ndarray, flags: np.ndarray, has_p: bool, level: float
    ) -> dict[str, Any]:
        calibrator = getattr(self.detector, "calibrator_", None)
        statistic, p_value = math.nan, None
        if has_p:
            m = calibrator.n_calibration if calibrator is not None else None
            statistic, p_value = uniformity_test(p_values, calibration_rows=m or None)
        share = float(flags.mean()) if flags.size else math.nan
        rate = self.expected_share
        burst_p = None if rate is None else burst_test(flags, rate)
        return {
            "ks_statistic": statistic,
            "p_value": p_value,
            "drifted": bool(p_value is not None and p_value < level),
            "flagged": int(flags.sum()),
            "flagged_share": share,
            "expected_share": rate,
            "burst_p_value": burst_p,
            "burst": bool(
                burst_p is not None and burst_p < self.alpha and share > BURST_FACTOR * rate
            ),
        }

    def _alerts(
        self,
        features: list[dict[str, Any]],
        multivariate: dict[str, Any],
        score: dict[str, Any],
        rows: int,
    ) -> list[dict[str, Any]]:
        alerts = []
        drifted = [f for f in features if f["drifted"]]
        if drifted:
            named = ", ".join(_describe_column(f) for f in drifted[:10])
            more = f" and {len(drifted) - 10} more" if len(drifted) > 10 else ""
            what = "channel" if drifted[0]["kind"] == "channel" else "column"
            alerts.append(
                {
                    "kind": "feature_drift",
                    "severity": "warning",
                    "message": f"{len(drifted)} of {len(features)} {what}s drifted: {named}{more}",
                    "detail": {
                        "columns": [f["column"] for f in drifted],
                        "psi": {f["column"]: f.get("psi") for f in drifted},
                        "p_values": {f["column"]: f["p_value"] for f in drifted},
                    },
                }
            )
        if multivariate["drifted"]:
            alone = "" if drifted else "; no single column shows it"
            alerts.append(
                {
                    "kind": "multivariate_drift",
                    "severity": "warning",
                    "message": "the joint distribution of the inputs drifted (MMD^2 "
                    f"{multivariate['mmd']:.3g}, p = {multivariate['p_value']:.2g}){alone}",
                    "detail": {"mmd": multivariate["mmd"], "p_value": multivariate["p_value"]},
                }
            )
        if score["drifted"]:
            alerts.append(
                {
                    "kind": "score_drift",
                    "severity": "warning",
                    "message": "p-values are not uniform (KS "
                    f"{score['ks_statistic']:.3f}, p = {score['p_value']:.2g}): scores moved "
                    "away from the calibration data",
                    "detail": {
                        "ks_statistic": score["ks_statistic"],
                        "p_value": score["p_value"],
                    },
                }
            )
        if score["burst"]:
            alerts.append(
                {
                    "kind": "anomaly_burst",
                    "severity": "critical",
                    "message": f"{score['flagged']} of {rows} rows flagged "
                    f"({score['flagged_share']:.1%}) against {score['expected_share']:.1%} "
                    f"stated (binomial p = {score['burst_p_value']:.2g})",
                    "detail": {
                        "flagged": score["flagged"],
                        "rows": rows,
                        "flagged_share": score["flagged_share"],
                        "expected_share": score["expected_share"],
                        "p_value": score["burst_p_value"],
                    },
                }
            )
        return alerts


def stated_rate(detector: Any) -> float | None:
    """The share of normal rows the detector's threshold rule flags, as it states it.

    ``fpr``, ``contamination``, ``evt`` and ``fdr`` (a batch of one): the rule's level;
    ``score`` and ``best_f1`` state none, so the share of calibration scores (else
    training scores) above the threshold stands in. None when that is 0 or 1 (no burst
    test then).
    """
    calibrator = getattr(detector, "calibrator_", None)
    if calibrator is None:
        return None
    level = calibrator.level
    if calibrator.rule in ("fpr", "contamination", "evt", "fdr") and level:
        return float(level)
    scores = calibrator.calibration_scores
    if not scores.size:
        scores = np.asarray(getattr(detector, "decision_scores_", np.empty(0)), dtype=float)
    if not scores.size:
        return None
    share = float(np.mean(scores > calibrator.threshold))
    return share if 0.0 < share < 1.0 else None


def _range_features(table: pd.DataFrame, kind: str | None = None) -> list[dict[str, Any]]:
    """``feature_drift`` / ``channel_drift`` rows as report features (no PSI, no KS)."""
    features = []
    for row in table.to_dict("records"):
        numeric = row["kind"] == "numeric"
        features.append(
            {
                "column": str(row["column"]),
                "kind": kind or row["kind"],
                "test": "range" if numeric else "chi-square",
                "psi": None,
                "ks_statistic": None,
                "outside_share" if numeric else "distance": row["value"],
                "p_value": row["p_value"],
                "mean_shift": row.get("mean_shift"),
                "drifted": bool(row["drifted"]),
            }
        )
    return features


def _severity_order(feature: dict[str, Any]) -> tuple[int, float, float]:
    """Drifted first, the largest PSI (else share outside / distance) first; then by
    p-value."""
    size = feature.get("psi")
    if size is None or (isinstance(size, float) and math.isnan(size)):
        size = feature.get("outside_share", feature.get("distance"))
    size = 0.0 if size is None or (isinstance(size, float) and math.isnan(size)) else size
    return (0 if feature["drifted"] else 1, -float(size), float(feature["p_value"]))


def _describe_column(feature: dict[str, Any]) -> str:
    """'amount (PSI 1.83)', or for a range test 'amount (42% outside 5-95%)'."""
    if feature.get("psi") is not None and math.isfinite(feature["psi"]):
        return f"{feature['column']} (PSI {feature['psi']:.2f})"
    if feature.get("outside_share") is not None:
        return f"{feature['column']} ({feature['outside_share']:.0%} outside the training 5-95%)"
    return f"{feature['column']} (share distance {feature.get('distance', math.nan):.2f})"


def _slice(chunk: Chunk, start: int, stop: int) -> Chunk:
    frame, scores, p_values, flags = chunk
    part = None if frame is None else frame.iloc[start:stop].reset_index(drop=True)
    return part, scores[start:stop], p_values[start:stop], flags[start:stop]
