"""The SQLAlchemy engine, built from Settings.

SQLite is the embedded default and gets the pragmas a multi-process server needs: WAL so readers never block
the writer, foreign keys enforced (SQLite leaves them off), a busy timeout so a second writer waits instead of
failing at once, and synchronous=NORMAL, durable against process crashes in WAL mode; `tutela.db.log_sync`
makes commits durable against power loss too, outside the write lock (FULL would sync inside it). SQLAlchemy,
not the sqlite3 module, issues BEGIN, so that DDL (and therefore every migration) is transactional; a write
session can ask for `BEGIN IMMEDIATE` (see `tutela.db.session`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from tutela.settings import Settings

BEGIN_MODE_OPTION = "tutela_sqlite_begin"
"""Execution option naming the SQLite BEGIN mode (DEFERRED or IMMEDIATE) of a transaction."""

_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE"})


def create_engine(settings: Settings) -> Engine:
    """An engine for `settings.resolved_database_url`, creating `data_dir` and the SQLite file's directory."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database_file = _sqlite_file(url)
    if database_file is not None:
        database_file.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    busy_timeout_ms = settings.sqlite_busy_timeout_ms
    event.listen(
        engine, "connect", lambda connection, record: _on_sqlite_connect(connection, busy_timeout_ms)
    )
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    # Take BEGIN away from the sqlite3 module (it skips it for DDL); `_on_sqlite_begin` issues it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(BEGIN_MODE_OPTION, "DEFERRED")
    if mode not in _BEGIN_MODES:
        raise ValueError(f"{BEGIN_MODE_OPTION} must be one of {sorted(_BEGIN_MODES)}, got {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")
