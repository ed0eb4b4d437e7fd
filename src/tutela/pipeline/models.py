"""Items, their evaluations and the job queue, as stored.

An item is what a platform asks about, one per (service, content id). Each distinct content digest submitted
for it is an evaluation: the signals, matches and verdict of that content (signals are kept after the content
is deleted, so a later bank change can be re-checked). A job is the queue's bookkeeping for one evaluation:
its lane and priority, lease and attempts. Enum columns store values as plain text (no CHECK constraint).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import UtcDateTime, utc_now


class EvaluationStatus(StrEnum):
    """Where an evaluation is; values are storage keys and never change."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self in (EvaluationStatus.DONE, EvaluationStatus.DEAD, EvaluationStatus.SKIPPED)


class JobState(StrEnum):
    """Where a job is in the queue; values are storage keys and never change."""

    READY = "ready"
    LEASED = "leased"
    DONE = "done"
    DEAD = "dead"


class InputKind(StrEnum):
    """What the platform sent: content bytes (spooled until extraction) or precomputed signals."""

    CONTENT = "content"
    SIGNALS = "signals"


class Item(Base):
    """One piece of platform content, with the context of its latest submission."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("service_id", "content_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    content_id: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[str | None] = mapped_column(String(255))
    surface: Mapped[str] = mapped_column(String(32))
    jurisdiction: Mapped[str | None] = mapped_column(String(2))
    age_band: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Evaluation(Base):
    """The signals, matches and verdict of one content digest of an item.

    `digest` is the SHA-256 of the content bytes, or of the canonical signal list when only signals were
    given. `spool_name` names the encrypted content file while it exists; `spool_expires_at` is when a kept
    file (held for review, dead job) is deleted. `bank_seq` is the bank change sequence the matches saw.
    """

    __tablename__ = "evaluations"
    __table_args__ = (
        UniqueConstraint("item_id", "digest"),
        # The retention sweep's look for kept content whose time is up; partial, so the many evaluations
        # that keep nothing cost it nothing.
        Index(
            "ix_evaluations_spool_expires_at",
            "spool_expires_at",
            sqlite_where=text("spool_name IS NOT NULL"),
            postgresql_where=text("spool_name IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    input_kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    spool_name: Mapped[str | None] = mapped_column(String(64))
    spool_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    signals: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    extraction_error: Mapped[str | None] = mapped_column(Text)
    hasher_variant: Mapped[str | None] = mapped_column(String(64))
    matches: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rules_fired: Mapped[list[str] | None] = mapped_column(JSON)
    visibility: Mapped[str | None] = mapped_column(String(32))
    policy_version: Mapped[str | None] = mapped_column(String(128))
    bank_seq: Mapped[int | None] = mapped_column(Integer)
    automated: Mapped[bool | None] = mapped_column(Boolean)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Job(Base):
    """The queue entry of one evaluation; leased by a worker, acknowledged in the result transaction."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_lease_order", "state", "priority", "id"),
        Index("ix_jobs_state_lease_expires_at", "state", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), unique=True)
    lane: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
