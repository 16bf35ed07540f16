"""``deepad stress BUNDLE DATA``: how far a table detector's scores and decisions move
under noise, a missing column, a unit change and duplicated rows (see
:mod:`deepad.robustness.stress`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


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


def cmd_stress(args: argparse.Namespace) -> None:
    """Run the stress tests, print the report."""
    from deepad.cli import _UNITS, UsageError, _load_inputs, _write_table
    from deepad.robustness import stress_test

    detector, _, frame = _load_inputs(args)
    if detector.modality != "table":
        raise UsageError(
            f"deepad stress reads tables; this bundle scores {_UNITS[detector.modality]}"
        )
    report = stress_test(
        detector, frame, noise_levels=tuple(args.noise), unit_factor=args.unit_factor,
        seed=args.seed,
    )  # fmt: skip
    if args.out:
        _write_table(report.to_frame(), Path(args.out))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    print(render(report, args))


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
