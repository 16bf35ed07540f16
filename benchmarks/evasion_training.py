"""Evasion curves with and without adversarial training (``adversarial_budget``), and what
the training costs in clean test AUROC.

    .venv/bin/python benchmarks/evasion_training.py --out docs/results/evasion-2026-12-03/trained.md

ADBench protocol, seeds 0 and 1: each detector at its defaults, or with
``adversarial_budget=0.25``, fitted on the normal training rows (one-class); the
test anomalies attacked as in ``benchmarks/evasion.py`` (40 signed-gradient steps from the
row and one random start, plus 200 rounds of random search, against the trained
detector's own score) at budgets 0.1, 0.25 and 0.5, every numeric column mutable. The
exposure constants of ``deepad.models.adversarial`` were chosen on one seed of the six
robustness sets; the four further sets ("held out") were not looked at before this run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _jobs import ADBENCH, ROBUSTNESS_SETS, fit_oneclass, run_resumable
from _output import emit

HELD_OUT = ["20_letter", "41_Waveform", "4_breastw", "29_Pima"]
DETECTORS = ["AutoEncoder", "DeepSVDD"]
TRAINING_BUDGETS = (0.0, 0.25)
ATTACK_BUDGETS = (0.1, 0.25, 0.5)
SEEDS = (0, 1)


def run_job(dataset: str, name: str, training: float, seed: int) -> dict:
    from sklearn.metrics import roc_auc_score

    from deepad.robustness import evasion_curve

    detector, test, labels = fit_oneclass(ADBENCH, dataset, name, seed, adversarial_budget=training)
    auroc = float(roc_auc_score(labels, detector.decision_function(test)))
    curve = evasion_curve(detector, test, labels, budgets=ATTACK_BUDGETS, seed=seed)
    return {
        "dataset": dataset,
        "detector": name,
        "training": training,
        "seed": seed,
        "auroc": auroc,
        "detected": [p.detected for p in curve.points],
    }


def _key(record: dict) -> tuple:
    return (record["dataset"], record["detector"], record["training"], record["seed"])


def _per_dataset(records: list[dict], name: str, training: float) -> dict[str, np.ndarray]:
    """dataset -> [AUROC, clean, eps...] averaged over the seeds on file."""
    out: dict[str, list] = {}
    for r in records:
        if r["detector"] == name and r["training"] == training:
            out.setdefault(r["dataset"], []).append([r["auroc"], *r["detected"]])
    return {d: np.mean(v, axis=0) for d, v in out.items()}


def report(records: list[dict], groups: dict[str, list[str]]) -> str:
    lines = []
    head = "| detector | adversarial_budget | test AUROC | clean | " + " | ".join(
        f"eps {b:g}" for b in ATTACK_BUDGETS
    )
    for group, datasets in groups.items():
        lines += [
            f"{group}: medians over {len(datasets)} sets of the per-set means over the seeds "
            "(share of the test anomalies flagged; clean = no attack):",
            "",
            head + " | sets where eps 0.25 rose / fell |",
            "|---|---|---|---|" + "---|" * len(ATTACK_BUDGETS) + "---|",
        ]
        for name in DETECTORS:
            plain = _per_dataset(records, name, 0.0)
            for training in TRAINING_BUDGETS:
                mine = _per_dataset(records, name, training)
                sets = [d for d in datasets if d in mine]
                if not sets:
                    continue
                cells = np.median([mine[d] for d in sets], axis=0)
                shown = [f"{cells[0]:.3f}"] + [f"{c:.1%}" for c in cells[1:]]
                change = "-"
                if training and all(d in plain for d in sets):
                    rose = sum(mine[d][3] > plain[d][3] + 1e-9 for d in sets)
                    fell = sum(mine[d][3] < plain[d][3] - 1e-9 for d in sets)
                    change = f"{rose} / {fell}"
                label = f"{training:g}" if training else "0 (none)"
                lines.append(f"| {name} | {label} | " + " | ".join(shown) + f" | {change} |")
        lines.append("")
    lines += ["Per set, test AUROC; flagged share clean -> eps 0.1 / 0.25 / 0.5:", ""]
    every = [d for datasets in groups.values() for d in datasets]
    lines += ["| detector | budget | " + " | ".join(every) + " |"]
    lines += ["|---|---|" + "---|" * len(every)]
    for name in DETECTORS:
        for training in TRAINING_BUDGETS:
            mine = _per_dataset(records, name, training)
            cells = [_cell(mine[d]) if d in mine else "-" for d in every]
            lines.append(f"| {name} | {training:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(values: np.ndarray) -> str:
    shares = [f"{v:.0%}" for v in values[1:]]
    return f"{values[0]:.3f}; {shares[0]} -> {' / '.join(shares[1:])}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=ROBUSTNESS_SETS + HELD_OUT)
    parser.add_argument("--seeds", nargs="*", type=int, default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--results", type=Path, default=Path("/tmp/deepad-evasion-training.jsonl"))
    parser.add_argument("--out", type=Path, help="also write the Markdown tables here")
    args = parser.parse_args()
    jobs = [
        (d, n, b, s)
        for s in args.seeds
        for d in args.datasets
        for n in DETECTORS
        for b in TRAINING_BUDGETS
    ]
    done = run_resumable(
        jobs,
        run_job,
        args.results,
        _key,
        workers=args.jobs,
        describe=lambda r: f"{r['dataset']} {r['detector']} {r['training']:g} seed {r['seed']}",
    )
    records = [r for r in done.values() if r["dataset"] in args.datasets]
    groups = {
        "Robustness sets": [d for d in args.datasets if d not in HELD_OUT],
        "Held out": [d for d in args.datasets if d in HELD_OUT],
    }
    emit(report(records, {k: v for k, v in groups.items() if v}), args.out)


if __name__ == "__main__":
    main()
