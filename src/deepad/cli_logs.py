"""The log side of ``deepad fit`` / ``score`` / ``explain``: raw log files (with a session
rule) or session files (one session of event ids per line), one row per session out."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd

#: command-line flag -> detector parameter, for the raw-log options (LOG_OPTIONS)
LOG_FLAGS = {
    "--session-regex": "session_regex",
    "--session-window": "session_window",
    "--session-step": "session_step",
    "--time-regex": "time_regex",
    "--content-regex": "content_regex",
    "--message-column": "message_column",
    "--session-column": "session_column",
    "--templates": "templates",
}


def add_log_options(parser: argparse.ArgumentParser) -> None:
    """The ``deepad fit`` flags of log detectors."""
    from deepad.preprocess.log_sessions import LOG_OPTIONS

    group = parser.add_argument_group("log detectors (--modality log)")
    for flag, name in LOG_FLAGS.items():
        group.add_argument(
            flag, dest=name, metavar=name.split("_")[-1].upper(), help=LOG_OPTIONS[name]
        )


def _duration_or_lines(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if re.fullmatch(r"\d+", value.strip()) else value.strip()


def fit_sessions(args: argparse.Namespace, cls: type, params: dict[str, Any]) -> None:
    """``deepad fit app.log --modality log --session-regex ...`` (or a session file)."""
    from deepad.cli import (
        UsageError,
        _read_calibration_size,
        apply_threshold_options,
        refuse_options,
    )

    refuse_options(
        args,
        {
            "--label-column": "label_column",
            "--time-column": "time_column",
            "--exclude": "exclude",
            "--pattern": "pattern",
        },
        "does not apply to logs",
    )
    for flag, name in LOG_FLAGS.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if name in params:
            raise UsageError(f"{flag} and --param {name}=... both given; use one")
        params[name] = (
            _duration_or_lines(value) if name in ("session_window", "session_step") else value
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
    parsed = ""
    if detector.reader_ is not None:
        parsed = f", {len(detector.templates_)} templates learned from the raw lines"
    print(
        f"fitted {cls.__name__} on {detector.training_rows_} sessions ({len(detector.events_)} "
        f"event ids{parsed}) in {seconds:.1f}s; p-values from {calibrator.n_calibration} "
        "sessions held out of training"
    )
    print(f"threshold {detector.threshold_:.6g}: {calibrator.describe()}")
    print(f"bundle written to {bundle}")


def score_sessions(args: argparse.Namespace, detector: Any) -> None:
    """``deepad score BUNDLE new.log --out scores.csv``: session, events, first_line, score,
    p_value, label."""
    from deepad.cli import _decisions, _write_table

    sessions = detector.read(args.data)
    scores = detector.score_sessions(sessions)
    decisions = _decisions(detector.calibrator_, scores, args.fpr, args.fdr)
    result = pd.concat([_session_columns(sessions), decisions], axis=1)
    out = Path(args.out)
    _write_table(result, out)
    print(
        f"scored {len(result)} sessions{_line_summary(sessions)}, flagged "
        f"{int(result['label'].sum())} ({detector.calibrator_.describe()}); wrote {out}"
    )


def explain_sessions(args: argparse.Namespace, detector: Any) -> None:
    """``deepad explain BUNDLE new.log``: per session its score and the events behind it."""
    import sys

    from deepad.cli import _decisions, _write_table

    sessions = detector.read(args.data)  # read and parse the log once, for both
    explanation = detector.explain(sessions, top=args.top)
    table = explanation.top().drop(columns=["session", "score", "flagged"])
    decisions = _decisions(detector.calibrator_, explanation.scores)
    result = pd.concat([_session_columns(sessions), decisions, table], axis=1)
    if args.out is None:
        result.to_csv(sys.stdout, index=False)
        return
    out = Path(args.out)
    _write_table(result, out)
    print(f"explained {len(result)} sessions (top {args.top} events each); wrote {out}")


def _session_columns(sessions: Any) -> pd.DataFrame:
    columns: dict[str, Any] = {
        "session": sessions.keys,
        "events": [len(e) for e in sessions.events],
    }
    if sessions.text:  # raw logs: where each session starts
        columns["first_line"] = [int(lines[0]) + 1 if len(lines) else 0 for lines in sessions.lines]
    return pd.DataFrame(columns)


def _line_summary(sessions: Any) -> str:
    if not sessions.text:
        return ""
    skipped = f"; {sessions.unkeyed_lines} had no session key" if sessions.unkeyed_lines else ""
    return f" from {sessions.total_lines} lines{skipped}"
