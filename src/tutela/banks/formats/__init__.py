"""Bank file formats: plain hash lists, JSON Lines, and python-threatexchange's local_file format.

Readers take lines and yield `EntryRecord`s or `LineError`s, never stopping on a bad line; writers take
records and return a `WriteReport`.
"""

from tutela.banks.formats.catalog import BankFileFormat, read_records, write_records
from tutela.banks.formats.common import WriteReport
from tutela.banks.formats.jsonl import read_jsonl, write_jsonl
from tutela.banks.formats.plain import read_plain, write_plain
from tutela.banks.formats.te_local_file import read_te_local_file, write_te_local_file

__all__ = [
    "BankFileFormat",
    "WriteReport",
    "read_jsonl",
    "read_plain",
    "read_records",
    "read_te_local_file",
    "write_jsonl",
    "write_plain",
    "write_records",
    "write_te_local_file",
]
