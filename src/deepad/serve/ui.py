"""``GET /ui``: one self-contained HTML page on what the service serves and what it saw.

Per model: the version served, the registry's versions with their stage and lineage,
the newest monitoring window (drifted columns, score uniformity, flagged share) and the
latest alerts. Plain server-rendered HTML with inline CSS: nothing is fetched, no
script runs; the page refreshes itself every 30 seconds.
"""

from __future__ import annotations

from html import escape
from typing import Any

from deepad.registry import Registry
from deepad.serve.pool import ModelPool

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:75rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .6rem;
text-align:left;font-size:.9rem}th{background:#f4f4f4}.bad{color:#b00020;font-weight:600}
.ok{color:#1b7f3b}.muted{color:#777}
"""


def render_ui(registry: Registry, pool: ModelPool, *, alert_limit: int = 10) -> str:
    """The page's HTML."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<meta http-equiv='refresh' content='30'><title>deepad service</title>",
        f"<style>{_STYLE}</style></head><body><h1>deepad scoring service</h1>",
    ]
    models = registry.models()
    if not models:
        parts.append("<p>The registry holds no models yet: <code>deepad registry push</code>.</p>")
    for model in models:
        parts.append(_model_section(registry, pool, model, alert_limit))
    parts.append("</body></html>")
    return "".join(parts)


def _model_section(
    registry: Registry, pool: ModelPool, model: dict[str, Any], alert_limit: int
) -> str:
    name = str(model["name"])
    serving = pool.serving_version(name)
    out = [f"<h2>{escape(name)}</h2>"]
    out.append(
        "<p>serving version "
        + (f"<b>{serving}</b>" if serving is not None else "<span class='muted'>none yet</span>")
        + f" &middot; production {escape(str(model.get('production_version')))}"
        + f" &middot; latest {escape(str(model.get('latest_version')))}</p>"
    )
    rows = []
    for version in registry.versions(name):
        info = version.to_dict()
        training = info.get("training") or {}
        rows.append(
            [
                info["version"],
                info["stage"],
                info["detector"],
                info["created_at"],
                info.get("created_by") or "",
                info.get("parent") or "",
                f"{training.get('rows', '')} rows, {str(training.get('fingerprint', ''))[:12]}",
            ]
        )
    out.append(
        _table(["version", "stage", "detector", "created", "by", "parent", "training data"], rows)
    )
    out.append(_drift(pool, name))
    alerts = registry.alerts(name, limit=alert_limit)
    if alerts:
        out.append("<p>Latest alerts:</p>")
        out.append(
            _table(
                ["when", "version", "kind", "severity", "message"],
                [[a.created_at, a.version, a.kind, a.severity, a.message] for a in alerts],
            )
        )
    else:
        out.append("<p class='ok'>No alerts.</p>")
    return "".join(out)


def _drift(pool: ModelPool, name: str) -> str:
    report = pool.last_window(name)
    if report is None:
        return "<p class='muted'>No monitoring window closed yet.</p>"
    drifted = [f for f in report.get("features") or [] if f.get("drifted")]
    score = report.get("score") or {}
    verdict = (
        "<span class='bad'>drift</span>"
        if report.get("drifted")
        else "<span class='ok'>no drift</span>"
    )
    text = (
        f"<p>Newest window #{report.get('index')} ({report.get('rows')} rows): {verdict}; "
        f"flagged share {_number(score.get('flagged_share'))} "
        f"(stated {_number(score.get('expected_share'))}); p-value uniformity "
        f"p = {_number(score.get('p_value'))}.</p>"
    )
    if drifted:
        text += _table(
            ["column", "kind", "PSI", "p-value"],
            [[f["column"], f["kind"], _number(f.get("psi")), _number(f.get("p_value"))]
             for f in drifted],
        )  # fmt: skip
    return text


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
