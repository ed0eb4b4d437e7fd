"""Lookups and entry filters shared by the store's methods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tutela.banks.models import Bank, BankEntry
from tutela.errors import NotFound
from tutela.signals import Signal

Query = TypeVar("Query", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """Which entries a listing or count covers; None and False mean "no restriction"."""

    bank_id: int | None = None
    signal_type: str | None = None
    enabled_only: bool = False
    changed_after: int | None = None

    def apply(self, query: Query) -> Query:
        if self.bank_id is not None:
            query = query.where(BankEntry.bank_id == self.bank_id)
        if self.signal_type is not None:
            query = query.where(BankEntry.signal_type == self.signal_type)
        if self.enabled_only:
            query = query.where(BankEntry.enabled.is_(True))
        if self.changed_after is not None:
            query = query.where(BankEntry.change_seq > self.changed_after)
        return query


def bank_by_name(session: Session, name: str) -> Bank:
    """The bank called `name`, or NotFound."""
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        raise NotFound(f"no bank named {name!r}; `tutela bank list` shows the banks")
    return bank


def entry_by_id(session: Session, entry_id: int) -> BankEntry:
    """The entry with this id, or NotFound."""
    entry = session.get(BankEntry, entry_id)
    if entry is None:
        raise NotFound(f"no bank entry with id {entry_id}")
    return entry


def entry_by_signal(session: Session, bank_id: int, signal: Signal) -> BankEntry | None:
    """The bank's entry holding the canonical `signal`, if any."""
    return session.scalar(
        select(BankEntry).where(
            BankEntry.bank_id == bank_id,
            BankEntry.signal_type == signal.type,
            BankEntry.value == signal.value,
        )
    )
