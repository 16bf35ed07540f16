"""The tests drift monitoring runs, each a pure function on arrays.

- :func:`psi`: population stability index of observed bin counts against training shares
  (a size of shift, no p-value);
- :func:`ks_quantiles`: one-sample Kolmogorov-Smirnov test of values against the CDF a
  column's stored training quantiles describe (a p-value for a numeric column);
- :func:`chi_square`: goodness of fit of category counts to training shares (a p-value
  for a categorical column), with :func:`share_distance` as its size;
- :func:`mmd_test`: kernel two-sample test between encoded training rows and new rows
  (drift in the joint distribution that no single column shows);
- :func:`uniformity_test`: KS of conformal p-values against Uniform(0, 1): on normal
  traffic they are uniform, so a departure is drift in the scores;
- :func:`burst_test`: one-sided binomial test of the flagged count against the rate the
  threshold rule states.

None of them knows about detectors or windows; :mod:`deepad.monitor.window` combines them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats

#: share given to an empty bin in :func:`psi`, on either side, so ``log(o / e)`` is finite
PSI_FLOOR = 1e-4


def psi(expected_shares: np.ndarray, observed_counts: np.ndarray) -> float:
    """Population stability index ``sum((o - e) * ln(o / e))`` over bins.

    ``expected_shares`` are the training shares per bin (they should sum to 1),
    ``observed_counts`` the new counts in the same bins. A bin empty on either side gets
    the share :data:`PSI_FLOOR` (1e-4) instead of 0, so one new value in a bin training
    never filled counts as a large shift instead of an infinite one; both sides are
    renormalised after the floor. The usual reading: below 0.1 stable, 0.1-0.2 a moderate
    shift, above 0.2 a significant one. NaN when nothing was observed.
    """
    expected = np.asarray(expected_shares, dtype=np.float64)
    observed = np.asarray(observed_counts, dtype=np.float64)
    if expected.shape != observed.shape:
        raise ValueError(f"{expected.size} expected shares but {observed.size} observed counts")
    total = observed.sum()
    if total <= 0 or expected.sum() <= 0:
        return math.nan
    e = np.maximum(expected / expected.sum(), PSI_FLOOR)
    o = np.maximum(observed / total, PSI_FLOOR)
    e, o = e / e.sum(), o / o.sum()
    return float(np.sum((o - e) * np.log(o / e)))


def quantile_cdf(quantiles: np.ndarray) -> tuple[Callable, Callable]:
    """The CDF ``P(X <= x)`` and its left limit ``P(X < x)`` that the quantiles at equally
    spaced levels 0, 1/k, ..., 1 describe, linear between distinct quantiles.

    Repeated quantiles (a value held by many training rows) make a jump there, so a
    column of few distinct values gets a step CDF, not a ramp through its ties.
    """
    q = np.asarray(quantiles, dtype=np.float64)
    if q.ndim != 1 or q.size < 2 or not np.all(np.diff(q) >= 0):
        raise ValueError("quantiles must be a non-decreasing 1-d array of at least 2 values")
    levels = np.linspace(0.0, 1.0, q.size)
    last = q.size - 1

    def interpolate(x: np.ndarray, k: np.ndarray) -> np.ndarray:
        # k: index of the last quantile below (left) or at-or-below (right) x; -1 for none
        inside = (k >= 0) & (k < last)
        kk = np.clip(k, 0, last - 1)
        lo, hi = q[kk], q[kk + 1]
        span = np.where(hi > lo, hi - lo, 1.0)
        t = np.clip((x - lo) / span, 0.0, 1.0)
        value = levels[kk] + t * (levels[kk + 1] - levels[kk])
        return np.where(inside, value, np.where(k >= last, 1.0, 0.0))

    def right(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return interpolate(x, np.searchsorted(q, x, side="right") - 1)

    def left(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return interpolate(x, np.searchsorted(q, x, side="left") - 1)

    return right, left


def psi_cells(
    quantiles: np.ndarray, edges: np.ndarray, shares: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Training shares and new counts per PSI cell, with atoms at the edges split out.

    The training bins are ``(-inf, e_0), [e_0, e_1), ..., [e_last, inf)`` with
    ``shares``. When the training values pile up on an edge (a column of few distinct
    values, or one mostly zero), the bin starting there is split into the edge itself
    and the rest, the edge's share read off the ``quantiles`` (the jump of their CDF
    there, capped at the bin's share; all of it when no quantile falls strictly inside
    the bin). Without the split, values moved off such an atom
    but still inside the bin (a binary column shifted by less than its gap) would change
    no bin's count. A value within a relative 1e-6 of an edge counts as on it, so the
    same number stored as float32 or float64 does not read as a move.
    """
    edges = np.asarray(edges, dtype=np.float64)
    shares = np.asarray(shares, dtype=np.float64)
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if edges.size + 1 != shares.size:
        raise ValueError(f"{edges.size} edges need {edges.size + 1} shares, got {shares.size}")
    on_edge = np.zeros(x.size, dtype=bool)
    if edges.size:
        nearest = np.clip(np.searchsorted(edges, x), 0, edges.size - 1)
        for candidate in (nearest, np.maximum(nearest - 1, 0)):
            close = np.isclose(x, edges[candidate], rtol=1e-6, atol=0.0)
            x = np.where(close, edges[candidate], x)
            on_edge |= close
    counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=edges.size + 1)
    q = np.asarray(quantiles, dtype=np.float64)
    right, left = quantile_cdf(q)
    atoms = right(edges) - left(edges) if edges.size else np.empty(0)
    expected, observed = [shares[0]], [counts[0]]
    for i, edge in enumerate(edges):
        share, count = shares[i + 1], counts[i + 1]
        if atoms[i] > 0:
            at = int(np.count_nonzero(on_edge & (x == edge)))
            stop = edges[i + 1] if i + 1 < edges.size else np.inf
            inside = bool(np.any((q > edge) & (q < stop)))
            # no quantile strictly inside the bin: the atom is (about) all of it; else the
            # jump of the quantiles, good to their 1% spacing
            atom = min(float(atoms[i]), float(share)) if inside else float(share)
            expected += [atom, share - atom]
            observed += [at, count - at]
        else:
            expected.append(share)
            observed.append(count)
    return np.asarray(expected, dtype=np.float64), np.asarray(observed, dtype=np.float64)


