"""Typed table columns to a float matrix, with the schema captured at fit time."""

from deepad.preprocess.tabular import TabularPreprocessor

__all__ = ["TabularPreprocessor"]
