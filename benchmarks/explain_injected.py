"""Do explanations name the cause? Hit rates on anomalies injected into real normal rows.

Protocol, per ADBench dataset (seed 0, the stratified 70/30 split of ``deepad bench``):
fit each detector at its defaults on the normal training rows (one-class; at most 10,000,
subsampled with the seed); take up to 200 normal test rows; shift 1, 2 or 3 random columns
of each by 5 training standard deviations (random sign); explain the corrupted rows by
every method the detector offers and report the hit rate at k = number corrupted
(deepad.bench.explain). DevNet is left out: it cannot fit without labelled anomalies.

Torch runs on one thread (``--threads``), so the script shares a 2-core machine politely.
Cost: explaining 1,000 normal test rows (drawn with replacement when there are fewer)
by each method but Shapley sampling, against scoring the same rows: median of 3 runs each,
measured side by side in the same process.

Run: ``.venv/bin/python benchmarks/explain_injected.py [--datasets 6_cardio ...]``
Writes ``docs/results/explain-injected-<date>/results.csv`` and ``cost.csv`` and prints
Markdown tables.
"""

from __future__ import annotations

import argparse
import datetime
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import deepad
from deepad.bench.datasets import find_datasets, load_dataset, split_dataset
from deepad.bench.detectors import make_detector
from deepad.bench.explain import injected_hit_rates
from deepad.core.timing import median_seconds
from deepad.explain import available_methods

ROOT = Path(__file__).resolve().parents[1]
DATASETS = [
    "6_cardio",
    "18_Ionosphere",
    "28_pendigits",
    "30_satellite",
    "32_shuttle",
    "35_SpamBase",
    "38_thyroid",
    "41_Waveform",
]
DETECTORS = [name for name in deepad.DETECTORS if name != "DevNet"]
MAX_TRAIN, N_ROWS, COST_ROWS, SEED = 10_000, 200, 1000, 0


def run_dataset(name: str, path: Path, detectors: list[str]) -> tuple[list[dict], list[dict]]:
    X, y = load_dataset(path)
    split = split_dataset(X, y, SEED)
    train = split.X_train[split.y_train == 0]
    rng = np.random.default_rng(SEED)
    if len(train) > MAX_TRAIN:
        train = train[np.sort(rng.choice(len(train), MAX_TRAIN, replace=False))]
    normal_test = split.X_test[split.y_test == 0]
    rows = normal_test[rng.choice(len(normal_test), min(N_ROWS, len(normal_test)), replace=False)]
    cost_rows = normal_test[rng.choice(len(normal_test), COST_ROWS, replace=True)]
    hits, costs = [], []
    for detector_name in detectors:
        start = time.perf_counter()
        detector = make_detector(detector_name, SEED, X.shape[1]).fit(train)
        fit_seconds = time.perf_counter() - start
        methods = available_methods(detector)
        for record in injected_hit_rates(detector, train, rows, methods, seed=SEED):
            hits.append({"dataset": name, "detector": detector_name, **record})
        score_s = median_seconds(lambda d=detector: d.decision_function(cost_rows))
        for method in methods:
            if method == "shapley":  # n_samples (25) times ablation's cost, by construction
                continue
            explain_s = median_seconds(lambda d=detector, m=method: d.explain(cost_rows, method=m))
            costs.append(
                {
                    "dataset": name,
                    "detector": detector_name,
                    "method": method,
                    "default": method == methods[0],
                    "columns": X.shape[1],
                    "score_ms": 1e3 * score_s,
                    "explain_ms": 1e3 * explain_s,
                    "ratio": explain_s / score_s,
                    "fit_s": fit_seconds,
                }
            )
        print(f"{name} {detector_name}: fit {fit_seconds:.1f}s", flush=True)
    return hits, costs


def summary(hits: pd.DataFrame, costs: pd.DataFrame) -> str:
    table = hits.pivot_table(
        index=["detector", "method"], columns="corrupted", values="hit_rate", aggfunc="mean"
    )
    table.columns = [f"hit@{k}" for k in table.columns]
    table["mean"] = table.mean(axis=1)
    random = hits.groupby("corrupted")["random"].mean()
    lines = ["| detector | method | " + " | ".join(table.columns) + " |"]
    lines.append("|---|---|" + "---:|" * len(table.columns))
    for (detector, method), row in table.iterrows():
        lines.append(f"| {detector} | {method} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    lines.append(
        "| random ranking | | "
        + " | ".join(f"{random[k]:.3f}" for k in random.index)
        + f" | {random.mean():.3f} |"
    )
    lines.append("")
    lines.append("| detector | method | explain / score: median over datasets (range) |")
    lines.append("|---|---|---|")
    for (detector, method), group in costs.groupby(["detector", "method"], sort=False):
        ratio = group["ratio"]
        label = f"{method} (default)" if group["default"].iloc[0] else method
        spread = f"{ratio.median():.1f}x ({ratio.min():.1f}-{ratio.max():.1f})"
        lines.append(f"| {detector} | {label} | {spread} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--detectors", nargs="+", default=DETECTORS)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "adbench"))
    parser.add_argument(
        "--out",
        default=str(ROOT / "docs" / "results" / f"explain-injected-{datetime.date.today()}"),
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # calibration notes on small sets are not the subject here
    torch.set_num_threads(args.threads)
    all_hits, all_costs = [], []
    for name, path in find_datasets(args.data, args.datasets).items():
        hits, costs = run_dataset(name, path, args.detectors)
        all_hits += hits
        all_costs += costs
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hits_frame, costs_frame = pd.DataFrame(all_hits), pd.DataFrame(all_costs)
    hits_frame.to_csv(out / "results.csv", index=False)
    costs_frame.to_csv(out / "cost.csv", index=False)
    print(summary(hits_frame, costs_frame))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
