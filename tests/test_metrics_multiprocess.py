"""Metrics of several processes sharing one directory, as under `tutela serve --workers N`: real spawned
processes record, and whichever process is scraped reports them all."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.connection import Connection

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from tutela.app import Tutela
from tutela.banks import BankCategory
from tutela.ops.metrics import Metrics
from tutela.ops.multiprocess_metrics import ENV, collect, shared_directory
from tutela.settings import Settings


def _record(requests: int, seq: int, pipe: Connection) -> None:
    """A server process's share: requests answered, and its match index; stays alive until told."""
    metrics = Metrics()  # the directory comes from the environment inherited from the test
    for _ in range(requests):
        metrics.requests.labels(route="/healthz", status="200").inc()
        metrics.latency.labels(route="/healthz").observe(0.002)
    metrics.index.labels(name="pdq_index_entries").set(requests)
    metrics.index.labels(name="index_change_seq").set(seq)
    pipe.send(os.getpid())
    pipe.recv()


class Recorder:
    def __init__(self, requests: int, seq: int) -> None:
        self.pipe, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_record, args=(requests, seq, child)
        )
        self.process.start()

    def wait_recorded(self) -> str:
        assert self.pipe.poll(60), "the recording process did not report"
        return str(self.pipe.recv())

    def end(self) -> None:
        self.pipe.send("end")
        self.process.join(30)
        assert self.process.exitcode == 0


def _samples(families: list[Metric], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in families
        for s in family.samples
        if s.name == name
    }


def test_scrape_sums_every_process_and_drops_ended_ones_gauges() -> None:
    with shared_directory() as path:
        assert os.environ[ENV] == str(path)
        assert [file.name for file in path.iterdir()] == ["owner.json"]
        ended, live = Recorder(3, 1), Recorder(5, 2)
        ended_pid, live_pid = ended.wait_recorded(), live.wait_recorded()
        ended.end()
        try:
            families = collect(path)
        finally:
            live.end()
        assert _samples(families, "tutela_http_requests_total") == {
            (("route", "/healthz"), ("status", "200")): 8
        }
        assert _samples(families, "tutela_http_request_seconds_count") == {(("route", "/healthz"),): 8}
        assert _samples(families, "tutela_process_http_requests_total") == {
            (("pid", ended_pid),): 3,
            (("pid", live_pid),): 5,
        }
        assert _samples(families, "tutela_state") == {
            (("name", "index_change_seq"), ("pid", live_pid)): 2,
            (("name", "pdq_index_entries"), ("pid", live_pid)): 5,
        }
        after = collect(path)
        assert _samples(after, "tutela_state") == {}
        assert _samples(after, "tutela_http_requests_total") == {
            (("route", "/healthz"), ("status", "200")): 8
        }
    assert not path.exists()
    assert ENV not in os.environ


def test_render_reads_database_once_and_index_per_process(settings: Settings) -> None:
    app = Tutela.open(settings)
    try:
        app.banks.create_bank("one", BankCategory.OTHER)
        app.banks.create_bank("two", BankCategory.OTHER)
        with shared_directory() as path:
            with pytest.raises(RuntimeError, match="imported before it was set"):
                Metrics()  # this process chose in-memory values when it imported prometheus_client
            recorder = Recorder(2, 1)
            pid = recorder.wait_recorded()
            try:
                text = Metrics(multiprocess_dir=path).render(app).decode()
            finally:
                recorder.end()
    finally:
        app.close()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    state = [(s.labels["name"], s.labels.get("pid"), s.value) for s in families["tutela_state"].samples]
    assert ("bank_change_seq", None, 2) in state
    assert ("index_change_seq", pid, 1) in state
    assert ("index_change_lag", pid, 1) in state
    assert ("pdq_index_entries", pid, 2) in state
    database_read = [(name, value) for name, owner, value in state if owner is None]
    assert [name for name, _ in database_read].count("jobs_ready") == 1
    assert ("webhooks_dead", 0) in database_read
    assert families["tutela_http_requests"].samples[0].value == 2
