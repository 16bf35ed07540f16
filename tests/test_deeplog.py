"""Log sessions: the session reader and DeepLog (next-event misses, end of session, bundles)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deepad
from deepad.io.logs import as_sessions

HDFS = Path(__file__).resolve().parents[2] / "shared/data/hdfs_sessions"


def _normal_sessions(n: int = 120, seed: int = 0) -> list[list[int]]:
    """Sessions of a fixed workflow 5 -> 7 -> (9 x k) -> 11 -> 13, k in 1..4."""
    rng = np.random.default_rng(seed)
    return [[5, 7, *([9] * int(rng.integers(1, 5))), 11, 13] for _ in range(n)]


@pytest.fixture(scope="module")
def deeplog() -> deepad.DeepLog:
    return deepad.DeepLog(window=4, hidden_size=16, num_layers=1, epochs=40).fit(_normal_sessions())


def test_sessions_read_from_files_strings_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "sessions.txt"
    path.write_text("5 7 9 11\n\n5,7 11\r\n")
    from_file = as_sessions(path)
    assert [s.tolist() for s in from_file] == [[5, 7, 9, 11], [5, 7, 11]]
    assert [s.tolist() for s in as_sessions(["5 7 9 11", [5, 7, 11]])] == [
        [5, 7, 9, 11],
        [5, 7, 11],
    ]
    with pytest.raises(ValueError, match="line 2: event ids must be integers, got 'x'"):
        path.write_text("1 2\n3 x\n")
        as_sessions(path)
    with pytest.raises(FileNotFoundError, match="no such session file"):
        as_sessions(str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="no sessions"):
        as_sessions([])
    with pytest.raises(ValueError, match="session 0 must be a sequence of integer"):
        as_sessions([[1.5, 2.0]])
    with pytest.raises(ValueError, match="sessions must be a file"):
        as_sessions(12)


def test_deeplog_flags_broken_workflows(deeplog: deepad.DeepLog) -> None:
    normal = _normal_sessions(20, seed=1)
    broken = [
        [5, 9, 7, 11, 13],  # out of order
        [5, 7, 9, 9],  # stops early: its end is a miss
        [5, 7, 9, 42, 11, 13],  # an event never seen in training
        [13, 11, 9, 7, 5],
    ]
    normal_scores = deeplog.decision_function(normal)
    broken_scores = deeplog.decision_function(broken)
    assert broken_scores.min() > normal_scores.max()
    assert (broken_scores >= 1).all() and (normal_scores == 0).all()
    assert deeplog.predict(broken).tolist() == [1, 1, 1, 1]
    assert deeplog.predict(normal).sum() == 0
    # the likeliest branch after 9 9 9 9 (k = 4 is the last) still has p near 1; the floor
    # sits under the least likely normal step (one of the four loop lengths: about 1/4)
    assert deeplog.top_g_ is None and 0.01 < np.exp(deeplog.log_floor_) < 0.3


def test_deeplog_bundle_round_trip(deeplog: deepad.DeepLog, tmp_path: Path) -> None:
    sessions = [[5, 7, 9, 11, 13], [5, 9, 7, 11, 13], [5, 7]]
    loaded = deepad.load(deeplog.save(tmp_path / "b"))
    assert loaded.modality == "log" and loaded.log_floor_ == deeplog.log_floor_
    np.testing.assert_array_equal(
        loaded.decision_function(sessions), deeplog.decision_function(sessions)
    )
    np.testing.assert_array_equal(loaded.events_, [5, 7, 9, 11, 13])


def test_deeplog_params_labels_and_determinism() -> None:
    sessions = _normal_sessions(40)
    params = {"window": 3, "hidden_size": 8, "num_layers": 1, "epochs": 5}
    first = deepad.DeepLog(**params).fit(sessions).decision_scores_
    np.testing.assert_array_equal(first, deepad.DeepLog(**params).fit(sessions).decision_scores_)
    labels = np.zeros(40, dtype=int)
    labels[:38] = 1
    with pytest.raises(ValueError, match="leaving at least 2 to train on"):  # 2 normal left
        deepad.DeepLog(**params).fit(sessions, labels, calibration_size=1)
    for bad, match in [
        ({"top_g": 0}, "top_g"),
        ({"top_g": "many"}, "top_g"),
        ({"coverage": 1.0}, "coverage"),
        ({"window": 0}, "window"),
    ]:
        with pytest.raises(ValueError, match=match):
            deepad.DeepLog(**{**params, **bad}).fit(sessions)
    fixed = deepad.DeepLog(**params, top_g=2).fit(sessions)
    assert fixed.top_g_ == 2


def test_deeplog_reads_the_real_hdfs_file() -> None:
    sessions = as_sessions(HDFS / "hdfs_train")
    assert len(sessions) == 4855 and all(len(s) for s in sessions)
    assert min(int(s.min()) for s in sessions) >= 1 and max(int(s.max()) for s in sessions) <= 28


def test_cli_fit_and_score_session_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from deepad.cli import main

    train = tmp_path / "train.txt"
    train.write_text("\n".join(" ".join(map(str, s)) for s in _normal_sessions(60)) + "\n")
    new = tmp_path / "new.txt"
    new.write_text("5 7 9 11 13\n5 9 7 11 13\n")
    bundle = tmp_path / "b"
    params = ["--param", "window=4", "--param", "hidden_size=16", "--param", "num_layers=1"]
    assert (
        main(
            [
                "fit",
                str(train),
                "--model",
                "DeepLog",
                *params,
                "--param",
                "epochs=40",
                "--out",
                str(bundle),
            ]
        )
        == 0
    )
    assert "fitted DeepLog on 60 sessions (5 event ids)" in capsys.readouterr().out
    out = tmp_path / "scores.csv"
    assert main(["score", str(bundle), str(new), "--out", str(out)]) == 0
    import pandas as pd

    scores = pd.read_csv(out)
    assert list(scores.columns) == ["session", "events", "score", "p_value", "label"]
    assert scores["score"].iloc[1] > scores["score"].iloc[0]
    assert main(["score", str(bundle), str(new), "--out", str(out), "--continue"]) == 2
