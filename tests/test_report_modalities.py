"""The report for series, images and logs, on real data: sections, sizes and the CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepad
from deepad.cli import main
from deepad.report import build_report, write_report

DATA = Path(__file__).resolve().parents[2] / "shared/data"
NAB_FILE = DATA / "nab/data/realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv"
TILES = DATA / "magnetic_tile"
HDFS_LOG = DATA / "loghub_2k/HDFS/HDFS_2k.log"


def nab_series() -> tuple[pd.DataFrame, np.ndarray]:
    """A real NAB series with its labelled anomaly windows as 0/1 per step."""
    frame = pd.read_csv(NAB_FILE, parse_dates=["timestamp"])
    windows = json.loads((DATA / "nab/labels/combined_windows.json").read_text())
    labels = np.zeros(len(frame), dtype=int)
    for start, end in windows[f"realAWSCloudwatch/{NAB_FILE.name}"]:
        inside = (frame["timestamp"] >= pd.Timestamp(start)) & (
            frame["timestamp"] <= pd.Timestamp(end)
        )
        labels[inside.to_numpy()] = 1
    return frame, labels


def series_report() -> str:
    frame, labels = nab_series()
    det = deepad.RollingZScore().fit(frame.iloc[:1500], time_column="timestamp")
    return build_report(det, frame, labels=labels, source=NAB_FILE.name)


def image_folder(root: Path) -> Path:
    """Ten good tiles and six with a real blowhole defect, masks left out."""
    folder = root / "tiles"
    folder.mkdir()
    for path in sorted((TILES / "MT_Free" / "Imgs").glob("*.jpg"))[:10]:
        shutil.copy(path, folder / path.name)
    for path in sorted((TILES / "MT_Blowhole" / "Imgs").glob("*.jpg"))[:6]:
        shutil.copy(path, folder / f"blowhole_{path.name}")
    return folder


def image_report(root: Path) -> tuple[str, deepad.PatchCore, Path]:
    train = root / "train"
    train.mkdir()
    for path in sorted((TILES / "MT_Free" / "Imgs").glob("*.jpg"))[10:22]:
        shutil.copy(path, train / path.name)
    # 3 calibration images resolve p-values down to 1/4: flag at p <= 0.3
    det = deepad.PatchCore(image_size=128, coreset_ratio=0.1, contamination=0.3)
    det.fit(train, calibration_size=3)
    folder = image_folder(root)
    return build_report(det, folder, top=8, source="magnetic tiles"), det, folder


def log_report() -> tuple[str, deepad.EventCounts]:
    lines = HDFS_LOG.read_text().splitlines()
    det = deepad.EventCounts(session_regex=r"blk_-?\d+").fit(lines[:1500])
    new = [*lines[1500:], *["081109 1 1 ERROR dfs.DataNode: disk on fire for blk_42"] * 4]
    return build_report(det, new, top=10, source="HDFS 2k, last 500 lines"), det


def _plots(text: str) -> list[str]:
    return re.findall(r"<img class='plot'[^>]*src='data:image/png;base64,([^']+)'", text)


def test_series_report_shows_the_series_and_ranks_flagged_windows() -> None:
    text = series_report()
    for section in ("summary", "score-distribution", "roc-pr", "series", "windows", "drift"):
        assert f"id='{section}'" in text
    assert len(_plots(text)) == 4 and all(len(p) > 5000 for p in _plots(text))
    assert "time steps scored" in text and "labelled anomaly steps" in text
    windows = re.search(r"<section id='windows'>.*?</section>", text, re.S).group(0)
    assert windows.count("<tr>") >= 2 and "2014-" in windows  # real timestamps, not steps
    assert "http" not in text.replace("http://www.w3.org", "")  # nothing to fetch


def test_channel_drift_flags_a_shifted_channel() -> None:
    from deepad.monitor import channel_drift

    frame, _ = nab_series()
    train = frame.iloc[:1500]
    det = deepad.RollingZScore().fit(train, time_column="timestamp")
    same = channel_drift(det, train).iloc[0]
    assert same["value"] == pytest.approx(0.10, abs=0.02) and not same["drifted"]
    shifted = train.assign(value=train["value"] + 3 * det.scaler_.scale[0])
    moved = channel_drift(det, shifted).iloc[0]
    assert (
        moved["drifted"]
        and moved["value"] > 0.5
        and moved["mean_shift"] == pytest.approx(3, abs=0.1)
    )
    later = channel_drift(det, frame.iloc[1500:2500]).iloc[0]  # this server's CPU level fell
    assert later["drifted"] and later["mean_shift"] < -1


def test_image_report_grids_the_most_anomalous_with_heat_maps(tmp_path: Path) -> None:
    text, det, folder = image_report(tmp_path)
    grid = re.search(r"<section id='images'>.*?</section>", text, re.S).group(0)
    names = re.findall(r"<figcaption>\d+\. ([^<]+)<br>", grid)
    assert len(names) == 8
    assert sum(name.startswith("blowhole_") for name in names[:6]) >= 4  # defects rank first
    assert len(_plots(grid)) == 8
    scores = det.decision_function(folder)
    assert f"{scores.max():.4g}" in grid


def test_heat_maps_need_no_finite_threshold(tmp_path: Path) -> None:
    """Too few calibration images leave the threshold infinite; overlays still draw."""
    from PIL import Image

    _, det, folder = image_report(tmp_path)
    explanation = det.explain(folder)
    explanation.threshold = float("inf")
    image = np.asarray(Image.open(sorted(folder.glob("blowhole_*"))[0]).convert("L"))
    index = [p.name for p in sorted(folder.glob("*.jpg"))].index(
        sorted(folder.glob("blowhole_*"))[0].name
    )
    drawn = explanation.overlay(index, image)
    assert drawn.dtype == np.uint8 and drawn.shape == (*image.shape, 3)
    assert (drawn != np.repeat(image[..., None], 3, axis=-1)).any()  # a heat map was laid on


def test_log_report_names_the_events_behind_each_session() -> None:
    text, _ = log_report()
    table = re.search(r"<section id='top-sessions'>.*?</section>", text, re.S).group(0)
    assert table.count("<tr>") == 11
    assert "disk on fire" in table and "blk_42" in table
    assert "sessions scored" in text


def test_series_report_for_100k_steps_stays_small(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = np.sin(np.arange(100_000) / 50) + rng.normal(0, 0.1, 100_000)
    values[70_000:70_050] += 4
    frame = pd.DataFrame({"value": values})
    det = deepad.RollingZScore().fit(frame.iloc[:10_000])
    path = write_report(build_report(det, frame), tmp_path / "series.html")
    assert path.stat().st_size < 5_000_000
    assert "step 70" in path.read_text()  # the injected burst is a ranked window


def test_report_command_takes_series_images_and_logs(tmp_path: Path, capsys) -> None:
    frame, labels = nab_series()
    data = tmp_path / "series.csv"
    frame.assign(label=labels).to_csv(data, index=False)
    train = tmp_path / "train.csv"
    frame.iloc[:1500].to_csv(train, index=False)
    bundle = tmp_path / "series-model"
    fit = ["fit", str(train), "--model", "RollingZScore", "--time-column", "timestamp"]
    assert main([*fit, "--out", str(bundle)]) == 0
    out = tmp_path / "series.html"
    assert (
        main(["report", str(bundle), str(data), "--label-column", "label", "--out", str(out)]) == 0
    )
    assert "id='series'" in out.read_text()
    log_bundle = tmp_path / "log-model"
    lines = HDFS_LOG.read_text().splitlines()
    train_log, new_log = tmp_path / "train.log", tmp_path / "new.log"
    train_log.write_text("\n".join(lines[:1500]) + "\n")
    new_log.write_text("\n".join(lines[1500:]) + "\n")
    fit_log = ["fit", str(train_log), "--modality", "log", "--model", "EventCounts"]
    assert main([*fit_log, "--session-regex", r"blk_-?\d+", "--out", str(log_bundle)]) == 0
    capsys.readouterr()
    assert main(["report", str(log_bundle), str(new_log), "--out", str(tmp_path / "l.html")]) == 0
    assert "(sessions) written to" in capsys.readouterr().out
    refused = ["report", str(log_bundle), str(new_log), "--label-column", "x", "--out", "y.html"]
    assert main(refused) == 2
    assert "needs a table; this bundle scores sessions" in capsys.readouterr().err
