"""Drift monitoring: the tests in ``deepad.monitor.stats`` against hand-computed and
textbook cases, ``DriftMonitor`` windows on real data (ADBench Satellite, NSL-KDD), bundle
round trips and ``deepad monitor``."""

from __future__ import annotations

import json
import math
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import deepad
from deepad.cli import main
from deepad.monitor import DriftMonitor, WindowReport
from deepad.monitor.stats import (
    burst_test,
    chi_square,
    ks_quantiles,
    mmd_test,
    psi,
    psi_cells,
    quantile_cdf,
    share_distance,
    uniformity_test,
)

DATA = Path(__file__).resolve().parents[2] / "shared/data"
SATELLITE = DATA / "adbench/30_satellite.npz"
NSL_KDD = DATA / "nsl_kdd"
LEVELS = np.linspace(0.0, 1.0, 101)


# ------------------------------------------------------------------ the tests
def test_psi_by_hand() -> None:
    assert psi(np.array([0.2, 0.3, 0.5]), np.array([20, 30, 50])) == pytest.approx(0.0)
    # two bins, 50/50 expected, 30/70 observed: 0.2 ln(0.5/0.3) + 0.2 ln(0.7/0.5)
    expected = 0.2 * math.log(0.5 / 0.3) + 0.2 * math.log(0.7 / 0.5)
    assert psi(np.array([0.5, 0.5]), np.array([30, 70])) == pytest.approx(expected)
    # an empty bin is floored, not infinite; nothing observed is NaN
    assert math.isfinite(psi(np.array([0.5, 0.5]), np.array([0, 100])))
    assert psi(np.array([0.5, 0.5]), np.array([100, 0])) > 2.0
    assert math.isnan(psi(np.array([0.5, 0.5]), np.array([0, 0])))


def test_ks_quantiles_same_and_shifted() -> None:
    rng = np.random.default_rng(0)
    quantiles = np.quantile(rng.normal(size=50_000), LEVELS)
    same = ks_quantiles(quantiles, rng.normal(size=1000))
    shifted = ks_quantiles(quantiles, rng.normal(0.5, 1.0, size=1000))
    assert same[1] > 0.05
    assert shifted[1] < 1e-10 and shifted[0] > 0.15
    # continuous values: the statistic is scipy's one-sample KS against the same CDF
    values = rng.normal(size=300)
    cdf, _ = quantile_cdf(quantiles)
    assert ks_quantiles(quantiles, values)[0] == pytest.approx(stats.kstest(values, cdf).statistic)
    # the reference's own row count widens the test (two-sample effective size)
    widened = ks_quantiles(quantiles, values, reference_rows=300)[1]
    assert widened > ks_quantiles(quantiles, values)[1]


def test_ks_quantiles_is_exact_with_ties() -> None:
    """A column of three values: the quantile CDF has steps, and a sample of the same
    column is not rejected (scipy's kstest, comparing F(v) with F_n(v-), would be)."""
    rng = np.random.default_rng(1)
    reference = rng.choice([0.0, 1.0, 5.0], p=[0.6, 0.3, 0.1], size=20_000)
    quantiles = np.quantile(reference, LEVELS)
    sample = rng.choice([0.0, 1.0, 5.0], p=[0.6, 0.3, 0.1], size=500)
    assert ks_quantiles(quantiles, sample)[1] > 0.05
    cdf, _ = quantile_cdf(quantiles)
    assert stats.kstest(sample, cdf).pvalue < 1e-10  # why ks_statistic compares both sides
    moved = rng.choice([0.0, 1.0, 5.0], p=[0.45, 0.45, 0.1], size=500)
    assert ks_quantiles(quantiles, moved)[1] < 1e-6


def test_chi_square_and_share_distance_textbook() -> None:
    assert chi_square(np.array([0.5, 0.3, 0.2]), np.array([50, 30, 20])) == (0.0, 1.0)
    statistic, p_value = chi_square(np.array([0.5, 0.5]), np.array([60, 40]))
    assert statistic == pytest.approx(4.0)
    assert p_value == pytest.approx(stats.chisquare([60, 40]).pvalue)
    assert share_distance(np.array([0.5, 0.5]), np.array([60, 40])) == pytest.approx(0.1)
    # a cell training never filled: strong evidence, no division by zero
    assert chi_square(np.array([1.0, 0.0]), np.array([99, 1]))[1] < 1e-6


