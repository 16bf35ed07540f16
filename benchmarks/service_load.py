r"""Load on `deepad serve` with locust, on loopback: throughput, p50/p99, errors, memory.

    .venv/bin/python benchmarks/service_load.py --pin \
        --out docs/results/service-2026-12-03/pinned.md

Fits an AutoEncoder on ADBench Cardio's normal rows (real data), pushes it to a fresh
registry, starts `deepad serve` (one uvicorn worker, one torch thread) and runs locust
headless against it: single-row and 100-row score requests at several request rates
(users, each sending one request per second on average at exponentially distributed
intervals, so that arrivals are Poisson-like rather than lock-step bursts), and, side
by side as the peer, `GET /healthz` on the same server at the same rate: the cost of
the HTTP stack alone. Then one longer
run at 200 single-row requests per second while the server's resident memory is read
every 5 s, to see whether it stays flat. Locust runs on the same 2-core machine, so its
own CPU use is part of every figure; ``--pin`` at least gives each side its own core.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CARDIO = ROOT.parent / "shared/data/adbench/6_cardio.npz"
sys.path.insert(0, str(HERE))
from _output import emit  # noqa: E402


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare(workdir: Path) -> tuple[Path, pd.DataFrame]:
    import deepad
    from deepad.registry import open_registry

    data = np.load(CARDIO)
    X, y = data["X"], data["y"]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    normal = frame[y == 0].sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, rest = normal.iloc[: len(normal) // 2], normal.iloc[len(normal) // 2 :]
    bundle = deepad.AutoEncoder(random_state=0).fit(train).save(workdir / "bundle")
    registry = open_registry(workdir / "registry")
    registry.push(bundle, "cardio", by="benchmark")
    registry.promote("cardio", 1)
    registry.close()
    return workdir / "registry", rest.reset_index(drop=True)


def _body(rows: pd.DataFrame, path: Path) -> Path:
    path.write_text(json.dumps({"records": json.loads(rows.to_json(orient="records"))}))
    return path


def _wait_ready(base: str, process: subprocess.Popen) -> None:
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=1):
                return
        except OSError:
            if process.poll() is not None:
                raise SystemExit("deepad serve exited before it was ready") from None
            time.sleep(0.1)
    raise SystemExit("deepad serve did not become ready in 60 s")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _locust(base: str, path: str, body: Path | None, users: int, seconds: int, prefix: Path):
    env = {
        **os.environ,
        "DEEPAD_LOAD_PATH": path,
        "DEEPAD_LOAD_BODY": str(body or ""),
        "DEEPAD_LOAD_RATE": "1",
    }
    command = [
        str(Path(sys.executable).with_name("locust")), "-f", str(HERE / "_locustfile.py"),
        "--headless", "--host", base, "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{seconds}s", "--stop-timeout", "5", "--csv", str(prefix), "--only-summary",
        "--loglevel", "ERROR",
    ]  # fmt: skip
    subprocess.run(command, env=env, check=False, capture_output=True)
    with open(f"{prefix}_stats.csv") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows["Aggregated"]
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "rps": float(total["Requests/s"]),
        "p50_ms": float(total["50%"]),
        "p99_ms": float(total["99%"]),
        "max_ms": float(total["Max Response Time"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="length of each load step")
    parser.add_argument("--soak", type=int, default=300, help="memory run length (s)")
    parser.add_argument("--out", type=Path, help="also write the Markdown tables here")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run the server on CPU 0 and locust on CPU 1 (taskset), so that the load "
        "generator does not compete with the server for a core",
    )
    args = parser.parse_args()
    server_cpu: list[str] = []
    if args.pin:
        if len(os.sched_getaffinity(0)) < 2:
            raise SystemExit("--pin needs at least 2 CPUs")
        server_cpu = ["taskset", "-c", "0"]
        os.sched_setaffinity(0, {1})  # this process and the locust runs it starts

    workdir = Path(tempfile.mkdtemp(prefix="deepad-load-"))
    registry, rest = _prepare(workdir)
    one = _body(rest.iloc[:1], workdir / "one.json")
    hundred = _body(rest.iloc[:100], workdir / "hundred.json")
    port = _port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*server_cpu, str(Path(sys.executable).with_name("deepad")), "serve",
         "--registry", str(registry), "--port", str(port), "--log-level", "error"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    lines = []
    try:
        _wait_ready(base, server)
        plan = [
            ("single row", "/v1/models/cardio/score", one, rate) for rate in (50, 100, 200, 300)
        ] + [("100 rows", "/v1/models/cardio/score", hundred, rate) for rate in (5, 10, 20)]
        peer = ("GET /healthz (peer)", "/healthz", None)
        lines += [
            "| request | target req/s (users) | achieved req/s | rows/s | p50 ms | p99 ms "
            "| max ms | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for what, path, body, rate in plan:
            steps = [(what, path, body, rate)]
            if what == "single row":
                steps.append((*peer, rate))
            for label, p, b, r in steps:
                stats = _locust(base, p, b, r, args.seconds, workdir / f"s{len(lines)}")
                batch = 100 if b is hundred else 1
                rows = "" if b is None else f"{stats['rps'] * batch:,.0f}"
                lines.append(
                    f"| {label} | {r} | {stats['rps']:.1f} | {rows} | {stats['p50_ms']:.0f} | "
                    f"{stats['p99_ms']:.0f} | {stats['max_ms']:.0f} | {stats['failures']} of "
                    f"{stats['requests']} |"
                )
                print(lines[-1], flush=True)
        samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sample() -> None:
            start = time.monotonic()
            while not done.is_set():
                samples.append((time.monotonic() - start, _rss_mb(server.pid)))
                done.wait(5.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        soak = _locust(base, "/v1/models/cardio/score", one, 200, args.soak, workdir / "soak")
        done.set()
        sampler.join()
        rss = np.array([mb for _, mb in samples])
        third = max(len(rss) // 3, 1)
        lines += [
            "",
            f"Soak: {args.soak} s at 200 single-row requests/s: achieved {soak['rps']:.1f} req/s, "
            f"p50 {soak['p50_ms']:.0f} ms, p99 {soak['p99_ms']:.0f} ms, {soak['failures']} errors "
            f"of {soak['requests']}.",
            f"Server RSS: {rss[0]:.0f} MB at the start, median {np.median(rss[:third]):.0f} MB "
            f"over the first third, {np.median(rss[-third:]):.0f} MB over the last third, max "
            f"{rss.max():.0f} MB ({len(rss)} samples every 5 s).",
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    emit("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
