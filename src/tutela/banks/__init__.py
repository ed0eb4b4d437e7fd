"""Banks: named hash lists with provenance and licence, their entries, import/export and the change feed.

`BankStore` persists banks and entries; `import_entries` stages a reader's records and publishes them
atomically; `export_bank` writes a bank out unless its licence forbids it; `read_records` and
`write_records` speak the file formats named by `BankFileFormat`.
"""

from tutela.banks.changes import Change, IndexEntry
from tutela.banks.export import export_bank
from tutela.banks.formats import BankFileFormat, WriteReport, read_records, write_records
from tutela.banks.importer import ImportReport, import_entries
from tutela.banks.models import Bank, BankCategory, BankEntry, ChangeOp
from tutela.banks.records import EntryRecord, LineError, ParseResult
from tutela.banks.store import BankStore, ChangeListener

__all__ = [
    "Bank",
    "BankCategory",
    "BankEntry",
    "BankFileFormat",
    "BankStore",
    "Change",
    "ChangeListener",
    "ChangeOp",
    "EntryRecord",
    "ImportReport",
    "IndexEntry",
    "LineError",
    "ParseResult",
    "WriteReport",
    "export_bank",
    "import_entries",
    "read_records",
    "write_records",
]
