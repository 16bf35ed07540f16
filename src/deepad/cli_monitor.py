"""``deepad monitor BUNDLE DATA``: test a data file for drift against a bundle's training
data, as one window or as tumbling windows of ``--window`` rows (see
:mod:`deepad.monitor.window` for the tests and the decision rule)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: columns listed in the one-window text report (``--out`` writes them all)
LISTED_COLUMNS = 10

#: per-feature fields written by ``--out``, in order
FEATURE_FIELDS = (
    "column", "kind", "test", "psi", "ks_statistic", "chi_square", "distance",
    "outside_share", "p_value", "mean_shift", "missing_share", "drifted",
)  # fmt: skip


def add_monitor_command(commands: Any) -> None:
    """Register ``deepad monitor``."""
    from deepad.cli import _rate

    monitor = commands.add_parser(
        "monitor",
        help="test a table for drift against a bundle's training data (inputs and scores)",
        description="Compare a data file with what the bundle remembers of its training "
        "data: per column (KS and PSI, chi-square for categories), all columns together "
        "(MMD), the scores' p-values (uniformity) and the flagged share (bursts). The exit "
        "status is 0 whether or not drift is found.",
    )
    monitor.add_argument("bundle", help="bundle directory written by `deepad fit`")
    monitor.add_argument("data", help="rows to test: .csv or .parquet with the training columns")
    monitor.add_argument(
        "--window",
        type=int,
        metavar="N",
        help="test tumbling windows of N rows (the last may be shorter), one line each "
        "(default: the whole file as one window)",
    )
    monitor.add_argument(
        "--alpha",
        type=_rate,
        default=0.01,
        metavar="A",
        help="false-alarm level of one window's drift tests together (default 0.01)",
    )
    monitor.add_argument("--json", action="store_true", help="print the reports as JSON")
    monitor.add_argument(
        "--out", metavar="FILE", help="write the per-column table (.csv or .parquet)"
    )
    monitor.set_defaults(func=cmd_monitor)


def cmd_monitor(args: argparse.Namespace) -> None:
    """Score the file, test it window by window, print the report."""
    from deepad.cli import _UNITS, UsageError, _load_bundle, _load_inputs, _write_table
    from deepad.monitor import DriftMonitor

    if args.window is not None and args.window < 2:
        raise UsageError(f"--window must be at least 2 rows, got {args.window}")
    detector = _load_bundle(args)
    if detector.modality not in ("table", "series"):
        raise UsageError(
            f"deepad monitor reads tables and series; this bundle scores "
            f"{_UNITS[detector.modality]} (its drift shows in `deepad report`)"
        )
    detector, _, frame = _load_inputs(args, detector)
    if not len(frame):
        raise UsageError(f"{args.data} has no rows")
    scores = detector.decision_function(frame)
    calibrator = detector.calibrator_
    p_values = calibrator.p_values(scores) if calibrator.n_calibration else None
    flags = calibrator.decide(scores)
    monitor = DriftMonitor(detector, alpha=args.alpha)
    size = args.window or len(frame)
    reports = [
        monitor.report(
            frame.iloc[start : start + size],
            scores[start : start + size],
            None if p_values is None else p_values[start : start + size],
            flags[start : start + size],
            index=number,
            start=start,
        )
        for number, start in enumerate(range(0, len(frame), size), start=1)
    ]
    if args.out:
        path = Path(args.out)
        _write_table(feature_table(reports), path)
    if args.json:
        print(
            json.dumps(
                {
                    "bundle": str(args.bundle),
                    "data": str(args.data),
                    "rows": len(frame),
                    "rule": calibrator.describe(),
                    "windows": [r.to_dict() for r in reports],
                },
                indent=2,
            )
        )
    elif args.window is None:
        print(render_window(reports[0], detector, args))
    else:
        print(render_windows(reports, detector, args))
    if args.out and not args.json:
        print(f"wrote the per-column table to {args.out}")


def feature_table(reports: list[Any]) -> pd.DataFrame:
    """One row per (window, column): the fields of :data:`FEATURE_FIELDS`."""
    rows = []
    for report in reports:
        for feature in report.to_dict()["features"]:
            rows.append(
                {
                    "window": report.index,
                    "first_row": report.start,
                    "rows": report.rows,
                    **{key: feature.get(key) for key in FEATURE_FIELDS},
                }
            )
    return pd.DataFrame(rows, columns=["window", "first_row", "rows", *FEATURE_FIELDS])


def render_window(report: Any, detector: Any, args: argparse.Namespace) -> str:
    """The readable report of the whole file as one window."""
    record = report.to_dict()
    lines = [
        f"drift of {args.data} against the training data of {args.bundle} "
        f"({type(detector).__name__}, {detector.modality}): {report.rows} rows as one window",
        f"{report.tests} tests at alpha {report.alpha:g} together (each at "
        f"{report.alpha / max(report.tests, 1):.2g}); {_reference_words(report.reference)}",
        "",
        f"verdict: {_verdict(report)}",
    ]
    lines += [f"  {a['kind']}: {a['message']}" for a in record["alerts"]]
    features = record["features"]
    if features:
        lines += ["", _feature_lines(features[:LISTED_COLUMNS])]
        if len(features) > LISTED_COLUMNS:
            lines.append(f"... and {len(features) - LISTED_COLUMNS} more columns (--out, --json)")
    lines.append("")
    mv = record["multivariate"]
    if mv["mmd"] is not None:
        lines.append(
            f"all columns together: MMD^2 {mv['mmd']:.3g}, p = {_p(mv['p_value'])} "
            f"({'drifted' if mv['drifted'] else 'no drift'}; {mv['rows']} rows against the "
            "bundle's training sample)"
        )
    lines.append(_score_line(record["score"]))
    lines += [f"note: {note}" for note in record["notes"]]
    return "\n".join(lines)


def render_windows(reports: list[Any], detector: Any, args: argparse.Namespace) -> str:
    """One summary line per window, then a count."""
    lines = [
        f"drift of {args.data} against the training data of {args.bundle} "
        f"({type(detector).__name__}): {sum(r.rows for r in reports)} rows in "
        f"{len(reports)} window(s) of {args.window} rows; alpha {args.alpha:g} per window",
    ]
    for report in reports:
        record = report.to_dict()
        score = record["score"]
        kinds = [a["kind"] for a in record["alerts"]]
        text = (
            f"window {report.index} rows {report.start + 1}-{report.start + report.rows}: "
            f"{'DRIFT' if report.drifted else 'no drift'}"
            + (f" [{', '.join(kinds)}]" if kinds else "")
            + f"; flagged {_share(score['flagged_share'])}"
            + (
                f" (stated {_share(score['expected_share'])})"
                if score["expected_share"] is not None
                else ""
            )
        )
        drifted = [f for f in record["features"] if f["drifted"]]
        if drifted:
            text += "; drifted: " + ", ".join(_column_words(f) for f in drifted[:5])
            if len(drifted) > 5:
                text += f" and {len(drifted) - 5} more"
        lines.append(text)
    drifted = sum(r.drifted for r in reports)
    bursts = sum(any(a["kind"] == "anomaly_burst" for a in r.alerts) for r in reports)
    lines.append(f"{drifted} of {len(reports)} window(s) drifted; {bursts} anomaly burst(s)")
    notes = reports[0].notes if reports else []
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)


def _feature_lines(features: list[dict[str, Any]]) -> str:
    headers = ("column", "kind", "test", "PSI", "statistic", "p-value", "drifted")
    rows = []
    for f in features:
        statistic = f.get("ks_statistic")
        if statistic is None:
            statistic = f.get("distance", f.get("outside_share"))
        rows.append(
            (
                str(f["column"]),
                f["kind"],
                f.get("test", ""),
                _num(f.get("psi")),
                _num(statistic),
                _p(f["p_value"]),
                "yes" if f["drifted"] else "no",
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)


def _score_line(score: dict[str, Any]) -> str:
    text = "scores: "
    if score["p_value"] is None:
        text += "no p-values (the bundle has no calibration rows)"
    else:
        text += (
            f"p-value uniformity KS {score['ks_statistic']:.3f}, p = {_p(score['p_value'])} "
            f"({'drifted' if score['drifted'] else 'no drift'})"
        )
    text += f"; flagged {score['flagged']} ({_share(score['flagged_share'])})"
    if score["expected_share"] is not None:
        text += (
            f" against {_share(score['expected_share'])} stated, binomial p = "
            f"{_p(score['burst_p_value'])} ({'burst' if score['burst'] else 'no burst'})"
        )
    return text


def _verdict(report: Any) -> str:
    if report.alerts:
        kinds = ", ".join(a["kind"] for a in report.alerts)
        verdict = "DRIFT" if report.drifted else "no drift"
        return f"{verdict} ({len(report.alerts)} alert(s): {kinds})"
    return "no drift, no alerts"


def _reference_words(reference: str) -> str:
    return {
        "quantiles": "columns against the bundle's training quantiles and bins",
        "range": "columns against the training 5-95% ranges",
        "none": "score tests only",
    }[reference]


def _column_words(feature: dict[str, Any]) -> str:
    if feature.get("psi") is not None:
        return f"{feature['column']} (PSI {feature['psi']:.2f})"
    return str(feature["column"])


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3g}"


def _p(value: Any) -> str:
    return "-" if value is None else f"{value:.2g}"


def _share(value: Any) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.1%}"
