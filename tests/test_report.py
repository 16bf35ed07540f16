"""The HTML report: its sections on real data, its size, and the command line."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import load_cardio

import deepad
from deepad.cli import main
from deepad.report import build_report, write_report


def cardio_report() -> tuple[str, pd.DataFrame, np.ndarray]:
    """A report of an AutoEncoder fitted on cardio's normal rows, scoring every row."""
    X, y = load_cardio()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    det = deepad.AutoEncoder(epochs=20, random_state=0).fit(frame[y == 0])
    return build_report(det, frame, labels=y, source="ADBench cardio"), frame, y


@pytest.fixture(scope="module")
def report() -> str:
    return cardio_report()[0]


def test_report_has_every_section_and_is_self_contained(report):
    for section in ("summary", "score-distribution", "roc-pr", "top-anomalies", "drift"):
        assert f"id='{section}'" in report
    images = re.findall(
        r"<img class='plot' alt='[^']*' src='data:image/png;base64,([^']+)'", report
    )
    assert len(images) == 3 and all(len(data) > 10_000 for data in images)
    assert not re.search(r"(src|href)=['\"]?https?:", report)  # nothing fetched from a network
    assert "AUROC / AUPRC" in report
    assert report.count("class='bar'") == 3 * 20  # 20 rows x 3 explained columns


def test_report_without_labels_leaves_out_the_curves():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "c": rng.choice(["x", "y"], 300)})
    text = build_report(deepad.ECOD().fit(frame), frame, top=5)
    assert "id='roc-pr'" not in text and "id='score-distribution'" in text
    assert text.count("<tr><td class='num'>") == 5


def test_report_for_100k_rows_stays_small(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(100_000, 8)), columns=[f"m{i}" for i in range(8)])
    labels = (rng.random(100_000) < 0.01).astype(int)
    frame.loc[labels == 1, "m3"] += 6.0
    path = write_report(
        build_report(deepad.PCA().fit(frame.iloc[:20_000]), frame, labels=labels),
        tmp_path / "big.html",
    )
    assert path.stat().st_size < 5_000_000


def test_bad_report_input_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=100)})
    det = deepad.ECOD().fit(frame)
    with pytest.raises(ValueError, match="differ in length"):
        build_report(det, frame, labels=np.zeros(5))
    with pytest.raises(ValueError, match="top must be a positive int"):
        build_report(det, frame, top=0)
    bundle = det.save(tmp_path / "bundle")
    with pytest.raises(ValueError, match="is a model bundle"):
        write_report("<html></html>", bundle / "report.html")


def test_report_command(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": range(400), "amount": rng.lognormal(3, 0.5, 400)})
    frame["fraud"] = 0
    frame.loc[:9, "amount"] *= 30
    frame.loc[:9, "fraud"] = 1
    data = tmp_path / "tx.csv"
    frame.to_csv(data, index=False)
    bundle = tmp_path / "model"
    fit = ["fit", str(data), "--model", "ECOD", "--exclude", "id", "--exclude", "fraud",
           "--out", str(bundle)]  # fmt: skip
    assert main(fit) == 0
    out = tmp_path / "report.html"
    args = ["report", str(bundle), str(data), "--label-column", "fraud", "--top", "5"]
    assert main([*args, "--out", str(out)]) == 0
    assert "report on 400 rows written to" in capsys.readouterr().out
    text = out.read_text()
    assert "id='roc-pr'" in text
    assert "<th>id</th>" in text  # the excluded id column names the rows
    assert main([*args, "--top", "0", "--out", str(out)]) == 2
    assert "--top must be at least 1" in capsys.readouterr().err


def test_drift_panel_flags_the_column_that_moved():
    from deepad.monitor import feature_drift

    rng = np.random.default_rng(0)
    n = 2000
    train = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.choice(["x", "y", "z"], n, p=[0.6, 0.3, 0.1]),
        }
    )
    det = deepad.ECOD().fit(train)
    same = feature_drift(det.preprocessor_, train.sample(1000, random_state=1))
    assert not same["drifted"].any()
    moved = train.sample(1000, random_state=2).copy()
    moved["b"] += 1.5  # about 45% of values now above the training 95th percentile
    moved["c"] = rng.choice(["x", "w"], 1000)  # an unseen category
    drift = feature_drift(det.preprocessor_, moved).set_index("column")
    assert drift.loc["b", "drifted"] and drift.loc["c", "drifted"]
    assert not drift.loc["a", "drifted"]
    assert drift.loc["b", "value"] > 0.3
    assert drift.loc["b", "mean_shift"] == pytest.approx(1.5, abs=0.15)
    text = build_report(det, moved, top=3)
    assert "2 of 3 columns drifted" in text
    with pytest.raises(ValueError, match="alpha"):
        feature_drift(det.preprocessor_, moved, alpha=0)
