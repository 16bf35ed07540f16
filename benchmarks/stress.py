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

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _jobs import (
    ADBENCH,
    ROBUSTNESS_SETS,
    fit_oneclass,
    per_dataset_table,
    per_detector_main,
)
from _output import emit

DATASETS = ROBUSTNESS_SETS
DETECTORS = [
    "AutoEncoder", "VAE", "DeepSVDD", "Auto", "IsolationForest", "KNN", "PCA", "ECOD",
]  # fmt: skip
#: test rows stressed at most (a seeded sample of larger test parts)
MAX_ROWS = 2000
COLUMNS = [
    ("noise", "0.01 x spread"),
    ("noise", "0.1 x spread"),
    ("noise", "0.5 x spread"),
    ("missing feature", None),
    ("unit change x1000", None),
]


def run_job(dataset: str, name: str) -> dict:
    from deepad.robustness import stress_test

    detector, test, _ = fit_oneclass(ADBENCH, dataset, name)
    report = stress_test(detector, test, max_rows=MAX_ROWS)
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
    lines += per_dataset_table(
        records, DATASETS, DETECTORS, lambda r: f"{_flips(r, 'noise', '0.1 x spread'):.1%}"
    )
    return "\n".join(lines)


def main() -> None:
    per_detector_main(
        __doc__, DATASETS, DETECTORS, run_job, report, "/tmp/deepad-stress.jsonl",
        lambda r: f"{r['dataset']} {r['detector']} noise line met: {r['noise_ok']}", emit,
    )  # fmt: skip


if __name__ == "__main__":
    main()
