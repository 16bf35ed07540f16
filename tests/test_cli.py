"""The ``deepad`` command line end to end, in a temporary directory."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepad.calibrate.split import calibration_split
from deepad.cli import main


@pytest.fixture
def transactions(tmp_path: Path) -> Path:
    """A CSV with an id, numeric, categorical and label column, gaps included."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "tx_id": [f"tx{i:04d}" for i in range(n)],
            "amount": rng.lognormal(3.0, 0.4, n),
            "hour": rng.integers(8, 20, n),
            "country": rng.choice(["DE", "FR", "NL"], n),
            "label": 0,
        }
    )
    frame.loc[:4, "amount"] *= 40  # five obvious frauds
    frame.loc[:4, "label"] = 1
    frame.loc[10, "country"] = None
    frame.loc[11, "amount"] = np.nan
    path = tmp_path / "transactions.csv"
    frame.to_csv(path, index=False)
    return path


def test_fit_score_info_round_trip(transactions: Path, tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "model"
    status = main(
        [
            "fit", str(transactions), "--model", "AutoEncoder",
            "--param", "epochs=15", "--param", "random_state=0",
            "--label-column", "label", "--exclude", "tx_id", "--out", str(bundle),
        ]
    )  # fmt: skip
    assert status == 0
    fit_output = capsys.readouterr().out
    assert "fitted AutoEncoder on 300 rows x 3 columns" in fit_output
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["detector"]["params"]["epochs"] == 15
    assert [c["name"] for c in manifest["input_schema"]["columns"]] == ["amount", "hour", "country"]
    assert manifest["metrics"]["training_auroc"] > 0.9
    assert manifest["lineage"]["id_columns"] == ["tx_id"]

    scores_path = tmp_path / "out" / "scores.csv"
    assert main(["score", str(bundle), str(transactions), "--out", str(scores_path)]) == 0
    scores = pd.read_csv(scores_path)
    assert list(scores.columns) == ["tx_id", "score", "p_value", "label"]
    assert len(scores) == 300
    assert scores["label"].isin([0, 1]).all()
    # the default rule: flag p-value <= contamination (0.1)
    np.testing.assert_array_equal(scores["label"], (scores["p_value"] <= 0.1).astype(int))
    assert manifest["threshold"]["rule"] == "fpr"
    # 60 rows (a fifth) were held out; the labelled frauds among them do not calibrate
    _, held_out = calibration_split(300, None, "auto", seed=0)
    frauds_held_out = int(np.isin(held_out, range(5)).sum())
    assert manifest["threshold"]["calibration_rows"] == 60 - frauds_held_out
    # the five planted frauds are the five highest scores
    assert set(scores.nlargest(5, "score")["tx_id"]) == {f"tx{i:04d}" for i in range(5)}

    assert main(["info", str(bundle)]) == 0
    info = capsys.readouterr().out
    assert "AutoEncoder" in info and "country" in info and "categorical" in info
    assert main(["info", str(bundle), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format_version"] == 2


def test_score_writes_row_numbers_and_parquet(transactions: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "ecod"
    data = pd.read_csv(transactions).drop(columns=["tx_id", "label"])
    data_path = tmp_path / "plain.parquet"
    data.to_parquet(data_path)
    assert main(["fit", str(data_path), "--model", "ecod", "--out", str(bundle)]) == 0
    out = tmp_path / "scores.parquet"
    assert main(["score", str(bundle), str(data_path), "--out", str(out)]) == 0
    scores = pd.read_parquet(out)
    assert list(scores.columns) == ["row", "score", "p_value", "label"]
    assert scores["row"].tolist() == list(range(len(data)))


def test_models_lists_every_detector(capsys) -> None:
    import deepad

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(deepad.DETECTORS)
    kinds = {line.split()[0]: line.split()[1] for line in lines}
    assert kinds["LSTMForecaster"] == "series" and kinds["AutoEncoder"] == "table"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "Nope"], "unknown detector 'Nope'"),
        (["--model", "KNN", "--param", "k=3"], r"KNN has no parameter\(s\) \['k'\]"),
        (["--model", "KNN", "--param", "novalue"], "expects key=value"),
        (["--model", "KNN", "--label-column", "missing"], r"\['missing'\] not in the data"),
        (["--model", "KNN", "--param", "contamination=0.9"], "contamination must be in"),
    ],
)
def test_fit_errors_are_one_clear_line(
    transactions: Path, tmp_path: Path, capsys, args: list[str], message: str
) -> None:
    status = main(["fit", str(transactions), "--out", str(tmp_path / "m"), *args])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("deepad: error: ")
    assert "Traceback" not in err
    assert re.search(message, err)


def test_score_refuses_missing_file_and_bad_bundle(tmp_path: Path, capsys) -> None:
    assert main(["score", str(tmp_path), "nothere.csv", "--out", "x.csv"]) == 2
    assert "not a deepad bundle" in capsys.readouterr().err


