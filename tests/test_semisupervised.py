"""Semi-supervised detectors (DeepSAD, DevNet) and the training loop's per-row targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import load_cardio
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from torch import nn

import deepad
from deepad.nn.training import TrainingConfig, fit_module

SEMI_SUPERVISED = ["DeepSAD", "DevNet"]


DEVNET_NEEDS_LABELS = "DevNet needs at least one row labelled 1 in y; use an unsupervised"


def recurring_cluster(seed: int = 0, d: int = 8):
    """(X_train, y_fit, X_test, y_test): normal rows N(0, I) and a tight anomaly cluster.

    The cluster (5% of the training rows, unlabelled but for 5 rows labelled 1) sits
    inside the normal cloud's range, so unsupervised detectors learn it as normal; the
    same kind of anomaly recurs in the test rows.
    """
    rng = np.random.default_rng(seed)
    centre = np.zeros(d)
    centre[:2] = 2.5

    def draw(n_normal: int, n_anomalies: int) -> tuple[np.ndarray, np.ndarray]:
        X = np.vstack(
            [rng.normal(size=(n_normal, d)), centre + 0.3 * rng.normal(size=(n_anomalies, d))]
        )
        return X, np.r_[np.zeros(n_normal, dtype=int), np.ones(n_anomalies, dtype=int)]

    X_train, y_train = draw(950, 50)
    X_test, y_test = draw(300, 30)
    y_fit = np.full(len(X_train), -1)
    y_fit[np.flatnonzero(y_train == 1)[:5]] = 1
    return X_train, y_fit, X_test, y_test


@pytest.fixture(scope="module")
def cluster():
    return recurring_cluster()


def auroc(det, X_test, y_test) -> float:
    return roc_auc_score(y_test, det.decision_function(X_test))


# ------------------------------------------------------------------ learning from y
def test_labels_teach_both_detectors_the_recurring_anomaly(cluster):
    X_train, y_fit, X_test, y_test = cluster
    sad = auroc(deepad.DeepSAD(random_state=0).fit(X_train, y_fit), X_test, y_test)
    sad_blind = auroc(deepad.DeepSAD(random_state=0).fit(X_train), X_test, y_test)
    devnet = auroc(deepad.DevNet(random_state=0).fit(X_train, y_fit), X_test, y_test)
    svdd = auroc(deepad.DeepSVDD(epochs=20, random_state=0).fit(X_train), X_test, y_test)
    assert sad_blind < 0.5 and svdd < 0.5  # without labels the cluster looks normal
    assert sad > 0.95 and sad > sad_blind + 0.4
    assert devnet > 0.95 and devnet > svdd + 0.4


def test_uses_labels_is_declared():
    assert deepad.DeepSAD.uses_labels and deepad.DevNet.uses_labels
    assert not deepad.DeepSVDD.uses_labels


# ------------------------------------------------------------------ DeepSAD without y
def test_deep_sad_without_labelled_anomalies_is_deep_svdd(numeric_array):
    """Same network, centre and loss: y=None, all -1 or all 0 score exactly as DeepSVDD."""
    expected = (
        deepad.DeepSVDD(epochs=4, random_state=0).fit(numeric_array).decision_scores_
    )  # DeepSVDD holds out 10% for early stopping; DeepSAD is told to do the same
    params = {"epochs": 4, "validation_fraction": 0.1, "random_state": 0}
    n = len(numeric_array)
    for y in (None, np.full(n, -1), np.zeros(n, dtype=int), np.r_[np.zeros(100), -np.ones(100)]):
        scores = deepad.DeepSAD(**params).fit(numeric_array, y).decision_scores_
        np.testing.assert_array_equal(scores, expected)


def test_deep_sad_eta_weighs_the_labelled_rows(numeric_array):
    y = np.r_[np.ones(5, dtype=int), np.zeros(195, dtype=int)]
    one = deepad.DeepSAD(epochs=2, random_state=0).fit(numeric_array, y).decision_scores_
    two = deepad.DeepSAD(epochs=2, eta=2.0, random_state=0).fit(numeric_array, y).decision_scores_
    assert not np.array_equal(one, two)


# ------------------------------------------------------------------ DevNet without y
@pytest.mark.parametrize("y", [None, "unknown", "normal", "mixed"])
def test_devnet_without_labelled_anomalies_says_so(numeric_array, y):
    n = len(numeric_array)
    labels = {
        None: None,
        "unknown": np.full(n, -1),
        "normal": np.zeros(n, dtype=int),
        "mixed": np.r_[np.zeros(100, dtype=int), -np.ones(100, dtype=int)],
    }[y]
    det = deepad.DevNet(random_state=0)
    with pytest.raises(ValueError, match=DEVNET_NEEDS_LABELS):
        det.fit(numeric_array, labels)
    assert not hasattr(det, "threshold_")


def test_devnet_with_every_row_labelled_anomalous_says_so(numeric_array):
    with pytest.raises(ValueError, match="rows labelled 0 or -1"):
        deepad.DevNet(random_state=0).fit(numeric_array, np.ones(len(numeric_array)))


def test_devnet_scores_deviations_from_its_reference(cluster):
    """Normal rows score about 0, labelled anomalies well above (short of the margin 5:
    the default budget of about 150 steps stops before the loss has pushed them all there)."""
    X_train, y_fit, _, _ = cluster
    det = deepad.DevNet(random_state=0).fit(X_train, y_fit, calibration_size=0)
    assert (det.decision_scores_ >= 0).all()
    assert np.median(det.decision_scores_[y_fit == -1]) < 1.0
    assert np.median(det.decision_scores_[y_fit == 1]) > 2.0
    reference = np.random.default_rng(0).standard_normal(5000)
    assert float(det.module_.reference_mean) == pytest.approx(reference.mean(), abs=1e-6)
    assert float(det.module_.reference_std) == pytest.approx(reference.std(ddof=1), rel=1e-5)


# ------------------------------------------------------ determinism, bundles, params
@pytest.mark.parametrize("name", SEMI_SUPERVISED)
def test_same_seed_same_scores_other_seed_other_scores(name, cluster):
    X_train, y_fit, X_test, _ = cluster
    torch.manual_seed(1)
    first = deepad.DETECTORS[name](random_state=3).fit(X_train, y_fit)
    torch.manual_seed(2)
    second = deepad.DETECTORS[name](random_state=3).fit(X_train, y_fit)
    other = deepad.DETECTORS[name](random_state=4).fit(X_train, y_fit)
    np.testing.assert_array_equal(first.decision_function(X_test), second.decision_function(X_test))
    assert not np.array_equal(first.decision_scores_, other.decision_scores_)


@pytest.mark.parametrize("name", SEMI_SUPERVISED)
def test_bundle_round_trip_scores_identically(name, cluster, tmp_path):
    X_train, y_fit, X_test, _ = cluster
    non_default = {"DeepSAD": {"eta": 2.0}, "DevNet": {"margin": 4.0}}[name]
    det = deepad.DETECTORS[name](random_state=0, **non_default).fit(X_train, y_fit)
    loaded = deepad.load(det.save(tmp_path / "model"))
    assert type(loaded) is type(det)
    assert loaded.get_params() == det.get_params()
    assert loaded.decision_function(X_test).tobytes() == det.decision_function(X_test).tobytes()
    assert loaded.threshold_ == det.threshold_


@pytest.mark.parametrize("name", SEMI_SUPERVISED)
@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.ones(3), r"one entry per row of X \(1000\)"),
        (np.full(1000, 2), r"found \[2\]"),
        (np.array(["1"] * 1000), "must be numeric"),
        (np.full(1000, np.nan), "found"),
    ],
)
def test_bad_y_is_refused(name, cluster, y, message):
    X_train = cluster[0]
    with pytest.raises(ValueError, match=message):
        deepad.DETECTORS[name](random_state=0).fit(X_train, y)


@pytest.mark.parametrize(
    ("name", "param", "value"),
    [("DeepSAD", "eta", 0.0), ("DeepSAD", "eta", "1"), ("DevNet", "margin", -1.0)],
)
def test_model_params_are_validated(name, param, value, numeric_array):
    y = np.r_[1, np.zeros(len(numeric_array) - 1, dtype=int)]
    with pytest.raises(ValueError, match=f"{param} must be > 0"):
        deepad.DETECTORS[name](**{param: value}).fit(numeric_array, y)


# ------------------------------------------------------------- training loop targets
def _row_id_loss(seen: list):
    """A loss that records (row id, target) pairs: column 0 of the data holds the row id."""

    def loss(module: nn.Module, batch: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        seen.append((batch[:, 0].long().tolist(), targets.tolist(), module.training))
        return torch.mean(module(batch) ** 2)

    return loss


def test_targets_travel_with_their_rows_and_positives_are_never_held_out():
    n = 400
    data = np.c_[np.arange(n), np.random.default_rng(0).normal(size=(n, 2))].astype(np.float32)
    targets = np.where(np.arange(n) % 40 == 0, 1, -1)
    seen: list = []
    config = TrainingConfig(epochs=2, batch_size=32, validation_fraction=0.25, seed=0)
    history = fit_module(nn.Linear(3, 1), _row_id_loss(seen), data, config, targets=targets)
    assert len(history.validation_loss) == 2
    trained = {i for ids, _, training in seen if training for i in ids}
    held_out = {i for ids, _, training in seen if not training for i in ids}
    assert not trained & held_out
    assert len(held_out) == round(0.25 * (n - 10))
    assert set(np.flatnonzero(targets == 1)) <= trained
    for ids, batch_targets, _ in seen:
        assert batch_targets == targets[ids].tolist()


def test_balance_positive_fills_half_of_each_batch_with_positive_rows():
    n = 300
    data = np.c_[np.arange(n), np.random.default_rng(0).normal(size=(n, 2))].astype(np.float32)
    targets = np.where(np.arange(n) < 3, 1, 0)
    seen: list = []
    config = TrainingConfig(
        epochs=1, batch_size=32, validation_fraction=0.0, seed=0, balance_positive=True
    )
    fit_module(nn.Linear(3, 1), _row_id_loss(seen), data, config, targets=targets)
    batches = [batch_targets for _, batch_targets, training in seen if training]
    assert len(batches) == int(np.ceil(297 / 16))  # one pass over the 297 other rows
    for batch_targets in batches:
        assert sum(batch_targets) * 2 == len(batch_targets)
    others = [i for ids, _, _ in seen for i in ids if targets[i] == 0]
    assert sorted(others) == list(range(3, n))  # each other row once per epoch


def test_balance_positive_without_positive_rows_trains_plain_batches():
    data = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    seen: list = []
    config = TrainingConfig(epochs=1, batch_size=20, seed=0, balance_positive=True)
    data = np.c_[np.arange(100), data].astype(np.float32)
    fit_module(nn.Linear(4, 1), _row_id_loss(seen), data, config, targets=np.zeros(100))
    assert [len(ids) for ids, _, _ in seen] == [20] * 5


# --------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def cardio_labelled():
    """Cardio, stratified 70/30 split (seed 0), 5% of the training anomalies labelled 1."""
    X, y = load_cardio()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    anomalies = np.flatnonzero(y_train == 1)
    y_fit = np.full(len(y_train), -1)
    known = np.random.default_rng(0).choice(
        anomalies, size=max(1, int(0.05 * len(anomalies))), replace=False
    )
    y_fit[known] = 1
    return X_train, y_fit, X_test, y_test


def test_cardio_labelled_setting_beats_unsupervised_autoencoder(cardio_labelled):
    """Default params; reference (seed 0): DeepSAD 0.920, DevNet 0.956, AutoEncoder 0.631."""
    X_train, y_fit, X_test, y_test = cardio_labelled
    assert (y_fit == 1).sum() == 6
    baseline = auroc(deepad.AutoEncoder(random_state=0).fit(X_train), X_test, y_test)
    sad = auroc(deepad.DeepSAD(random_state=0).fit(X_train, y_fit), X_test, y_test)
    devnet = auroc(deepad.DevNet(random_state=0).fit(X_train, y_fit), X_test, y_test)
    print(f"cardio test AUROC: DeepSAD {sad:.3f}, DevNet {devnet:.3f}, AutoEncoder {baseline:.3f}")
    assert sad > baseline + 0.1, f"DeepSAD {sad:.4f} vs AutoEncoder {baseline:.4f}"
    assert devnet > baseline + 0.1, f"DevNet {devnet:.4f} vs AutoEncoder {baseline:.4f}"
    assert min(sad, devnet) > 0.85
