"""JSON forms of what an evaluation stores: signals, matches, and the digest of a signal list."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from tutela.banks.records import canonical_signal
from tutela.matcher import Match
from tutela.signals.base import Signal


def canonical_signals(signals: Iterable[Signal]) -> tuple[Signal, ...]:
    """Validated, canonical, de-duplicated signals in (type, value) order; raises InvalidSignal."""
    unique = {(s.type, s.value): s for s in (canonical_signal(signal) for signal in signals)}
    return tuple(unique[key] for key in sorted(unique))


def signals_digest(signals: Sequence[Signal]) -> str:
    """SHA-256 of the canonical (type, value) list: the evaluation key of a signals-only submission."""
    body = json.dumps([[s.type, s.value] for s in signals], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signal_to_json(signal: Signal) -> dict[str, Any]:
    row: dict[str, Any] = {"type": signal.type, "value": signal.value}
    if signal.quality is not None:
        row["quality"] = signal.quality
    if signal.variant is not None:
        row["variant"] = signal.variant
    return row


def signal_from_json(row: dict[str, Any]) -> Signal:
    return Signal(str(row["type"]), str(row["value"]), row.get("quality"), row.get("variant"))


def match_to_json(match: Match) -> dict[str, Any]:
    row: dict[str, Any] = {
        "bank": match.bank,
        "category": match.category,
        "entry_id": match.entry_id,
        "signal_type": match.signal_type,
        "distance": match.distance,
    }
    if match.transform is not None:
        row["transform"] = match.transform
    return row
