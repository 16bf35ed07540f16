"""Tests for deepad.metrics.range (hand-computed cases, arithmetic in comments)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from deepad.metrics.range import (
    best_f1,
    label_ranges,
    point_adjusted_f1,
    range_f1,
    range_precision_recall,
    vus_pr,
    vus_roc,
)


def bits(s: str) -> np.ndarray:
    return np.array([int(c) for c in s])


# ---------------------------------------------------------------- label_ranges
def test_label_ranges_inclusive_end() -> None:
    assert label_ranges(bits("0011100")) == [(2, 4)]
    # runs touching both borders
    assert label_ranges(bits("1100011")) == [(0, 1), (5, 6)]
    assert label_ranges(bits("0000")) == []
    assert label_ranges(np.array([True, False, True])) == [(0, 0), (2, 2)]


# ---------------------------------------------------------------- Tatbul et al.
def test_flat_recall_partial_overlap() -> None:
    # real [2,4] (3 pts), predicted [3,4] -> recall 2/3; predicted range fully
    # inside the real one -> precision 1
    p, r = range_precision_recall(bits("0011100"), bits("0001100"))
    assert r == pytest.approx(2 / 3)
    assert p == pytest.approx(1.0)
    assert range_f1(bits("0011100"), bits("0001100")) == pytest.approx(2 * (2 / 3) / (5 / 3))


def test_positional_bias() -> None:
    y, pr = bits("0011100"), bits("0001100")  # positions i=2,3 of 3 detected
    # front: delta = 3,2,1 -> (2+1)/6 = 0.5 (missed first point weighs most)
    _, front = range_precision_recall(y, pr, bias="front")
    assert front == pytest.approx(0.5)
    assert front < 2 / 3
    # back: delta = 1,2,3 -> (2+3)/6
    assert range_precision_recall(y, pr, bias="back")[1] == pytest.approx(5 / 6)
    # middle (L=3): delta = 1,2,1 -> (2+1)/4
    assert range_precision_recall(y, pr, bias="middle")[1] == pytest.approx(3 / 4)


def test_existence_reward() -> None:
    y, pr = bits("0011100"), bits("0001100")
    assert range_precision_recall(y, pr, alpha=1.0)[1] == pytest.approx(1.0)
    # 0.5 * 1 + 0.5 * 2/3
    assert range_precision_recall(y, pr, alpha=0.5)[1] == pytest.approx(5 / 6)
    # a range with no detection gets no existence reward: ranges [0,1],[5,6],
    # only the first touched -> (1 + 0)/2
    assert range_precision_recall(bits("1100011"), bits("0100000"), alpha=1.0)[1] == 0.5


def test_cardinality_reciprocal_penalises_split() -> None:
    # real [1,5] (5 pts); prediction split into [1,2] and [4,5] -> overlap 4/5
    y, pr = bits("0111110"), bits("0110110")
    p1, r1 = range_precision_recall(y, pr, cardinality="one")
    p2, r2 = range_precision_recall(y, pr, cardinality="reciprocal")
    assert r1 == pytest.approx(4 / 5)
    assert r2 == pytest.approx(0.5 * 4 / 5)  # gamma = 1/2 (two predicted ranges)
    assert p1 == p2 == pytest.approx(1.0)  # each piece overlaps a single real range
    # one prediction [0,6] covering two real ranges: precision 4/7, x1/2
    y, pr = bits("1100011"), bits("1111111")
    p, r = range_precision_recall(y, pr, cardinality="reciprocal")
    assert p == pytest.approx(0.5 * 4 / 7)
    assert r == pytest.approx(1.0)


def test_defaults_reduce_to_overlap_fractions() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        y = (rng.random(300) < 0.15).astype(int)
        y[:5] = 1
        pr = (rng.random(300) < 0.2).astype(int)
        p, r = range_precision_recall(y, pr)
        rec = np.mean([pr[s : e + 1].mean() for s, e in label_ranges(y)])
        prec = np.mean([y[s : e + 1].mean() for s, e in label_ranges(pr)])
        assert r == pytest.approx(rec)
        assert p == pytest.approx(prec)


def test_no_prediction_gives_zero() -> None:
    assert range_precision_recall(bits("0110"), bits("0000")) == (0.0, 0.0)
    assert range_f1(bits("0110"), bits("0000")) == 0.0


# ---------------------------------------------------------------- best F1 / PA
LAB10 = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0])
SCO10 = np.array([0.1, 0.2, 0.9, 0.4, 0.3, 0.8, 0.05, 0.6, 0.15, 0.0])


def test_best_f1_hand_computed() -> None:
    # sorted: .9(1) .8(0) .6(1) .4(1) .3(0) ...; P = 3, F1 = 2TP/(k+P)
    # k=1: 2/4, k=2: 2/5, k=3: 4/6, k=4: 6/7 (max), k=5: 6/8, ...
    f1, thr = best_f1(LAB10, SCO10)
    assert f1 == pytest.approx(6 / 7)
    assert thr == pytest.approx(0.4)
    brute = max(2 * np.sum((SCO10 >= t) & (LAB10 == 1)) / (np.sum(SCO10 >= t) + 3) for t in SCO10)
    assert f1 == pytest.approx(brute)


def test_point_adjusted_hand_computed() -> None:
    # ranges [2,3] (max .9) and [7,7] (max .6); F1 = 2TPa/(TPa + FP + P)
    # t=.9: TPa=2, FP=0 -> 4/5; t=.8: 4/6; t=.6: TPa=3, FP=1 -> 6/7 (max, first)
    f1, thr = point_adjusted_f1(LAB10, SCO10)
    assert f1 == pytest.approx(6 / 7)
    assert thr == pytest.approx(0.6)


def test_point_adjusted_inflates() -> None:
    y = np.zeros(100, int)
    y[10:30] = 1
    y[60:80] = 1
    s = np.random.default_rng(0).random(100) * 0.5
    s[15] = s[70] = 1.0  # one point per range scores highest
    pa, _ = point_adjusted_f1(y, s)
    honest, _ = best_f1(y, s)
    assert pa == pytest.approx(1.0)
    assert honest < 0.8
    rng = np.random.default_rng(3)
    for _ in range(10):
        s = rng.random(100)
        assert point_adjusted_f1(y, s)[0] >= best_f1(y, s)[0]


# ---------------------------------------------------------------- VUS
def test_vus_perfect_score() -> None:
    y = np.zeros(500, int)
    y[100:120] = 1
    y[300:305] = 1
    assert vus_pr(y, y.astype(float), max_buffer=20) == pytest.approx(1.0)
    assert vus_roc(y, y.astype(float), max_buffer=20) == pytest.approx(1.0)


def test_vus_constant_score_is_positive_rate() -> None:
    y = np.zeros(1000, int)
    y[200:250] = 1
    # all points predicted at every threshold: precision = P/n at l = 0
    assert vus_pr(y, np.zeros(1000), max_buffer=0) == pytest.approx(0.05)
    # with buffers the predicted buffer mass counts as positive -> a bit above
    v = vus_pr(y, np.zeros(1000), max_buffer=20)
    assert 0.05 < v < 0.06


def test_vus_hand_computed_buffer() -> None:
    # range [4,5], spike at 3, max_buffer=2: l=0,1 have no buffer, l=2 adds
    # w = sqrt(1 - 1/2) at points 3 and 6
    y = bits("0000110000")
    s = np.zeros(10)
    s[3] = 1.0
    # l=0,1: t=1 -> TP 0; t=0 -> TPR 1, precision 2/10 => AP 0.2
    w = math.sqrt(0.5)
    # l=2, t=1: TP=w, P_new=2+w/2, TPR=w/(2+w/2), precision=w
    #      t=0: TP=2+2w, P_new=2+w -> TPR 1, precision (2+2w)/10
    r1 = w / (2 + w / 2)
    ap2 = r1 * w + (1 - r1) * (2 + 2 * w) / 10
    expected = (0.2 + 0.2 + ap2) / 3
    assert vus_pr(y, s, max_buffer=2, n_thresholds=None) == pytest.approx(expected)


def test_vus_existence_scaling_hand_computed() -> None:
    # ranges A=[5,9], B=[30,34]; order: A (5 pts), one false positive, B.
    y = np.zeros(50, int)
    y[5:10] = 1
    y[30:35] = 1
    s = np.zeros(50)
    s[5:10] = 3.0
    s[20] = 2.0
    s[30:35] = 1.0
    # t=3: TPR = 5/10 * existence 1/2 = .25, precision 1
    # t=2: same TPR, precision 5/6; t=1: TPR 1, precision 10/11
    assert vus_pr(y, s, max_buffer=0, n_thresholds=None) == pytest.approx(0.25 + 0.75 * 10 / 11)
    # point-wise AP has no existence factor: .5 * 1 + .5 * 10/11
    assert average_precision_score(y, s) == pytest.approx(0.5 + 0.5 * 10 / 11)


def test_vus_buffer_rewards_closeness() -> None:
    y = np.zeros(400, int)
    y[200:220] = 1
    vals = []
    for dist in (1, 8, 40):  # detection spike before the range
        s = np.zeros(400)
        s[200 - dist] = 1.0
        vals.append(vus_pr(y, s, max_buffer=40))
    assert vals[0] > vals[1] > vals[2]
    # spike outside every buffer (40//2 = 20 < 40): pure positive-rate baseline
    assert vals[2] == pytest.approx(vus_pr(y, np.zeros(400), max_buffer=40))


def test_vus_zero_buffer_matches_point_auc_single_range() -> None:
    rng = np.random.default_rng(7)
    y = np.zeros(2000, int)
    y[900:1000] = 1
    s = rng.random(2000) + 0.4 * y
    s = np.round(s, 2)  # include ties
    assert vus_pr(y, s, max_buffer=0, n_thresholds=None) == pytest.approx(
        average_precision_score(y, s)
    )
    assert vus_roc(y, s, max_buffer=0, n_thresholds=None) == pytest.approx(roc_auc_score(y, s))
    # 250 sampled thresholds track the exact value closely
    assert vus_pr(y, s, max_buffer=0) == pytest.approx(average_precision_score(y, s), abs=0.02)


def test_vus_fast_on_30k() -> None:
    rng = np.random.default_rng(0)
    n = 30_000
    y = np.zeros(n, int)
    for start in rng.choice(n - 200, 40, replace=False):
        y[start : start + rng.integers(5, 150)] = 1
    s = rng.random(n) + 0.5 * y
    t0 = time.perf_counter()
    v = vus_pr(y, s)  # default max_buffer=200, 250 thresholds
    r = vus_roc(y, s)
    best_f1(y, s)
    point_adjusted_f1(y, s)
    assert time.perf_counter() - t0 < 2.0
    assert 0.0 < v <= 1.0 and 0.0 < r <= 1.0


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "func",
    [vus_pr, vus_roc, best_f1, point_adjusted_f1],
)
def test_bad_input_scores(func) -> None:
    y = bits("0110")
    with pytest.raises(ValueError, match="differ in length"):
        func(y, np.zeros(5))
    with pytest.raises(ValueError, match="only 0 and 1"):
        func(np.array([0, 2, 1, 0]), np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        func(y, np.array([0.1, np.nan, 0.2, 0.3]))
    with pytest.raises(ValueError, match="no positive"):
        func(np.zeros(4), np.zeros(4))


def test_bad_input_ranges() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        range_precision_recall(bits("0110"), bits("011"))
    with pytest.raises(ValueError, match="predictions must hold only 0 and 1"):
        range_precision_recall(bits("0110"), np.array([0, 0.5, 1, 0]))
    with pytest.raises(ValueError, match="no positive"):
        range_precision_recall(bits("0000"), bits("0110"))
    with pytest.raises(ValueError, match="bias"):
        range_precision_recall(bits("0110"), bits("0110"), bias="tail")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha"):
        range_precision_recall(bits("0110"), bits("0110"), alpha=2.0)
    with pytest.raises(ValueError, match="max_buffer"):
        vus_pr(bits("0110"), np.zeros(4), max_buffer=-1)
    with pytest.raises(ValueError, match="no negative"):
        vus_roc(np.ones(4), np.zeros(4))
