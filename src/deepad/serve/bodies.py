"""Request bodies -> a DataFrame of rows: JSON records, CSV, or Arrow IPC.

Each reader turns anything malformed into a ``BadRequest`` naming the problem (the
service answers it with a 4xx), and refuses batches over the configured row limit.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
from pydantic import ValidationError

from deepad.serve.schemas import ScoreRequest

JSON = "application/json"
CSV = "text/csv"
ARROW = "application/vnd.apache.arrow.stream"
ARROW_FILE = "application/vnd.apache.arrow.file"
MEDIA_TYPES = (JSON, CSV, ARROW, ARROW_FILE)


class BadRequest(ValueError):
    """Input the service refuses; ``status`` is the HTTP code to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def media_type(header: str | None) -> str:
    """The bare media type of a Content-Type header (JSON when absent)."""
    if not header:
        return JSON
    return header.split(";", 1)[0].strip().lower()


def read_rows(body: bytes, content_type: str | None, max_rows: int) -> pd.DataFrame:
    """The rows of a score request body, by its Content-Type."""
    kind = media_type(content_type)
    if not body:
        raise BadRequest("the request body is empty; send rows to score")
    if kind == JSON:
        frame = _json_rows(body, max_rows)
    elif kind == CSV:
        frame = _csv_rows(body)
    elif kind in (ARROW, ARROW_FILE):
        frame = _arrow_rows(body, kind)
    else:
        raise BadRequest(
            f"unsupported Content-Type {kind!r}; send one of {', '.join(MEDIA_TYPES)}", 415
        )
    if len(frame) == 0:
        raise BadRequest("the body holds no rows")
    if len(frame) > max_rows:
        raise BadRequest(f"{len(frame)} rows in one request; the limit is {max_rows}", 413)
    return frame


def error_list(errors: Any, prefix: tuple[str, ...] = ()) -> list[dict[str, object]]:
    """Validation errors as the service reports them: location, message, type (the
    input itself left out, so a large body is never echoed back)."""
    return [
        {"loc": [*prefix, *e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]


class InvalidBody(BadRequest):
    """A JSON body that does not match the request schema; ``errors`` name the fields."""

    def __init__(self, errors: list[dict[str, object]]) -> None:
        super().__init__("the body does not match the request schema")
        self.errors = errors


def _json_rows(body: bytes, max_rows: int) -> pd.DataFrame:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    records = payload.get("records") if isinstance(payload, dict) else None
    if isinstance(records, list) and len(records) > max_rows:  # before validating them all
        raise BadRequest(f"{len(records)} records in one request; the limit is {max_rows}", 413)
    try:
        request = ScoreRequest.model_validate(payload)
    except ValidationError as exc:
        raise InvalidBody(error_list(exc.errors(include_url=False), ("body",))) from None
    return pd.DataFrame.from_records(request.records)


def _csv_rows(body: bytes) -> pd.DataFrame:
    try:
        return pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise BadRequest(f"the CSV body could not be read: {exc}") from None


def _arrow_rows(body: bytes, kind: str) -> pd.DataFrame:
    try:
        import pyarrow as pa
    except ImportError:
        raise BadRequest("this service cannot read Arrow bodies (pyarrow missing)", 415) from None
    try:
        source = pa.BufferReader(body)
        reader = pa.ipc.open_stream(source) if kind == ARROW else pa.ipc.open_file(source)
        return reader.read_all().to_pandas()
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise BadRequest(f"the Arrow IPC body could not be read: {exc}") from None
