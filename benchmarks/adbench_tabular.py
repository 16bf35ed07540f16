"""Test AUROC/AUPRC of every deepad detector on ADBench .npz files, PyOD peers beside them.

Protocol (../shared/data/README.md): for each seed, a stratified 70/30 split; the
``oneclass`` setting fits on training rows with y = 0, ``unsupervised`` on all training
rows. Every detector runs at its defaults (only ``random_state`` set). PyOD peers (when
pyod is installed) get the same splits, with a StandardScaler fitted on their training rows.

    python benchmarks/adbench_tabular.py --datasets 6_cardio --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import deepad

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "adbench"


def _pyod_peers() -> dict:
    try:
        from pyod.models.auto_encoder import AutoEncoder
        from pyod.models.deep_svdd import DeepSVDD
        from pyod.models.ecod import ECOD
        from pyod.models.iforest import IForest
        from pyod.models.knn import KNN
        from pyod.models.pca import PCA
        from pyod.models.vae import VAE
    except ImportError:
        return {}
    return {
        "pyod.KNN": lambda seed, d: KNN(),
        "pyod.IForest": lambda seed, d: IForest(random_state=seed),
        "pyod.PCA": lambda seed, d: PCA(random_state=seed),
        "pyod.ECOD": lambda seed, d: ECOD(),
        "pyod.AutoEncoder": lambda seed, d: AutoEncoder(random_state=seed, verbose=0),
        "pyod.VAE": lambda seed, d: VAE(random_state=seed, verbose=0),
        "pyod.DeepSVDD": lambda seed, d: DeepSVDD(n_features=d, random_state=seed, verbose=0),
    }


def _ours(name: str):
    cls = deepad.DETECTORS[name]
    seeded = "random_state" in cls().get_params()
    return lambda seed, d: cls(random_state=seed) if seeded else cls()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["6_cardio"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--setting", choices=["oneclass", "unsupervised"], default="oneclass")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)  # peers' numerical noise

    runners = {name: (_ours(name), False) for name in deepad.DETECTORS}
    runners.update({name: (make, True) for name, make in _pyod_peers().items()})
    print(
        f"# {args.setting}, seeds {args.seeds}, {platform.processor() or platform.machine()}, "
        f"{platform.python_version()}, deepad {deepad.__version__}"
    )
    print("| dataset | detector | AUROC (mean +- std) | AUPRC | fit+score s (median) |")
    print("|---|---|---|---|---|")
    for dataset in args.datasets:
        data = np.load(args.data_dir / f"{dataset}.npz")
        X, y = data["X"], data["y"].astype(int)
        for name, (make, scale) in runners.items():
            aurocs, auprcs, seconds = [], [], []
            for seed in args.seeds:
                x_tr, x_te, y_tr, y_te = train_test_split(
                    X, y, test_size=0.3, stratify=y, random_state=seed
                )
                if args.setting == "oneclass":
                    x_tr = x_tr[y_tr == 0]
                if scale:
                    scaler = StandardScaler().fit(x_tr)
                    x_tr, x_te = scaler.transform(x_tr), scaler.transform(x_te)
                start = time.perf_counter()
                detector = make(seed, x_tr.shape[1])
                detector.fit(x_tr)
                scores = detector.decision_function(x_te)
                seconds.append(time.perf_counter() - start)
                if not np.isfinite(scores).all():
                    break
                aurocs.append(roc_auc_score(y_te, scores))
                auprcs.append(average_precision_score(y_te, scores))
            if len(aurocs) < len(args.seeds):
                print(f"| {dataset} | {name} | failed: non-finite scores | | |", flush=True)
                continue
            print(
                f"| {dataset} | {name} | {np.mean(aurocs):.3f} +- {np.std(aurocs):.3f} | "
                f"{np.mean(auprcs):.3f} | {np.median(seconds):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
