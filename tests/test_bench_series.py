"""The time-series benchmark runners (``deepad bench nab|ucr|smd|smap|msl|skab``).

Most tests read the real data in ``../shared/data`` and are skipped, with the reason,
when it is absent; the hand-made cases (threshold sweep, UCR rule, HitRate) always run.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepad.bench.series_data import (
    InterpretationRange,
    data_root,
    load_msl,
    load_nab,
    load_skab,
    load_smap,
    load_smd,
    load_ucr,
    parse_interpretation_label,
)
from deepad.bench.series_runners import (
    NAB_PROFILE_NAMES,
    diff_prediction,
    hit_rate,
    make,
    nab_reference_scores,
    optimize_nab_threshold,
    resolve_detectors,
    run_multivariate,
    run_nab,
    run_ucr,
    score_nab_corpus,
    ucr_success,
    write_results,
)
from deepad.cli import main
from deepad.metrics import nab_scores
from deepad.metrics.checks import runs
from deepad.metrics.nab import detections_from_scores, nab_probation_length

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"the shared benchmark data is not at {DATA}")
    return DATA


def quiet(_: str) -> None:
    """An ``echo`` that prints nothing."""


# ---------------------------------------------------------------------- NAB
#: nab/README.md: NAB's official scorer on the 41 files here
README_REFERENCE = {"standard": 45.08, "reward_low_fp": 30.79, "reward_low_fn": 55.79}


def test_nab_reference_baseline_reproduces_the_readme(data: Path) -> None:
    files = load_nab(data)
    assert len(files) == 41
    assert sum(len(f.windows) for f in files) == 64
    corpus = [(nab_reference_scores(f.values), f.windows) for f in files]
    scored = score_nab_corpus(corpus)
    for profile, expected in README_REFERENCE.items():
        result = scored[profile]
        # the README's numbers: normalised as NAB's runner does on part of its corpus
        assert abs(result["score_nab_runner"] - expected) < 0.1, (profile, result)
        # the sweep's best raw score is what deepad.metrics scores at that threshold
        threshold, raw = optimize_nab_threshold(corpus, profile)
        assert threshold == result["threshold"]
        assert raw == pytest.approx(result["raw"], abs=1e-9)
        assert result["perfect"] == pytest.approx(64.0)
    # normalised over these 41 files alone (null and perfect of the same files)
    assert scored["standard"]["score"] == pytest.approx(22.77, abs=0.01)
    assert scored["reward_low_fp"]["score"] == pytest.approx(2.67, abs=0.01)
    assert scored["reward_low_fn"]["score"] == pytest.approx(31.85, abs=0.01)


def test_nab_reference_scores_follow_the_definition() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    x[150:260] = 5.0  # a flat stretch: s == 0 once the past 100 values are all 5
    x[270] = 5.0
    scores = nab_reference_scores(x)
    assert (scores[:50] == 0).all()
    for t in (50, 99, 120, 299):
        past = x[max(t - 100, 0) : t]
        z = abs(x[t] - past.mean()) / past.std()
        assert scores[t] == pytest.approx(z / (1 + z))
    assert scores[255] == 0.0  # flat past, x_t equals it
    x[258] = 6.0
    assert nab_reference_scores(x)[258] == 1.0  # flat past, x_t differs


def _brute_force_best(corpus: list, profile: str) -> float:
    """Best raw NAB score over a fine grid of thresholds, each scored by nab_scores."""
    best = -np.inf
    for threshold in [*np.linspace(0.0, 1.0, 1001), 1.1]:
        items = [(detections_from_scores(s, threshold), w, len(s)) for s, w in corpus]
        best = max(best, nab_scores(items, profile).raw)
    return best


def test_nab_threshold_optimisation_picks_the_best_threshold() -> None:
    n = 200  # probation: the first 30 steps
    a = np.zeros(n)
    a[[60, 61, 62]] = 0.9  # early in the window 60..79: a true positive
    a[[120, 150, 180]] = 0.8  # false positives
    a[10] = 1.0  # inside probation: ignored
    b = np.zeros(n)
    b[[40, 100]] = 0.7  # a false positive, then a true positive late in 90..109
    b[170] = 0.75
    corpus = [(a, [(60, 79)]), (b, [(90, 109)])]
    for profile in NAB_PROFILE_NAMES:
        threshold, raw = optimize_nab_threshold(corpus, profile)
        assert raw == pytest.approx(_brute_force_best(corpus, profile), abs=1e-12)
        items = [(detections_from_scores(s, threshold), w, len(s)) for s, w in corpus]
        assert nab_scores(items, profile).raw == pytest.approx(raw, abs=1e-12)
    # standard, by hand: 0.9 -> TP 1.0 at the start of a, b missed (-1): 0.0; 0.8 adds
    # three FPs (-0.33); 0.75 one more (-0.44); 0.7 -> a TP halfway into b (+0.86 instead
    # of -1) and an FP before any window: 1.0 + 0.86 - 5 x 0.11 = 1.31; 0 -> every step
    threshold, raw = optimize_nab_threshold(corpus, "standard")
    assert threshold == 0.7 and raw == pytest.approx(1.31, abs=0.01)
    # a later detection in a window adds nothing: 0.9 and 0.6 tie, the higher one wins
    c = np.zeros(n)
    c[[60, 70]] = [0.9, 0.6]
    assert optimize_nab_threshold([(c, [(60, 79)])], "standard")[0] == 0.9
    # with no window at all, the best is never to fire (a threshold above every score)
    threshold, raw = optimize_nab_threshold([(a, [])], "standard")
    assert threshold > 1.0 and raw == 0.0


def test_nab_results_layout(data: Path, tmp_path: Path) -> None:
    names = ["art_daily_jumpsup", "exchange-2_cpc_results", "speed_7578"]
    files = load_nab(data, only=names)
    result = run_nab(files, ["RollingZScore"], [0], ["ref.zscore"], tmp_path, make, quiet)
    assert {r["status"] for r in result.rows} == {"ok"}
    assert [s["detector"] for s in result.summary] == ["RollingZScore", "ref.zscore"]
    for entry in result.summary:
        for profile in NAB_PROFILE_NAMES:
            assert -100.0 <= entry[profile] <= 100.0
            assert np.isfinite(entry[f"threshold_{profile}"])
        assert entry["us_per_point"] > 0
    for file in files:
        for detector in ("RollingZScore", "ref.zscore"):
            path = tmp_path / "nab_results" / detector / file.category
            path = path / f"{detector}_{Path(file.name).name}"
            frame = pd.read_csv(path)
            assert list(frame.columns) == ["timestamp", "value", "anomaly_score", "label"]
            assert len(frame) == len(file.values)
            assert frame["anomaly_score"].between(0.0, 1.0).all()
            assert set(frame["label"].unique()) <= {0, 1}
            assert runs(frame["label"].to_numpy().astype(bool)) == file.windows
            assert (pd.to_datetime(frame["timestamp"]) == file.timestamps).all()
            if detector == "RollingZScore":
                probation = nab_probation_length(len(file.values))
                assert (frame["anomaly_score"].to_numpy()[:probation] == 0).all()
    summary = write_results(tmp_path, result)
    assert "reward_low_FP" in summary.read_text()
    json.loads((tmp_path / "results.json").read_text(), parse_constant=_no_nan)


def _no_nan(token: str) -> None:
    raise AssertionError(f"results.json holds {token}")


def test_nab_windows_are_inclusive_row_ranges(data: Path) -> None:
    (file,) = load_nab(data, only=["speed_6005"])
    raw = json.loads((data / "nab/labels/combined_windows.json").read_text())[file.name]
    ((start, end),) = file.windows
    assert file.timestamps[start] == pd.Timestamp(raw[0][0])
    assert file.timestamps[end] == pd.Timestamp(raw[0][1])


# ---------------------------------------------------------------------- UCR
def test_ucr_success_rule() -> None:
    assert ucr_success(500, 500, 520)
    assert ucr_success(400, 500, 520)  # exactly 100 before the range
    assert ucr_success(620, 500, 520)  # exactly 100 after it
    assert not ucr_success(399, 500, 520)
    assert not ucr_success(621, 500, 520)
    x = np.sin(np.arange(1000) / 5.0)
    x[700] += 3.0
    assert diff_prediction(x, 500) in (700, 701)
    assert diff_prediction(x, 800) >= 800  # only test steps count


def test_ucr_loader_on_two_real_series(data: Path) -> None:
    series = load_ucr(data, only=["s005", "s053"])
    assert [s.key for s in series] == ["s005", "s053"]
    meta = pd.read_csv(data / "ucr_anomaly_archive/ucr_metadata.csv").set_index("key")
    for s in series:
        row = meta.loc[s.key]
        assert len(s.values) == row["length"] and s.values.dtype == np.float64
        assert s.train_end == row["train_end_kdd"]
        assert (s.anom_start, s.anom_end) == (row["anom_start"] - 1, row["anom_end"] - 1)
        assert s.train_end <= s.anom_start <= s.anom_end < len(s.values)
    assert len(load_ucr(data)) == 115  # the unlabelled rows are skipped
    result = run_ucr(series, ["RollingZScore"], [0], ["ref.diff"], make, quiet)
    assert len(result.rows) == 4 and {r["status"] for r in result.rows} == {"ok"}
    by = {(r["series"], r["detector"]): r for r in result.rows}
    assert by["s005", "ref.diff"]["success"]  # the injected jump is the largest step
    train_end = {s.key: s.train_end for s in series}
    assert all(train_end[r["series"]] <= r["prediction"] for r in result.rows)
    assert {s["detector"] for s in result.summary} == {"RollingZScore", "ref.diff"}


# ---------------------------------------------------------------- SMD & co
def test_interpretation_label_parsing() -> None:
    text = "15415-15418:18\n4629-4688:9,10,11,13,15,18\n\n"
    ranges = parse_interpretation_label(text)
    assert ranges == [
        InterpretationRange(4629, 4687, [9, 10, 11, 13, 15, 18]),
        InterpretationRange(15415, 15417, [18]),
    ]
    with pytest.raises(ValueError, match="line 1"):
        parse_interpretation_label("4629:9")


def test_smd_loader_on_one_machine(data: Path) -> None:
    (machine,) = load_smd(data, only=["machine-1-2"])
    assert machine.train.shape == machine.test.shape == (23694, 38)
    assert machine.labels.shape == (23694,) and set(np.unique(machine.labels)) == {0, 1}
    ranges = machine.interpretation
    assert ranges is not None and len(ranges) == 10
    # the "start-end" lines are half-open: they coincide with the runs of test_label
    assert [(r.start, r.end) for r in ranges] == runs(machine.labels.astype(bool))
    assert all(1 <= d <= 38 for r in ranges for d in r.metrics)
    assert ranges[0].metrics == [9, 10, 11, 13, 15, 18]
    assert all(a.start < b.start for a, b in pairwise(ranges))
    assert len(load_smd(data)) == 12


def test_smd_runner_on_a_truncated_machine(data: Path, tmp_path: Path) -> None:
    (machine,) = load_smd(data, only=["machine-1-6"])
    short = machine.truncated(2000)
    assert short.test.shape == (2000, 38) and short.labels.sum() > 0
    assert all(r.end < 2000 for r in short.interpretation)
    peers = ["sklearn.PCA", "sklearn.IForest"]
    result = run_multivariate("smd", [short], ["RollingZScore"], [0], peers, make, quiet)
    rows = {r["detector"]: r for r in result.rows}
    assert set(rows) == {"RollingZScore", *peers}
    for row in rows.values():
        assert row["status"] == "ok", row["error"]
        for metric in ("auroc", "auprc", "vus_pr", "best_f1", "pa_f1"):
            assert 0.0 <= row[metric] <= 1.0
        assert row["pa_f1"] >= row["best_f1"]
    assert 0.0 <= rows["RollingZScore"]["hit_rate"] <= 1.0
    assert rows["RollingZScore"]["hit_rate_from"].startswith("explain(concat(train, test))")
    assert 0.0 <= rows["sklearn.PCA"]["hit_rate"] <= 1.0
    assert np.isnan(rows["sklearn.IForest"]["hit_rate"])
    text = write_results(tmp_path, result).read_text()
    assert "PA-F1 (point-adjusted)" in text and "HitRate@150%" in text
    frame = pd.read_csv(tmp_path / "per_file.csv")
    assert len(frame) == 3 and set(frame["entity"]) == {"machine-1-6"}


def test_skab_reuses_one_fit_of_the_anomaly_free_run(data: Path) -> None:
    experiments = load_skab(data, limit=2)
    assert [e.name for e in experiments] == ["valve1/0", "valve1/1"]
    assert experiments[0].train is experiments[1].train  # the anomaly-free run, shared
    assert experiments[0].test.shape[1] == 8
    both = run_multivariate("skab", experiments, ["RollingZScore"], [0], [], make, quiet)
    alone = run_multivariate("skab", experiments[1:], ["RollingZScore"], [0], [], make, quiet)
    second = both.rows[1]
    assert second["entity"] == "valve1/1" and second["fit_seconds"] == 0.0  # fitted once
    # each experiment continues from the end of training, not from the one before it
    assert second["auroc"] == alone.rows[0]["auroc"]
    assert second["vus_pr"] == alone.rows[0]["vus_pr"]


def test_nasa_loaders(data: Path) -> None:
    (channel,) = load_msl(data, only=["M-6"])
    assert channel.train.shape[1] == channel.test.shape[1] == 55
    assert len(channel.labels) == len(channel.test) and channel.labels.max() == 1
    assert len(load_smap(data, limit=3)) == 3


def test_hit_rate_on_a_hand_made_case() -> None:
    contributions = np.zeros((10, 5))
    contributions[0:3, 0] = 5.0  # range 1: channel 1 (1-based) leads ...
    contributions[0:3, 3] = 4.0  # ... then channel 4, then channel 2
    contributions[0:3, 1] = 1.0
    contributions[5:8, 2] = 2.0  # range 2: channel 3 leads, channel 5 is second
    contributions[5:8, 4] = 1.0
    ranges = [
        InterpretationRange(0, 2, [1, 2]),  # top floor(3) = {1, 4, 2}: both hit -> 1
        InterpretationRange(5, 7, [5, 2]),  # top 3 = {3, 5, one of the zeros}: 5 hits
    ]
    # range 2's ties (channels 1, 2, 4 at 0) go to the lowest index: channel 1, so 2 misses
    assert hit_rate(contributions, ranges) == pytest.approx((1.0 + 0.5) / 2)
    # one labelled metric: only the top floor(1.5) = 1 channel counts, and channel 1 leads
    assert hit_rate(contributions, [InterpretationRange(0, 2, [4])]) == 0.0
    assert hit_rate(contributions, [InterpretationRange(0, 2, [1])]) == 1.0
    assert np.isnan(hit_rate(contributions, []))


# ---------------------------------------------------------------------- CLI
def test_cli_unknown_detector_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "nab", "--detectors", "NoSuchDetector"]) == 2
    err = capsys.readouterr().err
    assert "unknown series detector" in err and "NoSuchDetector" in err
    assert "Traceback" not in err


def test_cli_missing_data_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for suite in ("nab", "ucr", "smd", "smap", "msl", "skab"):
        code = main(["bench", suite, "--data-root", str(tmp_path), "--out", str(tmp_path / "o")])
        assert code == 2
        err = capsys.readouterr().err
        assert "data not found" in err and "--data-root" in err and "Traceback" not in err


def test_detectors_resolve_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepad.models import SERIES_DETECTORS

    assert resolve_detectors(None) == list(SERIES_DETECTORS)
    assert resolve_detectors(["rollingzscore"]) == ["RollingZScore"]
    assert resolve_detectors(["none"]) == []
    assert make("LSTMForecaster", 7).random_state == 7
    monkeypatch.setenv("DEEPAD_DATA", "/somewhere")
    assert data_root(None) == Path("/somewhere")
    assert data_root("elsewhere") == Path("elsewhere")
