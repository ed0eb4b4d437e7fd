"""Banks, their entries, the change log and the import staging area, as stored.

A bank is a named hash list with provenance and a licence; an entry is one signal in it. Every mutation of
either is written to `bank_changes` under a global sequence number that grows in commit order (it may have
gaps), in the same transaction as the mutation: that log is the feed every process's match index follows.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import UtcDateTime, utc_now


class BankCategory(StrEnum):
    """What kind of harm a bank's content is; values are storage keys and never change."""

    CSAM = "csam"
    NCII = "ncii"
    TERRORISM = "terrorism"
    OWN_CONFIRMED = "own-confirmed"
    OTHER = "other"


class ChangeOp(StrEnum):
    """What a `bank_changes` row records; values are storage keys and never change."""

    BANK_CREATE = "bank_create"
    BANK_UPDATE = "bank_update"
    BANK_DELETE = "bank_delete"
    ENTRY_ADD = "entry_add"
    ENTRY_ENABLE = "entry_enable"
    ENTRY_DISABLE = "entry_disable"
    ENTRY_DELETE = "entry_delete"
    IMPORT = "import"


def _string_enum(enum: type[StrEnum]) -> SqlEnum:
    # Store the value as plain text with no CHECK constraint, so adding a member needs no migration.
    return SqlEnum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )


class Bank(Base):
    """A named list of signals with provenance, licence, category, threshold and an enable switch."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[BankCategory] = mapped_column(_string_enum(BankCategory))
    source: Mapped[str] = mapped_column(Text, default="")
    licence: Mapped[str] = mapped_column(Text, default="")
    exportable: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    pdq_threshold: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class BankEntry(Base):
    """One signal in a bank; `change_seq` is the sequence number of the last change that touched it."""

    __tablename__ = "bank_entries"
    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "value"),
        Index("ix_bank_entries_signal_type_id", "signal_type", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(512))
    quality: Mapped[int | None] = mapped_column(Integer)
    variant: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(255))
    added_by: Mapped[str | None] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    note: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    change_seq: Mapped[int] = mapped_column(Integer, index=True)


class BankChange(Base):
    """One row of the change log. No foreign keys: the log outlives the banks and entries it mentions."""

    __tablename__ = "bank_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    bank_id: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[int | None] = mapped_column(Integer)
    op: Mapped[ChangeOp] = mapped_column(_string_enum(ChangeOp))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ChangeCounter(Base):
    """The single row holding the last issued change sequence number.

    Incrementing it with an UPDATE locks the row until commit, so on PostgreSQL sequence numbers become
    visible in increasing order (a plain sequence could commit 12 before 11, and a follower would skip 11).
    """

    __tablename__ = "bank_change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)


class StagedEntry(Base):
    """An entry written by an import in progress; published into `bank_entries` in one transaction."""

    __tablename__ = "bank_import_staging"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    import_id: Mapped[str] = mapped_column(String(36), index=True)
    bank_id: Mapped[int] = mapped_column(Integer, index=True)
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(512))
    quality: Mapped[int | None] = mapped_column(Integer)
    variant: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(255))
    added_by: Mapped[str | None] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean)
