"""JSON Lines: one entry per line with all its metadata; the lossless format for backups and moves.

Each line is an object with `signal_type` and `value` and optionally `quality`, `variant`, `source_id`,
`added_by`, `added_at` (ISO 8601; without an offset it is taken as UTC), `note` and `enabled` (default
true). Unknown keys are errors, so a misspelt key is reported instead of silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from tutela.banks.formats.common import WriteReport, strip_bom
from tutela.banks.records import EntryRecord, LineError, ParseResult, canonical_signal
from tutela.errors import InvalidSignal, UnknownSignalType
from tutela.signals import Signal

TEXT_KEYS = ("variant", "source_id", "added_by", "note")
KEYS = frozenset({"signal_type", "value", "quality", "added_at", "enabled", *TEXT_KEYS})


class _BadLine(ValueError):
    """A line's JSON is well-formed but its content is not an entry."""


def read_jsonl(lines: Iterable[str]) -> Iterator[ParseResult]:
    """A record or a LineError for each non-blank line."""
    for line_number, line in enumerate(strip_bom(lines), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            yield LineError(line_number, f"not valid JSON: {error.msg} at column {error.colno}")
            continue
        except (ValueError, RecursionError) as error:  # an integer past 4,300 digits, nesting too deep
            yield LineError(line_number, f"not valid JSON: {error}")
            continue
        try:
            yield _record(obj, line_number)
        except (_BadLine, InvalidSignal, UnknownSignalType) as error:
            yield LineError(line_number, str(error))


def write_jsonl(records: Iterable[EntryRecord], out: TextIO) -> WriteReport:
    """One JSON object per record, every key present (null when unknown)."""
    report = WriteReport()
    for record in records:
        signal = record.signal
        added_at = None if record.added_at is None else record.added_at.isoformat()
        line = {
            "signal_type": signal.type,
            "value": signal.value,
            "quality": signal.quality,
            "variant": signal.variant,
            "source_id": record.source_id,
            "added_by": record.added_by,
            "added_at": added_at,
            "note": record.note,
            "enabled": record.enabled,
        }
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        report.written += 1
    return report


def _record(obj: Any, line_number: int) -> EntryRecord:
    if not isinstance(obj, dict):
        raise _BadLine(f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - KEYS)
    if unknown:
        raise _BadLine(f"unknown keys {unknown}; allowed: {', '.join(sorted(KEYS))}")
    signal_type, value = obj.get("signal_type"), obj.get("value")
    if not isinstance(signal_type, str) or not isinstance(value, str):
        raise _BadLine("signal_type and value must both be present and strings")
    quality = obj.get("quality")
    if quality is not None and (not isinstance(quality, int) or isinstance(quality, bool)):
        raise _BadLine(f"quality must be an integer 0-100 or null, got {quality!r}")
    text = {key: obj.get(key) for key in TEXT_KEYS}
    for key, item in text.items():
        if item is not None and not isinstance(item, str):
            raise _BadLine(f"{key} must be a string or null, got {item!r}")
    enabled = obj.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _BadLine(f"enabled must be true or false, got {enabled!r}")
    signal = canonical_signal(Signal(signal_type, value, quality, text["variant"]))
    return EntryRecord(
        signal,
        source_id=text["source_id"],
        added_by=text["added_by"],
        added_at=_timestamp(obj.get("added_at")),
        note=text["note"],
        enabled=enabled,
        line_number=line_number,
    )


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadLine(f"added_at must be an ISO 8601 string or null, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _BadLine(f"added_at {value!r} is not an ISO 8601 timestamp") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
