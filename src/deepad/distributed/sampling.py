"""``sample_rows``: a uniform random sample of table rows spread over many files.

For detectors that do not train data-parallel (the classical ones, and any detector whose
training data would not fit in memory), the documented path for large data is to fit on
a sample: every row of every file has the same chance, without replacement, and the same
files and seed give the same sample. Parquet row counts come from the file footers, so
only the sampled row groups are read; CSV files are read one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from deepad.distributed.scoring import input_files


def _row_count(path: str) -> int:
    if path.endswith(".csv"):
        return int(pd.read_csv(path, usecols=[0]).shape[0])
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _read_rows(path: str, rows: np.ndarray) -> pd.DataFrame:
    """The given (sorted, 0-based) rows of one file."""
    if path.endswith(".csv"):
        return pd.read_csv(path).iloc[rows]
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    sizes = [handle.metadata.row_group(g).num_rows for g in range(handle.num_row_groups)]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    parts = []
    for group in np.unique(np.searchsorted(starts, rows, side="right") - 1):
        inside = rows[(rows >= starts[group]) & (rows < starts[group + 1])] - starts[group]
        parts.append(handle.read_row_group(int(group)).to_pandas().iloc[inside])
    return pd.concat(parts)


def sample_rows(
    source: str | Path | Sequence[str | Path], rows: int, *, seed: int = 0
) -> tuple[pd.DataFrame, dict[str, int | str]]:
    """(``rows`` rows drawn uniformly without replacement from every file of ``source``, in
    file order, and what was drawn: rows, total rows, files, seed) for lineage."""
    if not isinstance(rows, (int, np.integer)) or isinstance(rows, bool) or rows < 1:
        raise ValueError(f"the sample size must be a positive number of rows, got {rows!r}")
    files = input_files(source)
    counts = np.asarray([_row_count(f) for f in files], dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        raise ValueError(f"the {len(files)} file(s) hold no rows")
    take = min(int(rows), total)
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=take, replace=False))
    starts = np.concatenate([[0], np.cumsum(counts)])
    parts = []
    for k, path in enumerate(files):
        mine = chosen[(chosen >= starts[k]) & (chosen < starts[k + 1])] - starts[k]
        if len(mine):
            parts.append(_read_rows(path, mine))
    sample = pd.concat(parts, ignore_index=True)
    columns = [list(p.columns) for p in parts]
    if any(c != columns[0] for c in columns):
        raise ValueError("the files do not share one set of columns")
    info = {"sampled_rows": take, "total_rows": total, "files": len(files), "seed": int(seed)}
    return sample, info
