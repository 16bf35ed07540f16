"""deepad.calibrate: conformal p-values, BH, threshold rules, and how detectors use them."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import build_detector
from sklearn.exceptions import NotFittedError

import deepad
from deepad.calibrate import (
    CalibrationWarning,
    Calibrator,
    NotCalibratedError,
    benjamini_hochberg,
    best_f1_threshold,
    conformal_p_values,
    conformal_threshold,
)
from deepad.calibrate.split import calibration_split, resolve_calibration_size


# ----------------------------------------------------------------- conformal p-values
def test_p_values_count_calibration_scores_at_least_as_large() -> None:
    calibration = np.array([1.0, 2.0, 2.0, 3.0])
    p = conformal_p_values(calibration, np.array([0.0, 2.0, 2.5, 3.0, 9.0]))
    # (1 + #{c >= s}) / (m + 1), ties counted as at least as large
    np.testing.assert_allclose(p, [5 / 5, 4 / 5, 2 / 5, 2 / 5, 1 / 5])


def test_p_values_are_super_uniform_on_exchangeable_scores() -> None:
    """P(p <= alpha) <= alpha and close to it, over many calibration draws."""
    rng = np.random.default_rng(0)
    m, trials = 99, 20_000
    calibration = rng.standard_normal((trials, m))
    new = rng.standard_normal(trials)
    p = np.array([conformal_p_values(c, [s])[0] for c, s in zip(calibration, new, strict=True)])
    for alpha in (0.01, 0.05, 0.2):
        # exact: P(p <= alpha) = floor(alpha (m + 1)) / (m + 1); binomial sd of the mean
        # over 20,000 trials is at most 0.0029, so 4 sd = 0.012
        expected = math.floor(alpha * (m + 1)) / (m + 1)
        assert abs((p <= alpha).mean() - expected) < 4 * math.sqrt(alpha / trials)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1, 0.5])
@pytest.mark.parametrize("m", [1, 19, 40, 99, 250])
def test_threshold_flags_exactly_the_rows_with_p_at_most_alpha(alpha: float, m: int) -> None:
    rng = np.random.default_rng(m)
    calibration = rng.exponential(size=m).round(1)  # ties on purpose
    scores = np.concatenate([calibration, rng.exponential(size=500).round(1)])
    threshold = conformal_threshold(calibration, alpha)
    by_p = conformal_p_values(calibration, scores) <= alpha + 1e-12
    np.testing.assert_array_equal(scores > threshold, by_p)


def test_threshold_is_infinite_when_alpha_is_finer_than_the_calibration_resolves() -> None:
    assert conformal_threshold(np.arange(10.0), 0.05) == math.inf  # 1/11 > 0.05


def test_p_values_refuse_bad_calibration_scores() -> None:
    with pytest.raises(ValueError, match="at least one calibration score"):
        conformal_p_values(np.empty(0), [1.0])
    with pytest.raises(ValueError, match="non-finite"):
        conformal_p_values([1.0, np.nan], [1.0])
    with pytest.raises(ValueError, match="1-D"):
        conformal_p_values(np.ones((2, 2)), [1.0])


# ------------------------------------------------------------------ Benjamini-Hochberg
def test_benjamini_hochberg_matches_the_step_up_rule() -> None:
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    # q = 0.05, n = 10: p_(k) <= 0.005 k holds last at k = 2
    np.testing.assert_array_equal(np.flatnonzero(benjamini_hochberg(p, 0.05)), [0, 1])
    shuffled = np.random.default_rng(0).permutation(10)
    np.testing.assert_array_equal(
        benjamini_hochberg(p[shuffled], 0.05), benjamini_hochberg(p, 0.05)[shuffled]
    )
    assert benjamini_hochberg(p, 0.1).sum() == 6  # 0.06 <= 0.01 * 6, and 0.074 > 0.07


def test_benjamini_hochberg_ignores_nan_and_checks_q() -> None:
    flags = benjamini_hochberg(np.array([0.001, np.nan, 0.9]), 0.05)
    np.testing.assert_array_equal(flags, [True, False, False])
    with pytest.raises(ValueError, match="FDR level"):
        benjamini_hochberg(np.array([0.1]), 1.5)


def test_benjamini_hochberg_controls_fdr_on_synthetic_conformal_p_values() -> None:
    rng = np.random.default_rng(1)
    fdp = []
    for _ in range(300):
        calibration = rng.standard_normal(500)
        scores = np.concatenate([rng.standard_normal(180), rng.normal(3.5, 1.0, 20)])
        flags = benjamini_hochberg(conformal_p_values(calibration, scores), 0.1)
        fdp.append(flags[:180].sum() / max(flags.sum(), 1))
    # FDR <= q * n0 / n = 0.09; the standard error of the mean of 300 FDPs is ~0.006
    assert np.mean(fdp) <= 0.1 + 0.02


# ------------------------------------------------------------------------ other rules
def test_best_f1_threshold_separates_a_clean_split() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.9, 1.0])
    threshold = best_f1_threshold(scores, np.array([0, 0, 0, 1, 1]))
    np.testing.assert_array_equal(scores > threshold, [False, False, False, True, True])
    with pytest.raises(ValueError, match="both present"):
        best_f1_threshold(scores, np.zeros(5, dtype=int))


def test_calibrator_state_round_trips_through_json() -> None:
    calibrator = Calibrator(np.array([3.0, 1.0, 2.0])).set_rule("fpr", 0.5)
    meta, arrays = calibrator.state()
    restored = Calibrator.from_state(json.loads(json.dumps(meta)), arrays)
    assert (restored.rule, restored.level, restored.threshold) == ("fpr", 0.5, 2.0)
    np.testing.assert_array_equal(restored.calibration_scores, [1.0, 2.0, 3.0])
    unreachable = Calibrator(np.arange(3.0)).set_rule("fpr", 0.01)
    meta, arrays = unreachable.state()
    assert Calibrator.from_state(json.loads(json.dumps(meta)), arrays).threshold == math.inf


# --------------------------------------------------------------------- the split
def test_auto_calibration_size_is_a_fifth_capped_at_2000() -> None:
    assert resolve_calibration_size("auto", 200, 200) == 40
    assert resolve_calibration_size("auto", 50_000, 50_000) == 2000
    assert resolve_calibration_size(0.5, 200, 200) == 100
    assert resolve_calibration_size(30, 200, 200) == 30
    assert resolve_calibration_size(0, 200, 200) == 0


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("most", "'auto', a fraction"),
        (1.5, "fraction must be in"),
        (-1, "must not be negative"),
        (199, "leaving at least 2"),
        (True, "'auto', a fraction"),
    ],
)
def test_bad_calibration_size_is_refused(size, message) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_calibration_size(size, 200, 200)


def test_split_keeps_protected_rows_for_training_and_is_seeded() -> None:
    protect = np.zeros(100, dtype=bool)
    protect[:10] = True
    fit_rows, held_out = calibration_split(100, protect, 30, seed=3)
    assert len(held_out) == 30 and not np.isin(np.arange(10), held_out).any()
    assert sorted([*fit_rows, *held_out]) == list(range(100))
    again = calibration_split(100, protect, 30, seed=3)[1]
    np.testing.assert_array_equal(held_out, again)


# ------------------------------------------------------------- detectors use them
@pytest.fixture
def normal_rows() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((400, 4))


def test_fit_holds_out_calibration_rows_and_predicts_p_at_most_contamination(
    normal_rows,
) -> None:
    det = build_detector("KNN", contamination=0.05).fit(normal_rows)
    calibrator = det.calibrator_
    assert calibrator.n_calibration == 80
    assert (calibrator.rule, calibrator.level) == ("fpr", 0.05)
    assert det.threshold_ == conformal_threshold(calibrator.calibration_scores, 0.05)
    new = np.random.default_rng(1).standard_normal((300, 4))
    np.testing.assert_array_equal(det.predict(new), (det.p_values(new) <= 0.05).astype(int))
    proba = det.predict_proba(new)
    assert proba.shape == (300, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, 0], det.p_values(new))


def test_calibration_rows_are_not_trained_on(normal_rows) -> None:
    """A 1-NN detector scores its own training rows 0, and held-out rows above 0."""
    det = build_detector("KNN", n_neighbors=1).fit(normal_rows)
    unseen = det.decision_function(normal_rows) > 0
    assert unseen.sum() == det.calibrator_.n_calibration == 80
    np.testing.assert_array_equal(
        np.sort(det.decision_scores_[unseen]), det.calibrator_.calibration_scores
    )


def test_known_anomalies_are_left_out_of_calibration(normal_rows) -> None:
    X = normal_rows.copy()
    X[:40] += 8.0
    y = np.zeros(400, dtype=int)
    y[:40] = 1
    with_labels = build_detector("IsolationForest").fit(X, y)
    without = build_detector("IsolationForest").fit(X)
    # same model (y is ignored in training), but the labelled rows left the calibration set
    np.testing.assert_array_equal(with_labels.decision_scores_, without.decision_scores_)
    removed = np.setdiff1d(
        without.calibrator_.calibration_scores, with_labels.calibrator_.calibration_scores
    )
    assert len(removed) == without.calibrator_.n_calibration - with_labels.calibrator_.n_calibration
    assert len(removed) > 0 and np.isin(removed, without.decision_scores_[:40]).all()


def test_semi_supervised_detectors_train_on_every_labelled_anomaly(normal_rows) -> None:
    X = normal_rows.copy()
    X[:5] += 6.0
    y = np.full(400, -1)
    y[:5] = 1
    det = build_detector("DevNet").fit(X, y, calibration_size=0.5)
    assert det.calibrator_.n_calibration == 197  # half of the 395 rows not labelled 1


def test_predict_with_fdr_and_fpr_per_call(normal_rows) -> None:
    # 200 calibration rows: p >= 1/201, and BH needs p <= 0.1 * 10 / 110 for 10 rejections
    det = build_detector("KNN").fit(normal_rows, calibration_size=0.5)
    rng = np.random.default_rng(2)
    batch = np.vstack([rng.standard_normal((100, 4)), rng.normal(6.0, 1.0, (10, 4))])
    flags = det.predict(batch, fdr=0.1)
    expected = benjamini_hochberg(det.p_values(batch), 0.1)
    np.testing.assert_array_equal(flags, expected.astype(int))
    assert flags[100:].all()
    strict = det.predict(batch, fpr=0.02)
    np.testing.assert_array_equal(strict, (det.p_values(batch) <= 0.02).astype(int))
    with pytest.raises(ValueError, match="not both"):
        det.predict(batch, fpr=0.1, fdr=0.1)
    with pytest.raises(ValueError, match="fdr must be in"):
        det.predict(batch, fdr=2)


def test_set_threshold_rules(normal_rows) -> None:
    det = build_detector("KNN").fit(normal_rows)
    det.set_threshold(contamination=0.1)
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.9))
    flagged = (det.decision_scores_ > det.threshold_).mean()
    assert flagged == pytest.approx(0.1, abs=0.01)  # PyOD's rule: a tenth of the training rows
    det.set_threshold(score=2.5)
    assert det.threshold_ == 2.5
    det.set_threshold(fdr=0.05)
    assert det.calibrator_.rule == "fdr"
    X_val = np.vstack([normal_rows[:100], normal_rows[:20] + 7.0])
    y_val = np.r_[np.zeros(100, dtype=int), np.ones(20, dtype=int)]
    det.set_threshold(best_f1=(X_val, y_val))
    np.testing.assert_array_equal(det.predict(X_val), y_val)
    with pytest.raises(ValueError, match="evt rule needs at least 150 calibration scores"):
        det.set_threshold(evt=1e-4)  # 80 calibration rows
    with pytest.raises(ValueError, match="exactly one"):
        det.set_threshold(fpr=0.1, fdr=0.1)
    with pytest.raises(ValueError, match="exactly one"):
        det.set_threshold()
    with pytest.raises(ValueError, match="fpr must be in"):
        det.set_threshold(fpr=0)
    with pytest.raises(ValueError, match="contamination must be in"):
        det.set_threshold(contamination=0.9)


def test_unreachable_alpha_warns_and_flags_nothing(normal_rows) -> None:
    det = build_detector("KNN").fit(normal_rows[:100])  # 20 calibration rows: p >= 1/21
    with pytest.warns(CalibrationWarning, match="1/21"):
        det.set_threshold(fpr=0.01)
    assert det.threshold_ == math.inf
    assert det.predict(normal_rows + 100).sum() == 0


def test_without_calibration_rows_the_threshold_is_pyods_until_calibrate(normal_rows) -> None:
    det = build_detector("KNN", contamination=0.1).fit(normal_rows[:300], calibration_size=0)
    assert det.calibrator_.rule == "contamination"
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.9))
    with pytest.raises(NotCalibratedError, match="calibrate"):
        det.p_values(normal_rows)
    with pytest.raises(NotFittedError):  # NotCalibratedError is a NotFittedError
        det.predict(normal_rows, fpr=0.05)
    det.calibrate(normal_rows[300:])
    assert det.calibrator_.n_calibration == 100
    p = det.p_values(normal_rows[300:])
    assert p.min() == pytest.approx(2 / 101)  # the top row counts itself: (1 + 1) / 101
    det.set_threshold(fpr=0.05)
    threshold = conformal_threshold(det.decision_function(normal_rows[300:]), 0.05)
    assert det.threshold_ == threshold


def test_calibrate_keeps_the_rule_and_refuses_all_anomalies(normal_rows) -> None:
    det = build_detector("KNN").fit(normal_rows[:300])
    det.set_threshold(fpr=0.1)
    det.calibrate(normal_rows[300:], y=np.r_[np.ones(10, dtype=int), np.zeros(90, dtype=int)])
    assert det.calibrator_.n_calibration == 90
    assert (det.calibrator_.rule, det.calibrator_.level) == ("fpr", 0.1)
    with pytest.raises(ValueError, match="at least one row not labelled 1"):
        det.calibrate(normal_rows[:3], y=[1, 1, 1])


def test_bundle_keeps_the_calibration(tmp_path, normal_rows) -> None:
    frame = pd.DataFrame(normal_rows, columns=list("abcd"))
    det = build_detector("AutoEncoder").fit(frame)
    det.set_threshold(fdr=0.1)
    loaded = deepad.load(det.save(tmp_path / "model"))
    assert (loaded.calibrator_.rule, loaded.calibrator_.level) == ("fdr", 0.1)
    np.testing.assert_array_equal(loaded.p_values(frame), det.p_values(frame))
    np.testing.assert_array_equal(loaded.predict(frame), det.predict(frame))
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["threshold"]["calibration_rows"] == 80
    assert manifest["threshold"]["rule"] == "fdr"


def test_format_1_bundles_still_load_with_their_threshold(tmp_path, normal_rows) -> None:
    det = build_detector("PCA").fit(normal_rows, calibration_size=0)
    path = det.save(tmp_path / "old")
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 1
    manifest["threshold"] = {
        "method": "contamination_quantile",
        "contamination": 0.1,
        "value": det.threshold_,
    }
    manifest_path.write_text(json.dumps(manifest))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = deepad.load(path)
    assert loaded.threshold_ == det.threshold_
    assert loaded.calibrator_.rule == "contamination"


def test_evt_rule_extrapolates_beyond_the_calibration_rows() -> None:
    """1,000 calibration rows cannot resolve alpha = 1e-4; the POT tail estimate can."""
    rng = np.random.default_rng(5)
    det = build_detector("KNN").fit(rng.standard_normal((5000, 3)))  # 1,000 calibration rows
    det.set_threshold(evt=1e-4)
    calibration = det.calibrator_.calibration_scores
    assert det.calibrator_.rule == "evt" and det.threshold_ > calibration.max()
    # the empirical rate on many new normal rows is of the order asked for
    new = det.decision_function(rng.standard_normal((200_000, 3)))
    assert 1e-5 < (new > det.threshold_).mean() < 1e-3
    assert "no finite-sample promise" in det.calibrator_.describe()


def test_label_trimming_the_calibration_rows_restores_recall() -> None:
    """Fitted on rows with 10% anomalies, the calibration rows hold anomalies too and the
    5% threshold sits among them; labelling the 100 highest-scoring calibration rows and
    recalibrating without the anomalies found there brings recall back, FPR still <= 5%."""
    rng = np.random.default_rng(4)

    def scattered(n: int) -> np.ndarray:  # anomalies far out, in every direction
        directions = rng.standard_normal((n, 4))
        return 6.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)

    X = rng.standard_normal((3000, 4))
    y = np.zeros(3000, dtype=int)
    y[:300] = 1
    X[:300] = scattered(300)
    det = build_detector("KNN", contamination=0.05).fit(X)  # unsupervised: y unseen
    new_normal, new_anomalies = rng.standard_normal((4000, 4)), scattered(400)
    before = det.predict(new_anomalies).mean()

    rows = det.calibration_rows_
    assert len(rows) == 600
    top = rows[np.argsort(-det.decision_scores_[rows])[:100]]
    reviewed = np.where(np.isin(rows, top), y[rows], 0)  # the analyst labels the top 100
    det.calibrate(X[rows], reviewed)
    assert det.calibrator_.n_calibration == 600 - reviewed.sum()
    after = det.predict(new_anomalies).mean()
    assert before < 0.5 < after
    assert det.predict(new_normal).mean() <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 4000)


def test_fpr_spread_matches_repeated_calibration_draws() -> None:
    """One fit's false-positive rate varies with its calibration rows as Beta(k, m+1-k)."""
    from scipy.stats import norm

    from deepad.calibrate.conformal import fpr_spread

    rng = np.random.default_rng(6)
    m, alpha = 49, 0.1
    rates = np.array(
        [norm.sf(conformal_threshold(rng.standard_normal(m), alpha)) for _ in range(4000)]
    )
    low, high = fpr_spread(m, alpha)
    assert ((rates >= low) & (rates <= high)).mean() == pytest.approx(0.9, abs=0.02)
    assert rates.mean() == pytest.approx(0.1, abs=0.005)
    assert fpr_spread(10, 0.01) == (0.0, 0.0)
    narrow = fpr_spread(2000, alpha)
    assert narrow[1] - narrow[0] < 0.03


