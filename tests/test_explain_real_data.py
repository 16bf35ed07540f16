"""Explanations on real data: injected causes are found, and explaining stays cheap.

The hit rates are those of ``benchmarks/explain_injected.py`` (docs/benchmarks.md), on
fewer rows: normal test rows of ADBench cardio with 1-3 columns shifted by 5 training
standard deviations.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from conftest import load_cardio

import deepad
from deepad.bench.datasets import split_dataset
from deepad.bench.explain import inject_shifts, injected_hit_rates


@pytest.fixture(scope="module")
def cardio() -> tuple[np.ndarray, np.ndarray]:
    """(normal training rows, 150 normal test rows) of cardio, seed 0 split."""
    X, y = load_cardio()
    split = split_dataset(X, y, 0)
    normal_test = split.X_test[split.y_test == 0]
    return split.X_train[split.y_train == 0], normal_test[:150]


@pytest.fixture(scope="module")
def autoencoder(cardio) -> deepad.AutoEncoder:
    return deepad.AutoEncoder(random_state=0).fit(cardio[0])


@pytest.mark.parametrize("method", ["residual", "integrated_gradients"])
def test_autoencoder_finds_the_shifted_columns(cardio, autoencoder, method):
    train, rows = cardio
    records = injected_hit_rates(autoencoder, train, rows, [method])
    rates = {r["corrupted"]: r["hit_rate"] for r in records}
    assert min(rates.values()) >= 0.8, rates
    assert all(r["hit_rate"] > 3 * r["random"] for r in records)


@pytest.mark.parametrize("name", ["KNN", "ECOD", "PCA"])
def test_classical_detectors_find_the_shifted_columns(cardio, name):
    train, rows = cardio
    det = deepad.TABLE_DETECTORS[name]().fit(train)
    records = injected_hit_rates(det, train, rows, [det.default_explain_method])
    rates = {r["corrupted"]: r["hit_rate"] for r in records}
    assert min(rates.values()) >= 0.6, rates  # docs/benchmarks.md has the per-dataset table


def test_injection_shifts_exactly_the_named_columns(cardio):
    train, rows = cardio
    injected = inject_shifts(rows, train, 2, seed=3)
    changed = np.abs(injected.rows - rows) > 0
    assert (changed.sum(axis=1) == 2).all()
    for row, columns in zip(changed, injected.corrupted, strict=True):
        assert set(np.flatnonzero(row)) == set(columns)
    std = train.std(axis=0)
    shift = np.abs(injected.rows - rows)[changed] / np.broadcast_to(std, rows.shape)[changed]
    np.testing.assert_allclose(shift, 5.0)
    with pytest.raises(ValueError, match="n_corrupted"):
        inject_shifts(rows, train, 0)


# ------------------------------------------------------------------- cost
class _RowCounter:
    """Counts the rows a detector's model evaluates, at its outermost entry points."""

    def __init__(self, detector: deepad.BaseDetector) -> None:
        self.rows = 0
        self._depth = 0
        for model in [detector, *getattr(detector, "members_", [])]:
            for name in ("_score_features", "_score_tensor", "_explain_features", "_map_batched"):
                if hasattr(model, name):
                    setattr(model, name, self._wrap(getattr(model, name)))

    def _wrap(self, method):
        @functools.wraps(method)
        def counted(*args, **kwargs):
            features = next(a for a in args if hasattr(a, "shape"))
            if self._depth == 0:
                self.rows += len(features)
            self._depth += 1
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1

        return counted


#: model evaluations per explained row, by method, on cardio's 21 columns: the exact splits
#: one pass, integrated gradients 8 steps (each a forward and a backward pass), ablation one
#: pass per column; plus scoring the rows and the typical row
EVALUATIONS_PER_ROW = {
    "residual": 3,
    "neighbours": 3,
    "tails": 3,
    "integrated_gradients": 8 + 3,
    "ablation": 21 + 3,
}


@pytest.mark.parametrize(
    ("name", "budget"),
    [
        ("AutoEncoder", EVALUATIONS_PER_ROW["residual"]),
        ("VAE", EVALUATIONS_PER_ROW["residual"]),
        ("PCA", EVALUATIONS_PER_ROW["residual"]),  # integrated gradients in closed form
        ("KNN", EVALUATIONS_PER_ROW["neighbours"]),
        ("ECOD", EVALUATIONS_PER_ROW["tails"]),
        ("AEGMM", EVALUATIONS_PER_ROW["residual"]),
        ("DeepSVDD", EVALUATIONS_PER_ROW["ablation"]),
        ("DTE", EVALUATIONS_PER_ROW["integrated_gradients"]),
        # members: every member scores each row, then the winner explains it
        ("Auto", 3 + 3 + EVALUATIONS_PER_ROW["residual"]),
    ],
)
def test_explaining_costs_a_bounded_number_of_model_evaluations(cardio, name, budget):
    """Rows the model evaluates per explained row, by the default method: a deterministic
    check of each method's cost formula. The wall-clock ratio to scoring (target: at most
    20x) depends on how well a model batches and is measured by
    benchmarks/explain_injected.py (docs/benchmarks.md)."""
    train, rows = cardio
    params = (
        {"random_state": 0} if "random_state" in deepad.TABLE_DETECTORS[name]().get_params() else {}
    )
    det = deepad.TABLE_DETECTORS[name](**params).fit(train)
    counter = _RowCounter(det)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det.explain(rows)
    assert 0 < counter.rows <= budget * len(rows), counter.rows / len(rows)