def test_psi_cells_split_atoms() -> None:
    """A 0/1 column shifted by less than its gap stays in its PSI bins; split at the
    atoms, the move shows."""
    rng = np.random.default_rng(2)
    train = rng.choice([0.0, 1.0], p=[0.8, 0.2], size=5000)
    quantiles = np.quantile(train, LEVELS)
    edges = np.unique(np.quantile(train, np.linspace(0, 1, 11)[1:-1]))
    shares = np.bincount(np.searchsorted(edges, train, side="right"), minlength=len(edges) + 1)
    shares = shares / shares.sum()
    same = rng.choice([0.0, 1.0], p=[0.8, 0.2], size=500)
    assert psi(*psi_cells(quantiles, edges, shares, same)) < 0.05
    assert psi(*psi_cells(quantiles, edges, shares, same + 0.4)) > 2.0
    # float32 round trips of the same values are not a move
    as_float32 = same.astype(np.float32).astype(np.float64) * (1 + 1e-8)
    assert psi(*psi_cells(quantiles, edges, shares, as_float32)) < 0.05


def test_mmd_same_shifted_and_fast() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(1000, 8))
    value, p_same = mmd_test(reference, rng.normal(size=(1000, 8)), seed=1)
    assert p_same > 0.05 and abs(value) < 0.01
    start = time.perf_counter()
    value, p_shift = mmd_test(reference, rng.normal(0.5, 1.0, size=(1000, 8)), seed=1)
    assert time.perf_counter() - start < 0.5  # subsampled to 256 a side, one matrix product
    assert p_shift < 1e-3 and value > 0.01
    # a correlation change that leaves every marginal as it was
    z = rng.normal(size=(1000, 1))
    correlated = np.hstack([z + 0.1 * rng.normal(size=(1000, 1)) for _ in range(8)]) / 1.005
    assert mmd_test(reference, correlated, seed=1)[1] < 1e-3
    assert mmd_test(reference, reference[:1])[1] == 1.0  # too few rows: no evidence


def test_uniformity_test() -> None:
    rng = np.random.default_rng(4)
    assert uniformity_test(rng.uniform(size=500))[1] > 0.05
    assert uniformity_test(rng.beta(0.5, 1.0, size=500))[1] < 1e-6
    # conformal p-values on the grid 1/(m+1), ..., 1 of normal rows: not rejected
    calibration, new = rng.normal(size=400), rng.normal(size=500)
    grid = (1.0 + 400 - np.searchsorted(np.sort(calibration), new)) / 401.0
    assert uniformity_test(grid, calibration_rows=400)[1] > 0.05


def test_burst_test_is_the_binomial_tail() -> None:
    flags = np.r_[np.ones(10), np.zeros(90)]
    assert burst_test(flags, 0.1) == pytest.approx(stats.binom.sf(9, 100, 0.1))
    assert burst_test(np.r_[np.ones(30), np.zeros(70)], 0.1) < 1e-6
    assert burst_test(np.zeros(0), 0.1) == 1.0
    with pytest.raises(ValueError, match="rate"):
        burst_test(flags, 0.0)


# ------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def satellite() -> dict:
    """ADBench Satellite (36 numeric columns of few distinct values each): PCA fitted on
    a random half of the normal rows; the other half held out, and the anomalies."""
    if not SATELLITE.is_file():
        pytest.skip(f"ADBench Satellite not found at {SATELLITE}")
    data = np.load(SATELLITE)
    columns = [f"band{j:02d}" for j in range(data["X"].shape[1])]
    frame = pd.DataFrame(data["X"], columns=columns)
    labels = data["y"].astype(int)
    normal = frame[labels == 0].reset_index(drop=True)
    order = np.random.default_rng(0).permutation(len(normal))
    half = len(normal) // 2
    train = normal.iloc[order[:half]].reset_index(drop=True)
    held = normal.iloc[order[half:]].reset_index(drop=True)
    detector = deepad.PCA().fit(train)
    return {
        "detector": detector,
        "train": train,
        "held": held,
        "anomalies": frame[labels == 1].reset_index(drop=True),
    }


def _scored(detector, frame: pd.DataFrame) -> tuple:
    scores = detector.decision_function(frame)
    return frame, scores, detector.calibrator_.p_values(scores), detector.calibrator_.decide(scores)


