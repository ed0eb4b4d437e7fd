"""Plain hash lists: one value per line, as most programmes publish MD5 and PDQ lists.

Blank lines and lines starting with `#` are skipped. The signal type is the caller's, or inferred from the
length: 32 hex digits are md5 and 40 are sha1. 64 could be pdq or sha256, which look identical, so a file
holding them cannot be read without being told which; that stops the read with ImportFormatError rather than
reporting every line of a large list as bad.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TextIO

from tutela.banks.formats.common import WriteReport, strip_bom
from tutela.banks.records import EntryRecord, LineError, ParseResult, parse_value
from tutela.errors import ImportFormatError
from tutela.signals import get_signal_type

TYPES_BY_LENGTH = {32: "md5", 40: "sha1"}
AMBIGUOUS_LENGTHS = {64: ("pdq", "sha256")}


def read_plain(lines: Iterable[str], signal_type: str | None = None) -> Iterator[ParseResult]:
    """Records for each hash line; `signal_type` None infers md5 and sha1 from the length."""
    if signal_type is not None:
        get_signal_type(signal_type)
    for line_number, line in enumerate(strip_bom(lines), start=1):
        value = line.strip()
        if not value or value.startswith("#"):
            continue
        type_name = signal_type or _infer(value, line_number)
        if type_name is None:
            yield LineError(line_number, _unrecognised(value))
            continue
        yield parse_value(line_number, type_name, value)


def write_plain(records: Iterable[EntryRecord], out: TextIO) -> WriteReport:
    """One value per line; the caller makes sure all records share one signal type."""
    report = WriteReport()
    for record in records:
        out.write(f"{record.signal.value}\n")
        report.written += 1
    return report


def _infer(value: str, line_number: int) -> str | None:
    if len(value) in AMBIGUOUS_LENGTHS:
        candidates = " or ".join(AMBIGUOUS_LENGTHS[len(value)])
        raise ImportFormatError(
            f"line {line_number}: a {len(value)}-character value could be {candidates}; "
            "say which signal type the list holds"
        )
    return TYPES_BY_LENGTH.get(len(value))


def _unrecognised(value: str) -> str:
    known = " or ".join(f"{length} ({name})" for length, name in TYPES_BY_LENGTH.items())
    return (
        f"cannot tell the signal type of {value[:80]!r} ({len(value)} characters): without a given "
        f"signal type a line must be {known} hex digits"
    )
