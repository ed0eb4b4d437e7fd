"""Several `Metrics` in one process: in multi-process mode (`tutela serve --workers N`) they record into the
process's one set of collectors, so no count overwrites another; in memory each keeps its own."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection

from prometheus_client.metrics_core import Metric

from tutela.ops.metrics import Metrics
from tutela.ops.multiprocess_metrics import collect, shared_directory


def _two_metrics(pipe: Connection) -> None:
    """A server process that built two application objects, each with its `Metrics`."""
    first, second = Metrics(), Metrics()  # the directory comes from the environment inherited from the test
    first.requests.labels(route="/healthz", status="200").inc(2)
    second.requests.labels(route="/healthz", status="200").inc(3)
    first.requests.labels(route="/healthz", status="200").inc(4)
    pipe.send((first.requests is second.requests, first.index_reloads is second.index_reloads))


def _requests(families: list[Metric]) -> list[float]:
    return [
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == "tutela_http_requests_total"
    ]


def test_a_second_metrics_in_a_server_process_adds_to_the_first() -> None:
    with shared_directory() as path:
        pipe, child = multiprocessing.Pipe()
        process = multiprocessing.get_context("spawn").Process(target=_two_metrics, args=(child,))
        process.start()
        assert pipe.poll(60), "the recording process did not report"
        shared = pipe.recv()
        process.join(30)
        assert process.exitcode == 0
        families = collect(path)
    assert shared == (True, True)
    assert _requests(families) == [9]


def test_metrics_in_memory_are_independent() -> None:
    first, second = Metrics(), Metrics()
    first.requests.labels(route="/healthz", status="200").inc(2)
    second.requests.labels(route="/healthz", status="200").inc(3)
    assert first.requests is not second.requests
    assert _requests(list(first.registry.collect())) == [2]
    assert _requests(list(second.registry.collect())) == [3]
