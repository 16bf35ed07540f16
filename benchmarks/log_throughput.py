"""Lines per second per core: raw log lines parsed and scored, EventCounts and DeepLog.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/log_throughput.py [--repeats 15] [--out F.md]

For each of the 16 loghub 2k files (and all 16 mixed in one log): fit on the first 1,000
lines with sessions of 20 lines (``session_window=20``, one config for all), save the
bundle, then ``repeats`` times load it afresh (so the parser's message cache starts
empty, as in a new process) and time ``read`` + ``score_sessions`` on the other 1,000
lines: reading, masking, Drain matching, grouping and scoring, on one thread. The three
measurements (EventCounts, DeepLog, the peer) take turns within each repeat, so machine
noise falls on all of them alike. Reported: lines/s from the median time, and for
EventCounts the share spent parsing.

Peer, same script, same lines: plain drain3 (``TemplateMiner.add_log_message`` with its
default masking), which parses only; the ratio is ours (parse and score) / drain3 (parse).
"""

from __future__ import annotations

import argparse
import gc
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


def _drain3(lines: list[str]) -> None:
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    for line in lines:
        miner.add_log_message(line)


def _ours(bundle: Path, test: list[str]) -> tuple[float, float]:
    """(seconds to read and score ``test``, of which reading) with a fresh bundle."""
    det = deepad.load(bundle)  # a fresh parser cache, as in a new process
    gc.collect()
    start = time.perf_counter()
    sessions = det.read(test)
    middle = time.perf_counter()
    det.score_sessions(sessions)
    return time.perf_counter() - start, middle - start


def _measure(train: list[str], test: list[str], repeats: int, folder: Path) -> dict:
    bundles = {
        cls.__name__: cls(session_window=20).fit(train).save(folder / cls.__name__)
        for cls in (deepad.EventCounts, deepad.DeepLog)
    }
    runs: dict[str, list[float]] = {"EventCounts": [], "DeepLog": [], "parse": [], "drain3": []}
    for _ in range(repeats):
        seconds, parse = _ours(bundles["EventCounts"], test)
        runs["EventCounts"].append(seconds)
        runs["parse"].append(parse)
        runs["DeepLog"].append(_ours(bundles["DeepLog"], test)[0])
        gc.collect()
        start = time.perf_counter()
        _drain3(test)
        runs["drain3"].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in runs.items()}
    return {
        "counts_lines_per_s": len(test) / median["EventCounts"],
        "parse_share": median["parse"] / median["EventCounts"],
        "deeplog_lines_per_s": len(test) / median["DeepLog"],
        "drain3_lines_per_s": len(test) / median["drain3"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
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
            row = {"log": name, "lines": len(lines) - half}
            row.update(_measure(lines[:half], lines[half:], args.repeats, Path(tmp)))
            rows.append(row)
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
