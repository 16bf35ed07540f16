"""Locust user for ``benchmarks/service_load.py``: POSTs a fixed body to one endpoint.

Settings come from the environment (set by the benchmark): DEEPAD_LOAD_PATH (the URL
path), DEEPAD_LOAD_BODY (a file holding the JSON body; empty = GET), DEEPAD_LOAD_RATE
(requests per second per user). A request counts as failed unless it answers 200.

Each user waits an exponentially distributed time (mean 1/RATE) after each request and
starts at a random offset, so the users together send Poisson-like arrivals: a
constant pace per user lines the users up into bursts that say more about the
load generator than about the service.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import gevent
from locust import task
from locust.contrib.fasthttp import FastHttpUser

PATH = os.environ.get("DEEPAD_LOAD_PATH", "/healthz")
BODY_FILE = os.environ.get("DEEPAD_LOAD_BODY", "")
BODY = Path(BODY_FILE).read_bytes() if BODY_FILE else b""
RATE = float(os.environ.get("DEEPAD_LOAD_RATE", "1"))


class ServiceUser(FastHttpUser):
    """One client sending about ``RATE`` requests per second, at random moments."""

    def wait_time(self) -> float:
        return random.expovariate(RATE)

    def on_start(self) -> None:
        gevent.sleep(random.uniform(0.0, 1.0 / RATE))  # spread the users' first requests

    @task
    def call(self) -> None:
        if BODY:
            headers = {"content-type": "application/json"}
            with self.client.post(PATH, data=BODY, headers=headers, catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"status {r.status_code}")
        else:
            with self.client.get(PATH, catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"status {r.status_code}")
