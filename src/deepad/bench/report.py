"""From ``runs.csv`` to ``per_dataset.csv`` and ``summary.md``; usable on its own.

Nothing here runs a detector: :func:`write_summary` reads the results folder and writes
the two files, so ``deepad bench tabular --summarize-only --out DIR`` can regenerate them
at any time (mid-run included) and the runner calls the same function at its end.

How the leaderboard aggregates, per setting:

- each dataset first averaged over seeds; a (dataset, detector) counts only when the
  detector succeeded on every seed run for that dataset, so a mean AUROC is never
  flattered by a lucky subset of seeds (the ``datasets`` column says how many counted);
- average rank: per dataset, detectors ranked by mean AUROC (1 = best, ties share the
  average rank), failures and missing results ranked last;
- wins: datasets where a detector has the best mean AUROC, shared on ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepad.bench.protocol import SETTINGS
from deepad.bench.store import KEY, environment, read_invocations, read_runs
from deepad.bench.thresholds import ALPHAS, FDR_Q
from deepad.bench.thresholds import COLUMNS as THRESHOLD_COLUMNS

SUMMARY = "summary.md"
PER_DATASET = "per_dataset.csv"


def _dataset_order(names: Sequence[str]) -> list[str]:
    """ADBench's numeric order (``2_x`` before ``10_y``), then by name."""

    def key(name: str) -> tuple[int, str]:
        head = name.split("_", 1)[0]
        return (int(head) if head.isdigit() else 1 << 30, name.lower())

    return sorted(set(names), key=key)


def _setting_order(names: Sequence[str]) -> list[str]:
    known = [s for s in SETTINGS if s in set(names)]
    return known + sorted(set(names) - set(SETTINGS))


