"""Grouping accuracy of deepad's Drain step on the 16 loghub 2k files, one configuration.

    .venv/bin/python benchmarks/loghub_grouping.py [--data ../shared/data/loghub_2k] [--out FILE.md]

Parses the ``Content`` column of each ``<System>_2k.log_structured.csv`` (the message
without its header, as loghub's benchmark does) with ``deepad.preprocess.logs.LogParser()`` at its
defaults and scores the event ids against ``EventId`` with
``deepad.metrics.grouping_accuracy``. Also templates found vs true, and lines per second
(median of 3 parses, one core).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd
from _output import emit

from deepad.metrics import grouping_accuracy
from deepad.preprocess.logs import LogParser

DATA = Path(__file__).resolve().parents[2] / "shared/data/loghub_2k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    for folder in sorted(p for p in args.data.iterdir() if p.is_dir()):
        frame = pd.read_csv(folder / f"{folder.name}_2k.log_structured.csv")
        messages = frame["Content"].astype(str).tolist()
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            parsed = LogParser().parse(messages)
            seconds.append(time.perf_counter() - start)
        rows.append(
            {
                "system": folder.name,
                "grouping_accuracy": grouping_accuracy(frame["EventId"], parsed.event_ids),
                "templates": len(parsed.templates),
                "true_templates": frame["EventId"].nunique(),
                "lines_per_second": len(messages) / statistics.median(seconds),
            }
        )
    table = pd.DataFrame(rows)
    lines = [
        "| system | grouping accuracy | templates found / true | lines/s |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r.system} | {r.grouping_accuracy:.3f} | {r.templates} / {r.true_templates} | "
        f"{r.lines_per_second:,.0f} |"
        for r in table.itertuples()
    ]
    lines.append(
        f"| **mean** | **{table['grouping_accuracy'].mean():.3f}** | | "
        f"{table['lines_per_second'].median():,.0f} (median) |"
    )
    text = "\n".join(lines)
    emit(text, args.out)


if __name__ == "__main__":
    main()