def test_one_shifted_column_is_named_within_one_window(satellite) -> None:
    detector, held, train = satellite["detector"], satellite["held"], satellite["train"]
    monitor = DriftMonitor(detector, window=500, alpha=0.01)
    window = held.sample(500, random_state=1).reset_index(drop=True)
    window["band07"] += 1.5 * train["band07"].std()
    (report,) = monitor.observe(*_scored(detector, window))
    assert isinstance(report, WindowReport) and report.index == 1 and report.rows == 500
    assert report.drifted and report.reference == "quantiles"
    feature_alert = next(a for a in report.alerts if a["kind"] == "feature_drift")
    assert feature_alert["detail"]["columns"] == ["band07"]
    assert feature_alert["message"].startswith("1 of 36 columns drifted: band07 (PSI ")
    assert report.features[0]["column"] == "band07" and report.features[0]["psi"] > 1.0
    assert report.tests == 36 + 2  # columns, MMD, score uniformity
    json.dumps(report.to_dict(), allow_nan=False)  # JSON-ready


def test_unshifted_windows_rarely_alert(satellite) -> None:
    """40 windows of 500 held-out normal rows, alpha = 0.01: any alert (drift or burst)
    in at most 2 of them (we measure 0 of 40; 0 of 200 over 4 fits)."""
    detector, held = satellite["detector"], satellite["held"]
    monitor = DriftMonitor(detector, window=500, alpha=0.01)
    frame, scores, p_values, flags = _scored(detector, held)
    alerted = []
    for i in range(40):
        rows = np.random.default_rng(100 + i).choice(len(held), 500, replace=False)
        report = monitor.report(
            frame.iloc[rows], scores[rows], p_values[rows], flags[rows], index=i + 1
        )
        if report.alerts:
            alerted.append([a["message"] for a in report.alerts])
    assert len(alerted) <= 2, alerted


def test_held_out_p_values_are_uniform_at_the_stated_rate(satellite) -> None:
    detector, held = satellite["detector"], satellite["held"]
    _, _, p_values, flags = _scored(detector, held)
    calibrator = detector.calibrator_
    assert uniformity_test(p_values, calibration_rows=calibrator.n_calibration)[1] > 0.01
    assert calibrator.rule == "fpr" and calibrator.level == pytest.approx(0.1)
    assert abs(flags.mean() - 0.1) < 0.035  # 440 calibration rows: 90% of fits in 7.7-12.5%
    report = DriftMonitor(detector).report(*_scored(detector, held))
    assert report.score["expected_share"] == pytest.approx(0.1)
    assert not report.score["drifted"] and not report.score["burst"]


def test_a_burst_of_known_anomalies_alerts(satellite) -> None:
    detector, held, anomalies = satellite["detector"], satellite["held"], satellite["anomalies"]
    monitor = DriftMonitor(detector, window=500)
    assert monitor.observe(*_scored(detector, held.iloc[:400])) == []  # window not full
    reports = monitor.observe(*_scored(detector, anomalies.iloc[:600]))
    assert [r.index for r in reports] == [1, 2] and monitor.windows == 2
    assert monitor.buffered == 0 and monitor.last is reports[-1]
    burst = next(a for a in reports[-1].alerts if a["kind"] == "anomaly_burst")
    assert burst["severity"] == "critical"
    assert reports[-1].score["flagged_share"] > 2 * reports[-1].score["expected_share"]
    assert reports[-1].start == 500


def test_windows_are_the_same_however_rows_arrive(satellite) -> None:
    detector, held = satellite["detector"], satellite["held"]
    frame, scores, p_values, flags = _scored(detector, held.iloc[:1200])
    monitor = DriftMonitor(detector, window=500, seed=3)
    reports = []
    for start in range(0, 1200, 170):
        part = slice(start, start + 170)
        reports += monitor.observe(frame.iloc[part], scores[part], p_values[part], flags[part])
    assert [r.index for r in reports] == [1, 2] and monitor.buffered == 200
    direct = DriftMonitor(detector, seed=3).report(
        frame.iloc[500:1000], scores[500:1000], p_values[500:1000], flags[500:1000],
        index=2, start=500,
    )  # fmt: skip
    assert reports[1].to_dict() == direct.to_dict()


