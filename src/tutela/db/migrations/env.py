"""Alembic environment: migrate the connection `tutela.db.migrate.upgrade` hands in.

Batch mode is on for every migration because SQLite can only add columns in place; anything else (dropping a
column, changing a constraint) means copying the table, which batch mode does by constraint name.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import tutela.db.models  # noqa: F401  (registers every table on Base.metadata)
from tutela.db.base import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through tutela.db.migrate.upgrade(engine), not the alembic CLI")
_run(connection)
