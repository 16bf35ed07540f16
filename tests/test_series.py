"""The series contract: causal per-step scores, temporal calibration, streams, bundles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

import deepad
from deepad.models import LSTMForecaster, MatrixProfile, RollingZScore
from deepad.preprocess.series import SeriesScaler, dominant_period, fill_forward, sliding_windows


def _series(n: int = 1200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.c_[np.sin(t / 8.0), np.cos(t / 5.0)] + 0.05 * rng.normal(size=(n, 2))


def _lstm() -> LSTMForecaster:
    return LSTMForecaster(window=16, epochs=2, max_windows=400, hidden_size=16, random_state=0)


# ---------------------------------------------------------------- preprocessing
def test_fill_forward_is_causal_and_carries_across_calls():
    values = np.array([[np.nan], [1.0], [np.nan], [3.0], [np.nan]])
    filled = fill_forward(values, default=np.array([9.0]))
    assert filled.ravel().tolist() == [9.0, 1.0, 1.0, 3.0, 3.0]
    carry = np.array([np.nan])
    first = fill_forward(values[:3], np.array([9.0]), carry)
    second = fill_forward(values[3:], np.array([9.0]), carry)
    assert np.array_equal(np.concatenate([first, second]), filled)
    assert carry.tolist() == [3.0]


def test_scaler_is_robust_and_survives_constant_channels():
    values = np.c_[np.r_[np.arange(100.0), 1e6], np.full(101, 5.0)]
    scaler = SeriesScaler.fit(values)
    assert scaler.centre[0] == pytest.approx(50.0)
    assert scaler.scale[0] == pytest.approx(50.0 / 1.349, rel=0.05)  # the outlier is ignored
    assert scaler.scale[1] == 1.0
    restored = SeriesScaler.from_dict(scaler.to_dict())
    assert np.allclose(restored.inverse(restored.transform(values)), values)


def test_sliding_windows_end_at_each_step_and_pad_with_the_first_row():
    values = np.arange(5.0)[:, None]
    windows = sliding_windows(values, 3)
    assert windows.shape == (5, 3, 1)
    assert windows[0].ravel().tolist() == [0, 0, 0]
    assert windows[4].ravel().tolist() == [2, 3, 4]


def test_dominant_period_finds_the_cycle():
    t = np.arange(3000)
    assert abs(dominant_period(np.sin(2 * np.pi * t / 73)) - 73) <= 1
    assert dominant_period(np.arange(5.0)) == 10  # too short: the lower bound


# ---------------------------------------------------------------- the contract
@pytest.mark.parametrize("make", [RollingZScore, _lstm], ids=["zscore", "lstm"])
def test_scores_are_causal(make):
    x = _series()
    det = make().fit(x[:800])
    changed = x.copy()
    changed[1000:] += 5.0  # the future changes; scores up to step 999 must not
    a = det.decision_function(x)
    b = det.decision_function(changed)
    assert np.array_equal(a[:1000], b[:1000])
    assert not np.allclose(a[1000:], b[1000:])


@pytest.mark.parametrize("make", [RollingZScore, _lstm], ids=["zscore", "lstm"])
def test_stream_equals_batch_and_survives_a_bundle(make, tmp_path):
    x = _series()
    det = make().fit(x[:800])
    batch = det.decision_function(x)[800:]
    one = []
    for value in x[800:900]:
        one.append(det.score_one(value))
        det.learn_one(value)
    assert np.allclose(one, batch[:100], atol=1e-9)
    det.save(tmp_path / "b")
    loaded = deepad.load(tmp_path / "b")
    assert np.allclose(loaded.process(x[900:]), batch[100:], atol=1e-9)
    assert np.allclose(det.process(x[900:], learn=False), batch[100:], atol=1e-9)


def test_injected_spike_is_the_top_step():
    x = _series(1500)
    x[1300, 1] += 3.0
    for det in (RollingZScore().fit(x[:1000]), _lstm().fit(x[:1000]).set_params(smoothing=1)):
        assert int(np.argmax(det.process(x[1000:]))) + 1000 == 1300


def test_smoothing_averages_the_last_steps_and_streams_the_same(tmp_path):
    from deepad.models.series_base import trailing_mean

    assert trailing_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist() == [1.0, 2.0, 4.0, 6.0]
    x = _series(1200)
    det = _lstm().fit(x[:800])
    raw = det.set_params(smoothing=1).decision_function(x)
    smooth = det.set_params(smoothing=10).decision_function(x)
    assert np.allclose(smooth, trailing_mean(raw, 10))
    one = [(det.score_one(v), det.learn_one(v))[0] for v in x[800:850]]
    assert np.allclose(one, smooth[800:850], atol=1e-9)
    explanation = det.explain(x[900:])
    assert np.allclose(explanation.contributions.sum(axis=1), explanation.scores)
    with pytest.raises(ValueError, match="smoothing"):
        LSTMForecaster(smoothing=0).fit(x)


def test_calibration_holds_out_the_last_steps():
    det = RollingZScore().fit(_series(1000))
    assert det.calibration_rows_.tolist() == list(range(800, 1000))
    assert det.calibrator_.n_calibration == 200
    p = det.p_values(_series(400, seed=1))
    assert p.shape == (400,) and ((p > 0) & (p <= 1)).all()
    labels = np.zeros(1000, dtype=int)
    labels[900:910] = 1
    labelled = RollingZScore().fit(_series(1000), labels)
    assert 905 not in labelled.calibration_rows_ and len(labelled.calibration_rows_) == 190


def test_frame_with_time_column_scores_align_with_input_rows():
    x = _series(600)
    times = pd.date_range("2026-01-01", periods=600, freq="min")
    frame = pd.DataFrame({"ts": times, "cpu": x[:, 0], "mem": x[:, 1]})
    det = RollingZScore().fit(frame, time_column="ts")
    shuffled = frame.sample(frac=1.0, random_state=0)
    in_order = det.decision_function(frame)
    assert np.allclose(det.decision_function(shuffled), in_order[shuffled.index.to_numpy()])
    assert det.series_info_["step"] == str(pd.Timedelta(minutes=1))
    swapped = frame[["mem", "ts", "cpu"]]  # channels are matched by name
    assert np.allclose(det.decision_function(swapped), in_order)
    with pytest.raises(ValueError, match="lacks the channel"):
        det.decision_function(frame.drop(columns="mem"))
    assert det.score_one({"cpu": 0.1, "mem": 0.2}) >= 0


def test_score_one_takes_read_only_rows_and_never_changes_them():
    det = RollingZScore().fit(_series(300))
    row = np.array([np.inf, 0.5])
    row.flags.writeable = False
    assert np.isfinite(det.score_one(row))
    det.learn_one(row)
    assert row[0] == np.inf


def test_missing_values_are_filled_with_the_last_observation():
    x = _series(800)
    det = RollingZScore().fit(x[:600])
    gappy = x.copy()
    gappy[700, 0] = np.nan
    filled = x.copy()
    filled[700, 0] = x[699, 0]
    assert np.allclose(det.decision_function(gappy), det.decision_function(filled))
    assert np.isfinite(det.score_one([np.nan, 0.0]))


def test_explain_gives_per_step_channel_contributions_that_sum_to_the_score():
    x = _series(1000)
    x[950, 0] += 4.0
    det = _lstm().fit(x[:800])
    explanation = det.explain(x)
    assert explanation.contributions.shape == (1000, 2)
    assert np.allclose(explanation.contributions.sum(axis=1), explanation.scores)
    assert explanation.top(1)["feature_1"].iloc[950] == "x0"
    assert explanation.expected is not None and explanation.expected.shape == (1000, 2)


def test_matrix_profile_finds_a_shape_discord_and_streams(tmp_path):
    t = np.arange(3000)
    x = np.sin(2 * np.pi * t / 40) + 0.02 * np.random.default_rng(0).normal(size=3000)
    x[2500:2520] = np.sin(2 * np.pi * t[2500:2520] / 15)  # a different shape, same range
    det = MatrixProfile().fit(x[:2000])
    assert abs(det.window_ - 40) <= 1
    scores = det.process(x[2000:])
    assert 2500 <= int(np.argmax(scores)) + 2000 <= 2520 + det.window_
    det.save(tmp_path / "mp")
    assert np.allclose(deepad.load(tmp_path / "mp").decision_function(x), det.decision_function(x))
    centred = MatrixProfile(position="centre").fit(x[:2000])
    assert 2490 <= int(np.argmax(centred.decision_function(x)[2000:])) + 2000 <= 2530
    with pytest.raises(ValueError, match="cannot score a stream"):
        centred.score_one(0.0)


# ---------------------------------------------------------------- refusals
def test_bad_input_gets_clear_errors():
    det = RollingZScore().fit(_series(300))
    with pytest.raises(ValueError, match="channel"):
        det.decision_function(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="2 channel value"):
        det.score_one([1.0])
    with pytest.raises(ValueError, match="numeric"):
        det.score_one("high")
    with pytest.raises(ValueError, match="needs at least"):
        _lstm().fit(_series(20))
    with pytest.raises(ValueError, match="window"):
        RollingZScore(window=1).fit(_series(300))
    with pytest.raises(ValueError, match="calibration_size"):
        RollingZScore().fit(_series(300), calibration_size=300)
    with pytest.raises(ValueError, match="position"):
        MatrixProfile(position="middle").fit(_series(300))
    with pytest.raises(NotFittedError, match="not fitted"):
        RollingZScore().score_one(1.0)


def test_series_detectors_are_registered_apart_from_table_ones():
    from deepad.models import SERIES_DETECTORS, TABLE_DETECTORS

    assert {"RollingZScore", "MatrixProfile", "LSTMForecaster"} <= set(SERIES_DETECTORS)
    assert not set(SERIES_DETECTORS) & set(TABLE_DETECTORS)
    assert all(cls.modality == "series" for cls in SERIES_DETECTORS.values())


def test_novel_peaks_keeps_one_alarm_per_sustained_anomaly():
    from deepad.calibrate import novel_peaks

    scores = np.array([0.1, 0.2, 0.9, 0.95, 0.9, 0.3, 0.2, 0.1, 0.96])
    assert novel_peaks(scores, 3).tolist() == [0.1, 0.2, 0.9, 0.95, 0, 0, 0, 0, 0.96]
    assert novel_peaks(scores, 100)[8] == 0.96  # beats everything before it
    # causal: the output up to t ignores what comes after t
    assert np.array_equal(novel_peaks(scores[:5], 3), novel_peaks(scores, 3)[:5])
    with pytest.raises(ValueError, match="horizon"):
        novel_peaks(scores, 0)
    with pytest.raises(ValueError, match="NaN"):
        novel_peaks(np.array([0.1, np.nan]), 2)


def test_hybrid_discord_adds_jumps_to_discords_in_robust_units(tmp_path):
    from deepad.models import HybridDiscord

    t = np.arange(3000)
    x = np.sin(2 * np.pi * t / 40) + 0.02 * np.random.default_rng(1).normal(size=3000)
    x[2600:] += 1.5  # a jump in level
    hybrid = HybridDiscord().fit(x[:2000])
    assert abs(int(np.argmax(hybrid.process(x[2000:]))) + 2000 - 2600) <= 10
    scaled = hybrid.scaler_.transform(x[:, None])
    jumps = np.r_[0.0, np.abs(np.diff(scaled[:, 0]))]
    discord = hybrid._distances(scaled)[:, 0]
    expected = (discord - hybrid.discord_centre_[0]) / hybrid.discord_spread_[0] + (
        jumps - hybrid.jump_centre_[0]
    ) / hybrid.jump_spread_[0]
    batch = hybrid.decision_function(x)
    assert np.allclose(batch, expected)
    hybrid.save(tmp_path / "h")
    loaded = deepad.load(tmp_path / "h")
    assert np.allclose(loaded.decision_function(x), batch)
    explanation = loaded.explain(x[2500:2700])
    assert np.allclose(explanation.contributions.sum(axis=1), explanation.scores)
