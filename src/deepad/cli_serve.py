"""``deepad serve``: run the scoring service over a registry with uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import os
from typing import Any

from deepad.core.extras import MissingExtraError

API_KEYS_ENV = "DEEPAD_API_KEYS"


def add_serve_command(commands: Any) -> None:
    """Register ``deepad serve``."""
    serve = commands.add_parser(
        "serve", help="serve the registry's models over HTTP (score, stream, drift, alerts)"
    )
    serve.add_argument(
        "--registry",
        metavar="URL|DIR",
        help="registry folder or database URL (default: $DEEPAD_REGISTRY or ~/.deepad/registry)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help=f"accept this key in the X-API-Key header, repeatable (also ${API_KEYS_ENV}, "
        "comma-separated); without keys the service binds to loopback only",
    )
    serve.add_argument(
        "--max-body-mb", type=float, default=10.0, help="largest request body (default 10 MB)"
    )
    serve.add_argument(
        "--max-rows", type=int, default=10_000, help="most rows per request (default 10000)"
    )
    serve.add_argument(
        "--window", type=int, default=500, help="rows per drift-monitoring window (default 500)"
    )
    serve.add_argument(
        "--alpha",
        type=float,
        default=0.01,
        help="false-alarm level of one window's drift tests, all together (default 0.01)",
    )
    serve.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per request (default 1: lowest latency under concurrency)",
    )
    serve.add_argument(
        "--keep-alive",
        type=float,
        default=75.0,
        metavar="SECONDS",
        help="how long an idle client connection stays open (default 75: longer than the "
        "60-s idle timeout of common load balancers, so the server is not the side that "
        "closes a connection a client is about to reuse)",
    )
    serve.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"]
    )
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> None:
    try:
        import uvicorn

        from deepad.serve import ServiceConfig, create_app
    except ImportError as exc:
        raise MissingExtraError(
            f"deepad serve needs {exc.name}: pip install 'deepad[serve]'"
        ) from None
    from deepad.registry import open_registry

    keys = [*args.api_key, *filter(None, os.environ.get(API_KEYS_ENV, "").split(","))]
    if not keys and not _is_loopback(args.host):
        raise ValueError(
            f"--host {args.host} would expose the service without authentication; give "
            f"--api-key KEY (or ${API_KEYS_ENV}) or bind to 127.0.0.1"
        )
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be in 1..65535, got {args.port}")
    if args.max_body_mb <= 0:
        raise ValueError(f"--max-body-mb must be positive, got {args.max_body_mb}")
    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    if not args.keep_alive > 0:
        raise ValueError(
            f"--keep-alive must be a positive number of seconds, got {args.keep_alive}"
        )
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    # NumPy's BLAS too (the monitor's window tests): its default of one thread per core
    # would take the core the request loop runs on
    threadpool_limits(args.threads)
    config = ServiceConfig(
        api_keys=tuple(k.strip() for k in keys),
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        max_rows=args.max_rows,
        window=args.window,
        alpha=args.alpha,
    )
    registry = open_registry(args.registry)
    app = create_app(registry, config)
    print(f"deepad serve: http://{args.host}:{args.port} (docs at /docs)", flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_keep_alive=args.keep_alive,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
