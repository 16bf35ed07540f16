"""The scoring service end to end: a real registry, real bundles, the FastAPI app.

Scores served must equal the detector's own, every bad request must get a 4xx naming
the problem, and alerts and versions must survive a restart.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

import deepad
from deepad.cli import main
from deepad.registry import open_registry
from deepad.serve import ServiceConfig, create_app
from tests.conftest import REGISTRY_BACKENDS, load_cardio, registry_location

NAB = Path(__file__).resolve().parents[2] / "shared/data/nab/data"


@pytest.fixture(scope="module")
def cardio() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Cardio normal rows split in training / held-out, and its anomalies (named columns)."""
    X, y = load_cardio()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    normal = frame[y == 0].sample(frac=1.0, random_state=0).reset_index(drop=True)
    half = len(normal) // 2
    return normal.iloc[:half], normal.iloc[half:].reset_index(drop=True), frame[y == 1]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, cardio) -> dict[str, Path]:
    train, _, _ = cardio
    root = tmp_path_factory.mktemp("bundles")
    out = {}
    out["ae"] = deepad.AutoEncoder(epochs=3, random_state=0).fit(train).save(root / "ae")
    out["pca"] = deepad.PCA().fit(train).save(root / "pca")
    series = pd.read_csv(NAB / "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv")
    out["series"] = deepad.RollingZScore().fit(series[["value"]].iloc[:2000]).save(root / "rz")
    return out


def _registry(location: Path | str, bundles: dict[str, Path], **options: Any):
    registry = open_registry(location, **options)
    registry.push(bundles["ae"], "cardio", by="tests")
    registry.push(bundles["series"], "cpu", by="tests")
    return registry


