"""Make committed SQLite transactions durable before they are acknowledged, without holding the write lock.

SQLite in WAL mode with `synchronous=FULL` syncs the log inside the commit, with the write lock held: every
other writer of every process queues behind the disk (measured on a VM disk: 2.1 ms per commit, and the
`?wait=true` items of two server processes collapsed from p50 19 ms to 1.9 s at 110 items/s). With
`synchronous=NORMAL` the commit only writes the log, which survives a process crash but not a power loss.

Tutela runs NORMAL and, after a write transaction has committed and released the lock, syncs the log itself
(`after_commit`) before the caller answers. The frames a transaction appended are then on disk, so an
acknowledged write survives a power loss as it would under FULL. Syncs are shared: a committer waits for a
sync that *started after* its commit, and one sync serves every committer that arrived while the previous one
ran, so a burst of commits costs about two syncs, not one each.

A log file that does not exist has been checkpointed into the database file and removed, and SQLite syncs the
database file before it removes its log, so there is nothing to do.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

Sync = Callable[[int], None]
_SYNC: Sync = getattr(os, "fdatasync", os.fsync)  # fdatasync also flushes the file size; macOS lacks it


class LogSync:
    """Syncs one SQLite database's write-ahead log to disk on behalf of concurrent committers."""

    def __init__(self, log_path: Path, sync: Sync = _SYNC) -> None:
        self.log_path = log_path
        self._sync = sync
        self._cond = threading.Condition()
        self._started = 0  # syncs started so far, numbered 1, 2, ...
        self._done = 0  # the highest-numbered sync that completed
        self._running = False
        self.syncs = 0
        """Syncs run, for tests and metrics."""

    def mark(self) -> int:
        """Take right after a commit; `wait(mark)` then waits for a sync that started after the commit."""
        with self._cond:
            return self._started

    def wait(self, mark: int) -> None:
        """Return once a sync started after `mark` was taken has completed; raises a failed sync's OSError.

        Committers of one batch pass the batch's mark, so the sync that the first of them starts serves all.
        """
        with self._cond:
            target = mark + 1  # syncs up to `mark` may have started before the commit
            while self._done < target:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                self._started += 1
                number = self._started
                self._cond.release()
                try:
                    self._sync_log()
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
                self._done = max(self._done, number)  # not reached when the sync raised: waiters retry it

    def after_commit(self) -> None:
        """`wait(mark())`: for a committer that syncs at once."""
        self.wait(self.mark())

    def _sync_log(self) -> None:
        try:
            fd = os.open(self.log_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            self._sync(fd)
            self.syncs += 1
        finally:
            os.close(fd)