def ks_statistic(values: np.ndarray, cdf: Callable, cdf_left: Callable | None = None) -> float:
    """``sup |F_n - F|`` of the finite ``values`` against ``cdf``, exact with ties.

    ``cdf_left`` is ``F``'s left limit (default: ``cdf``, for a continuous ``F``). Both
    sides of every jump are compared: at each distinct value v, ``F_n(v)`` with ``F(v)``
    and ``F_n(v-)`` with ``F(v-)``. (``scipy.stats.kstest`` compares ``F_n(v-)`` with
    ``F(v)``, which is right only for a continuous ``F`` and, with tied values, grows
    the statistic by the size of the ties.)
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return math.nan
    distinct, first = np.unique(x, return_index=True)
    upto = np.append(first[1:], n) / n  # F_n(v)
    before = first / n  # F_n(v-)
    f_right = cdf(distinct)
    f_left = f_right if cdf_left is None else cdf_left(distinct)
    return float(max(np.max(np.abs(upto - f_right)), np.max(np.abs(before - f_left))))


def ks_p_value(statistic: float, n: float) -> float:
    """Two-sided KS p-value of ``statistic`` on ``n`` values (rounded; at least 1).

    Exact for a continuous CDF; conservative (too large) for a discrete one.
    """
    if not math.isfinite(statistic) or n < 1:
        return 1.0
    return float(np.clip(stats.kstwo.sf(statistic, max(1, round(n))), 0.0, 1.0))


def effective_size(n: int, reference_rows: int | None) -> float:
    """``n m / (n + m)``: the sample size of a one-sample test against a reference that
    is itself estimated from ``m`` rows (the two-sample KS's effective size); ``n`` when
    ``m`` is unknown."""
    if not reference_rows:
        return float(n)
    return n * reference_rows / (n + reference_rows)


def ks_quantiles(
    quantiles: np.ndarray, values: np.ndarray, *, reference_rows: int | None = None
) -> tuple[float, float]:
    """One-sample KS test of ``values`` against the CDF the training ``quantiles`` give.

    Returns ``(statistic, p_value)``. The CDF is :func:`quantile_cdf`'s (linear between
    quantiles, a step at tied ones), the statistic :func:`ks_statistic`'s (exact with
    ties). The quantiles were estimated from ``reference_rows`` training rows; given, the
    p-value uses the two-sample effective size ``n m / (n + m)``, so the reference's own
    sampling noise does not read as drift. Non-finite values are ignored; with none
    left the result is ``(nan, 1.0)``.
    """
    present = np.asarray(values, dtype=np.float64)
    present = present[np.isfinite(present)]
    if present.size == 0:
        return math.nan, 1.0
    right, left = quantile_cdf(quantiles)
    statistic = ks_statistic(present, right, left)
    return statistic, ks_p_value(statistic, effective_size(present.size, reference_rows))


def chi_square(expected_shares: np.ndarray, observed_counts: np.ndarray) -> tuple[float, float]:
    """Pearson chi-square goodness of fit of counts to shares: ``(statistic, p_value)``.

    A cell training never filled (share 0) gets a tiny floor (1e-9 of the count) as its
    expected count, so a value never seen there is strong evidence, not a division by
    zero. Degrees of freedom: cells - 1 (at least 1). ``(nan, 1.0)`` when nothing was
    observed.
    """
    shares = np.asarray(expected_shares, dtype=np.float64)
    observed = np.asarray(observed_counts, dtype=np.float64)
    if shares.shape != observed.shape:
        raise ValueError(f"{shares.size} expected shares but {observed.size} observed counts")
    total = observed.sum()
    if total <= 0:
        return math.nan, 1.0
    expected = np.maximum(shares * total, 1e-9 * total)
    statistic = float((((observed - expected) ** 2) / expected).sum())
    return statistic, float(stats.chi2.sf(statistic, df=max(len(observed) - 1, 1)))


def share_distance(expected_shares: np.ndarray, observed_counts: np.ndarray) -> float:
    """Total variation distance between the shares and the counts' shares (0 to 1)."""
    shares = np.asarray(expected_shares, dtype=np.float64)
    observed = np.asarray(observed_counts, dtype=np.float64)
    total = observed.sum()
    if total <= 0:
        return math.nan
    return float(0.5 * np.abs(observed / total - shares).sum())


