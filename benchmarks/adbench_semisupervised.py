"""Test AUROC of the semi-supervised detectors on ADBench .npz files, labelled setting.

Protocol: for each seed, a stratified 70/30 split (``random_state=seed``); every detector
fits on all training rows. The semi-supervised ones (``uses_labels``) get ``y``: 5% of the
training anomalies (at least 1, drawn with ``default_rng(seed)``) labelled 1, every other
row -1 (unknown). The unsupervised ones, and ``DeepSAD (no y)``, fit on the same rows
without labels. Every detector runs at its defaults (only ``random_state`` set).

    OMP_NUM_THREADS=1 python benchmarks/adbench_semisupervised.py \
        --datasets 6_cardio 38_thyroid 31_satimage-2 23_mammography --seeds 0 1 2

(``OMP_NUM_THREADS=1``: on a busy small machine torch's threads contend and fits slow down
tenfold; the AUROCs are the same either way.)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import deepad

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "adbench"

#: (row label, class name, whether it gets y)
RUNS = [
    ("DeepSAD", "DeepSAD", True),
    ("DevNet", "DevNet", True),
    ("DeepSAD (no y)", "DeepSAD", False),
    ("DeepSVDD", "DeepSVDD", False),
    ("AutoEncoder", "AutoEncoder", False),
    ("IsolationForest", "IsolationForest", False),
    ("ECOD", "ECOD", False),
]


def labelled_split(X: np.ndarray, y: np.ndarray, seed: int, fraction: float = 0.05):
    """(X_train, y_fit, X_test, y_test): y_fit is 1 for the revealed anomalies, else -1."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    anomalies = np.flatnonzero(y_train == 1)
    n_known = max(1, int(fraction * len(anomalies)))
    y_fit = np.full(len(y_train), -1, dtype=np.int64)
    y_fit[np.random.default_rng(seed).choice(anomalies, size=n_known, replace=False)] = 1
    return X_train, y_fit, X_test, y_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["6_cardio"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-dir", type=Path, default=DATA)
    args = parser.parse_args()

    print(f"# labelled setting (5% of training anomalies known), seeds {args.seeds}")
    print("| dataset | detector | AUROC (mean +- std) | per seed | fit+score s (median) |")
    print("|---|---|---|---|---|")
    for dataset in args.datasets:
        with np.load(args.data_dir / f"{dataset}.npz", allow_pickle=False) as data:
            X, y = data["X"], data["y"].astype(int)
        splits = [labelled_split(X, y, seed) for seed in args.seeds]
        for label, name, with_y in RUNS:
            aurocs, seconds = [], []
            for seed, (X_train, y_fit, X_test, y_test) in zip(args.seeds, splits, strict=True):
                start = time.perf_counter()
                cls = deepad.DETECTORS[name]
                seeded = "random_state" in cls._get_param_names()
                det = cls(random_state=seed) if seeded else cls()
                det.fit(X_train, y_fit if with_y else None)
                aurocs.append(roc_auc_score(y_test, det.decision_function(X_test)))
                seconds.append(time.perf_counter() - start)
            per_seed = " ".join(f"{a:.3f}" for a in aurocs)
            print(
                f"| {dataset} | {label} | {np.mean(aurocs):.3f} +- {np.std(aurocs):.3f} | "
                f"{per_seed} | {np.median(seconds):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
