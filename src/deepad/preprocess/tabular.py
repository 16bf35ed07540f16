"""Schema capture and encoding of mixed-type tables.

At fit time we record, per column: its kind (numeric or categorical), its pandas dtype,
scaling statistics (mean, standard deviation) and the median used to impute gaps for
numeric columns, and the categories seen for categorical ones. At score time the same
recipe is applied, so a model sees exactly the encoding it was trained on:

- numeric: NaN and +-inf are imputed with the training median, then z-scored; a column
  that had gaps at fit time also gets a 0/1 ``<name>__missing`` indicator. Gaps in a
  column that never had any are imputed and reported with a ``MissingValueWarning``.
- categorical (object, category, bool, string): one-hot over the ``max_categories`` most
  frequent training values; when training had more values than that, the rest (and any
  value first seen at score time) share an ``<name>=__other__`` slot. A missing value is
  a category of its own when training had one. Otherwise a value never seen in training
  lights no slot at all, which the models read as unusual.

The state is plain JSON (``to_dict``/``from_dict``) so bundles never need pickle.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepad.io.tables import as_table

OTHER = "__other__"
MISSING = "__missing__"


class MissingValueWarning(UserWarning):
    """Score-time gaps in a column that had none in training (imputed with the median)."""


class IdentifierColumnWarning(UserWarning):
    """A text column with a distinct value in every training row: an id, not a feature."""


@dataclass
class ColumnSpec:
    """What we learned about one input column at fit time."""

    name: str
    kind: str  # "numeric" or "categorical"
    dtype: str
    mean: float = 0.0
    scale: float = 1.0
    median: float = 0.0
    missing_indicator: bool = False
    categories: list[str] = field(default_factory=list)
    has_other: bool = False
    #: 5th and 95th percentiles of the training values (numeric), for "typical" ranges
    low: float | None = None
    high: float | None = None
    #: share of training rows holding each kept category, aligned with ``categories``
    shares: list[float] = field(default_factory=list)

    def output_names(self) -> list[str]:
        """Names of the encoded features this column produces, in order."""
        if self.kind == "numeric":
            return [self.name] + ([f"{self.name}__missing"] if self.missing_indicator else [])
        names = [f"{self.name}={c}" for c in self.categories]
        return names + ([f"{self.name}={OTHER}"] if self.has_other else [])


def _is_categorical(series: pd.Series) -> bool:
    return _is_categorical_dtype(series.dtype)


def _is_categorical_dtype(dtype: Any) -> bool:
    return not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def categorical_labels(series: pd.Series) -> pd.Series:
    """Category labels as strings, with every kind of missing value mapped to MISSING."""
    values = series.astype(object)
    missing = values.isna()
    labels = values.astype(str)
    labels[missing] = MISSING
    return labels


class TabularPreprocessor:
    """Encode a DataFrame into a float32 matrix with the recipe learned in ``fit``.

    ``max_categories`` caps the one-hot width of each categorical column.
    """

    def __init__(self, max_categories: int = 50) -> None:
        if max_categories < 1:
            raise ValueError(f"max_categories must be >= 1, got {max_categories}")
        self.max_categories = max_categories
        self.columns_: list[ColumnSpec] = []

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any) -> TabularPreprocessor:
        """Learn the schema, scaling statistics and categories of ``X``."""
        frame = as_table(X)
        specs = []
        for name in frame.columns:
            series = frame[name]
            if _is_categorical(series):
                specs.append(self._fit_categorical(name, series))
            else:
                specs.append(self._fit_numeric(name, series))
        self.columns_ = specs
        return self

    @staticmethod
    def _fit_numeric(name: str, series: pd.Series) -> ColumnSpec:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(values)
        if not finite.any():
            raise ValueError(
                f"column {name!r} has no finite values (all missing or infinite); "
                "drop it or fill it before fitting"
            )
        observed = values[finite]
        std = float(observed.std())
        low, high = np.percentile(observed, [5, 95])
        return ColumnSpec(
            name=name,
            kind="numeric",
            dtype=str(series.dtype),
            mean=float(observed.mean()),
            scale=std if std > 1e-12 else 1.0,
            median=float(np.median(observed)),
            missing_indicator=bool((~finite).any()),
            low=float(low),
            high=float(high),
        )

    def _fit_categorical(self, name: str, series: pd.Series) -> ColumnSpec:
        counts = categorical_labels(series).value_counts(sort=False)
        if len(series) > 20 and len(counts) == len(series):
            warnings.warn(
                f"column {name!r} has a different value in every row and looks like an "
                "identifier; exclude it from the features (CLI: --exclude)",
                IdentifierColumnWarning,
                stacklevel=3,
            )
        # most frequent first, ties broken by label so the order is deterministic
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        kept = [label for label, _ in ordered[: self.max_categories]]
        return ColumnSpec(
            name=name,
            kind="categorical",
            dtype=str(series.dtype),
            categories=kept,
            has_other=len(ordered) > len(kept),
            shares=[count / len(series) for _, count in ordered[: self.max_categories]],
        )

    # ------------------------------------------------------------ transform
    @property
    def feature_names_out(self) -> list[str]:
        """Names of the encoded features, one per output column."""
        return [name for spec in self.columns_ for name in spec.output_names()]

    @property
    def input_columns(self) -> list[str]:
        """Names of the input columns seen at fit time, in order."""
        return [spec.name for spec in self.columns_]

    def transform(self, X: Any) -> np.ndarray:
        """Encode ``X`` into a float32 matrix of shape (rows, len(feature_names_out))."""
        if not self.columns_:
            raise RuntimeError("TabularPreprocessor is not fitted; call fit first")
        frame = self.select_columns(X)
        numeric = [spec for spec in self.columns_ if spec.kind == "numeric"]
        values = self._numeric_matrix(frame, numeric)
        gaps = ~np.isfinite(values)
        medians, means, scales = (
            np.array([getattr(spec, key) for spec in numeric], dtype=np.float64)
            for key in ("median", "mean", "scale")
        )
        encoded = (np.where(gaps, medians, values) - means) / scales
        warn_unseen_gaps(
            [
                spec.name
                for j, spec in enumerate(numeric)
                if not spec.missing_indicator and gaps[:, j].any()
            ]
        )
        if len(numeric) == len(self.columns_) and not any(s.missing_indicator for s in numeric):
            return np.ascontiguousarray(encoded, dtype=np.float32)  # the common all-numeric case
        blocks: list[np.ndarray] = []
        j = 0
        for spec in self.columns_:
            if spec.kind == "numeric":
                blocks.append(encoded[:, j : j + 1])
                if spec.missing_indicator:
                    blocks.append(gaps[:, j : j + 1].astype(np.float64))
                j += 1
            else:
                blocks.append(self._encode_categorical(spec, frame[spec.name]))
        return np.ascontiguousarray(np.concatenate(blocks, axis=1), dtype=np.float32)

    @staticmethod
    def _numeric_matrix(frame: pd.DataFrame, numeric: list[ColumnSpec]) -> np.ndarray:
        """The numeric columns as one float64 matrix (gaps as NaN), in ``numeric`` order:
        in one conversion when every one is stored as numbers, else column by column."""
        names = [spec.name for spec in numeric]
        dtypes = frame.dtypes
        if names and not any(_is_categorical_dtype(dtypes[name]) for name in names):
            block = frame if list(frame.columns) == names else frame[names]
            return block.to_numpy(dtype=np.float64, na_value=np.nan).reshape(len(frame), -1)
        values = np.empty((len(frame), len(numeric)), dtype=np.float64)
        for j, spec in enumerate(numeric):
            values[:, j] = numeric_values(spec, frame[spec.name])
        return values

    def select_columns(self, X: Any) -> pd.DataFrame:
        """``X`` as a DataFrame of the training columns, in training order.

        DataFrames are matched by column name (extra columns, such as ids, are ignored);
        arrays, which have no names, by position.
        """
        frame = as_table(X)
        positional = not isinstance(X, pd.DataFrame)
        expected = self.input_columns
        if positional and expected != list(frame.columns):
            if frame.shape[1] != len(expected):
                raise ValueError(
                    f"X has {frame.shape[1]} columns but the model was fitted on "
                    f"{len(expected)} columns: {expected}"
                )
            return frame.set_axis(expected, axis=1)
        names = list(frame.columns)
        if names == expected:
            return frame
        present = set(names)
        missing = [c for c in expected if c not in present]
        if missing:
            raise ValueError(
                f"X is missing column(s) {missing} that the model was fitted on; "
                f"expected columns: {expected}"
            )
        return frame[expected]

    def split_inputs(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """The raw inputs of an exported model: numeric columns as float64 (gaps as NaN)
        and categorical ones as string labels (gaps as ``__missing__``), each in training
        order; the encoding itself then runs inside the exported graph."""
        if not self.columns_:
            raise RuntimeError("TabularPreprocessor is not fitted; call fit first")
        frame = self.select_columns(X)
        numeric = [spec for spec in self.columns_ if spec.kind == "numeric"]
        categorical = [spec for spec in self.columns_ if spec.kind == "categorical"]
        values = np.empty((len(frame), len(numeric)), dtype=np.float64)
        for j, spec in enumerate(numeric):
            values[:, j] = numeric_values(spec, frame[spec.name])
        unseen = [
            spec.name
            for j, spec in enumerate(numeric)
            if not spec.missing_indicator and not np.isfinite(values[:, j]).all()
        ]
        warn_unseen_gaps(unseen)
        labels = np.empty((len(frame), len(categorical)), dtype=object)
        for j, spec in enumerate(categorical):
            labels[:, j] = categorical_labels(frame[spec.name]).to_numpy()
        return values, labels

    @staticmethod
    def _encode_categorical(spec: ColumnSpec, series: pd.Series) -> np.ndarray:
        labels = categorical_labels(series).to_numpy()
        width = len(spec.categories) + int(spec.has_other)
        block = np.zeros((len(labels), width), dtype=np.float64)
        index = {label: i for i, label in enumerate(spec.categories)}
        positions = np.array([index.get(label, -1) for label in labels], dtype=np.int64)
        known = positions >= 0
        block[np.flatnonzero(known), positions[known]] = 1.0
        if spec.has_other:  # values beyond the cap, seen or not, share the last slot
            block[~known, -1] = 1.0
        return block

    # --------------------------------------------------------------- state
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: the schema and statistics needed to transform new data."""
        return {
            "max_categories": self.max_categories,
            "columns": [asdict(spec) for spec in self.columns_],
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from ``to_dict`` output."""
        pre = cls(max_categories=int(state["max_categories"]))
        pre.columns_ = [ColumnSpec(**spec) for spec in state["columns"]]
        return pre


def warn_unseen_gaps(columns: list[str], stacklevel: int = 2) -> None:
    """Report imputed gaps in ``columns``, which had none in training, with a
    ``MissingValueWarning`` (``stacklevel`` as seen from the caller of this function)."""
    if columns:
        warnings.warn(
            f"missing or infinite values in column(s) {columns} that had none in "
            "training were imputed with the training median",
            MissingValueWarning,
            stacklevel=stacklevel + 1,
        )


def numeric_values(spec: ColumnSpec, series: pd.Series) -> np.ndarray:
    """A numeric column's values as float64, gaps as NaN; text that is not a number is
    refused naming the column (numbers stored as text are read)."""
    if _is_categorical(series) and not pd.api.types.is_bool_dtype(series):
        coerced = pd.to_numeric(series, errors="coerce")
        bad = series.notna() & coerced.isna()
        if bad.any():
            examples = list(dict.fromkeys(series[bad].astype(str)))[:3]
            raise ValueError(
                f"column {spec.name!r} was numeric at fit time but holds non-numeric "
                f"values such as {examples}"
            )
        series = coerced
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def fingerprint_table(X: Any) -> str:
    """A content hash of a table (values and column names), for bundle lineage."""
    frame = as_table(X)
    digest = hashlib.sha256()
    digest.update("\x1f".join(frame.columns).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()
