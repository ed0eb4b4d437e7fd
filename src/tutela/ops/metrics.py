"""Prometheus metrics: one registry per application object, so tests and several apps never collide.

Request counters and latencies are recorded by the HTTP middleware. `tutela_state{name}` holds engine state:
the values read from the database (bank change sequence, queue depth, webhook backlog) are read when /metrics
is scraped; the values of this process's match index are recorded after each index sync and at the scrape,
and the index's lag is the database's change sequence minus the change the index has applied.

With several server processes (`tutela serve --workers N`, see `tutela.ops.multiprocess_metrics`) a scrape
reports every process, whichever one answers it:

- request counters and latency histograms: summed over the processes, ended ones included, so `rate()` works;
- database values: read once, by the answering process, without a `pid` label; they are the same for every
  process, and summing them would count them N times;
- match index values (entries, bytes, applied change, lag): one series per live process, label `pid`, since
  each process holds its own index; alert on the largest lag;
- `tutela_index_full_reloads_total`: full reloads of match indexes, summed over the processes like requests;
- `tutela_process_http_requests_total{pid}`: requests answered by each process (how connections spread).

In that mode a process writes each value to one entry of its files, so every `Metrics` of the process records
into the process's one set of collectors (a second set would overwrite the first's counts); the index gauges
are then those of the object that recorded last. In memory (one server process, the tests) every `Metrics`
has collectors of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from tutela.effects.stats import delivery_stats
from tutela.ops import multiprocess_metrics
from tutela.pipeline.reads import queue_depth

if TYPE_CHECKING:
    from tutela.app import Tutela
    from tutela.matcher import Matcher

GaugeSource = Callable[["Tutela"], dict[str, float]]
STATE = "tutela_state"
STATE_HELP = "Engine state: read from the database at scrape time, or of one process's match index"


class _Collectors:
    """What a `Metrics` records into."""

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
        self.index = Gauge(STATE, STATE_HELP, ["name"], registry=None, multiprocess_mode="liveall")
        self.index_reloads = Counter(
            "tutela_index_full_reloads",
            "Full reloads of a match index that fell behind the trimmed bank change log (further behind than "
            "bank_change_retention_hours): each loads every entry again; a rising count means index sync "
            "stalls for that long, or the retention is too short",
            registry=self.registry,
        )
        self._reloads_counted: WeakKeyDictionary[Matcher, int] = WeakKeyDictionary()
        self._reloads_lock = threading.Lock()  # the index-sync loop and a scrape may both record

    def count_reloads(self, matcher: Matcher) -> None:
        """Add the reloads of `matcher` not counted yet."""
        with self._reloads_lock:
            reloads = matcher.reloads
            self.index_reloads.inc(reloads - self._reloads_counted.get(matcher, 0))
            self._reloads_counted[matcher] = reloads


_process_lock = threading.Lock()


@cache
def _process_collectors() -> _Collectors:
    return _Collectors()


def _collectors() -> _Collectors:
    """The process's one set when it writes its values to the shared files, else a new set."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return _Collectors()
    with _process_lock:
        return _process_collectors()


class Metrics:
    """The application's metrics; other packages add database-read gauge sources with `add_source`."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir or multiprocess_metrics.directory_from_env()
        self._collectors = _collectors()
        self.registry = self._collectors.registry
        self.requests = self._collectors.requests
        self.latency = self._collectors.latency
        self.index = self._collectors.index
        self.index_reloads = self._collectors.index_reloads
        self._sources: list[GaugeSource] = [_change_state, _queue_state, _delivery_state]

    def add_source(self, source: GaugeSource) -> None:
        self._sources.append(source)

    def record_index(self, app: Tutela) -> None:
        """This process's match index: after each index sync, so other processes' scrapes see it fresh."""
        for name, value in _index_state(app).items():
            self.index.labels(name=name).set(value)
        self._collectors.count_reloads(app.matcher)

    def render(self, app: Tutela) -> bytes:
        """The Prometheus text exposition of every metric, of every server process."""
        self.record_index(app)
        shared = {name: value for source in self._sources for name, value in source(app).items()}
        if self.multiprocess_dir is None:
            families = [*self.registry.collect(), *self.index.collect()]
        else:
            families = multiprocess_metrics.collect(self.multiprocess_dir)
        index = [family for family in families if family.name == STATE]
        state = Metric(STATE, STATE_HELP, "gauge")
        for sample in (sample for family in index for sample in family.samples):
            state.add_sample(STATE, sample.labels, sample.value)
            if sample.labels["name"] == "index_change_seq":
                lag = shared["bank_change_seq"] - sample.value
                state.add_sample(STATE, {**sample.labels, "name": "index_change_lag"}, lag)
        for name, value in shared.items():
            state.add_sample(STATE, {"name": name}, value)
        return generate_latest(_Families([*(f for f in families if f.name != STATE), state]))


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def _index_state(app: Tutela) -> dict[str, float]:
    return {
        "pdq_index_entries": len(app.matcher.pdq),
        "pdq_index_bytes": app.matcher.pdq.nbytes,
        "exact_index_entries": len(app.matcher.exact),
        "index_change_seq": app.matcher.seq,
    }


def _change_state(app: Tutela) -> dict[str, float]:
    return {"bank_change_seq": app.banks.current_seq()}


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
