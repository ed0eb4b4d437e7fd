"""python-threatexchange's `local_file` exchange format.

The format `LocalFileSignalExchangeAPI` reads: one signal per line as `<type> <signal>`, the type being a
ThreatExchange signal type name, or a bare signal when the collaboration names the type for the whole file.
Lines blank after stripping are skipped; there are no comments and no metadata.

ThreatExchange names the digest types after videos: its `video_md5` and `video_sha256` are digests of the
file's bytes, which is exactly what Tutela's `md5` and `sha256` are (for any content). ThreatExchange has no
SHA-1 type, so sha1 entries cannot be written (the write report counts them); other ThreatExchange types
(url, raw_text, ...) are reported as line errors on read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TextIO

from tutela.banks.formats.common import WriteReport, strip_bom
from tutela.banks.records import EntryRecord, LineError, ParseResult, parse_value
from tutela.signals import get_signal_type

TUTELA_TYPE_BY_TE_NAME = {"pdq": "pdq", "video_md5": "md5", "video_sha256": "sha256"}
TE_NAME_BY_TUTELA_TYPE = {tutela: te for te, tutela in TUTELA_TYPE_BY_TE_NAME.items()}


def read_te_local_file(lines: Iterable[str], signal_type: str | None = None) -> Iterator[ParseResult]:
    """Records for each line; `signal_type` (a Tutela type name) means lines hold only the signal."""
    if signal_type is not None:
        get_signal_type(signal_type)
    for line_number, line in enumerate(strip_bom(lines), start=1):
        text = line.strip()
        if not text:
            continue
        if signal_type is not None:
            type_name, value = signal_type, text
        else:
            te_name, _, value = text.partition(" ")
            if te_name not in TUTELA_TYPE_BY_TE_NAME:
                yield LineError(line_number, _unsupported(te_name))
                continue
            type_name = TUTELA_TYPE_BY_TE_NAME[te_name]
        yield parse_value(line_number, type_name, value)


def write_te_local_file(records: Iterable[EntryRecord], out: TextIO) -> WriteReport:
    """`<te type> <signal>` lines; records of types ThreatExchange lacks are counted in `skipped`."""
    report = WriteReport()
    for record in records:
        te_name = TE_NAME_BY_TUTELA_TYPE.get(record.signal.type)
        if te_name is None:
            report.skipped[record.signal.type] += 1
            report.skip_reason = "python-threatexchange has no signal type for it"
            continue
        out.write(f"{te_name} {record.signal.value}\n")
        report.written += 1
    return report


def _unsupported(te_name: str) -> str:
    known = ", ".join(sorted(TUTELA_TYPE_BY_TE_NAME))
    return f"ThreatExchange signal type {te_name!r} is not one Tutela imports; supported: {known}"
