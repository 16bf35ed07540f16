"""Mean test AUROC of the same detectors in two ``deepad bench tabular`` result folders.

Used to measure what a change costs or buys, e.g. the calibration hold-out: the
2026-11-25 run fitted every detector on all its training rows, the 2026-12-01 run held
out 20% (at most 2,000) for calibration; splits, seeds and detectors are the same and
CPU results are deterministic, so the difference is the change's alone. PyOD's rows
serve as the control (they must not move).

Run: ``.venv/bin/python benchmarks/compare_runs.py BEFORE_DIR AFTER_DIR``
"""

from __future__ import annotations

import sys

import pandas as pd

from deepad.bench.store import read_runs


def main(before_dir: str, after_dir: str) -> None:
    before, after = read_runs(before_dir), read_runs(after_dir)
    key = ["dataset", "setting", "detector", "seed"]
    both = before[before.status == "ok"].merge(
        after[after.status == "ok"], on=key, suffixes=("_before", "_after")
    )
    per_dataset = both.groupby(["setting", "detector", "dataset"])[
        ["auroc_before", "auroc_after"]
    ].mean()
    table = per_dataset.groupby(["setting", "detector"]).agg(
        datasets=("auroc_before", "size"),
        before=("auroc_before", "mean"),
        after=("auroc_after", "mean"),
    )
    table["change"] = table["after"] - table["before"]
    diff = per_dataset["auroc_after"] - per_dataset["auroc_before"]
    table["worst dataset"] = diff.groupby(["setting", "detector"]).min()
    with pd.option_context("display.width", 120, "display.float_format", "{:.4f}".format):
        print(table.reset_index().to_string(index=False))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
