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
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tutela.banks.models import BankChange, BankEntry, ChangeCounter, ChangeOp

_COUNTER_ID = 1


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
