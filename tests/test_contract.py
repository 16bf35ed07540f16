"""The estimator contract every detector keeps, checked for each registered detector."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import labels_for
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import deepad
from deepad.calibrate import conformal_threshold
from deepad.preprocess.tabular import MissingValueWarning

DETECTOR_NAMES = sorted(deepad.TABLE_DETECTORS)
TORCH_NAMES = sorted(n for n, c in deepad.TABLE_DETECTORS.items() if "epochs" in c().get_params())
SEEDED_NAMES = sorted(
    n for n, c in deepad.TABLE_DETECTORS.items() if "random_state" in c().get_params()
)
UNSUPERVISED_NAMES = sorted(n for n, c in deepad.TABLE_DETECTORS.items() if not c.uses_labels)

NUMERIC_COLUMNS = ["num_a", "num_nan", "num_inf", "count"]


def test_registry_lists_every_detector():
    assert set(deepad.TABLE_DETECTORS) == {
        "Auto",
        "DTE",
        "AutoEncoder",
        "VAE",
        "DeepSVDD",
        "IsolationForest",
        "KNN",
        "PCA",
        "ECOD",
        "DeepSAD",
        "DevNet",
        "GOAD",
        "ALAD",
        "AEGMM",
    }
    for name, cls in deepad.TABLE_DETECTORS.items():
        assert cls.__name__ == name
        assert issubclass(cls, deepad.BaseDetector)
        assert getattr(deepad, name) is cls


# --------------------------------------------------------------------------- outputs
def test_outputs_have_contract_shapes_and_dtypes(make_detector, detector_name, numeric_array):
    train, test = numeric_array[:150], numeric_array[150:]
    det = make_detector(detector_name)
    assert det.fit(train, labels_for(detector_name, train)) is det

    scores = det.decision_function(test)
    assert scores.dtype == np.float64
    assert scores.shape == (len(test),)

    labels = det.predict(test)
    assert labels.shape == (len(test),)
    assert np.issubdtype(labels.dtype, np.integer)
    assert set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(labels, (scores > det.threshold_).astype(int))

    assert det.decision_scores_.dtype == np.float64
    assert det.decision_scores_.shape == (len(train),)
    assert isinstance(det.threshold_, float)
    assert det.n_features_in_ == 5
    assert list(det.feature_names_in_) == [f"x{i}" for i in range(5)]


def test_scores_are_finite(make_detector, detector_name, numeric_array):
    det = make_detector(detector_name).fit(numeric_array, labels_for(detector_name, numeric_array))
    assert np.isfinite(det.decision_scores_).all()
    assert np.isfinite(det.decision_function(numeric_array)).all()
    assert np.isfinite(det.threshold_)


def test_fit_predict_labels_training_rows(make_detector, detector_name, numeric_array):
    det = make_detector(detector_name)
    labels = det.fit_predict(numeric_array, labels_for(detector_name, numeric_array))
    np.testing.assert_array_equal(labels, (det.decision_scores_ > det.threshold_).astype(int))


@pytest.mark.parametrize("contamination", [0.05, 0.2])
def test_by_default_predict_flags_p_values_at_most_contamination(
    make_detector, detector_name, numeric_array, contamination
):
    """Fit holds out calibration rows; predict flags conformal p-value <= contamination."""
    y = labels_for(detector_name, numeric_array)
    det = make_detector(detector_name, contamination=contamination).fit(numeric_array, y)
    calibrator = det.calibrator_
    assert (calibrator.rule, calibrator.level) == ("fpr", contamination)
    eligible = len(numeric_array) - (0 if y is None else int((y == 1).sum()))
    assert calibrator.n_calibration == int(0.2 * eligible)  # "auto": a fifth of the rows
    assert det.threshold_ == conformal_threshold(calibrator.calibration_scores, contamination)
    new = numeric_array + np.random.default_rng(1).normal(0, 0.1, numeric_array.shape)
    np.testing.assert_array_equal(
        det.predict(new), (det.p_values(new) <= contamination).astype(int)
    )


@pytest.mark.parametrize("contamination", [0.05, 0.2])
def test_without_calibration_predict_flags_contamination_of_training_rows(
    make_detector, detector_name, numeric_array, contamination
):
    """calibration_size=0 gives PyOD's rule: the 1 - contamination training quantile."""
    y = labels_for(detector_name, numeric_array)
    det = make_detector(detector_name, contamination=contamination)
    flagged = det.fit_predict(numeric_array, y, calibration_size=0).mean()
    assert flagged == pytest.approx(contamination, abs=0.02)
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 1 - contamination))
    assert det.calibrator_.rule == "contamination"


