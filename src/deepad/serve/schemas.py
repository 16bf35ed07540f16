"""The service's typed requests and responses; FastAPI turns them into the OpenAPI schema.

Values in a record are JSON scalars (numbers, strings, booleans, null for a gap); the
detector's own checks then name any column that is missing or of the wrong kind.
"""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field

#: one cell of a record: a gap (null), a boolean, a number or a category
Value = Union[None, bool, int, float, str]  # noqa: UP007 (pydantic reads this form on 3.10)


class ScoreRequest(BaseModel):
    """Rows to score, as JSON records keyed by the training columns."""

    model_config = ConfigDict(extra="forbid")
    records: list[dict[str, Value]] = Field(
        min_length=1, description="one object per row: column name -> value (null = gap)"
    )


class Contributor(BaseModel):
    """One input column behind a row's score."""

    feature: str
    contribution: float
    share: float = Field(description="share of the row's positive contributions")
    value: str
    typical: str


class RowResult(BaseModel):
    """Score, p-value and decision of one row."""

    score: float = Field(description="anomaly score, higher = more anomalous")
    p_value: float | None = Field(
        description="conformal p-value (share of calibration rows scoring at least as "
        "high); null when the model was not calibrated"
    )
    decision: int = Field(description="1 = flagged by the model's threshold rule, else 0")
    contributors: list[Contributor] | None = Field(
        default=None, description="with ?explain=k: the k columns that pushed the score up"
    )
    explanation: str | None = None


class ScoreResponse(BaseModel):
    """The rows' results, and which model version decided them under which rule."""

    model: str
    version: int
    rule: str = Field(description="the threshold rule and what it promises")
    results: list[RowResult]


class StreamPoint(BaseModel):
    """One time step: channel values by name (or in training order), optional timestamp."""

    model_config = ConfigDict(extra="forbid")
    timestamp: Union[str, float, None] = None  # noqa: UP007
    values: Union[dict[str, Union[float, None]], list[Union[float, None]], float]  # noqa: UP007


class StreamRequest(BaseModel):
    """Steps of one series, scored as the continuation of that series' stream."""

    model_config = ConfigDict(extra="forbid")
    series: str = Field(min_length=1, max_length=200, description="the stream's id")
    points: list[StreamPoint] = Field(min_length=1)
    learn: bool = Field(True, description="append the steps to the series' context")
    reset: bool = Field(False, description="start this series from an empty context")


class StreamResponse(BaseModel):
    """Per step, in order: score, p-value and decision."""

    model: str
    version: int
    series: str
    steps_seen: int = Field(description="steps this series has appended so far")
    results: list[RowResult]


class VersionInfo(BaseModel):
    """One registered version and its lineage."""

    model_config = ConfigDict(extra="allow")
    name: str
    version: int
    stage: str
    detector: str
    modality: str
    created_at: str
    created_by: str | None = None
    parent: int | None = None


class ModelSummary(BaseModel):
    """One model of the registry."""

    model_config = ConfigDict(extra="allow")
    name: str
    latest_version: int
    production_version: int | None = None
    serving_version: int | None = Field(
        default=None, description="the version this service scores with now"
    )


class ModelDetail(BaseModel):
    """A model's versions, with lineage, and its recent drift."""

    name: str
    serving_version: int
    versions: list[dict[str, Any]]
    drift: dict[str, Any] | None = Field(
        default=None, description="the newest closed monitoring window, if any"
    )


class AlertOut(BaseModel):
    """A stored alert: an anomaly burst or drift, with the model version it concerns."""

    model_config = ConfigDict(extra="allow")
    id: int
    name: str
    version: int
    kind: str
    severity: str
    message: str
    created_at: str


class Problem(BaseModel):
    """Every error: a message that names the problem."""

    detail: Any
