"""Input checks and run finding shared by every metric, so bad input reads the same."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_binary(values: Any, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """``values`` as a 1-D bool array of 0/1 (or booleans), or a ValueError saying why not."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        if allow_empty:
            return arr.astype(bool)
        raise ValueError(f"{name} must not be empty")
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (or booleans); found other values or NaN")
    return arr.astype(bool)


def as_scores(values: Any, name: str = "scores") -> np.ndarray:
    """``values`` as a 1-D finite float64 array, or a ValueError naming the problem."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} hold {int((~np.isfinite(arr)).sum())} NaN or infinite value(s)")
    return arr


def same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """A ValueError when the two arrays differ in length."""
    if len(a) != len(b):
        raise ValueError(f"{name_a} ({len(a)}) and {name_b} ({len(b)}) differ in length")


def labels_and_scores(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(labels as bool, scores as float64)``, checked and of equal length."""
    y, s = as_binary(labels, "labels"), as_scores(scores)
    same_length(y, s, "labels", "scores")
    return y, s


def run_bounds(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and inclusive end index of each run of True values in ``mask``."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1).astype(np.int64), np.flatnonzero(edges == -1) - 1


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Each run of True values in ``mask`` as an inclusive ``(start, end)`` pair."""
    starts, ends = run_bounds(mask)
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]
