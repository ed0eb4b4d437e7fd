"""The engine's SQLite pragmas, the data directory, transactional DDL and UTC timestamps."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text

from tutela.db import Database, UtcDateTime, create_engine
from tutela.settings import Settings


def test_sqlite_engine_creates_data_dir_and_sets_pragmas(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    engine = create_engine(Settings(data_dir=data_dir))
    with engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert data_dir.is_dir()
    assert (data_dir / "tutela.db").is_file()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": Settings().sqlite_busy_timeout_ms,
        "synchronous": 1,  # NORMAL
    }


def test_database_url_setting_wins_over_data_dir(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "x.db"
    engine = create_engine(Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{target}"))
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    assert target.is_file()


def test_ddl_is_transactional_on_sqlite(tmp_path: Path) -> None:
    """Migrations rely on this: a failing migration must not leave half its tables behind."""
    engine = create_engine(Settings(data_dir=tmp_path))

    def failing_migration() -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE half_done (id INTEGER)")
            raise RuntimeError("migration failed halfway")

    with pytest.raises(RuntimeError):
        failing_migration()
    with engine.connect() as connection:
        tables = connection.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
    assert "half_done" not in tables


def test_write_sessions_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    """A write session that only read so far already holds the lock, so it cannot fail upgrading later."""
    settings = Settings(data_dir=tmp_path)
    database = Database(create_engine(settings))
    with database.write() as session:
        session.execute(text("CREATE TABLE t (id INTEGER)"))
    with database.write() as session:
        session.execute(text("SELECT count(*) FROM t"))
        other = sqlite3.connect(settings.data_dir / "tutela.db", timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
        session.execute(text("INSERT INTO t VALUES (1)"))
    with database.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 1


def test_utc_datetime_refuses_naive_and_returns_aware(tmp_path: Path) -> None:
    engine = create_engine(Settings(data_dir=tmp_path))
    table = Table("stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime))
    table.create(engine)
    aware = datetime.fromisoformat("2026-01-02T03:04:05+02:00")
    with engine.begin() as connection:
        connection.execute(insert(table).values(at=aware))
        stored = connection.execute(select(table.c.at)).scalar_one()
        with pytest.raises(Exception, match="naive datetime"):
            connection.execute(insert(table).values(at=datetime(2026, 1, 2)))
    assert stored == aware
    assert stored.utcoffset() is not None
    assert stored.utcoffset().total_seconds() == 0
