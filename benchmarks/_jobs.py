"""Resumable benchmark jobs: run each job in a worker process, append its record to a
JSON-lines file as it finishes, and skip the jobs already on file when run again."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

#: ../shared/data/adbench beside the repository
ADBENCH = Path(__file__).resolve().parent.parent.parent / "shared/data/adbench"
#: the six ADBench sets the robustness benchmarks share: small to mid-sized, varied columns
ROBUSTNESS_SETS = [
    "6_cardio", "38_thyroid", "30_satellite", "28_pendigits", "23_mammography", "35_SpamBase",
]  # fmt: skip


def run_resumable(
    jobs: list[tuple],
    run: Callable[..., dict | None],
    results: Path,
    key: Callable[[dict], tuple],
    *,
    workers: int = 2,
    describe: Callable[[dict], str] = str,
) -> dict[tuple, dict]:
    """Every record on file and of the ``jobs`` not yet there, by ``key(record)``.

    ``run(*job)`` returns the job's record (``key(record) == job``) or None for a job
    that does not apply; workers use one thread each for BLAS.
    """
    done: dict[tuple, dict] = {}
    if results.exists():
        for line in results.read_text().splitlines():
            record = json.loads(line)
            done[key(record)] = record
    todo = [job for job in jobs if tuple(job) not in done]
    print(f"{len(done)} results on file, {len(todo)} jobs to run", flush=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(max_workers=workers) as pool, results.open("a") as sink:
        futures = [pool.submit(run, *job) for job in todo]
        for future in as_completed(futures):
            record = future.result()
            if record is None:
                continue
            done[key(record)] = record
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            print(describe(record), flush=True)
    return done


def fit_oneclass(data: Path, dataset: str, name: str, seed: int = 0, **params):
    """ADBench protocol, one-class: ``name`` at its defaults (but ``params``) fitted on the
    normal training rows of ``dataset`` (columns x0, x1, ...); returns (detector, test
    frame, test labels)."""
    import pandas as pd
    import torch

    import deepad
    from deepad.bench.datasets import fit_data, load_dataset, split_dataset

    torch.set_num_threads(1)
    X, y = load_dataset(data / f"{dataset}.npz")
    rows = fit_data(split_dataset(X, y, seed), "oneclass", seed, None)
    columns = [f"x{i}" for i in range(X.shape[1])]
    train = pd.DataFrame(rows.X_fit, columns=columns)
    test = pd.DataFrame(rows.X_test, columns=columns)
    cls = getattr(deepad, name)
    if "random_state" in cls._get_param_names():
        params = {"random_state": seed, **params}
    return cls(**params).fit(train), test, rows.y_test


def per_detector_main(
    doc: str,
    datasets: list[str],
    detectors: list[str],
    run: Callable[..., dict],
    report: Callable[[list[dict]], str],
    results: str,
    describe: Callable[[dict], str],
    emit: Callable[[str, Path | None], None],
) -> None:
    """The command line of a (dataset, detector) benchmark: choose, run resumably, report."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=datasets)
    parser.add_argument("--detectors", nargs="*", default=detectors)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--results", type=Path, default=Path(results))
    parser.add_argument("--out", type=Path, help="also write the Markdown tables here")
    args = parser.parse_args()
    jobs = [(d, n) for d in args.datasets for n in args.detectors]
    done = run_resumable(
        jobs,
        run,
        args.results,
        lambda r: (r["dataset"], r["detector"]),
        workers=args.jobs,
        describe=describe,
    )
    emit(report([r for r in done.values() if r["dataset"] in args.datasets]), args.out)


def per_dataset_table(
    records: list[dict], datasets: list[str], detectors: list[str], cell: Callable[[dict], str]
) -> list[str]:
    """Markdown rows: one per detector, one column per dataset that has records."""
    present = [d for d in datasets if any(r["dataset"] == d for r in records)]
    lines = ["| detector | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
    for name in detectors:
        row = {r["dataset"]: r for r in records if r["detector"] == name}
        cells = [cell(row[d]) if d in row else "-" for d in present]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines
