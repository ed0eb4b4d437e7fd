"""Bank export, refused for banks whose licence forbids redistribution.

Formats without an enabled flag (plain, te-local-file) get only enabled entries, so a hash disabled as a
false positive is never passed on to a partner as if it were confirmed; JSON Lines carries every entry and
its flag.
"""

from __future__ import annotations

from typing import TextIO

from tutela.banks.formats import BankFileFormat, WriteReport, write_records
from tutela.banks.records import EntryRecord
from tutela.banks.store import BankStore
from tutela.errors import BankError, ExportForbidden


def export_bank(
    store: BankStore,
    bank_name: str,
    file_format: BankFileFormat,
    out: TextIO,
    *,
    signal_type: str | None = None,
) -> WriteReport:
    """Write the bank's entries (of `signal_type` only, if given) to `out` in ascending id order."""
    bank = store.get_bank(bank_name)
    if not bank.exportable:
        licence = bank.licence or "no licence recorded"
        raise ExportForbidden(
            f"bank {bank_name!r} is not exportable ({licence}); NCMEC, StopNCII and similar licences "
            "forbid passing their hashes on. If you hold the right to share this list, mark the bank "
            "exportable (`tutela bank update "
            f"{bank_name} --exportable`) and export again"
        )
    if file_format.one_signal_type and signal_type is None:
        held = store.signal_types(bank_name)
        if len(held) > 1:
            raise BankError(
                f"bank {bank_name!r} holds {', '.join(held)}; a {file_format} file carries one signal "
                "type, so export one type per file (or use jsonl)"
            )
    entries = store.iter_entries(
        bank_name, signal_type=signal_type, enabled_only=not file_format.keeps_metadata
    )
    return write_records(file_format, (EntryRecord.from_entry(entry) for entry in entries), out)
