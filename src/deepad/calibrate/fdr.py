"""False discovery rate control over a batch of p-values (Benjamini & Hochberg, 1995).

Conformal p-values of one test batch share the calibration set, so they are not
independent; they are positively dependent in the PRDS sense, under which the BH
procedure still controls the FDR at level q (Bates et al., 2023, Theorem 2).
"""

from __future__ import annotations

import numpy as np


def benjamini_hochberg(p_values: np.ndarray, q: float) -> np.ndarray:
    """Boolean mask of the rejected (flagged) hypotheses at FDR level ``q``.

    Sorts the n p-values, finds the largest k with ``p_(k) <= q k / n`` and rejects the k
    smallest. NaN p-values are never rejected and do not count in n.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"the FDR level must be in (0, 1), got {q!r}")
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p-values must be 1-D, got shape {p.shape}")
    valid = ~np.isnan(p)
    n = int(valid.sum())
    rejected = np.zeros(p.shape, dtype=bool)
    if n == 0:
        return rejected
    order = np.argsort(np.where(valid, p, np.inf), kind="stable")[:n]
    below = p[order] <= q * np.arange(1, n + 1) / n
    if below.any():
        k = int(np.flatnonzero(below)[-1]) + 1
        rejected[order[:k]] = True
    return rejected
