"""Banks, bank entries, the bank change log and the import staging table.

Revision ID: 0001_banks
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tutela.db.types import UtcDateTime

revision = "0001_banks"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("exportable", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("pdq_threshold", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banks")),
        sa.UniqueConstraint("name", name=op.f("uq_banks_name")),
    )
    op.create_table(
        "bank_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(32), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column("source_id", sa.String(255), nullable=True),
        sa.Column("added_by", sa.String(255), nullable=True),
        sa.Column("added_at", UtcDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["banks.id"],
            name=op.f("fk_bank_entries_bank_id_banks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_entries")),
        sa.UniqueConstraint(
            "bank_id", "signal_type", "value", name=op.f("uq_bank_entries_bank_id_signal_type_value")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_bank_entries_change_seq"), "bank_entries", ["change_seq"], unique=False)
    op.create_index("ix_bank_entries_signal_type_id", "bank_entries", ["signal_type", "id"])
    op.create_table(
        "bank_changes",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("op", sa.String(32), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_bank_changes")),
    )
    counter = op.create_table(
        "bank_change_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_change_counter")),
    )
    op.bulk_insert(counter, [{"id": 1, "last_seq": 0}])
    op.create_table(
        "bank_import_staging",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("import_id", sa.String(36), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(32), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column("source_id", sa.String(255), nullable=True),
        sa.Column("added_by", sa.String(255), nullable=True),
        sa.Column("added_at", UtcDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_import_staging")),
    )
    op.create_index(op.f("ix_bank_import_staging_import_id"), "bank_import_staging", ["import_id"])
    op.create_index(op.f("ix_bank_import_staging_bank_id"), "bank_import_staging", ["bank_id"])


def downgrade() -> None:
    op.drop_table("bank_import_staging")
    op.drop_table("bank_change_counter")
    op.drop_table("bank_changes")
    op.drop_table("bank_entries")
    op.drop_table("banks")