def test_label_column_must_be_binary(transactions: Path, tmp_path: Path, capsys) -> None:
    status = main(
        ["fit", str(transactions), "--model", "ECOD", "--label-column", "hour",
         "--exclude", "tx_id", "--out", str(tmp_path / "m")]
    )  # fmt: skip
    assert status == 2
    assert "must hold only 0 (normal) and 1 (anomaly)" in capsys.readouterr().err


def test_every_command_has_help(capsys) -> None:
    for command in ["fit", "score", "explain", "report", "info", "models", "demo"]:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: deepad" in capsys.readouterr().out


def test_demo_runs_and_reports(tmp_path: Path, capsys) -> None:
    """The demo trains, reports AUROC against the labels, and writes a loadable bundle."""
    import deepad
    from deepad.demo import run_demo

    result = run_demo(tmp_path / "demo", log=lambda line: None)
    assert result.n_test_anomalies == 6
    assert result.auroc["AutoEncoder"] > 0.75
    assert len(result.top_rows) == 5
    assert result.top_rows["score"].is_monotonic_decreasing
    # residuals: "area error = 138 (expected 93.6; typical 10.1-40); ..."
    assert result.top_rows["why"].str.contains(r" = .* \(expected .*; typical .*\); ").all()
    loaded = deepad.load(result.bundle)
    assert loaded.metrics_["test_auroc"] == pytest.approx(result.auroc["AutoEncoder"])
    report = result.report.read_text()
    assert result.report.parent == result.bundle.parent  # beside the bundle, not inside it
    assert "id='roc-pr'" in report and "<th>sample_id</th>" in report


