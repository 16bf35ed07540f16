"""``build_report``: one self-contained HTML page on how a detector sees its data.

No network and no CDN: styles are inline and plots are PNG data URIs, so the file can be
mailed or archived and opens the same anywhere. Every report has a summary (detector,
units scored, flags and the threshold's stated error rate), the score distribution with
the threshold, and ROC and precision-recall curves when labels are given. Then by
modality: tables list the most anomalous rows with their explanation bars and typical
values, and drift per column against the training statistics the bundle keeps; series
show the channels and the score over time with the flagged windows, ranked, and drift
per channel; images a
grid of the most anomalous ones with their heat maps; logs the most anomalous sessions
with the events behind them (``deepad.report.sections``). A small inline script checks
that every plot decoded and records it on ``<body data-plots-ok>``, which the browser
test reads.
"""

from __future__ import annotations

import datetime
import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepad._version import __version__
from deepad.explain.result import check_top, describe_contributor
from deepad.metrics import auprc, auroc
from deepad.monitor import channel_drift, feature_drift
from deepad.report import plots, sections

#: what one scored unit is called, by modality
_UNITS = {"table": "rows", "series": "time steps", "image": "images", "log": "sessions"}
_SECTIONS = {
    "series": sections.series_sections,
    "image": sections.image_sections,
    "log": sections.log_sections,
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
.bar { display: inline-block; width: 80px; height: 0.8em; background: #eee; margin-right: 6px; }
.bar span { display: block; height: 100%; background: #dd8452; }
.why div { white-space: nowrap; }
.events div { max-width: 640px; overflow-wrap: anywhere; margin-bottom: 2px; }
.note { color: #666; font-size: 0.85em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 10px; }
.tile { margin: 0; } .tile figcaption { font-size: 0.8em; color: #444; }
"""

_CHECK = """
window.addEventListener("load", function () {
  var plots = document.querySelectorAll("img.plot");
  var ok = 0;
  plots.forEach(function (img) { if (img.complete && img.naturalWidth > 0) ok += 1; });
  document.body.dataset.plotsOk = ok + "/" + plots.length;
});
"""


def build_report(
    detector: Any,
    data: pd.DataFrame,
    *,
    labels: np.ndarray | None = None,
    ids: pd.DataFrame | None = None,
    top: int = 20,
    title: str | None = None,
    source: str | None = None,
) -> str:
    """The report's HTML for ``detector`` scoring ``data`` (labels and ids optional):
    a table, a series, an image folder (or list, or array) or a log, as the bundle's
    modality says; ``labels`` are one per row, step, image or session."""
    top = check_top(top)
    modality = detector.modality
    unit = _UNITS[modality]
    subject = detector.read(data) if modality == "log" else data
    if modality == "log":
        scores = detector.score_sessions(subject)
    else:
        scores = detector.decision_function(data)
    calibrator = detector.calibrator_
    flags = calibrator.decide(scores)
    p_values = calibrator.p_values(scores) if calibrator.n_calibration else None
    rule = calibrator.describe()
    if labels is not None:
        labels = np.asarray(labels)
        if len(labels) != len(scores):
            raise ValueError(f"labels ({len(labels)}) and {unit} ({len(scores)}) differ in length")
    # the curves need both classes; a file of one class still gets the rest
    ranked = labels is not None and 0 < labels.sum() < len(labels)
    areas = (auroc(labels, scores), auprc(labels, scores)) if ranked else None
    parts = [
        _summary(detector, scores, flags, rule, labels, areas, source, unit),
        _figure(
            "score-distribution",
            "Score distribution and threshold",
            plots.score_distribution(scores, float(calibrator.threshold), rule, labels, unit),
        ),
    ]
    if areas is not None:
        parts.append(
            _figure(
                "roc-pr",
                "ROC and precision-recall against the labels",
                plots.roc_and_pr(labels, scores, *areas),
            )
        )
    if modality == "table":
        parts.append(_top_rows(detector, data, scores, p_values, flags, labels, ids, top))
        parts.append(_drift(detector, data))
    else:
        parts += _SECTIONS[modality](detector, subject, scores, flags, p_values, labels, top)
    if modality == "series":
        parts.append(_drift(detector, data))
    heading = html.escape(title or f"deepad report: {type(detector).__name__}")
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{heading}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{heading}</h1><p class='note'>deepad {__version__}, {created}</p>"
        + "".join(parts)
        + f"<script>{_CHECK}</script></body></html>\n"
    )


def write_report(text: str, path: str | Path) -> Path:
    """Write the report; refuses a path inside a bundle directory (bundles hold two files)."""
    out = Path(path)
    if (out.parent / "manifest.json").exists():
        raise ValueError(f"{out.parent} is a model bundle; write the report elsewhere")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def _summary(
    detector: Any,
    scores: np.ndarray,
    flags: np.ndarray,
    rule: str,
    labels: np.ndarray | None,
    areas: tuple[float, float] | None,
    source: str | None,
    unit: str = "rows",
) -> str:
    rows = [
        ("detector", type(detector).__name__),
        (f"{unit} scored", f"{len(scores):,}"),
        (f"{unit} flagged", f"{int(flags.sum()):,} ({flags.mean():.2%})"),
        ("decision rule", rule),
        (f"calibration {unit}", f"{detector.calibrator_.n_calibration:,}"),
        ("trained on", f"{detector.training_rows_:,} {unit}"),
    ]
    if source:
        rows.insert(0, ("data", source))
    if areas is not None:
        caught = int(flags[labels == 1].sum())
        false_alarms = int(flags[labels == 0].sum())
        rows += [
            ("labelled anomalies", f"{int(labels.sum()):,} ({labels.mean():.2%})"),
            ("AUROC / AUPRC", f"{areas[0]:.3f} / {areas[1]:.3f}"),
            ("anomalies flagged", f"{caught:,} of {int(labels.sum()):,}"),
            (f"normal {unit} flagged", f"{false_alarms:,} of {int((labels == 0).sum()):,}"),
        ]
    body = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in rows
    )
    return f"<section id='summary'><h2>Summary</h2><table>{body}</table></section>"


def _figure(ident: str, caption: str, uri: str) -> str:
    return (
        f"<section id='{ident}'><h2>{html.escape(caption)}</h2>"
        + _figure_body(caption, uri)
        + "</section>"
    )


def _figure_body(caption: str, uri: str) -> str:
    return f"<figure><img class='plot' alt='{html.escape(caption)}' src='{uri}'></figure>"


def _top_rows(
    detector: Any,
    data: pd.DataFrame,
    scores: np.ndarray,
    p_values: np.ndarray | None,
    flags: np.ndarray,
    labels: np.ndarray | None,
    ids: pd.DataFrame | None,
    top: int,
) -> str:
    order = np.argsort(-scores, kind="stable")[: min(top, len(scores))]
    explanation = detector.explain(data.iloc[order], top=3)
    contributors = explanation.top()
    id_columns = list(ids.columns) if ids is not None else ["row"]
    head = ["rank", *id_columns, "score", "p-value", "flagged"]
    head += ["label"] if labels is not None else []
    head += [f"why ({explanation.method})"]
    lines = ["<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for rank, position in enumerate(order):
        row_ids = ids.iloc[position].tolist() if ids is not None else [int(position)]
        cells = [f"<td class='num'>{rank + 1}</td>"]
        cells += [f"<td>{html.escape(str(v))}</td>" for v in row_ids]
        cells.append(f"<td class='num'>{scores[position]:.4g}</td>")
        p_text = f"{p_values[position]:.3g}" if p_values is not None else ""
        cells.append(f"<td class='num'>{p_text}</td>")
        cells.append(f"<td>{'yes' if flags[position] else 'no'}</td>")
        if labels is not None:
            cells.append(f"<td class='num'>{int(labels[position])}</td>")
        cells.append(f"<td class='why'>{_bars(contributors.iloc[rank])}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    note = (
        "<p class='note'>Bars: each column's share of the row's positive contributions; "
        "'typical' is the 5th-95th percentile (or the most frequent categories) of the "
        "training rows; 'expected' is what the model reconstructed or the nearest normal row."
        "</p>"
    )
    return (
        f"<section id='top-anomalies'><h2>The {len(order)} most anomalous rows</h2>"
        f"<table>{''.join(lines)}</table>{note}</section>"
    )


def _drift(detector: Any, data: pd.DataFrame) -> str:
    series = detector.modality == "series"
    drift = channel_drift(detector, data) if series else feature_drift(detector.preprocessor_, data)
    what = "channels" if series else "columns"
    shift = "median shift (robust std)" if series else "mean shift (std)"
    head = [what[:-1], "kind", "statistic", "value", "expected", shift, "p-value"]
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in [*head, "drifted"]) + "</tr>"]
    for record in drift.head(30).itertuples(index=False):
        moved = "" if np.isnan(record.mean_shift) else f"{record.mean_shift:+.2f}"
        value = "" if np.isnan(record.value) else f"{record.value:.3f}"
        rows.append(
            f"<tr><td>{html.escape(str(record.column))}</td><td>{record.kind}</td>"
            f"<td>{record.statistic}</td><td class='num'>{value}</td>"
            f"<td class='num'>{record.expected:.2f}</td><td class='num'>{moved}</td>"
            f"<td class='num'>{record.p_value:.2g}</td>"
            f"<td>{'yes' if record.drifted else 'no'}</td></tr>"
        )
    flagged = int(drift["drifted"].sum())
    caveat = (
        " Steps of a series are not independent, so its p-values are too small; the "
        "20% floor is what a flag rests on."
        if series
        else ""
    )
    note = (
        f"<p class='note'>{flagged} of {len(drift)} {what} drifted from the training data "
        "(test at 0.001 and a change of practical size: above 20% outside the training "
        "5-95% range, or a category share distance above 0.1). Computed from the statistics "
        f"the bundle keeps; no training rows are needed.{caveat}</p>"
    )
    return (
        "<section id='drift'><h2>Drift against the training data</h2>"
        + _figure_body("drift", plots.drift_bars(drift))
        + f"<table>{''.join(rows)}</table>{note}</section>"
    )


def _bars(row: pd.Series) -> str:
    parts = []
    for i in range(1, 4):
        feature = row.get(f"feature_{i}")
        if pd.isna(feature):
            continue
        share = float(row[f"share_{i}"])
        expected = row.get(f"expected_{i}")
        text = describe_contributor(
            feature,
            row[f"value_{i}"],
            row[f"typical_{i}"],
            None if pd.isna(expected) else expected,
        )
        parts.append(
            f"<div><span class='bar'><span style='width:{100 * share:.0f}%'></span></span>"
            f"{html.escape(text)} <span class='note'>{share:.0%}</span></div>"
        )
    return "".join(parts)
