"""ConvAutoEncoder and ConvVAE: shapes, the score = max(map) convention, determinism, a
synthetic defect, bundles, parameter checks and grey / RGB input. Tiny images, few epochs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.base import clone

import deepad
from deepad.models import IMAGE_DETECTORS

SIZE = 32
CLASSES = [deepad.ConvAutoEncoder, deepad.ConvVAE]
FAST = {"image_size": SIZE, "width": 8, "latent_dim": 16, "epochs": 15, "random_state": 0}
#: the bright square of the defect images: rows and columns [SQUARE, SQUARE + SIDE)
SQUARE, SIDE = 12, 6


def textures(n: int, seed: int, channels: int = 0) -> np.ndarray:
    """Smooth sinusoidal textures (n, SIZE, SIZE) in [0.2, 0.6], or (n, SIZE, SIZE, 3)
    tinted per channel when ``channels`` is 3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    images = []
    for _ in range(n):
        fx, fy, phase = rng.uniform(1, 2), rng.uniform(1, 2), rng.uniform(0, 2 * np.pi)
        images.append(0.4 + 0.15 * np.sin(2 * np.pi * (fx * xx + fy * yy) + phase))
    grey = np.stack(images) + rng.normal(0, 0.01, (n, SIZE, SIZE))
    if channels == 3:
        grey = grey[..., None] * np.array([1.0, 0.8, 0.6])
    return np.clip(grey, 0, 1).astype(np.float32)


def with_square(images: np.ndarray) -> np.ndarray:
    defective = images.copy()
    defective[:, SQUARE : SQUARE + SIDE, SQUARE : SQUARE + SIDE] = 1.0
    return defective


@pytest.fixture(scope="module")
def train() -> np.ndarray:
    return textures(48, seed=0)


@pytest.fixture(scope="module")
def fitted(train: np.ndarray) -> dict[str, Any]:
    return {cls.__name__: cls(**FAST).fit(train) for cls in CLASSES}


def test_registered() -> None:
    for cls in CLASSES:
        assert IMAGE_DETECTORS[cls.__name__] is cls
        assert cls.__name__ in deepad.__all__
        assert cls.modality == "image" and not cls.needs_rgb


@pytest.mark.parametrize("name", [c.__name__ for c in CLASSES])
def test_scores_and_maps(fitted: dict[str, Any], name: str) -> None:
    detector = fitted[name]
    test = textures(10, seed=1)
    scores = detector.decision_function(test)
    maps = detector.anomaly_maps(test)
    assert scores.shape == (10,) and scores.dtype == np.float64
    assert maps.shape == (10, SIZE, SIZE) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and (maps >= 0).all()
    # the score is the map's maximum, in the same units
    np.testing.assert_array_equal(scores, maps.reshape(10, -1).max(axis=1).astype(np.float64))
    assert detector.decision_scores_.shape == (48,)
    assert np.isfinite(detector.threshold_)
    explanation = detector.explain(test)
    np.testing.assert_array_equal(explanation.scores, scores)


@pytest.mark.parametrize("name", [c.__name__ for c in CLASSES])
def test_defect_scores_higher_and_map_peaks_inside(fitted: dict[str, Any], name: str) -> None:
    detector = fitted[name]
    clean = textures(12, seed=2)
    defective = with_square(clean)
    clean_scores = detector.decision_function(clean)
    defect_scores = detector.decision_function(defective)
    assert defect_scores.min() > clean_scores.max()
    maps = detector.anomaly_maps(defective)
    rows, cols = np.unravel_index(maps.reshape(12, -1).argmax(axis=1), (SIZE, SIZE))
    assert ((rows >= SQUARE) & (rows < SQUARE + SIDE)).all()
    assert ((cols >= SQUARE) & (cols < SQUARE + SIDE)).all()
    assert (detector.predict(defective) == 1).all()


@pytest.mark.parametrize("cls", CLASSES)
def test_deterministic_given_random_state(
    cls: type, train: np.ndarray, fitted: dict[str, Any]
) -> None:
    test = textures(6, seed=3)
    again = cls(**FAST).fit(train)
    np.testing.assert_array_equal(
        again.decision_function(test), fitted[cls.__name__].decision_function(test)
    )
    other = cls(**{**FAST, "random_state": 1}).fit(train)
    assert not np.array_equal(other.decision_function(test), again.decision_function(test))


@pytest.mark.parametrize("name", [c.__name__ for c in CLASSES])
def test_save_load_round_trip(fitted: dict[str, Any], name: str, tmp_path: Any) -> None:
    detector = fitted[name]
    test = with_square(textures(5, seed=4))
    detector.save(tmp_path / "bundle")
    loaded = deepad.load(tmp_path / "bundle")
    assert type(loaded) is type(detector)
    assert loaded.get_params() == detector.get_params()
    np.testing.assert_array_equal(loaded.decision_function(test), detector.decision_function(test))
    np.testing.assert_array_equal(loaded.anomaly_maps(test), detector.anomaly_maps(test))
    assert loaded.threshold_ == detector.threshold_


@pytest.mark.parametrize("cls", CLASSES)
def test_params_stored_verbatim(cls: type) -> None:
    params = {**FAST, "blur_sigma": 1, "batch_size": 8, "device": "cpu"}
    detector = cls(**params)
    assert {k: detector.get_params()[k] for k in params} == params
    assert clone(detector).get_params() == detector.get_params()


BAD_PARAMS = [
    ("image_size", 40),  # not a multiple of 16
    ("image_size", 16),
    ("image_size", 64.0),
    ("width", 0),
    ("latent_dim", None),
    ("epochs", 0),
    ("batch_size", 2.5),
    ("learning_rate", 0.0),
    ("validation_fraction", 0.5),
    ("weight_decay", -1.0),
    ("patience", 0),
    ("blur_sigma", -1.0),
    ("contamination", 0.9),
    ("random_state", "seed"),
    ("device", "tpu"),
]


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize(("param", "value"), BAD_PARAMS)
def test_bad_params_raise_value_error_naming_them(
    cls: type, param: str, value: Any, train: np.ndarray
) -> None:
    with pytest.raises(ValueError, match=param):
        cls(**{**FAST, param: value}).fit(train[:4])


def test_vae_beta_checked(train: np.ndarray) -> None:
    with pytest.raises(ValueError, match="beta"):
        deepad.ConvVAE(**{**FAST, "beta": -0.5}).fit(train[:4])


@pytest.mark.parametrize("cls", CLASSES)
def test_grey_stays_one_channel_rgb_keeps_three(cls: type) -> None:
    fast = {**FAST, "epochs": 2}
    grey = cls(**fast).fit(textures(8, seed=5), calibration_size=0)
    assert grey.channels_ == 1 and grey.architecture_["channels"] == 1
    colour = textures(8, seed=5, channels=3)
    rgb = cls(**fast).fit(colour, calibration_size=0)
    assert rgb.channels_ == 3 and rgb.architecture_["channels"] == 3
    assert rgb.anomaly_maps(colour).shape == (8, SIZE, SIZE)
    # grey images stored as three equal channels are read as grey
    stacked = np.repeat(textures(8, seed=5)[..., None], 3, axis=-1)
    assert cls(**fast).fit(stacked, calibration_size=0).channels_ == 1
    # a grey detector scores RGB input (converted to luma), and the reverse
    assert grey.decision_function(colour).shape == (8,)
    assert rgb.decision_function(textures(3, seed=6)).shape == (3,)