def test_observe_from_several_threads(satellite) -> None:
    detector, held = satellite["detector"], satellite["held"]
    frame, scores, p_values, flags = _scored(detector, held.iloc[:2000])
    monitor = DriftMonitor(detector, window=500)
    closed: list[WindowReport] = []

    def feed(offset: int) -> None:
        for start in range(offset, 2000, 200):
            part = slice(start, start + 50)
            closed.extend(
                monitor.observe(frame.iloc[part], scores[part], p_values[part], flags[part])
            )

    threads = [threading.Thread(target=feed, args=(k * 50,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert monitor.windows == 4 and monitor.buffered == 0
    assert sorted(r.index for r in closed) == [1, 2, 3, 4]
    assert all(r.rows == 500 for r in closed)


def test_bundle_round_trip_keeps_the_reference(satellite, tmp_path) -> None:
    detector, held = satellite["detector"], satellite["held"]
    window = held.sample(500, random_state=2).reset_index(drop=True)
    window["band20"] *= 1.5
    detector.save(tmp_path / "bundle")
    loaded = deepad.load(tmp_path / "bundle")
    first = DriftMonitor(detector).report(*_scored(detector, window))
    again = DriftMonitor(loaded).report(*_scored(loaded, window))
    assert again.to_dict() == first.to_dict()
    assert first.drifted_features[0] == "band20"
    # an older bundle, saved before drift references: the range test, said so
    del loaded.drift_reference_
    old = DriftMonitor(loaded).report(*_scored(loaded, window))
    assert old.reference == "range" and "before drift references" in old.notes[0]
    assert old.multivariate["mmd"] is None and old.features[0]["psi"] is None
    assert old.tests == 36 + 1


@pytest.fixture(scope="module")
def nsl_kdd() -> dict:
    """NSL-KDD normal connections (3 categorical columns, many mostly-zero ones): PCA on
    4,000 of them, the rest held out."""
    names_file = NSL_KDD / "Field_Names.csv"
    if not names_file.is_file():
        pytest.skip(f"NSL-KDD not found at {NSL_KDD}")
    names = [line.split(",")[0] for line in names_file.read_text().splitlines() if line.strip()]
    frame = pd.read_csv(NSL_KDD / "KDDTrain+_20Percent.txt", header=None)
    frame.columns = [*names, "attack", "difficulty"]
    normal = frame[frame["attack"] == "normal"].drop(columns=["attack", "difficulty"])
    order = np.random.default_rng(0).permutation(len(normal))
    train = normal.iloc[order[:4000]].reset_index(drop=True)
    held = normal.iloc[order[4000:]].reset_index(drop=True)
    return {"detector": deepad.PCA().fit(train), "held": held}


def test_categorical_share_shift_on_nsl_kdd(nsl_kdd) -> None:
    detector, held = nsl_kdd["detector"], nsl_kdd["held"]
    monitor = DriftMonitor(detector)
    with warnings.catch_warnings():  # the odd unseen gap is imputed and warned about
        warnings.simplefilter("ignore")
        for i in range(5):  # mixed types, mostly-zero columns: no false alarm
            window = held.sample(500, random_state=10 + i)
            assert monitor.report(*_scored(detector, window)).alerts == []
        window = held.sample(500, random_state=3).reset_index(drop=True)
        icmp = np.random.default_rng(0).random(500) < 0.3
        window["protocol_type"] = np.where(icmp, "icmp", window["protocol_type"])
        report = monitor.report(*_scored(detector, window))
    feature_alert = next(a for a in report.alerts if a["kind"] == "feature_drift")
    assert feature_alert["detail"]["columns"][0] == "protocol_type"
    top = report.features[0]
    assert top["kind"] == "categorical" and top["distance"] > 0.2 and top["p_value"] < 1e-10


def test_series_detectors_get_score_tests_and_channels() -> None:
    rng = np.random.default_rng(5)
    series = pd.DataFrame({"a": rng.normal(size=1500), "b": rng.normal(size=1500)})
    detector = deepad.RollingZScore().fit(series.iloc[:1000])
    new = series.iloc[1000:].reset_index(drop=True)
    new.loc[:, "b"] += 4.0
    scores = detector.decision_function(new)
    flags = detector.calibrator_.decide(scores)
    monitor = DriftMonitor(detector)
    streamed = monitor.report(None, scores, None, flags)  # a stream: scores only
    assert streamed.features == [] and streamed.reference == "none"
    assert streamed.tests == 1 and streamed.score["p_value"] is not None
    with_frame = monitor.report(new, scores, None, flags)
    assert with_frame.drifted_features == ["b"] and with_frame.features[0]["kind"] == "channel"


def test_monitor_checks_its_inputs(satellite) -> None:
    detector = satellite["detector"]
    with pytest.raises(ValueError, match="window"):
        DriftMonitor(detector, window=1)
    with pytest.raises(ValueError, match="alpha"):
        DriftMonitor(detector, alpha=0.0)
    with pytest.raises(ValueError, match="one each per row"):
        DriftMonitor(detector).observe(None, np.zeros(3), None, np.zeros(2))
    with pytest.raises(ValueError, match="missing column"):
        DriftMonitor(detector).observe(pd.DataFrame({"x": [1.0]}), np.zeros(1), None, [0])


# ------------------------------------------------------------------ the CLI
@pytest.fixture(scope="module")
def bundle_and_files(satellite, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("monitor-cli")
    satellite["detector"].save(folder / "bundle")
    held = satellite["held"].copy()
    held.insert(0, "row_id", range(len(held)))  # an id column: ignored
    held.iloc[:1000].to_csv(folder / "same.csv", index=False)
    shifted = held.iloc[1000:2000].copy()
    shifted["band30"] += 1.5 * satellite["train"]["band30"].std()
    shifted.to_csv(folder / "shifted.csv", index=False)
    return {"folder": folder, "bundle": str(folder / "bundle")}


def test_cli_one_window(bundle_and_files, capsys) -> None:
    folder, bundle = bundle_and_files["folder"], bundle_and_files["bundle"]
    out = folder / "features.csv"
    assert main(["monitor", bundle, str(folder / "shifted.csv"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1000 rows as one window" in text and "verdict: DRIFT" in text
    assert "feature_drift: 1 of 36 columns drifted: band30 (PSI" in text
    table = pd.read_csv(out)
    assert len(table) == 36 and table.iloc[0]["column"] == "band30" and table.iloc[0]["drifted"]
    assert main(["monitor", bundle, str(folder / "same.csv")]) == 0  # exit 0 either way
    assert "verdict: no drift, no alerts" in capsys.readouterr().out


def test_cli_windows_and_json(bundle_and_files, capsys) -> None:
    folder, bundle = bundle_and_files["folder"], bundle_and_files["bundle"]
    assert main(["monitor", bundle, str(folder / "shifted.csv"), "--window", "400"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("window 1 rows 1-400: DRIFT")
    assert lines[3].startswith("window 3 rows 801-1000: DRIFT") and "band30 (PSI" in lines[3]
    assert lines[4].startswith("3 of 3 window(s) drifted; ")  # PCA flags the moved rows too
    assert main(["monitor", bundle, str(folder / "same.csv"), "--json", "--window", "500"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert [w["index"] for w in record["windows"]] == [1, 2]
    assert record["windows"][1]["start"] == 500 and not record["windows"][0]["drifted"]


def test_cli_old_bundle_and_errors(bundle_and_files, capsys) -> None:
    folder, bundle = bundle_and_files["folder"], bundle_and_files["bundle"]
    assert main(["monitor", bundle, str(folder / "missing.csv")]) == 2
    assert "data file not found" in capsys.readouterr().err
    assert main(["monitor", bundle, str(folder / "same.csv"), "--window", "1"]) == 2
    assert "--window must be at least 2" in capsys.readouterr().err
    # a bundle written before drift references: its manifest lacks them
    old = folder / "old-bundle"
    old.mkdir()
    for name in ("weights.safetensors", "manifest.json"):
        (old / name).write_bytes((Path(bundle) / name).read_bytes())
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["drift_reference"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert main(["monitor", str(old), str(folder / "shifted.csv")]) == 0
    text = capsys.readouterr().out
    assert "before drift references were kept" in text and "band30 (" in text


def test_an_uncalibrated_detector_gets_the_burst_test_only(satellite) -> None:
    train, held = satellite["train"], satellite["held"]
    detector = deepad.PCA().fit(train, calibration_size=0)
    scores = detector.decision_function(held.iloc[:500])
    report = DriftMonitor(detector).report(
        held.iloc[:500], scores, None, detector.calibrator_.decide(scores)
    )
    assert report.score["p_value"] is None and report.tests == 36 + 1
    assert report.score["expected_share"] == pytest.approx(detector.contamination)
