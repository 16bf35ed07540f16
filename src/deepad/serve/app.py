"""The FastAPI application: score, stream, models, alerts, health and metrics.

``create_app(registry, config)`` builds one service over a registry. Every error is a
JSON ``{"detail": ...}`` naming the problem: 4xx for anything about the request (unknown
model 404, bad body 422, wrong media type 415, too large 413, missing key 401); 500 is
kept for faults of the service itself, and fuzzing against the OpenAPI schema checks
that bad input never reaches it.
"""

from __future__ import annotations

import hmac
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from starlette.requests import ClientDisconnect

from deepad._version import __version__
from deepad.registry import Registry, RegistryError, RegistryUnavailable
from deepad.serve.bodies import (
    ARROW,
    CSV,
    JSON,
    BadRequest,
    InvalidBody,
    error_list,
    read_rows,
)
from deepad.serve.metrics import ServiceMetrics
from deepad.serve.pool import ModelPool
from deepad.serve.schemas import (
    AlertOut,
    ModelDetail,
    ModelSummary,
    Problem,
    ScoreResponse,
    StreamRequest,
    StreamResponse,
)
from deepad.serve.scoring import score_stream, score_table
from deepad.serve.ui import render_ui

log = logging.getLogger("deepad.serve")
API_KEY_HEADER = "X-API-Key"
#: score bodies up to this size are scored on the event loop: a few rows take well under
#: a millisecond, less than the hop to a worker thread and back; bigger bodies (and
#: explanations) go to the threadpool so that they do not hold up other requests
INLINE_BODY_BYTES = 64 * 1024
_ERRORS = {
    401: {"model": Problem, "description": "missing or wrong API key"},
    404: {"model": Problem, "description": "no such model"},
    413: {"model": Problem, "description": "body or batch over the limit"},
    415: {"model": Problem, "description": "unsupported Content-Type"},
    422: {"model": Problem, "description": "the input does not fit the model or the schema"},
}


@dataclass
class ServiceConfig:
    """Limits and monitoring settings of one service."""

    api_keys: tuple[str, ...] = ()
    max_body_bytes: int = 10 * 1024 * 1024
    max_rows: int = 10_000
    max_explain: int = 20
    window: int = 500
    alpha: float = 0.01
    refresh_seconds: float = 2.0
    preload: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_rows", "max_explain", "window"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if any(not key for key in self.api_keys):
            raise ValueError("an API key cannot be empty")


