"""Read log sessions given as event-id sequences (one session per line, as in DeepLog's data).

``as_sessions(X)`` accepts a path to a text file with one session per line (event ids
separated by spaces or commas; empty lines are empty sessions only when ``keep_empty``),
a list of such strings, or a list of integer sequences. Ids must be integers; anything
else is refused with the line that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_SEPARATORS = re.compile(r"[\s,]+")


def _parse_line(text: str, where: str) -> np.ndarray:
    tokens = [t for t in _SEPARATORS.split(text.strip()) if t]
    try:
        return np.asarray([int(t) for t in tokens], dtype=np.int64)
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("-").isdigit())
        raise ValueError(f"{where}: event ids must be integers, got {bad!r}") from None


def as_sessions(X: Any) -> list[np.ndarray]:
    """The sessions of ``X`` as int64 arrays of event ids."""
    if isinstance(X, (str, Path)) and Path(X).is_file():
        lines = Path(X).read_text(encoding="utf-8", errors="replace").splitlines()
        sessions = [
            _parse_line(line, f"{X} line {i + 1}") for i, line in enumerate(lines) if line.strip()
        ]
    elif isinstance(X, (str, Path)):
        raise FileNotFoundError(f"no such session file: {X}")
    elif isinstance(X, Sequence) or isinstance(X, np.ndarray):
        sessions = []
        for i, item in enumerate(X):
            if isinstance(item, str):
                sessions.append(_parse_line(item, f"session {i}"))
                continue
            values = np.asarray(item)
            if values.ndim != 1 or (values.size and values.dtype.kind not in "iu"):
                raise ValueError(
                    f"session {i} must be a sequence of integer event ids, got {values.dtype} "
                    f"with shape {values.shape}"
                )
            sessions.append(values.astype(np.int64))
    else:
        raise ValueError(
            "sessions must be a file (one session per line), a list of strings, or a list of "
            f"integer sequences; got {type(X).__name__}"
        )
    if not sessions:
        raise ValueError("no sessions given")
    return sessions
