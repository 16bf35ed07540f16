"""Fuzzing the service against its own OpenAPI schema (schemathesis): no input gets a 5xx.

CI runs a short version (``FUZZ_EXAMPLES`` examples per operation, default 40); for a
long run: ``DEEPAD_FUZZ_EXAMPLES=2000 pytest tests/test_serve_fuzz.py``. Requests go to
real models (a table AutoEncoder and a series RollingZScore) in a real registry.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

import deepad
from deepad.registry import open_registry
from deepad.serve import ServiceConfig, create_app
from tests.conftest import load_cardio

NAB = Path(__file__).resolve().parents[2] / "shared/data/nab/data"
FUZZ_EXAMPLES = int(os.environ.get("DEEPAD_FUZZ_EXAMPLES", "40"))


@pytest.fixture(scope="module")
def service_schema(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    X, y = load_cardio()
    frame = pd.DataFrame(X[y == 0][:600], columns=[f"f{i}" for i in range(X.shape[1])])
    table = deepad.PCA().fit(frame).save(root / "pca")
    series = pd.read_csv(NAB / "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv")
    stream = deepad.RollingZScore().fit(series[["value"]].iloc[:1000]).save(root / "rz")
    registry = open_registry(root / "registry")
    registry.push(table, "cardio")
    registry.push(stream, "cpu")
    app = create_app(registry, ServiceConfig(window=50, max_rows=200, max_body_bytes=200_000))
    yield schemathesis.openapi.from_asgi("/openapi.json", app), app
    app.state.pool.close()
    registry.close()


def test_no_input_gets_a_server_error(service_schema):
    schema, app = service_schema
    operations = [result.ok() for result in schema.get_all_operations()]
    turn = itertools.count()
    assert any(op.path.endswith("/score") for op in operations)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case):
            if case.path_parameters and "name" in case.path_parameters:
                # half the cases hit real models; the rest fuzz the name itself
                if next(turn) % 2 == 0:
                    real = "cpu" if case.path.endswith("/stream") else "cardio"
                    case.path_parameters["name"] = real
            case.call_and_validate(checks=[not_a_server_error])

        call()
    served = app.state.metrics.exposition().decode()
    counts = "\n".join(
        line for line in served.splitlines() if line.startswith("deepad_requests_total")
    )
    # the fuzzer reached the real models: random records lack the model's columns (422
    # from the detector's own check), random steps of one channel are scored (200)
    for method, route, status in [
        ("POST", "/v1/models/{name}/score", 422),
        ("POST", "/v1/models/{name}/stream", 200),
        ("GET", "/v1/models/{name}", 200),
    ]:
        line = f'deepad_requests_total{{method="{method}",route="{route}",status="{status}"}}'
        assert line in served, counts
