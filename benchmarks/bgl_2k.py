"""Log detectors on loghub's BGL 2k sample: alert windows by AUROC / AUPRC, one config.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bgl_2k.py [--seeds 0 1 2] [--out F.md]

Sessions are non-overlapping windows of 1, 10 and 20 lines (``session_window``); a window
is an alert window when any of its lines carries an alert label (the line's first field,
``-`` for none; 143 of the 2,000 lines). Templates come from Drain over each line without
its label, timestamps and node fields (``CONTENT``: component, level and message remain),
learned from the training lines only. Three settings:

- ``random windows, unsupervised``: the windows in 5 random folds; fit on four (alert
  windows included, unlabelled), score the fifth; AUROC and AUPRC over all windows pooled;
- ``random windows, normal-only``: the same folds, alert windows left out of training
  (``y`` in ``fit``), DeepLog's own setting;
- ``chronological``: fit on the first 1,000 lines (unsupervised), score the last 1,000.
  The sample spans seven months, so 70% of the later lines have templates the earlier
  ones never show: this setting measures novelty more than alerts.

Median over seeds for the seeded detectors (the fold assignment uses the same seed).

Peer, same script: the count of lines in the window whose level is not INFO (FATAL,
ERROR, SEVERE, WARNING), a rule an operator would write first.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _output import emit
from sklearn.metrics import average_precision_score, roc_auc_score

import deepad

LOG = Path(__file__).resolve().parents[2] / "shared/data/loghub_2k/BGL/BGL_2k.log"
#: label, timestamp, date, node, time, node repeat and type are header; keep the rest
CONTENT = r"^(?:\S+ ){7}(?P<content>.*)$"
WINDOWS = (1, 10, 20)
DETECTORS = {
    "DeepLog": lambda seed, w: deepad.DeepLog(random_state=seed, **_options(w)),
    "SemanticLog": lambda seed, w: deepad.SemanticLog(random_state=seed, **_options(w)),
    "EventCounts (PCA)": lambda seed, w: deepad.EventCounts(random_state=seed, **_options(w)),
    "EventCounts (IForest)": lambda seed, w: deepad.EventCounts(
        method="iforest", random_state=seed, **_options(w)
    ),
}
SEEDED = ("DeepLog", "SemanticLog", "EventCounts (IForest)")


def _options(window: int) -> dict:
    return {"session_window": window, "content_regex": CONTENT}


def _folds(n_windows: int, seed: int, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(seed).permutation(n_windows)
    return [
        (np.sort(np.setdiff1d(order, part)), np.sort(part)) for part in np.array_split(order, k)
    ]


def _lines_of(lines: list[str], window: int, windows: np.ndarray) -> list[str]:
    return [line for w in windows for line in lines[w * window : (w + 1) * window]]


def _evaluate(
    make, seed: int, window: int, lines: list[str], alerts: np.ndarray, setting: str
) -> dict:
    """Scores and flags for every test window of one setting, pooled over folds."""
    n_windows = len(lines) // window
    window_alerts = alerts[: n_windows * window].reshape(n_windows, window).any(axis=1)
    if setting == "chronological":
        splits = [(np.arange(n_windows // 2), np.arange(n_windows // 2, n_windows))]
    else:
        splits = _folds(n_windows, seed)
    scores, flags, labels = [], [], []
    start = time.perf_counter()
    for train, test in splits:
        y = window_alerts[train].astype(int) if setting.endswith("normal-only") else None
        det = make(seed, window).fit(_lines_of(lines, window, train), y)
        sessions = det.read(_lines_of(lines, window, test))
        assert len(sessions) == len(test)
        scores.append(det.score_sessions(sessions))
        flags.append(scores[-1] > det.threshold_)
        labels.append(window_alerts[test])
    seconds = (time.perf_counter() - start) / len(splits)
    scores, flags, labels = map(np.concatenate, (scores, flags, labels))
    return {
        "auroc": roc_auc_score(labels, scores),
        "auprc": average_precision_score(labels, scores),
        "recall": float(flags[labels].mean()),
        "fpr": float(flags[~labels].mean()),
        "fit_s": seconds,
        "alert_windows": f"{int(labels.sum())} / {len(labels)}",
        "peer": None,
    }


SETTINGS = ("random windows, unsupervised", "random windows, normal-only", "chronological")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    lines = LOG.read_text().splitlines()
    alerts = np.asarray([line.split(" ", 1)[0] != "-" for line in lines])
    not_info = np.asarray([line.split()[8] != "INFO" for line in lines])
    rows = []
    for setting in SETTINGS:
        for window in WINDOWS:
            for name, make in DETECTORS.items():
                results = [
                    _evaluate(make, seed, window, lines, alerts, setting)
                    for seed in (args.seeds if name in SEEDED else [args.seeds[0]])
                ]
                row = {"setting": setting, "window": window, "detector": name}
                row["seeds"] = len(results)
                for key in ("auroc", "auprc", "recall", "fpr", "fit_s"):
                    row[key] = statistics.median(r[key] for r in results)
                row["alert_windows"] = results[0]["alert_windows"]
                rows.append(row)
                print(row, flush=True)
            n_windows = len(lines) // window
            count = not_info[: n_windows * window].reshape(n_windows, window).sum(axis=1)
            labels = alerts[: n_windows * window].reshape(n_windows, window).any(axis=1)
            if setting == "chronological":
                count, labels = count[n_windows // 2 :], labels[n_windows // 2 :]
            rows.append(
                {
                    "setting": setting,
                    "window": window,
                    "detector": "non-INFO line count (peer)",
                    "seeds": 1,
                    "auroc": roc_auc_score(labels, count),
                    "auprc": average_precision_score(labels, count),
                    "recall": float((count > 0)[labels].mean()),
                    "fpr": float((count > 0)[~labels].mean()),
                    "fit_s": 0.0,
                    "alert_windows": f"{int(labels.sum())} / {len(labels)}",
                }
            )
    table = pd.DataFrame(rows)
    lines_out = [
        "| setting | window (lines) | detector | seeds | AUROC | AUPRC | recall / FPR at its "
        "threshold | alert windows | fit s |",
        "|---|---:|---|---:|---:|---:|---|---|---:|",
    ]
    for r in table.to_dict("records"):
        lines_out.append(
            f"| {r['setting']} | {r['window']} | {r['detector']} | {r['seeds']} | "
            f"{r['auroc']:.3f} | {r['auprc']:.3f} | {r['recall']:.3f} / {r['fpr']:.3f} | "
            f"{r['alert_windows']} | {r['fit_s']:.1f} |"
        )
    text = "\n".join(lines_out)
    emit(text, args.out)


if __name__ == "__main__":
    main()
