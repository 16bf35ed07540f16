"""``deepad bench tabular`` end to end: runs.csv, resume, failures, timeouts, summary.

One CLI run over two tiny synthetic datasets (module-scoped, ~25 jobs) feeds most tests;
the tests that change a results folder work on a copy of it. Jobs use ``--threads 1``:
on a busy 2-core machine, small torch fits are several times faster single-threaded.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from bench_factories import infinite_factory, raising_factory, sleeping_factory

from deepad.bench import BenchConfig, run_benchmark
from deepad.bench.datasets import Split, fit_data
from deepad.bench.jobs import Job, evaluate, run_job
from deepad.bench.store import COLUMNS, read_runs
from deepad.cli import main
from deepad.models import KNN

ADBENCH = Path(__file__).resolve().parents[2] / "shared/data/adbench"
OURS = ["ECOD", "KNN", "IsolationForest"]
SETTINGS = ["unsupervised", "oneclass", "labeled"]


def _write_dataset(path: Path, n_rows: int, n_features: int, seed: int) -> None:
    """Normal rows around 0; one in ten rows scattered far away in all directions (label 1)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features))
    y = np.zeros(n_rows, dtype=np.int64)
    y[::10] = 1
    directions = rng.normal(size=(y.sum(), n_features))
    X[y == 1] = 7.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    np.savez(path, X=X, y=y)


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "runs.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _command(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "bench", "tabular", str(data), "--seeds", "0", "--detectors", *OURS,
        "--peers", "KNN", "--threads", "1", "--max-train-rows", "300", "--out", str(out), *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1_alpha: 600 x 4 (its training sets exceed 300 rows); 2_beta: 300 x 6."""
    folder = tmp_path_factory.mktemp("npz")
    _write_dataset(folder / "1_alpha.npz", 600, 4, seed=1)
    _write_dataset(folder / "2_beta.npz", 300, 6, seed=2)
    return folder


@pytest.fixture(scope="module")
def finished(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(results folder, stdout) of one full run: 2 datasets x 3 settings x 4 detectors."""
    pytest.importorskip("pyod", reason="the PyOD peer needs pyod (pip install deepad[bench])")
    out = tmp_path_factory.mktemp("results")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(_command(data_dir, out)) == 0
    return out, printed.getvalue()


def _copy(finished: tuple[Path, str], tmp_path: Path) -> Path:
    out = tmp_path / "results"
    shutil.copytree(finished[0], out)
    return out


# ------------------------------------------------------------------ full run
def test_runs_csv_has_one_row_per_job_with_high_auroc(finished) -> None:
    out, log = finished
    rows = _rows(out)
    assert list(rows[0]) == list(COLUMNS)
    keys = {(r["dataset"], r["setting"], r["detector"], r["seed"]) for r in rows}
    detectors = [*OURS, "pyod.KNN"]
    expected = {(d, s, m, "0") for d in ("1_alpha", "2_beta") for s in SETTINGS for m in detectors}
    assert keys == expected and len(rows) == len(expected)
    assert all(r["status"] == "ok" and r["error"] == "" for r in rows)
    assert min(float(r["auroc"]) for r in rows) > 0.95
    assert all(float(r["fit_seconds"]) >= 0 and int(r["n_test"]) > 0 for r in rows)
    assert log.count("AUROC") == len(expected)  # one progress line per job


def test_threshold_columns_are_filled_for_ours_and_pyod(finished) -> None:
    """deepad: FPR/recall at 1% and 5%, FDR; PyOD: FPR/recall of its contamination rule."""
    out, _ = finished
    rows = _rows(out)
    for row in rows:
        for column in ("fpr_01", "recall_01", "fpr_05", "recall_05"):
            assert 0.0 <= float(row[column]) <= 1.0, (row["detector"], column)
        if row["detector"].startswith("pyod."):
            assert row["fdp_10"] == row["n_calibration"] == ""
        else:
            assert int(row["n_calibration"]) > 0 and 0.0 <= float(row["fdp_10"]) <= 1.0
    # fitted on clean rows, every detector flags the far-away anomalies at 5%; fitted on
    # rows with 10% anomalies, the calibration rows hold anomalies too and recall drops
    oneclass = [r for r in rows if r["setting"] == "oneclass"]
    assert min(float(r["recall_05"]) for r in oneclass) > 0.6
    assert max(float(r["fpr_05"]) for r in oneclass if r["detector"] in OURS) <= 0.1
    summary = (out / "summary.md").read_text()
    section = summary.split("## Thresholds")[1].split("## AUROC per dataset")[0]
    assert "### oneclass: decisions at a stated error rate" in section
    assert "| pyod.KNN |" in section and "| KNN |" in section


