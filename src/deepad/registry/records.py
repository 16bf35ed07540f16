"""What the registry hands out: frozen records of a model version and of an alert.

Frozen so a caller (the scoring service, across threads) can share them without copies;
``to_dict`` gives the JSON form, datetimes as ISO 8601 strings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

#: the stages a version can be in
STAGES = ("production", "archived", "none")


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite hands back naive ones)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 text of an aware UTC datetime (seconds precision), or None."""
    return None if moment is None else utc(moment).isoformat(timespec="seconds")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class ModelVersion:
    """One pushed version of a named model, with its manifest's key facts and lineage."""

    name: str
    version: int
    stage: str
    path: Path
    weights_sha256: str
    detector: str
    modality: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    training: dict[str, Any]
    threshold: dict[str, Any]
    created_at: datetime
    created_by: str
    parent: int | None
    note: str | None

    @property
    def ref(self) -> str:
        """``name:version``, the form the CLI takes."""
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (datetimes as ISO strings, the path as text)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class Alert:
    """Something noticed about a model version (drift, errors, a threshold breach)."""

    id: int
    name: str
    version: int
    kind: str
    severity: str
    message: str
    detail: dict[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``created_at`` as an ISO string)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}
