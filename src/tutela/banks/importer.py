"""Staged, atomic bank imports.

A large hash list must not hold the database's write lock for minutes, and a crash halfway must not leave a
bank half-imported. So an import runs in two phases:

1. Stage: records are validated and written to `bank_import_staging` in batches of
   `settings.import_batch_size`, each batch its own short transaction. The bank is untouched.
2. Publish: one short transaction copies the staged rows the bank does not hold yet into `bank_entries`
   (in staging order, so new entries get ascending ids), logs one IMPORT change whose sequence number every
   new entry carries, and deletes the staged rows.

If anything fails before publish, the staged rows are deleted; if the process dies instead, the next import
into the same bank deletes them. Entries the bank already holds are duplicates and stay as they are, so a
re-import never re-enables an entry someone disabled as a false positive.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, delete, exists, func, insert, literal, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.dml import Insert

from tutela.banks.changes import Change, next_seq, record_change
from tutela.banks.models import Bank, BankEntry, ChangeOp, StagedEntry
from tutela.banks.records import EntryRecord, LineError, ParseResult, canonical_signal
from tutela.banks.store import BankStore
from tutela.db.base import Base
from tutela.db.types import utc_now
from tutela.errors import BankError, InvalidSignal, NotFound, UnknownSignalType

REPORTED_ERRORS_LIMIT = 1_000
"""Line errors an ImportReport keeps in full; beyond them only `error_count` grows, bounding memory."""


@dataclass
class ImportReport:
    """What an import did: entries added, duplicates skipped, bad lines (the first REPORTED_ERRORS_LIMIT)."""

    bank: str
    added: int = 0
    duplicates: int = 0
    error_count: int = 0
    errors: list[LineError] = field(default_factory=list)
    change: Change | None = None

    def add_error(self, error: LineError) -> None:
        self.error_count += 1
        if len(self.errors) < REPORTED_ERRORS_LIMIT:
            self.errors.append(error)


def import_entries(
    store: BankStore,
    bank_name: str,
    records: Iterable[ParseResult],
    *,
    added_by: str | None = None,
) -> ImportReport:
    """Stage `records` (reader output: records and line errors) and publish them into the bank atomically.

    `added_by` fills records that do not name who added them. Raises NotFound for an unknown bank; bad
    records are reported in the result, never raised.
    """
    report = ImportReport(bank=bank_name)
    bank_id = store.get_bank(bank_name).id
    import_id = str(uuid.uuid4())
    _discard_leftovers(store, bank_id)
    try:
        staged = _stage(store, bank_id, import_id, records, added_by, report)
        with store.database.write() as session:
            report.change = _publish(session, bank_name, bank_id, import_id, staged, report)
    finally:
        with store.database.write() as session:
            session.execute(delete(StagedEntry).where(StagedEntry.import_id == import_id))
    if report.change is not None:
        store.notify([report.change])
    return report


def _discard_leftovers(store: BankStore, bank_id: int) -> None:
    """Delete rows staged by killed imports into this bank, or into banks deleted since."""
    with store.database.write() as session:
        session.execute(
            delete(StagedEntry).where(
                or_(StagedEntry.bank_id == bank_id, StagedEntry.bank_id.not_in(select(Bank.id)))
            )
        )


def _stage(
    store: BankStore,
    bank_id: int,
    import_id: str,
    records: Iterable[ParseResult],
    added_by: str | None,
    report: ImportReport,
) -> int:
    batch_size = store.settings.import_batch_size
    staged_at = utc_now()
    batch: list[dict[str, Any]] = []
    staged = 0
    for position, item in enumerate(records, start=1):
        if isinstance(item, LineError):
            report.add_error(item)
            continue
        try:
            batch.append(_staged_row(item, bank_id, import_id, added_by, staged_at))
        except (InvalidSignal, UnknownSignalType) as error:
            report.add_error(LineError(item.line_number or position, str(error)))
            continue
        if len(batch) >= batch_size:
            staged += _write_batch(store, batch)
            batch = []
    if batch:
        staged += _write_batch(store, batch)
    return staged


def _staged_row(
    record: EntryRecord, bank_id: int, import_id: str, added_by: str | None, staged_at: datetime
) -> dict[str, Any]:
    signal = canonical_signal(record.signal)
    return {
        "import_id": import_id,
        "bank_id": bank_id,
        "signal_type": signal.type,
        "value": signal.value,
        "quality": signal.quality,
        "variant": signal.variant,
        "source_id": record.source_id,
        "added_by": record.added_by or added_by,
        "added_at": record.added_at or staged_at,
        "note": record.note,
        "enabled": record.enabled,
    }


def _write_batch(store: BankStore, batch: list[dict[str, Any]]) -> int:
    # Core executemany on the table: the ORM's bulk path costs more per row than SQLite does.
    with store.database.write() as session:
        session.connection().execute(insert(Base.metadata.tables[StagedEntry.__tablename__]), batch)
    return len(batch)


def _publish(
    session: Session, bank_name: str, bank_id: int, import_id: str, staged: int, report: ImportReport
) -> Change | None:
    if session.get(Bank, bank_id) is None:
        raise NotFound(f"bank {bank_name!r} was deleted during the import; nothing was imported")
    still_staged = session.execute(
        select(func.count()).select_from(StagedEntry).where(StagedEntry.import_id == import_id)
    ).scalar_one()
    if still_staged != staged:
        raise BankError(
            f"another import into bank {bank_name!r} discarded this import's staged entries "
            f"({still_staged} of {staged} left); nothing was imported, run it again alone"
        )
    seq = next_seq(session)
    result = session.execute(_publish_statement(bank_id, import_id, seq))
    added = cast(CursorResult[Any], result).rowcount
    report.added = added
    report.duplicates = staged - added
    if added == 0:
        return None
    return record_change(session, ChangeOp.IMPORT, bank_id, seq=seq)


def _publish_statement(bank_id: int, import_id: str, seq: int) -> Insert:
    """INSERT ... SELECT of the first staged row per signal that the bank does not already hold."""
    staged = aliased(StagedEntry)
    first_of_each = (
        select(func.min(StagedEntry.id))
        .where(StagedEntry.import_id == import_id)
        .group_by(StagedEntry.signal_type, StagedEntry.value)
    )
    already_held = exists().where(
        and_(
            BankEntry.bank_id == bank_id,
            BankEntry.signal_type == staged.signal_type,
            BankEntry.value == staged.value,
        )
    )
    columns = ["signal_type", "value", "quality", "variant", "source_id", "added_by", "added_at"]
    columns += ["note", "enabled"]
    rows = (
        select(
            literal(bank_id),
            *(getattr(staged, name) for name in columns),
            literal(seq),
        )
        .where(staged.id.in_(first_of_each), ~already_held)
        .order_by(staged.id)
    )
    return insert(BankEntry).from_select(["bank_id", *columns, "change_seq"], rows)
