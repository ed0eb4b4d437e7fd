"""The bank file formats by name, so the CLI and API pick one with a string."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import TextIO

from tutela.banks.formats.common import WriteReport
from tutela.banks.formats.jsonl import read_jsonl, write_jsonl
from tutela.banks.formats.plain import read_plain, write_plain
from tutela.banks.formats.te_local_file import read_te_local_file, write_te_local_file
from tutela.banks.records import EntryRecord, ParseResult


class BankFileFormat(StrEnum):
    """A bank import/export format; values are what users type."""

    PLAIN = "plain"
    JSONL = "jsonl"
    TE_LOCAL_FILE = "te-local-file"

    @property
    def keeps_metadata(self) -> bool:
        """Whether the format carries metadata and the enabled flag (else only enabled entries export)."""
        return self is BankFileFormat.JSONL

    @property
    def one_signal_type(self) -> bool:
        """Whether a file holds a single signal type that the reader cannot always tell by itself."""
        return self is BankFileFormat.PLAIN


def read_records(
    file_format: BankFileFormat, lines: Iterable[str], signal_type: str | None = None
) -> Iterator[ParseResult]:
    """Parse `lines` in `file_format`; `signal_type` is for formats whose lines may not name one."""
    match file_format:
        case BankFileFormat.PLAIN:
            return read_plain(lines, signal_type)
        case BankFileFormat.JSONL:
            return read_jsonl(lines)
        case BankFileFormat.TE_LOCAL_FILE:
            return read_te_local_file(lines, signal_type)


def write_records(file_format: BankFileFormat, records: Iterable[EntryRecord], out: TextIO) -> WriteReport:
    """Write `records` to `out` in `file_format`."""
    match file_format:
        case BankFileFormat.PLAIN:
            return write_plain(records, out)
        case BankFileFormat.JSONL:
            return write_jsonl(records, out)
        case BankFileFormat.TE_LOCAL_FILE:
            return write_te_local_file(records, out)
