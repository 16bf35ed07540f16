"""``score``: a bundle scoring Parquet or CSV files on Ray, written back as Parquet.

Ray Data reads the files in blocks; ``map_batches`` runs them through an actor pool in
which every actor loads the bundle once (a ``deepad export`` folder is scored with ONNX
Runtime, without torch) and turns each batch into the input's id columns, score, p-value
and decision. Actors that die are restarted and their batches retried, so every row is
scored once in the output. The output is a folder of Parquet files; rows are not in input
order, which is why the id columns travel with them (given, or the columns the bundle
excluded at fit time).

Without ``address`` a local Ray starts embedded in this process (``num_cpus`` workers);
``address="auto"`` or ``"ray://host:10001"`` joins a running cluster, and the same call
then spreads over its nodes.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepad.core.extras import MissingExtraError

#: what to install when Ray is missing
RAY_HINT = "pip install 'deepad[ray]' (Ray Data)"
#: rows per batch given to an actor
DEFAULT_BATCH_ROWS = 65_536


def _ray() -> Any:
    try:
        import ray
        import ray.data  # the Data library is a separate import
    except ImportError as exc:
        raise MissingExtraError(f"distributed scoring needs Ray; {RAY_HINT}") from exc
    return ray


def input_files(source: str | Path | Sequence[str | Path]) -> list[str]:
    """The Parquet or CSV files a source names: a file, a folder, a glob, or a list."""
    items = [source] if isinstance(source, (str, Path)) else list(source)
    files: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in _FORMATS)
        elif path.is_file():
            found = [str(path)]
        else:
            found = sorted(glob.glob(str(item)))
        if not found:
            raise FileNotFoundError(f"no Parquet or CSV files at {item}")
        files.extend(found)
    kinds = {_FORMATS.get(Path(f).suffix.lower()) for f in files}
    if None in kinds:
        bad = next(f for f in files if Path(f).suffix.lower() not in _FORMATS)
        raise ValueError(f"cannot score {bad}: distributed scoring reads .parquet or .csv files")
    if len(kinds) > 1:
        raise ValueError("give Parquet or CSV files, not both in one job")
    return files


_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


class BundleScorer:
    """One Ray actor: loads the bundle once, then scores batches (pandas DataFrames)."""

    def __init__(self, bundle: str, id_columns: list[str], fpr: float | None) -> None:
        from deepad.runtime.model import is_exported

        if is_exported(bundle):
            from deepad.runtime import load_exported

            self.exported = load_exported(bundle, threads=1)
            self.detector = None
        else:
            import torch

            from deepad.bundle import load

            torch.set_num_threads(1)  # one core per actor; the pool is the parallelism
            self.exported = None
            self.detector = load(bundle)
        self.id_columns = id_columns
        self.fpr = fpr

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        out = batch[self.id_columns].reset_index(drop=True)
        out.columns = [f"input_{c}" if c in _OUTPUTS else c for c in out.columns]
        if self.exported is not None:
            result = self.exported.score(batch, fpr=self.fpr)
            out["score"] = result["score"]
            if self.exported.metadata["threshold"]["calibration_rows"]:
                out["p_value"] = result["p_value"]
            out["label"] = np.asarray(result["decision"], dtype=np.int64)
            return out
        scores = self.detector.decision_function(batch)
        calibrator = self.detector.calibrator_
        out["score"] = scores
        if calibrator.n_calibration:
            out["p_value"] = calibrator.p_values(scores)
        out["label"] = np.asarray(calibrator.decide(scores, fpr=self.fpr), dtype=np.int64)
        return out


_OUTPUTS = ("score", "p_value", "label")


@contextmanager
def ray_session(address: str | None, local_cpus: int) -> Iterator[Any]:
    """Ray for one job: the running one if this process has it, else a cluster at
    ``address``, else a local Ray with ``local_cpus`` CPUs, shut down afterwards."""
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    ray.init(
        address=address,
        num_cpus=None if address else local_cpus,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _bundle_facts(bundle: str) -> tuple[str, dict[str, Any]]:
    """(modality, lineage) of a bundle or an exported folder, read without loading it."""
    from deepad.runtime.model import is_exported

    if is_exported(bundle):
        from deepad.runtime import load_exported

        return "table", load_exported(bundle).metadata.get("lineage", {})
    from deepad.bundle import read_manifest

    manifest = read_manifest(bundle)
    return manifest["modality"], manifest.get("lineage", {})


def score(
    bundle: str | Path,
    source: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    id_columns: Sequence[str] | None = None,
    fpr: float | None = None,
    address: str | None = None,
    num_workers: int | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: bool = True,
    actor: type = BundleScorer,
) -> dict[str, Any]:
    """Score ``source`` with ``bundle`` on Ray; write Parquet files into ``out``.

    Returns what ran: rows, seconds, workers and the output folder. ``id_columns``
    default to the columns excluded at fit time that the files have; with none, the job
    is refused, since the output's rows come back in no particular order. ``actor`` is
    the class each worker runs (``BundleScorer``, or a subclass that adds columns).
    """
    import time

    bundle = str(Path(bundle))
    modality, lineage = _bundle_facts(bundle)
    if modality != "table":
        raise ValueError(
            f"distributed scoring scores table rows; this bundle scores {modality} data "
            "(series need their order, images and logs their own readers)"
        )
    files = input_files(source)
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, got {batch_rows}")
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise ValueError(f"{target} is not empty; give a new or empty output folder")
    # locally, one CPU slot beyond the scoring actors for the read and write tasks
    with ray_session(address, (num_workers or _cores()) + 1) as ray:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = progress
        reader = (
            ray.data.read_parquet if files[0].endswith((".parquet", ".pq")) else ray.data.read_csv
        )
        data = reader(files)
        columns = data.columns()
        ids = (
            list(id_columns)
            if id_columns
            else [c for c in lineage.get("id_columns", []) if c in columns]
        )
        missing = [c for c in ids if c not in columns]
        if missing:
            raise ValueError(f"id column(s) {missing} not in the files: {columns}")
        if not ids:
            raise ValueError(
                "distributed output comes back in no particular order: name the id "
                "column(s) that tell rows apart (id_columns / --id-column)"
            )
        cpus = int(ray.available_resources().get("CPU", 1))
        workers = num_workers or max(1, cpus - 1)
        start = time.perf_counter()
        scored = data.map_batches(
            actor,
            fn_constructor_kwargs={"bundle": bundle, "id_columns": ids, "fpr": fpr},
            batch_size=batch_rows,
            batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,  # Ray Data restarts dead actors and retries their batches
        )
        scored.write_parquet(str(target))
        seconds = time.perf_counter() - start
        rows = ray.data.read_parquet(str(target)).count()
    return {"rows": rows, "seconds": seconds, "workers": workers, "out": str(target)}
