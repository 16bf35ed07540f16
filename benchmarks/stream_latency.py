"""Per-point latency of the streaming API on real NAB files: ``score_one`` + ``learn_one``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stream_latency.py

For each series detector (defaults, random_state=0) and each of three NAB files (one per
category with anomalies), fit on the probationary 15%, then time ``score_one(x)`` followed
by ``learn_one(x)`` for the next ``--points`` steps, one point at a time, and report the
median and the 99th percentile per point. Beside it, the same steps through ``process``
(the causal batch path), whose scores must agree: the script prints the largest relative
difference (float32 networks round differently with the batch shape: about 1e-7 to 1e-6).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from deepad.bench.series_data import load_nab
from deepad.metrics.nab import nab_probation_length
from deepad.models import SERIES_DETECTORS

FILES = ("ec2_cpu_utilization_5f5533", "exchange-2_cpc_results", "TravelTime_387")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--detectors", default=",".join(SERIES_DETECTORS))
    args = parser.parse_args()
    files = load_nab("../shared/data", only=list(FILES))
    print(
        "| detector | file | median µs/point | p99 µs/point | process µs/point "
        "| max rel. diff, stream vs process |"
    )
    print("|---|---|---:|---:|---:|---|")
    for name in args.detectors.split(","):
        for file in files:
            values = file.values.reshape(-1, 1)
            start = nab_probation_length(len(values))
            stream = values[start : start + args.points]
            cls = SERIES_DETECTORS[name]
            params = {"random_state": 0} if "random_state" in cls().get_params() else {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                det = cls(**params).fit(values[:start])
                batch_det = cls(**params).fit(values[:start])
                det.score_one(stream[0])  # warm caches and JIT before timing
                times, scores = [], []
                for x in stream:
                    t0 = time.perf_counter()
                    scores.append(det.score_one(x))
                    det.learn_one(x)
                    times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                batch = batch_det.process(stream)
                batch_seconds = time.perf_counter() - t0
            us = np.asarray(times) * 1e6
            rel = np.abs(np.asarray(scores) - batch) / np.maximum(np.abs(batch), 1e-12)
            same = f"{rel.max():.0e}"
            print(
                f"| {name} | {file.name} | {np.median(us):.0f} | {np.percentile(us, 99):.0f} | "
                f"{batch_seconds / len(stream) * 1e6:.0f} | {same} |"
            )


if __name__ == "__main__":
    main()