def per_dataset(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean (and std) over seeds per dataset, setting and detector.

    ``complete`` is True when the detector succeeded on every seed that any detector ran
    for that dataset and setting; only complete rows enter the leaderboard.
    """
    columns = [
        "dataset", "setting", "detector", "seeds_run", "seeds_ok", "complete",
        "auroc_mean", "auroc_std", "auprc_mean", "auprc_std",
        "fit_seconds_median", "score_seconds_median", "n_train", "n_train_used",
        *THRESHOLD_COLUMNS,
    ]  # fmt: skip
    if runs.empty:
        return pd.DataFrame(columns=columns)
    expected = runs.groupby(["dataset", "setting"])["seed"].nunique().rename("seeds_expected")
    ok = runs[runs["status"] == "ok"]
    groups = ["dataset", "setting", "detector"]
    frame = runs.groupby(groups).agg(
        seeds_run=("seed", "nunique"),
        n_train=("n_train", "max"),
        n_train_used=("n_train_used", "min"),
    )
    stats = ok.groupby(groups).agg(
        seeds_ok=("seed", "nunique"),
        auroc_mean=("auroc", "mean"),
        auroc_std=("auroc", lambda s: float(np.std(s))),
        auprc_mean=("auprc", "mean"),
        auprc_std=("auprc", lambda s: float(np.std(s))),
        fit_seconds_median=("fit_seconds", "median"),
        score_seconds_median=("score_seconds", "median"),
        **{column: (column, "mean") for column in THRESHOLD_COLUMNS},  # over seeds
    )
    frame = frame.join(stats).reset_index().join(expected, on=["dataset", "setting"])
    frame["seeds_ok"] = frame["seeds_ok"].fillna(0).astype(int)
    frame["complete"] = frame["seeds_ok"] == frame["seeds_expected"]
    datasets = {name: i for i, name in enumerate(_dataset_order(frame["dataset"].tolist()))}
    settings = {name: i for i, name in enumerate(_setting_order(frame["setting"].tolist()))}
    frame = frame.assign(
        _s=frame["setting"].map(settings), _d=frame["dataset"].map(datasets)
    ).sort_values(["_s", "_d", "detector"])
    return frame[columns].reset_index(drop=True)


def leaderboard(table: pd.DataFrame, runs: pd.DataFrame, setting: str) -> pd.DataFrame:
    """One setting's ranking of detectors (see the module docstring), best mean AUROC first."""
    rows = table[table["setting"] == setting]
    detectors = sorted(rows["detector"].unique())
    datasets = _dataset_order(rows["dataset"].tolist())
    complete = rows[rows["complete"]]
    auroc = complete.pivot(index="dataset", columns="detector", values="auroc_mean")
    auroc = auroc.reindex(index=datasets, columns=detectors)
    auprc = complete.pivot(index="dataset", columns="detector", values="auprc_mean")
    auprc = auprc.reindex(index=datasets, columns=detectors)

    # rank per dataset: failures (NaN) tie for last place
    ranks = auroc.fillna(-np.inf).rank(axis=1, ascending=False, method="average")
    best = auroc.round(9).max(axis=1)
    is_best = auroc.round(9).eq(best, axis=0) & auroc.notna()
    wins = is_best.div(is_best.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0).sum()

    ok = runs[(runs["setting"] == setting) & (runs["status"] == "ok")]
    timing = ok.groupby("detector")[["fit_seconds", "score_seconds"]].median()
    board = pd.DataFrame(
        {
            "detector": detectors,
            "auroc": auroc.mean().reindex(detectors).to_numpy(),
            "auprc": auprc.mean().reindex(detectors).to_numpy(),
            "datasets": auroc.notna().sum().reindex(detectors).to_numpy(),
            "of": len(datasets),
            "rank": ranks.mean().reindex(detectors).to_numpy(),
            "wins": wins.reindex(detectors).to_numpy(),
            "fit_seconds": timing["fit_seconds"].reindex(detectors).to_numpy(),
            "score_seconds": timing["score_seconds"].reindex(detectors).to_numpy(),
        }
    )
    return board.sort_values(["auroc", "rank"], ascending=[False, True], na_position="last")


# ------------------------------------------------------------------ formatting
def _num(value: Any, digits: int = 3) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _seconds(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value:.3f}" if value < 1 else f"{value:.3g}" if value < 100 else f"{value:.0f}"


def _wins(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> list[str]:
    """A Markdown table; ``align`` has one ``l``/``r`` per column (default: first left)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _header(out_dir: Path, runs: pd.DataFrame) -> list[str]:
    n_ok = int((runs["status"] == "ok").sum())
    now = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    lines = [
        "# deepad bench tabular",
        "",
        f"Summary written {now} from `{out_dir / 'runs.csv'}`: {len(runs)} jobs, "
        f"{n_ok} succeeded, {len(runs) - n_ok} failed.",
        "",
        "## Runs that produced these results",
        "",
    ]
    invocations = read_invocations(out_dir)
    if not invocations:
        invocations = [{"command": None, **environment()}]
        lines.append("No invocations.jsonl in the folder; environment at summary time:")
        lines.append("")
    for entry in invocations:
        command = entry.get("command")
        git = f" ({entry['deepad_git']})" if entry.get("deepad_git") else ""
        lines += [
            f"- Command: `{command}`" if command else "- Command: unknown",
            f"  - Date: {entry.get('date')}",
            f"  - Machine: {entry.get('platform')}, {entry.get('processor')}, "
            f"{entry.get('cpu_count')} CPUs",
            f"  - Versions: Python {entry.get('python')}, deepad {entry.get('deepad')}{git}, "
            f"torch {entry.get('torch')}, scikit-learn {entry.get('scikit-learn')}, "
            f"pyod {entry.get('pyod')}",
        ]
    lines += [
        "",
        "Protocol: per seed, a stratified 70/30 split; MinMaxScaler fitted on the training "
        "rows; *unsupervised* fits on all training rows, *oneclass* on those with y = 0, "
        "*labeled* on all training rows with 5% (at least 1) of their anomalies labelled 1 "
        "and every other row -1 (only detectors with `uses_labels` see the labels; those "
        "that cannot fit without them, such as DevNet, run in *labeled* only). "
        "Test AUROC/AUPRC of `decision_function`. Every detector at its defaults "
        "(`random_state` = seed where it has one); PyOD peers are prefixed `pyod.`.",
        "",
    ]
    return lines


def _leaderboard_section(setting: str, board: pd.DataFrame) -> list[str]:
    rows = [
        [
            r.detector,
            _num(r.auroc),
            _num(r.auprc),
            f"{r.datasets}/{r.of}",
            _num(r.rank, 2),
            _wins(r.wins),
            _seconds(r.fit_seconds),
            _seconds(r.score_seconds),
        ]
        for r in board.itertuples(index=False)
    ]
    header = [
        "detector", "mean AUROC", "mean AUPRC", "datasets", "avg rank", "wins",
        "median fit s", "median score s",
    ]  # fmt: skip
    return [
        f"## {setting}",
        "",
        "Means over the datasets where the detector succeeded on every seed (`datasets`), "
        "each dataset first averaged over seeds. Rank per dataset by mean AUROC "
        "(1 = best, failures last); wins shared on ties.",
        "",
        *_table(header, rows),
        "",
    ]


def _per_dataset_section(setting: str, table: pd.DataFrame, order: list[str]) -> list[str]:
    rows = table[table["setting"] == setting]
    cells: dict[tuple[str, str], str] = {}
    best: dict[str, float] = {}
    for r in rows.itertuples(index=False):
        if r.complete:
            cells[(r.dataset, r.detector)] = f"{r.auroc_mean:.3f}"
            best[r.dataset] = max(best.get(r.dataset, -np.inf), round(r.auroc_mean, 3))
        else:
            cells[(r.dataset, r.detector)] = "fail"
    body = []
    for dataset in _dataset_order(rows["dataset"].tolist()):
        line = [dataset]
        for detector in order:
            text = cells.get((dataset, detector), "—")
            if text not in ("fail", "—") and float(text) == best.get(dataset):
                text = f"**{text}**"
            line.append(text)
        body.append(line)
    return [
        f"### {setting}: AUROC per dataset (mean over seeds; best in bold)",
        "",
        *_table(["dataset", *order], body),
        "",
    ]


def thresholds_board(table: pd.DataFrame, setting: str) -> pd.DataFrame:
    """Per detector: realised FPR and recall at each asked-for rate, and FDR, over datasets.

    Each dataset first averaged over seeds (complete rows only, as for AUROC); ``worst``
    is the highest dataset mean, ``over`` the datasets whose mean FPR exceeds twice the
    rate asked for. Detectors without threshold metrics are left out.
    """
    rows = table[(table["setting"] == setting) & table["complete"]]
    rows = rows.dropna(subset=[f"fpr_{ALPHAS[0][1]}"])
    records = []
    for detector, group in rows.groupby("detector"):
        record: dict[str, Any] = {"detector": detector, "datasets": len(group)}
        for alpha, tag in ALPHAS:
            fpr = group[f"fpr_{tag}"]
            record[f"fpr_{tag}"] = fpr.mean()
            record[f"worst_{tag}"] = fpr.max()
            record[f"over_{tag}"] = int((fpr > 2 * alpha).sum())
            record[f"recall_{tag}"] = group[f"recall_{tag}"].mean()
        record["fdp_10"] = group["fdp_10"].mean()
        record["recall_fdr_10"] = group["recall_fdr_10"].mean()
        record["n_calibration"] = group["n_calibration"].median()
        records.append(record)
    return pd.DataFrame(records)


def _thresholds_section(setting: str, board: pd.DataFrame) -> list[str]:
    if board.empty:
        return []
    header = ["detector", "datasets"]
    for alpha, _ in ALPHAS:
        rate = f"{alpha:.0%}"
        header += [f"FPR @{rate}", "worst", f"> {2 * alpha:.0%}", f"recall @{rate}"]
    header += [f"FDR @q={FDR_Q:g}", "recall", "calib. rows"]
    body = []
    for r in board.sort_values("detector").to_dict("records"):
        line = [r["detector"], r["datasets"]]
        for _, tag in ALPHAS:
            line += [
                _num(r[f"fpr_{tag}"], 4),
                _num(r[f"worst_{tag}"], 3),
                r[f"over_{tag}"],
                _num(r[f"recall_{tag}"], 3),
            ]
        line += [
            _num(r["fdp_10"], 3),
            _num(r["recall_fdr_10"], 3),
            "—" if pd.isna(r["n_calibration"]) else f"{r['n_calibration']:.0f}",
        ]
        body.append(line)
    return [
        f"### {setting}: decisions at a stated error rate",
        "",
        "Realised false-positive rate (share of normal test rows flagged) and recall when "
        "asked for 1% and 5%: deepad flags conformal p-value <= alpha, PyOD peers flag by "
        "their `contamination = alpha` training quantile. Means over datasets (each first "
        "averaged over seeds); `worst` is the highest dataset mean, `> 2%` (`> 10%`) counts "
        "datasets over twice the rate asked for. FDR: share of false alarms among the rows "
        f"Benjamini-Hochberg flags at q = {FDR_Q:g} over each test set (deepad only); "
        "`calib. rows`: median calibration rows.",
        "",
        *_table(header, body),
        "",
    ]


def _subsampled_section(runs: pd.DataFrame) -> list[str]:
    used = runs.dropna(subset=["n_train", "n_train_used"])
    used = used[used["n_train_used"] < used["n_train"]]
    if used.empty:
        return ["## Subsampled training sets", "", "None: every job fitted on all its rows.", ""]
    first = used.groupby(["dataset", "setting"], sort=False)[["n_train", "n_train_used"]].max()
    body = []
    for dataset in _dataset_order(first.index.get_level_values(0).tolist()):
        sub = first.loc[dataset]
        for setting in _setting_order(sub.index.tolist()):
            n_train, n_used = sub.loc[setting]
            body.append([dataset, setting, f"{int(n_train):,}", f"{int(n_used):,}"])
    return [
        "## Subsampled training sets",
        "",
        "Training sets above `--max-train-rows` were subsampled uniformly (with the seed) "
        "for fitting only; test rows are never subsampled.",
        "",
        *_table(["dataset", "setting", "training rows", "rows fitted"], body, "llrr"),
        "",
    ]


def _failures_section(runs: pd.DataFrame) -> list[str]:
    failed = runs[runs["status"] != "ok"]
    if failed.empty:
        return ["## Failures", "", "None.", ""]
    order = {name: i for i, name in enumerate(_dataset_order(failed["dataset"].tolist()))}
    failed = failed.assign(_d=failed["dataset"].map(order)).sort_values(
        ["_d", "setting", "detector", "seed"]
    )
    body = [
        [r.dataset, r.setting, r.detector, r.seed, r.error or "unknown"]
        for r in failed.itertuples(index=False)
    ]
    return [
        "## Failures",
        "",
        *_table(["dataset", "setting", "detector", "seed", "reason"], body, "lllrl"),
        "",
    ]


def write_summary(out_dir: str | Path) -> Path:
    """Regenerate ``per_dataset.csv`` and ``summary.md`` in ``out_dir`` from its runs.csv."""
    folder = Path(out_dir)
    runs = read_runs(folder)
    if runs.empty:
        raise ValueError(f"no results in {folder / 'runs.csv'} to summarise")
    runs = runs.sort_values(list(KEY)).reset_index(drop=True)
    table = per_dataset(runs)
    table.to_csv(folder / PER_DATASET, index=False, float_format="%.6g")

    lines = _header(folder, runs)
    boards = {s: leaderboard(table, runs, s) for s in _setting_order(runs["setting"].tolist())}
    for setting, board in boards.items():
        lines += _leaderboard_section(setting, board)
    threshold_lines = []
    for setting in boards:
        threshold_lines += _thresholds_section(setting, thresholds_board(table, setting))
    if threshold_lines:
        lines += ["## Thresholds", "", *threshold_lines]
    lines += ["## AUROC per dataset", ""]
    for setting, board in boards.items():
        lines += _per_dataset_section(setting, table, board["detector"].tolist())
    lines += _subsampled_section(runs)
    lines += _failures_section(runs)
    path = folder / SUMMARY
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path
