"""Explanations: every detector, every method, the readable form, and what they promise."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

import deepad
from deepad.explain import Explanation, available_methods, format_number
from deepad.explain.fold import column_groups, decode, describe_typical, typical_row
from deepad.explain.methods import integrated_gradients
from deepad.preprocess.tabular import ColumnSpec
from tests.conftest import DETECTOR_NAMES, build_detector, labels_for


def _fitted(name: str, X: pd.DataFrame, **params) -> deepad.BaseDetector:
    return build_detector(name, **params).fit(X, labels_for(name, X))


def _with_outlier(frame: pd.DataFrame, column: str, value: float) -> pd.DataFrame:
    rows = frame.head(6).copy()
    rows.loc[rows.index[0], column] = value
    return rows


@pytest.fixture(scope="module")
def correlated() -> pd.DataFrame:
    """Numeric columns with structure (b follows a) and a categorical column."""
    rng = np.random.default_rng(0)
    n = 400
    a = rng.normal(size=n)
    return pd.DataFrame(
        {
            "a": a,
            "b": 2 * a + rng.normal(scale=0.1, size=n),
            "c": rng.normal(size=n),
            "d": rng.normal(size=n),
            "country": rng.choice(["US", "GB", "FR"], size=n, p=[0.6, 0.3, 0.1]),
        }
    )


# ------------------------------------------------------------- every detector
def test_every_detector_has_a_default_method_it_accepts():
    for name, cls in deepad.TABLE_DETECTORS.items():
        methods = available_methods(cls())
        assert methods[0] == cls.default_explain_method, name
        assert {"ablation", "shapley"} <= set(methods), name


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_explain_is_aligned_with_the_input_columns(name, mixed_frame):
    det = _fitted(name, mixed_frame)
    rows = mixed_frame.iloc[[3, 10, 50]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explanation = det.explain(rows, top=2)
    assert isinstance(explanation, Explanation)
    assert list(explanation.contributions.columns) == list(mixed_frame.columns)
    assert list(explanation.contributions.index) == [3, 10, 50]
    assert np.isfinite(explanation.contributions.to_numpy()).all()
    np.testing.assert_allclose(explanation.scores, det.decision_function(rows), rtol=1e-6)
    table = explanation.top()
    assert list(table.index) == [3, 10, 50]
    assert {"feature_1", "value_1", "typical_1", "feature_2", "explanation"} <= set(table)


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_default_explanation_blames_the_shifted_column(name, correlated):
    params = {"epochs": 30} if "epochs" in _params(name) else {}
    if name == "PCA":  # at 95% variance the independent column c is inside the subspace,
        params["n_components"] = 1  # so a shift there is not an anomaly PCA can see
    det = _fitted(name, correlated, **params)
    rows = _with_outlier(correlated, "c", 12.0)
    explanation = det.explain(rows)
    assert explanation.top(1)["feature_1"].iloc[0] == "c", explanation.contributions.iloc[0]


def _params(name: str) -> dict:
    return deepad.TABLE_DETECTORS[name]().get_params()


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_explanations_are_deterministic(name, correlated):
    det = _fitted(name, correlated)
    rows = _with_outlier(correlated, "d", 6.0)
    first = det.explain(rows).contributions
    second = det.explain(rows).contributions
    pd.testing.assert_frame_equal(first, second)


# ---------------------------------------------------------- exact decompositions
@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("AutoEncoder", "residual"),
        ("PCA", "residual"),
        ("KNN", "neighbours"),
        ("ECOD", "tails"),
    ],
)
def test_exact_methods_split_the_score(name, method, correlated):
    det = _fitted(name, correlated)
    explanation = det.explain(_with_outlier(correlated, "a", 5.0), method=method)
    np.testing.assert_allclose(explanation.remainder, 0.0, atol=1e-5 * explanation.scores.max())


def test_knn_mean_neighbours_split_the_score(correlated):
    det = deepad.KNN(method="mean").fit(correlated)
    explanation = det.explain(correlated.head(20))
    np.testing.assert_allclose(explanation.remainder, 0.0, atol=1e-9)


def test_vae_residual_leaves_the_kl_term_as_remainder(correlated):
    det = _fitted("VAE", correlated)
    explanation = det.explain(correlated.head(30), method="residual")
    assert (explanation.remainder > 0).all()  # beta * KL is positive
    assert (explanation.contributions.to_numpy() >= 0).all()


def test_auto_members_explain_the_member_that_set_the_score(correlated):
    det = deepad.Auto(random_state=0).fit(correlated)
    rows = _with_outlier(correlated, "c", 9.0)
    explanation = det.explain(rows)
    assert explanation.method == "members"
    assert explanation.top(1)["feature_1"].iloc[0] == "c"
    features = det.preprocessor_.transform(rows)
    weights = det._member_weights(features)
    assert ((weights > 0).sum(axis=1) == 1).all()  # the max rule: one member per row


def test_auto_with_deep_members_explains_through_them(correlated):
    members = ["KNN", "DeepSVDD", "AutoEncoder"]
    det = deepad.Auto(
        members=members,
        member_params={"DeepSVDD": {"epochs": 3}, "AutoEncoder": {"epochs": 3}},
        random_state=0,
    ).fit(correlated)
    explanation = det.explain(_with_outlier(correlated, "c", 9.0))
    assert explanation.top(1)["feature_1"].iloc[0] == "c"
    assert np.isfinite(explanation.contributions.to_numpy()).all()


def test_auto_mean_rule_weighs_every_member(correlated):
    det = deepad.Auto(combine="mean", random_state=0).fit(correlated)
    weights = det._member_weights(det.preprocessor_.transform(correlated.head(5)))
    assert (weights > 0).all()


def test_integrated_gradients_are_complete_and_match_captum(correlated):
    from captum.attr import IntegratedGradients

    det = _fitted("DeepSVDD", correlated)
    features = det.preprocessor_.transform(correlated.head(40))
    baseline = typical_row(det.preprocessor_)
    ours, errors = integrated_gradients(det._score_tensor, features, baseline, n_steps=16)
    rows = torch.as_tensor(features)
    reference = IntegratedGradients(det._score_tensor).attribute(
        rows,
        baselines=torch.as_tensor(baseline)[None].expand_as(rows),
        n_steps=16,
        method="gausslegendre",
    )
    np.testing.assert_allclose(ours, reference.detach().double().numpy(), rtol=1e-4, atol=1e-7)
    assert errors.shape == (40,)
    _, fine = integrated_gradients(det._score_tensor, features, baseline, n_steps=128)
    assert np.median(fine) < 0.25 * np.median(errors)  # the quadrature error shrinks
    explanation = det.explain(correlated.head(40), method="integrated_gradients")
    assert explanation.notes["completeness_error_median"] < 0.25
    spread = np.ptp(explanation.scores)
    np.testing.assert_allclose(
        explanation.remainder, explanation.notes["baseline_score"], atol=0.25 * spread
    )


def test_shapley_is_deterministic_and_sums_to_the_score_change(correlated):
    det = deepad.ECOD().fit(correlated)
    rows = _with_outlier(correlated, "b", -9.0)
    first = det.explain(rows, method="shapley").contributions
    second = det.explain(rows, method="shapley").contributions
    pd.testing.assert_frame_equal(first, second)
    baseline_score = det._score_features(typical_row(det.preprocessor_)[None])[0]
    # Shapley values are efficient: they sum to score(row) - score(typical row)
    np.testing.assert_allclose(
        first.to_numpy().sum(axis=1), det.decision_function(rows) - baseline_score, rtol=1e-6
    )


# ---------------------------------------------------------- categorical folding
def test_one_hot_columns_fold_back_to_their_column(correlated):
    det = deepad.KNN().fit(correlated)
    rows = correlated.head(4).copy()
    rows.loc[rows.index[0], "country"] = "BR"  # unseen: lights no slot
    explanation = det.explain(rows)
    assert list(explanation.contributions.columns) == ["a", "b", "c", "d", "country"]
    top = explanation.top(1)
    assert top["feature_1"].iloc[0] == "country"
    assert top["value_1"].iloc[0] == "BR"
    fit_rows = np.setdiff1d(np.arange(len(correlated)), det.calibration_rows_)
    shares = correlated["country"].iloc[fit_rows].value_counts(normalize=True)
    assert top["typical_1"].iloc[0] == f"US {shares['US']:.0%}, GB {shares['GB']:.0%}"
    assert explanation.expected is not None  # the nearest training row
    assert explanation.expected["country"].iloc[0] in {"US", "GB", "FR"}


def test_groups_and_typical_row_follow_the_encoding(mixed_frame):
    det = deepad.PCA().fit(mixed_frame)
    pre = det.preprocessor_
    groups = column_groups(pre)
    assert len(groups) == len(pre.feature_names_out)
    assert groups.max() == len(mixed_frame.columns) - 1
    baseline = typical_row(pre)
    decoded = decode(baseline[None], pre)
    by_name = dict(zip(pre.input_columns, decoded, strict=True))
    assert by_name["num_a"][0] == pytest.approx(pre.columns_[0].median, abs=1e-5)
    assert np.isfinite(by_name["num_nan"][0])  # the indicator is 0: not a gap
    assert by_name["color"][0] == "red"  # the most frequent category


def test_residual_expected_values_are_in_input_units(correlated):
    det = deepad.PCA().fit(correlated)
    rows = correlated.head(5)
    explanation = det.explain(rows, method="residual")
    expected = explanation.expected
    assert list(expected.columns) == list(correlated.columns)
    # the numeric reconstruction lies near the value for normal rows, in the same units
    assert np.abs(expected["b"] - rows["b"]).max() < 1.0
    assert set(expected["country"]) <= {"US", "GB", "FR"}


def test_missing_values_read_as_missing(mixed_frame):
    det = deepad.ECOD().fit(mixed_frame)
    rows = mixed_frame[mixed_frame["num_nan"].isna()].head(2)
    explanation = det.explain(rows, top=len(mixed_frame.columns))
    assert (explanation.values["num_nan"].isna()).all()
    table = explanation.top()
    cells = [
        table[f"value_{i}"].iloc[0]
        for i in range(1, 8)
        if table[f"feature_{i}"].iloc[0] == "num_nan"
    ]
    assert cells == ["missing"]  # a gap in training lowers no tail surprisal to zero


# ------------------------------------------------------------- readable form
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (9800.0, "9,800"),
        (12.5, "12.5"),
        (450.0, "450"),
        (0.03125, "0.0312"),
        (-3.0, "-3"),
        (1234567.0, "1,234,567"),
        (0.0, "0"),
        (2e-7, "2e-07"),
    ],
)
def test_numbers_read_as_people_write_them(value, text):
    assert format_number(value) == text


def test_typical_values_in_words():
    numeric = ColumnSpec("amount", "numeric", "float64", median=90.0, low=12.0, high=450.0)
    assert describe_typical(numeric) == "12-450"
    negative = ColumnSpec("t", "numeric", "float64", low=-2.0, high=3.5)
    assert describe_typical(negative) == "-2 to 3.5"
    legacy = ColumnSpec("old", "numeric", "float64", median=7.0)  # bundles before ranges
    assert describe_typical(legacy) == "around 7"
    categorical = ColumnSpec(
        "country", "categorical", "object", categories=["US", "GB", "FR"], shares=[0.6, 0.3, 0.1]
    )
    assert describe_typical(categorical) == "US 60%, GB 30%"


def test_readable_text_names_value_and_typical_range():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"amount": rng.uniform(12, 450, 500), "hour": rng.integers(0, 24, 500)})
    det = deepad.ECOD().fit(frame)
    rows = pd.DataFrame({"amount": [9800.0], "hour": [12]})
    text = det.explain(rows, top=1).text()[0]
    fit_rows = np.setdiff1d(np.arange(len(frame)), det.calibration_rows_)  # what it learned
    low, high = np.percentile(frame["amount"].iloc[fit_rows], [5, 95])
    assert text == f"amount = 9,800 (typical {format_number(low)}-{format_number(high)})"


def test_text_shows_what_the_model_expected_when_it_knows(correlated):
    det = deepad.KNN().fit(correlated)
    rows = _with_outlier(correlated, "c", 9.0)
    explanation = det.explain(rows, top=1)
    nearest = explanation.expected["c"].iloc[0]
    typical = explanation.typical["c"]
    assert explanation.text()[0] == f"c = 9 (expected {format_number(nearest)}; typical {typical})"
    assert explanation.top()["expected_1"].iloc[0] == format_number(nearest)


def test_top_leaves_blank_what_did_not_raise_the_score(correlated):
    det = deepad.ECOD().fit(correlated)
    explanation = det.explain(correlated.head(3))
    frame = explanation.contributions.copy()
    frame.iloc[:, :] = -1.0  # nothing pushed any score up
    explanation.contributions = frame
    table = explanation.top(2)
    assert table["feature_1"].isna().all()
    assert (table["explanation"] == "").all()


# ------------------------------------------------------------- bad input
def test_unknown_method_names_the_choices(correlated):
    det = deepad.IsolationForest(random_state=0).fit(correlated)
    with pytest.raises(ValueError, match=r"method='residual'.*'ablation'"):
        det.explain(correlated.head(2), method="residual")
    with pytest.raises(ValueError, match="integrated_gradients"):
        deepad.AEGMM(epochs=2, random_state=0).fit(correlated).explain(
            correlated.head(2), method="integrated_gradients"
        )


@pytest.mark.parametrize("top", [0, -1, 1.5, True])
def test_bad_top_is_refused(top, correlated):
    det = deepad.ECOD().fit(correlated)
    with pytest.raises(ValueError, match="top must be a positive int"):
        det.explain(correlated.head(2), top=top)


def test_explain_before_fit_and_with_missing_columns(correlated):
    with pytest.raises(NotFittedError):
        deepad.ECOD().explain(correlated)
    det = deepad.ECOD().fit(correlated)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['d'\]"):
        det.explain(correlated.drop(columns="d"))


def test_top_larger_than_the_columns_lists_them_all(correlated):
    det = deepad.ECOD().fit(correlated)
    table = det.explain(correlated.head(2), top=50).top()
    assert "feature_5" in table and "feature_6" not in table


# ------------------------------------------------------------- bundles
def test_saved_bundle_explains_identically(tmp_path, correlated):
    det = _fitted("AutoEncoder", correlated)
    rows = _with_outlier(correlated, "c", 8.0)
    det.save(tmp_path / "b")
    loaded = deepad.load(tmp_path / "b")
    for method in ("residual", "integrated_gradients"):
        pd.testing.assert_frame_equal(
            det.explain(rows, method=method).contributions,
            loaded.explain(rows, method=method).contributions,
        )
    assert det.explain(rows).text() == loaded.explain(rows).text()


def test_bundle_without_typical_ranges_still_explains(tmp_path, correlated):
    det = deepad.ECOD().fit(correlated)
    path = det.save(tmp_path / "b")
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for column in manifest["input_schema"]["columns"]:
        for key in ("low", "high", "shares"):
            column.pop(key)
    manifest_path.write_text(json.dumps(manifest))
    text = deepad.load(path).explain(_with_outlier(correlated, "c", 9.0), top=1).text()[0]
    assert text.startswith("c = 9 (typical around ")


def test_isolation_forest_ablation_equals_captums(mixed_frame):
    from deepad.explain.fold import fold
    from deepad.explain.methods import ablation

    det = deepad.IsolationForest(n_estimators=30, random_state=0).fit(mixed_frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features = det.preprocessor_.transform(mixed_frame)
    baseline = typical_row(det.preprocessor_)
    groups = column_groups(det.preprocessor_)
    reference = ablation(det._score_features, features, baseline, groups)  # captum
    ours, _ = det._explain_features(features, "ablation", baseline, groups)
    np.testing.assert_allclose(fold(ours, groups, reference.shape[1]), reference, atol=1e-12)
