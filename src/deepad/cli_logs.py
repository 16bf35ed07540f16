"""The log side of ``deepad fit`` / ``score``: session files in (one session of event ids
per line, as in DeepLog's HDFS data), one row per session out."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd


def fit_sessions(args: argparse.Namespace, cls: type, params: dict[str, Any]) -> None:
    """``deepad fit SESSIONS --model DeepLog``."""
    from deepad.cli import _read_calibration_size, apply_threshold_options, refuse_options

    refuse_options(
        args,
        {
            "--label-column": "label_column",
            "--time-column": "time_column",
            "--exclude": "exclude",
            "--pattern": "pattern",
        },
        "does not apply to session files",
    )
    detector = cls(**params)
    start = time.perf_counter()
    detector.fit(args.data, calibration_size=_read_calibration_size(args.calibration_size))
    seconds = time.perf_counter() - start
    apply_threshold_options(detector, args)
    bundle = detector.save(
        args.out, source=str(Path(args.data).resolve()), fit_seconds=round(seconds, 3)
    )
    calibrator = detector.calibrator_
    print(
        f"fitted {cls.__name__} on {detector.training_rows_} sessions ({len(detector.events_)} "
        f"event ids) in {seconds:.1f}s; p-values from {calibrator.n_calibration} sessions "
        "held out of training"
    )
    print(f"threshold {detector.threshold_:.6g}: {calibrator.describe()}")
    print(f"bundle written to {bundle}")


def score_sessions(args: argparse.Namespace, detector: Any) -> None:
    """``deepad score BUNDLE SESSIONS --out scores.csv``: session, score, p_value, label."""
    from deepad.cli import _decisions, _write_table

    scores = detector.decision_function(args.data)
    decisions = _decisions(detector.calibrator_, scores, args.fpr, args.fdr)
    result = pd.concat([pd.DataFrame({"session": range(len(scores))}), decisions], axis=1)
    out = Path(args.out)
    _write_table(result, out)
    print(
        f"scored {len(result)} sessions, flagged {int(result['label'].sum())} "
        f"({detector.calibrator_.describe()}); wrote {out}"
    )
