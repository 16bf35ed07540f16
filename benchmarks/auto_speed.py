"""Fit and score time of ``deepad.Auto`` at its defaults on one ADBench dataset.

Fits on up to 100,000 rows drawn from the dataset (the issue's cap) and scores 100,000
rows drawn from it (with replacement when it is smaller). Run under ``/usr/bin/time`` for
the peak memory:

    /usr/bin/time -f "peak RSS %M KB" python benchmarks/auto_speed.py 11_donors
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import deepad

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "adbench"


def main(name: str) -> None:
    X = np.load(DATA / f"{name}.npz")["X"]
    rng = np.random.default_rng(0)
    train = X[rng.choice(len(X), min(100_000, len(X)), replace=False)]
    test = X[rng.choice(len(X), 100_000, replace=len(X) < 100_000)]
    start = time.perf_counter()
    detector = deepad.Auto(random_state=0).fit(train)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    detector.decision_function(test)
    score = time.perf_counter() - start
    print(f"{name}: X {X.shape}, fit on {len(train)} rows {fit:.1f}s, score 100k rows {score:.1f}s")


if __name__ == "__main__":
    main(sys.argv[1])
