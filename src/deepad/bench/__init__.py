"""Benchmark runner: deepad's detectors beside their peers, on the shared datasets.

``deepad bench tabular DATA_DIR`` runs every (dataset, setting, detector, seed) job of the
ADBench tabular protocol in its own child process (so one hung or crashing detector
cannot stop the run), appends one row per job to ``runs.csv`` (so a stopped run resumes
where it stopped) and writes ``per_dataset.csv`` and ``summary.md`` from it.

Modules, lowest first: ``protocol`` (its constants), ``datasets`` (load, split, scale),
``peers`` (PyOD factory), ``detectors`` (names -> unfitted estimators), ``store``
(runs.csv and run metadata), ``jobs`` (one job in a child with a timeout), ``report``
(the summary) and ``runner`` (the resumable loop). bench/ sits above models/; nothing
below imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepad.bench.report import write_summary
    from deepad.bench.runner import BenchConfig, run_benchmark

__all__ = ["BenchConfig", "run_benchmark", "write_summary"]


def __getattr__(name: str) -> Any:
    """Import the runner on first use, so ``deepad --help`` does not load torch."""
    if name in ("BenchConfig", "run_benchmark"):
        from deepad.bench import runner

        return getattr(runner, name)
    if name == "write_summary":
        from deepad.bench.report import write_summary

        return write_summary
    raise AttributeError(f"module 'deepad.bench' has no attribute {name!r}")