def test_confidence_bounds_the_false_positive_rate_of_most_fits() -> None:
    """fpr=alpha with confidence=c: P(FPR <= alpha) >= c over calibration draws."""
    from scipy.stats import norm

    rng = np.random.default_rng(7)
    m, alpha = 199, 0.05
    marginal, confident = [], []
    for _ in range(3000):
        calibration = rng.standard_normal(m)
        marginal.append(norm.sf(conformal_threshold(calibration, alpha)))
        confident.append(norm.sf(conformal_threshold(calibration, alpha, confidence=0.9)))
    marginal, confident = np.array(marginal), np.array(confident)
    assert (marginal <= alpha).mean() < 0.7  # on average <= alpha, but often above
    assert 0.9 <= (confident <= alpha).mean() < 0.97  # above alpha in at most 10% of fits
    assert confident.mean() < marginal.mean()


def test_set_threshold_with_confidence_saves_and_warns(tmp_path, normal_rows) -> None:
    det = build_detector("KNN").fit(normal_rows, calibration_size=0.5)  # 200 rows
    det.set_threshold(fpr=0.05, confidence=0.9)
    calibration = det.calibrator_.calibration_scores
    assert det.threshold_ == conformal_threshold(calibration, 0.05, confidence=0.9)
    assert det.threshold_ > conformal_threshold(calibration, 0.05)
    assert "at 90% confidence" in det.calibrator_.describe()
    loaded = deepad.load(det.save(tmp_path / "m"))
    assert (loaded.calibrator_.confidence, loaded.threshold_) == (0.9, det.threshold_)
    with pytest.raises(ValueError, match="confidence goes with fpr only"):
        det.set_threshold(fdr=0.1, confidence=0.9)
    small = build_detector("KNN").fit(normal_rows[:100])  # 20 calibration rows
    with pytest.warns(CalibrationWarning, match="at 90% confidence"):
        small.set_threshold(fpr=0.1, confidence=0.9)
    assert small.threshold_ == math.inf
