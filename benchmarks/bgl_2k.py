"""Log detectors on loghub's BGL 2k sample: alert windows by AUROC / AUPRC, one config.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bgl_2k.py [--seeds 0 1 2] [--out F.md]

Protocol: the 2,000 raw lines in time order; fit on the first 1,000 (unsupervised: the 94
alert lines among them stay in, unlabelled), score the last 1,000 (49 alert lines).
Sessions are non-overlapping windows of 1, 10 and 20 lines (``session_window``); a window
is an alert window when any of its lines carries an alert label (the line's first field,
``-`` for none). Templates come from Drain over each line without its label, timestamps
and node fields (``CONTENT``: component, level and message remain). AUROC and AUPRC over
the test windows; median of seeds for the seeded detectors.

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
from sklearn.metrics import average_precision_score, roc_auc_score

import deepad
from deepad.preprocess.log_sessions import LogSessions

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


def _window_labels(line_labels: np.ndarray, sessions: LogSessions) -> np.ndarray:
    return np.asarray([int(line_labels[rows].any()) for rows in sessions.lines])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    lines = LOG.read_text().splitlines()
    alerts = np.asarray([line.split(" ", 1)[0] != "-" for line in lines])
    levels = np.asarray([line.split()[8] for line in lines])
    train, test = lines[:1000], lines[1000:]
    test_alerts, test_levels = alerts[1000:], levels[1000:]
    rows = []
    for window in WINDOWS:
        for name, make in DETECTORS.items():
            seeds = args.seeds if name in SEEDED else [0]
            results = []
            for seed in seeds:
                start = time.perf_counter()
                det = make(seed, window).fit(train)
                fit_s = time.perf_counter() - start
                sessions = det.read(test)
                labels = _window_labels(test_alerts, sessions)
                scores = det.score_sessions(sessions)
                flags = det.predict(test)
                results.append(
                    {
                        "auroc": roc_auc_score(labels, scores),
                        "auprc": average_precision_score(labels, scores),
                        "recall": float(flags[labels == 1].mean()),
                        "fpr": float(flags[labels == 0].mean()),
                        "fit_s": fit_s,
                    }
                )
            row = {"window": window, "detector": name, "seeds": len(seeds)}
            row.update({k: statistics.median(r[k] for r in results) for k in results[0]})
            row["alert_windows"] = f"{labels.sum()} / {len(labels)}"
            rows.append(row)
            print(row, flush=True)
        sessions = deepad.EventCounts(**_options(window)).fit(train).read(test)
        labels = _window_labels(test_alerts, sessions)
        not_info = np.asarray([(test_levels[r] != "INFO").sum() for r in sessions.lines])
        rows.append(
            {
                "window": window,
                "detector": "non-INFO line count (peer)",
                "seeds": 1,
                "auroc": roc_auc_score(labels, not_info),
                "auprc": average_precision_score(labels, not_info),
                "recall": float((not_info > 0)[labels == 1].mean()),
                "fpr": float((not_info > 0)[labels == 0].mean()),
                "fit_s": 0.0,
                "alert_windows": f"{labels.sum()} / {len(labels)}",
            }
        )
    table = pd.DataFrame(rows)
    lines_out = [
        "| window (lines) | detector | seeds | AUROC | AUPRC | recall / FPR at its threshold "
        "| alert windows | fit s |",
        "|---:|---|---:|---:|---:|---|---|---:|",
    ]
    for r in table.to_dict("records"):
        lines_out.append(
            f"| {r['window']} | {r['detector']} | {r['seeds']} | {r['auroc']:.3f} | "
            f"{r['auprc']:.3f} | {r['recall']:.3f} / {r['fpr']:.3f} | {r['alert_windows']} | "
            f"{r['fit_s']:.1f} |"
        )
    text = "\n".join(lines_out)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
