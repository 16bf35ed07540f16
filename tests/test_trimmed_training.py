"""Contamination-robust training (``trim_fraction``): which rows the filter leaves out,
that leaving them out helps when real anomalies are mixed into the training rows, and
its checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import deepad
from deepad.models.trimming import check_trim_fraction, trusted_rows

CARDIO = Path(__file__).resolve().parents[2] / "shared/data/adbench/6_cardio.npz"


def test_the_filter_leaves_out_the_isolated_rows():
    rng = np.random.default_rng(0)
    features = np.vstack([rng.normal(size=(190, 3)), rng.normal(loc=8.0, size=(10, 3))])
    kept = trusted_rows(features, 0.05, seed=0)
    assert len(kept) == 190
    assert set(kept.tolist()) == set(range(190))  # exactly the 10 far rows are gone
    assert np.all(np.diff(kept) > 0)  # in their original order


def test_labelled_anomalies_are_never_left_out():
    rng = np.random.default_rng(1)
    features = np.vstack([rng.normal(size=(95, 2)), rng.normal(loc=9.0, size=(5, 2))])
    targets = np.r_[np.zeros(95), np.ones(5)]
    kept = trusted_rows(features, 0.1, seed=0, targets=targets)
    assert set(range(95, 100)) <= set(kept.tolist())
    assert len(kept) == 100 - 9  # a tenth of the 95 unlabelled rows


def test_nothing_is_left_out_when_the_share_rounds_to_zero():
    features = np.random.default_rng(2).normal(size=(5, 2))
    assert trusted_rows(features, 0.1, seed=0).tolist() == list(range(5))


def test_trimming_recovers_accuracy_lost_to_training_contamination():
    """Cardio (real data): 10% of the training rows are anomalies. The plain AutoEncoder
    loses much of its clean-data AUROC; with the filter it keeps most of it."""
    data = np.load(CARDIO)
    X, y = data["X"], data["y"]
    rng = np.random.default_rng(0)
    normal, anomalous = (
        rng.permutation(np.flatnonzero(y == 0)),
        rng.permutation(np.flatnonzero(y == 1)),
    )
    train_normal, test_normal = normal[:1000], normal[1000:]
    mixed, test_anomalous = anomalous[:111], anomalous[111:]  # 111 of 1111 training rows
    train = X[np.r_[train_normal, mixed]]
    test, labels = X[np.r_[test_normal, test_anomalous]], np.r_[y[test_normal], y[test_anomalous]]

    def auroc(**params) -> float:
        return roc_auc_score(
            labels, deepad.AutoEncoder(random_state=0, **params).fit(train).decision_function(test)
        )

    clean = roc_auc_score(
        labels, deepad.AutoEncoder(random_state=0).fit(X[train_normal]).decision_function(test)
    )
    plain, trimmed = auroc(), auroc(trim_fraction=0.2)
    assert clean - plain > 0.05  # the contamination does hurt the plain network
    assert clean - trimmed < 0.5 * (clean - plain)


def test_the_count_left_out_is_reported():
    X = np.random.default_rng(3).normal(size=(500, 4))
    plain = deepad.AutoEncoder(random_state=0, epochs=2).fit(X)
    trimmed = deepad.AutoEncoder(random_state=0, epochs=2, trim_fraction=0.2).fit(X)
    assert plain.trimmed_rows_ == 0
    fitted = len(X) - trimmed.calibrator_.n_calibration  # calibration rows are not filtered
    assert trimmed.trimmed_rows_ == int(0.2 * fitted)


@pytest.mark.parametrize("cls", [deepad.VAE, deepad.DeepSVDD])
def test_other_detectors_trim_too(cls):
    X = np.random.default_rng(4).normal(size=(400, 5))
    detector = cls(random_state=0, epochs=2, trim_fraction=0.1).fit(X)
    assert detector.trimmed_rows_ == int(0.1 * (len(X) - detector.calibrator_.n_calibration))
    assert np.isfinite(detector.decision_function(X)).all()


@pytest.mark.parametrize("value", [-0.1, 0.5, 1.0, "0.1", True, float("nan"), None])
def test_bad_trim_fraction_is_refused_by_name(value):
    with pytest.raises(ValueError, match="trim_fraction"):
        check_trim_fraction(value)
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="trim_fraction"):
        deepad.AutoEncoder(trim_fraction=value, epochs=1).fit(X)
