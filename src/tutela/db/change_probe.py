"""A cheap "has anything been committed since I last looked?" for the loops that poll the database.

Why: every server process polls while idle, and under load that writes nothing (upload lookups): the
worker's `has_work` at 20 Hz, the index sync at 10 Hz and the deliverer's `has_due` at 5 Hz. Through
SQLAlchemy each look cost 0.2-0.3 ms of CPU in a tight loop and about 1.3 ms after a sleep (measured per
thread: 4.7 % of a core per idle server process). SQLite's `PRAGMA data_version`, asked on a connection of
the poller's own, changes whenever any other connection commits, and costs about 10 us. A poller runs its
real query only when it changed, or when `max_quiet_seconds` have passed since its last real query, for
conditions that come true with time alone (a retry's backoff ending, a lease expiring).

One probe per polling thread; other databases (and in-memory SQLite) always answer "changed".
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


class ChangeProbe:
    """Tells one poller whether the database may hold something new since its last real look."""

    def __init__(self, database_file: Path | None, max_quiet_seconds: float) -> None:
        self.database_file = database_file
        self.max_quiet_seconds = max_quiet_seconds
        self._connection: sqlite3.Connection | None = None
        self._version: int | None = None
        self._looked_at = float("-inf")

    def changed(self) -> bool:
        """True when another connection committed since the last call, when `max_quiet_seconds` passed
        since the last True, or when the probe cannot tell; the caller then runs its real query."""
        now = time.monotonic()
        version = self._data_version()
        if (
            version is not None
            and version == self._version
            and now - self._looked_at < self.max_quiet_seconds
        ):
            return False
        self._version = version
        self._looked_at = now
        return True

    def invalidate(self) -> None:
        """The real look that followed a True failed: answer True next time too."""
        self._version = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _data_version(self) -> int | None:
        if self.database_file is None:
            return None
        try:
            if self._connection is None:
                # Read-only use from the one polling thread; `check_same_thread` off because the loop's
                # thread may not be the one that built the probe.
                self._connection = sqlite3.connect(
                    self.database_file, isolation_level=None, check_same_thread=False
                )
            row = self._connection.execute("PRAGMA data_version").fetchone()
            return int(row[0])
        except sqlite3.Error:
            self.close()
            return None
