"""The declarative base every domain package's models derive from.

Constraints get deterministic names from one naming convention. SQLite cannot alter a constraint in place, so
Alembic's batch mode rebuilds the table and must find each constraint by name; PostgreSQL names them the same
way, which keeps migrations portable between the two.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all ORM models; its metadata is what Alembic compares migrations against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
