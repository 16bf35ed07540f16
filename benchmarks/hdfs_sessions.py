"""Every log detector on the HDFS block sessions, seeds 0-4, beside a PCA count-vector peer.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/hdfs_sessions.py [--seeds 0 1 2] [--out F.md]

Protocol (../shared/data/README.md): fit on ``hdfs_train`` (normal sessions only); report
precision, recall and F1 on the balanced labelled sets ``robust_log_valid.csv`` and
``robust_log_train.csv`` (neither is trained on) at the detector's own calibrated decision
(``predict``: p-value <= 0.1 on held-out normal training sessions), AUROC, and the
detection rate on ``hdfs_test_abnormal``. Detectors at their defaults: DeepLog,
SemanticLog, EventCounts (PCA) and EventCounts (IForest).

SemanticLog needs template texts; the session files carry only keys 1..28. We read key
n as loghub's ``HDFS_templates.csv`` ``En``: the keys' frequencies in ``hdfs_train`` follow
the block life cycle those templates describe (allocateBlock E22 once per block; Receiving
E5, PacketResponder terminating E11, Received E9 and addStoredBlock E26 three times each,
one per replica; deletion E21 / E23 about 2.5 times), which no other assignment would.

Peer, same script: scikit-learn PCA on raw event-count vectors (components covering 95%
of the variance), flagging sessions whose reconstruction error exceeds the 99th
percentile of the training sessions'.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _output import emit
from sklearn.decomposition import PCA
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

import deepad
from deepad.io.logs import as_sessions

ROOT = Path(__file__).resolve().parents[2] / "shared/data"
DATA = ROOT / "hdfs_sessions"
TEMPLATES = ROOT / "loghub_2k/HDFS/HDFS_templates.csv"
SETS = ("robust_log_valid.csv", "robust_log_train.csv")
DETECTORS = {
    "DeepLog": lambda seed: deepad.DeepLog(random_state=seed),
    "SemanticLog": lambda seed: deepad.SemanticLog(random_state=seed, templates=str(TEMPLATES)),
    "EventCounts (PCA)": lambda seed: deepad.EventCounts(random_state=seed),
    "EventCounts (IForest)": lambda seed: deepad.EventCounts(method="iforest", random_state=seed),
}


def _counts(sessions: list[np.ndarray], vocabulary: int) -> np.ndarray:
    return np.stack([np.bincount(s, minlength=vocabulary)[:vocabulary] for s in sessions])


def _prf(labels: np.ndarray, flags: np.ndarray) -> tuple[float, float, float]:
    p, r, f, _ = precision_recall_fscore_support(labels, flags.astype(int), average="binary")
    return float(p), float(r), float(f)


def _run(name: str, seed: int, train: list, sets: dict, abnormal: list) -> dict:
    start = time.perf_counter()
    det = DETECTORS[name](seed).fit(train)
    row = {"detector": name, "seed": seed, "fit_s": time.perf_counter() - start}
    row["top_g"] = getattr(det, "top_g_", None)
    for set_name, (sessions, labels) in sets.items():
        start = time.perf_counter()
        scores = det.decision_function(sessions)
        row[f"{set_name}_sessions_per_s"] = len(sessions) / (time.perf_counter() - start)
        flags = det.predict(sessions)
        row[f"{set_name}_p"], row[f"{set_name}_r"], row[f"{set_name}_f1"] = _prf(labels, flags)
        row[f"{set_name}_auroc"] = roc_auc_score(labels, scores)
    row["abnormal_detection"] = float(det.predict(abnormal).mean())
    return row


def _peer(train: list, sets: dict, abnormal: list) -> dict:
    vocabulary = 1 + max(int(s.max()) for s in train + abnormal if len(s))
    pca = PCA(n_components=0.95, random_state=0).fit(_counts(train, vocabulary))

    def errors(sessions: list[np.ndarray]) -> np.ndarray:
        counts = _counts(sessions, vocabulary)
        return ((counts - pca.inverse_transform(pca.transform(counts))) ** 2).sum(axis=1)

    limit = np.quantile(errors(train), 0.99)
    row = {"detector": "scikit-learn PCA, 99th pct (peer)", "seed": 0, "fit_s": float("nan")}
    for name, (sessions, labels) in sets.items():
        scores = errors(as_sessions(sessions))
        row[f"{name}_p"], row[f"{name}_r"], row[f"{name}_f1"] = _prf(labels, scores > limit)
        row[f"{name}_auroc"] = roc_auc_score(labels, scores)
        row[f"{name}_sessions_per_s"] = float("nan")
    row["abnormal_detection"] = float((errors(abnormal) > limit).mean())
    return row


def _table(table: pd.DataFrame) -> str:
    valid, other = SETS
    lines = [
        "| detector | seeds | valid F1 median (min-max) | valid P / R | valid AUROC "
        "| train-set F1 median | hdfs_test_abnormal detected | fit s | sessions/s |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, group in table.groupby("detector", sort=False):
        f1 = group[f"{valid}_f1"]
        lines.append(
            f"| {name} | {len(group)} | {f1.median():.3f} ({f1.min():.3f}-{f1.max():.3f}) | "
            f"{group[f'{valid}_p'].median():.3f} / {group[f'{valid}_r'].median():.3f} | "
            f"{group[f'{valid}_auroc'].median():.3f} | {group[f'{other}_f1'].median():.3f} | "
            f"{group['abnormal_detection'].median():.3f} | {group['fit_s'].median():.1f} | "
            f"{group[f'{valid}_sessions_per_s'].median():,.0f} |"
        )
    lines += [
        "",
        "| detector | seed | top_g | valid P / R / F1 | valid AUROC |",
        "|---|---:|---:|---|---:|",
    ]
    for r in table.to_dict("records"):
        g = r.get("top_g")
        cells = " / ".join(f"{r[f'{valid}_{m}']:.3f}" for m in ("p", "r", "f1"))
        top_g = "-" if g is None or pd.isna(g) else int(g)
        lines.append(
            f"| {r['detector']} | {r['seed']} | {top_g} | {cells} | {r[f'{valid}_auroc']:.3f} |"
        )
    return "\n".join(lines).replace("nan", "-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
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
    for name in args.detectors:
        for seed in args.seeds:
            rows.append(_run(name, seed, train, sets, abnormal))
            print({k: v for k, v in rows[-1].items() if "per_s" not in k}, flush=True)
    rows.append(_peer(train, sets, abnormal))
    text = _table(pd.DataFrame(rows))
    emit(text, args.out)


if __name__ == "__main__":
    main()
