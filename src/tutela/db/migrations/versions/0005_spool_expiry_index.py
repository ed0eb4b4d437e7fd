"""Evaluations: a partial index for the retention sweep's expired-spool look.

Revision ID: 0005_spool_expiry_index
Revises: 0004_pipeline
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_spool_expiry_index"
down_revision = "0004_pipeline"
branch_labels = None
depends_on = None

_KEEPS_CONTENT = sa.text("spool_name IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_evaluations_spool_expires_at",
        "evaluations",
        ["spool_expires_at"],
        sqlite_where=_KEEPS_CONTENT,
        postgresql_where=_KEEPS_CONTENT,
    )


def downgrade() -> None:
    op.drop_index("ix_evaluations_spool_expires_at", table_name="evaluations")
