"""A SQLite database with one table `t (id INTEGER)`, for tests of the database layer's own mechanics."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tutela.db import Database, create_engine
from tutela.settings import Settings


def table_database(data_dir: Path, *, sync_commits: bool = True) -> Database:
    database = Database(create_engine(Settings(data_dir=data_dir)), sync_commits=sync_commits)
    with database.write() as session:
        session.execute(text("CREATE TABLE t (id INTEGER)"))
    return database