def test_semi_supervised_detectors_learn_from_the_label_column(tmp_path: Path, capsys) -> None:
    """DevNet needs labels: the label column feeds fit, with empty cells as unknown."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    frame.loc[:9, ["a", "b"]] += 6.0
    frame["label"] = np.nan  # unknown for most rows
    frame.loc[:4, "label"] = 1
    frame.loc[200:, "label"] = 0
    path = tmp_path / "labelled.csv"
    frame.to_csv(path, index=False)
    common = ["--label-column", "label", "--param", "epochs=5", "--param", "random_state=0"]
    bundle = tmp_path / "devnet"
    assert main(["fit", str(path), "--model", "DevNet", *common, "--out", str(bundle)]) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["metrics"]["training_auroc"] > 0.9  # over the 105 labelled rows
    # an unsupervised detector only records metrics and refuses unknown labels
    assert (
        main(["fit", str(path), "--model", "AutoEncoder", *common, "--out", str(tmp_path / "ae")])
        == 2
    )
    assert "must hold only 0 (normal) and 1 (anomaly)" in capsys.readouterr().err


def test_fit_and_score_with_fpr_and_fdr(transactions: Path, tmp_path: Path, capsys) -> None:
    """--fpr at fit time is saved in the bundle; --fdr at score time overrides it per file."""
    bundle = tmp_path / "knn"
    common = ["--model", "KNN", "--exclude", "tx_id", "--label-column", "label"]
    assert main(["fit", str(transactions), *common, "--fpr", "0.05", "--out", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "threshold" in out and "fpr alpha=0.05" in out
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert (manifest["threshold"]["rule"], manifest["threshold"]["level"]) == ("fpr", 0.05)

    by_fpr, by_fdr = tmp_path / "fpr.csv", tmp_path / "fdr.csv"
    assert main(["score", str(bundle), str(transactions), "--out", str(by_fpr)]) == 0
    assert "fpr alpha=0.05" in capsys.readouterr().out
    scored = pd.read_csv(by_fpr)
    np.testing.assert_array_equal(scored["label"], (scored["p_value"] <= 0.05).astype(int))
    assert scored.loc[:4, "label"].all()  # the five frauds

    args = ["score", str(bundle), str(transactions), "--fdr", "0.1", "--out", str(by_fdr)]
    assert main(args) == 0
    assert "fdr q=0.1" in capsys.readouterr().out
    scored = pd.read_csv(by_fdr)
    from deepad.calibrate import benjamini_hochberg

    expected = benjamini_hochberg(scored["p_value"].to_numpy(), 0.1)
    np.testing.assert_array_equal(scored["label"], expected.astype(int))

    assert main(["info", str(bundle)]) == 0
    assert "fpr 0.05" in capsys.readouterr().out

    strict = tmp_path / "strict"
    args = ["fit", str(transactions), *common, "--fpr", "0.05", "--confidence", "0.9"]
    assert main([*args, "--calibration-size", "0.5", "--out", str(strict)]) == 0
    assert "at 90% confidence" in capsys.readouterr().out
    assert json.loads((strict / "manifest.json").read_text())["threshold"]["confidence"] == 0.9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fpr", "0"], "expected a number in \\(0, 1\\)"),
        (["--fpr", "abc"], "expected a number in \\(0, 1\\)"),
        (["--calibration-size", "most"], "calibration-size takes 'auto'"),
        (["--calibration-size", "0", "--fpr", "0.05"], "need calibration scores"),
        (["--calibration-size", "299"], "leaving at least 2"),
        (["--confidence", "0.9"], "--confidence goes with --fpr"),
    ],
)
def test_threshold_option_errors(transactions: Path, tmp_path: Path, capsys, args, message):
    # argparse rejects a bad rate itself (exit 2); the rest reach deepad's own errors
    with pytest.raises(SystemExit) if "expected" in message else contextlib.nullcontext():
        status = main(["fit", str(transactions), "--model", "KNN", "--exclude", "tx_id",
                       "--out", str(tmp_path / "m"), *args])  # fmt: skip
        assert status == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err


def test_fpr_and_fdr_are_mutually_exclusive(transactions: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["fit", str(transactions), "--fpr", "0.1", "--fdr", "0.1", "--out", str(tmp_path)])
    assert "not allowed with argument" in capsys.readouterr().err


def test_explain_writes_top_contributors_per_row(
    transactions: Path, tmp_path: Path, capsys
) -> None:
    bundle = tmp_path / "model"
    fit = ["fit", str(transactions), "--model", "ECOD", "--exclude", "tx_id",
           "--exclude", "label", "--out", str(bundle)]  # fmt: skip
    assert main(fit) == 0
    out = tmp_path / "explained.csv"
    assert main(["explain", str(bundle), str(transactions), "--top", "2", "--out", str(out)]) == 0
    assert "explained 300 rows by tails (top 2 columns each)" in capsys.readouterr().out
    table = pd.read_csv(out)
    assert len(table) == 300
    # the excluded label column is copied as an id, renamed so the decision does not overwrite it
    assert list(table.columns[:5]) == ["tx_id", "input_label", "score", "p_value", "label"]
    assert table["input_label"].sum() == 5
    assert {"feature_1", "value_1", "typical_1", "share_2", "explanation"} <= set(table)
    assert "feature_3" not in table
    frauds = table.head(5)  # amounts multiplied by 40
    assert (frauds["feature_1"] == "amount").all()
    assert frauds["explanation"].str.startswith("amount = ").all()
    scored = tmp_path / "scores.csv"
    assert main(["score", str(bundle), str(transactions), "--out", str(scored)]) == 0
    np.testing.assert_allclose(table["score"], pd.read_csv(scored)["score"])


def test_explain_prints_csv_and_takes_a_method(transactions: Path, tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "model"
    fit = ["fit", str(transactions), "--model", "KNN", "--exclude", "tx_id",
           "--exclude", "label", "--out", str(bundle)]  # fmt: skip
    assert main(fit) == 0
    capsys.readouterr()
    assert main(["explain", str(bundle), str(transactions), "--method", "ablation"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tx_id,input_label,score,p_value,label,feature_1,")
    assert len(lines) == 301


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--top", "0"], "--top must be at least 1"),
        (["--method", "gradients"], "cannot be explained with method='gradients'"),
    ],
)
def test_explain_option_errors(transactions: Path, tmp_path: Path, capsys, args, message):
    bundle = tmp_path / "model"
    fit = ["fit", str(transactions), "--model", "ECOD", "--exclude", "tx_id",
           "--exclude", "label", "--out", str(bundle)]  # fmt: skip
    assert main(fit) == 0
    capsys.readouterr()
    assert main(["explain", str(bundle), str(transactions), *args]) == 2
    assert message in capsys.readouterr().err


def test_series_fit_and_score_with_a_time_column(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(900)
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2026-01-01", periods=900, freq="min").astype(str),
            "host": "web-1",  # text: neither a channel nor the time
            "cpu": np.sin(t / 9) + 0.05 * rng.normal(size=900),
            "mem": np.cos(t / 5) + 0.05 * rng.normal(size=900),
        }
    )
    frame.iloc[:600].to_csv(tmp_path / "train.csv", index=False)
    new = frame.iloc[600:].copy()
    new.loc[new.index[200], "cpu"] += 5.0
    new.to_csv(tmp_path / "new.csv", index=False)
    bundle = tmp_path / "cpu-model"
    code = main(
        [
            "fit",
            str(tmp_path / "train.csv"),
            "--model",
            "RollingZScore",
            "--time-column",
            "ts",
            "--exclude",
            "host",
            "--out",
            str(bundle),
        ]
    )
    assert code == 0
    assert "600 steps x 2 channels" in capsys.readouterr().out
    for extra in ([], ["--continue"]):
        out = tmp_path / f"scores{len(extra)}.csv"
        assert (
            main(["score", str(bundle), str(tmp_path / "new.csv"), "--out", str(out), *extra]) == 0
        )
        scores = pd.read_csv(out)
        assert list(scores.columns) == ["host", "ts", "score", "p_value", "label"]
        assert scores["score"].idxmax() == 200 and scores["label"].iloc[200] == 1
    fresh, continued = pd.read_csv(tmp_path / "scores0.csv"), pd.read_csv(tmp_path / "scores1.csv")
    assert fresh["score"].iloc[0] == 0.0  # no history: warm-up
    assert continued["score"].iloc[0] > 0.0  # continues from the training series
    assert (
        main(
            [
                "fit",
                str(tmp_path / "train.csv"),
                "--model",
                "PCA",
                "--time-column",
                "ts",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "--time-column is for series detectors" in capsys.readouterr().err
