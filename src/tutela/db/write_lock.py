"""One writer at a time on a SQLite file, handed over at once.

SQLite lets one transaction write at a time. A writer that finds the lock taken waits in SQLite's busy
handler, which sleeps in growing steps (1, 2, 5, 10 ... up to 100 ms) and polls, so under load a write that
could have started a millisecond later waits tens of milliseconds: the p99 latency of every submit. Taking
this lock first makes writers queue on a thread lock (within a process) and on `flock` (between processes
on the host); both wake the next writer as soon as the last one commits. SQLite's own lock and busy timeout
still decide correctness; this only orders the queue. Re-entrant per thread, as a nested write would be.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriteLock:
    """Serialises write transactions of all threads and processes that share a lock file."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0 and self._path is not None:
                self._fd = self._open()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self._path or "", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd
