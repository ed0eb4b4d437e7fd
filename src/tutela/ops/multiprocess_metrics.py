"""Metrics of the server processes of `tutela serve --workers N`: the directory they share, and reading it.

Each process answers the scrapes that reach it, so its own counters alone would jump between processes'
values. In prometheus_client's multi-process mode every process writes its values to memory-mapped files in
one directory, named by the environment variable `PROMETHEUS_MULTIPROC_DIR`, and a scrape reads them all.
prometheus_client decides whether a process writes files when it is first imported, so the variable must be
in the environment the server processes start with: `serve` sets it before uvicorn spawns them (fresh
interpreters that import everything anew).

A run's directory is removed when `serve` ends. A SIGKILLed `serve` cannot remove it, so each run first
removes the directories of runs whose `serve` is gone: every directory records the process that created it
(`owner.json`: pid, start time and pid namespace, so a reused pid or another container's is not taken for it),
and only a directory whose owner is surely gone is removed; another live `serve`'s is kept.

A process that ended leaves its files behind. Its counters and histograms keep counting in the totals, so
they never go down while `serve` runs (uvicorn replaces a server process that died); its per-process gauges
are dropped at the next scrape.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from prometheus_client import values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

ENV = "PROMETHEUS_MULTIPROC_DIR"
REQUESTS = "tutela_http_requests"
PER_PROCESS_REQUESTS = "tutela_process_http_requests"
PREFIX = "tutela-metrics-"
OWNER_FILE = "owner.json"
ORPHAN_AGE_SECONDS = 3600
"""A directory without an owner record is swept only once it is this old (by its modification time) and no
process named in its metrics files is alive: made by an older version, or by a `serve` killed between
making it and writing the record."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owner:
    """The process that created a directory: its pid and, where /proc tells them, its start time (clock
    ticks after boot: a later process given the same pid has another) and pid namespace (a pid of another
    namespace, say another container sharing the temporary directory, says nothing here)."""

    pid: int
    start: int | None
    namespace: str | None

    @classmethod
    def current(cls) -> Owner:
        return cls(os.getpid(), _start_time(os.getpid()), _pid_namespace())

    @classmethod
    def read(cls, directory: Path) -> Owner | None:
        """The recorded owner, or None when there is no record; raises ValueError naming a malformed one."""
        try:
            record = json.loads((directory / OWNER_FILE).read_text())
        except FileNotFoundError:
            return None
        if not isinstance(record, dict):
            raise ValueError(f"{directory / OWNER_FILE} is not an owner record: {record!r}")
        pid, start, namespace = record.get("pid"), record.get("start"), record.get("namespace")
        if not (isinstance(pid, int) and isinstance(start, int | None) and isinstance(namespace, str | None)):
            raise ValueError(f"{directory / OWNER_FILE} is not an owner record: {record!r}")
        if isinstance(pid, bool) or pid <= 0:
            raise ValueError(f"{directory / OWNER_FILE} names no process: pid {pid!r}")
        return cls(pid, start, namespace)

    def write(self, directory: Path) -> None:
        (directory / OWNER_FILE).write_text(json.dumps(asdict(self)))

    def gone(self) -> bool:
        """True only when sure: a pid of this namespace that no process has, or a later process has."""
        if self.namespace != _pid_namespace():
            return False
        if not _alive(self.pid):
            return True
        if self.start is None:
            return False
        now = _start_time(self.pid)
        return now is not None and now != self.start


@contextmanager
def shared_directory(base: Path | None = None) -> Iterator[Path]:
    """A new directory for one run's server processes, named in the environment they inherit; it holds
    only its owner record (`owner.json`) until they write their metrics files.

    New for every run, so no file of an earlier run adds to the totals; removed when the run ends. Made in
    `base` (default: the temporary directory), after removing the directories there of runs whose `serve`
    is gone (`remove_stale_directories`).
    """
    base = base or Path(tempfile.gettempdir())
    remove_stale_directories(base)
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    Owner.current().write(path)
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


def remove_stale_directories(base: Path) -> list[Path]:
    """Remove the directories in `base` of runs whose `serve` is gone (SIGKILLed, it could not); return them.

    Only real directories (never a symlink) named with our prefix, of this user, whose recorded owner is
    surely gone (`Owner.gone`). One without a record (made by an older version, or by a `serve` killed
    before it wrote one) goes only when it is `orphaned`. Never raises: a failure is logged and the
    directory kept.
    """
    removed: list[Path] = []
    try:
        entries = [entry for entry in os.scandir(base) if entry.name.startswith(PREFIX)]
    except OSError as error:
        logger.warning("could not look for stale metrics directories in %s: %s", base, error)
        return removed
    for entry in entries:
        path = Path(entry.path)
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue
            owner = Owner.read(path)
            if not (owner.gone() if owner is not None else orphaned(path, info.st_mtime)):
                continue
            shutil.rmtree(path)
        except (OSError, ValueError) as error:
            logger.warning("kept metrics directory %s: %s", path, error)
            continue
        whose = f"ended serve process {owner.pid}" if owner is not None else "no serve (no owner record)"
        logger.info("removed metrics directory %s of %s", path, whose)
        removed.append(path)
    return removed


def orphaned(path: Path, modified: float) -> bool:
    """A directory without an owner record that nothing uses: older than ORPHAN_AGE_SECONDS, and no
    process named in its metrics files (`<kind>_<pid>.db`) alive. A live server process of an older
    version keeps writing its files, so its pid keeps the directory."""
    if time.time() - modified < ORPHAN_AGE_SECONDS:
        return False
    pids = [_pid(file) for file in path.glob("*.db")]
    return not any(_alive(int(pid)) for pid in pids if pid.isdigit())


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


def _start_time(pid: int) -> int | None:
    """When the process started (field 22 of /proc/<pid>/stat), or None without /proc or that process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])  # fields after the command name start at field 3
    except (OSError, IndexError, ValueError):
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