@pytest.mark.parametrize("name", UNSUPERVISED_NAMES)
def test_y_is_ignored(make_detector, name, numeric_array):
    """Unsupervised: labels of the right length are accepted and change nothing."""
    y = np.zeros(len(numeric_array), dtype=int)
    y[:10] = 1
    without = make_detector(name).fit(numeric_array).decision_function(numeric_array)
    with_y = make_detector(name).fit(numeric_array, y).decision_function(numeric_array)
    np.testing.assert_array_equal(without, with_y)


def test_array_and_dataframe_inputs_agree(make_detector, detector_name, numeric_array):
    frame = pd.DataFrame(numeric_array, columns=list("abcde"))
    y = labels_for(detector_name, numeric_array)
    from_array = make_detector(detector_name).fit(numeric_array, y)
    from_frame = make_detector(detector_name).fit(frame, y)
    np.testing.assert_array_equal(
        from_array.decision_function(numeric_array), from_frame.decision_function(frame)
    )


# ----------------------------------------------------------------------- determinism
def test_same_random_state_gives_identical_scores(make_detector, detector_name, mixed_frame):
    """Same random_state, same scores, whatever state the global RNGs are in."""
    y = labels_for(detector_name, mixed_frame)
    torch.manual_seed(123)
    first = make_detector(detector_name).fit(mixed_frame, y)
    torch.manual_seed(456)
    torch.rand(10)
    second = make_detector(detector_name).fit(mixed_frame, y)
    np.testing.assert_array_equal(first.decision_scores_, second.decision_scores_)
    np.testing.assert_array_equal(
        first.decision_function(mixed_frame), second.decision_function(mixed_frame)
    )
    assert first.threshold_ == second.threshold_


@pytest.mark.parametrize("name", SEEDED_NAMES)
def test_random_state_is_used(make_detector, name, numeric_array):
    """A different seed gives different scores, so the seed really drives randomness."""
    y = labels_for(name, numeric_array)
    zero = make_detector(name, random_state=0).fit(numeric_array, y)
    one = make_detector(name, random_state=1).fit(numeric_array, y)
    assert not np.array_equal(zero.decision_scores_, one.decision_scores_)


def test_fit_leaves_global_rngs_untouched(make_detector, detector_name, numeric_array):
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    torch_state = torch.random.get_rng_state().clone()
    make_detector(detector_name).fit(numeric_array, labels_for(detector_name, numeric_array))
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert torch.equal(torch.random.get_rng_state(), torch_state)


# ------------------------------------------------------------------ sklearn protocol
def test_clone_gives_unfitted_estimator_with_equal_params(
    make_detector, detector_name, numeric_array
):
    y = labels_for(detector_name, numeric_array)
    det = make_detector(detector_name, contamination=0.15).fit(numeric_array, y)
    copy = clone(det)
    assert type(copy) is type(det)
    assert copy is not det
    assert copy.get_params() == det.get_params()
    assert not hasattr(copy, "threshold_")
    assert not hasattr(copy, "decision_scores_")
    with pytest.raises(NotFittedError, match="fit"):
        copy.decision_function(numeric_array)


def test_get_params_set_params_round_trip(make_detector, detector_name, numeric_array):
    cls = deepad.TABLE_DETECTORS[detector_name]
    params = make_detector(detector_name, contamination=0.2).get_params()
    fresh = cls()
    assert fresh.set_params(**params) is fresh
    assert fresh.get_params() == params
    # the new value is really used by fit
    y = labels_for(detector_name, numeric_array)
    flagged = fresh.fit_predict(numeric_array, y, calibration_size=0).mean()
    assert flagged == pytest.approx(0.2, abs=0.02)
    with pytest.raises(ValueError, match="no_such_param"):
        fresh.set_params(no_such_param=1)


# --------------------------------------------------------------------- mixed tables
def test_mixed_frame_with_unseen_category_and_nan(make_detector, detector_name, mixed_frame):
    det = make_detector(detector_name).fit(mixed_frame, labels_for(detector_name, mixed_frame))
    assert det.n_features_in_ == mixed_frame.shape[1]
    assert np.isfinite(det.decision_scores_).all()

    new = mixed_frame.head(20).copy()
    new["color"] = new["color"].astype(object)
    new.loc[0, "color"] = "purple"  # never seen in training
    new.loc[1, "color"] = None
    new["size"] = new["size"].cat.add_categories(["XXL"])
    new.loc[2, "size"] = "XXL"
    new.loc[3:6, "num_nan"] = np.nan  # a column that had gaps in training
    new.loc[7, "num_inf"] = np.inf

    scores = det.decision_function(new)
    assert scores.shape == (20,)
    assert np.isfinite(scores).all()
    assert set(det.predict(new)) <= {0, 1}


def test_new_gap_in_gap_free_column_warns_and_scores(make_detector, detector_name, mixed_frame):
    det = make_detector(detector_name).fit(mixed_frame, labels_for(detector_name, mixed_frame))
    new = mixed_frame.head(10).copy()
    new.loc[0, "num_a"] = np.nan
    with pytest.warns(MissingValueWarning, match="num_a"):
        scores = det.decision_function(new)
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("data", ["numeric_array", "mixed_frame"])
def test_extreme_row_scores_above_median_training_row(make_detector, detector_name, data, request):
    train = request.getfixturevalue(data)
    det = make_detector(detector_name).fit(train, labels_for(detector_name, train))
    median = np.median(det.decision_function(train))

    if isinstance(train, np.ndarray):
        extreme = (train.mean(axis=0) + 50 * train.std(axis=0))[None, :]
    else:
        extreme = train.head(1).copy()
        for column in NUMERIC_COLUMNS:
            finite = train[column][np.isfinite(train[column])]
            extreme[column] = finite.mean() + 50 * finite.std()
    score = det.decision_function(extreme)[0]
    assert score > median, f"extreme row scored {score}, median training row {median}"


def test_column_order_does_not_matter(make_detector, detector_name, mixed_frame):
    det = make_detector(detector_name).fit(mixed_frame, labels_for(detector_name, mixed_frame))
    expected = det.decision_function(mixed_frame)
    shuffled = mixed_frame[list(reversed(mixed_frame.columns))]
    np.testing.assert_array_equal(det.decision_function(shuffled), expected)


def test_extra_columns_are_ignored(make_detector, detector_name, mixed_frame):
    det = make_detector(detector_name).fit(mixed_frame, labels_for(detector_name, mixed_frame))
    expected = det.decision_function(mixed_frame)
    wider = mixed_frame.assign(extra_text="hello", extra_num=np.arange(len(mixed_frame)))
    wider.insert(0, "leading", 1.5)
    np.testing.assert_array_equal(det.decision_function(wider), expected)


def test_single_row_scores_like_in_a_batch(make_detector, detector_name, mixed_frame):
    det = make_detector(detector_name).fit(mixed_frame, labels_for(detector_name, mixed_frame))
    batch = det.decision_function(mixed_frame)
    single = det.decision_function(mixed_frame.iloc[[5]])
    assert single.shape == (1,)
    np.testing.assert_allclose(single[0], batch[5], rtol=1e-5, atol=1e-9)  # float32 maths


# ----------------------------------------------------------------------- bad inputs
def test_missing_column_at_score_time_names_it(make_detector, detector_name, mixed_frame):
    det = make_detector(detector_name).fit(mixed_frame, labels_for(detector_name, mixed_frame))
    with pytest.raises(ValueError, match=r"missing column.*'num_nan'"):
        det.decision_function(mixed_frame.drop(columns="num_nan"))


@pytest.mark.parametrize("kind", ["array", "frame"])
def test_empty_data_at_fit(make_detector, detector_name, mixed_frame, kind):
    empty = np.empty((0, 5)) if kind == "array" else mixed_frame.iloc[:0]
    det = make_detector(detector_name)
    with pytest.raises(ValueError, match="no rows"):
        det.fit(empty)
    assert not hasattr(det, "threshold_")


def test_table_without_columns_at_fit(make_detector, detector_name):
    with pytest.raises(ValueError, match="no columns"):
        make_detector(detector_name).fit(np.empty((10, 0)))


def test_one_dimensional_input(make_detector, detector_name, numeric_array):
    det = make_detector(detector_name)
    with pytest.raises(ValueError, match="2-D"):
        det.fit(numeric_array[:, 0])
    with pytest.raises(ValueError, match="1-D Series"):
        det.fit(pd.Series(numeric_array[:, 0]))
    det.fit(numeric_array, labels_for(detector_name, numeric_array))
    with pytest.raises(ValueError, match="2-D"):
        det.decision_function(numeric_array[0])


def test_strings_in_numeric_column_at_score_time_name_it(make_detector, detector_name, mixed_frame):
    det = make_detector(detector_name).fit(mixed_frame, labels_for(detector_name, mixed_frame))
    bad = mixed_frame.head(10).copy()
    bad["num_a"] = bad["num_a"].astype(object)
    bad.loc[3, "num_a"] = "oops"
    with pytest.raises(ValueError, match=r"'num_a'.*non-numeric.*oops"):
        det.decision_function(bad)


def test_numeric_strings_in_numeric_column_are_coerced(make_detector, detector_name, mixed_frame):
    """Numbers that arrive as text (e.g. from a CSV) score like the numbers themselves."""
    det = make_detector(detector_name).fit(mixed_frame, labels_for(detector_name, mixed_frame))
    as_text = mixed_frame.copy()
    as_text["count"] = as_text["count"].astype(str).astype(object)
    np.testing.assert_array_equal(
        det.decision_function(as_text), det.decision_function(mixed_frame)
    )


@pytest.mark.parametrize("width", [4, 6])
def test_wrong_number_of_columns_for_array(make_detector, detector_name, numeric_array, width):
    det = make_detector(detector_name).fit(numeric_array, labels_for(detector_name, numeric_array))
    wrong = np.random.default_rng(0).normal(size=(10, width))
    with pytest.raises(ValueError, match=rf"{width} columns.*fitted on 5 columns"):
        det.decision_function(wrong)


def test_scoring_before_fit_raises_not_fitted(make_detector, detector_name, numeric_array):
    det = make_detector(detector_name)
    with pytest.raises(NotFittedError, match=r"call fit"):
        det.decision_function(numeric_array)
    with pytest.raises(NotFittedError, match=r"call fit"):
        det.predict(numeric_array)


@pytest.mark.parametrize("contamination", [0.9, 0.0, -0.1, 0.51, "auto", None])
def test_bad_contamination(make_detector, detector_name, numeric_array, contamination):
    det = make_detector(detector_name, contamination=contamination)
    with pytest.raises(ValueError, match=r"contamination must be in \(0, 0\.5\]"):
        det.fit(numeric_array)


@pytest.mark.parametrize(("y", "shape"), [([0, 1, 0], r"\(3,\)"), (5, r"\(\)")])
def test_y_of_wrong_length(make_detector, detector_name, numeric_array, y, shape):
    with pytest.raises(ValueError, match=rf"one entry per row of X \(200\), got shape {shape}"):
        make_detector(detector_name).fit(numeric_array, y=y)


