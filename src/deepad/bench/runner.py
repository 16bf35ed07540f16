"""The resumable benchmark loop: every pending job, one child process each, one row each.

Jobs run in the order dataset -> seed -> setting -> detector, so each dataset is loaded
once and each seed's split is cut once for all detectors (which therefore see identical
rows). Before starting, every job already in ``runs.csv`` is skipped: rerunning the same
command continues a stopped run, and deleting rows from runs.csv reruns exactly those.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deepad.bench.datasets import find_datasets, fit_data, load_dataset, split_dataset
from deepad.bench.detectors import Factory, make_detector, resolve_ours, runs_in
from deepad.bench.jobs import Job, JobResult, describe_exception, run_job
from deepad.bench.peers import pyod_available, resolve_peers
from deepad.bench.protocol import SETTINGS
from deepad.bench.report import write_summary
from deepad.bench.store import RunsWriter, done_keys, record_invocation, start_fresh

LOG = "jobs.log"


@dataclass
class BenchConfig:
    """What ``deepad bench tabular`` was asked to run (see its ``--help``)."""

    data_dir: Path
    out_dir: Path = Path("bench-results")
    datasets: list[str] | None = None
    settings: list[str] = field(default_factory=lambda: list(SETTINGS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    #: deepad detectors by name; None = all of ``deepad.DETECTORS``
    detectors: list[str] | None = None
    #: ``none``, ``all`` or a comma list; None = all when PyOD is installed
    peers: str | None = None
    timeout: float = 600.0
    max_train_rows: int | None = 100_000
    #: torch threads per job; None = os.cpu_count()
    threads: int | None = None
    #: rows deepad's detectors hold out for calibration (``fit(calibration_size=...)``)
    calibration_size: int | float | str = "auto"
    fresh: bool = False
    #: the command line, recorded in the summary
    command: str = ""


def _check(config: BenchConfig) -> None:
    unknown = [s for s in config.settings if s not in SETTINGS]
    if unknown or not config.settings:
        raise ValueError(f"unknown setting(s) {unknown}; choose from {list(SETTINGS)}")
    if not config.seeds:
        raise ValueError("give at least one seed")
    if config.timeout <= 0:
        raise ValueError(f"--timeout must be positive, got {config.timeout}")
    if config.max_train_rows is not None and config.max_train_rows < 2:
        raise ValueError(f"--max-train-rows must be at least 2, got {config.max_train_rows}")
    if config.threads is not None and config.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {config.threads}")


def _progress_line(index: int, total: int, result: JobResult, widths: Sequence[int]) -> str:
    job = result.job
    where = (
        f"[{index:>{len(str(total))}}/{total}] {job.dataset:<{widths[0]}} "
        f"{job.setting:<{widths[1]}} {job.detector:<{widths[2]}} seed {job.seed}"
    )
    if result.ok:
        outcome = f"AUROC {result.auroc:.4f}  AUPRC {result.auprc:.4f}"
    else:
        outcome = f"FAILED {result.error}"
    return f"{where}  {outcome}  ({result.wall_seconds:.1f}s)"


def run_benchmark(
    config: BenchConfig,
    factory: Factory = make_detector,
    echo: Callable[[str], None] = print,
) -> Path:
    """Run every pending job of ``config``, append to runs.csv, write the summary.

    ``factory`` builds each detector inside its job's child process (see
    ``deepad.bench.detectors``); ``echo`` receives the progress lines. Returns the path
    of summary.md. Raises ``ValueError``/``ImportError`` for a bad request before any
    job runs; a failing job never raises.
    """
    _check(config)
    datasets = find_datasets(config.data_dir, config.datasets)
    detectors = resolve_ours(config.detectors) + resolve_peers(config.peers)
    if not detectors:
        raise ValueError("no detectors selected (--detectors none and --peers none)")
    if config.peers is None and not pyod_available():
        echo("pyod is not installed: running without PyOD peers (pip install 'deepad[bench]')")
    threads = config.threads or os.cpu_count() or 1
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(out_dir):
        return _run_locked(config, factory, echo, datasets, detectors, threads, out_dir)


def _run_locked(
    config: BenchConfig,
    factory: Factory,
    echo: Callable[[str], None],
    datasets: dict[str, Path],
    detectors: list[str],
    threads: int,
    out_dir: Path,
) -> Path:
    """run_benchmark's body, once the results folder is ours alone."""
    if config.fresh:
        start_fresh(out_dir)
    done = done_keys(out_dir)
    seeds = list(dict.fromkeys(config.seeds))
    settings = [s for s in SETTINGS if s in config.settings]
    jobs = [
        Job(dataset, setting, detector, seed)
        for dataset in datasets
        for seed in seeds
        for setting in settings
        for detector in detectors
        if runs_in(detector, setting)  # e.g. DevNet has nothing to learn without labels
    ]
    pending = [job for job in jobs if job.key not in done]
    record_invocation(
        out_dir,
        config.command,
        {
            **asdict(config),
            "datasets": list(datasets),
            "detectors": detectors,
            "settings": settings,
            "seeds": seeds,
            "threads": threads,
        },
    )
    echo(
        f"{len(jobs)} jobs ({len(datasets)} datasets x {len(settings)} settings x "
        f"{len(detectors)} detectors x {len(seeds)} seeds): {len(jobs) - len(pending)} already "
        f"in {out_dir / 'runs.csv'}, {len(pending)} to run; timeout {config.timeout:g}s, "
        f"{threads} threads"
    )
    widths = [
        max((len(getattr(j, a)) for j in jobs), default=0)
        for a in ("dataset", "setting", "detector")
    ]
    try:
        with _terminate_as_interrupt(), RunsWriter(out_dir) as writer:
            _run_pending(pending, datasets, config, factory, threads, out_dir, writer, echo, widths)
    except KeyboardInterrupt:
        echo("interrupted: rerun the same command to continue where this run stopped")
        if done or pending:
            _try_summary(out_dir, echo)
        raise
    summary = write_summary(out_dir)
    echo(f"wrote {out_dir / 'runs.csv'}, {out_dir / 'per_dataset.csv'} and {summary}")
    return summary


@contextmanager
def _exclusive(out_dir: Path) -> Iterator[None]:
    """Hold ``OUT/.lock`` so that two runs never append to one runs.csv at once.

    The lock dies with its process, so a killed run never leaves the folder locked.
    (Without ``fcntl``, e.g. on Windows, runs are not guarded.)
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    with (out_dir / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ValueError(
                f"another deepad bench run is writing to {str(out_dir)!r}; "
                "wait for it to finish or use another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so the job in flight is killed and the summary written."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _try_summary(out_dir: Path, echo: Callable[[str], None]) -> None:
    try:
        write_summary(out_dir)
    except ValueError:
        pass
    else:
        echo(f"summary of the results so far: {out_dir / 'summary.md'}")


def _run_pending(
    pending: list[Job],
    datasets: dict[str, Path],
    config: BenchConfig,
    factory: Factory,
    threads: int,
    out_dir: Path,
    writer: RunsWriter,
    echo: Callable[[str], None],
    widths: Sequence[int],
) -> None:
    """Run ``pending`` in order, cutting each (dataset, seed) split once."""
    groups: dict[tuple[str, int], list[Job]] = {}
    for job in pending:
        groups.setdefault((job.dataset, job.seed), []).append(job)
    index = 0
    loaded: tuple[str, tuple] | None = None
    for (dataset, seed), group in groups.items():
        try:
            if loaded is None or loaded[0] != dataset:
                loaded = (dataset, load_dataset(datasets[dataset]))
            split = split_dataset(*loaded[1], seed=seed)
            cut = {
                setting: fit_data(split, setting, seed, config.max_train_rows)
                for setting in dict.fromkeys(job.setting for job in group)
            }
            for setting, data in cut.items():
                if data.n_train_used < data.n_train:
                    echo(
                        f"{dataset} seed {seed} {setting}: fitting on {data.n_train_used:,} of "
                        f"{data.n_train:,} training rows (--max-train-rows)"
                    )
        except Exception as exc:  # a broken file costs its own jobs, not the run
            reason = f"data: {describe_exception(exc)}"
            for job in group:
                index += 1
                result = JobResult(job=job, status="failed", error=reason)
                writer.append(result.row())
                echo(_progress_line(index, len(pending), result, widths))
            continue
        for job in group:
            index += 1
            result = run_job(
                job,
                cut[job.setting],
                factory=factory,
                timeout=config.timeout,
                threads=threads,
                log_path=out_dir / LOG,
                calibration_size=config.calibration_size,
            )
            writer.append(result.row())
            echo(_progress_line(index, len(pending), result, widths))
