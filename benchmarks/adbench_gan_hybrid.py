"""ALAD and AEGMM on ADBench .npz files, one-class setting, beside PyOD's GAN and GMM peers.

Protocol (as in ``deepad bench tabular``): for each seed a stratified 70/30 split, fit on
the training rows with y = 0, test AUROC/AUPRC. deepad detectors run at their defaults
(only ``random_state`` set; they standardise internally). PyOD peers run at their
defaults on rows scaled by a StandardScaler fitted on their training rows, with torch's
and NumPy's global RNGs seeded (PyOD's ALAD and SO_GAAL take no ``random_state``).

    python benchmarks/adbench_gan_hybrid.py --seeds 0 1 2 --threads 1
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import deepad

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "adbench"
DATASETS = ["6_cardio", "42_WBC", "38_thyroid", "23_mammography", "31_satimage-2"]


def _ours(name: str, **params: Any) -> Callable[[int], Any]:
    return lambda seed: deepad.DETECTORS[name](random_state=seed, **params)


def _peer(module: str, cls: str) -> Callable[[int], Any]:
    def make(seed: int) -> Any:
        import importlib

        klass = getattr(importlib.import_module(f"pyod.models.{module}"), cls)
        np.random.seed(seed)  # noqa: NPY002 - PyOD draws from the global RNGs
        torch.manual_seed(seed)
        kwargs = {"random_state": seed} if cls == "GMM" else {}
        return klass(**kwargs)

    return make


RUNNERS: dict[str, tuple[Callable[[int], Any], bool]] = {
    "ALAD": (_ours("ALAD"), False),
    "ALAD(feature_layers='all')": (_ours("ALAD", feature_layers="all"), False),
    "AEGMM": (_ours("AEGMM"), False),
    "AutoEncoder": (_ours("AutoEncoder"), False),
    "pyod.ALAD": (_peer("alad", "ALAD"), True),
    "pyod.SO_GAAL": (_peer("so_gaal", "SO_GAAL"), True),
    "pyod.GMM": (_peer("gmm", "GMM"), True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--detectors", nargs="+", default=list(RUNNERS), choices=list(RUNNERS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # peers' deprecation and numerical noise
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"# oneclass, seeds {args.seeds}, {platform.machine()}, torch threads "
        f"{torch.get_num_threads()}, Python {platform.python_version()}, "
        f"torch {torch.__version__}, deepad {deepad.__version__}"
    )
    print("| dataset | detector | AUROC (mean +- std) | per seed | AUPRC | fit+score s (median) |")
    print("|---|---|---|---|---|---|")
    for dataset in args.datasets:
        with np.load(args.data_dir / f"{dataset}.npz") as data:
            X, y = data["X"], data["y"].astype(int)
        for name in args.detectors:
            make, scale = RUNNERS[name]
            aurocs, auprcs, seconds = [], [], []
            for seed in args.seeds:
                x_tr, x_te, y_tr, y_te = train_test_split(
                    X, y, test_size=0.3, stratify=y, random_state=seed
                )
                x_tr = x_tr[y_tr == 0]
                if scale:
                    scaler = StandardScaler().fit(x_tr)
                    x_tr, x_te = scaler.transform(x_tr), scaler.transform(x_te)
                start = time.perf_counter()
                detector = make(seed)
                with contextlib.redirect_stdout(io.StringIO()):  # SO_GAAL prints every epoch
                    detector.fit(x_tr)
                    scores = detector.decision_function(x_te)
                seconds.append(time.perf_counter() - start)
                if not np.isfinite(scores).all():
                    break
                aurocs.append(roc_auc_score(y_te, scores))
                auprcs.append(average_precision_score(y_te, scores))
            if len(aurocs) < len(args.seeds):
                print(f"| {dataset} | {name} | failed: non-finite scores | | | |", flush=True)
                continue
            per_seed = " ".join(f"{a:.3f}" for a in aurocs)
            print(
                f"| {dataset} | {name} | {np.mean(aurocs):.3f} +- {np.std(aurocs):.3f} | "
                f"{per_seed} | {np.mean(auprcs):.3f} | {np.median(seconds):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