def _subsample(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    if len(rows) <= limit:
        return rows
    return rows[np.sort(rng.choice(len(rows), size=limit, replace=False))]


def mmd_test(
    reference: np.ndarray,
    sample: np.ndarray,
    *,
    permutations: int = 200,
    seed: int = 0,
    max_rows: int = 256,
) -> tuple[float, float]:
    """Kernel two-sample test: ``(squared MMD, permutation p-value)``.

    Each side is subsampled to at most ``max_rows`` rows (256). The kernel is RBF,
    ``exp(-d^2 / (2 s^2))`` with ``s^2`` the median squared distance between distinct
    pooled rows (the median heuristic), computed once; the statistic is the unbiased
    squared MMD (about 0 when both sides come from one distribution). The p-value is
    ``(1 + #permuted >= observed) / (1 + permutations)``, all permutations computed with
    one matrix product. When no permuted statistic reaches the observed one, it is
    refined by a gamma distribution matched to the permutation null's mean and variance
    (Gretton et al., 2009), never above ``1 / (1 + permutations)``: so a few hundred
    permutations still give the very small p-values a Bonferroni-corrected family needs.
    ``(nan, 1.0)`` when a side has fewer than 2 rows.
    """
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(sample, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"reference {x.shape} and sample {y.shape} must be 2-d, same columns")
    if permutations < 1:
        raise ValueError(f"permutations must be at least 1, got {permutations}")
    rng = np.random.default_rng(seed)
    x, y = _subsample(x, max_rows, rng), _subsample(y, max_rows, rng)
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        return math.nan, 1.0
    pooled = np.vstack([x, y])
    norms = np.einsum("ij,ij->i", pooled, pooled)
    d2 = np.maximum(norms[:, None] + norms[None, :] - 2.0 * pooled @ pooled.T, 0.0)
    upper = d2[np.triu_indices(n + m, k=1)]
    scale = float(np.median(upper[upper > 0])) if np.any(upper > 0) else 1.0
    kernel = np.exp(-d2 / (2.0 * scale))
    row_sums = kernel.sum(axis=1)
    total = row_sums.sum()
    # membership of the first group: row 0 the observed split, then random relabellings
    member = np.zeros((permutations + 1, n + m))
    member[0, :n] = 1.0
    for p in range(1, permutations + 1):
        member[p, rng.permutation(n + m)[:n]] = 1.0
    within_x = np.einsum("pi,pi->p", member @ kernel, member)
    towards_all = member @ row_sums
    between = towards_all - within_x
    within_y = total - 2.0 * towards_all + within_x
    diag = 1.0  # k(z, z) for an RBF kernel
    values = (
        (within_x - n * diag) / (n * (n - 1))
        + (within_y - m * diag) / (m * (m - 1))
        - 2.0 * between / (n * m)
    )
    observed, null = float(values[0]), values[1:]
    reached = int(np.sum(null >= observed))
    p_value = (1.0 + reached) / (1.0 + permutations)
    if reached == 0:
        p_value = min(p_value, _gamma_tail(observed, null))
    return observed, float(p_value)


def _gamma_tail(observed: float, null: np.ndarray) -> float:
    """Upper tail at ``observed`` of a gamma matched to the permutation statistics.

    The unbiased statistic can be negative, so the gamma is fitted to it shifted by the
    smallest null value (a location), matching mean and variance."""
    low = float(null.min())
    shifted = null - low
    mean, var = float(shifted.mean()), float(shifted.var())
    if mean <= 0 or var <= 0:
        return 1.0
    shape, scale = mean * mean / var, var / mean
    return float(stats.gamma.sf(observed - low, shape, scale=scale))


def uniformity_test(
    p_values: np.ndarray, *, calibration_rows: int | None = None
) -> tuple[float, float]:
    """KS test of p-values against Uniform(0, 1): ``(statistic, p_value)``.

    On normal traffic, conformal p-values are uniform, so a small p-value here means the
    scores moved (or anomalies came in: the p-values pile up near 0). With
    ``calibration_rows`` m the p-values are taken as conformal, on the grid
    ``1/(m+1), ..., 1``: each is compared with the discrete uniform there (its left
    limit one step down), and, since all p-values of a window share the same
    calibration rows, the test's size is the two-sample effective ``n m / (n + m)`` (the
    test is then the two-sample KS of the window's scores against the calibration
    scores). Without it, the plain one-sample KS. NaNs are ignored.
    """
    p = np.asarray(p_values, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size == 0:
        return math.nan, 1.0

    def uniform(x: np.ndarray) -> np.ndarray:
        return np.clip(x, 0.0, 1.0)

    left = None
    if calibration_rows:
        step = 1.0 / (calibration_rows + 1)

        def left(x: np.ndarray) -> np.ndarray:
            return np.clip(x - step, 0.0, 1.0)

    statistic = ks_statistic(p, uniform, left)
    return statistic, ks_p_value(statistic, effective_size(p.size, calibration_rows))


def burst_test(flags: np.ndarray, rate: float) -> float:
    """One-sided binomial p-value of ``flags.sum()`` flagged rows out of ``len(flags)``
    against the stated ``rate`` (small = more flags than the rule allows on normal data);
    1.0 for no rows."""
    values = np.asarray(flags)
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must be in (0, 1), got {rate!r}")
    n = int(values.size)
    if n == 0:
        return 1.0
    k = int(np.count_nonzero(values))
    return float(stats.binomtest(k, n, rate, alternative="greater").pvalue)
