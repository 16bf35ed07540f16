"""TabularPreprocessor: schema capture, encoding, state round trip; and input validation."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from deepad.io.tables import as_table
from deepad.preprocess.tabular import (
    MISSING,
    OTHER,
    IdentifierColumnWarning,
    MissingValueWarning,
    TabularPreprocessor,
    fingerprint_table,
)


def spec_of(pre: TabularPreprocessor, name: str):
    return next(spec for spec in pre.columns_ if spec.name == name)


def block_of(pre: TabularPreprocessor, encoded: np.ndarray, name: str) -> np.ndarray:
    """The encoded columns produced by input column ``name``."""
    names = pre.feature_names_out
    idx = [i for i, out in enumerate(names) if out == name or out.startswith(f"{name}=")]
    idx += [i for i, out in enumerate(names) if out == f"{name}__missing"]
    return encoded[:, sorted(idx)]


# ---------------------------------------------------------------------- schema capture
def test_schema_records_kind_and_dtype_per_column(mixed_frame):
    pre = TabularPreprocessor().fit(mixed_frame)
    assert pre.input_columns == list(mixed_frame.columns)
    kinds = {spec.name: spec.kind for spec in pre.columns_}
    assert kinds == {
        "num_a": "numeric",
        "num_nan": "numeric",
        "num_inf": "numeric",
        "count": "numeric",
        "color": "categorical",
        "size": "categorical",
        "flag": "categorical",
    }
    assert spec_of(pre, "size").dtype == "category"
    assert spec_of(pre, "flag").dtype == "bool"
    assert spec_of(pre, "count").dtype == "int64"


def test_missing_indicator_only_for_columns_with_gaps(mixed_frame):
    pre = TabularPreprocessor().fit(mixed_frame)
    with_indicator = {spec.name for spec in pre.columns_ if spec.missing_indicator}
    assert with_indicator == {"num_nan", "num_inf"}  # NaN and inf both count as gaps
    missing_features = [n for n in pre.feature_names_out if n.endswith("__missing")]
    assert missing_features == ["num_nan__missing", "num_inf__missing"]


def test_numeric_statistics_ignore_gaps(mixed_frame):
    pre = TabularPreprocessor().fit(mixed_frame)
    spec = spec_of(pre, "num_inf")
    finite = mixed_frame["num_inf"][np.isfinite(mixed_frame["num_inf"])]
    assert spec.mean == pytest.approx(finite.mean())
    assert spec.scale == pytest.approx(finite.std(ddof=0))
    assert spec.median == pytest.approx(finite.median())


def test_numeric_encoding_is_z_scored_with_median_imputation(mixed_frame):
    pre = TabularPreprocessor().fit(mixed_frame)
    encoded = pre.transform(mixed_frame)
    assert encoded.dtype == np.float32
    assert encoded.shape == (len(mixed_frame), len(pre.feature_names_out))

    plain = block_of(pre, encoded, "num_a")[:, 0]
    assert plain.mean() == pytest.approx(0.0, abs=1e-5)
    assert plain.std() == pytest.approx(1.0, abs=1e-5)

    spec = spec_of(pre, "num_nan")
    values, indicator = block_of(pre, encoded, "num_nan").T
    gaps = mixed_frame["num_nan"].isna().to_numpy()
    np.testing.assert_array_equal(indicator, gaps.astype(np.float32))
    np.testing.assert_allclose(values[gaps], (spec.median - spec.mean) / spec.scale, rtol=1e-6)


def test_constant_numeric_column_does_not_divide_by_zero():
    frame = pd.DataFrame({"const": [3.0] * 20, "x": np.arange(20.0)})
    pre = TabularPreprocessor().fit(frame)
    encoded = pre.transform(frame)
    assert spec_of(pre, "const").scale == 1.0
    assert np.isfinite(encoded).all()
    np.testing.assert_array_equal(block_of(pre, encoded, "const")[:, 0], 0.0)


def test_categories_ordered_by_frequency_then_label():
    frame = pd.DataFrame({"c": ["b"] * 2 + ["a"] * 2 + ["z"] * 5 + ["m"] * 1})
    pre = TabularPreprocessor().fit(frame)
    spec = spec_of(pre, "c")
    assert spec.categories == ["z", "a", "b", "m"]  # a/b tie -> alphabetical
    assert not spec.has_other
    assert pre.feature_names_out == ["c=z", "c=a", "c=b", "c=m"]
    np.testing.assert_array_equal(pre.transform(pd.DataFrame({"c": ["a"]})), [[0, 1, 0, 0]])


def test_category_and_bool_columns_are_one_hot(mixed_frame):
    pre = TabularPreprocessor().fit(mixed_frame)
    encoded = pre.transform(mixed_frame)
    assert sorted(spec_of(pre, "flag").categories) == ["False", "True"]
    assert sorted(spec_of(pre, "size").categories) == ["L", "M", "S"]
    for column in ("color", "size", "flag"):
        block = block_of(pre, encoded, column)
        np.testing.assert_array_equal(block.sum(axis=1), 1.0)  # exactly one slot lit


def test_max_categories_cap_creates_other_slot():
    labels = ["a"] * 6 + ["b"] * 5 + ["c"] * 4 + ["d"] * 3 + ["e"] * 2
    frame = pd.DataFrame({"c": labels})
    pre = TabularPreprocessor(max_categories=2).fit(frame)
    spec = spec_of(pre, "c")
    assert spec.categories == ["a", "b"]
    assert spec.has_other
    assert pre.feature_names_out == ["c=a", "c=b", f"c={OTHER}"]

    encoded = pre.transform(pd.DataFrame({"c": ["a", "b", "d", "never-seen", None]}))
    np.testing.assert_array_equal(
        encoded,
        [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1]],
    )


def test_unseen_category_without_other_slot_gives_all_zero_block():
    frame = pd.DataFrame({"c": ["a", "b", "a", "b"], "x": [1.0, 2.0, 3.0, 4.0]})
    pre = TabularPreprocessor().fit(frame)
    assert not spec_of(pre, "c").has_other
    encoded = pre.transform(pd.DataFrame({"c": ["new", None, "a"], "x": [1.0, 1.0, 1.0]}))
    block = block_of(pre, encoded, "c")
    np.testing.assert_array_equal(block, [[0, 0], [0, 0], [1, 0]])


def test_missing_is_a_category_when_training_had_it():
    frame = pd.DataFrame({"c": pd.Series(["a", None, "a", np.nan, "b"], dtype=object)})
    pre = TabularPreprocessor().fit(frame)
    # None and NaN both count as MISSING: it ties with "a" (2 each), "_" sorts before "a"
    assert spec_of(pre, "c").categories == [MISSING, "a", "b"]
    encoded = pre.transform(pd.DataFrame({"c": pd.Series([None, np.nan, "b"], dtype=object)}))
    np.testing.assert_array_equal(encoded, [[1, 0, 0], [1, 0, 0], [0, 0, 1]])


def test_string_dtype_and_integer_categories():
    frame = pd.DataFrame(
        {
            "s": pd.Series(["u", "v", pd.NA, "u"], dtype="string"),
            "k": pd.Categorical([1, 2, 2, 2]),
        }
    )
    pre = TabularPreprocessor().fit(frame)
    assert spec_of(pre, "s").kind == spec_of(pre, "k").kind == "categorical"
    assert spec_of(pre, "s").categories == ["u", MISSING, "v"]
    assert spec_of(pre, "k").categories == ["2", "1"]


def test_identifier_like_text_column_warns():
    frame = pd.DataFrame({"id": [f"row-{i}" for i in range(30)], "x": np.arange(30.0)})
    with pytest.warns(IdentifierColumnWarning, match=r"column 'id' .*identifier"):
        TabularPreprocessor().fit(frame)


@pytest.mark.parametrize(
    "values",
    [
        [f"row-{i}" for i in range(20)],  # too few rows to judge
        [f"row-{i % 29}" for i in range(30)],  # one value repeats
    ],
)
def test_ordinary_text_column_does_not_warn(values):
    frame = pd.DataFrame({"id": values, "x": np.arange(float(len(values)))})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TabularPreprocessor().fit(frame)


# -------------------------------------------------------------------- score-time gaps
def test_new_gap_warns_and_is_imputed_with_training_median(mixed_frame):
    pre = TabularPreprocessor().fit(mixed_frame)
    new = mixed_frame.head(3).copy()
    new.loc[0, "num_a"] = np.nan
    new.loc[1, "num_a"] = -np.inf
    with pytest.warns(MissingValueWarning, match=r"\['num_a'\].*training median"):
        encoded = pre.transform(new)
    spec = spec_of(pre, "num_a")
    column = block_of(pre, encoded, "num_a")
    assert column.shape[1] == 1  # no indicator appears at score time
    np.testing.assert_allclose(column[:2, 0], (spec.median - spec.mean) / spec.scale, rtol=1e-6)


def test_gaps_in_columns_that_had_them_do_not_warn(mixed_frame):
    pre = TabularPreprocessor().fit(mixed_frame)
    new = mixed_frame.head(3).copy()
    new.loc[0, "num_nan"] = np.nan
    new.loc[1, "num_inf"] = np.inf
    new["color"] = None  # categorical gaps are not imputed, so no warning either
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoded = pre.transform(new)
    assert block_of(pre, encoded, "num_nan")[0, 1] == 1.0
    assert block_of(pre, encoded, "num_inf")[1, 1] == 1.0


def test_missing_value_warning_is_a_user_warning():
    assert issubclass(MissingValueWarning, UserWarning)


# ------------------------------------------------------------------------ state
def test_state_round_trip_through_json(mixed_frame):
    pre = TabularPreprocessor(max_categories=2).fit(mixed_frame)
    text = json.dumps(pre.to_dict())  # must be plain JSON, no NumPy scalars
    restored = TabularPreprocessor.from_dict(json.loads(text))
    assert restored.max_categories == 2
    assert restored.feature_names_out == pre.feature_names_out
    assert restored.to_dict() == pre.to_dict()

    new = mixed_frame.sample(50, random_state=0).copy()
    new["color"] = new["color"].astype(object)
    new.loc[new.index[0], "color"] = "purple"
    np.testing.assert_array_equal(restored.transform(new), pre.transform(new))


def test_to_dict_holds_only_json_types(mixed_frame):
    def walk(value):
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is None or type(value) in (bool, int, float, str), repr(value)

    walk(TabularPreprocessor().fit(mixed_frame).to_dict())


# ------------------------------------------------------------------------ failures
@pytest.mark.parametrize("fill", [np.nan, np.inf])
def test_all_gap_numeric_column_at_fit_names_it(fill):
    frame = pd.DataFrame({"ok": [1.0, 2.0, 3.0], "dead": [fill, fill, -fill]})
    with pytest.raises(ValueError, match=r"column 'dead' has no finite values"):
        TabularPreprocessor().fit(frame)


def test_max_categories_must_be_positive():
    with pytest.raises(ValueError, match="max_categories must be >= 1"):
        TabularPreprocessor(max_categories=0)


def test_transform_before_fit_raises():
    with pytest.raises(RuntimeError, match="not fitted"):
        TabularPreprocessor().transform(pd.DataFrame({"a": [1.0]}))


def test_caller_frame_is_not_modified(mixed_frame):
    before = mixed_frame.copy(deep=True)
    pre = TabularPreprocessor().fit(mixed_frame)
    pre.transform(mixed_frame)
    pd.testing.assert_frame_equal(mixed_frame, before)


def test_caller_frame_is_not_modified_by_a_detector(mixed_frame):
    from deepad import ECOD

    new = mixed_frame.head(5).copy()
    new.loc[0, "num_a"] = np.nan
    before_train, before_new = mixed_frame.copy(deep=True), new.copy(deep=True)
    det = ECOD().fit(mixed_frame)
    with pytest.warns(MissingValueWarning):
        det.decision_function(new)
    pd.testing.assert_frame_equal(mixed_frame, before_train)
    pd.testing.assert_frame_equal(new, before_new)


# ------------------------------------------------------------------- column matching
def test_unnamed_array_is_matched_by_position():
    frame = pd.DataFrame({"a": np.arange(5.0), "b": np.arange(5.0) ** 2})
    pre = TabularPreprocessor().fit(frame)
    np.testing.assert_array_equal(pre.transform(frame.to_numpy()), pre.transform(frame))


def test_columns_named_like_array_columns_are_matched_by_name():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=50), "x0": rng.normal(100, 10, size=50)})
    pre = TabularPreprocessor().fit(frame)
    np.testing.assert_array_equal(pre.transform(frame[["x0", "x1"]]), pre.transform(frame))


# ------------------------------------------------------------------ as_table checks
def test_as_table_names_array_columns_and_keeps_frame_names(numeric_array):
    assert list(as_table(numeric_array).columns) == [f"x{i}" for i in range(5)]
    frame = pd.DataFrame(numeric_array[:, :2], columns=[10, "b"])
    assert list(as_table(frame).columns) == ["10", "b"]
    assert list(frame.columns) == [10, "b"]  # caller's frame keeps its labels


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "X is None"),
        ("data.csv", r"X is a path \(data\.csv\); read it first"),
        (np.zeros((2, 2, 2)), "must be 2-D.*3-D"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), r"duplicated column names: \['a'\]"),
    ],
)
def test_as_table_rejects_bad_inputs(value, message):
    with pytest.raises(ValueError, match=message):
        as_table(value)


def test_fingerprint_depends_on_values_and_names(mixed_frame):
    base = fingerprint_table(mixed_frame)
    assert base.startswith("sha256:")
    assert fingerprint_table(mixed_frame.copy()) == base
    changed = mixed_frame.copy()
    changed.loc[0, "num_a"] += 1.0
    assert fingerprint_table(changed) != base
    assert fingerprint_table(mixed_frame.rename(columns={"num_a": "other"})) != base


def test_drift_reference_summarises_training_inputs(mixed_frame):
    from deepad.preprocess.reference import DriftReference

    pre = TabularPreprocessor().fit(mixed_frame)
    features = pre.transform(mixed_frame)
    reference = DriftReference.fit(pre, mixed_frame, features, seed=0)
    assert [ref.name for ref in reference.numeric] == ["num_a", "num_nan", "num_inf", "count"]
    num_nan = reference.column("num_nan")
    assert num_nan.missing == pytest.approx(15 / len(mixed_frame))
    assert len(num_nan.edges) == 9 and sum(num_nan.shares) == pytest.approx(1.0)
    finite = mixed_frame["num_nan"].dropna()
    assert num_nan.quantiles[0] == finite.min() and num_nan.quantiles[-1] == finite.max()
    # integer counts tie at the decile edges: bins merge, shares still follow the data
    count = reference.column("count")
    counts = count.bin_counts(mixed_frame["count"].to_numpy(dtype=float))
    np.testing.assert_allclose(counts / counts.sum(), count.shares)
    assert reference.sample.shape == (len(mixed_frame), features.shape[1])
    meta, arrays = reference.state()
    again = DriftReference.from_state(json.loads(json.dumps(meta)), arrays)
    assert again.numeric == reference.numeric and again.rows == reference.rows
