"""NAB score: hand-computed cases for windows, weighting, probation and normalisation.

Identity used throughout: NAB's sigma(y) = 2 / (1 + exp(5y)) - 1 = tanh(-5y / 2), so the
reward at a window start is sigma(-1) = tanh(2.5) ~ 0.986614 and a TP at relative
position y earns tpWeight * tanh(-2.5 y) / tanh(2.5).

Default fixture: n = 1000, one anomaly at step 500. Window length int(0.1 * 1000 / 1) = 100,
half 50 -> window [450, 550], width W = 101. Probation = min(floor(0.15 * 1000), 750) = 150.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepad.metrics.nab import (
    NAB_PROFILES,
    detections_from_scores,
    nab_probation_length,
    nab_score,
    nab_scores,
    nab_windows,
    scaled_sigmoid,
)

N = 1000
WINDOW = [(450, 550)]
MAX_TP = math.tanh(2.5)  # sigma(-1) ~ 0.986614


def _labels(n: int, *points: int) -> np.ndarray:
    y = np.zeros(n, dtype=int)
    y[list(points)] = 1
    return y


def _det(n: int, *points: int) -> np.ndarray:
    d = np.zeros(n, dtype=bool)
    d[list(points)] = True
    return d


# --- profiles and sigmoid ----------------------------------------------------------------


def test_profiles_match_nab_config() -> None:
    # NAB config/profiles.json: standard fp 0.11; reward_low_FP_rate fp 0.22;
    # reward_low_FN_rate fn 2.0; tp = tn = 1.0 everywhere.
    assert NAB_PROFILES["standard"] == {
        "tpWeight": 1.0,
        "fpWeight": 0.11,
        "fnWeight": 1.0,
        "tnWeight": 1.0,
    }
    assert NAB_PROFILES["reward_low_fp"]["fpWeight"] == 0.22
    assert NAB_PROFILES["reward_low_fp"]["fnWeight"] == 1.0
    assert NAB_PROFILES["reward_low_fn"]["fnWeight"] == 2.0
    assert NAB_PROFILES["reward_low_fn"]["fpWeight"] == 0.11


def test_scaled_sigmoid_reference_points() -> None:
    # NAB docstring values: sigma(-1) = 0.98661, sigma(-0.5) = 0.84828, sigma(0) = 0,
    # sigma(1) = -0.98661, and -1 beyond y = 3.
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0, abs=1e-12)
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.01) == -1.0


# --- windows -----------------------------------------------------------------------------


def test_window_from_single_point_has_nab_length_and_centre() -> None:
    (w,) = nab_windows(_labels(N, 500))
    assert w == (450, 550)  # 500 -/+ 100 // 2
    assert w[1] - w[0] + 1 == 101
    assert (w[0] + w[1]) // 2 == 500


def test_window_length_divided_by_number_of_anomalies() -> None:
    # k = 2 -> L = int(0.1 * 1000 / 2) = 50, half 25.
    assert nab_windows(_labels(N, 300, 700)) == [(275, 325), (675, 725)]


def test_window_clipped_at_series_edges() -> None:
    # 10 - 50 < 0 -> 0; 995 + 50 > 999 -> 999.
    assert nab_windows(_labels(N, 10, 995)) == [(0, 35), (970, 999)]  # k = 2, half 25


def test_label_run_is_one_anomaly_centred_on_its_midpoint() -> None:
    y = np.zeros(N, dtype=int)
    y[500:520] = 1  # run 500..519: one anomaly, centre (500 + 519) // 2 = 509
    assert nab_windows(y) == [(459, 559)]  # 509 -/+ 50


def test_long_label_run_is_covered_whole() -> None:
    y = np.zeros(N, dtype=int)
    y[100:400] = 1  # run 100..399, centre 249; 249 -/+ 50 is narrower than the run
    assert nab_windows(y) == [(100, 399)]


def test_overlapping_windows_are_merged() -> None:
    # k = 2, half 25: (475, 525) and (495, 545) overlap -> (475, 545).
    assert nab_windows(_labels(N, 500, 520)) == [(475, 545)]


def test_labels_as_ready_windows_and_pairs() -> None:
    y = np.zeros(20, dtype=int)
    y[3:6] = 1
    y[10] = 1
    assert nab_windows(y, labels_are_windows=True) == [(3, 5), (10, 10)]
    assert nab_windows([(10, 12), (3, 5)], n=20) == [(3, 5), (10, 12)]
    assert nab_windows(np.zeros(20, dtype=int)) == []


# --- raw score of one series -------------------------------------------------------------


def test_detection_at_window_start_scores_tp_weight() -> None:
    # i = 450: y = -(550 - 450 + 1) / 101 = -1 -> sigma(-1) / sigma(-1) * 1.0 = 1.0.
    assert nab_score(_det(N, 450), WINDOW, N) == pytest.approx(1.0)


def test_detection_at_window_end_scores_near_zero() -> None:
    # i = 550: y = -1 / 101 -> tanh(2.5 / 101) / tanh(2.5) = 0.0247474 / 0.986614 ~ 0.025083.
    expected = math.tanh(2.5 / 101) / MAX_TP
    got = nab_score(_det(N, 550), WINDOW, N)
    assert got == pytest.approx(expected)
    assert 0.0 < got < 0.03


def test_detection_mid_window() -> None:
    # i = 500: y = -51 / 101 -> tanh(2.5 * 51 / 101) / tanh(2.5) ~ 0.8518 / 0.9866 ~ 0.8634.
    assert nab_score(_det(N, 500), WINDOW, N) == pytest.approx(math.tanh(2.5 * 51 / 101) / MAX_TP)


def test_second_detection_in_window_adds_nothing() -> None:
    assert nab_score(_det(N, 450, 460, 549), WINDOW, N) == pytest.approx(1.0)
    # The first one counts, even when a later one would be "worth" less.
    assert nab_score(_det(N, 500, 540), WINDOW, N) == pytest.approx(
        math.tanh(2.5 * 51 / 101) / MAX_TP
    )


def test_missed_window_costs_fn_weight() -> None:
    assert nab_score(_det(N), WINDOW, N) == pytest.approx(-1.0)


def test_far_false_positives_cost_fp_weight() -> None:
    # Before any window: -0.11. After: y = (900 - 550) / (101 - 1) = 3.5 > 3 -> -0.11.
    assert nab_score(_det(N, 450, 200), WINDOW, N) == pytest.approx(1.0 - 0.11)
    assert nab_score(_det(N, 450, 900), WINDOW, N) == pytest.approx(1.0 - 0.11)
    # Missed window plus a far FP: -1 - 0.11.
    assert nab_score(_det(N, 900), WINDOW, N) == pytest.approx(-1.11)


def test_false_positive_just_after_window_costs_little() -> None:
    # i = 551: y = 1 / 100 -> sigma = tanh(-0.025) ~ -0.024995; * 0.11 ~ -0.0027494.
    # Window missed: -1 - 0.0027494.
    expected = -1.0 + 0.11 * math.tanh(-2.5 * 0.01)
    assert nab_score(_det(N, 551), WINDOW, N) == pytest.approx(expected)
    assert expected == pytest.approx(-1.0027494, abs=1e-7)


def test_false_positive_uses_closest_preceding_window() -> None:
    wins = [(200, 209), (600, 609)]  # W = 10 each; both detected at their start (+1 each)
    # FP at 212: after (200, 209), y = 3 / 9 -> tanh(-2.5 / 3) ~ -0.68217; * 0.11 ~ -0.075039.
    expected = 2.0 + 0.11 * math.tanh(-2.5 * 3 / 9)
    assert nab_score(_det(N, 200, 600, 212), wins, N) == pytest.approx(expected)
    # FP at 615 is after the second window: y = 6 / 9, tanh(-2.5 * 6 / 9) ~ -0.93110.
    expected = 2.0 + 0.11 * math.tanh(-2.5 * 6 / 9)
    assert nab_score(_det(N, 200, 600, 615), wins, N) == pytest.approx(expected)


def test_labels_accepted_in_place_of_windows() -> None:
    assert nab_score(_det(N, 450), _labels(N, 500)) == pytest.approx(1.0)


# --- profiles ----------------------------------------------------------------------------


def test_reward_low_fn_doubles_missed_window_cost() -> None:
    assert nab_score(_det(N), WINDOW, N, profile="standard") == pytest.approx(-1.0)
    assert nab_score(_det(N), WINDOW, N, profile="reward_low_fn") == pytest.approx(-2.0)
    assert nab_score(_det(N), WINDOW, N, profile="reward_low_FN_rate") == pytest.approx(-2.0)


def test_reward_low_fp_doubles_false_positive_cost() -> None:
    # Window hit at its start (+1) and a far FP: 1 - 0.22.
    d = _det(N, 450, 200)
    assert nab_score(d, WINDOW, N, profile="reward_low_fp") == pytest.approx(0.78)
    assert nab_score(d, WINDOW, N, profile="reward_low_FP_rate") == pytest.approx(0.78)


def test_custom_cost_matrix() -> None:
    cost = {"tpWeight": 2.0, "fpWeight": 0.5, "fnWeight": 3.0}
    assert nab_score(_det(N, 450, 200), WINDOW, N, profile=cost) == pytest.approx(2.0 - 0.5)
    assert nab_score(_det(N), WINDOW, N, profile=cost) == pytest.approx(-3.0)


# --- probationary period -----------------------------------------------------------------


def test_probation_length() -> None:
    assert nab_probation_length(1000) == 150  # floor(0.15 * 1000)
    assert nab_probation_length(10_000) == 750  # capped at 0.15 * 5000
    assert nab_probation_length(1000, 0.0) == 0


def test_probation_ignores_early_detections() -> None:
    # Step 100 < 150: ignored, so only the missed window counts: -1.
    assert nab_score(_det(N, 100), WINDOW, N) == pytest.approx(-1.0)
    # Without probation it is a FP before any window: -1 - 0.11.
    assert nab_score(_det(N, 100), WINDOW, N, probation_percent=0.0) == pytest.approx(-1.11)
    # Cap at 750 steps: step 749 ignored, step 750 a FP (-0.11), no windows.
    assert nab_score(_det(10_000, 749), [], 10_000) == 0.0
    assert nab_score(_det(10_000, 750), [], 10_000) == pytest.approx(-0.11)


def test_window_inside_probation_is_not_scored() -> None:
    # (10, 20) ends before step 150: no FN cost, and the detection in it is ignored.
    assert nab_score(_det(N), [(10, 20)], N) == 0.0
    assert nab_score(_det(N, 10), [(10, 20)], N) == 0.0
    with pytest.raises(ValueError, match="no anomaly window is scored"):
        nab_scores([(_det(N), [(10, 20)], N)])


# --- normalisation -----------------------------------------------------------------------


def test_perfect_detector_scores_100() -> None:
    # raw 1, null -1, perfect 1 -> 100 * (1 + 1) / (1 + 1) = 100.
    res = nab_scores([(_det(N, 450), WINDOW, N)])
    assert res.score == pytest.approx(100.0)
    assert (res.raw, res.null, res.perfect) == pytest.approx((1.0, -1.0, 1.0))


def test_null_detector_scores_0_in_every_profile() -> None:
    for profile in NAB_PROFILES:
        assert nab_scores([(_det(N), WINDOW, N)], profile).score == pytest.approx(0.0)


def test_normalised_score_with_false_positive() -> None:
    # raw 1 - 0.11 = 0.89 -> 100 * (0.89 + 1) / 2 = 94.5.
    assert nab_scores([(_det(N, 450, 200), WINDOW, N)]).score == pytest.approx(94.5)


def test_corpus_sums_before_normalising() -> None:
    # Series A perfect (raw 1), series B missed (raw -1): raw 0, null -2, perfect 2
    # -> 100 * (0 + 2) / (2 + 2) = 50. Series B passes labels and omits n.
    res = nab_scores([(_det(N, 450), WINDOW, N), (_det(N), _labels(N, 500))])
    assert res.score == pytest.approx(50.0)
    assert (res.raw, res.null, res.perfect) == pytest.approx((0.0, -2.0, 2.0))


# --- thresholding ------------------------------------------------------------------------


def test_detections_from_scores() -> None:
    got = detections_from_scores(np.array([0.1, 0.5, 0.9]), 0.5)
    np.testing.assert_array_equal(got, [False, True, True])
    with pytest.raises(ValueError, match="NaN"):
        detections_from_scores([0.1, float("nan")], 0.5)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: nab_score(_det(N), WINDOW, N + 1), "differ in length"),
        (lambda: nab_score(_det(N), _labels(N - 1, 5)), "differ in length"),
        (lambda: nab_score(_det(N), [(950, N)], N), "out of range"),
        (lambda: nab_score(_det(N), [(-1, 5)], N), "out of range"),
        (lambda: nab_score(_det(N), [(600, 500)], N), "out of range"),
        (lambda: nab_score(_det(N), [(400, 500), (500, 600)], N), "overlap"),
        (lambda: nab_score(_det(N), WINDOW, N, profile="nope"), "unknown NAB profile"),
        (lambda: nab_score(np.full(N, 2), WINDOW, N), "only 0 and 1"),
        (lambda: nab_score(_det(N), WINDOW, N, probation_percent=1.0), "probation_percent"),
        (lambda: nab_score(_det(N), [(1, 2, 3)], N), "pairs"),
        (lambda: nab_windows([(1, 2)]), "n \\(series length\\)"),
        (lambda: nab_windows(_labels(N, 5), window_fraction=0.0), "window_fraction"),
        (lambda: nab_scores([]), "empty"),
        (lambda: nab_scores([(_det(N),)]), "must be"),
    ],
)
def test_bad_input_raises_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
