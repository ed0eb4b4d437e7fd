"""A cheap "has anything been committed since I last looked?" for the loops that poll the database.

Why: every server process polls while idle, and under load that writes nothing (upload lookups): the
worker's `has_work` at 20 Hz, the index sync at 10 Hz and the deliverer's `has_due` at 5 Hz. Through
SQLAlchemy each look cost 0.2-0.3 ms of CPU in a tight loop and about 1.3 ms after a sleep (measured per
thread: 4.7 % of a core per idle server process). SQLite's `PRAGMA data_version`, asked on a connection of
the poller's own, changes whenever any other connection commits, and costs about 10 us. A poller runs its
real query only when it changed, or when `max_quiet_seconds` have passed since its last real query, for
conditions that come true with time alone (a retry's backoff ending, a lease expiring).

The real query can run on the probe's connection too (`rows`): under load every commit changes the data
version, so pollers run their query on every round, and through SQLAlchemy (a pooled connection, its
transaction, the execution context) a one-row look cost ~200 us of CPU against ~10 us on this connection.

One probe per polling thread; other databases (and in-memory SQLite) always answer "changed" and have no
connection of their own, so their pollers read through SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

    from tutela.db.driver import DriverQuery


class ChangeProbe:
    """Tells one poller whether the database may hold something new since its last real look."""

    def __init__(
        self, database_file: Path | None, max_quiet_seconds: float, dialect: Dialect | None = None
    ) -> None:
        self.database_file = database_file
        self.max_quiet_seconds = max_quiet_seconds
        self.dialect = dialect
        """The engine's dialect, for `rows` (its bind processors write what SQLAlchemy would)."""
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

    def rows(self, query: DriverQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]] | None:
        """`query`'s rows read on this probe's own connection (each statement its own read transaction), or
        None when the probe has no connection (not a SQLite file): the caller reads through SQLAlchemy.
        Raises sqlite3.Error as the caller's own read would."""
        if self.database_file is None or self.dialect is None:
            return None
        try:
            return query.rows_on(self._connect(), self.dialect, values)
        except sqlite3.Error:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _data_version(self) -> int | None:
        if self.database_file is None:
            return None
        try:
            row = self._connect().execute("PRAGMA data_version").fetchone()
            return int(row[0])
        except sqlite3.Error:
            self.close()
            return None

    def _connect(self) -> sqlite3.Connection:
        if self.database_file is None:
            raise sqlite3.OperationalError("this probe has no database file")
        if self._connection is None:
            # Read-only use from the one polling thread; `check_same_thread` off because the loop's
            # thread may not be the one that built the probe.
            self._connection = sqlite3.connect(
                self.database_file, isolation_level=None, check_same_thread=False
            )
        return self._connection
