"""Explanations: which input columns made a row anomalous, and what normal looks like.

``det.explain(X, top=3)`` (or ``explain(det, X)``) returns an :class:`Explanation`:
per-column contributions in score units, the input values, the typical training values,
and, where the method has one, the value the model expected. Methods are chosen by model
kind (see ``deepad.explain.explainer``); ``available_methods(det)`` lists a detector's.
"""

from deepad.explain.explainer import GENERIC_METHODS, available_methods, explain
from deepad.explain.images import ImageExplanation
from deepad.explain.result import Explanation, format_number, format_value

__all__ = [
    "GENERIC_METHODS",
    "Explanation",
    "ImageExplanation",
    "available_methods",
    "explain",
    "format_number",
    "format_value",
]
