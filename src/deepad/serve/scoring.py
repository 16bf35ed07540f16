"""What the score and stream endpoints compute: scores, p-values, decisions, contributors.

Scores are computed once per request; p-values and decisions come from them through the
model's calibrator (the ``fdr`` rule applies Benjamini-Hochberg to the request's batch,
as ``deepad score`` does to a file).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from deepad.serve.bodies import BadRequest
from deepad.serve.pool import MAX_SERIES, LoadedModel
from deepad.serve.schemas import StreamRequest

#: modalities a JSON request can carry
SCORED_HERE = {"table": "rows", "series": "time steps"}


def score_table(
    loaded: LoadedModel, frame: pd.DataFrame, explain: int
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray | None, np.ndarray]:
    """Results per row of ``frame``, and the scores, p-values and flags for monitoring."""
    detector = loaded.detector
    if detector.modality != "table":
        raise BadRequest(
            f"model {loaded.name!r} is a {detector.modality} detector; POST tables to /score "
            + ("and time steps to /stream" if detector.modality == "series" else "only")
            + f" (use `deepad score` for {detector.modality} data)"
        )
    scores = detector.decision_function(frame)
    p_values, flags = _p_values_and_flags(detector, scores)
    results = _results(scores, p_values, flags)
    if explain:
        top = detector.explain(frame, top=explain).top(explain)
        for row, result in zip(top.itertuples(index=False), results, strict=True):
            result["contributors"] = _contributors(row._asdict(), explain)
            result["explanation"] = row.explanation
    return results, scores, p_values, flags


def score_stream(
    loaded: LoadedModel, request: StreamRequest
) -> tuple[list[dict[str, Any]], int, np.ndarray, np.ndarray | None, np.ndarray]:
    """Results per point, the series' step count, and scores/p-values/flags."""
    detector = loaded.detector
    if detector.modality != "series":
        raise BadRequest(
            f"model {loaded.name!r} is a {detector.modality} detector; /stream takes time "
            "steps for series detectors (POST rows to /score)"
        )
    frame = _points_frame(detector, request)
    with loaded.lock:  # the detector's stream context is swapped in per series
        state = None if request.reset else loaded.streams.get(request.series)
        saved = (detector.stream_context_, detector.stream_seen_)
        try:
            if state is None:
                detector.stream_context_ = saved[0][:0] if request.reset else np.array(saved[0])
                detector.stream_seen_ = 0
            else:
                detector.stream_context_, detector.stream_seen_ = state
            scores = detector.process(frame, learn=request.learn)
            loaded.streams[request.series] = (detector.stream_context_, detector.stream_seen_)
            loaded.streams.move_to_end(request.series)
            seen = int(detector.stream_seen_)
        finally:
            detector.stream_context_, detector.stream_seen_ = saved
        while len(loaded.streams) > MAX_SERIES:
            loaded.streams.popitem(last=False)
    p_values, flags = _p_values_and_flags(detector, scores)
    return _results(scores, p_values, flags), seen, scores, p_values, flags


def _points_frame(detector: Any, request: StreamRequest) -> pd.DataFrame:
    channels = [str(c) for c in detector.channels_]
    rows = []
    for i, point in enumerate(request.points):
        values = point.values
        if isinstance(values, dict):
            missing = [c for c in channels if c not in values]
            unknown = [c for c in values if c not in channels]
            if missing or unknown:
                raise BadRequest(
                    f"points[{i}].values: "
                    + (f"missing channel(s) {missing}" if missing else "")
                    + ("; " if missing and unknown else "")
                    + (f"unknown channel(s) {unknown}" if unknown else "")
                    + f"; the model's channels are {channels}"
                )
            row = [values[c] for c in channels]
        else:
            row = values if isinstance(values, list) else [values]
            if len(row) != len(channels):
                raise BadRequest(
                    f"points[{i}].values has {len(row)} value(s); the model has "
                    f"{len(channels)} channel(s) {channels}"
                )
        rows.append([math.nan if v is None else float(v) for v in row])
    return pd.DataFrame(rows, columns=channels, dtype=np.float64)


def _p_values_and_flags(detector: Any, scores: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    calibrator = detector.calibrator_
    p_values = calibrator.p_values(scores) if calibrator.n_calibration else None
    return p_values, calibrator.decide(scores)


def _results(
    scores: np.ndarray, p_values: np.ndarray | None, flags: np.ndarray
) -> list[dict[str, Any]]:
    return [
        {
            "score": _finite(float(scores[i])),
            "p_value": None if p_values is None else float(p_values[i]),
            "decision": int(flags[i]),
        }
        for i in range(len(scores))
    ]


def _finite(value: float) -> float:
    """JSON has no inf or NaN; a score that is not finite is reported at float's limit."""
    if math.isnan(value):
        raise BadRequest("the model gave a NaN score for this input")
    return max(min(value, 1.7976931348623157e308), -1.7976931348623157e308)


def _contributors(row: dict[str, Any], k: int) -> list[dict[str, Any]]:
    found = []
    for i in range(1, k + 1):
        feature = row.get(f"feature_{i}")
        if feature is None or pd.isna(feature):
            continue
        found.append(
            {
                "feature": str(feature),
                "contribution": float(row[f"contribution_{i}"]),
                "share": float(row[f"share_{i}"]),
                "value": str(row[f"value_{i}"]),
                "typical": str(row[f"typical_{i}"]),
            }
        )
    return found
