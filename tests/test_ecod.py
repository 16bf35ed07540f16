"""ECOD's smoothed tails: continuous in the value, so ties in the training data do not make
tiny changes flip decisions, while values far outside the training range stay extreme."""

from __future__ import annotations

import numpy as np

import deepad
from deepad.models.ecod import SMOOTHING


def _tied(seed: int = 0, n: int = 2000) -> np.ndarray:
    """Counts with 70% zeros (the minimum), and a continuous column."""
    rng = np.random.default_rng(seed)
    counts = np.where(rng.random(n) < 0.7, 0.0, rng.integers(1, 6, n))
    return np.c_[counts, rng.normal(size=n)]


def test_noise_on_a_tied_minimum_does_not_flip_decisions():
    X = _tied()
    detector = deepad.ECOD().fit(X)
    rows = _tied(seed=1, n=1000)
    noisy = rows + np.random.default_rng(2).normal(size=rows.shape) * 0.01 * X.std(axis=0)
    flipped = np.mean(detector.predict(rows) != detector.predict(noisy))
    assert flipped < 0.02  # the step CDF flipped about half of these rows


def test_the_score_is_continuous_and_far_values_stay_extreme():
    X = _tied()
    detector = deepad.ECOD().fit(X)
    at = np.array([[0.0, 0.0]])
    step = np.array([[1e-6, 0.0]])
    assert abs(detector.decision_function(at + step)[0] - detector.decision_function(at)[0]) < 1e-4
    n = len(X) - detector.calibrator_.n_calibration
    far = detector.decision_function(np.array([[0.0, 50.0], [0.0, -50.0]]))
    terms = detector._tail_surprisals(detector.preprocessor_.transform(np.array([[0.0, 50.0]])))
    assert abs(terms[0, 1] - np.log(n + 1.0)) < 1e-9  # beyond every training value, by far
    assert np.all(far > detector.decision_function(np.array([[0.0, 3.0], [0.0, -3.0]])).max())


def test_the_window_is_half_a_standard_deviation():
    assert SMOOTHING == 0.5
    X = np.c_[np.arange(101.0)]  # uniform 0..100, sd about 29
    detector = deepad.ECOD().fit(X, calibration_size=0)
    encoded = detector.preprocessor_.transform(np.array([[50.0]]))
    term = detector._tail_surprisals(encoded)[0, 0]
    # the middle value: half of the smoothed mass on each side
    assert abs(term - (-np.log((0.5 * 101 + 1) / 102))) < 0.02
