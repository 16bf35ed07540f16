"""Between the encoded features a model sees and the input columns a person reads.

The preprocessor turns one input column into one or more encoded features (a numeric
column and its ``__missing`` indicator; one slot per category). Attributions come out per
encoded feature; here they are folded back per column, model expectations are decoded
back to input units, and the typical training values are put into words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepad.explain.result import format_number
from deepad.preprocess.tabular import MISSING, OTHER, ColumnSpec, TabularPreprocessor


def column_groups(preprocessor: TabularPreprocessor) -> np.ndarray:
    """For each encoded feature, the position of the input column it came from."""
    return np.concatenate(
        [
            np.full(len(spec.output_names()), position, dtype=np.int64)
            for position, spec in enumerate(preprocessor.columns_)
        ]
    )


def fold(encoded: np.ndarray, groups: np.ndarray, n_columns: int) -> np.ndarray:
    """Sum per-encoded-feature contributions ``(n, d_encoded)`` into ``(n, n_columns)``."""
    folded = np.zeros((encoded.shape[0], n_columns), dtype=np.float64)
    np.add.at(folded.T, groups, encoded.T.astype(np.float64))
    return folded


def typical_row(preprocessor: TabularPreprocessor) -> np.ndarray:
    """The encoded "typical normal row": numeric medians, most frequent categories.

    The reference that integrated gradients start from and that ablation substitutes;
    encoded by the preprocessor itself, so it matches how real rows are encoded.
    """
    typical = {
        spec.name: [spec.median if spec.kind == "numeric" else spec.categories[0]]
        for spec in preprocessor.columns_
    }
    return preprocessor.transform(pd.DataFrame(typical))[0]


def decode(encoded: np.ndarray, preprocessor: TabularPreprocessor) -> list[np.ndarray]:
    """Encoded rows (e.g. a reconstruction) back to per-column values in input units.

    Numeric columns are unscaled (a reconstructed ``__missing`` indicator above 0.5
    reads as a gap); a categorical column takes the category whose slot is largest.
    """
    columns: list[np.ndarray] = []
    start = 0
    for spec in preprocessor.columns_:
        width = len(spec.output_names())
        block = encoded[:, start : start + width].astype(np.float64)
        start += width
        if spec.kind == "numeric":
            values = block[:, 0] * spec.scale + spec.mean
            if spec.missing_indicator:
                values = np.where(block[:, 1] > 0.5, np.nan, values)
            columns.append(values)
        else:
            labels = np.asarray(_category_labels(spec), dtype=object)
            columns.append(labels[np.argmax(block, axis=1)])
    return columns


def describe_range(low: float, high: float) -> str:
    """A typical range (5th to 95th percentile) in words: ``12-450``, ``-3 to 8``, ``7``."""
    a, b = format_number(low), format_number(high)
    return a if a == b else f"{a} to {b}" if low < 0 else f"{a}-{b}"


def describe_typical(spec: ColumnSpec) -> str:
    """The typical training values of a column in words: ``12-450`` or ``US 62%, GB 20%``."""
    if spec.kind == "numeric":
        if spec.low is None or spec.high is None:  # bundles written before ranges were kept
            return f"around {format_number(spec.median)}"
        return describe_range(spec.low, spec.high)
    if not spec.shares:
        return ", ".join(_category_labels(spec)[:3])
    shown, covered = [], 0.0
    for label, share in zip(spec.categories, spec.shares, strict=False):
        shown.append(f"{_readable(label)} {share:.0%}")
        covered += share
        if covered >= 0.8 or len(shown) == 3:
            break
    return ", ".join(shown)


def _category_labels(spec: ColumnSpec) -> list[str]:
    labels = [_readable(c) for c in spec.categories]
    return labels + (["other"] if spec.has_other else [])


def _readable(label: str) -> str:
    return "missing" if label == MISSING else "other" if label == OTHER else label
