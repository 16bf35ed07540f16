"""Detection quality on real data: ADBench's Cardio, one-class setting, default params.

Detectors fit on every normal training row (``calibration_size=0``): this measures the
model, as the ADBench leaderboard does; the calibration hold-out has its own tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_cardio
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import deepad

#: minimum test AUROC per detector at default params; 0.80 unless listed
MIN_AUROC = {"AutoEncoder": 0.90}

#: detectors that cannot fit without rows labelled as anomalies, so have no one-class setting
#: (measured with labels in test_semisupervised.py)
NEEDS_LABELLED_ANOMALIES = {"DevNet"}


@pytest.fixture(scope="module")
def cardio_split():
    """(normal training rows, test rows, test labels) from a stratified 70/30 split."""
    X, y = load_cardio()
    assert X.shape == (1831, 21) and set(np.unique(y)) == {0, 1}
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    return X_train[y_train == 0], X_test, y_test


# detectors that cannot fit without labelled anomalies have their real-data test in
# test_semisupervised.py (the labelled setting) instead of this one-class check
@pytest.mark.parametrize("name", sorted(set(deepad.TABLE_DETECTORS) - NEEDS_LABELLED_ANOMALIES))
def test_default_detector_separates_cardio_anomalies(name, cardio_split):
    X_normal, X_test, y_test = cardio_split
    cls = deepad.TABLE_DETECTORS[name]
    params = {"random_state": 0} if "random_state" in cls().get_params() else {}
    # model quality on every training row, as the ADBench leaderboard measures it; the
    # default calibration hold-out is covered by test_calibration_real_data.py
    det = cls(**params).fit(X_normal, calibration_size=0)

    auroc = roc_auc_score(y_test, det.decision_function(X_test))
    minimum = MIN_AUROC.get(name, 0.80)
    assert auroc >= minimum, f"{name}: test AUROC {auroc:.4f} < {minimum:.2f}"
