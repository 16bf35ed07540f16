"""Evasion curves (deepad.robustness.evasion, ``deepad robustness``) on ADBench Cardio."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import load_cardio

import deepad
from deepad.cli import main
from deepad.robustness import evasion_curve
from deepad.robustness.evasion import _mutable_mask, _pgd, _scores, _search


@pytest.fixture(scope="module")
def cardio():
    X, y = load_cardio()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    order = np.random.default_rng(0).permutation(len(frame))
    frame, y = frame.iloc[order].reset_index(drop=True), y[order]
    train = frame[y == 0].iloc[:900]
    test = frame.iloc[np.r_[np.flatnonzero(y == 0)[900:1100], np.flatnonzero(y == 1)[:60]]]
    labels = np.r_[np.zeros(200), np.ones(60)].astype(int)
    return train, test.reset_index(drop=True), labels


@pytest.fixture(scope="module")
def detectors(cardio):
    train, _, _ = cardio
    return {
        "AutoEncoder": deepad.AutoEncoder(random_state=0, epochs=20).fit(train),
        "DeepSVDD": deepad.DeepSVDD(random_state=0, epochs=20).fit(train),
        "IsolationForest": deepad.IsolationForest(random_state=0).fit(train),
    }


@pytest.mark.parametrize("name", ["AutoEncoder", "DeepSVDD", "IsolationForest"])
def test_the_curve_starts_at_the_clean_rate_and_falls_with_the_budget(detectors, cardio, name):
    _, test, labels = cardio
    detector = detectors[name]
    report = evasion_curve(detector, test, labels, rounds=60, steps=20)
    clean = detector.predict(test.iloc[labels == 1]).mean()
    assert report.anomalies == 60 and report.points[0].budget == 0.0
    assert report.points[0].detected == pytest.approx(clean)
    detected = [p.detected for p in report.points]
    assert detected == sorted(detected, reverse=True)  # never higher with a larger budget
    assert detected[-1] < detected[0]  # half a spread in every column evades some
    expected = "gradient + search" if name != "IsolationForest" else "search"
    assert {p.attack for p in report.points[1:]} == {expected}
    json.dumps(report.to_dict())


@pytest.mark.parametrize("attack", ["search", "pgd"])
def test_attacks_stay_in_the_box_and_off_the_immutable_cells(detectors, cardio, attack):
    _, test, labels = cardio
    detector = detectors["AutoEncoder"]
    rows = test.iloc[labels == 1].reset_index(drop=True).copy()
    rows.loc[0, "f2"] = np.nan  # a missing cell must stay missing
    _, mask = _mutable_mask(detector.preprocessor_, rows, ["f1", "f2"])
    encoded = detector.preprocessor_.transform(rows).astype(np.float64)
    clean = _scores(detector, encoded)
    rng = np.random.default_rng(0)
    if attack == "search":
        best, delta = _search(detector, encoded, mask, 0.25, clean, 40, rng)
    else:
        best, delta = _pgd(detector, encoded, mask, 0.25, 20, 1, rng)
    assert np.abs(delta).max() <= 0.25 + 1e-6
    assert np.all(delta[mask == 0] == 0)
    assert delta[0, 2] == 0  # row 0's f2 was missing
    assert np.all(best <= clean + 1e-5)
    np.testing.assert_allclose(_scores(detector, encoded + delta), best, rtol=1e-4, atol=1e-6)


def test_the_gradient_attack_finds_more_than_the_search_alone_on_deepsvdd(detectors, cardio):
    _, test, labels = cardio
    detector = detectors["DeepSVDD"]
    rows = test.iloc[labels == 1].reset_index(drop=True)
    _, mask = _mutable_mask(detector.preprocessor_, rows, None)
    encoded = detector.preprocessor_.transform(rows).astype(np.float64)
    rng = np.random.default_rng(0)
    pgd, _ = _pgd(detector, encoded, mask, 0.1, 20, 0, rng)
    search, _ = _search(detector, encoded, mask, 0.1, _scores(detector, encoded), 20, rng)
    assert np.median(pgd) < np.median(search)


def test_bad_requests_are_refused_by_name(detectors, cardio):
    _, test, labels = cardio
    detector = detectors["IsolationForest"]
    with pytest.raises(ValueError, match="nothing to attack"):
        evasion_curve(detector, test, np.zeros(len(test), dtype=int))
    with pytest.raises(ValueError, match="labels must be 0"):
        evasion_curve(detector, test, np.full(len(test), 2))
    with pytest.raises(ValueError, match="260 rows"):
        evasion_curve(detector, test, labels[:10])
    with pytest.raises(ValueError, match=r"\['nope'\] are not columns"):
        evasion_curve(detector, test, labels, mutable=["nope"])
    with pytest.raises(ValueError, match="budgets must be positive"):
        evasion_curve(detector, test, labels, budgets=(0.0,))
    mixed = pd.DataFrame({"amount": np.arange(60.0), "kind": ["a", "b"] * 30})
    categorical = deepad.IsolationForest(random_state=0).fit(mixed)
    with pytest.raises(ValueError, match=r"\['kind'\] are categorical"):
        evasion_curve(categorical, mixed, np.r_[np.zeros(50), np.ones(10)], mutable=["kind"])


def test_the_command_reports_the_curve(tmp_path, detectors, cardio, capsys):
    _, test, labels = cardio
    bundle = detectors["AutoEncoder"].save(tmp_path / "bundle")
    data = tmp_path / "rows.csv"
    test.assign(label=labels).to_csv(data, index=False)
    out = tmp_path / "curve.csv"
    command = ["robustness", str(bundle), str(data), "--label-column", "label", "--rounds", "20"]
    assert main([*command, "--budgets", "0.1", "0.5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "evasion of 60 labelled anomalies" in text and "gradient + search" in text
    assert list(pd.read_csv(out)["budget"]) == [0.0, 0.1, 0.5]
    assert main([*command, "--json", "--mutable", "f0"]) == 0
    assert json.loads(capsys.readouterr().out)["mutable"] == ["f0"]
    assert main(["robustness", str(bundle), str(data), "--label-column", "nope"]) == 2
    assert "--label-column names column(s) ['nope']" in capsys.readouterr().err
