"""``Auto``: the ensemble default, its members, combination rule and persistence."""

from __future__ import annotations

import numpy as np
import pytest

import deepad
from deepad.models.auto import DEFAULT_MEMBERS, robust_scale


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(300, 4))
    test = np.vstack([rng.normal(size=(50, 4)), rng.normal(0.0, 1.0, size=(5, 4)) + 8.0])
    return train, test


def test_defaults_fit_the_documented_members(data):
    train, test = data
    det = deepad.Auto(random_state=0).fit(train)
    assert [type(m).__name__ for m in det.members_] == list(DEFAULT_MEMBERS)
    scores = det.decision_function(test)
    assert scores[-5:].min() > scores[:50].max()  # the planted rows rank first


def test_combination_is_the_max_or_mean_of_member_robust_z(data):
    train, test = data
    for rule, reduce in (("max", np.max), ("mean", np.mean)):
        det = deepad.Auto(combine=rule, random_state=0).fit(train)
        features = det.preprocessor_.transform(test)
        expected = reduce(
            [
                (m._score_features(features) - centre) / scale
                for m, (centre, scale) in zip(det.members_, det.member_scaling_, strict=True)
            ],
            axis=0,
        )
        np.testing.assert_allclose(det.decision_function(test), expected)


def test_training_scores_reuse_leave_one_out_knn(data):
    """Training rows are scored as members scored them in fit (k-NN excludes self)."""
    train, _ = data
    det = deepad.Auto(members=["KNN"], random_state=0).fit(train, calibration_size=0)
    knn = deepad.KNN().fit(train, calibration_size=0)
    centre, scale = robust_scale(knn.decision_scores_)
    np.testing.assert_allclose(det.decision_scores_, (knn.decision_scores_ - centre) / scale)


def test_large_training_sets_are_subsampled_for_the_members(data):
    train, test = data
    det = deepad.Auto(max_train_rows=100, random_state=0).fit(train)
    assert det.subsampled_
    assert len(det.members_[0].reference_) == 100  # KNN kept only the subsample
    assert len(det.decision_scores_) == len(train)
    assert np.isfinite(det.decision_function(test)).all()


def test_deep_member_with_member_params_round_trips(tmp_path, data):
    train, test = data
    det = deepad.Auto(
        members=["KNN", "AutoEncoder"],
        member_params={"AutoEncoder": {"epochs": 3}},
        random_state=0,
    ).fit(train)
    assert det.members_[1].history_.epochs_run <= 3
    loaded = deepad.load(det.save(tmp_path / "auto"))
    np.testing.assert_array_equal(loaded.decision_function(test), det.decision_function(test))
    assert loaded.get_params() == det.get_params()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"members": ["Nope"]}, r"unknown ensemble member\(s\) \['Nope'\]"),
        ({"members": ["Auto"]}, "unknown ensemble member"),
        ({"members": []}, "at least one detector"),
        ({"member_params": {"VAE": {}}}, r"names detector\(s\) \['VAE'\] that are not members"),
        ({"member_params": {"KNN": {"k": 3}}}, "member_params for KNN"),
        ({"combine": "median"}, "combine must be one of"),
        ({"max_train_rows": 5}, "max_train_rows must be an int >= 10"),
    ],
)
def test_bad_params_are_clear_errors(data, params, message):
    with pytest.raises(ValueError, match=message):
        deepad.Auto(**params).fit(data[0])


def test_cli_accepts_model_auto(tmp_path, data):
    import pandas as pd

    from deepad.cli import main

    path = tmp_path / "train.csv"
    pd.DataFrame(data[0], columns=list("abcd")).to_csv(path, index=False)
    assert main(["fit", str(path), "--model", "auto", "--out", str(tmp_path / "m")]) == 0
    assert deepad.load(tmp_path / "m").__class__ is deepad.Auto
