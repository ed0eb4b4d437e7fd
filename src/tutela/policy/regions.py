"""Jurisdictions: ISO 3166-1 alpha-2 codes and the aliases a policy may use for groups of them.

The European Union is listed here and nowhere else: the `EU` alias in policy conditions and the rule that
private messages of EU users are not scanned unless enabled both read `EU_MEMBER_STATES`.
"""

from __future__ import annotations

import re

EU_MEMBER_STATES: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }
)  # fmt: skip

ALIASES: dict[str, frozenset[str]] = {"EU": EU_MEMBER_STATES}

# Codes people write that ISO 3166-1 spells differently.
_COMMON_MISTAKES = {"UK": "GB", "EL": "GR"}

_CODE = re.compile(r"^[A-Z]{2}$")


def is_eu(jurisdiction: str | None) -> bool:
    """True when the jurisdiction is an EU member state; None (unknown) is not."""
    return jurisdiction is not None and jurisdiction in EU_MEMBER_STATES


def code_problem(code: str) -> tuple[str, str] | None:
    """(message, hint) when `code` is not a two-letter code or alias a policy may use, else None."""
    if code in ALIASES:
        return None
    if code in _COMMON_MISTAKES:
        right = _COMMON_MISTAKES[code]
        return f"{code!r} is not an ISO 3166-1 alpha-2 code", f"write {right!r}"
    if _CODE.match(code):
        return None
    if _CODE.match(code.upper()):
        return f"jurisdiction {code!r} must be upper case", f"write {code.upper()!r}"
    return (
        f"jurisdiction {code!r} is not an ISO 3166-1 alpha-2 code",
        "use two letters such as 'DE' or 'US', or the alias 'EU'",
    )


def expand(codes: list[str]) -> frozenset[str]:
    """The country codes meant by a list of codes and aliases."""
    out: set[str] = set()
    for code in codes:
        out |= ALIASES.get(code, frozenset({code}))
    return frozenset(out)
