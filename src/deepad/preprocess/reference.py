"""What drift monitoring compares new inputs with: a summary of the training inputs.

Kept in every table bundle (manifest key ``drift_reference``, array
``reference.sample``), so a served model is monitored with no training file at hand:

- per numeric input column: 101 quantiles of the finite training values (the CDF a KS
  test reads), the interior edges of ten equal-count bins with the share of training
  values in each (the bins PSI compares; tied values merge bins, so shares need not be
  0.1 each), and the share of missing values;
- ``sample``: up to ``SAMPLE_ROWS`` encoded training rows drawn at random, for the
  multivariate two-sample test (MMD). These are training rows, as a k-NN bundle's are:
  share a bundle only where sharing that sample is acceptable.

Categorical columns need nothing here: the preprocessor keeps each kept category's
training share already.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepad.preprocess.tabular import TabularPreprocessor, numeric_values

#: encoded training rows kept for the multivariate test
SAMPLE_ROWS = 256
#: quantile levels stored per numeric column (0, 0.01, ..., 1)
QUANTILE_LEVELS = np.linspace(0.0, 1.0, 101)
#: equal-count bins of the training values that PSI compares
PSI_BINS = 10


@dataclass
class NumericReference:
    """One numeric column's training distribution, as drift tests read it."""

    name: str
    quantiles: list[float]
    edges: list[float]
    shares: list[float]
    missing: float

    def bin_counts(self, values: np.ndarray) -> np.ndarray:
        """Counts of the finite ``values`` in the PSI bins (``len(edges) + 1`` of them)."""
        finite = values[np.isfinite(values)]
        bins = np.searchsorted(np.asarray(self.edges), finite, side="right")
        return np.bincount(bins, minlength=len(self.edges) + 1)


@dataclass
class DriftReference:
    """Training-input summary for drift tests; see the module docstring."""

    numeric: list[NumericReference] = field(default_factory=list)
    sample: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.float32))
    rows: int = 0

    @classmethod
    def fit(
        cls,
        preprocessor: TabularPreprocessor,
        frame: pd.DataFrame,
        features: np.ndarray,
        seed: int | None = 0,
    ) -> DriftReference:
        """Summarise the training ``frame`` and its encoded ``features`` (same rows)."""
        numeric = []
        for spec in preprocessor.columns_:
            if spec.kind != "numeric":
                continue
            values = numeric_values(spec, frame[spec.name])
            numeric.append(_numeric_reference(spec.name, values))
        rng = np.random.default_rng(seed)
        take = min(SAMPLE_ROWS, len(features))
        rows = np.sort(rng.choice(len(features), size=take, replace=False))
        sample = np.ascontiguousarray(features[rows], dtype=np.float32)
        return cls(numeric=numeric, sample=sample, rows=len(frame))

    def column(self, name: str) -> NumericReference | None:
        """The reference of numeric column ``name``, or None."""
        return next((ref for ref in self.numeric if ref.name == name), None)

    # ---------------------------------------------------------------- state
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-ready metadata and the arrays, for the bundle."""
        meta = {
            "rows": self.rows,
            "numeric": [
                {
                    "name": ref.name,
                    "quantiles": ref.quantiles,
                    "edges": ref.edges,
                    "shares": ref.shares,
                    "missing": ref.missing,
                }
                for ref in self.numeric
            ],
        }
        return meta, {"sample": self.sample}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> DriftReference:
        """Inverse of ``state``."""
        numeric = [
            NumericReference(
                name=str(item["name"]),
                quantiles=[float(q) for q in item["quantiles"]],
                edges=[float(e) for e in item["edges"]],
                shares=[float(s) for s in item["shares"]],
                missing=float(item["missing"]),
            )
            for item in meta["numeric"]
        ]
        sample = np.asarray(arrays["sample"], dtype=np.float32)
        return cls(numeric=numeric, sample=sample, rows=int(meta["rows"]))


def _numeric_reference(name: str, values: np.ndarray) -> NumericReference:
    finite = values[np.isfinite(values)]
    missing = 1.0 - finite.size / max(values.size, 1)
    if finite.size == 0:
        return NumericReference(name, [], [], [1.0], missing)
    quantiles = np.quantile(finite, QUANTILE_LEVELS)
    interior = np.quantile(finite, np.linspace(0.0, 1.0, PSI_BINS + 1)[1:-1])
    edges = np.unique(interior)
    counts = np.bincount(np.searchsorted(edges, finite, side="right"), minlength=len(edges) + 1)
    return NumericReference(
        name=name,
        quantiles=[float(q) for q in quantiles],
        edges=[float(e) for e in edges],
        shares=[float(c) for c in counts / finite.size],
        missing=float(missing),
    )
