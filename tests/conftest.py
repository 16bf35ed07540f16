"""Shared fixtures: fast seeded detectors and small synthetic tables."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import deepad
from deepad.bench.datasets import load_dataset
from deepad.core.base import BaseDetector
from deepad.io.tables import as_table
from deepad.preprocess.tabular import TabularPreprocessor

# The test models are tiny: one intra-op thread is faster for them than two, and it keeps
# the suite's time steady when the 2-core CI machine has anything else running.
torch.set_num_threads(1)

#: every registered detector, in a stable order for parametrization
DETECTOR_NAMES = sorted(deepad.TABLE_DETECTORS)

N_ROWS = 200

CARDIO = Path(__file__).resolve().parents[2] / "shared/data/adbench/6_cardio.npz"

#: the registry's storage backends; PostgreSQL comes from ``POSTGRES_ENV``
REGISTRY_BACKENDS = ("sqlite", "postgresql")
POSTGRES_ENV = "DEEPAD_TEST_POSTGRES_URL"


def _postgres_url() -> str:
    """The test server's URL; skips without one, except under CI=true where it fails."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    why = f"{POSTGRES_ENV} is not set (run .ci/postgres.sh for a local server)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must test the registry on PostgreSQL: {why}", pytrace=False)
    pytest.skip(why)


@contextmanager
def registry_location(backend: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``open_registry`` arguments of an empty registry on ``backend``: a folder for
    SQLite, a fresh schema (dropped afterwards) on the PostgreSQL test server."""
    if backend == "sqlite":
        yield {"location": tmp_path / "registry"}
        return
    from sqlalchemy import create_engine, make_url, text

    url = make_url(_postgres_url())
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield {
            "location": scoped.render_as_string(hide_password=False),
            "artifacts": tmp_path / "artifacts",
        }
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def load_cardio() -> tuple[np.ndarray, np.ndarray]:
    """ADBench Cardio as ``(X, y)`` (float64, int64 0/1); the test is skipped without it."""
    if not CARDIO.is_file():
        pytest.skip(f"ADBench Cardio data not found at {CARDIO}")
    return load_dataset(CARDIO)


def fast_params(name: str) -> dict[str, Any]:
    """Parameters that make ``name`` fast and reproducible in tests."""
    params = deepad.TABLE_DETECTORS[name]().get_params()
    fast: dict[str, Any] = {}
    if "random_state" in params:
        fast["random_state"] = 0
    if "epochs" in params:
        fast["epochs"] = 3
    return fast


def build_detector(name: str, **overrides: Any) -> BaseDetector:
    """A fast, seeded instance of detector ``name``; ``overrides`` win over the defaults."""
    return deepad.TABLE_DETECTORS[name](**{**fast_params(name), **overrides})


def labels_for(name: str, X: Any) -> np.ndarray | None:
    """``y`` to fit detector ``name`` on ``X`` with in tests that need a fitted detector.

    None for unsupervised detectors (they ignore ``y``). Semi-supervised ones
    (``uses_labels``; DevNet cannot fit without a row labelled 1) get 1 for the 5% of rows
    (at least one) farthest from the centre of the encoded data, -1 (unknown) for the rest.
    """
    if not deepad.TABLE_DETECTORS[name].uses_labels:
        return None
    table = as_table(X)
    features = TabularPreprocessor().fit(table).transform(table)
    distance = np.sum((features - features.mean(axis=0)) ** 2, axis=1)
    y = np.full(len(table), -1, dtype=np.int64)
    y[np.argsort(-distance, kind="stable")[: max(1, round(0.05 * len(table)))]] = 1
    return y


@pytest.fixture
def make_detector() -> Callable[..., BaseDetector]:
    """Factory: ``make_detector("KNN", contamination=0.2)``."""
    return build_detector


@pytest.fixture(params=DETECTOR_NAMES)
def detector_name(request: pytest.FixtureRequest) -> str:
    """Each registered detector name in turn."""
    return request.param


def build_mixed_frame(n_rows: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    """A table with every column kind the preprocessor handles.

    - ``num_a``: plain float, no gaps
    - ``num_nan``: float with NaN values
    - ``num_inf``: float with one +inf and one -inf
    - ``count``: integers
    - ``color``: object strings with uneven frequencies
    - ``size``: pandas ``category``
    - ``flag``: bool
    """
    rng = np.random.default_rng(seed)
    num_nan = rng.normal(5.0, 2.0, n_rows)
    num_nan[rng.choice(n_rows, 15, replace=False)] = np.nan
    num_inf = rng.normal(-3.0, 0.5, n_rows)
    num_inf[[7, 42]] = [np.inf, -np.inf]
    return pd.DataFrame(
        {
            "num_a": rng.normal(0.0, 1.0, n_rows),
            "num_nan": num_nan,
            "num_inf": num_inf,
            "count": rng.integers(0, 20, n_rows),
            "color": pd.Series(
                rng.choice(["red", "green", "blue"], n_rows, p=[0.6, 0.3, 0.1]), dtype=object
            ),
            "size": pd.Categorical(rng.choice(["S", "M", "L"], n_rows)),
            "flag": rng.random(n_rows) < 0.3,
        }
    )


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    """~200 rows of numeric (with NaN and inf), object, category and bool columns."""
    return build_mixed_frame()


@pytest.fixture
def numeric_array() -> np.ndarray:
    """200 x 5 standard-normal floats."""
    return np.random.default_rng(1).normal(size=(N_ROWS, 5))