def test_legacy_runs_csv_is_read_and_migrated(finished, tmp_path) -> None:
    """A results folder from before the threshold columns resumes with them added."""
    from deepad.bench.store import LEGACY_COLUMNS, RunsWriter

    out = _copy(finished, tmp_path)
    frame = read_runs(out)
    legacy = frame[list(LEGACY_COLUMNS)]
    legacy.to_csv(out / "runs.csv", index=False)
    again = read_runs(out)
    assert len(again) == len(frame) and again["fpr_01"].isna().all()
    with RunsWriter(out):
        pass
    assert _rows(out)[0].keys() == set(COLUMNS) and len(_rows(out)) == len(frame)


def test_subsampling_is_recorded(finished) -> None:
    out, _ = finished
    rows = _rows(out)
    alpha = {r["setting"]: r for r in rows if r["dataset"] == "1_alpha"}
    assert alpha["unsupervised"]["n_train"] == alpha["labeled"]["n_train"] == "420"
    assert alpha["oneclass"]["n_train"] == "378"  # the 420 less their 42 anomalies
    assert {r["n_train_used"] for r in alpha.values()} == {"300"}
    beta = [r for r in rows if r["dataset"] == "2_beta"]
    assert all(r["n_train"] == r["n_train_used"] for r in beta)
    summary = (out / "summary.md").read_text()
    section = summary.split("## Subsampled training sets")[1].split("## Failures")[0]
    assert "1_alpha" in section and "2_beta" not in section


def test_summary_has_a_leaderboard_and_a_table_per_setting(finished) -> None:
    out, _ = finished
    summary = (out / "summary.md").read_text()
    assert "deepad bench tabular" in summary and "--max-train-rows 300" in summary  # command
    assert "scikit-learn" in summary and "CPUs" in summary
    for setting in SETTINGS:
        board = summary.split(f"## {setting}\n")[1].split("\n## ")[0]
        assert "| detector | mean AUROC | mean AUPRC | datasets | avg rank | wins |" in board
        for detector in [*OURS, "pyod.KNN"]:
            assert f"| {detector} | " in board
        assert f"### {setting}: AUROC per dataset" in summary
    assert "## Failures\n\nNone." in summary
    per_dataset = (out / "per_dataset.csv").read_text().splitlines()
    assert len(per_dataset) == 1 + 2 * 3 * 4


def test_rerun_skips_done_jobs_and_redoes_deleted_ones(finished, data_dir, tmp_path, capsys):
    out = _copy(finished, tmp_path)
    before = _rows(out)
    assert main(_command(data_dir, out)) == 0
    assert "24 already in" in capsys.readouterr().out
    assert _rows(out) == before

    lines = (out / "runs.csv").read_text().splitlines(keepends=True)
    removed = lines.pop(5)
    (out / "runs.csv").write_text("".join(lines))
    assert main(_command(data_dir, out)) == 0
    printed = capsys.readouterr().out
    assert "1 to run" in printed and printed.count("AUROC") == 1
    after = _rows(out)
    assert len(after) == len(before)
    key = removed.split(",")[:4]
    assert [after[-1][c] for c in ("dataset", "setting", "detector", "seed")] == key


def test_a_row_cut_short_is_run_again(finished, data_dir, tmp_path, capsys) -> None:
    out = _copy(finished, tmp_path)
    text = (out / "runs.csv").read_text()
    (out / "runs.csv").write_text(text[:-20])  # the last row loses its tail and newline
    assert main(_command(data_dir, out)) == 0
    assert "1 to run" in capsys.readouterr().out
    rows = _rows(out)
    assert [len(r) for r in rows[:-2]] == [len(COLUMNS)] * (len(rows) - 2)
    assert rows[-1]["status"] == "ok" and rows[-1]["detector"] == "pyod.KNN"
    assert read_runs(out).shape == (24, len(COLUMNS))


