"""The report's modality sections: series with flagged windows, image heat-map grids, and
log sessions with the events behind them (tables keep theirs in ``html``).

Each function returns HTML for ``build_report``; what is drawn is sampled, what is counted
is not (series are drawn as min/max envelopes; only the ``top`` most anomalous images or
sessions are explained and shown).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepad.report import plots

#: longest side of an image thumbnail in the grid, pixels
THUMBNAIL = 224
#: most images shown in the grid
MAX_IMAGES = 24


def _cell(value: Any, numeric: bool = False) -> str:
    css = " class='num'" if numeric else ""
    return f"<td{css}>{html.escape(str(value))}</td>"


def _table(head: list[str], rows: list[str]) -> str:
    header = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
    return f"<table>{header}{''.join(rows)}</table>"


def _p(p_values: np.ndarray | None, i: int) -> str:
    return "" if p_values is None else f"{p_values[i]:.3g}"


# ------------------------------------------------------------------ series
def series_sections(
    detector: Any,
    data: pd.DataFrame,
    scores: np.ndarray,
    flags: np.ndarray,
    p_values: np.ndarray | None,
    labels: np.ndarray | None,
    top: int,
) -> list[str]:
    """The series with its score and flagged steps, then the flagged windows ranked."""
    series = detector._series(data)  # the channels in time order; order[i] = input row
    order = np.asarray(series.order)
    channels = pd.DataFrame(series.values, columns=series.columns)
    times = np.arange(len(order)) if series.timestamps is None else series.timestamps.to_numpy()
    in_time = {
        "scores": scores[order],
        "flags": flags[order],
        "labels": None if labels is None else labels[order],
    }
    figure = plots.series_with_scores(
        times,
        channels,
        in_time["scores"],
        float(detector.threshold_),
        in_time["flags"],
        in_time["labels"],
    )
    plot = (
        "<section id='series'><h2>The series, its score and the flagged steps</h2>"
        f"<figure><img class='plot' alt='series' src='{figure}'></figure>"
        "<p class='note'>Drawn as a min/max envelope (spikes survive the sampling); shaded: "
        "steps flagged at the bundle's threshold, and labelled anomalies when given.</p>"
        "</section>"
    )
    return [plot, _series_windows(detector, data, order, times, in_time, p_values, top)]


def _series_windows(
    detector: Any,
    data: pd.DataFrame,
    order: np.ndarray,
    times: np.ndarray,
    in_time: dict[str, Any],
    p_values: np.ndarray | None,
    top: int,
) -> str:
    scores, flags, labels = in_time["scores"], in_time["flags"], in_time["labels"]
    windows = plots.runs(flags)
    title = "flagged windows"
    if not windows:  # nothing flagged: show where the score peaked instead
        title = "highest-scoring steps (nothing was flagged)"
        windows = [(int(i), int(i)) for i in np.argsort(-scores, kind="stable")[:top]]
    peaks = [first + int(np.argmax(scores[first : last + 1])) for first, last in windows]
    ranked = sorted(range(len(windows)), key=lambda k: -scores[peaks[k]])[:top]
    explanation = detector.explain(data, top=2)
    contributors = explanation.top()
    head = ["rank", "from", "to", "steps", "peak score", "p-value at peak"]
    head += ["labelled anomaly steps"] if labels is not None else []
    head += ["at the peak"]
    rows = []
    for rank, k in enumerate(ranked):
        first, last = windows[k]
        peak = peaks[k]
        row_index = int(order[peak])  # the peak's row in the input
        cells = [
            _cell(rank + 1, True),
            _cell(_when(times[first])),
            _cell(_when(times[last])),
            _cell(last - first + 1, True),
            _cell(f"{scores[peak]:.4g}", True),
            _cell(_p(None if p_values is None else p_values[order], peak), True),
        ]
        if labels is not None:
            cells.append(_cell(int(labels[first : last + 1].sum()), True))
        cells.append(_cell(contributors.iloc[row_index]["explanation"]))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    total = len(plots.runs(flags))
    note = (
        f"<p class='note'>{total:,} flagged window(s) in all; ranked by peak score. 'At the "
        f"peak': the channels behind the peak step's score ({explanation.method}).</p>"
    )
    return (
        f"<section id='windows'><h2>The {len(ranked)} {html.escape(title)}</h2>"
        f"{_table(head, rows)}{note}</section>"
    )


def _when(value: Any) -> str:
    if isinstance(value, np.datetime64):
        return str(pd.Timestamp(value))
    return f"step {int(value)}"


# ------------------------------------------------------------------ images
def image_sections(
    detector: Any,
    data: Any,
    scores: np.ndarray,
    flags: np.ndarray,
    p_values: np.ndarray | None,
    labels: np.ndarray | None,
    top: int,
) -> list[str]:
    """A grid of the most anomalous images with their heat maps over them."""
    from deepad.io.images import image_paths, read_image

    order = np.argsort(-scores, kind="stable")[: min(top, MAX_IMAGES, len(scores))]
    if isinstance(data, (str, Path)):
        paths = image_paths(data, detector.pattern_)
        subset: Any = [paths[i] for i in order]
        names = [p.name for p in subset]
        originals = [read_image(p) for p in subset]
    elif isinstance(data, (list, tuple)):
        subset = [data[i] for i in order]
        names = [Path(p).name for p in subset]
        originals = [read_image(p) for p in subset]
    else:
        array = np.asarray(data)
        subset = array[order]
        names = [f"image {i}" for i in order]
        originals = [_as_uint8(image) for image in subset]
    explanation = detector.explain(subset, top=1)
    cells = []
    for k, position in enumerate(order):
        picture = _thumbnail(explanation.overlay(k, originals[k]))
        label = "" if labels is None else f" · label {int(labels[position])}"
        caption = (
            f"{k + 1}. {names[k]}<br>score {scores[position]:.4g} · p {_p(p_values, position)}"
            f" · {'flagged' if flags[position] else 'not flagged'}{label}"
        )
        cells.append(
            f"<figure class='tile'><img class='plot' alt='{html.escape(names[k])}' "
            f"src='{picture}'><figcaption>{caption}</figcaption></figure>"
        )
    note = (
        "<p class='note'>Heat map: the anomaly map over the image, transparent below half the "
        "threshold and opaque from 1.5 times it; the image score is the map's maximum.</p>"
    )
    return [
        f"<section id='images'><h2>The {len(order)} most anomalous images</h2>"
        f"<div class='grid'>{''.join(cells)}</div>{note}</section>"
    ]


def _as_uint8(image: np.ndarray) -> np.ndarray:
    values = np.asarray(image)
    if values.dtype == np.uint8:
        return values
    return (np.clip(values, 0.0, 1.0) * 255).round().astype(np.uint8)


def _thumbnail(image: np.ndarray) -> str:
    from PIL import Image

    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    picture.thumbnail((THUMBNAIL, THUMBNAIL))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# -------------------------------------------------------------------- logs
def log_sections(
    detector: Any,
    sessions: Any,
    scores: np.ndarray,
    flags: np.ndarray,
    p_values: np.ndarray | None,
    labels: np.ndarray | None,
    top: int,
) -> list[str]:
    """The most anomalous sessions with the events behind their scores."""
    order = np.argsort(-scores, kind="stable")[: min(top, len(scores))]
    explanation = detector.explain(sessions.subset(order), top=3)
    culprits = explanation.top()
    head = ["rank", "session", "events", "score", "p-value", "flagged"]
    head += ["label"] if labels is not None else []
    head += ["the events behind the score"]
    rows = []
    for rank, position in enumerate(order):
        cells = [
            _cell(rank + 1, True),
            _cell(sessions.keys[position]),
            _cell(len(sessions.events[position]), True),
            _cell(f"{scores[position]:.4g}", True),
            _cell(_p(p_values, position), True),
            _cell("yes" if flags[position] else "no"),
        ]
        if labels is not None:
            cells.append(_cell(int(labels[position]), True))
        found = [c for c in culprits.iloc[rank].filter(like="culprit_") if c]
        listed = "".join(f"<div>{html.escape(c)}</div>" for c in found) or "as expected"
        cells.append(f"<td class='events'>{listed}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = (
        "<p class='note'>Contributions are in score units and add up to the session's score "
        f"({type(detector).__name__}: see its README).</p>"
    )
    return [
        f"<section id='top-sessions'><h2>The {len(order)} most anomalous sessions</h2>"
        f"{_table(head, rows)}{note}</section>"
    ]
