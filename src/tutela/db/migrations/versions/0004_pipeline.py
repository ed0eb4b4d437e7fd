"""Pipeline: items, evaluations, jobs.

Revision ID: 0004_pipeline
Revises: 0003_effects
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tutela.db.types import UtcDateTime

revision = "0004_pipeline"
down_revision = "0003_effects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("content_id", sa.String(255), nullable=False),
        sa.Column("account_id", sa.String(255), nullable=True),
        sa.Column("surface", sa.String(32), nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=True),
        sa.Column("age_band", sa.String(16), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_items_service_id_services"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("service_id", "content_id", name=op.f("uq_items_service_id_content_id")),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("input_kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("spool_name", sa.String(64), nullable=True),
        sa.Column("spool_expires_at", UtcDateTime(), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=True),
        sa.Column("extraction_error", sa.Text(), nullable=True),
        sa.Column("hasher_variant", sa.String(64), nullable=True),
        sa.Column("matches", sa.JSON(), nullable=True),
        sa.Column("verdict", sa.JSON(), nullable=True),
        sa.Column("rules_fired", sa.JSON(), nullable=True),
        sa.Column("visibility", sa.String(32), nullable=True),
        sa.Column("policy_version", sa.String(128), nullable=True),
        sa.Column("bank_seq", sa.Integer(), nullable=True),
        sa.Column("automated", sa.Boolean(), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_evaluations_item_id_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_evaluations_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
        sa.UniqueConstraint("item_id", "digest", name=op.f("uq_evaluations_item_id_digest")),
    )
    op.create_index(op.f("ix_evaluations_item_id"), "evaluations", ["item_id"])
    op.create_index(op.f("ix_evaluations_service_id"), "evaluations", ["service_id"])
    op.create_index(op.f("ix_evaluations_status"), "evaluations", ["status"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("lane", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
        sa.Column("available_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_jobs_evaluation_id_evaluations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("evaluation_id", name=op.f("uq_jobs_evaluation_id")),
    )
    op.create_index("ix_jobs_lease_order", "jobs", ["state", "priority", "id"])
    op.create_index("ix_jobs_state_lease_expires_at", "jobs", ["state", "lease_expires_at"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("evaluations")
    op.drop_table("items")
