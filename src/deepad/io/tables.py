"""Turn what a user hands us (array, DataFrame, file path) into a validated DataFrame.

Every detector accepts the same inputs, so the checks live here once: 2-D, at least one
row and one column, unique column names. Errors name the problem in the user's terms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_READERS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


def as_table(X: Any, *, name: str = "X") -> pd.DataFrame:
    """Return ``X`` as a DataFrame with string column names, or raise a clear ``ValueError``.

    NumPy arrays (and anything array-like) get the column names ``x0, x1, ...``; DataFrames
    keep theirs. The caller's object is never modified.
    """
    if isinstance(X, pd.Series):
        raise ValueError(
            f"{name} is a 1-D Series; pass a 2-D table, e.g. {name}.to_frame() for one column"
        )
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        if X is None:
            raise ValueError(f"{name} is None; pass a 2-D array or a pandas DataFrame")
        if isinstance(X, (str, Path)):
            raise ValueError(
                f"{name} is a path ({X!s}); read it first with deepad.io.read_table(path)"
            )
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (rows x columns), got a {array.ndim}-D array of shape "
                f"{array.shape}; reshape a single feature with X.reshape(-1, 1) "
                "or a single row with X.reshape(1, -1)"
            )
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    if frame.shape[0] == 0:
        raise ValueError(f"{name} has no rows; at least one row is needed")
    if frame.shape[1] == 0:
        raise ValueError(f"{name} has no columns; at least one feature column is needed")
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        raise ValueError(f"{name} has duplicated column names: {duplicated}")
    if list(frame.columns) != columns:
        frame = frame.set_axis(columns, axis=1)
    return frame


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV or Parquet file into a DataFrame, choosing the reader by extension."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    if path.is_dir():
        raise ValueError(f"expected a data file, got a directory: {path}")
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(
            f"cannot tell the format of {path.name}: use a .csv, .tsv or .parquet file"
        )
    if kind == "parquet":
        try:
            return pd.read_parquet(path)
        except ImportError as exc:  # pyarrow is optional
            raise ImportError(
                "reading Parquet needs pyarrow: pip install 'deepad[parquet]'"
            ) from exc
        except OSError as exc:  # pyarrow reports a corrupt file as an OSError
            raise ValueError(f"{path} is not a readable Parquet file: {exc}") from exc
    try:
        frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{path} is empty") from exc
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path} is not a well-formed {kind.upper()} file: {exc}") from exc
    return frame
