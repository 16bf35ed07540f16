"""Locust user for ``benchmarks/service_load.py``: POSTs a fixed body to one endpoint.

Settings come from the environment (set by the benchmark): DEEPAD_LOAD_PATH (the URL
path), DEEPAD_LOAD_BODY (a file holding the JSON body; empty = GET), DEEPAD_LOAD_RATE
(requests per second per user). A request counts as failed unless it answers 200.
"""

from __future__ import annotations

import os
from pathlib import Path

from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

PATH = os.environ.get("DEEPAD_LOAD_PATH", "/healthz")
BODY_FILE = os.environ.get("DEEPAD_LOAD_BODY", "")
BODY = Path(BODY_FILE).read_bytes() if BODY_FILE else b""
RATE = float(os.environ.get("DEEPAD_LOAD_RATE", "1"))


class ServiceUser(FastHttpUser):
    """One client sending ``RATE`` requests per second."""

    wait_time = constant_throughput(RATE)

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
