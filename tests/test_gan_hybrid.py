"""What is specific to ALAD (adversarial loop, score sign) and AEGMM (mixture arrays)."""

from __future__ import annotations

import io
import json
import struct
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture

import deepad
from deepad.models.aegmm import gmm_log_likelihood
from deepad.models.alad.torch_model import (
    ALADNet,
    discriminator_loss,
    generator_loss,
    reconstruction_error,
)
from deepad.nn.adversarial import AdversarialConfig, fit_adversarial
from deepad.nn.training import seeded


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(normal training rows, test rows, test labels): correlated 6-d Gaussian, far outliers."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    normal = rng.normal(size=(500, 6)) @ mixing
    outliers = rng.normal(size=(20, 6)) @ mixing + 8.0 * normal.std(axis=0)
    X_test = np.vstack([normal[400:], outliers])
    y_test = np.r_[np.zeros(100), np.ones(20)]
    return normal[:400], X_test, y_test


def _tiny_net(seed: int = 0) -> ALADNet:
    with seeded(seed):
        return ALADNet(4, [16, 8], 2, [16, 8], dropout=0.2, spectral_norm=True)


def _fit(net: ALADNet, data: np.ndarray, **config) -> object:
    return fit_adversarial(
        net,
        generator_parameters=net.generator_parameters(),
        discriminator_parameters=net.discriminator_parameters(),
        generator_loss=generator_loss,
        discriminator_loss=discriminator_loss,
        data=data,
        config=AdversarialConfig(**{"epochs": 3, "seed": 0, **config}),
    )


@pytest.fixture
def data() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)


# ------------------------------------------------------------------ adversarial loop
def test_adversarial_loop_is_deterministic_and_leaves_global_rng_alone(data):
    torch.manual_seed(123)
    before = torch.random.get_rng_state().clone()
    first, second, other = _tiny_net(), _tiny_net(), _tiny_net()
    history = _fit(first, data)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.rand(5)  # a different global state must not matter
    _fit(second, data)
    _fit(other, data, seed=1)
    a, b, c = first.state_dict(), second.state_dict(), other.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert history.epochs_run == 3
    assert len(history.discriminator_loss) == len(history.generator_loss) == 3


def test_training_stays_finite_and_both_players_learn(data):
    net = _tiny_net()
    start = {k: v.clone() for k, v in net.state_dict().items()}
    history = _fit(net, data, epochs=10, generator_lr=1e-3, discriminator_lr=1e-3)
    assert np.isfinite(history.discriminator_loss).all()
    assert np.isfinite(history.generator_loss).all()
    changed = {k for k, v in net.state_dict().items() if not torch.equal(v, start[k])}
    assert any(k.startswith("encoder.") for k in changed)
    assert any(k.startswith("generator.") for k in changed)
    assert any(k.startswith("d_xx.") for k in changed)
    with torch.inference_mode():
        assert torch.isfinite(net(torch.as_tensor(data))).all()
    assert not net.training


def test_overlapping_parameter_groups_are_refused(data):
    net = _tiny_net()
    with pytest.raises(ValueError, match="overlap"):
        fit_adversarial(
            net,
            generator_parameters=net.parameters(),
            discriminator_parameters=net.discriminator_parameters(),
            generator_loss=generator_loss,
            discriminator_loss=discriminator_loss,
            data=data,
            config=AdversarialConfig(epochs=1),
        )


def test_diverging_loss_names_the_player(data):
    net = _tiny_net()

    def exploding(module, batch):
        return discriminator_loss(module, batch) * float("inf")

    with pytest.raises(FloatingPointError, match=r"discriminator loss.*smaller learning_rate"):
        fit_adversarial(
            net,
            generator_parameters=net.generator_parameters(),
            discriminator_parameters=net.discriminator_parameters(),
            generator_loss=generator_loss,
            discriminator_loss=exploding,
            data=data,
            config=AdversarialConfig(epochs=1),
        )


