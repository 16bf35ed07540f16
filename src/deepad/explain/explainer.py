"""``explain(detector, X)``: which input columns made each row's score, by the right method.

Methods (``method=``):

- ``"auto"`` (default): the detector's own method, ``detector.default_explain_method``.
- ``"residual"`` (AutoEncoder, VAE, PCA, AEGMM): per-feature squared reconstruction error,
  an exact split of the reconstruction score; the reconstruction is what the model expected.
  (PCA's default is integrated gradients in closed form, exact for its quadratic score.)
- ``"neighbours"`` (KNN): each column's share of the squared distance to the neighbours
  that set the score, an exact split; the nearest training row is what was expected.
- ``"tails"`` (ECOD): the per-column tail surprisals that the score sums, an exact split.
- ``"members"`` (Auto): the explanation of the member that set each row's score (for the
  ``max`` rule; all members, weighted, for ``mean``), on the ensemble's scale.
- ``"integrated_gradients"`` (torch detectors), ``"ablation"`` and ``"shapley"`` (any
  detector): see ``deepad.explain.methods``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from deepad.explain import methods as generic
from deepad.explain.fold import column_groups, decode, describe_typical, fold, typical_row
from deepad.explain.result import Explanation, check_top

GENERIC_METHODS = ("integrated_gradients", "ablation", "shapley")


def available_methods(detector: Any) -> list[str]:
    """The ``method`` names this detector accepts, its default first."""
    methods = list(type(detector).native_explain_methods)
    if getattr(type(detector), "differentiable", False):
        methods.append("integrated_gradients")
    methods += ["ablation", "shapley"]
    default = type(detector).default_explain_method
    return list(dict.fromkeys([default, *methods]))


def explain(detector: Any, X: Any, *, top: int = 3, method: str = "auto") -> Explanation:
    """Per-column contributions to ``detector``'s score of each row of ``X``."""
    detector._check_fitted()
    chosen = _resolve(detector, method)
    preprocessor = detector.preprocessor_
    values = preprocessor.select_columns(X)
    features = preprocessor.transform(values)
    groups = column_groups(preprocessor)
    baseline = typical_row(preprocessor)
    notes: dict[str, float] = {}
    contributions, expected = _attribute(detector, features, chosen, groups, baseline, notes)
    scores = np.asarray(detector._score_features(features), dtype=np.float64)
    columns = preprocessor.input_columns
    index = values.index
    expected_frame = None
    if expected is not None:
        expected_frame = pd.DataFrame(
            dict(zip(columns, decode(expected, preprocessor), strict=True)), index=index
        )
    result = Explanation(
        method=chosen,
        scores=scores,
        contributions=pd.DataFrame(contributions, columns=columns, index=index),
        values=values,
        typical={spec.name: describe_typical(spec) for spec in preprocessor.columns_},
        expected=expected_frame,
        top_k=check_top(top),
        notes=notes,
    )
    return result


def _resolve(detector: Any, method: str) -> str:
    allowed = available_methods(detector)
    if method == "auto":
        return allowed[0]
    if method not in allowed:
        raise ValueError(
            f"{type(detector).__name__} cannot be explained with method={method!r}; "
            f"choose one of {['auto', *allowed]}"
        )
    return method


def _attribute(
    detector: Any,
    features: np.ndarray,
    method: str,
    groups: np.ndarray,
    baseline: np.ndarray,
    notes: dict[str, float],
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(contributions per input column, expected encoded rows or None)`` by ``method``."""
    n_columns = int(groups.max()) + 1
    if method == "integrated_gradients":  # its contributions sum to score - this
        notes["baseline_score"] = float(detector._score_features(baseline[None, :])[0])
    if method in type(detector).native_explain_methods and method != "members":
        encoded, expected = detector._explain_features(features, method, baseline, groups)
        return fold(encoded, groups, n_columns), expected
    if method == "integrated_gradients":
        encoded, errors = generic.integrated_gradients(
            detector._score_tensor,
            features,
            baseline,
            score_scale=_score_scale(detector),
            chunk_rows=type(detector)._gradient_chunk_rows,
        )
        notes.update(
            completeness_error_median=float(np.median(errors)),
            completeness_error_max=float(errors.max()),
        )
        return fold(encoded, groups, n_columns), None
    if method == "ablation":
        return generic.ablation(detector._score_features, features, baseline, groups), None
    if method == "shapley":
        return generic.shapley(detector._score_features, features, baseline, groups), None
    return _members(detector, features, groups, baseline), None


def _members(
    detector: Any, features: np.ndarray, groups: np.ndarray, baseline: np.ndarray
) -> np.ndarray:
    """An ensemble's contributions: its members', weighted as the ensemble combines them."""
    weights = detector._member_weights(features)  # (n, members)
    out = np.zeros((len(features), int(groups.max()) + 1))
    for position, member in enumerate(detector.members_):
        rows = np.flatnonzero(weights[:, position])
        if rows.size:
            member_method = type(member).default_explain_method
            part, _ = _attribute(member, features[rows], member_method, groups, baseline, {})
            out[rows] += part * weights[rows, position, None]
    return out


def _score_scale(detector: Any) -> float:
    """A detector's typical score spread: the inter-quartile range of its training scores
    (1.0 for an ensemble's members, which keep none; it only scales the reported error)."""
    training = getattr(detector, "decision_scores_", None)
    if training is None:
        return 1.0
    low, high = np.percentile(training, [25, 75])
    return float(high - low) if high > low else 1.0