@pytest.fixture
def client(tmp_path, bundles):
    registry = _registry(tmp_path / "registry", bundles)
    app = create_app(registry, ServiceConfig(window=200, refresh_seconds=0.0))
    with TestClient(app) as test_client:
        yield test_client
    registry.close()


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def test_scores_served_equal_the_detectors_own(client, bundles, cardio):
    _, held_out, anomalies = cardio
    rows = pd.concat([held_out.iloc[:60], anomalies.iloc[:40]], ignore_index=True)
    response = client.post("/v1/models/cardio/score", json={"records": _records(rows)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "cardio" and body["version"] == 1
    assert "p-value" in body["rule"] or "fpr" in body["rule"]
    detector = deepad.load(bundles["ae"])
    expected = detector.decision_function(rows)
    served = np.array([r["score"] for r in body["results"]])
    np.testing.assert_allclose(served, expected, rtol=1e-6)
    np.testing.assert_allclose([r["p_value"] for r in body["results"]], detector.p_values(rows))
    assert [r["decision"] for r in body["results"]] == list(detector.predict(rows))
    assert sum(r["decision"] for r in body["results"][60:]) > 20  # anomalies get flagged


def test_csv_and_arrow_bodies_score_like_json(client, cardio):
    _, held_out, _ = cardio
    rows = held_out.iloc[:100]
    by_json = client.post("/v1/models/cardio/score", json={"records": _records(rows)}).json()
    by_csv = client.post(
        "/v1/models/cardio/score",
        content=rows.to_csv(index=False).encode(),
        headers={"content-type": "text/csv"},
    ).json()
    sink = io.BytesIO()
    table = pa.Table.from_pandas(rows, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    by_arrow = client.post(
        "/v1/models/cardio/score",
        content=sink.getvalue(),
        headers={"content-type": "application/vnd.apache.arrow.stream"},
    ).json()
    scores = [r["score"] for r in by_json["results"]]
    np.testing.assert_allclose([r["score"] for r in by_arrow["results"]], scores, rtol=1e-12)
    np.testing.assert_allclose([r["score"] for r in by_csv["results"]], scores, rtol=1e-6)


def test_explain_lists_the_columns_behind_each_score(client, cardio):
    _, _, anomalies = cardio
    response = client.post(
        "/v1/models/cardio/score?explain=3", json={"records": _records(anomalies.iloc[:5])}
    )
    assert response.status_code == 200, response.text
    for result in response.json()["results"]:
        contributors = result["contributors"]
        assert 1 <= len(contributors) <= 3
        assert all(c["feature"].startswith("f") and c["contribution"] > 0 for c in contributors)
        assert contributors[0]["feature"] in result["explanation"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "names"),
    [
        ({"records": [{"f0": 1.0}]}, None, 422, "f1"),  # missing columns are named
        ({"records": []}, None, 422, "records"),
        ({"rows": [{"f0": 1}]}, None, 422, "records"),
        ({"records": [{"f0": [1, 2]}]}, None, 422, "f0"),
        (b"{not json", {"content-type": "application/json"}, 422, "JSON"),
        (b"a,b\n1,2\n", {"content-type": "text/csv"}, 422, "f0"),
        (b"\x00\x01garbage", {"content-type": "application/vnd.apache.arrow.stream"}, 422, "Arrow"),
        (b"<xml/>", {"content-type": "application/xml"}, 415, "Content-Type"),
        (b"", {"content-type": "application/json"}, 422, "empty"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_problem(client, cardio, body, headers, status, names):
    if isinstance(body, dict):
        response = client.post("/v1/models/cardio/score", json=body)
    else:
        response = client.post("/v1/models/cardio/score", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert names in json.dumps(response.json()["detail"])


def test_text_in_a_numeric_column_is_named(client, cardio):
    _, held_out, _ = cardio
    record = _records(held_out.iloc[:1])[0]
    record["f3"] = "lots"
    response = client.post("/v1/models/cardio/score", json={"records": [record]})
    assert response.status_code == 422
    assert "f3" in response.json()["detail"]


def test_unknown_model_is_404_and_wrong_modality_422(client, cardio):
    _, held_out, _ = cardio
    records = _records(held_out.iloc[:1])
    response = client.post("/v1/models/nope/score", json={"records": records})
    assert response.status_code == 404 and "nope" in response.json()["detail"]
    response = client.post("/v1/models/cpu/score", json={"records": [{"value": 1.0}]})
    assert response.status_code == 422 and "/stream" in response.json()["detail"]
    response = client.post(
        "/v1/models/cardio/stream", json={"series": "a", "points": [{"values": [1.0]}]}
    )
    assert response.status_code == 422 and "/score" in response.json()["detail"]


def test_body_and_batch_limits(tmp_path, bundles, cardio):
    _, held_out, _ = cardio
    registry = _registry(tmp_path / "registry", bundles)
    app = create_app(registry, ServiceConfig(max_body_bytes=20_000, max_rows=50))
    with TestClient(app) as client:
        response = client.post(
            "/v1/models/cardio/score", json={"records": _records(held_out.iloc[:51])}
        )
        assert response.status_code == 413, response.text
        csv = held_out.iloc[:200].to_csv(index=False).encode()
        response = client.post(
            "/v1/models/cardio/score", content=csv, headers={"content-type": "text/csv"}
        )
        assert response.status_code == 413 and "limit" in response.json()["detail"]
        ok = client.post("/v1/models/cardio/score", json={"records": _records(held_out.iloc[:5])})
        assert ok.status_code == 200
    registry.close()


def test_api_keys_guard_everything_but_health(tmp_path, bundles, cardio):
    _, held_out, _ = cardio
    registry = _registry(tmp_path / "registry", bundles)
    app = create_app(registry, ServiceConfig(api_keys=("s3cret",)))
    records = {"records": _records(held_out.iloc[:1])}
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/models").status_code == 401
        wrong = client.post("/v1/models/cardio/score", json=records, headers={"X-API-Key": "guess"})
        assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
        right = client.post(
            "/v1/models/cardio/score", json=records, headers={"X-API-Key": "s3cret"}
        )
        assert right.status_code == 200
        assert client.get("/metrics").status_code == 401
    registry.close()


def test_models_health_and_metrics(client, cardio):
    _, held_out, _ = cardio
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["models"] == 2
    client.post("/v1/models/cardio/score", json={"records": _records(held_out.iloc[:10])})
    models = {m["name"]: m for m in client.get("/v1/models").json()}
    assert models["cardio"]["serving_version"] == 1 and models["cpu"]["latest_version"] == 1
    detail = client.get("/v1/models/cardio").json()
    version = detail["versions"][0]
    assert version["training"]["fingerprint"] and version["created_by"] == "tests"
    text = client.get("/metrics").text
    assert 'deepad_rows_scored_total{model="cardio",version="1"} 10.0' in text
    assert 'route="/v1/models/{name}/score"' in text
    assert "deepad_request_seconds_bucket" in text


def test_a_promoted_version_is_served_next(client, bundles, cardio):
    _, held_out, _ = cardio
    records = {"records": _records(held_out.iloc[:3])}
    assert client.post("/v1/models/cardio/score", json=records).json()["version"] == 1
    registry = client.app.state.registry
    registry.promote("cardio", 1)
    registry.push(bundles["pca"], "cardio", by="tests")
    registry.promote("cardio", 2)
    body = client.post("/v1/models/cardio/score", json=records).json()
    assert body["version"] == 2
    expected = deepad.load(bundles["pca"]).decision_function(held_out.iloc[:3])
    np.testing.assert_allclose([r["score"] for r in body["results"]], expected, rtol=1e-6)
    registry.rollback("cardio")
    assert client.post("/v1/models/cardio/score", json=records).json()["version"] == 1


def test_stream_keeps_state_per_series(client, bundles):
    series = pd.read_csv(NAB / "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv")
    steps = series["value"].iloc[2000:2060].tolist()
    first = client.post(
        "/v1/models/cpu/stream",
        json={"series": "a", "points": [{"values": {"value": v}} for v in steps[:30]]},
    ).json()
    second = client.post(
        "/v1/models/cpu/stream", json={"series": "a", "points": [{"values": v} for v in steps[30:]]}
    ).json()
    assert second["steps_seen"] == 60
    detector = deepad.load(bundles["series"])
    expected = detector.process(pd.DataFrame({"value": steps}))
    served = [r["score"] for r in first["results"] + second["results"]]
    np.testing.assert_allclose(served, expected, rtol=1e-9)
    other = client.post(
        "/v1/models/cpu/stream", json={"series": "b", "points": [{"values": [steps[30]]}]}
    ).json()
    assert other["steps_seen"] == 1  # a new series starts from the training context
    fresh = deepad.load(bundles["series"]).process(pd.DataFrame({"value": [steps[30]]}))
    np.testing.assert_allclose(other["results"][0]["score"], fresh[0], rtol=1e-9)
    bad = client.post(
        "/v1/models/cpu/stream", json={"series": "a", "points": [{"values": {"cpu": 1.0}}]}
    )
    assert bad.status_code == 422 and "value" in bad.json()["detail"]


def _shifted(frame: pd.DataFrame, column: str, by: float) -> pd.DataFrame:
    out = frame.copy()
    out[column] = out[column] + by * frame[column].std()
    return out


@pytest.mark.parametrize("backend", REGISTRY_BACKENDS)
def test_drift_raises_an_alert_that_survives_a_restart(tmp_path, bundles, cardio, backend):
    with registry_location(backend, tmp_path) as where:
        _alerts_survive_a_restart(where, bundles, cardio)


def _alerts_survive_a_restart(where: dict[str, Any], bundles, cardio) -> None:
    _, held_out, _ = cardio
    registry = _registry(**where, bundles=bundles)
    app = create_app(registry, ServiceConfig(window=400))
    with TestClient(app) as client:
        calm = held_out.iloc[:400]
        client.post("/v1/models/cardio/score", json={"records": _records(calm)})
        app.state.pool.drain()
        assert client.get("/v1/models/cardio/alerts").json() == []
        drifted = _shifted(held_out.iloc[400:800], "f1", 1.5)
        client.post("/v1/models/cardio/score", json={"records": _records(drifted)})
        app.state.pool.drain()
        alerts = client.get("/v1/models/cardio/alerts").json()
        kinds = {a["kind"] for a in alerts}
        assert "feature_drift" in kinds, alerts
        feature = next(a for a in alerts if a["kind"] == "feature_drift")
        assert feature["message"].startswith("f1 ") or "f1 (" in feature["message"], feature
        assert feature["version"] == 1
        assert "deepad_alerts_total" in client.get("/metrics").text
        drift = client.get("/v1/models/cardio").json()["drift"]
        assert drift["index"] == 2 and drift["drifted"]
    registry.close()
    reopened = open_registry(**where)  # a restart: a new registry and a new app
    app = create_app(reopened, ServiceConfig())
    with TestClient(app) as client:
        again = client.get("/v1/models/cardio/alerts").json()
        assert [a["id"] for a in again] == [a["id"] for a in alerts]
        assert client.get("/v1/models/cardio").json()["serving_version"] == 1
    reopened.close()


def test_serve_refuses_an_open_public_bind(capsys):
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--api-key" in capsys.readouterr().err


def test_serve_refuses_a_keep_alive_that_is_not_positive(capsys):
    assert main(["serve", "--keep-alive", "0"]) == 2
    assert "--keep-alive must be a positive number of seconds" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_deepad_serve_runs_uvicorn(tmp_path, bundles, cardio):
    _, held_out, _ = cardio
    _registry(tmp_path / "registry", bundles).close()
    port = _free_port()
    registry = str(tmp_path / "registry")
    command = [sys.executable, "-m", "deepad.cli", "serve", "--registry", registry,
               "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=1) as reply:
                    assert json.load(reply)["status"] == "ready"
                break
            except OSError:
                if process.poll() is not None:
                    raise AssertionError(process.stdout.read().decode()) from None
                time.sleep(0.1)
        request = urllib.request.Request(
            f"{base}/v1/models/cardio/score",
            data=json.dumps({"records": _records(held_out.iloc[:2])}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert len(json.load(reply)["results"]) == 2
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_ui_page_shows_models_versions_and_alerts(client, cardio):
    _, held_out, _ = cardio
    client.post("/v1/models/cardio/score", json={"records": _records(held_out.iloc[:250])})
    client.app.state.pool.drain()
    page = client.get("/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<h2>cardio</h2>" in html and "<h2>cpu</h2>" in html
    assert "AutoEncoder" in html and "RollingZScore" in html
    assert "Newest window #1 (200 rows)" in html
    assert "<script" not in html and "http" not in html.split("<body>", 1)[1]