@pytest.mark.parametrize("name", TORCH_NAMES)
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("epochs", 0),
        ("epochs", 2.5),
        ("batch_size", -1),
        ("learning_rate", 0.0),
        ("validation_fraction", 0.5),
    ],
)
def test_torch_detectors_reject_bad_training_params(
    make_detector, name, param, value, numeric_array
):
    with pytest.raises(ValueError, match=param):
        make_detector(name, **{param: value}).fit(numeric_array)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("KNN", {"n_neighbors": 0}, "n_neighbors must be a positive int"),
        ("KNN", {"method": "median"}, "method must be 'largest' or 'mean'"),
        (
            "KNN",
            {"n_neighbors": 500},
            r"needs more than 500 training rows, got 160 \(40 of the 200 rows were held out",
        ),
        ("PCA", {"n_components": 50}, r"n_components must be in \[1, 4\]"),
        ("VAE", {"beta": -1.0}, "beta must be >= 0"),
        ("IsolationForest", {"random_state": "seed"}, "random_state must be an int"),
    ],
)
def test_model_specific_params_are_validated(make_detector, name, params, message, numeric_array):
    with pytest.raises(ValueError, match=message):
        make_detector(name, **params).fit(numeric_array)


def test_knn_training_scores_exclude_the_row_itself(make_detector, numeric_array):
    """A training row is not its own neighbour, so no training score is zero."""
    det = make_detector("KNN").fit(numeric_array)
    assert (det.decision_scores_ > 0).all()
    # scoring the same rows as new data counts them as their own neighbour
    assert (det.decision_function(numeric_array) <= det.decision_scores_).all()


@pytest.mark.parametrize(
    "name",
    [
        name
        for name in DETECTOR_NAMES
        if name != "PCA"  # needs two features to leave a residual; checked below
    ],
)
def test_single_numeric_column(make_detector, name):
    rng = np.random.default_rng(0)
    train = rng.normal(size=(200, 1))
    det = make_detector(name).fit(train, labels_for(name, train))
    scores = det.decision_function(np.array([[0.0], [50.0]]))
    assert np.isfinite(scores).all()
    assert scores[1] > scores[0]


def test_pca_refuses_a_single_feature(make_detector):
    with pytest.raises(ValueError, match="PCA needs at least 2 rows and 2 encoded features"):
        make_detector("PCA").fit(np.random.default_rng(0).normal(size=(50, 1)))


def test_works_in_sklearn_pipeline_and_grid_search(numeric_array):
    """Pipeline delegates scoring; GridSearchCV tunes params with a label-based scorer."""
    from sklearn.metrics import make_scorer, roc_auc_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline

    rng = np.random.default_rng(1)
    X = np.vstack([numeric_array, rng.normal(6.0, 1.0, size=(20, 5))])
    y = np.r_[np.zeros(len(numeric_array)), np.ones(20)]
    pipe = Pipeline([("detector", deepad.KNN())]).fit(X)
    np.testing.assert_array_equal(
        pipe.decision_function(X), deepad.KNN().fit(X).decision_function(X)
    )
    auroc = make_scorer(roc_auc_score, response_method="decision_function")
    search = GridSearchCV(
        deepad.KNN(),
        {"n_neighbors": [3, 10]},
        scoring=auroc,
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert search.best_params_["n_neighbors"] in (3, 10)
    assert search.best_score_ > 0.9


@pytest.mark.parametrize(
    ("y", "message"),
    [(["a"] * 200, "must be numeric"), ([2] * 200, r"found \[2\]"), ([np.nan] * 200, "found")],
)
def test_y_values_are_checked(make_detector, numeric_array, y, message):
    with pytest.raises(ValueError, match=message):
        make_detector("KNN").fit(numeric_array, y=y)
