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
import pandas as pd

_SEPARATORS = re.compile(r"[\s,]+")


def _parse_line(text: str, where: str) -> np.ndarray:
    ids = []
    for token in _SEPARATORS.split(text.strip()):
        if not token:
            continue
        try:
            ids.append(int(token))
        except ValueError:
            raise ValueError(
                f"{where}: event ids must be integers, got {token!r}; for raw log lines give "
                "the detector a session rule (session_regex or session_window)"
            ) from None
    try:
        return np.asarray(ids, dtype=np.int64)
    except OverflowError:
        raise ValueError(
            f"{where}: an event id is out of range (ids must fit in 64 bits)"
        ) from None


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


def read_templates(templates: Any) -> dict[int, str]:
    """Event id -> template text, from a mapping or a CSV whose first two columns are the
    id (``5`` or loghub's ``E5``) and the template; None gives no templates."""
    if templates is None:
        return {}
    if isinstance(templates, (str, Path)):
        path = Path(templates)
        if not path.is_file():
            raise FileNotFoundError(f"no such templates file: {path}")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if frame.shape[1] < 2:
            raise ValueError(f"{path}: a templates CSV needs an id column and a template column")
        pairs = zip(frame.iloc[:, 0], frame.iloc[:, 1], strict=True)
        where = str(path)
    elif isinstance(templates, dict):
        pairs, where = templates.items(), "templates"
    else:
        raise ValueError(
            f"templates must be a mapping or a CSV path, got {type(templates).__name__}"
        )
    out = {}
    for key, text in pairs:
        digits = re.fullmatch(r"[A-Za-z]*(-?\d+)", str(key).strip())
        if digits is None:
            raise ValueError(f"{where}: template id {key!r} is not an event id like 5 or E5")
        out[int(digits.group(1))] = str(text)
    return out
