"""Database plumbing: the engine, sessions, the declarative base and migrations.

Models live in their own domain packages; this package only knows how to connect and migrate.
"""

from tutela.db.base import Base
from tutela.db.engine import create_engine
from tutela.db.migrate import current_revision, head_revision, upgrade
from tutela.db.session import Database
from tutela.db.types import UtcDateTime, utc_now

__all__ = [
    "Base",
    "Database",
    "UtcDateTime",
    "create_engine",
    "current_revision",
    "head_revision",
    "upgrade",
    "utc_now",
]
