"""Stress tests (deepad.robustness.stress, ``deepad stress``) on real rows (ADBench Cardio)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import load_cardio

import deepad
from deepad.cli import main
from deepad.robustness import stress_test


@pytest.fixture(scope="module")
def cardio_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    X, y = load_cardio()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    normal = frame[y == 0].sample(frac=1.0, random_state=0)
    test = pd.concat([normal.iloc[1000:1300], frame[y == 1].iloc[:60]], ignore_index=True)
    return normal.iloc[:1000].reset_index(drop=True), test


@pytest.fixture(scope="module")
def fitted(cardio_frames):
    train, _ = cardio_frames
    return {
        "IsolationForest": deepad.IsolationForest(random_state=0).fit(train),
        "AutoEncoder": deepad.AutoEncoder(random_state=0, epochs=20).fit(train),
    }


@pytest.mark.parametrize("name", ["IsolationForest", "AutoEncoder"])
def test_small_noise_moves_little_and_larger_noise_more(fitted, cardio_frames, name):
    _, test = cardio_frames
    report = stress_test(fitted[name], test)
    noise = [r for r in report.results if r.perturbation == "noise"]
    assert [r.detail for r in noise] == ["0.01 x spread", "0.1 x spread", "0.5 x spread"]
    assert noise[0].rank_correlation > 0.99 and noise[0].flipped < 0.02
    assert noise[0].flipped < noise[2].flipped  # the movement grows with the noise
    assert noise[0].median_change_iqr < noise[2].median_change_iqr
    assert report.noise_ok
    assert report.duplicates_identical


def test_per_column_perturbations_name_the_worst_column(fitted, cardio_frames):
    _, test = cardio_frames
    report = stress_test(fitted["AutoEncoder"], test)
    by_kind = {r.perturbation: r for r in report.results}
    missing, unit = by_kind["missing feature"], by_kind["unit change x1000"]
    assert missing.column in test.columns and "worst of 21 columns" in missing.detail
    assert unit.column in test.columns
    assert unit.flagged_after > unit.flagged_before  # a unit slip is noticed, not absorbed
    frame = report.to_frame()
    assert list(frame["perturbation"]) == [r.perturbation for r in report.results]
    json.dumps(report.to_dict())  # NaN-free, JSON-ready


def test_noise_that_flips_wholesale_is_reported(cardio_frames):
    """A detector whose decisions hang on exact values: a 1-NN whose threshold is just
    above 0 flags every training row it holds as soon as the rows move at all."""
    train, _ = cardio_frames
    detector = deepad.KNN(n_neighbors=1).fit(train)
    detector.set_threshold(score=1e-12)
    report = stress_test(detector, train.iloc[:300])  # most at distance 0 from themselves
    assert report.results[0].flagged_after > 0.95
    assert report.results[0].flipped > 0.5
    assert not report.noise_ok


def test_bad_arguments_are_refused_by_name(fitted, cardio_frames):
    _, test = cardio_frames
    with pytest.raises(ValueError, match="noise levels"):
        stress_test(fitted["IsolationForest"], test, noise_levels=(0.0,))
    with pytest.raises(ValueError, match="unit_factor"):
        stress_test(fitted["IsolationForest"], test, unit_factor=1.0)
    with pytest.raises(ValueError, match="at least 2 rows"):
        stress_test(fitted["IsolationForest"], test.iloc[:1])
    with pytest.raises(ValueError, match="f3"):
        stress_test(fitted["IsolationForest"], test.drop(columns="f3"))


def test_the_command_prints_writes_and_refuses(tmp_path, fitted, cardio_frames, capsys):
    _, test = cardio_frames
    bundle = fitted["IsolationForest"].save(tmp_path / "bundle")
    data = tmp_path / "rows.csv"
    test.to_csv(data, index=False)
    out = tmp_path / "stress.csv"
    assert main(["stress", str(bundle), str(data), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "noise up to a tenth of the data's spread: ok" in text
    assert "every copy scores as its original" in text
    assert len(pd.read_csv(out)) == 6
    assert main(["stress", str(bundle), str(data), "--json", "--noise", "0.2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == len(test) and report["results"][0]["detail"] == "0.2 x spread"
    assert main(["stress", str(bundle), str(data), "--unit-factor", "1"]) == 2
    assert "unit_factor must be positive and not 1" in capsys.readouterr().err
    assert np.isfinite(fitted["IsolationForest"].decision_function(test)).all()
