"""``deepad stress BUNDLE DATA``: how far a table detector's scores and decisions move
under noise, a missing column, a unit change and duplicated rows
(:mod:`deepad.robustness.stress`); ``deepad robustness BUNDLE DATA --label-column COL``:
how many known anomalies still get flagged when an attacker may change them within a
budget (:mod:`deepad.robustness.evasion`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_robustness_commands(commands: Any) -> None:
    """Register ``deepad stress`` and ``deepad robustness``."""
    add_stress_command(commands)
    add_evasion_command(commands)


def add_stress_command(commands: Any) -> None:
    """Register ``deepad stress``."""
    stress = commands.add_parser(
        "stress",
        help="stress-test a table bundle: noise, a missing column, unit changes, duplicates",
        description="Score DATA as given and under each perturbation, and report how much "
        "the scores (rank correlation, median change over their IQR) and the decisions "
        "(share flipped, flagged share) move. Exit status 0 whatever the outcome.",
    )
    stress.add_argument("bundle", help="bundle directory written by `deepad fit` (a table)")
    stress.add_argument("data", help="rows to disturb: .csv or .parquet with the training columns")
    stress.add_argument(
        "--noise",
        type=float,
        nargs="+",
        default=[0.01, 0.1, 0.5],
        metavar="S",
        help="noise levels, as multiples of each column's training spread (default 0.01 0.1 0.5)",
    )
    stress.add_argument(
        "--unit-factor",
        type=float,
        default=1000.0,
        help="the factor of the unit change tried on each numeric column (default 1000)",
    )
    stress.add_argument("--seed", type=int, default=0, help="seed of the noise and sampling")
    stress.add_argument("--json", action="store_true", help="print the report as JSON")
    stress.add_argument("--out", metavar="FILE", help="also write the table (.csv or .parquet)")
    stress.set_defaults(func=cmd_stress)


def _table_inputs(args: argparse.Namespace) -> tuple[Any, Any]:
    """The bundle's detector and the data file, refused unless the bundle scores tables."""
    from deepad.cli import _UNITS, UsageError, _load_inputs

    detector, _, frame = _load_inputs(args)
    if detector.modality != "table":
        raise UsageError(
            f"deepad {args.command} reads tables; this bundle scores {_UNITS[detector.modality]}"
        )
    return detector, frame


def _emit(report: Any, args: argparse.Namespace, text: Any) -> None:
    """``--out`` the report's table, then print it as JSON (``--json``) or ``text(report)``."""
    from deepad.cli import _write_table

    if args.out:
        _write_table(report.to_frame(), Path(args.out))
    print(json.dumps(report.to_dict(), indent=2) if args.json else text(report, args))


def cmd_stress(args: argparse.Namespace) -> None:
    """Run the stress tests, print the report."""
    from deepad.robustness import stress_test

    detector, frame = _table_inputs(args)
    report = stress_test(
        detector, frame, noise_levels=tuple(args.noise), unit_factor=args.unit_factor,
        seed=args.seed,
    )  # fmt: skip
    _emit(report, args, render)


def render(report: Any, args: argparse.Namespace) -> str:
    """The report as an aligned text table with its verdicts."""
    lines = [f"stress test of {args.bundle} on {report.rows} rows of {args.data}", ""]
    header = f"{'perturbation':<26} {'detail':<46} {'rank r':>7} {'change/IQR':>10} {'flipped':>8}"
    lines += [header + f" {'flagged':>15}", "-" * (len(header) + 16)]
    for r in report.results:
        what = r.perturbation + (f" ({r.column})" if r.column else "")
        rank = "-" if r.rank_correlation != r.rank_correlation else f"{r.rank_correlation:.3f}"
        lines.append(
            f"{what[:26]:<26} {r.detail[:46]:<46} {rank:>7} {r.median_change_iqr:>10.3g} "
            f"{r.flipped:>8.1%} {r.flagged_before:>6.1%} -> {r.flagged_after:>5.1%}"
        )
    verdict = "ok" if report.noise_ok else "FLIPS WHOLESALE"
    lines += [
        "",
        f"noise up to a tenth of the data's spread: {verdict} (line: at most "
        f"{report.wholesale:.0%} of decisions flipped)",
        "duplicated rows: "
        + ("every copy scores as its original" if report.duplicates_identical else
           "copies score DIFFERENTLY from their originals (scoring depends on the batch)"),
    ]  # fmt: skip
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


def add_evasion_command(commands: Any) -> None:
    """Register ``deepad robustness``."""
    robustness = commands.add_parser(
        "robustness",
        help="attack the known anomalies of a table within budgets: detection rate per budget",
        description="For each budget eps, change the mutable numeric columns of the rows "
        "labelled 1 by at most eps times each column's training spread, searching for the "
        "change that lowers the score most (signed-gradient steps for the deep detectors, "
        "a random search for every detector), and report the share still flagged.",
    )
    robustness.add_argument("bundle", help="bundle directory written by `deepad fit` (a table)")
    robustness.add_argument("data", help="rows with a label column: .csv or .parquet")
    robustness.add_argument(
        "--label-column", required=True, help="column holding 1 (anomaly) and 0 (normal)"
    )
    robustness.add_argument(
        "--mutable",
        nargs="+",
        metavar="COLUMN",
        help="numeric columns an attacker can change (default: every numeric column)",
    )
    robustness.add_argument(
        "--budgets",
        type=float,
        nargs="+",
        default=[0.1, 0.25, 0.5],
        metavar="EPS",
        help="budgets, as multiples of each column's training spread (default 0.1 0.25 0.5)",
    )
    robustness.add_argument(
        "--rounds", type=int, default=200, help="rounds of the black-box search (default 200)"
    )
    robustness.add_argument(
        "--steps", type=int, default=40, help="gradient steps per start (default 40)"
    )
    robustness.add_argument("--seed", type=int, default=0, help="seed of the attacks")
    robustness.add_argument("--json", action="store_true", help="print the report as JSON")
    robustness.add_argument("--out", metavar="FILE", help="also write the curve (.csv/.parquet)")
    robustness.set_defaults(func=cmd_robustness)


def cmd_robustness(args: argparse.Namespace) -> None:
    """Attack the labelled anomalies, print the detection-rate curve."""
    from deepad.cli import _read_labels, _require_columns
    from deepad.robustness import evasion_curve

    detector, frame = _table_inputs(args)
    _require_columns(frame, [args.label_column], "--label-column")
    labels = _read_labels(frame[args.label_column], args.label_column, False)
    report = evasion_curve(
        detector, frame.drop(columns=args.label_column), labels, budgets=tuple(args.budgets),
        mutable=args.mutable, steps=args.steps, rounds=args.rounds, seed=args.seed,
    )  # fmt: skip
    _emit(report, args, render_curve)


def render_curve(report: Any, args: argparse.Namespace) -> str:
    """The detection-rate curve as an aligned text table."""
    lines = [
        f"evasion of {report.anomalies} labelled anomalies in {args.data} "
        f"({report.flagged_clean} flagged before any attack)",
        f"mutable: {', '.join(map(str, report.mutable))}",
        "",
        f"{'budget':>7} {'detected':>9} {'evaded':>7} {'median score':>13}  attack",
    ]
    for p in report.points:
        lines.append(
            f"{p.budget:>7g} {p.detected:>9.1%} {p.evaded:>7} {p.median_score:>13.4g}  {p.attack}"
        )
    lines += ["", f"threshold: {report.threshold:.4g} (the bundle's active rule)"]
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)
