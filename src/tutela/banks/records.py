"""What an import reader yields and a writer consumes: entry records and line errors.

Readers never stop on a bad line: they yield a `LineError` for it and go on, so one import reports every
problem of a file at once, with line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tutela.banks.models import BankEntry
from tutela.errors import InvalidSignal
from tutela.signals import Signal, get_signal_type

QUALITY_RANGE = range(101)


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """A bank entry as a file carries it; `line_number` says where it came from when it was read."""

    signal: Signal
    source_id: str | None = None
    added_by: str | None = None
    added_at: datetime | None = None
    note: str | None = None
    enabled: bool = True
    line_number: int | None = None

    @classmethod
    def from_entry(cls, entry: BankEntry) -> EntryRecord:
        """The record of a stored entry, for export."""
        signal = Signal(entry.signal_type, entry.value, entry.quality, entry.variant)
        return cls(
            signal=signal,
            source_id=entry.source_id,
            added_by=entry.added_by,
            added_at=entry.added_at,
            note=entry.note,
            enabled=entry.enabled,
        )


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that could not be read, with its 1-based number and what is wrong with it."""

    line_number: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.message}"


ParseResult = EntryRecord | LineError


def canonical_signal(signal: Signal) -> Signal:
    """The signal with its value in canonical form; raises InvalidSignal or UnknownSignalType.

    Every path into a bank goes through here, so the unique (bank, type, value) constraint compares canonical
    values and "ABC..." and "abc..." can never be two entries.
    """
    value = get_signal_type(signal.type).validate(signal.value)
    if signal.quality is not None and signal.quality not in QUALITY_RANGE:
        raise InvalidSignal(f"quality must be 0-100, got {signal.quality} for {signal.type} {value}")
    return Signal(signal.type, value, signal.quality, signal.variant)


def parse_value(line_number: int, signal_type: str, value: str) -> ParseResult:
    """One line's value as a record, or the line error saying why it is not a valid signal."""
    try:
        return EntryRecord(canonical_signal(Signal(signal_type, value)), line_number=line_number)
    except InvalidSignal as error:
        return LineError(line_number, str(error))
