"""DeepLog on the HDFS block sessions, seeds 0-4, beside a PCA count-vector peer.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/hdfs_deeplog.py [--seeds 0 1 2] [--out F.md]

Protocol (../shared/data/README.md): fit on ``hdfs_train`` (normal sessions only); report
precision, recall and F1 on the balanced labelled sets ``robust_log_valid.csv`` and
``robust_log_train.csv`` (neither is trained on) at the detector's own calibrated decision
(``predict``: p-value <= 0.1 on held-out normal training sessions), and the detection rate
on ``hdfs_test_abnormal``. Peer, same script: PCA on per-session event-count vectors
(scikit-learn, components covering 95% of the variance), flagging sessions whose
reconstruction error exceeds the 99th percentile of the training sessions'.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import precision_recall_fscore_support

import deepad
from deepad.io.logs import as_sessions

DATA = Path(__file__).resolve().parents[2] / "shared/data/hdfs_sessions"
SETS = ("robust_log_valid.csv", "robust_log_train.csv")


def _counts(sessions: list[np.ndarray], vocabulary: int) -> np.ndarray:
    return np.stack([np.bincount(s, minlength=vocabulary)[:vocabulary] for s in sessions])


def _prf(labels: np.ndarray, flags: np.ndarray) -> tuple[float, float, float]:
    p, r, f, _ = precision_recall_fscore_support(labels, flags.astype(int), average="binary")
    return float(p), float(r), float(f)


def _g(value: object) -> str:
    return "-" if value is None or pd.isna(value) else str(int(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    train = as_sessions(DATA / "hdfs_train")
    abnormal = as_sessions(DATA / "hdfs_test_abnormal")
    sets = {}
    for name in SETS:
        frame = pd.read_csv(DATA / name)
        sets[name] = (frame["Sequence"].astype(str).tolist(), frame["label"].to_numpy())
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        det = deepad.DeepLog(random_state=seed).fit(train)
        row = {"detector": "DeepLog", "seed": seed, "fit_s": time.perf_counter() - start}
        row["top_g"] = det.top_g_
        for name, (sessions, labels) in sets.items():
            start = time.perf_counter()
            flags = det.predict(sessions)
            row[f"{name}_sessions_per_s"] = len(sessions) / (time.perf_counter() - start)
            row[f"{name}_p"], row[f"{name}_r"], row[f"{name}_f1"] = _prf(labels, flags)
        row["abnormal_detection"] = float(det.predict(abnormal).mean())
        rows.append(row)
        print(row, flush=True)
    vocabulary = 1 + max(int(s.max()) for s in train + abnormal if len(s))
    pca = PCA(n_components=0.95, random_state=0).fit(_counts(train, vocabulary))

    def errors(sessions: list[np.ndarray]) -> np.ndarray:
        counts = _counts(sessions, vocabulary)
        return ((counts - pca.inverse_transform(pca.transform(counts))) ** 2).sum(axis=1)

    limit = np.quantile(errors(train), 0.99)
    row = {
        "detector": "PCA on event counts (peer)",
        "seed": 0,
        "fit_s": float("nan"),
        "top_g": None,
    }
    for name, (sessions, labels) in sets.items():
        row[f"{name}_p"], row[f"{name}_r"], row[f"{name}_f1"] = _prf(
            labels, errors(as_sessions(sessions)) > limit
        )
    row["abnormal_detection"] = float((errors(abnormal) > limit).mean())
    rows.append(row)
    table = pd.DataFrame(rows)
    lines = [
        "| detector | seed | top_g | valid P / R / F1 | train-set P / R / F1 "
        "| hdfs_test_abnormal detected | fit s |",
        "|---|---:|---:|---|---|---:|---:|",
    ]
    for r in table.to_dict("records"):
        cells = [
            " / ".join(f"{r[f'{name}_{m}']:.3f}".replace("nan", "-") for m in ("p", "r", "f1"))
            for name in ("robust_log_valid.csv", "robust_log_train.csv")
        ]
        lines.append(
            f"| {r['detector']} | {r['seed']} | {_g(r['top_g'])} | "
            f"{cells[0]} | {cells[1]} | {r['abnormal_detection']:.3f} | {r['fit_s']:.1f} |"
        )
    deep = table[table["detector"] == "DeepLog"]
    f1 = deep["robust_log_valid.csv_f1"]
    lines.append(
        f"\nDeepLog over seeds {list(deep['seed'])}: valid F1 median "
        f"{f1.median():.3f}, mean {f1.mean():.3f}, "
        f"min {f1.min():.3f}; scoring "
        f"{deep['robust_log_valid.csv_sessions_per_s'].median():,.0f} sessions/s (median)."
    )
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
