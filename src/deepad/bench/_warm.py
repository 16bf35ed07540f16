"""Imported once by the job fork server so that each forked job starts warm.

Loads deepad (and torch through it) and, when installed, the PyOD peers' modules. It only
imports: no torch op runs here, so no thread pool exists yet when jobs are forked. An
import that fails is left for the job itself to report.
"""

from __future__ import annotations

import contextlib
import importlib

import deepad.bench.jobs  # noqa: F401  (the job body and everything it imports)
from deepad.bench.peers import PYOD_PEERS, pyod_available

if pyod_available():
    for _module, _ in PYOD_PEERS.values():
        with contextlib.suppress(Exception):
            importlib.import_module(_module)
