"""Merge the per-file results of several ``deepad bench smd|smap|msl|skab`` runs into one table.

    .venv/bin/python benchmarks/merge_series_runs.py RUN_DIR_A RUN_DIR_B

A suite split over processes (``--only`` halves run side by side on a 2-core machine) gives
one ``per_file.csv`` per run; this prints the mean over every entity of each metric per
detector (the suite's summary table, over all entities) and the AUPRC and VUS-PR per entity.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

METRICS = ["auroc", "auprc", "vus_pr", "best_f1", "pa_f1", "hit_rate"]


def _number(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.3f}"


def main(folders: list[str]) -> None:
    rows = pd.concat([pd.read_csv(Path(f) / "per_file.csv") for f in folders])
    rows["seconds"] = rows.fit_seconds + rows.score_seconds
    board = rows.groupby("detector")[[*METRICS, "seconds"]].mean()
    board = board.sort_values("auprc", ascending=False)
    print(f"{rows.entity.nunique()} entities from {', '.join(folders)}\n")
    print(
        "| detector | AUROC | AUPRC | VUS-PR | best F1 (no PA) | PA-F1 (point-adjusted) "
        "| HitRate@150% | fit+score s per entity |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in board.iterrows():
        cells = " | ".join(_number(row[m]) for m in METRICS)
        print(f"| {name} | {cells} | {row.seconds:.0f} |")
    order = list(board.index)
    for metric in ("auprc", "vus_pr"):
        table = rows.pivot(index="entity", columns="detector", values=metric)
        print(f"\n{metric} per entity\n")
        print("| entity | " + " | ".join(order) + " |")
        print("|---|" + "---:|" * len(order))
        for entity, row in table.iterrows():
            print(f"| {entity} | " + " | ".join(_number(row[o]) for o in order) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
