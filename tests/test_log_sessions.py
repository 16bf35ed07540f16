"""Raw logs to sessions: parser state and matching, session rules, EventCounts, explanations
and the log CLI, on lines from the real loghub HDFS and BGL samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepad
from deepad.io.logs import read_templates
from deepad.preprocess.log_sessions import LogReader
from deepad.preprocess.logs import UNMATCHED, LogParser

DATA = Path(__file__).resolve().parents[2] / "shared/data"
HDFS_LOG = DATA / "loghub_2k/HDFS/HDFS_2k.log"
HDFS_TEMPLATES = DATA / "loghub_2k/HDFS/HDFS_templates.csv"
BGL_LOG = DATA / "loghub_2k/BGL/BGL_2k.log"
SESSIONS = DATA / "hdfs_sessions"
BLOCK = r"blk_-?\d+"
HDFS_CONTENT = r"^\d+ \d+ \d+ \w+ (?P<content>.*)$"


def _hdfs_lines() -> list[str]:
    return HDFS_LOG.read_text().splitlines()


def test_parser_matches_without_learning_and_survives_its_state() -> None:
    lines = _hdfs_lines()
    parser = LogParser(content=HDFS_CONTENT)
    learned = parser.parse(lines[:1500]).event_ids
    n_templates = len(parser.templates())
    matched = parser.match(lines[:1500])
    assert np.array_equal(matched, learned)  # training lines keep their events
    assert parser.match(["081109 1 1 INFO dfs.DataNode: disk on fire"])[0] == UNMATCHED
    assert len(parser.templates()) == n_templates  # match learned nothing
    again = LogParser.from_state(parser.state())
    assert np.array_equal(again.match(lines[1500:]), parser.match(lines[1500:]))
    assert again.templates().equals(parser.templates())
    with pytest.raises(ValueError, match="invalid log parser state"):
        LogParser.from_state({"similarity": 0.4})


def test_session_regex_groups_every_block_a_line_names() -> None:
    reader = LogReader(session_regex=BLOCK)
    sessions = reader.fit_read(
        [
            "Receiving blk_1 and blk_-2",
            "no block here",
            "Deleted blk_1 size 3",
            "Deleted blk_-2 size 4",
        ]
    )
    assert sessions.keys == ["blk_1", "blk_-2"]
    assert [r.tolist() for r in sessions.lines] == [[0, 2], [0, 3]]
    assert sessions.unkeyed_lines == 1 and sessions.total_lines == 4
    assert sessions.events[0][1] == sessions.events[1][1]  # the same "Deleted" template
    grouped = LogReader(session_regex=r"block (\d+)").fit_read(["a block 7", "b block 7"])
    assert grouped.keys == ["7"]


def test_line_and_time_windows() -> None:
    lines = [f"job {i} done" for i in range(7)]
    back_to_back = LogReader(session_window=3).fit_read(lines)
    assert back_to_back.keys == ["lines 1-3", "lines 4-6"]
    sliding = LogReader(session_window=3, session_step=1).fit_read(lines)
    assert len(sliding) == 5 and sliding.lines[-1].tolist() == [4, 5, 6]
    bgl = BGL_LOG.read_text().splitlines()[:300]
    by_hour = LogReader(session_window="1h", time_regex=r"^\S+ (?P<time>\d{10}) ").fit_read(bgl)
    stamps = np.asarray([int(line.split()[1]) for line in bgl])
    assert sum(len(r) for r in by_hour.lines) == len(bgl)  # back to back: each line once
    for rows in by_hour.lines:
        assert np.ptp(stamps[rows]) < 3600
    iso = [f"2026-01-01T00:0{m}:00 ping" for m in range(6)]
    windows = LogReader(
        session_window="2min", session_step="1min", time_regex=r"^(?P<time>\S+) "
    ).fit_read(iso)
    assert [len(r) for r in windows.lines] == [2, 2, 2, 2, 2, 1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one session rule: session_regex, session_window or session_column"),
        ({"session_regex": BLOCK, "session_window": 5}, "exactly one"),
        ({"session_regex": "("}, "session_regex is not a valid regex"),
        ({"session_window": 0}, "session_window must be a positive number"),
        ({"session_window": "1h"}, "needs time_regex"),
        ({"session_window": "1h", "time_regex": r"(\d+)"}, r"named group \(\?P<time>"),
        ({"session_window": "1h", "time_regex": r"(?P<time>\d+)", "session_step": "1s"}, "1000"),
        ({"session_window": "soon", "time_regex": r"(?P<time>\d+)"}, "positive duration"),
        ({"session_regex": BLOCK, "session_step": 2}, "session_step goes with session_window"),
        ({"session_window": 5, "time_regex": r"(?P<time>\d+)"}, "time_regex goes with a duration"),
    ],
)
def test_bad_session_rules_are_named(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reader = LogReader(**options)
        reader.fit_read(["1 a", "2 b"])


def test_sessions_that_cannot_be_found_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="found none in 2 lines"):
        LogReader(session_regex=BLOCK).fit_read(["a", "b"])
    with pytest.raises(FileNotFoundError, match="no such log file"):
        LogReader(session_regex=BLOCK).fit_read(tmp_path / "missing.log")
    with pytest.raises(ValueError, match="log line 1 must be text"):
        LogReader(session_regex=BLOCK).fit_read(["blk_1", 3])
    with pytest.raises(ValueError, match="only apply to raw logs"):
        deepad.EventCounts(content_regex="(?P<content>.*)").fit([[1, 2], [1, 2]])


def test_templates_read_from_loghub_csv() -> None:
    templates = read_templates(HDFS_TEMPLATES)
    assert templates[5].startswith("<*>Receiving block") and len(templates) == 30
    assert read_templates({"7": "x"}) == {7: "x"}
    with pytest.raises(ValueError, match="template id 'seven'"):
        read_templates({"seven": "x"})


@pytest.fixture(scope="module")
def counts() -> deepad.EventCounts:
    return deepad.EventCounts(templates=str(HDFS_TEMPLATES)).fit(SESSIONS / "hdfs_train")


def _valid(n: int = 400) -> pd.DataFrame:
    frame = pd.read_csv(SESSIONS / "robust_log_valid.csv")
    return pd.concat([frame[frame.label == 0].head(n // 2), frame[frame.label == 1].head(n // 2)])


def test_event_counts_separates_real_hdfs_sessions(counts: deepad.EventCounts) -> None:
    from sklearn.metrics import roc_auc_score

    valid = _valid()
    scores = counts.decision_function(valid["Sequence"].tolist())
    assert roc_auc_score(valid["label"], scores) > 0.95
    flags = counts.predict(valid["Sequence"].tolist())
    assert flags[valid["label"].to_numpy() == 0].mean() < 0.15


def test_event_counts_explanations_add_up_and_name_new_events(counts: deepad.EventCounts) -> None:
    normal = "5 5 5 22 11 11 11 9 9 9 26 26 26"
    sessions = [normal, normal + " 7 7 7"]  # 7 (writeBlock exception) never occurs in training
    explanation = counts.explain(sessions)
    sums = explanation.events.groupby("session")["contribution"].sum()
    assert np.allclose(sums.to_numpy(), explanation.scores)
    top = explanation.for_session(1).iloc[0]
    assert top["template"].startswith("<*>writeBlock") and "count 3, typical 0" in top["detail"]
    assert "writeBlock" in explanation.text(1)


def test_event_counts_iforest_and_bundles(tmp_path: Path) -> None:
    sessions = [s.split() for s in _valid(200)["Sequence"]]
    train = [list(map(int, s)) for s in sessions[:100]]
    for method in ("pca", "iforest"):
        det = deepad.EventCounts(method=method, n_estimators=50).fit(train)
        restored = deepad.load(det.save(tmp_path / method))
        assert np.allclose(restored.decision_function(train), det.decision_function(train))
        explanation = det.explain(train[:3])
        assert len(explanation.top()) == 3
    with pytest.raises(ValueError, match="method must be one of"):
        deepad.EventCounts(method="svm").fit(train)
    with pytest.raises(ValueError, match="weighting"):
        deepad.EventCounts(weighting="bm25").fit(train)


def test_deeplog_on_raw_hdfs_lines_round_trips_and_explains(tmp_path: Path) -> None:
    lines = _hdfs_lines()
    det = deepad.DeepLog(
        session_regex=BLOCK, content_regex=HDFS_CONTENT, hidden_size=16, num_layers=1, epochs=3
    ).fit(lines[:1500])
    new = [*lines[1500:], "081109 1 1 ERROR dfs.DataNode: disk on fire for blk_42"]
    restored = deepad.load(det.save(tmp_path / "raw"))
    assert np.array_equal(restored.decision_function(new), det.decision_function(new))
    sessions = restored.read(new)
    fire = sessions.keys.index("blk_42")
    explanation = restored.explain(new)
    assert explanation.scores[fire] >= 1 and explanation.scores[fire] > restored.threshold_
    culprit = explanation.for_session(fire).iloc[0]
    assert culprit["line"] == len(new) and "disk on fire" in culprit["template"]
    sums = explanation.events.groupby("session")["contribution"].sum()
    assert np.allclose(
        sums.reindex(range(len(sessions)), fill_value=0.0).to_numpy(), explanation.scores
    )
    with pytest.raises(ValueError, match="templates apply to id sessions"):
        deepad.DeepLog(session_regex=BLOCK, templates={"1": "x"}).fit(lines[:10])


def test_log_cli_fits_raw_logs_scores_and_explains(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from deepad.cli import main

    lines = _hdfs_lines()
    train, new = tmp_path / "train.log", tmp_path / "new.log"
    train.write_text("\n".join(lines[:1500]) + "\n")
    new.write_text("\n".join([*lines[1500:], "081109 1 1 ERROR disk on fire blk_42"]) + "\n")
    bundle = tmp_path / "b"
    fit = ["fit", str(train), "--modality", "log", "--model", "EventCounts"]
    assert main([*fit, "--session-regex", BLOCK, "--out", str(bundle)]) == 0
    assert "templates learned from the raw lines" in capsys.readouterr().out
    assert main(["info", str(bundle)]) == 0
    assert "input logs:    raw lines (session_regex=" in capsys.readouterr().out
    out = tmp_path / "scores.csv"
    assert main(["score", str(bundle), str(new), "--out", str(out)]) == 0
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["session", "events", "first_line", "score", "p_value", "label"]
    assert scores.set_index("session").loc["blk_42", "label"] == 1
    explained = tmp_path / "explained.csv"
    assert main(["explain", str(bundle), str(new), "--out", str(explained), "--top", "2"]) == 0
    row = pd.read_csv(explained).set_index("session").loc["blk_42"]
    assert "disk on fire" in row["culprit_1"]
    assert main(["report", str(bundle), str(new), "--out", str(tmp_path / "r.html")]) == 0
    assert "id='top-sessions'" in (tmp_path / "r.html").read_text()
    assert main([*fit, "--session-window", "50", "--out", str(tmp_path / "w")]) == 0
    capsys.readouterr()
    both = ["--session-regex", BLOCK, "--param", f"session_regex={BLOCK}"]
    assert main([*fit, *both, "--out", str(tmp_path / "x")]) == 2
    assert "both given" in capsys.readouterr().err
    table = ["fit", str(train), "--model", "PCA", "--session-regex", BLOCK, "--out", "y"]
    assert main(table) == 2
    assert "applies to log detectors" in capsys.readouterr().err


def test_structured_logs_group_by_a_column(tmp_path: Path) -> None:
    structured = pd.read_csv(DATA / "loghub_2k/HDFS/HDFS_2k.log_structured.csv")
    structured["block"] = structured["Content"].str.extract(r"(blk_-?\d+)", expand=False)
    path = tmp_path / "hdfs.parquet"
    structured.to_parquet(path)
    det = deepad.EventCounts(message_column="Content", session_column="block").fit(path)
    sessions = det.read(structured)
    by_regex = deepad.EventCounts(session_regex=r"(blk_-?\d+)").fit(structured["Content"].tolist())
    assert len(sessions) == structured["block"].nunique()
    assert sessions.keys[:3] == structured["block"].drop_duplicates().head(3).tolist()
    assert np.array_equal(
        det.decision_function(path), det.decision_function(structured)
    )  # a file and a DataFrame read alike
    assert len(by_regex.read(structured["Content"].tolist())) >= len(sessions)
    with pytest.raises(ValueError, match=r"column\(s\) \['nope'\] not in the log table"):
        deepad.EventCounts(message_column="nope", session_column="block").fit(path)
    with pytest.raises(ValueError, match="also give message_column"):
        deepad.EventCounts(session_column="block").fit(path)
    with pytest.raises(ValueError, match="needs message_column"):
        deepad.EventCounts(session_window=5).fit(structured)


def test_detectors_take_their_own_masks(tmp_path: Path) -> None:
    lines = ["user alice logged in from host7", "user bob logged in from host9"] * 10
    plain = deepad.EventCounts(session_window=2).fit(lines)
    users = [["USER", r"(?<=user )\w+"], ["HOST", r"host\d+"]]
    masked = deepad.EventCounts(session_window=2, masks=users).fit(lines)
    assert "<USER>" in masked.template(1) and "<HOST>" in masked.template(1)
    restored = deepad.load(masked.save(tmp_path / "masked"))
    assert restored.read(["user carol logged in from host3"]).events[0].tolist() == [1]
    assert "<USER>" not in plain.template(1)
    with pytest.raises(ValueError, match=r"masks must be a list of \[name, regex\] pairs"):
        deepad.EventCounts(session_window=2, masks=["USER"]).fit(lines)
