"""``deepad demo``: fit a detector on a small real dataset and show what it finds.

The data is the Breast Cancer Wisconsin (Diagnostic) table that ships with scikit-learn
(no download): benign tumours are the normal class and a small random sample of
malignant ones plays the anomalies, the same construction as the ODDS "WBC" benchmark.
The detectors learn from benign training rows only (the one-class setting: a clean
history) and are judged on a held-out stratified 30% split they never saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

from deepad.core.base import BaseDetector
from deepad.models import AutoEncoder, IsolationForest
from deepad.report import build_report, write_report


def load_demo_table(n_anomalies: int = 21, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Benign tumours plus ``n_anomalies`` malignant ones; ``y`` is 1 for malignant."""
    data = load_breast_cancer(as_frame=True)
    frame, target = data.data, data.target  # target 0 = malignant, 1 = benign
    benign = np.flatnonzero(target.to_numpy() == 1)
    malignant = np.flatnonzero(target.to_numpy() == 0)
    chosen = np.random.default_rng(seed).choice(malignant, size=n_anomalies, replace=False)
    rows = np.sort(np.concatenate([benign, chosen]))
    table = frame.iloc[rows].reset_index(drop=True)
    table.insert(0, "sample_id", rows)
    labels = (target.to_numpy()[rows] == 0).astype(np.int64)
    return table, labels


@dataclass
class DemoResult:
    """What the demo measured, for the CLI to print and the tests to check."""

    auroc: dict[str, float]
    auprc: dict[str, float]
    fit_seconds: dict[str, float]
    top_rows: pd.DataFrame
    bundle: Path
    report: Path
    n_train: int
    n_test: int
    n_test_anomalies: int


def run_demo(out: str | Path, log: Callable[[str], None] = print) -> DemoResult:
    """Fit an AutoEncoder (and an Isolation Forest beside it), evaluate, save the bundle."""
    table, labels = load_demo_table()
    features = table.drop(columns="sample_id")
    train_x, test_x, train_y, test_y = train_test_split(
        features, labels, test_size=0.3, stratify=labels, random_state=0
    )
    log(
        f"data: Breast Cancer Wisconsin (scikit-learn), {len(table)} rows x "
        f"{features.shape[1]} columns, {labels.sum()} malignant rows as anomalies"
    )
    train_x = train_x[train_y == 0]  # one-class: learn from history known to be normal
    log(
        f"fit on {len(train_x)} benign training rows (one-class setting), "
        f"evaluate on {len(test_x)} held-out rows ({int(test_y.sum())} malignant)"
    )
    detectors: dict[str, BaseDetector] = {
        "AutoEncoder": AutoEncoder(random_state=0),
        "IsolationForest (baseline)": IsolationForest(random_state=0),
    }
    auroc, auprc, seconds = {}, {}, {}
    scores = {}
    for name, detector in detectors.items():
        start = time.perf_counter()
        detector.fit(train_x)
        seconds[name] = time.perf_counter() - start
        scores[name] = detector.decision_function(test_x)
        auroc[name] = float(roc_auc_score(test_y, scores[name]))
        auprc[name] = float(average_precision_score(test_y, scores[name]))
        log(
            f"  {name:<28} test AUROC {auroc[name]:.3f}  AUPRC {auprc[name]:.3f}  "
            f"(fit {seconds[name]:.1f}s)"
        )
    model = detectors["AutoEncoder"]
    test_scores = scores["AutoEncoder"]
    order = np.argsort(-test_scores, kind="stable")[:5]
    flags = model.calibrator_.decide(test_scores)
    top = pd.DataFrame(
        {
            "sample_id": table.loc[test_x.index[order], "sample_id"].to_numpy(),
            "score": test_scores[order],
            "p_value": model.calibrator_.p_values(test_scores[order]),
            "flagged": flags[order],
            "malignant": test_y[order],
        }
    )
    benign, malignant = flags[test_y == 0], flags[test_y == 1]
    log(f"decision rule: {model.calibrator_.describe()}")
    log(
        f"  held-out rows flagged: {benign.sum()} of {benign.size} benign "
        f"({benign.mean():.1%}), {malignant.sum()} of {malignant.size} malignant "
        f"(p-values from {model.calibrator_.n_calibration} benign rows held out of training)"
    )
    log("five most anomalous held-out rows (AutoEncoder):")
    for line in top.to_string(index=False, float_format=lambda v: f"{v:.3f}").splitlines():
        log(f"  {line}")
    explanation = model.explain(test_x.iloc[order], top=2)
    top["why"] = explanation.text()
    log(f"why, by {explanation.method} (the two columns that raised each score most):")
    for sample, why in zip(top["sample_id"], top["why"], strict=True):
        log(f"  sample {sample}: {why}")
    model.metrics_ = {"test_auroc": auroc["AutoEncoder"], "test_auprc": auprc["AutoEncoder"]}
    bundle = model.save(out, source="sklearn.datasets.load_breast_cancer", split_seed=0)
    log(f"bundle written to {Path(bundle).resolve()}")
    report = write_report(
        build_report(
            model,
            test_x,
            labels=test_y,
            ids=table.loc[test_x.index, ["sample_id"]],
            top=10,
            title="deepad demo: AutoEncoder on held-out Breast Cancer Wisconsin rows",
            source="sklearn.datasets.load_breast_cancer, held-out 30%",
        ),
        Path(f"{Path(bundle)}-report.html"),
    )
    log(f"report written to {report.resolve()}")
    log(f"next: deepad info {bundle}   or   deepad explain {bundle} DATA.csv --top 3")
    return DemoResult(
        auroc=auroc,
        auprc=auprc,
        fit_seconds=seconds,
        top_rows=top,
        bundle=Path(bundle),
        report=report,
        n_train=len(train_x),
        n_test=len(test_x),
        n_test_anomalies=int(test_y.sum()),
    )
