"""Series Transformer: a causal Transformer predicts each step; the error is the score."""

from deepad.models.series_transformer.detector import SeriesTransformer

__all__ = ["SeriesTransformer"]
