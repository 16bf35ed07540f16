"""Stress tests of every table detector on real data: noise, a missing column, a unit
change and duplicated rows (``deepad.robustness.stress_test``).

    .venv/bin/python benchmarks/stress.py --out docs/results/stress-2026-12-03/table.md

ADBench protocol (../shared/data/README.md), seed 0: a stratified 70/30 split, every
detector at its defaults fitted on the normal training rows (one-class), then stressed on
the test part (normal rows and anomalies as they come, at most 2,000 rows). The table
gives, per detector, the median over the datasets of the share of decisions flipped
under each perturbation, how many datasets pass the noise line (noise up to a tenth of
each column's spread flips at most 5% of the decisions) and on how many every duplicated
row scored exactly as its original.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared/data/adbench"
sys.path.insert(0, str(HERE))
from _output import emit  # noqa: E402

DATASETS = [
    "6_cardio", "38_thyroid", "30_satellite", "28_pendigits", "23_mammography", "35_SpamBase",
]  # fmt: skip
DETECTORS = [
    "AutoEncoder", "VAE", "DeepSVDD", "Auto", "IsolationForest", "KNN", "PCA", "ECOD",
]  # fmt: skip
COLUMNS = [
    ("noise", "0.01 x spread"),
    ("noise", "0.1 x spread"),
    ("noise", "0.5 x spread"),
    ("missing feature", None),
    ("unit change x1000", None),
]


def run_job(dataset: str, name: str, max_rows: int) -> dict:
    import pandas as pd
    import torch

    import deepad
    from deepad.bench.datasets import load_dataset, split_dataset
    from deepad.robustness import stress_test

    torch.set_num_threads(1)
    X, y = load_dataset(DATA / f"{dataset}.npz")
    split = split_dataset(X, y, 0)
    columns = [f"x{i}" for i in range(X.shape[1])]
    train = pd.DataFrame(split.X_train[split.y_train == 0], columns=columns)
    test = pd.DataFrame(split.X_test, columns=columns)
    cls = getattr(deepad, name)
    params = {"random_state": 0} if "random_state" in cls._get_param_names() else {}
    report = stress_test(cls(**params).fit(train), test, max_rows=max_rows)
    return {"dataset": dataset, "detector": name, **report.to_dict()}


def _flips(record: dict, perturbation: str, detail: str | None) -> float:
    for r in record["results"]:
        if r["perturbation"] == perturbation and (detail is None or r["detail"] == detail):
            return float(r["flipped"])
    return float("nan")


def report(records: list[dict]) -> str:
    lines = [
        "Median over the datasets of the share of decisions flipped; the noise line: noise up "
        "to 0.1 x spread flips at most 5%:",
        "",
        "| detector | noise 0.01 | noise 0.1 | noise 0.5 | worst missing column | worst unit "
        "change x1000 | noise line met | duplicates identical |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in DETECTORS:
        mine = [r for r in records if r["detector"] == name]
        if not mine:
            continue
        cells = [np.median([_flips(r, p, d) for r in mine]) for p, d in COLUMNS]
        ok = sum(r["noise_ok"] for r in mine)
        same = sum(r["duplicates_identical"] for r in mine)
        lines.append(
            f"| {name} | " + " | ".join(f"{c:.1%}" for c in cells)
            + f" | {ok} of {len(mine)} | {same} of {len(mine)} |"
        )  # fmt: skip
    lines += ["", "Per dataset, share flipped by noise at 0.1 x spread:", ""]
    datasets = sorted({r["dataset"] for r in records}, key=DATASETS.index)
    lines += ["| detector | " + " | ".join(datasets) + " |", "|---|" + "---|" * len(datasets)]
    for name in DETECTORS:
        row = {r["dataset"]: r for r in records if r["detector"] == name}
        cells = [
            f"{_flips(row[d], 'noise', '0.1 x spread'):.1%}" if d in row else "-" for d in datasets
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=DATASETS)
    parser.add_argument("--detectors", nargs="*", default=DETECTORS)
    parser.add_argument("--max-rows", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", type=Path, default=Path("/tmp/deepad-stress.jsonl"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    done = {}
    if args.results.exists():
        for line in args.results.read_text().splitlines():
            record = json.loads(line)
            done[(record["dataset"], record["detector"])] = record
    todo = [(d, n) for d in args.datasets for n in args.detectors if (d, n) not in done]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(args.jobs) as pool, args.results.open("a") as sink:
        futures = [pool.submit(run_job, d, n, args.max_rows) for d, n in todo]
        for future in as_completed(futures):
            record = future.result()
            done[(record["dataset"], record["detector"])] = record
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            print(record["dataset"], record["detector"], record["noise_ok"], flush=True)
    records = [r for r in done.values() if r["dataset"] in args.datasets]
    emit(report(records), args.out)


if __name__ == "__main__":
    main()
