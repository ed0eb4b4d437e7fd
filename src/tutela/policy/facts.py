"""What a policy is evaluated over: one item's context, its signals and its bank matches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tutela.errors import InvalidInput
from tutela.signals.base import Signal


@dataclass(frozen=True, slots=True)
class MatchFact:
    """One signal of the item hitting one bank entry, `distance` apart (0 for exact types)."""

    bank: str
    category: str
    signal_type: str
    distance: int
    entry_id: int
    quality: int | None = None


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """The facts about one item. `jurisdiction` is an ISO 3166-1 alpha-2 code; None means unknown.

    `viewed_by_person` is True only when a person at the service or a Tutela reviewer has looked at this very
    file; it decides whether a report to NCMEC may be sent without a human view first.
    """

    service: str
    surface: str | None = None
    jurisdiction: str | None = None
    age_band: str | None = None
    matches: tuple[MatchFact, ...] = ()
    signals: tuple[Signal, ...] = ()
    pdq_quality: int | None = None
    viewed_by_person: bool = False


_ITEM_KEYS = {
    "service",
    "surface",
    "jurisdiction",
    "age_band",
    "matches",
    "signals",
    "pdq_quality",
    "viewed_by_person",
}


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"item field {key!r} must be a string or null, got {value!r}")
    return value


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidInput(f"item field {key!r} must be an integer or null, got {value!r}")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key, 0)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"match field {key!r} must be an integer, got {value!r}") from None


def input_from_json(data: Any) -> PolicyInput:
    """Build a PolicyInput from the item JSON documented in docs/policy.md; InvalidInput (a ValueError) names
    a bad field."""
    if not isinstance(data, Mapping):
        raise InvalidInput("an item must be a JSON object")
    unknown = sorted(set(data) - _ITEM_KEYS)
    if unknown:
        raise InvalidInput(
            f"unknown item field(s) {', '.join(unknown)}; known: {', '.join(sorted(_ITEM_KEYS))}"
        )
    service = data.get("service", "default")
    if not isinstance(service, str):
        raise InvalidInput(f"item field 'service' must be a string, got {service!r}")
    viewed = data.get("viewed_by_person", False)
    if not isinstance(viewed, bool):
        raise InvalidInput(f"item field 'viewed_by_person' must be true or false, got {viewed!r}")
    matches = []
    for row in data.get("matches") or []:
        if not isinstance(row, Mapping):
            raise InvalidInput(f"each match must be an object, got {row!r}")
        try:
            matches.append(
                MatchFact(
                    bank=str(row["bank"]),
                    category=str(row["category"]),
                    signal_type=str(row.get("signal_type", "pdq")),
                    distance=_int(row, "distance"),
                    entry_id=_int(row, "entry_id"),
                    quality=_opt_int(row, "quality"),
                )
            )
        except KeyError as exc:
            raise InvalidInput(f"a match needs the field {exc.args[0]!r}") from None
    signals = []
    for row in data.get("signals") or []:
        if not isinstance(row, Mapping) or "type" not in row or "value" not in row:
            raise InvalidInput(f"each signal must be an object with 'type' and 'value', got {row!r}")
        signals.append(Signal(str(row["type"]), str(row["value"]), _opt_int(row, "quality")))
    return PolicyInput(
        service=service,
        surface=_opt_str(data, "surface"),
        jurisdiction=_opt_str(data, "jurisdiction"),
        age_band=_opt_str(data, "age_band"),
        matches=tuple(matches),
        signals=tuple(signals),
        pdq_quality=_opt_int(data, "pdq_quality"),
        viewed_by_person=viewed,
    )