def test_monitor_early_stopping_restores_best_epoch():
    data = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)
    net = _tiny_net()
    history = fit_adversarial(
        net,
        generator_parameters=net.generator_parameters(),
        discriminator_parameters=net.discriminator_parameters(),
        generator_loss=generator_loss,
        discriminator_loss=discriminator_loss,
        data=data,
        config=AdversarialConfig(epochs=60, patience=2, min_epochs=5, seed=0),
        monitor=reconstruction_error,
    )
    assert 5 <= history.epochs_run < 60
    assert len(history.validation_loss) == history.epochs_run
    # stopped ``patience`` epochs after the last (0.1%) improvement
    assert history.epochs_run == max(5, history.best_epoch + 1 + 2)
    best = history.validation_loss[history.best_epoch]
    assert best <= min(history.validation_loss) * (1 + 1e-3)
    # the held-out rows are the first 10% of the seeded permutation, as in fit_module
    val = torch.as_tensor(data[np.random.default_rng(0).permutation(len(data))[:40]])
    with torch.inference_mode():
        restored = float(reconstruction_error(net, val))
    assert restored == pytest.approx(best, rel=1e-5)


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("verbose", "tty", "shown"), [(1, True, True), (1, False, False)])
def test_alad_progress_bar_only_on_a_terminal(monkeypatch, data, verbose, tty, shown):
    stream = _FakeTTY() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    deepad.ALAD(epochs=1, verbose=verbose, random_state=0).fit(data)
    assert ("ALAD" in stream.getvalue()) is shown


# ------------------------------------------------------------------------------ ALAD
def test_alad_scores_planted_far_rows_higher(blobs):
    """The score sign: rows far from the training data score above held-out normal rows."""
    train, X_test, y_test = blobs
    det = deepad.ALAD(epochs=15, random_state=0).fit(train)
    scores = det.decision_function(X_test)
    assert roc_auc_score(y_test, scores) > 0.95
    assert np.median(scores[y_test == 1]) > np.max(det.decision_scores_)
    assert (det.decision_scores_ >= 0).all()  # an L1 distance


def test_alad_feature_layers(numeric_array):
    all_layers = deepad.ALAD(epochs=2, feature_layers="all", random_state=0).fit(numeric_array)
    last = deepad.ALAD(epochs=2, random_state=0).fit(numeric_array)
    assert last.feature_layers == "last"  # the paper's read-out is the default
    # same training, different read-out: the last layer is one of the summed terms
    assert (last.decision_scores_ <= all_layers.decision_scores_ + 1e-6).all()
    assert not np.allclose(last.decision_scores_, all_layers.decision_scores_)
    with pytest.raises(ValueError, match="feature_layers must be 'all' or 'last'"):
        deepad.ALAD(epochs=1, feature_layers="first").fit(numeric_array)


@pytest.mark.parametrize(
    ("params", "message"),
    [({"dropout": 1.0}, "dropout must be in"), ({"patience": 0}, "patience must be")],
)
def test_alad_params_are_validated(numeric_array, params, message):
    with pytest.raises(ValueError, match=message):
        deepad.ALAD(epochs=1, **params).fit(numeric_array)


def test_alad_patience_early_stops_on_reconstruction():
    rows = np.random.default_rng(0).normal(size=(400, 5))  # >= 32 held-out rows
    det = deepad.ALAD(epochs=200, patience=2, random_state=0).fit(rows)
    assert det.history_.epochs_run < 200
    assert len(det.history_.validation_loss) == det.history_.epochs_run


def test_alad_without_spectral_norm_trains(numeric_array):
    det = deepad.ALAD(epochs=2, spectral_norm=False, random_state=0).fit(numeric_array)
    assert np.isfinite(det.decision_scores_).all()
    assert not any("parametrizations" in key for key in det.module_.state_dict())


# ----------------------------------------------------------------------------- AEGMM
def test_gmm_log_likelihood_equals_sklearn():
    rng = np.random.default_rng(0)
    X = np.vstack(
        [rng.normal(0, 1, (150, 4)), rng.normal(4, 0.5, (100, 4)) @ rng.normal(size=(4, 4))]
    )
    mixture = GaussianMixture(3, covariance_type="full", random_state=0).fit(X)
    new = rng.normal(1, 3, size=(40, 4))
    ours = gmm_log_likelihood(new, mixture.weights_, mixture.means_, mixture.precisions_cholesky_)
    np.testing.assert_allclose(ours, mixture.score_samples(new), rtol=1e-12, atol=1e-10)
    # a row alone scores exactly as inside the batch
    assert (
        gmm_log_likelihood(
            new[[7]], mixture.weights_, mixture.means_, mixture.precisions_cholesky_
        )[0]
        == ours[7]
    )


def test_aegmm_scores_equal_sklearn_mixture_rebuilt_from_stored_arrays(mixed_frame, tmp_path):
    det = deepad.AEGMM(epochs=3, random_state=0).fit(mixed_frame)
    loaded = deepad.load(det.save(tmp_path / "model"))
    gmm = loaded.gmm_
    rebuilt = GaussianMixture(len(gmm["weights"]), covariance_type="full")
    rebuilt.weights_ = gmm["weights"]
    rebuilt.means_ = gmm["means"]
    rebuilt.covariances_ = gmm["covariances"]
    rebuilt.precisions_cholesky_ = gmm["precisions_cholesky"]
    # the stored factor is the Cholesky factor of the inverse of the stored covariance
    for cov, chol in zip(gmm["covariances"], gmm["precisions_cholesky"], strict=True):
        np.testing.assert_allclose(chol @ chol.T, np.linalg.inv(cov), rtol=1e-8, atol=1e-8)

    features = loaded._deep_features(loaded.preprocessor_.transform(mixed_frame))
    standard = (features - gmm["feature_mean"]) / gmm["feature_scale"]
    np.testing.assert_allclose(
        -rebuilt.score_samples(standard), loaded.decision_function(mixed_frame), rtol=1e-10
    )


def test_aegmm_bundle_stores_the_mixture_as_arrays(mixed_frame, tmp_path):
    det = deepad.AEGMM(epochs=3, random_state=0).fit(mixed_frame)
    path = det.save(tmp_path / "model")
    raw = (path / "weights.safetensors").read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    k = len(det.gmm_["weights"])
    n_dims = det.architecture_["latent_dim"] + 2
    assert header["model.gmm.weights"]["shape"] == [k]
    assert header["model.gmm.means"]["shape"] == [k, n_dims]
    assert header["model.gmm.covariances"]["shape"] == [k, n_dims, n_dims]
    assert header["model.gmm.precisions_cholesky"]["shape"] == [k, n_dims, n_dims]
    assert header["model.gmm.feature_mean"]["shape"] == [n_dims]
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["model_state"]["n_components"] == k
    assert manifest["model_state"]["covariance_type"] == "full"


def test_aegmm_picks_components_by_bic(numeric_array):
    """Two well-separated groups of rows: BIC prefers more than one component."""
    rng = np.random.default_rng(0)
    two_groups = np.vstack([numeric_array, rng.normal(10.0, 1.0, size=(200, 5))])
    det = deepad.AEGMM(epochs=5, random_state=0).fit(two_groups)
    assert 2 <= len(det.gmm_["weights"]) <= 5
    one = deepad.AEGMM(epochs=5, max_components=1, random_state=0).fit(two_groups)
    assert len(one.gmm_["weights"]) == 1
    fixed = deepad.AEGMM(epochs=5, n_components=3, random_state=0).fit(two_groups)
    assert len(fixed.gmm_["weights"]) == 3


def test_aegmm_scores_planted_far_rows_higher(blobs):
    train, X_test, y_test = blobs
    det = deepad.AEGMM(epochs=20, random_state=0).fit(train)
    scores = det.decision_function(X_test)
    assert roc_auc_score(y_test, scores) > 0.95
    assert np.median(scores[y_test == 1]) > np.max(det.decision_scores_)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_components": 0}, "n_components must be a positive int"),
        ({"max_components": 2.5}, "max_components must be a positive int"),
        ({"reg_covar": 0.0}, "reg_covar must be > 0"),
        ({"dropout": -0.1}, "dropout must be in"),
    ],
)
def test_aegmm_params_are_validated(numeric_array, params, message):
    with pytest.raises(ValueError, match=message):
        deepad.AEGMM(epochs=1, **params).fit(numeric_array)


def test_aegmm_fits_on_fewer_rows_than_components():
    tiny = np.random.default_rng(0).normal(size=(3, 2))
    det = deepad.AEGMM(epochs=1, random_state=0).fit(tiny)
    assert len(det.gmm_["weights"]) <= 3
    assert np.isfinite(det.decision_function(tiny)).all()
    with pytest.raises(ValueError, match="AEGMM needs at least 2 training rows"):
        deepad.AEGMM(epochs=1, random_state=0).fit(tiny[:1])
