"""Evasion curves on real data: the share of known anomalies still flagged when an attacker
may change every numeric column by up to eps times its training spread.

    .venv/bin/python benchmarks/evasion.py --out docs/results/evasion-2026-12-03/table.md

ADBench protocol (../shared/data/README.md), seed 0: a stratified 70/30 split, each
detector at its defaults fitted on the normal training rows (one-class); the test part's
anomalies are attacked (``deepad.robustness.evasion_curve``: signed-gradient steps on the
score for the deep detectors plus a black-box random search for all, 200 rounds) at
budgets 0.1, 0.25 and 0.5, every numeric column mutable.
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
DETECTORS = ["AutoEncoder", "DeepSVDD", "Auto", "IsolationForest"]
BUDGETS = (0.1, 0.25, 0.5)


def run_job(dataset: str, name: str) -> dict:
    from deepad.robustness import evasion_curve

    detector, test, labels = fit_oneclass(ADBENCH, dataset, name)
    report = evasion_curve(detector, test, labels, budgets=BUDGETS)
    return {"dataset": dataset, "detector": name, **report.to_dict()}


def report(records: list[dict]) -> str:
    header = "| detector | clean | " + " | ".join(f"eps {b:g}" for b in BUDGETS) + " | attack |"
    lines = [
        "Share of the test anomalies flagged, median over the datasets (clean = no attack):",
        "",
        header,
        "|---|" + "---|" * (len(BUDGETS) + 2),
    ]
    for name in DETECTORS:
        mine = [r for r in records if r["detector"] == name]
        if not mine:
            continue
        cells = [np.median([r["points"][i]["detected"] for r in mine]) for i in range(4)]
        attack = mine[0]["points"][1]["attack"]
        lines.append(f"| {name} | " + " | ".join(f"{c:.1%}" for c in cells) + f" | {attack} |")
    lines += ["", "Per dataset, flagged share clean -> at eps 0.1 / 0.25 / 0.5:", ""]
    lines += per_dataset_table(records, DATASETS, DETECTORS, _curve)
    return "\n".join(lines)


def _curve(record: dict) -> str:
    shares = [f"{q['detected']:.0%}" for q in record["points"]]
    return f"{shares[0]} -> {' / '.join(shares[1:])}"


def main() -> None:
    per_detector_main(
        __doc__, DATASETS, DETECTORS, run_job, report, "/tmp/deepad-evasion.jsonl",
        lambda r: f"{r['dataset']} {r['detector']}", emit,
    )  # fmt: skip


if __name__ == "__main__":
    main()
