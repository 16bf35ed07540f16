"""Prometheus metrics of one service instance (its own registry, so tests and several
apps in one process never mix counts)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: latency buckets in seconds: fine below 20 ms, where the service's target lies
BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ServiceMetrics:
    """Request counts and latencies, rows scored and flagged, alerts, drift statistics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "deepad_requests", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "deepad_request_seconds", "request latency", ["route"], buckets=BUCKETS, registry=r
        )
        self.rows = Counter("deepad_rows_scored", "rows scored", ["model", "version"], registry=r)
        self.flagged = Counter(
            "deepad_rows_flagged", "rows flagged anomalous", ["model", "version"], registry=r
        )
        self.alerts = Counter("deepad_alerts", "alerts raised", ["model", "kind"], registry=r)
        self.windows = Counter(
            "deepad_drift_windows", "monitoring windows closed", ["model"], registry=r
        )
        self.drifted_features = Gauge(
            "deepad_drift_features",
            "columns drifted in the newest window",
            ["model"],
            registry=r,
        )
        self.feature_psi = Gauge(
            "deepad_drift_psi", "PSI per column, newest window", ["model", "feature"], registry=r
        )
        self.score_ks = Gauge(
            "deepad_drift_score_ks",
            "KS statistic of the p-values against uniform, newest window",
            ["model"],
            registry=r,
        )
        self.flag_share = Gauge(
            "deepad_window_flagged_share", "share of rows flagged, newest window", ["model"],
            registry=r,
        )  # fmt: skip

    def record_window(self, model: str, report: dict[str, Any]) -> None:
        """Update the drift gauges from one closed window (``WindowReport.to_dict()``)."""
        self.windows.labels(model).inc()
        features = report.get("features") or []
        self.drifted_features.labels(model).set(sum(bool(f.get("drifted")) for f in features))
        for feature in features:
            if feature.get("psi") is not None:
                self.feature_psi.labels(model, str(feature["column"])).set(feature["psi"])
        score = report.get("score") or {}
        if score.get("ks_statistic") is not None:
            self.score_ks.labels(model).set(score["ks_statistic"])
        if score.get("flagged_share") is not None:
            self.flag_share.labels(model).set(score["flagged_share"])
        for alert in report.get("alerts") or []:
            self.alerts.labels(model, str(alert.get("kind"))).inc()

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
