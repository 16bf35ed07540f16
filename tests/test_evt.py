"""Peaks-over-threshold: the tail estimate, and SPOT's alarm rate on stationary streams."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from deepad.calibrate import SPOT, pot_threshold
from deepad.calibrate.evt import fit_gpd, rule_level

DRAWS = {
    # anomaly scores are skewed to the right: distances, reconstruction errors
    "exponential": lambda rng, n: rng.exponential(size=n),
    "gamma(2)": lambda rng, n: rng.gamma(2.0, size=n),
    "lognormal": lambda rng, n: rng.lognormal(0.0, 0.5, n),
}


def test_gpd_fit_recovers_shape_and_scale() -> None:
    rng = np.random.default_rng(0)
    from scipy.stats import genpareto

    excesses = genpareto.rvs(0.2, scale=2.0, size=20_000, random_state=rng)
    shape, scale = fit_gpd(excesses)
    assert shape == pytest.approx(0.2, abs=0.03)
    assert scale == pytest.approx(2.0, rel=0.05)


def test_pot_threshold_matches_the_exponential_quantile() -> None:
    """Exponential tails are exactly GPD (shape 0): z_q = -log(q), far past the sample."""
    rng = np.random.default_rng(1)
    for q in (1e-3, 1e-4):
        estimates = np.array([pot_threshold(rng.exponential(size=5000), q) for _ in range(20)])
        truth = -math.log(q)
        assert np.median(estimates) == pytest.approx(truth, rel=0.05)
        assert np.all(np.abs(estimates / truth - 1) < 0.3)


def test_pot_threshold_refuses_what_it_cannot_estimate() -> None:
    with pytest.raises(ValueError, match=r"at least 10 scores above the level=0\.98 quantile"):
        pot_threshold(np.arange(100.0), 1e-3)
    with pytest.raises(ValueError, match="must be smaller than 1 - level"):
        pot_threshold(np.arange(1000.0), 0.05)
    with pytest.raises(ValueError, match=r"q .* must be in"):
        pot_threshold(np.arange(1000.0), 0.0)
    with pytest.raises(ValueError, match="1-D"):
        pot_threshold(np.ones((10, 10)), 1e-3)


def test_rule_level_leaves_thirty_peaks_and_refuses_tiny_samples() -> None:
    assert rule_level(10_000) == 0.98
    assert rule_level(300) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="at least 150 calibration scores"):
        rule_level(149)


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_spot_alarm_rate_on_a_stationary_stream_is_close_to_q(name: str) -> None:
    """q = 1%: over 5 streams of 100,000 scores after 2,000 initial ones, the alarm rate is
    within 20% of q (the binomial spread of 5,000 expected alarms is 1.4%; the rest is the
    tail estimate's own error)."""
    q, rates = 0.01, []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        spot = SPOT(q=q).fit(DRAWS[name](rng, 2000))
        rates.append(spot.run(DRAWS[name](rng, 100_000)).mean())
    assert np.mean(rates) == pytest.approx(q, rel=0.2), f"{name}: {np.round(rates, 4)}"


def test_spot_alarm_rate_at_one_in_a_thousand_on_an_exponential_stream() -> None:
    """q = 0.1%: 100 expected alarms per stream, extrapolated 20x past the 98% level, so a
    single stream's rate varies by about 30%; the mean of five is within 40% of q."""
    q, rates = 1e-3, []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        spot = SPOT(q=q).fit(rng.exponential(size=2000))
        rates.append(spot.run(rng.exponential(size=100_000)).mean())
    assert np.mean(rates) == pytest.approx(q, rel=0.4), np.round(np.array(rates) / q, 2)


def test_spot_alarms_do_not_move_the_threshold() -> None:
    rng = np.random.default_rng(2)
    spot = SPOT(q=1e-2).fit(rng.exponential(size=2000))
    before = (spot.threshold_, spot.n_, spot.peaks_.size)
    flags = spot.run(np.full(50, 1e6))
    assert flags.all()
    assert (spot.threshold_, spot.n_, spot.peaks_.size) == before
    assert spot.update(0.0) is False and spot.n_ == before[1] + 1


def test_spot_state_round_trips_and_continues_identically() -> None:
    rng = np.random.default_rng(3)
    initial, stream = rng.gamma(2.0, size=2000), rng.gamma(2.0, size=20_000)
    whole = SPOT(q=1e-2).fit(initial)
    expected = whole.run(stream)
    first = SPOT(q=1e-2).fit(initial)
    head = first.run(stream[:7000])
    meta, arrays = first.state()
    resumed = SPOT.from_state(json.loads(json.dumps(meta)), arrays)
    np.testing.assert_array_equal(np.r_[head, resumed.run(stream[7000:])], expected)
    assert resumed.threshold_ == whole.threshold_


def test_spot_refuses_bad_use() -> None:
    with pytest.raises(NotFittedError, match="call fit"):
        SPOT().update(1.0)
    with pytest.raises(ValueError, match="level"):
        SPOT(level=1.5).fit(np.arange(1000.0))
    with pytest.raises(ValueError, match="finite"):
        SPOT().fit(np.r_[np.arange(1000.0), np.inf])
    spot = SPOT(q=1e-2).fit(np.random.default_rng(0).exponential(size=2000))
    meta, arrays = spot.state()
    with pytest.raises(ValueError, match="lacks"):
        SPOT.from_state({k: v for k, v in meta.items() if k != "gamma"}, arrays)
    with pytest.raises(ValueError, match="inconsistent"):
        SPOT.from_state({**meta, "n": 1}, arrays)
