"""Bank and entry persistence.

Each method is one short transaction that also writes its change-log row (`tutela.banks.changes`), so the
data and the feed commit together. Returned `Bank` and `BankEntry` objects are detached snapshots: change
them through the store, never by assigning attributes.

Listeners registered with `subscribe` hear about changes right after commit, so an in-memory index in this
process can apply them at once. They are a shortcut, not the source of truth: a listener that fails or a
process that dies before it runs loses nothing, because followers catch up from `changes_since`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence

from sqlalchemy import delete, func, select

from tutela.banks.changes import (
    INDEX_COLUMNS,
    Change,
    IndexEntry,
    changes_since,
    current_seq,
    next_seq,
    record_change,
)
from tutela.banks.models import Bank, BankCategory, BankEntry, ChangeOp
from tutela.banks.queries import EntryFilter, bank_by_name, entry_by_id, entry_by_signal
from tutela.banks.records import canonical_signal
from tutela.db.session import Database
from tutela.errors import AlreadyExists, BankError, NotFound
from tutela.settings import Settings
from tutela.signals import Signal

logger = logging.getLogger(__name__)

ChangeListener = Callable[[Sequence[Change]], None]

ENTRY_PAGE_SIZE = 5_000
"""Entries read per transaction by `iter_entries`, so a long iteration never holds one read open."""

_BANK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_THRESHOLD_RANGE = range(257)


class BankStore:
    """Create, read, change and delete banks and their entries."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._listeners: list[ChangeListener] = []

    def subscribe(self, listener: ChangeListener) -> None:
        """Call `listener` with the changes of every mutation, after it commits."""
        self._listeners.append(listener)

    def notify(self, changes: Sequence[Change]) -> None:
        """Tell listeners about committed changes; a failing listener is logged and the others still run."""
        for listener in self._listeners:
            try:
                listener(changes)
            except Exception:
                logger.exception("bank change listener %r failed; it must catch up from the feed", listener)

    def create_bank(
        self,
        name: str,
        category: BankCategory,
        *,
        description: str = "",
        source: str = "",
        licence: str = "",
        exportable: bool = False,
        enabled: bool = True,
        pdq_threshold: int | None = None,
    ) -> Bank:
        """A new bank; AlreadyExists when the name is taken. Not exportable unless asked (licences)."""
        _check_name(name)
        threshold = self.settings.pdq_threshold if pdq_threshold is None else pdq_threshold
        _check_threshold(threshold)
        bank = Bank(
            name=name,
            category=BankCategory(category),
            description=description,
            source=source,
            licence=licence,
            exportable=exportable,
            enabled=enabled,
            pdq_threshold=threshold,
        )
        with self.database.write() as session:
            if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
                raise AlreadyExists(f"a bank named {name!r} already exists; pick another name")
            session.add(bank)
            session.flush()
            change = record_change(session, ChangeOp.BANK_CREATE, bank.id)
        self.notify([change])
        return bank

    def list_banks(self) -> list[Bank]:
        """Every bank, by name."""
        with self.database.read() as session:
            return list(session.scalars(select(Bank).order_by(Bank.name)))

    def get_bank(self, name: str) -> Bank:
        """The bank called `name`, or NotFound."""
        with self.database.read() as session:
            return bank_by_name(session, name)

    def update_bank(
        self,
        name: str,
        *,
        new_name: str | None = None,
        category: BankCategory | None = None,
        description: str | None = None,
        source: str | None = None,
        licence: str | None = None,
        exportable: bool | None = None,
        enabled: bool | None = None,
        pdq_threshold: int | None = None,
    ) -> Bank:
        """Change the given fields (None leaves a field as it is) and return the bank as stored."""
        if new_name is not None:
            _check_name(new_name)
        if pdq_threshold is not None:
            _check_threshold(pdq_threshold)
        with self.database.write() as session:
            bank = bank_by_name(session, name)
            if new_name not in (None, name) and session.scalar(select(Bank.id).where(Bank.name == new_name)):
                raise AlreadyExists(f"cannot rename {name!r}: a bank named {new_name!r} exists")
            fields = {
                "name": new_name,
                "category": None if category is None else BankCategory(category),
                "description": description,
                "source": source,
                "licence": licence,
                "exportable": exportable,
                "enabled": enabled,
                "pdq_threshold": pdq_threshold,
            }
            for field, value in fields.items():
                if value is not None:
                    setattr(bank, field, value)
            change = record_change(session, ChangeOp.BANK_UPDATE, bank.id)
        self.notify([change])
        return bank

    def delete_bank(self, name: str) -> None:
        """Delete the bank and all its entries (the database cascades the entries)."""
        with self.database.write() as session:
            bank = bank_by_name(session, name)
            session.execute(delete(Bank).where(Bank.id == bank.id))
            change = record_change(session, ChangeOp.BANK_DELETE, bank.id)
        self.notify([change])

    def add_entry(
        self,
        bank_name: str,
        signal: Signal,
        *,
        source_id: str | None = None,
        added_by: str | None = None,
        note: str | None = None,
        enabled: bool = True,
    ) -> BankEntry:
        """Add one signal (validated and made canonical); AlreadyExists if the bank already holds it."""
        canonical = canonical_signal(signal)
        with self.database.write() as session:
            bank = bank_by_name(session, bank_name)
            existing = entry_by_signal(session, bank.id, canonical)
            if existing is not None:
                raise AlreadyExists(
                    f"bank {bank_name!r} already holds {canonical.type} {canonical.value} "
                    f"(entry {existing.id})"
                )
            seq = next_seq(session)
            entry = BankEntry(
                bank_id=bank.id,
                signal_type=canonical.type,
                value=canonical.value,
                quality=canonical.quality,
                variant=canonical.variant,
                source_id=source_id,
                added_by=added_by,
                note=note,
                enabled=enabled,
                change_seq=seq,
            )
            session.add(entry)
            session.flush()
            change = record_change(session, ChangeOp.ENTRY_ADD, bank.id, entry.id, seq=seq)
        self.notify([change])
        return entry

    def get_entry(self, entry_id: int) -> BankEntry:
        """The entry with this id, or NotFound."""
        with self.database.read() as session:
            return entry_by_id(session, entry_id)

    def find_entry(self, bank_name: str, signal: Signal) -> BankEntry:
        """The entry of `bank_name` holding `signal` (compared in canonical form), or NotFound."""
        canonical = canonical_signal(signal)
        with self.database.read() as session:
            entry = entry_by_signal(session, bank_by_name(session, bank_name).id, canonical)
        if entry is None:
            raise NotFound(f"bank {bank_name!r} holds no {canonical.type} {canonical.value}")
        return entry

    def set_entry_enabled(self, entry_id: int, enabled: bool) -> BankEntry:
        """Disable an entry (a false positive) or enable it again; a no-op when it is already so."""
        with self.database.write() as session:
            entry = entry_by_id(session, entry_id)
            if entry.enabled == enabled:
                return entry
            op = ChangeOp.ENTRY_ENABLE if enabled else ChangeOp.ENTRY_DISABLE
            change = record_change(session, op, entry.bank_id, entry.id)
            entry.enabled = enabled
            entry.change_seq = change.seq
        self.notify([change])
        return entry

    def delete_entry(self, entry_id: int) -> None:
        """Remove one entry (prefer disabling: a re-import would bring a deleted entry back)."""
        with self.database.write() as session:
            entry = entry_by_id(session, entry_id)
            session.execute(delete(BankEntry).where(BankEntry.id == entry_id))
            change = record_change(session, ChangeOp.ENTRY_DELETE, entry.bank_id, entry_id)
        self.notify([change])

    def iter_entries(
        self,
        bank_name: str | None = None,
        *,
        signal_type: str | None = None,
        enabled_only: bool = False,
        changed_after: int | None = None,
        after_id: int = 0,
    ) -> Iterator[BankEntry]:
        """Entries with all their metadata, in ascending id order, one transaction per ENTRY_PAGE_SIZE page.

        `bank_name` None means every bank; `changed_after` keeps entries whose last change is newer than that
        sequence number; `after_id` starts after that entry id (API paging). Pages are separate reads, so an
        entry changed during a long iteration may show either state: note `current_seq()` first and apply
        `changes_since` it afterwards.
        """
        entry_filter = self._filter(bank_name, signal_type, enabled_only, changed_after)
        query = entry_filter.apply(select(BankEntry)).order_by(BankEntry.id).limit(ENTRY_PAGE_SIZE)
        last_id = after_id
        while True:
            with self.database.read() as session:
                page = list(session.scalars(query.where(BankEntry.id > last_id)))
            yield from page
            if len(page) < ENTRY_PAGE_SIZE:
                return
            last_id = page[-1].id

    def iter_index_entries(
        self,
        bank_name: str | None = None,
        *,
        signal_type: str | None = None,
        enabled_only: bool = False,
        changed_after: int | None = None,
    ) -> Iterator[IndexEntry]:
        """What a match index needs of each entry, like `iter_entries` but several times faster."""
        entry_filter = self._filter(bank_name, signal_type, enabled_only, changed_after)
        query = entry_filter.apply(select(*INDEX_COLUMNS)).order_by(BankEntry.id).limit(ENTRY_PAGE_SIZE)
        last_id = 0
        while True:
            with self.database.read() as session:
                rows = session.execute(query.where(BankEntry.id > last_id)).all()
            yield from (IndexEntry(*row) for row in rows)
            if len(rows) < ENTRY_PAGE_SIZE:
                return
            last_id = rows[-1].id

    def count(
        self, bank_name: str | None = None, *, signal_type: str | None = None, enabled_only: bool = False
    ) -> int:
        """How many entries match, with the same filters as `iter_entries`."""
        entry_filter = self._filter(bank_name, signal_type, enabled_only, None)
        with self.database.read() as session:
            return session.execute(entry_filter.apply(select(func.count(BankEntry.id)))).scalar_one()

    def signal_types(self, bank_name: str) -> list[str]:
        """The signal types a bank holds, sorted."""
        with self.database.read() as session:
            bank_id = bank_by_name(session, bank_name).id
            query = select(BankEntry.signal_type).where(BankEntry.bank_id == bank_id).distinct()
            return sorted(session.scalars(query))

    def _filter(
        self, bank_name: str | None, signal_type: str | None, enabled_only: bool, changed_after: int | None
    ) -> EntryFilter:
        bank_id = None if bank_name is None else self.get_bank(bank_name).id
        return EntryFilter(bank_id, signal_type, enabled_only, changed_after)

    def changes_since(self, seq: int, limit: int | None = None) -> list[Change]:
        """Committed changes after sequence number `seq`, oldest first."""
        with self.database.read() as session:
            return changes_since(session, seq, limit)

    def current_seq(self) -> int:
        """The newest committed sequence number (0 before any change)."""
        with self.database.read() as session:
            return current_seq(session)


def _check_name(name: str) -> None:
    if not _BANK_NAME.fullmatch(name):
        raise BankError(
            f"bank name {name!r} is not allowed: use 1-100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )


def _check_threshold(threshold: int) -> None:
    if threshold not in _THRESHOLD_RANGE:
        raise BankError(f"pdq_threshold must be 0-256 (bits of Hamming distance), got {threshold}")
