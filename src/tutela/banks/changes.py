"""The bank change feed: a global sequence of every bank and entry mutation.

Each mutation takes the next number from `bank_change_counter` and writes one `bank_changes` row inside its
own transaction, so the log and the data can never disagree. A process's match index remembers the last
sequence number it applied and asks for `changes_since(that)`; `entries_changed_since` returns the entries
those changes touched (their `change_seq` is the number of the last change that touched them), so following
the feed never needs a full rebuild.

What a follower does with each op:
    BANK_CREATE, BANK_UPDATE    reload the bank (enabled switch, threshold)
    BANK_DELETE                 drop every entry of `bank_id`
    ENTRY_ADD, ENTRY_ENABLE,    reload entry `entry_id` (or take it from `entries_changed_since`)
    ENTRY_DISABLE
    ENTRY_DELETE                drop entry `entry_id`
    IMPORT                      the bank's entries with `change_seq == seq` were added in bulk

The log is trimmed (`trim_changes`, run by every worker's retention sweep): changes older than
`bank_change_retention_hours` are deleted, oldest first and always as a prefix of the sequence, and the newest
change is never deleted. A follower that finds the log no longer reaches back to the change after the last one
it applied (`feed_gap`) cannot catch up from the log and reloads its index in full instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from tutela.banks.models import BankChange, BankEntry, ChangeCounter, ChangeOp
from tutela.db.session import Database

_COUNTER_ID = 1
TRIM_BATCH = 2_000
"""Changes deleted per transaction by `trim_changes`: each delete holds the write lock for a few ms only."""
TRIM_MAX_BATCHES = 25
"""Transactions one `trim_changes` call runs at most; a longer backlog is left for the next sweep, so a worker
never stalls its jobs for long behind a large trim."""


@dataclass(frozen=True, slots=True)
class Change:
    """One committed bank or entry mutation, as followers see it."""

    seq: int
    op: ChangeOp
    bank_id: int
    entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """An entry as a match index holds it: no provenance, cheap to load by the million."""

    id: int
    bank_id: int
    signal_type: str
    value: str
    quality: int | None
    enabled: bool
    change_seq: int


INDEX_COLUMNS = tuple(getattr(BankEntry, name) for name in IndexEntry.__slots__)


def next_seq(session: Session) -> int:
    """Issue the next sequence number; the counter row stays locked until the transaction ends."""
    seq = session.execute(
        update(ChangeCounter)
        .where(ChangeCounter.id == _COUNTER_ID)
        .values(last_seq=ChangeCounter.last_seq + 1)
        .returning(ChangeCounter.last_seq)
    ).scalar_one()
    return int(seq)


def record_change(
    session: Session, op: ChangeOp, bank_id: int, entry_id: int | None = None, seq: int | None = None
) -> Change:
    """Log one mutation in the caller's transaction, taking a new sequence number unless `seq` is given."""
    change = Change(seq=next_seq(session) if seq is None else seq, op=op, bank_id=bank_id, entry_id=entry_id)
    session.add(BankChange(seq=change.seq, bank_id=bank_id, entry_id=entry_id, op=op))
    return change


def changes_since(session: Session, seq: int, limit: int | None = None) -> list[Change]:
    """Committed changes with a sequence number above `seq`, oldest first (at most `limit` of them)."""
    query = select(BankChange).where(BankChange.seq > seq).order_by(BankChange.seq).limit(limit)
    return [
        Change(seq=row.seq, op=row.op, bank_id=row.bank_id, entry_id=row.entry_id)
        for row in session.scalars(query)
    ]


CURRENT_SEQ = select(ChangeCounter.last_seq).where(ChangeCounter.id == _COUNTER_ID)
"""The last issued sequence number, as a statement built once (an index's cheap "anything new?" look)."""


def current_seq(session: Session) -> int:
    """The last issued sequence number (0 before the first change)."""
    return session.execute(select(ChangeCounter.last_seq).where(ChangeCounter.id == _COUNTER_ID)).scalar_one()


def oldest_seq(session: Session) -> int | None:
    """The sequence number of the oldest change still in the log (None when it holds none)."""
    return session.execute(select(func.min(BankChange.seq))).scalar_one()


def feed_gap(session: Session, applied: int) -> bool:
    """Whether changes after `applied` were trimmed: a follower at `applied` cannot catch up from the log.

    Ask after reading `changes_since(applied)`, never before: trimming only deletes a prefix of the sequence,
    so when the oldest change kept now is at or below `applied + 1`, nothing after `applied` had been deleted
    when the changes were read either. A trimmed log always keeps its newest change, so an empty log was never
    trimmed. A sequence number issued without a change (an import that added nothing) right after `applied`
    can make this answer True needlessly once the log was trimmed up to `applied`: a spare reload, never a
    missed change."""
    oldest = oldest_seq(session)
    return oldest is not None and oldest > applied + 1


def trim_changes(
    database: Database,
    before: datetime,
    *,
    batch: int = TRIM_BATCH,
    max_batches: int = TRIM_MAX_BATCHES,
) -> int:
    """Delete the changes made before `before`, oldest first, in transactions of at most `batch` rows;
    returns how many were deleted. Safe to run from several processes at once.

    Only a prefix of the sequence is deleted (it stops at the first change not old enough, whatever the
    clocks of the processes that wrote later ones) and the newest change always stays, which `feed_gap`
    relies on."""
    deleted = 0
    for _ in range(max_batches):
        with database.read() as session:
            newest: int | None = session.execute(select(func.max(BankChange.seq))).scalar_one()
            if newest is None:
                return deleted
            rows = session.execute(
                select(BankChange.seq, BankChange.changed_at)
                .where(BankChange.seq < newest)
                .order_by(BankChange.seq)
                .limit(batch)
            ).all()
        horizon = None
        for seq, changed_at in rows:
            if changed_at >= before:
                break
            horizon = seq
        if horizon is None:
            return deleted
        with database.write() as session:
            result = session.execute(delete(BankChange).where(BankChange.seq <= horizon))
            deleted += cast(CursorResult[Any], result).rowcount
        if len(rows) < batch or horizon != rows[-1].seq:
            return deleted  # reached a change too recent to delete, or the newest
    return deleted
