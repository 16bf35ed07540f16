"""Lines per second per core: raw log lines parsed and scored, EventCounts and DeepLog.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/log_throughput.py [--repeats 5] [--out F.md]

For each of the 16 loghub 2k files (and all 16 mixed in one log): fit on the first 1,000
lines with sessions of 20 lines (``session_window=20``, one config for all), save the
bundle, then ``repeats`` times load it afresh (so the parser's message cache starts
empty, as in a new process) and time ``decision_function`` on the other 1,000 lines:
reading, masking, Drain matching, grouping and scoring, on one thread. Reported: lines/s
from the median time, and for EventCounts the share spent parsing.

Peer, same script, same lines: plain drain3 (``TemplateMiner.add_log_message`` with its
default masking), which parses only; the ratio is ours (parse and score) / drain3 (parse).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import torch
from _output import emit

import deepad

DATA = Path(__file__).resolve().parents[2] / "shared/data/loghub_2k"


def _time(function, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def _drain3_seconds(lines: list[str], repeats: int) -> float:
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    def parse() -> None:
        config = TemplateMinerConfig()
        config.profiling_enabled = False
        miner = TemplateMiner(config=config)
        for line in lines:
            miner.add_log_message(line)

    return _time(parse, repeats)


def _ours(cls: type, train: list[str], test: list[str], repeats: int, folder: Path) -> dict:
    bundle = cls(session_window=20).fit(train).save(folder / cls.__name__)
    total, parse = [], []
    for _ in range(repeats):
        det = deepad.load(bundle)  # a fresh parser cache, as in a new process
        start = time.perf_counter()
        sessions = det.read(test)
        middle = time.perf_counter()
        det.score_sessions(sessions)
        total.append(time.perf_counter() - start)
        parse.append(middle - start)
    return {
        "seconds": statistics.median(total),
        "parse_share": statistics.median(parse) / statistics.median(total),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # 50 windows calibrate coarsely; timing only here
    logs = {}
    for folder in sorted(p for p in DATA.iterdir() if p.is_dir()):
        logs[folder.name] = (
            (folder / f"{folder.name}_2k.log").read_text(errors="replace").splitlines()
        )
    logs["all 16 mixed"] = [line for lines in logs.values() for line in lines]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, lines in logs.items():
            half = len(lines) // 2
            train, test = lines[:half], lines[half:]
            counts = _ours(deepad.EventCounts, train, test, args.repeats, Path(tmp))
            lstm = _ours(deepad.DeepLog, train, test, args.repeats, Path(tmp))
            drain = _drain3_seconds(test, args.repeats)
            rows.append(
                {
                    "log": name,
                    "lines": len(test),
                    "counts_lines_per_s": len(test) / counts["seconds"],
                    "parse_share": counts["parse_share"],
                    "deeplog_lines_per_s": len(test) / lstm["seconds"],
                    "drain3_lines_per_s": len(test) / drain,
                }
            )
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    out = [
        "| log | lines scored | EventCounts lines/s | of which parsing | DeepLog lines/s "
        "| drain3 parse only, lines/s | EventCounts / drain3 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table.to_dict("records"):
        out.append(
            f"| {r['log']} | {r['lines']:,} | {r['counts_lines_per_s']:,.0f} | "
            f"{r['parse_share']:.0%} | {r['deeplog_lines_per_s']:,.0f} | "
            f"{r['drain3_lines_per_s']:,.0f} | "
            f"{r['counts_lines_per_s'] / r['drain3_lines_per_s']:.2f} |"
        )
    systems = table[table["log"] != "all 16 mixed"]
    out.append(
        f"\nMedian over the 16 systems: EventCounts {systems['counts_lines_per_s'].median():,.0f} "
        f"lines/s, DeepLog {systems['deeplog_lines_per_s'].median():,.0f} lines/s, drain3 "
        f"(parse only) {systems['drain3_lines_per_s'].median():,.0f} lines/s; slowest "
        f"EventCounts: {systems.loc[systems['counts_lines_per_s'].idxmin(), 'log']} "
        f"{systems['counts_lines_per_s'].min():,.0f} lines/s."
    )
    text = "\n".join(out)
    emit(text, args.out)


if __name__ == "__main__":
    main()
