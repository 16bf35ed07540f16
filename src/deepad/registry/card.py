"""A Markdown model card written from a version's manifest, so it never drifts from the model.

Every line states something the bundle records: what data it takes, what it was trained
on, its threshold rule and the error rate that rule promises (in words, with the caveat
the promise carries), who pushed it from what, and the limitations the manifest lets us
derive (calibration resolution, category caps, row independence). Nothing is guessed.
"""

from __future__ import annotations

import json
import math
from typing import Any

from deepad.calibrate.conformal import conformal_rank, fpr_spread, smallest_p_value
from deepad.registry.records import ModelVersion, iso

#: how many categories of a column the card lists before "..."
SHOWN_CATEGORIES = 8
#: how many input columns the card lists one per row before summarising the rest
SHOWN_COLUMNS = 60


def _cell(value: Any) -> str:
    """Text for a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def _percent(rate: float) -> str:
    """0.05 -> '5%', 0.001 -> '0.1%', 0.0492 -> '4.92%'."""
    return f"{rate * 100:.3g}%"


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ threshold
def error_rate(threshold: dict[str, Any], unit: str = "rows") -> str:
    """What the bundle's threshold rule promises, in words (with the promise's condition)."""
    rule = threshold.get("rule")
    level = _float(threshold.get("level"))
    n = int(threshold.get("calibration_rows") or 0)
    value = _float(threshold.get("value"))
    if rule is None:  # format-1 bundles: PyOD's quantile of the training scores
        rule, level = "contamination", _float(threshold.get("contamination"))
    if rule == "fpr" and level is not None:
        confidence = _float(threshold.get("confidence"))
        k = conformal_rank(n, level, confidence)
        if n == 0 or k < 1 or value == math.inf:
            return (
                f"asks to flag at most {_percent(level)} of normal {unit}, but its {n} "
                f"calibration {unit} cannot resolve that rate (the smallest p-value is "
                f"1/{n + 1}): it flags nothing"
            )
        text = f"flags at most {_percent(level)} of normal {unit}, if the calibration {unit} "
        text += "were normal"
        if confidence is not None:
            text += f", for {confidence:.0%} of calibration draws (not only on average)"
        else:
            text += f" (on average over calibration draws: {k}/{n + 1} = {_percent(k / (n + 1))})"
        low, high = fpr_spread(n, level, confidence=confidence)
        return text + (
            f"; with {n:,} calibration {unit} one fit's actual rate lies in "
            f"{_percent(low)}-{_percent(high)} for 90% of draws"
        )
    if rule == "fdr" and level is not None:
        return (
            f"of the {unit} it flags in one scored batch, at most {_percent(level)} are false "
            f"alarms on average (Benjamini-Hochberg over the batch's p-values), if the "
            f"calibration {unit} were normal"
        )
    if rule == "contamination" and level is not None:
        return (
            f"flags about {_percent(level)} of the training {unit} (the score above "
            f"{_percent(1 - level)} of them, PyOD's rule); it states no error rate on new data"
        )
    if rule == "evt" and level is not None:
        return (
            f"flags scores above an extreme-value (peaks-over-threshold) estimate of the "
            f"score exceeded by {_percent(level)} of normal {unit}: an extrapolated tail "
            "estimate, with no finite-sample guarantee"
        )
    if rule == "best_f1":
        return (
            "the threshold with the best F1 on the labelled rows it was chosen on: no error "
            "rate is stated, and that F1 is optimistic for new data"
        )
    if rule == "score":
        shown = "" if value is None else f" ({value:.6g})"
        return f"a fixed score threshold{shown} chosen by hand: no error rate is stated"
    return f"rule {rule!r}: no error rate is stated"


def _rule_line(threshold: dict[str, Any]) -> str:
    rule = threshold.get("rule", "contamination")
    parts = [f"rule `{rule}`"]
    if threshold.get("level") is not None:
        parts.append(f"level {_number(threshold['level'])}")
    if threshold.get("confidence") is not None:
        parts.append(f"confidence {_number(threshold['confidence'])}")
    if threshold.get("value") is not None:
        value = _float(threshold["value"])
        parts.append(f"score threshold {value:.6g}" if value is not None else "")
    return ", ".join(p for p in parts if p)


# ------------------------------------------------------------------ sections
def _unit(modality: str) -> str:
    return {"series": "time steps", "image": "images", "log": "sessions"}.get(modality, "rows")


def _intended_data(manifest: dict[str, Any]) -> list[str]:
    modality = manifest.get("modality", "table")
    schema = manifest.get("input_schema") or {}
    if modality == "table":
        columns = schema.get("columns", [])
        lines = [
            f"Tables: one score per row, from {len(columns)} input column(s), matched by name.",
            "",
            "| column | kind | what the model learned |",
            "|---|---|---|",
        ]
        for spec in columns[:SHOWN_COLUMNS]:
            lines.append(
                f"| {_cell(spec.get('name'))} | {spec.get('kind')} ({spec.get('dtype')}) "
                f"| {_cell(_column_detail(spec))} |"
            )
        if len(columns) > SHOWN_COLUMNS:
            lines.append(f"| ... | | {len(columns) - SHOWN_COLUMNS} more columns |")
        return lines
    if modality == "series":
        info = schema.get("series", {})
        channels = ", ".join(f"`{c}`" for c in schema.get("channels", []))
        time_column = schema.get("time_column")
        return [
            f"Time series: one score per time step, channels {channels}"
            + (f", time column `{time_column}`" if time_column else ", ordered by row")
            + (f", step {info['step']}" if info.get("step") else "")
            + "."
        ]
    if modality == "image":
        return [
            f"Images: one score (and an anomaly map) per image, resized to "
            f"{schema.get('image_size')} x {schema.get('image_size')} pixels with "
            f"{schema.get('channels')} channel(s)"
            + (f", files matching `{schema['pattern']}`" if schema.get("pattern") else "")
            + "."
        ]
    if modality == "log":
        source = "raw log lines grouped into sessions" if schema.get("reader") else "sessions"
        return [
            f"Logs: one score per session, from {source}; "
            f"{len(schema.get('events', []))} event types known from training."
        ]
    return [f"Modality `{modality}`."]


def _column_detail(spec: dict[str, Any]) -> str:
    if spec.get("kind") == "categorical":
        categories = [str(c) for c in spec.get("categories", [])]
        shown = ", ".join(categories[:SHOWN_CATEGORIES])
        more = ", ..." if len(categories) > SHOWN_CATEGORIES else ""
        other = "; all other values share one `__other__` slot" if spec.get("has_other") else ""
        return f"{len(categories)} categories kept: {shown}{more}{other}"
    low, high = _float(spec.get("low")), _float(spec.get("high"))
    text = ""
    if low is not None and high is not None:
        text = f"typical range {low:.4g} to {high:.4g} (5th-95th percentile)"
    gaps = "gaps seen in training, filled with the median plus an indicator"
    if not spec.get("missing_indicator"):
        gaps = "no gaps in training"
    return f"{text}; {gaps}" if text else gaps


def _training(version: ModelVersion, manifest: dict[str, Any], unit: str) -> list[str]:
    training = version.training
    columns = training.get("columns") or []
    lines = [
        f"- rows: {_number(training.get('rows'))} {unit}",
        f"- fingerprint: `{training.get('fingerprint')}`",
        f"- columns: {len(columns)}",
    ]
    lineage = manifest.get("lineage") or {}
    for key in ("source", "label_column", "id_columns", "sample", "sample_seed"):
        if lineage.get(key) not in (None, [], ""):
            lines.append(f"- {key.replace('_', ' ')}: `{_number(lineage[key])}`")
    reference = manifest.get("drift_reference")
    if isinstance(reference, dict) and reference.get("rows"):
        lines.append(
            f"- drift reference: {_number(reference['rows'])} training {unit} kept for "
            "monitoring input drift"
        )
    return lines


def _detector(version: ModelVersion, manifest: dict[str, Any]) -> list[str]:
    lines = [
        f"`{version.detector}` (deepad {manifest.get('deepad_version')}, bundle format "
        f"{manifest.get('format_version')})",
        "",
    ]
    if not version.params:
        return [*lines, "No parameters."]
    lines += ["| parameter | value |", "|---|---|"]
    for key, value in sorted(version.params.items()):
        lines.append(f"| {_cell(key)} | {_cell(_number(value))} |")
    return lines


def _metrics(metrics: dict[str, Any]) -> list[str]:
    if not metrics:
        return ["None recorded in the bundle (it was fitted without labels to measure against)."]
    lines = ["| metric | value |", "|---|---|"]
    for key, value in metrics.items():
        lines.append(f"| {_cell(key)} | {_cell(_number(value))} |")
    return lines


def _lineage(version: ModelVersion, manifest: dict[str, Any]) -> list[str]:
    parent = f"v{version.parent}" if version.parent is not None else "none (first version)"
    lines = [
        f"- pushed by {version.created_by} at {iso(version.created_at)}",
        f"- parent: {parent}",
        f"- note: {version.note}" if version.note else "- note: none",
        f"- bundle created at {manifest.get('created_at')}",
        f"- training fingerprint: `{version.training.get('fingerprint')}`",
        f"- weights SHA-256: `{version.weights_sha256}`",
    ]
    lineage = manifest.get("lineage") or {}
    shown = {"source", "label_column", "id_columns", "sample", "sample_seed"}
    for key, value in lineage.items():
        if key not in shown and value not in (None, [], ""):
            lines.append(f"- {key.replace('_', ' ')}: {_number(value)}")
    return lines


def _limitations(version: ModelVersion, manifest: dict[str, Any], unit: str) -> list[str]:
    modality = manifest.get("modality", "table")
    threshold = version.threshold
    n = int(threshold.get("calibration_rows") or 0)
    notes = []
    if n:
        smallest = smallest_p_value(n)
        notes.append(
            f"p-values come from {n:,} calibration {unit}: none is below 1/{n + 1} = "
            f"{smallest:.3g}, so no false-positive rate under {_percent(smallest)} can be asked "
            "for, and promises hold only if those rows were normal"
        )
    else:
        notes.append(
            "not calibrated (no held-out rows): no p-values, and the threshold was set on "
            f"the training {unit} themselves"
        )
    if threshold.get("rule", "contamination") == "contamination":
        notes.append("its threshold is a training-score quantile, not a rate promised on new data")
    rows = version.training.get("rows")
    if rows is not None:
        notes.append(
            f"it learned normal from {_number(rows)} training {unit}: behaviour they do not "
            "show is scored as unusual, whether or not it is a problem"
        )
    if modality == "table":
        notes.append("scores each row independently: no history, order or time between rows")
        notes.extend(_column_limits(manifest.get("input_schema") or {}))
    elif modality == "series":
        info = (manifest.get("input_schema") or {}).get("series", {})
        notes.append(
            "scores each step from its own series only; trained on "
            f"{_number(info.get('steps'))} steps"
            + (f" with {info['gaps']} gap(s)" if info.get("gaps") else "")
            + ("; the training steps were irregular" if info.get("irregular") else "")
        )
    elif modality == "image":
        size = (manifest.get("input_schema") or {}).get("image_size")
        notes.append(f"images are resized to {size} x {size}: defects smaller than that blur away")
    elif modality == "log":
        events = len((manifest.get("input_schema") or {}).get("events", []))
        notes.append(f"knows {events} event types: every event type not seen in training is new")
    if not version.metrics:
        notes.append("no detection metrics are recorded, so its quality here is unmeasured")
    return [f"- {note}" for note in notes]


def _column_limits(schema: dict[str, Any]) -> list[str]:
    notes = []
    cap = schema.get("max_categories")
    for spec in schema.get("columns", []):
        if spec.get("kind") != "categorical":
            continue
        kept = len(spec.get("categories", []))
        name = spec.get("name")
        if spec.get("has_other"):
            notes.append(
                f"`{name}` keeps its {kept} most frequent categories (cap {cap}); all other "
                "values, seen or new, share one slot and look alike"
            )
        else:
            notes.append(
                f"`{name}` knows {kept} categories: a value never seen in training lights no "
                "slot and reads as unusual"
            )
    gapless = [
        str(spec.get("name"))
        for spec in schema.get("columns", [])
        if spec.get("kind") == "numeric" and not spec.get("missing_indicator")
    ]
    if gapless:
        shown = ", ".join(f"`{c}`" for c in gapless[:SHOWN_CATEGORIES])
        more = f" and {len(gapless) - SHOWN_CATEGORIES} more" if len(gapless) > 8 else ""
        notes.append(
            f"{shown}{more} had no gaps in training: a gap when scoring is filled with the "
            "training median (with a warning), which can hide an anomaly"
        )
    return notes


def model_card(version: ModelVersion, manifest: dict[str, Any]) -> str:
    """The Markdown model card of ``version`` (``manifest`` is its bundle's manifest)."""
    unit = _unit(version.modality)
    threshold = version.threshold
    sections = [
        [
            f"# Model card: {version.name} v{version.version}",
            "",
            f"- stage: {version.stage}",
            f"- detector: `{version.detector}`, modality `{version.modality}`",
            f"- bundle: `{version.path}`",
        ],
        ["## Intended data", "", *_intended_data(manifest)],
        ["## Training data", "", *_training(version, manifest, unit)],
        ["## Detector", "", *_detector(version, manifest)],
        ["## Metrics", "", *_metrics(version.metrics)],
        [
            "## Threshold and error rate",
            "",
            f"- {_rule_line(threshold)}",
            f"- calibration {unit}: {_number(int(threshold.get('calibration_rows') or 0))}",
            f"- promise: {error_rate(threshold, unit)}",
        ],
        ["## Lineage", "", *_lineage(version, manifest)],
        ["## Known limitations", "", *_limitations(version, manifest, unit)],
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"