def test_fresh_sets_old_results_aside(finished, data_dir, tmp_path) -> None:
    out = _copy(finished, tmp_path)
    argv = _command(data_dir, out, "--fresh", "--datasets", "2_beta", "--settings", "oneclass")
    argv[argv.index("--peers") + 1] = "none"
    argv[argv.index("--detectors") + 1 : argv.index("--peers")] = ["ECOD"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    assert len(_rows(out)) == 1
    assert len((out / "runs.csv.old").read_text().splitlines()) == 1 + 24


def test_a_second_run_on_the_same_folder_is_refused(data_dir, tmp_path, capsys) -> None:
    fcntl = pytest.importorskip("fcntl", reason="folder locking needs fcntl (POSIX)")
    out = tmp_path / "busy"
    out.mkdir()
    with (out / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a run in progress does
        assert main(_command(data_dir, out)) == 2
    assert "another deepad bench run is writing to" in capsys.readouterr().err
    assert not (out / "runs.csv").exists()


def test_summarize_only_regenerates_the_summary(finished, tmp_path) -> None:
    out = _copy(finished, tmp_path)
    (out / "summary.md").unlink()
    (out / "per_dataset.csv").unlink()
    assert main(["bench", "tabular", "--summarize-only", "--out", str(out)]) == 0
    assert "## oneclass" in (out / "summary.md").read_text()
    assert (out / "per_dataset.csv").is_file()


# ------------------------------------------------------------------ failures
def test_a_raising_detector_is_recorded_and_the_run_goes_on(data_dir, tmp_path) -> None:
    config = BenchConfig(
        data_dir=data_dir,
        out_dir=tmp_path / "out",
        datasets=["2_beta"],
        settings=["oneclass"],
        seeds=[0, 1],
        detectors=["KNN", "ECOD"],
        peers="none",
        threads=1,
    )
    summary = run_benchmark(config, factory=raising_factory, echo=lambda line: None)
    rows = {(r["detector"], r["seed"]): r for r in _rows(tmp_path / "out")}
    assert len(rows) == 4
    for seed in ("0", "1"):
        assert rows[("KNN", seed)]["status"] == "failed"
        assert rows[("KNN", seed)]["error"] == "RuntimeError: injected failure"
        assert rows[("ECOD", seed)]["status"] == "ok"
    text = summary.read_text()
    assert "| 2_beta | oneclass | KNN | 0 | RuntimeError: injected failure |" in text
    assert "| KNN | — | — | 0/1 | 2.00 | 0 |" in text  # ranked last, no mean


def test_a_hanging_detector_is_killed_at_the_timeout(tmp_path) -> None:
    data = _tiny_fit_data()
    start = time.perf_counter()
    result = run_job(Job("d", "oneclass", "KNN", 0), data, factory=sleeping_factory, timeout=1.5)
    assert time.perf_counter() - start < 15
    assert result.status == "failed" and result.error == "timeout after 1.5s"
    assert result.row()["n_train"] == data.n_train and result.row()["auroc"] == ""


def test_non_finite_scores_are_a_failure() -> None:
    result = run_job(Job("d", "oneclass", "X", 0), _tiny_fit_data(), factory=infinite_factory)
    assert result.status == "failed"
    assert result.error.startswith("non-finite scores")


def _tiny_fit_data(setting: str = "oneclass"):
    """30 training rows (3 anomalies), 10 test rows (1 anomaly), 3 features."""
    X = np.random.default_rng(0).random((40, 3))
    y_train = np.r_[np.zeros(27), np.ones(3)].astype(np.int64)
    y_test = np.r_[np.zeros(9), np.ones(1)].astype(np.int64)
    return fit_data(Split(X[:30], y_train, X[30:], y_test), setting, seed=0, max_train_rows=None)


# ------------------------------------------------------------------ protocol
def test_settings_pick_rows_and_labels() -> None:
    rng = np.random.default_rng(0)
    y_train = np.r_[np.zeros(160, dtype=np.int64), np.ones(40, dtype=np.int64)]
    split = Split(rng.random((200, 2)), y_train, rng.random((20, 2)), np.r_[[0] * 18, [1, 1]])
    unsupervised = fit_data(split, "unsupervised", seed=3, max_train_rows=None)
    assert unsupervised.y_fit is None and unsupervised.n_train_used == 200
    oneclass = fit_data(split, "oneclass", seed=3, max_train_rows=None)
    assert oneclass.n_train == 160 and oneclass.y_fit is None
    labeled = fit_data(split, "labeled", seed=3, max_train_rows=None)
    assert set(np.unique(labeled.y_fit)) == {-1, 1}
    assert (labeled.y_fit == 1).sum() == 2  # 5% of 40 anomalies
    assert (y_train[labeled.y_fit == 1] == 1).all()
    few = fit_data(split, "labeled", seed=3, max_train_rows=50)
    assert few.n_train == 200 and few.n_train_used == 50 and (few.y_fit == 1).sum() >= 1


class _LabelledKNN(KNN):
    uses_labels = True

    def _fit_features(self, features, labels=None):
        type(self).seen = labels
        super()._fit_features(features)


@pytest.mark.filterwarnings("ignore::deepad.calibrate.CalibrationWarning")  # 5 rows calibrate
def test_only_detectors_that_use_labels_get_them() -> None:
    job = Job("d", "labeled", "x", 0)
    data = _tiny_fit_data("labeled")
    factory = lambda name, seed, d: _LabelledKNN()  # noqa: E731
    evaluate(job, data, factory=factory, calibration_size=0)
    assert list(_LabelledKNN.seen) == list(data.y_fit)
    # with the default hold-out, every labelled anomaly still trains the model
    evaluate(job, data, factory=factory)
    assert (_LabelledKNN.seen == 1).sum() == (data.y_fit == 1).sum()
    assert len(_LabelledKNN.seen) < len(data.y_fit)
    evaluate(job, _tiny_fit_data("unsupervised"), factory=factory)
    assert _LabelledKNN.seen is None


def test_detectors_that_need_labels_run_only_in_the_labeled_setting(data_dir, tmp_path) -> None:
    """DevNet cannot fit without rows labelled 1: it gets labeled jobs only, no failures."""
    out = tmp_path / "devnet"
    command = [
        "bench", "tabular", str(data_dir), "--datasets", "2_beta", "--seeds", "0",
        "--detectors", "DevNet", "ECOD", "--peers", "none", "--threads", "1", "--out", str(out),
    ]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(command) == 0
    jobs = {(row["detector"], row["setting"]): row["status"] for row in _rows(out)}
    assert {setting for detector, setting in jobs if detector == "DevNet"} == {"labeled"}
    assert {setting for detector, setting in jobs if detector == "ECOD"} == set(SETTINGS)
    assert set(jobs.values()) == {"ok"}


# ------------------------------------------------------------------ CLI
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--datasets", "9_nope"], "unknown dataset(s) ['9_nope']"),
        (["--detectors", "Nope"], "unknown detector(s) ['Nope']"),
        (["--peers", "Nope"], "unknown peer 'Nope'"),
    ],
)
def test_bad_requests_are_one_line_errors(data_dir, tmp_path, capsys, extra, message) -> None:
    assert main(["bench", "tabular", str(data_dir), "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepad: error: ") and message in err and err.count("\n") == 1


def test_missing_data_folder_is_a_one_line_error(tmp_path, capsys) -> None:
    assert main(["bench", "tabular", str(tmp_path / "absent"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["bench", "--help"], ["bench", "tabular", "--help"]])
def test_help(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "tabular" in printed
    if "tabular" in argv:
        assert "--max-train-rows" in printed and "--summarize-only" in printed


# ------------------------------------------------------------------ real data (CI smoke)
def test_smoke_on_real_adbench_data(tmp_path, capsys) -> None:
    if not ADBENCH.is_dir():
        pytest.skip(f"ADBench data not found at {ADBENCH}")
    pytest.importorskip("pyod", reason="the PyOD peer needs pyod (pip install deepad[bench])")
    out = tmp_path / "smoke"
    argv = [
        "bench", "tabular", str(ADBENCH), "--datasets", "42_WBC", "14_glass", "--seeds", "0",
        "--settings", "oneclass", "--detectors", "ECOD", "AutoEncoder", "--peers", "KNN",
        "--threads", "1", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    rows = _rows(out)
    assert len(rows) == 2 * 3
    for row in rows:
        assert row["status"] == "ok", row
        assert float(row["auroc"]) > 0.5, row
    assert "| AutoEncoder |" in (out / "summary.md").read_text()
