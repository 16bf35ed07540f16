"""The results folder on disk: ``runs.csv`` (one row per job) and ``invocations.jsonl``.

``runs.csv`` is the single source of truth: rows are appended and flushed one job at a
time, so a run killed at any moment loses at most the job in flight, and a rerun skips
every (dataset, setting, detector, seed) already in it. ``invocations.jsonl`` records,
per run of the command, the exact command line, date, machine and library versions, so
``summary.md`` can name what produced the numbers even when it is regenerated later.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from deepad.bench.thresholds import COLUMNS as THRESHOLD_COLUMNS

RUNS = "runs.csv"
INVOCATIONS = "invocations.jsonl"

#: runs.csv columns before the threshold metrics were added (still read, and migrated)
LEGACY_COLUMNS: tuple[str, ...] = (
    "dataset",
    "setting",
    "detector",
    "seed",
    "status",
    "auroc",
    "auprc",
    "fit_seconds",
    "score_seconds",
    "n_train",
    "n_train_used",
    "n_test",
    "n_features",
    "error",
)
#: runs.csv columns, in order: the legacy ones, then realised FPR / recall / FDP
COLUMNS: tuple[str, ...] = (*LEGACY_COLUMNS, *THRESHOLD_COLUMNS)

#: the columns that identify a job
KEY: tuple[str, ...] = ("dataset", "setting", "detector", "seed")

JobKey = tuple[str, str, str, int]


def read_runs(out_dir: str | Path) -> pd.DataFrame:
    """runs.csv as a DataFrame (empty, with the columns, when absent).

    Rows cut short (a crash in mid-write, a hand edit) are dropped, so their jobs run
    again; when a job appears twice, the last row wins.
    """
    path = Path(out_dir) / RUNS
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame(columns=list(COLUMNS))
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        if header not in (list(COLUMNS), list(LEGACY_COLUMNS)):
            raise ValueError(f"{path} does not have deepad bench's columns {list(COLUMNS)}")
        rows = [row for row in reader if len(row) == len(header)]  # drop rows cut short
    frame = pd.DataFrame(rows, columns=header).reindex(columns=list(COLUMNS), fill_value="")
    for column in ("auroc", "auprc", "fit_seconds", "score_seconds", *THRESHOLD_COLUMNS):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in ("seed", "n_train", "n_train_used", "n_test", "n_features"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    frame = frame[frame["status"].isin(["ok", "failed"]) & frame["seed"].notna()].copy()
    frame["seed"] = frame["seed"].astype(int)
    return frame.drop_duplicates(subset=list(KEY), keep="last").reset_index(drop=True)


def done_keys(out_dir: str | Path) -> set[JobKey]:
    """The (dataset, setting, detector, seed) of every job already recorded."""
    frame = read_runs(out_dir)
    return {
        (str(d), str(s), str(m), int(k))
        for d, s, m, k in frame[list(KEY)].itertuples(index=False, name=None)
    }


class RunsWriter:
    """Appends rows to runs.csv, writing the header to a new file and flushing each row."""

    def __init__(self, out_dir: str | Path) -> None:
        path = Path(out_dir) / RUNS
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.is_file() or path.stat().st_size == 0
        if not new:
            with path.open("rb") as handle:
                header = handle.readline().decode("utf-8", "replace").strip()
                handle.seek(-1, os.SEEK_END)
                ends_cleanly = handle.read(1) == b"\n"
            if header.split(",") == list(LEGACY_COLUMNS):
                _migrate(path)
                ends_cleanly = True
            elif header.split(",") != list(COLUMNS):
                raise ValueError(
                    f"{path} has other columns than deepad bench writes; "
                    "use another --out or --fresh"
                )
        self._handle = path.open("a", newline="", encoding="utf-8")
        if not new and not ends_cleanly:
            self._handle.write("\n")  # a row cut short by a crash: start on a fresh line
        self._writer = csv.DictWriter(self._handle, fieldnames=list(COLUMNS))
        if new:
            self._writer.writeheader()
            self._handle.flush()

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one job's row and push it to disk."""
        self._writer.writerow({column: row.get(column, "") for column in COLUMNS})
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def __enter__(self) -> RunsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _migrate(path: Path) -> None:
    """Rewrite a legacy runs.csv with today's columns (the new cells empty), atomically."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader if len(row) == len(header)]
    staging = path.with_name(path.name + ".migrating")
    with staging.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), restval="")
        writer.writeheader()
        writer.writerows(rows)
    staging.replace(path)


def start_fresh(out_dir: str | Path) -> None:
    """Set old results aside (``runs.csv`` -> ``runs.csv.old``, the log emptied)."""
    folder = Path(out_dir)
    runs = folder / RUNS
    if runs.is_file():
        runs.replace(folder / (RUNS + ".old"))
    for name in (INVOCATIONS, "jobs.log"):
        (folder / name).unlink(missing_ok=True)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str | None:
    """The deepad source checkout's commit (with ``+dirty``), when it is a git checkout."""
    source = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "") if rev else None


def environment() -> dict[str, Any]:
    """Date, machine and versions of what produces the numbers."""
    from deepad._version import __version__

    return {
        "date": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "deepad": __version__,
        "deepad_git": _git_revision(),
        "torch": _version("torch"),
        "scikit-learn": _version("scikit-learn"),
        "pyod": _version("pyod"),
        "executable": sys.executable,
    }


def record_invocation(out_dir: str | Path, command: str, config: Mapping[str, Any]) -> None:
    """Append this run's command line, resolved configuration and environment."""
    path = Path(out_dir) / INVOCATIONS
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"command": command, "config": dict(config), **environment()}
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, default=str) + "\n")


def read_invocations(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every recorded run of the command, oldest first (unreadable lines skipped)."""
    path = Path(out_dir) / INVOCATIONS
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries
