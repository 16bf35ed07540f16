"""One benchmark job (dataset, setting, detector, seed) in a child process with a timeout.

Why a child per job: a detector that hangs, leaks memory, crashes the interpreter or
floods the console must cost one row of results, not the run. The parent waits at most
``timeout`` seconds for the child's answer, then kills it; an exception inside the child
comes back as ``ExceptionType: message``; a child that dies without answering is recorded
with its exit code.

Why ``forkserver`` (``spawn`` off Linux): forking the parent after torch has started its
thread pools can deadlock, while a fresh interpreter per job would pay ~2 s of imports
each time. The fork server imports deepad (and PyOD, when present) once, never runs a
torch op, and forks each job from that clean state in milliseconds.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from deepad.bench.datasets import FitData
from deepad.bench.detectors import Factory, learns_from_labels, make_detector
from deepad.bench.thresholds import threshold_metrics
from deepad.core.base import BaseDetector


@dataclass(frozen=True)
class Job:
    """What to run: one detector on one dataset, setting and seed."""

    dataset: str
    setting: str
    detector: str
    seed: int

    @property
    def key(self) -> tuple[str, str, str, int]:
        """(dataset, setting, detector, seed): the identity of a row in runs.csv."""
        return (self.dataset, self.setting, self.detector, self.seed)


@dataclass(frozen=True)
class JobResult:
    """The outcome of one job: metrics and timings when ``status == "ok"``, else ``error``."""

    job: Job
    status: str
    auroc: float | None = None
    auprc: float | None = None
    fit_seconds: float | None = None
    score_seconds: float | None = None
    n_train: int | None = None
    n_train_used: int | None = None
    n_test: int | None = None
    n_features: int | None = None
    error: str = ""
    wall_seconds: float = 0.0
    #: realised FPR / recall / FDP at the asked-for rates (``deepad.bench.thresholds``)
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the job produced finite scores and metrics."""
        return self.status == "ok"

    def row(self) -> dict[str, Any]:
        """This result as a runs.csv row (floats rounded to keep the file readable)."""

        def rounded(value: float | None, digits: int) -> float | str:
            return "" if value is None else round(float(value), digits)

        return {
            "dataset": self.job.dataset,
            "setting": self.job.setting,
            "detector": self.job.detector,
            "seed": self.job.seed,
            "status": self.status,
            "auroc": rounded(self.auroc, 6),
            "auprc": rounded(self.auprc, 6),
            "fit_seconds": rounded(self.fit_seconds, 4),
            "score_seconds": rounded(self.score_seconds, 4),
            "n_train": "" if self.n_train is None else self.n_train,
            "n_train_used": "" if self.n_train_used is None else self.n_train_used,
            "n_test": "" if self.n_test is None else self.n_test,
            "n_features": "" if self.n_features is None else self.n_features,
            "error": self.error,
            **{
                name: rounded(value, 6) if isinstance(value, float) else value
                for name, value in self.thresholds.items()
            },
        }


def describe_exception(exc: BaseException) -> str:
    """``ExceptionType: first line of the message`` (the type alone when there is none)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def evaluate(
    job: Job,
    data: FitData,
    factory: Factory = make_detector,
    calibration_size: int | float | str = "auto",
) -> dict[str, Any]:
    """Build, fit and score one detector in this process; metrics on the test rows.

    Detectors that declare ``uses_labels`` get ``fit(X, y_fit)`` when the setting has
    labels; every other detector gets ``fit(X)``. deepad's detectors also get
    ``calibration_size`` (the rows they hold out of training to calibrate p-values).
    Exceptions propagate; non-finite scores are returned as a failure.
    """
    estimator = factory(job.detector, job.seed, data.n_features)
    fit_params = (
        {"calibration_size": calibration_size} if isinstance(estimator, BaseDetector) else {}
    )
    start = time.perf_counter()
    if data.y_fit is not None and learns_from_labels(estimator):
        estimator.fit(data.X_fit, data.y_fit, **fit_params)
    else:
        estimator.fit(data.X_fit, **fit_params)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = np.asarray(estimator.decision_function(data.X_test), dtype=np.float64).ravel()
    score_seconds = time.perf_counter() - start
    timings = {"fit_seconds": fit_seconds, "score_seconds": score_seconds}
    if scores.shape != (data.n_test,):
        raise ValueError(f"decision_function gave {scores.shape[0]} scores for {data.n_test} rows")
    bad = int((~np.isfinite(scores)).sum())
    if bad:
        return {
            "status": "failed",
            "error": f"non-finite scores ({bad} of {data.n_test} test rows)",
            **timings,
        }
    return {
        "status": "ok",
        "auroc": float(roc_auc_score(data.y_test, scores)),
        "auprc": float(average_precision_score(data.y_test, scores)),
        "thresholds": threshold_metrics(estimator, scores, data.y_test),
        **timings,
    }


def _limit_threads(threads: int | None) -> Any:
    """Cap torch's and the BLAS/OpenMP pools' threads in this (child) process."""
    if not threads:
        return None
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    return threadpool_limits(limits=threads)


def _redirect_output(log_path: Path, job: Job) -> None:
    """Send this process's stdout and stderr (file descriptors too) to the job log."""
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    header = f"=== {job.dataset} {job.setting} {job.detector} seed {job.seed} (pid {os.getpid()})\n"
    os.write(fd, header.encode())
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _exit_with_parent(lifeline: Connection) -> None:
    """End this child as soon as the parent is gone (``lifeline`` reads EOF then).

    Without this, a parent killed outright (``kill -9``, an out-of-memory kill) would leave
    its job running to the end, holding CPU that the next run needs.
    """

    def watch() -> None:
        try:
            wait([lifeline])
        finally:
            os._exit(70)

    threading.Thread(target=watch, name="deepad-bench-lifeline", daemon=True).start()


def _child(
    conn: Connection,
    lifeline: Connection,
    job: Job,
    data: FitData,
    factory: Factory,
    threads: int | None,
    log_path: Path | None,
    calibration_size: int | float | str,
) -> None:
    """Child process body: run the job and send back one dict, whatever happens."""
    _exit_with_parent(lifeline)
    try:
        if log_path is not None:
            _redirect_output(log_path, job)
        limiter = _limit_threads(threads)
        message = evaluate(job, data, factory, calibration_size)
        del limiter
    except Exception as exc:
        message = {"status": "failed", "error": describe_exception(exc)}
    try:
        conn.send(message)
    finally:
        conn.close()
        sys.stdout.flush()
        sys.stderr.flush()


_CONTEXT: Any = None


def _context() -> Any:
    """The multiprocessing context for jobs: a preloaded fork server on Linux, else spawn."""
    global _CONTEXT
    if _CONTEXT is None:
        if sys.platform.startswith("linux") and "forkserver" in mp.get_all_start_methods():
            context = mp.get_context("forkserver")
            context.set_forkserver_preload(["deepad.bench._warm"])
        else:
            context = mp.get_context("spawn")
        _CONTEXT = context
    return _CONTEXT


def run_job(
    job: Job,
    data: FitData,
    factory: Factory = make_detector,
    timeout: float = 600.0,
    threads: int | None = None,
    log_path: str | Path | None = None,
    calibration_size: int | float | str = "auto",
) -> JobResult:
    """Run ``job`` in a child process; never raises for the detector's sake.

    ``factory`` must be picklable by reference (a module-level function) since it crosses
    the process boundary. ``threads`` caps torch's threads in the child; ``log_path``
    collects the child's stdout/stderr (None: inherit the parent's). The child ends itself
    if this process dies. As with any forkserver/spawn use, a script calling this needs the
    ``if __name__ == "__main__":`` guard.
    """
    sizes = {
        "n_train": data.n_train,
        "n_train_used": data.n_train_used,
        "n_test": data.n_test,
        "n_features": data.n_features,
    }
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    lifeline, keepalive = context.Pipe(duplex=False)  # the child's end reads EOF if we die
    process = context.Process(
        target=_child,
        args=(
            sender,
            lifeline,
            job,
            data,
            factory,
            threads,
            None if log_path is None else Path(log_path),
            calibration_size,
        ),
        name=f"deepad-bench-{job.detector}",
    )
    start = time.perf_counter()
    message: dict[str, Any] | None = None
    answered = False
    try:
        process.start()
        sender.close()  # only the child writes; its exit then reads as EOF here
        lifeline.close()
        ready = wait([receiver, process.sentinel], timeout=timeout)
        if receiver in ready or (ready and receiver.poll(0)):
            try:
                message = receiver.recv()
                answered = True
            except (EOFError, OSError):
                message = None
        if message is None:
            if not ready:
                message = {"status": "failed", "error": f"timeout after {timeout:g}s"}
            else:
                process.join(timeout=5)
                message = {
                    "status": "failed",
                    "error": f"child process died without a result (exit code {process.exitcode})",
                }
    finally:
        sender.close()
        lifeline.close()
        if process.pid is not None:  # started
            # a child that answered gets a moment to exit on its own; any other is killed
            process.join(timeout=10 if answered else 0)
            if process.is_alive():
                process.kill()
                process.join()
            process.close()
        receiver.close()
        keepalive.close()
    return JobResult(
        job=job,
        status=message["status"],
        auroc=message.get("auroc"),
        auprc=message.get("auprc"),
        fit_seconds=message.get("fit_seconds"),
        score_seconds=message.get("score_seconds"),
        error=message.get("error", ""),
        thresholds=message.get("thresholds", {}),
        wall_seconds=time.perf_counter() - start,
        **sizes,
    )
