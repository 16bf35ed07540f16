"""Rows per second scoring 10 million synthetic rows: Ray with 1 and 2 workers, and plain
``deepad score`` in one process, side by side.

    .venv/bin/python benchmarks/ray_scoring.py [--rows 10000000] [--rounds 2] [--out F.md]

Data: ``rows`` rows of 8 Gaussian features with a correlated block and an ``id`` column, in
20 Parquet files (and one file of all rows for the single-process command), under a
temporary folder. Model: ``AutoEncoder(epochs=5)`` fitted on the first 100,000 rows. Each
round runs the three commands as subprocesses in turn (so noise falls on all alike):
``deepad score BUNDLE all.parquet --out scores.parquet`` and ``deepad score BUNDLE
'parts/*.parquet' --engine ray --workers N --out DIR`` for N = 1, 2. Wall time of the whole
command (start-up, Ray start included), median over rounds.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _output import emit

import deepad

DEEPAD = str(Path(sys.executable).with_name("deepad"))


def _make_data(folder: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    parts = folder / "parts"
    parts.mkdir()
    frames = []
    for k, chunk in enumerate(np.array_split(np.arange(rows), 20)):
        base = rng.normal(size=(len(chunk), 8))
        base[:, 4:] += 0.8 * base[:, :4]
        frame = pd.DataFrame(base, columns=[f"x{i}" for i in range(8)])
        frame.insert(0, "id", chunk)
        frame.to_parquet(parts / f"part-{k:02d}.parquet", index=False)
        frames.append(frame)
    pd.concat(frames, ignore_index=True).to_parquet(folder / "all.parquet", index=False)


def _run(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _make_data(folder, args.rows)
        train = pd.read_parquet(folder / "parts/part-00.parquet").head(100_000)
        bundle = deepad.AutoEncoder(epochs=5, random_state=0).fit(train.drop(columns="id"))
        bundle = bundle.save(folder / "bundle", id_columns=["id"])
        commands = {
            "deepad score, one process": [
                DEEPAD, "score", str(bundle), str(folder / "all.parquet"),
                "--out", str(folder / "scores.parquet"),
            ],
        }  # fmt: skip
        for workers in (1, 2):
            commands[f"--engine ray, {workers} worker(s)"] = [
                DEEPAD, "score", str(bundle), str(folder / "parts" / "*.parquet"),
                "--engine", "ray", "--workers", str(workers), "--out", str(folder / "ray-out"),
            ]  # fmt: skip
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                shutil.rmtree(folder / "ray-out", ignore_errors=True)
                seconds[name].append(_run(command))
                print(name, f"{seconds[name][-1]:.1f}s", flush=True)
        scored = pd.read_parquet(folder / "ray-out", columns=["id"])
        assert len(scored) == args.rows and scored["id"].is_unique
    median = {name: statistics.median(values) for name, values in seconds.items()}
    one = median["--engine ray, 1 worker(s)"]
    plain = median["deepad score, one process"]
    lines = [
        "| command | wall s (median) | rows/s | vs plain `deepad score` | vs Ray, 1 worker |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, value in median.items():
        lines.append(
            f"| {name} | {value:.1f} | {args.rows / value:,.0f} | {plain / value:.2f}x | "
            f"{one / value:.2f}x |"
        )
    runs = "; ".join(f"{n}: {', '.join(f'{v:.1f}' for v in vs)} s" for n, vs in seconds.items())
    lines.append(f"\nEvery run: {runs}.")
    emit("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
