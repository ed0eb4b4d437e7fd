"""Metrics of the server processes of `tutela serve --workers N`: the directory they share, and reading it.

Each process answers the scrapes that reach it, so its own counters alone would jump between processes'
values. In prometheus_client's multi-process mode every process writes its values to memory-mapped files in
one directory, named by the environment variable `PROMETHEUS_MULTIPROC_DIR`, and a scrape reads them all.
prometheus_client decides whether a process writes files when it is first imported, so the variable must be
in the environment the server processes start with: `serve` sets it before uvicorn spawns them (fresh
interpreters that import everything anew).

A process that ended leaves its files behind. Its counters and histograms keep counting in the totals, so
they never go down while `serve` runs (uvicorn replaces a server process that died); its per-process gauges
are dropped at the next scrape.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

ENV = "PROMETHEUS_MULTIPROC_DIR"
REQUESTS = "tutela_http_requests"
PER_PROCESS_REQUESTS = "tutela_process_http_requests"


@contextmanager
def shared_directory() -> Iterator[Path]:
    """A new, empty directory for one run's server processes, named in the environment they inherit.

    New for every run, so no file of an earlier run adds to the totals; removed when the run ends (a
    SIGKILLed `serve` leaves it in the temporary directory, where no later run reads it).
    """
    path = Path(tempfile.mkdtemp(prefix="tutela-metrics-"))
    previous = os.environ.get(ENV)
    os.environ[ENV] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous
        shutil.rmtree(path, ignore_errors=True)


def directory_from_env() -> Path | None:
    """The shared directory this process writes its metrics to, or None when it keeps them in memory."""
    value = os.environ.get(ENV)
    if not value:
        return None
    if not getattr(values.ValueClass, "_multiprocess", False):
        raise RuntimeError(
            f"{ENV} is set to {value}, but prometheus_client was imported before it was set, so this "
            "process keeps its metrics in memory; set it before the process starts"
        )
    return Path(value)


def collect(path: Path) -> list[Metric]:
    """Every process's metrics, merged: counters and histograms summed, `liveall` gauges per live process
    (label `pid`), plus `tutela_process_http_requests{pid}`: the requests each process answered."""
    _forget_ended_processes(path)
    files = sorted(str(file) for file in path.glob("*.db"))
    families = _merge(files)
    per_process = Metric(PER_PROCESS_REQUESTS, "HTTP requests answered by each server process", "counter")
    for file in path.glob("counter_*.db"):
        for family in _merge([str(file)]):
            if family.name == REQUESTS:
                total = sum(sample.value for sample in family.samples)
                per_process.add_sample(f"{PER_PROCESS_REQUESTS}_total", {"pid": _pid(file)}, total)
    return [*families, per_process]


def _merge(files: list[str]) -> list[Metric]:
    merged: list[Metric] = list(MultiProcessCollector.merge(files))  # type: ignore[no-untyped-call]
    return merged


def _forget_ended_processes(path: Path) -> None:
    for file in path.glob("gauge_live*.db"):
        pid = int(_pid(file))
        if not _alive(pid):
            mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]  # unannotated upstream


def _pid(file: Path) -> str:
    return file.stem.rsplit("_", 1)[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there is a process, of another user
        return True
    return True
