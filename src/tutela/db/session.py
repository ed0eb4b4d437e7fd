"""Sessions: short read transactions and short write transactions.

On SQLite a deferred transaction that reads and then writes fails at once with "database is locked" when
another process committed in between (the busy timeout does not help, because its snapshot is stale). Write
sessions therefore start with `BEGIN IMMEDIATE`, taking the write lock up front and waiting for it within the
busy timeout. PostgreSQL ignores the option.

On SQLite a write returns only once its commit is on disk (`tutela.db.log_sync`, setting
`sqlite_sync_commits`); the sync runs after the write lock is released.

Objects stay usable after their session ends (`expire_on_commit=False`): the stores hand out snapshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.orm import Session, sessionmaker

from tutela.db.change_probe import ChangeProbe
from tutela.db.engine import BEGIN_MODE_OPTION
from tutela.db.log_sync import LogSync
from tutela.db.write_lock import WriteLock

QUIET_RECHECK_SECONDS = 1.0
"""How long a polling loop trusts "nothing was committed" before it looks anyway: conditions that come true
with time alone (a retry's backoff, an expired lease) are seen at most this much later."""


class Database:
    """The engine plus its two session factories; build one per process and share it."""

    def __init__(self, engine: Engine, *, sync_commits: bool = True) -> None:
        self.engine = engine
        self._write_lock = _write_lock_for(engine)
        self.log_sync = _log_sync_for(engine) if sync_commits else None
        self._reader = sessionmaker(engine, expire_on_commit=False)
        self._writer_engine = engine.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})
        self._writer = sessionmaker(self._writer_engine, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; its transaction is rolled back at the end."""
        with self._reader() as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A Core connection for prebuilt statements on hot paths, without an ORM session's cost (~0.3 ms
        of CPU); its transaction is rolled back at the end, so use it for reads."""
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends normally and rolls back on an exception."""
        lock = self._write_lock.held() if self._write_lock is not None else nullcontext()
        with lock, self._writer.begin() as session:
            yield session
        if self.log_sync is not None:
            self.log_sync.after_commit()

    @contextmanager
    def write_connection(self, *, sync: bool = True) -> Iterator[Connection]:
        """`write` as a Core connection, for prebuilt statements on hot paths: an ORM session's own cost
        (~0.2 ms of CPU per transaction) is most of a short transaction's.

        `sync=False` leaves the disk sync to the caller: `sync_mark()` right after the block, then
        `synced(mark)` before answering (a batch's writers wait for one sync without holding up the next
        batch)."""
        lock = self._write_lock.held() if self._write_lock is not None else nullcontext()
        with lock, self._writer_engine.begin() as connection:
            yield connection
        if sync and self.log_sync is not None:
            self.log_sync.after_commit()

    def change_probe(self, max_quiet_seconds: float = QUIET_RECHECK_SECONDS) -> ChangeProbe:
        """A probe for one polling loop (`tutela.db.change_probe`): no real look when nothing changed."""
        database = _sqlite_file(self.engine)
        return ChangeProbe(
            None if database is None else Path(database), max_quiet_seconds, self.engine.dialect
        )

    def sync_mark(self) -> int | None:
        """Right after a commit made with `sync=False`: what `synced` needs (None when nothing is synced)."""
        return None if self.log_sync is None else self.log_sync.mark()

    def synced(self, mark: int | None) -> None:
        """Return once the commits made before `mark` was taken are on disk."""
        if self.log_sync is not None and mark is not None:
            self.log_sync.wait(mark)


def inserted_id(inserted: CursorResult[Any]) -> int:
    """The primary key of the row a single-row INSERT added (Core inserts on the hot paths)."""
    key = inserted.inserted_primary_key
    if key is None:  # every backend Tutela supports returns the new key
        raise RuntimeError("the database returned no id for the new row")
    return int(key[0])


def _sqlite_file(engine: Engine) -> str | None:
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _log_sync_for(engine: Engine) -> LogSync | None:
    """A SQLite file's log sync; other databases make commits durable themselves, memory is never durable."""
    database = _sqlite_file(engine)
    return None if database is None else LogSync(Path(f"{database}-wal"))


def _write_lock_for(engine: Engine) -> WriteLock | None:
    """SQLite writers queue on a WriteLock next to the database file (a thread lock for an in-memory one)."""
    if engine.dialect.name != "sqlite":
        return None
    database = _sqlite_file(engine)
    return WriteLock(None if database is None else Path(f"{database}.write-lock"))
