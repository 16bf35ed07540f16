"""What is specific to GOAD: random affine maps as buffers, centres, score formula, far rows."""

from __future__ import annotations

import json
import struct

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad.models.goad.torch_model import center_triplet_loss, squared_distances

FAST = {"epochs": 5, "random_state": 0}


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(normal training rows, test rows, test labels): a correlated 6-d Gaussian.

    The 20 test anomalies sit at 10x the training scale, in random directions from the
    training mean.
    """
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    normal = rng.normal(size=(500, 6)) @ mixing
    mean, scale = normal[:400].mean(axis=0), normal[:400].std(axis=0)
    directions = rng.normal(size=(20, 6))
    directions *= np.sqrt(6) / np.linalg.norm(directions, axis=1, keepdims=True)
    outliers = mean + 10 * scale * directions
    X_test = np.vstack([normal[400:], outliers])
    y_test = np.r_[np.zeros(100), np.ones(20)]
    return normal[:400], X_test, y_test


# ----------------------------------------------------------------------- behaviour
def test_far_rows_score_above_every_training_row(blobs):
    train, X_test, y_test = blobs
    det = deepad.GOAD(epochs=10, random_state=0).fit(train)
    scores = det.decision_function(X_test)
    assert roc_auc_score(y_test, scores) > 0.95
    assert scores[y_test == 1].min() > det.decision_scores_.max()


def test_far_rows_in_a_frame_with_a_categorical_column():
    rng = np.random.default_rng(3)
    n_rows = 300
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3.0, 0.5, n_rows),
            "duration": rng.normal(60.0, 10.0, n_rows),
            "channel": pd.Categorical(rng.choice(["web", "shop", "phone"], n_rows)),
        }
    )
    det = deepad.GOAD(**FAST).fit(frame)
    assert det.n_features_in_ == 3
    assert np.isfinite(det.decision_scores_).all()

    new = frame.head(4).copy()
    new["channel"] = new["channel"].cat.add_categories(["fax"])
    new.loc[1, "channel"] = "fax"  # never seen in training
    new.loc[2, "amount"] = frame["amount"].mean() + 10 * frame["amount"].std()
    new.loc[3, "duration"] = frame["duration"].mean() - 10 * frame["duration"].std()
    scores = det.decision_function(new)
    assert np.isfinite(scores).all()
    assert scores[2] > det.decision_scores_.max()
    assert scores[3] > det.decision_scores_.max()


def test_score_is_minus_summed_log_probability_of_the_right_transform(numeric_array):
    """Score = -sum_m log softmax_m'(-||f(T(x, m)) - c_m'||^2)[m], as in the paper."""
    det = deepad.GOAD(n_transforms=5, **FAST).fit(numeric_array, calibration_size=0)
    module = det.module_
    features = torch.as_tensor(det.preprocessor_.transform(numeric_array), dtype=torch.float32)
    with torch.no_grad():
        transformed = features @ module.transforms + module.offsets[:, None, :]  # (M, n, r)
        z = module.extractor(transformed).transpose(0, 1).double()  # (n, M, k)
        # c_m is the mean training feature of transformation m
        np.testing.assert_allclose(
            module.centers.double().numpy(), z.mean(dim=0).numpy(), rtol=1e-5, atol=1e-6
        )
        diff = z.unsqueeze(2) - module.centers.double()  # (n, M, M, k)
        log_p = torch.log_softmax(-(diff**2).sum(-1), dim=-1)
        expected = -torch.diagonal(log_p, dim1=1, dim2=2).sum(dim=1).numpy()
    np.testing.assert_allclose(det.decision_function(numeric_array), expected, rtol=1e-4)
    assert (det.decision_scores_ >= 0).all()


def test_transforms_are_fixed_buffers_drawn_from_random_state(numeric_array):
    det = deepad.GOAD(n_transforms=4, transform_dim=3, feature_dim=2, **FAST).fit(numeric_array)
    module = det.module_
    assert module.transforms.shape == (4, 5, 3)
    assert module.offsets.shape == (4, 3)
    assert module.centers.shape == (4, 2)
    buffers = dict(module.named_buffers())
    assert {"transforms", "offsets", "centers"} <= set(buffers)
    assert not any(name in {"transforms", "offsets"} for name, _ in module.named_parameters())
    # distinct maps, not all zero
    assert not torch.equal(module.transforms[0], module.transforms[1])

    again = deepad.GOAD(n_transforms=4, transform_dim=3, feature_dim=2, **FAST).fit(numeric_array)
    assert torch.equal(again.module_.transforms, module.transforms)
    other = deepad.GOAD(
        n_transforms=4, transform_dim=3, feature_dim=2, epochs=5, random_state=1
    ).fit(numeric_array)
    assert not torch.equal(other.module_.transforms, module.transforms)


def test_same_random_state_gives_identical_scores(mixed_frame):
    torch.manual_seed(1)
    first = deepad.GOAD(**FAST).fit(mixed_frame)
    torch.manual_seed(2)
    np.random.default_rng(5)
    second = deepad.GOAD(**FAST).fit(mixed_frame)
    assert first.decision_scores_.tobytes() == second.decision_scores_.tobytes()
    np.testing.assert_array_equal(
        first.decision_function(mixed_frame), second.decision_function(mixed_frame)
    )
    other = deepad.GOAD(epochs=5, random_state=1).fit(mixed_frame)
    assert not np.array_equal(other.decision_scores_, first.decision_scores_)


def test_training_learns_to_tell_the_transforms_apart(numeric_array):
    """After training, the right transformation is the most probable one for most rows."""
    det = deepad.GOAD(epochs=30, random_state=0).fit(numeric_array)
    history = det.history_
    assert history.train_loss[-1] < history.train_loss[0]
    n_transforms = det.architecture_["n_transforms"]
    # mean -log P(m | T(x, m)) per transformation, well below the uniform log(M)
    assert np.median(det.decision_scores_) / n_transforms < 0.5 * np.log(n_transforms)


# ---------------------------------------------------------------------- persistence
def test_save_load_round_trip_gives_identical_scores(mixed_frame, tmp_path):
    det = deepad.GOAD(**FAST).fit(mixed_frame)
    path = det.save(tmp_path / "model")
    loaded = deepad.load(path)
    assert type(loaded) is deepad.GOAD
    assert loaded.get_params() == det.get_params()
    assert loaded.architecture_ == det.architecture_
    for name in ("transforms", "offsets", "centers"):
        assert torch.equal(getattr(loaded.module_, name), getattr(det.module_, name))
    assert loaded.decision_function(mixed_frame).tobytes() == (
        det.decision_function(mixed_frame).tobytes()
    )
    np.testing.assert_array_equal(loaded.predict(mixed_frame), det.predict(mixed_frame))

    raw = (path / "weights.safetensors").read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    arch = det.architecture_
    m, d, r = arch["n_transforms"], arch["n_features"], arch["transform_dim"]
    assert header["model.net.transforms"]["shape"] == [m, d, r]
    assert header["model.net.offsets"]["shape"] == [m, r]
    assert header["model.net.centers"]["shape"] == [m, arch["feature_dim"]]


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_transforms": 1}, r"n_transforms must be an int >= 2, got 1"),
        ({"n_transforms": 8.0}, r"n_transforms must be an int >= 2, got 8\.0"),
        ({"n_transforms": True}, r"n_transforms must be an int >= 2, got True"),
        ({"transform_dim": 0}, r"transform_dim must be a positive int, got 0"),
        ({"transform_dim": None}, r"transform_dim must be a positive int, got None"),
        ({"feature_dim": -3}, r"feature_dim must be a positive int, got -3"),
        ({"hidden_dims": [16, 0]}, r"hidden_dims must be a list of positive ints"),
        ({"hidden_dims": "32"}, r"hidden_dims must be a list of positive ints"),
        ({"margin": -1.0}, r"margin must be a number >= 0, got -1\.0"),
        ({"margin": "1"}, r"margin must be a number >= 0, got '1'"),
        ({"triplet_weight": float("nan")}, r"triplet_weight must be a number >= 0, got nan"),
        ({"random_state": 1.5}, r"random_state must be an int or None"),
    ],
)
def test_params_are_validated(numeric_array, params, message):
    det = deepad.GOAD(epochs=1, **params)
    with pytest.raises(ValueError, match=message):
        det.fit(numeric_array)
    assert not hasattr(det, "threshold_")


def test_params_are_stored_verbatim():
    hidden = [16, 8]
    det = deepad.GOAD(n_transforms=7, hidden_dims=hidden, margin=2, triplet_weight=0)
    assert det.hidden_dims is hidden
    assert det.get_params()["n_transforms"] == 7
    assert det.get_params()["margin"] == 2


def test_custom_sizes_and_no_triplet_term(numeric_array):
    det = deepad.GOAD(
        n_transforms=3, transform_dim=4, hidden_dims=[], feature_dim=2, triplet_weight=0, **FAST
    ).fit(numeric_array)
    assert det.architecture_["hidden_dims"] == []
    assert np.isfinite(det.decision_function(numeric_array)).all()


# ----------------------------------------------------------------------- the losses
def test_center_triplet_loss_is_zero_for_tight_separated_clusters():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    z = centers + 0.01 * torch.randn(32, 3, 2, generator=torch.Generator().manual_seed(0))
    assert float(center_triplet_loss(z, margin=1.0)) == 0.0
    # every copy at the same point: own and nearest other distances tie, loss = margin
    same = torch.zeros(8, 3, 2)
    assert float(center_triplet_loss(same, margin=1.0)) == pytest.approx(1.0)


def test_squared_distances_match_broadcasting():
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(7, 4, 3, generator=generator, dtype=torch.float64)
    centers = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    expected = ((z.unsqueeze(2) - centers) ** 2).sum(-1)
    torch.testing.assert_close(squared_distances(z, centers), expected)
