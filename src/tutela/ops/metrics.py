"""Prometheus metrics: one registry per application object, so tests and several apps never collide.

Gauges are read from the source of truth when /metrics is scraped (index sizes, change sequence lag, queue
depth, webhook backlog); request counters and latencies are recorded by the HTTP middleware.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tutela.effects.stats import delivery_stats
from tutela.pipeline.reads import queue_depth

if TYPE_CHECKING:
    from tutela.app import Tutela

GaugeSource = Callable[["Tutela"], dict[str, float]]


class Metrics:
    """The application's metrics; other packages add gauge sources with `add_source`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tutela_http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tutela_http_request_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.gauges = Gauge(
            "tutela_state", "Engine state read at scrape time", ["name"], registry=self.registry
        )
        self._sources: list[GaugeSource] = [_index_state, _queue_state, _delivery_state]

    def add_source(self, source: GaugeSource) -> None:
        self._sources.append(source)

    def refresh(self, app: Tutela) -> None:
        for source in self._sources:
            for name, value in source(app).items():
                self.gauges.labels(name=name).set(value)


def _index_state(app: Tutela) -> dict[str, float]:
    committed = app.banks.current_seq()
    return {
        "pdq_index_entries": len(app.matcher.pdq),
        "pdq_index_bytes": app.matcher.pdq.nbytes,
        "exact_index_entries": len(app.matcher.exact),
        "bank_change_seq": committed,
        "index_change_seq": app.matcher.seq,
        "index_change_lag": committed - app.matcher.seq,
    }


def _queue_state(app: Tutela) -> dict[str, float]:
    return {f"jobs_{state}": count for state, count in queue_depth(app.database).items()}


def _delivery_state(app: Tutela) -> dict[str, float]:
    stats = delivery_stats(app.database)
    return {
        "webhooks_pending": stats.pending,
        "webhooks_delivered": stats.delivered,
        "webhooks_dead": stats.dead,
        "webhooks_blocked_by_dead": stats.blocked_by_dead,
        "webhooks_failed_attempts": stats.failed_attempts,
        "webhooks_oldest_pending_seconds": stats.oldest_pending_seconds or 0.0,
    }
