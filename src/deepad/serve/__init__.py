"""The real-time scoring service: ``deepad serve`` over a model registry.

``create_app(registry, ServiceConfig(...))`` gives the FastAPI application; the CLI runs
it with uvicorn. See the README's "Scoring service" for the endpoints.
"""

from deepad.serve.app import ServiceConfig, create_app

__all__ = ["ServiceConfig", "create_app"]