def create_app(registry: Registry, config: ServiceConfig | None = None) -> FastAPI:
    """The scoring service over ``registry``; see the module docstring."""
    config = config or ServiceConfig()
    metrics = ServiceMetrics()
    pool = ModelPool(
        registry,
        metrics,
        window=config.window,
        alpha=config.alpha,
        refresh_seconds=config.refresh_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        if config.preload:  # warm every model now, so the first request is not slow
            for summary in registry.models():
                try:
                    pool.get(summary["name"])
                except Exception:  # one broken model must not stop the others
                    log.exception("could not load model %s", summary["name"])
        yield
        pool.close()

    app = FastAPI(
        title="deepad scoring service",
        version=__version__,
        description="Scores, p-values, decisions and explanations from the models of a "
        "deepad registry, with drift monitoring and alerts.",
        lifespan=lifespan,
    )
    app.state.pool = pool
    app.state.metrics = metrics
    app.state.registry = registry
    app.state.config = config
    _install_guards(app, config, metrics)
    require_key = _key_check(config)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": Problem}})
    def readyz() -> Any:
        """The registry answers, so models can be served."""
        try:
            count = len(registry.models())
        except Exception as exc:
            return JSONResponse({"detail": f"registry unavailable: {exc}"}, status_code=503)
        return {"status": "ready", "models": count}

    @app.get("/metrics", tags=["health"], dependencies=[Depends(require_key)])
    def prometheus() -> Response:
        """Prometheus metrics: requests, latencies, rows, alerts, drift statistics."""
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    @app.get(
        "/v1/models",
        response_model=list[ModelSummary],
        tags=["models"],
        dependencies=[Depends(require_key)],
        responses={401: _ERRORS[401]},
    )
    def list_models() -> Any:
        """The registry's models, with the version this service scores each with."""
        return [
            {**m, "serving_version": pool.serving_version(m["name"])} for m in registry.models()
        ]

    @app.get(
        "/v1/models/{name}",
        response_model=ModelDetail,
        tags=["models"],
        dependencies=[Depends(require_key)],
        responses={k: _ERRORS[k] for k in (401, 404)},
    )
    def model_detail(name: str) -> Any:
        """A model's versions with lineage, the serving version, and its latest drift."""
        loaded = pool.get(name)
        return {
            "name": name,
            "serving_version": loaded.version,
            "versions": [v.to_dict() for v in registry.versions(name)],
            "drift": pool.last_window(name),
        }

    @app.post(
        "/v1/models/{name}/score",
        response_model=ScoreResponse,
        tags=["scoring"],
        dependencies=[Depends(require_key)],
        responses={k: _ERRORS[k] for k in (401, 404, 413, 415, 422)},
        openapi_extra={"requestBody": _score_body()},
    )
    async def score(
        name: str,
        request: Request,
        explain: int = Query(
            0, ge=0, le=config.max_explain, description="list the top k contributors per row"
        ),
    ) -> Any:
        """Score rows: JSON ``{"records": [...]}``, a CSV body, or an Arrow IPC stream."""
        body = await _read_body(request, config.max_body_bytes)
        content_type = request.headers.get("content-type")
        if len(body) <= INLINE_BODY_BYTES and not explain:
            return _score(name, body, content_type, explain)
        return await run_in_threadpool(_score, name, body, content_type, explain)

    def _score(name: str, body: bytes, content_type: str | None, explain: int) -> Any:
        loaded = pool.get(name)
        frame = read_rows(body, content_type, config.max_rows)
        results, scores, p_values, flags = score_table(loaded, frame, explain)
        pool.observe(loaded, frame, scores, p_values, flags)
        return {"model": name, "version": loaded.version, "rule": loaded.rule, "results": results}

    @app.post(
        "/v1/models/{name}/stream",
        response_model=StreamResponse,
        tags=["scoring"],
        dependencies=[Depends(require_key)],
        responses={k: _ERRORS[k] for k in (401, 404, 413, 422)},
    )
    def stream(name: str, body: StreamRequest) -> Any:
        """Score time steps of one series as the continuation of its stream (state kept
        per ``series`` id in this process)."""
        if len(body.points) > config.max_rows:
            raise BadRequest(
                f"{len(body.points)} points in one request; the limit is {config.max_rows}", 413
            )
        loaded = pool.get(name)
        results, seen, scores, p_values, flags = score_stream(loaded, body)
        pool.observe(loaded, None, scores, p_values, flags)
        return {
            "model": name,
            "version": loaded.version,
            "series": body.series,
            "steps_seen": seen,
            "results": results,
        }

    @app.get(
        "/v1/models/{name}/alerts",
        response_model=list[AlertOut],
        tags=["monitoring"],
        dependencies=[Depends(require_key)],
        responses={k: _ERRORS[k] for k in (401, 404)},
    )
    def alerts(
        name: str,
        limit: int = Query(100, ge=1, le=1000),
        kind: str | None = Query(None, max_length=64),
    ) -> Any:
        """The model's stored alerts (anomaly bursts, drift), newest first."""
        registry.versions(name)  # 404 for an unknown model
        return [a.to_dict() for a in registry.alerts(name, limit=limit, kind=kind)]

    @app.get(
        "/ui",
        response_class=HTMLResponse,
        tags=["monitoring"],
        dependencies=[Depends(require_key)],
    )
    def ui() -> Any:
        """A page on every model: versions, lineage, the newest drift window, alerts."""
        return HTMLResponse(render_ui(registry, pool))

    return app


def _score_body() -> dict[str, Any]:
    """The score endpoint's three body formats, for the OpenAPI document."""
    return {
        "required": True,
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "required": ["records"],
                    "additionalProperties": False,
                    "properties": {
                        "records": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "additionalProperties": {
                                    "anyOf": [
                                        {"type": "number"},
                                        {"type": "string"},
                                        {"type": "boolean"},
                                        {"type": "null"},
                                    ]
                                },
                            },
                        }
                    },
                }
            },
            CSV: {"schema": {"type": "string"}},
            ARROW: {"schema": {"type": "string", "format": "binary"}},
        },
    }


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) past ``limit`` bytes without reading further."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the body is {int(declared)} bytes; the limit is {limit}", 413)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest(f"the body is over the limit of {limit} bytes", 413)
            chunks.append(chunk)
    except ClientDisconnect:  # the client left (a timeout): nobody to answer
        raise BadRequest("the client disconnected before sending the whole body", 400) from None
    return b"".join(chunks)


def _key_check(config: ServiceConfig):  # type: ignore[no-untyped-def]
    """A dependency refusing requests without a configured API key (none configured: open)."""
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
    keys = [key.encode() for key in config.api_keys]

    async def check(key: str | None = Depends(header)) -> None:  # async: no threadpool hop
        if not keys:
            return
        given = (key or "").encode()
        if not any(hmac.compare_digest(given, k) for k in keys):
            raise BadRequest(f"a valid API key is required in the {API_KEY_HEADER} header", 401)

    return check


def _install_guards(app: FastAPI, config: ServiceConfig, metrics: ServiceMetrics) -> None:
    """Error handlers (every error as JSON naming the problem) and request metrics."""

    @app.exception_handler(InvalidBody)
    async def invalid_body(request: Request, exc: InvalidBody) -> JSONResponse:
        return JSONResponse({"detail": exc.errors}, status_code=422)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        headers = {"WWW-Authenticate": "ApiKey"} if exc.status == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)

    @app.exception_handler(RegistryError)
    async def registry_error(request: Request, exc: RegistryError) -> JSONResponse:
        status = 503 if isinstance(exc, RegistryUnavailable) else 404
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": error_list(exc.errors())}, status_code=422)

    @app.exception_handler(ValueError)
    async def unfit(request: Request, exc: ValueError) -> JSONResponse:
        # the detectors' own checks: missing columns, non-numeric values, wrong shapes
        return JSONResponse({"detail": str(exc)}, status_code=422)

    app.add_middleware(RequestMetrics, metrics=metrics)


class RequestMetrics:
    """Pure ASGI middleware counting requests by route, method and status and timing
    them: unlike Starlette's ``BaseHTTPMiddleware`` it adds no task or stream per request."""

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")  # the router sets it
            self.metrics.requests.labels(path, scope["method"], str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - start)


__all__ = ["ServiceConfig", "create_app"]
